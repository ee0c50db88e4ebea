/* SPDX-License-Identifier: MIT */
/*
 * Matching queries and answers against a snapshot, with RPZ precedence (draft-vixie-dnsop-
 * dns-rpz-00 section 5, BIND 9): zone order; within a zone CLIENT-IP, QNAME, RESPONSE-IP,
 * NSDNAME, NSIP; exact before wildcard, longer wildcard before shorter; for IPs the longest
 * prefix, then the smallest address; for NSDNAME the smallest name. Allocation-free: suffix
 * hashes are computed once per name, then one probe per zone and candidate.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "dns/name.h"
#include "policy/image.h"
#include "policy/match_int.h"

static const char *const trigger_names[] = {"client-ip", "qname", "response-ip", "nsdname",
					    "nsip"};
static const char *const action_names[] = {"none",     "nxdomain", "nodata",     "passthru",
					   "drop",     "tcp-only", "cname",      "cname-wild",
					   "local-data", "sinkhole"};

const char *policy_trigger_name(enum policy_trigger t)
{
	return (unsigned)t < POLICY_TRIGGER_COUNT ? trigger_names[t] : "?";
}

const char *policy_action_name(enum policy_action a)
{
	return (unsigned)a < POLICY_ACTION_COUNT ? action_names[a] : "?";
}

void policy_name_prep(const uint8_t *name, struct name_prep *np)
{
	unsigned n = 0;
	size_t p = 0;

	while (name[p] != 0 && n < NAME_LABELS_MAX && p < DNS_NAME_WIRE_MAX) {
		np->off[n++] = (uint16_t)p;
		p += (size_t)name[p] + 1;
	}
	np->name = name;
	np->n = n;
	np->len = (uint16_t)p; /* without the root label */
	np->off[n] = (uint16_t)p;
	np->h[n] = IMG_SEED;
	for (unsigned k = n; k > 0; k--)
		np->h[k - 1] = img_label_hash(name + np->off[k - 1], np->h[k]);
}

static const struct img_slot *find_suffix(const struct policy_snap *s, const struct name_prep *np,
					  unsigned k, unsigned zone, unsigned kind)
{
	return policy_img_find(s, np->h[k], zone, kind, np->name + np->off[k],
			       (size_t)(np->len - np->off[k]));
}

bool policy_name_protected(const struct policy_snap *s, const struct name_prep *np)
{
	if (s->hdr->protect_count == 0)
		return false;
	if (find_suffix(s, np, 0, 0, IMG_KIND_PROTECT))
		return true;
	for (unsigned k = 1; k <= np->n; k++)
		if (find_suffix(s, np, k, 0, IMG_KIND_PROTECT | IMG_KIND_WILD))
			return true;
	return false;
}

const struct img_slot *policy_name_lookup(const struct policy_snap *s, const struct name_prep *np,
					  unsigned zone, enum policy_trigger t, unsigned *labels_cut)
{
	const struct img_zone *z = &s->zones[zone];
	const struct img_slot *sl;

	if (z->has_exact[t] && (sl = find_suffix(s, np, 0, zone, t)) != NULL) {
		*labels_cut = 0;
		return sl;
	}
	if (!z->has_wild[t])
		return NULL;
	if (t == POLICY_TRIGGER_QNAME)
		return policy_name_wild(s, np, zone, labels_cut);
	/* "*.S" matches names strictly below S: longest S first. */
	for (unsigned k = 1; k <= np->n; k++)
		if ((sl = find_suffix(s, np, k, zone, (unsigned)t | IMG_KIND_WILD)) != NULL) {
			*labels_cut = k;
			return sl;
		}
	return NULL;
}

