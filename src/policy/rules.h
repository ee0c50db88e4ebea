/* SPDX-License-Identifier: MIT */
/*
 * The rule set under construction: feeds add rules (trigger key, action, local data, metadata),
 * duplicates and conflicts resolve here (first in file order wins within a zone), never-block
 * entries are kept beside them, and policy_rules_compile() turns the lot into one snapshot
 * image (image.h). Build-time only: allocates freely, never touched by workers.
 */
#ifndef C2W_POLICY_RULES_H
#define C2W_POLICY_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"

struct policy_rules;

/* Per-rule metadata from a feed; NULL/0 = the zone's default. Borrowed for the call. */
struct rule_meta {
	const char *category;
	const char *family;
	uint16_t first_seen; /* days since 1970-01-01 */
	int64_t expires;     /* unix time; 0 = never. Past policy_rules_set_now(): not added */
};

/* Where a rule came from, for reports. */
struct rule_src {
	const char *file;
	unsigned line;
};

struct policy_rules *policy_rules_new(struct policy_report *rep);
void policy_rules_free(struct policy_rules *r);

/**
 * The time "expires=" metadata is compared with (default: time(NULL) at policy_rules_new()).
 * A rule whose meta->expires is at or before it is skipped and counted (report "expired");
 * the earliest later one is kept for policy_rules_next_expiry().
 */
void policy_rules_set_now(struct policy_rules *r, int64_t now);

/** The earliest expiry still ahead among the rules added (0 = none). */
int64_t policy_rules_next_expiry(const struct policy_rules *r);

/** Entries of zone @zone skipped because they had expired. */
uint64_t policy_rules_expired(const struct policy_rules *r, unsigned zone);

/**
 * Add a zone (in precedence order). @return its index, or a negative code (C2W_EINVAL when
 * the spec is bad, C2W_ERANGE past POLICY_ZONES_MAX, C2W_ENOMEM)
 */
int policy_rules_zone_add(struct policy_rules *r, const struct policy_zone_spec *spec);

/** Origin of zone @zone in wire form. */
const uint8_t *policy_rules_zone_origin(const struct policy_rules *r, unsigned zone);

/** TTL for rules of formats without their own (spec ttl, default 300). */
uint32_t policy_rules_zone_ttl(const struct policy_rules *r, unsigned zone);

/** Set the zone's SOA (from the feed): rdata wire form and TTL. First one wins. */
int policy_rules_zone_soa(struct policy_rules *r, unsigned zone, const uint8_t *rdata,
			  uint16_t rdlen, uint32_t ttl);

/**
 * Presize the rule index, the rule array and the key store for about @count more rules with
 * @key_bytes of keys (estimates: from a feed's size), so a large load neither rehashes nor
 * copies its arrays as they grow. Optional: pages a smaller load never touches cost no memory.
 * @return C2W_OK or C2W_ENOMEM (what was not presized grows on demand)
 */
int policy_rules_expect(struct policy_rules *r, size_t count, size_t key_bytes);

/**
 * Add a rule, or one more record to an existing local-data rule.
 *
 * @param key      name triggers: relative wire labels without the root (lower case), without
 *                 the "*" label for wildcards; IP triggers: [4|6][bits][masked bytes]
 * @param action   POLICY_ACTION_* as the feed gives it
 * @param rr_type  LOCAL_DATA: the record's type, with @rdata/@rdlen; else 0
 * @return C2W_OK (added, merged, or skipped as duplicate/conflict and reported), C2W_ENOMEM
 */
int policy_rules_add(struct policy_rules *r, unsigned zone, enum policy_trigger trigger,
		     bool wildcard, const uint8_t *key, size_t key_len, enum policy_action action,
		     uint32_t ttl, uint16_t rr_type, const uint8_t *rdata, uint16_t rdlen,
		     const struct rule_meta *meta, const struct rule_src *src);

/**
 * Deduplicate the rules added so far now. policy_rules_add() does it in batches, so reports of
 * duplicates and conflicts lag by up to a batch; call this where they must come out in line
 * order with other reports (policy_rules_reject() does, and build.c after each feed).
 * @return C2W_OK, C2W_ENOMEM, C2W_ERANGE (the rules stay pending)
 */
int policy_rules_settle(struct policy_rules *r);

/** Add a never-block name (absolute wire name, lower case; @wildcard: everything below). */
int policy_rules_protect(struct policy_rules *r, const uint8_t *name, bool wildcard);

/** Report a rejected line: counts it against @zone and calls rep->diag. */
void policy_rules_reject(struct policy_rules *r, unsigned zone, const char *file, unsigned line,
			 const char *reason);

/**
 * Compile to an image. Rules that block a protected name are dropped and reported, or with
 * @refuse_protected make the call fail with C2W_EPROTECTED. Afterwards @r takes no more rules:
 * only policy_rules_next_expiry(), policy_rules_expired() and policy_rules_free().
 *
 * @param out      out: malloc'd image; the caller frees it (or hands it to a snapshot)
 * @return C2W_OK, C2W_EPROTECTED, C2W_ENOMEM, C2W_ERANGE (image over 4 GiB)
 */
C2W_NODISCARD int policy_rules_compile(struct policy_rules *r, bool refuse_protected,
				       uint8_t **out, size_t *out_len);

/* Memory for an image of @len bytes, zero-filled; NULL when there is none. */
typedef uint8_t *(*policy_img_alloc_cb)(void *ctx, size_t len);

/**
 * policy_rules_compile() into memory from @alloc (e.g. the mapping of the file the image is
 * meant for, policy_img_out_begin(): no copy to write it out afterwards). On success *out is
 * that memory, which stays @alloc's caller's to release, as it does on failure.
 */
C2W_NODISCARD int policy_rules_compile_into(struct policy_rules *r, bool refuse_protected,
					    policy_img_alloc_cb alloc, void *ctx, uint8_t **out,
					    size_t *out_len);

/**
 * Take the lookup filter of the image the last policy_rules_compile() made (for
 * policy_img_attach()); the caller frees it. @return NULL when there is none
 */
uint64_t *policy_rules_filter(struct policy_rules *r, uint64_t *mask);

/**
 * Add @o's never-block names and file to @r (build.c; also used for increments).
 * @return C2W_OK, C2W_EFEED (the file cannot be read; rep->error says why), C2W_ENOMEM
 */
int policy_build_never_block(struct policy_rules *r, const struct policy_build_opts *o,
			     struct policy_report *rep);

#endif
