/* SPDX-License-Identifier: MIT */
/*
 * Internal to src/policy: the lookup primitives shared by match.c (query time), response.c
 * (answers, name servers), explain and answer.c. All allocation-free.
 */
#ifndef C2W_POLICY_MATCH_INT_H
#define C2W_POLICY_MATCH_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "policy/image.h"

#define NAME_LABELS_MAX 128

/* A name with its label offsets and the hash of every suffix (h[k]: labels k..n-1). */
struct name_prep {
	const uint8_t *name;
	unsigned n;
	uint16_t len; /* bytes without the root label */
	uint16_t off[NAME_LABELS_MAX + 1];
	uint64_t h[NAME_LABELS_MAX + 1];
};

void policy_name_prep(const uint8_t *name, struct name_prep *np);
bool policy_name_protected(const struct policy_snap *s, const struct name_prep *np);
/* The QNAME wildcard rule of @zone that covers @np, BIND's way: only the wildcard child of
 * the closest existing node (IMG_KIND_NODE), nothing for an empty non-terminal. */
const struct img_slot *policy_name_wild(const struct policy_snap *s, const struct name_prep *np,
					unsigned zone, unsigned *labels_cut);
/* QNAME/NSDNAME rule for @np in @zone: exact, else the longest wildcard (*labels_cut > 0). */
const struct img_slot *policy_name_lookup(const struct policy_snap *s, const struct name_prep *np,
					  unsigned zone, enum policy_trigger t, unsigned *labels_cut);
bool policy_zone_has_ip(const struct policy_snap *s, unsigned zone, enum policy_trigger t);
/* Longest-prefix IP rule of trigger @t in @zone. */
const struct img_slot *policy_ip_lookup(const struct policy_snap *s, unsigned zone,
					enum policy_trigger t, int family, const uint8_t *addr,
					unsigned *bits_out);
bool policy_sockaddr_ip(const struct sockaddr *sa, int *family, uint8_t *addr);
void policy_hit_fill(const struct policy_snap *s, const struct img_slot *sl, unsigned chain_pos,
		     const char *matched, struct policy_hit *hit);
void policy_key_text(const struct policy_snap *s, const struct img_slot *sl, char *out,
		     size_t cap);
void policy_ip_text(int family, const uint8_t *addr, char *out, size_t cap);
/* Does a zone ahead of @zone (not in LOG mode) have RESPONSE-IP, NSDNAME or NSIP rules? */
bool policy_earlier_response_rules(const struct policy_snap *s, unsigned zone);

#endif