const struct img_slot *policy_name_wild(const struct policy_snap *s, const struct name_prep *np,
					unsigned zone, unsigned *labels_cut)
{
	const unsigned node = POLICY_TRIGGER_QNAME | IMG_KIND_NODE;
	const unsigned wild = POLICY_TRIGGER_QNAME | IMG_KIND_WILD;
	const struct img_slot *sl = NULL;
	unsigned k;

	/* The longest wildcard first, as before: a miss costs one (filtered) probe per label. */
	for (k = 1; k <= np->n && sl == NULL; k++)
		sl = find_suffix(s, np, k, zone, wild);
	if (sl == NULL)
		return NULL;
	k--;
	/* BIND finds the rule in the zone as a DNS lookup (RFC 4592): "*.S" applies only when S
	 * is the closest existing node, so no name between the query name and S may exist in
	 * the zone, the query name itself included (an empty non-terminal matches nothing). */
	for (unsigned j = 0; j < k; j++)
		if (find_suffix(s, np, j, zone, node) != NULL ||
		    (j > 0 && find_suffix(s, np, j, zone, POLICY_TRIGGER_QNAME) != NULL))
			return NULL;
	*labels_cut = k;
	return sl;
}

static unsigned ip_index(enum policy_trigger t)
{
	return t == POLICY_TRIGGER_CLIENT_IP ? 0 : t == POLICY_TRIGGER_RESPONSE_IP ? 1 : 2;
}

bool policy_zone_has_ip(const struct policy_snap *s, unsigned zone, enum policy_trigger t)
{
	const uint64_t *m = &s->zones[zone].lenmask[ip_index(t)][0][0];
	for (int i = 0; i < 6; i++)
		if (m[i])
			return true;
	return false;
}

enum policy_verdict policy_match_client(const struct policy_snap *s, const struct sockaddr *client,
					struct policy_hit *hit, struct policy_hit *shadow)
{
	uint8_t caddr[16];
	int cfam = 0;
	char text[DNS_NAME_TEXT_MAX];

	hit->action = POLICY_ACTION_NONE;
	shadow->action = POLICY_ACTION_NONE;
	if (!policy_sockaddr_ip(client, &cfam, caddr))
		return POLICY_VERDICT_NONE;
	for (unsigned z = 0; z < s->hdr->zone_count; z++) {
		unsigned bits = 0;
		if (!policy_zone_has_ip(s, z, POLICY_TRIGGER_CLIENT_IP))
			continue;
		const struct img_slot *sl =
		    policy_ip_lookup(s, z, POLICY_TRIGGER_CLIENT_IP, cfam, caddr, &bits);
		if (sl == NULL)
			continue;
		policy_ip_text(cfam, caddr, text, sizeof(text));
		if (s->zones[z].override == POLICY_OVERRIDE_LOG) {
			if (shadow->action == POLICY_ACTION_NONE)
				policy_hit_fill(s, sl, 0, text, shadow);
			continue;
		}
		policy_hit_fill(s, sl, 0, text, hit);
		return policy_earlier_response_rules(s, z) ? POLICY_VERDICT_RECURSE
							   : POLICY_VERDICT_ACT;
	}
	return POLICY_VERDICT_NONE;
}

bool policy_snap_has_client_rules(const struct policy_snap *snap)
{
	for (unsigned z = 0; z < snap->hdr->zone_count; z++)
		if (policy_zone_has_ip(snap, z, POLICY_TRIGGER_CLIENT_IP))
			return true;
	return false;
}

const struct img_slot *policy_ip_lookup(const struct policy_snap *s, unsigned zone,
					enum policy_trigger t, int family, const uint8_t *addr,
					unsigned *bits_out)
{
	const uint64_t *mask = s->zones[zone].lenmask[ip_index(t)][family == AF_INET6];
	unsigned max = family == AF_INET6 ? 128 : 32;
	uint8_t key[2 + 16];

	key[0] = family == AF_INET6 ? 6 : 4;
	for (int bits = (int)max; bits >= 1; bits--) {
		if (!(mask[bits / 64] & (1ull << (bits % 64))))
			continue;
		unsigned bytes = ((unsigned)bits + 7) / 8;
		key[1] = (uint8_t)bits;
		memcpy(key + 2, addr, bytes);
		if (bits % 8)
			key[1 + bytes] &= (uint8_t)(0xff << (8 - bits % 8));
		const struct img_slot *sl =
			policy_img_find(s, img_ip_hash(key, 2 + bytes), zone, t, key, 2 + bytes);
		if (sl != NULL) {
			*bits_out = (unsigned)bits;
			return sl;
		}
	}
	return NULL;
}

/* Client or NS address → family + 16 bytes; v4-mapped v6 counts as v4. */
bool policy_sockaddr_ip(const struct sockaddr *sa, int *family, uint8_t *addr)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (sa == NULL)
		return false;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;
		memcpy(addr, &in->sin_addr, 4);
		*family = AF_INET;
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		if (memcmp(in6->sin6_addr.s6_addr, mapped, 12) == 0) {
			memcpy(addr, in6->sin6_addr.s6_addr + 12, 4);
			*family = AF_INET;
		} else {
			memcpy(addr, in6->sin6_addr.s6_addr, 16);
			*family = AF_INET6;
		}
		return true;
	}
	return false;
}

static void copy_text(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);
	if (n < cap) {
		memcpy(dst, src, n + 1);
		return;
	}
	memcpy(dst, src, cap - 4);
	memcpy(dst + cap - 4, "...", 4);
}

static enum policy_action override_action(const struct policy_snap *s, const struct img_zone *z,
					  uint8_t given)
{
	switch (z->override) {
	case POLICY_OVERRIDE_NXDOMAIN: return POLICY_ACTION_NXDOMAIN;
	case POLICY_OVERRIDE_NODATA: return POLICY_ACTION_NODATA;
	case POLICY_OVERRIDE_PASSTHRU: return POLICY_ACTION_PASSTHRU;
	case POLICY_OVERRIDE_DROP: return POLICY_ACTION_DROP;
	case POLICY_OVERRIDE_TCP_ONLY: return POLICY_ACTION_TCP_ONLY;
	case POLICY_OVERRIDE_SINKHOLE: return POLICY_ACTION_SINKHOLE;
	case POLICY_OVERRIDE_CNAME: {
		const uint8_t *t = (const uint8_t *)img_str(s, z->cname_off);
		return t[0] == 1 && t[1] == '*' ? POLICY_ACTION_CNAME_WILD : POLICY_ACTION_CNAME;
	}
	default: return (enum policy_action)given;
	}
}

static void name_text(const uint8_t *wire, size_t len, char *out, size_t cap)
{
	uint8_t buf[DNS_NAME_WIRE_MAX + 1];
	char text[DNS_NAME_TEXT_MAX];

	memcpy(buf, wire, len);
	buf[len] = 0;
	if (dns_name_to_text(buf, text, sizeof(text)) < 0)
		snprintf(text, sizeof(text), "?");
	copy_text(out, cap, text);
}

void policy_key_text(const struct policy_snap *s, const struct img_slot *sl, char *out,
		     size_t cap)
{
	const uint8_t *k = policy_img_src(s, sl)->keys + sl->key_off;
	unsigned t = sl->kind & 7;

	if (t == POLICY_TRIGGER_QNAME || t == POLICY_TRIGGER_NSDNAME) {
		char text[DNS_NAME_TEXT_MAX];
		name_text(k + 1, k[0], text, sizeof(text));
		if (sl->kind & IMG_KIND_WILD)
			snprintf(out, cap, "*.%s", strcmp(text, ".") == 0 ? "" : text);
		else
			copy_text(out, cap, text);
		return;
	}
	uint8_t addr[16] = {0};
	char a[INET6_ADDRSTRLEN];
	unsigned bytes = k[0] >= 2 ? k[0] - 2u : 0;
	memcpy(addr, k + 3, bytes > 16 ? 16 : bytes);
	inet_ntop(k[1] == 6 ? AF_INET6 : AF_INET, addr, a, sizeof(a));
	snprintf(out, cap, "%s/%u", a, k[2]);
}

void policy_hit_fill(const struct policy_snap *s, const struct img_slot *sl, unsigned chain_pos,
		     const char *matched, struct policy_hit *hit)
{
	const struct img_zone *z = &s->zones[sl->zone];
	const struct policy_snap *src = policy_img_src(s, sl); /* the rule's own image */
	const struct img_data *d = img_data_at(src, sl->data_off);

	memset(hit, 0, sizeof(*hit));
	hit->trigger = sl->kind & 7;
	hit->wildcard = (sl->kind & IMG_KIND_WILD) != 0;
	hit->zone = sl->zone;
	hit->rule = policy_img_rule(s, sl);
	hit->given = d->action;
	hit->action = (uint8_t)override_action(s, z, d->action);
	hit->shadow = z->override == POLICY_OVERRIDE_LOG;
	hit->restart = hit->action == POLICY_ACTION_CNAME_WILD ||
		       (hit->action == POLICY_ACTION_CNAME && z->override == POLICY_OVERRIDE_CNAME);
	hit->ttl = d->ttl;
	hit->chain_pos = (uint8_t)(chain_pos > 255 ? 255 : chain_pos);
	hit->ede_code = z->ede_filtered ? DNS_EDE_FILTERED : DNS_EDE_BLOCKED;
	hit->first_seen = (int64_t)sl->first_seen * 86400;
	if (hit->trigger != POLICY_TRIGGER_QNAME && hit->trigger != POLICY_TRIGGER_NSDNAME)
		hit->prefix_bits = src->keys[sl->key_off + 2];
	policy_key_text(s, sl, hit->match, sizeof(hit->match));
	copy_text(hit->matched, sizeof(hit->matched), matched ? matched : "");
	copy_text(hit->zone_name, sizeof(hit->zone_name), img_str(s, z->name_off));
	copy_text(hit->category, sizeof(hit->category),
		  d->category_off ? img_str(src, d->category_off) : img_str(s, z->category_off));
	copy_text(hit->family, sizeof(hit->family),
		  d->family_off ? img_str(src, d->family_off) : img_str(s, z->family_off));
	copy_text(hit->feed, sizeof(hit->feed), img_str(s, z->feed_off));
}

bool policy_earlier_response_rules(const struct policy_snap *s, unsigned zone)
{
	for (unsigned z = 0; z < zone; z++) {
		const struct img_zone *iz = &s->zones[z];
		if (iz->override == POLICY_OVERRIDE_LOG)
			continue;
		if (iz->by_trigger[POLICY_TRIGGER_RESPONSE_IP] || iz->by_trigger[POLICY_TRIGGER_NSDNAME] ||
		    iz->by_trigger[POLICY_TRIGGER_NSIP])
			return true;
	}
	return false;
}

void policy_ip_text(int family, const uint8_t *addr, char *out, size_t cap)
{
	char a[INET6_ADDRSTRLEN];
	if (inet_ntop(family, addr, a, sizeof(a)) == NULL)
		snprintf(a, sizeof(a), "?");
	snprintf(out, cap, "%s", a);
}

enum policy_verdict policy_match_query(const struct policy_snap *s, const struct dns_query *q,
				       const struct sockaddr *client, struct policy_hit *hit,
				       struct policy_hit *shadow)
{
	struct name_prep np;
	uint8_t caddr[16];
	int cfam = 0;
	bool have_client = policy_sockaddr_ip(client, &cfam, caddr);
	char text[DNS_NAME_TEXT_MAX];

	hit->action = POLICY_ACTION_NONE;
	if (shadow != NULL)
		shadow->action = POLICY_ACTION_NONE;
	if (!q->has_question)
		return POLICY_VERDICT_NONE;
	policy_name_prep(q->qname, &np);
	if (policy_name_protected(s, &np))
		return POLICY_VERDICT_NONE;
	for (unsigned z = 0; z < s->hdr->zone_count; z++) {
		const struct img_slot *sl = NULL;
		unsigned bits = 0, cut = 0;
		const char *matched = text;
		if (have_client && policy_zone_has_ip(s, z, POLICY_TRIGGER_CLIENT_IP))
			sl = policy_ip_lookup(s, z, POLICY_TRIGGER_CLIENT_IP, cfam, caddr, &bits);
		if (sl != NULL) {
			policy_ip_text(cfam, caddr, text, sizeof(text));
		} else {
			sl = policy_name_lookup(s, &np, z, POLICY_TRIGGER_QNAME, &cut);
			if (sl == NULL)
				continue;
			if (dns_name_to_text(q->qname, text, sizeof(text)) < 0)
				matched = "";
		}
		if (s->zones[z].override == POLICY_OVERRIDE_LOG) {
			if (shadow != NULL && shadow->action == POLICY_ACTION_NONE)
				policy_hit_fill(s, sl, 0, matched, shadow);
			continue;
		}
		policy_hit_fill(s, sl, 0, matched, hit);
		return policy_earlier_response_rules(s, z) ? POLICY_VERDICT_RECURSE
							   : POLICY_VERDICT_ACT;
	}
	return POLICY_VERDICT_NONE;
}
