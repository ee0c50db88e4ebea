/* SPDX-License-Identifier: MIT */
/*
 * Response-side triggers (CNAME chain names as QNAME triggers, RESPONSE-IP, NSDNAME, NSIP)
 * and `explain`. A candidate replaces the pending hit only when it takes precedence under
 * RPZ rules; see docs/policy.md for the exact order.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "dns/msg.h"
#include "dns/name.h"
#include "policy/match_int.h"

struct best {
	bool set, changed;
	unsigned zone, trigger, chain, bits;
	int family;
	uint8_t addr[16];
	uint8_t name[DNS_NAME_WIRE_MAX]; /* NSDNAME tie-break */
	const struct img_slot *slot;
	char matched[POLICY_TEXT_NAME];
};

/* Canonical DNS order (RFC 4034 6.1) of two lower-case wire names. */
static int canon_cmp(const uint8_t *a, const uint8_t *b)
{
	const uint8_t *la[128], *lb[128];
	unsigned na = 0, nb = 0;

	for (size_t p = 0; a[p] && na < 128; p += (size_t)a[p] + 1)
		la[na++] = a + p;
	for (size_t p = 0; b[p] && nb < 128; p += (size_t)b[p] + 1)
		lb[nb++] = b + p;
	while (na > 0 && nb > 0) {
		const uint8_t *x = la[--na], *y = lb[--nb];
		size_t m = x[0] < y[0] ? x[0] : y[0];
		int c = memcmp(x + 1, y + 1, m);
		if (c != 0)
			return c;
		if (x[0] != y[0])
			return x[0] < y[0] ? -1 : 1;
	}
	return na == nb ? 0 : na < nb ? -1 : 1;
}

/*
 * Does candidate @c take precedence over @b? A CNAME chain is checked name by name, as BIND
 * restarts at each name: the first name of the chain with a hit in any zone acts, and zone
 * order decides only among the hits for that same name.
 */
static bool better(const struct best *c, const struct best *b)
{
	if (!b->set)
		return true;
	if (c->chain != b->chain)
		return c->chain < b->chain;
	if (c->zone != b->zone)
		return c->zone < b->zone;
	if (c->trigger != b->trigger)
		return c->trigger < b->trigger;
	switch (c->trigger) {
	case POLICY_TRIGGER_QNAME:
		return false;
	/* BIND (query.c, rpz_rewrite_name): among one zone's NSDNAME rules, the rule whose
	 * owner name comes last in DNSSEC canonical order. */
	case POLICY_TRIGGER_NSDNAME: return b->name[0] != 0 && canon_cmp(c->name, b->name) > 0;
	default:
		if (c->bits != b->bits)
			return c->bits > b->bits;
		if (c->family != b->family)
			return c->family == AF_INET;
		return b->family != 0 &&
		       memcmp(c->addr, b->addr, c->family == AF_INET ? 4 : 16) < 0;
	}
}

struct rctx {
	const struct policy_snap *s;
	struct best best;
	struct policy_hit *shadow;
};

static void offer(struct rctx *r, struct best *c, const struct img_slot *sl)
{
	c->slot = sl;
	if (r->s->zones[c->zone].override == POLICY_OVERRIDE_LOG) {
		if (r->shadow != NULL && r->shadow->action == POLICY_ACTION_NONE)
			policy_hit_fill(r->s, sl, c->chain, c->matched, r->shadow);
		return;
	}
	if (better(c, &r->best)) {
		r->best = *c;
		r->best.set = r->best.changed = true;
	}
}

/* Can no hit in zone @z for chain position @chain beat the best one found so far? */
static bool beaten(const struct rctx *r, unsigned chain, unsigned z)
{
	return r->best.set &&
	       (r->best.chain < chain || (r->best.chain == chain && z > r->best.zone));
}

/* The rule's owner below "rpz-nsdname": the name, or "*." and the suffix for a wildcard. */
static void rule_owner(const struct policy_snap *s, const struct img_slot *sl, uint8_t *out)
{
	const uint8_t *k = policy_img_src(s, sl)->keys + sl->key_off; /* a layer's, or the base's */
	size_t len = k[0], p = 0;
	if (sl->kind & IMG_KIND_WILD) {
		out[p++] = 1;
		out[p++] = '*';
	}
	if (len + p >= DNS_NAME_WIRE_MAX)
		len = DNS_NAME_WIRE_MAX - 1 - p;
	memcpy(out + p, k + 1, len);
	out[p + len] = 0;
}

static void check_name(struct rctx *r, const uint8_t *name, enum policy_trigger t, unsigned chain)
{
	struct name_prep np;
	struct best c;
	unsigned cut;

	policy_name_prep(name, &np);
	if (t == POLICY_TRIGGER_QNAME && policy_name_protected(r->s, &np))
		return;
	for (unsigned z = 0; z < r->s->hdr->zone_count; z++) {
		if (beaten(r, chain, z))
			break;
		const struct img_slot *sl = policy_name_lookup(r->s, &np, z, t, &cut);
		if (sl == NULL)
			continue;
		memset(&c, 0, sizeof(c));
		c.zone = z;
		c.trigger = t;
		c.chain = chain;
		if (t == POLICY_TRIGGER_NSDNAME)
			rule_owner(r->s, sl, c.name);
		else
			memcpy(c.name, name, (size_t)dns_name_wire_len(name, DNS_NAME_WIRE_MAX));
		if (dns_name_to_text(name, c.matched, sizeof(c.matched)) < 0)
			c.matched[0] = 0;
		offer(r, &c, sl);
		if (r->s->zones[z].override != POLICY_OVERRIDE_LOG)
			break;
	}
}

static void check_ip(struct rctx *r, int family, const uint8_t *addr, enum policy_trigger t,
		     unsigned chain)
{
	struct best c;
	unsigned bits;

	for (unsigned z = 0; z < r->s->hdr->zone_count; z++) {
		if (beaten(r, chain, z))
			break;
		if (!policy_zone_has_ip(r->s, z, t))
			continue;
		const struct img_slot *sl = policy_ip_lookup(r->s, z, t, family, addr, &bits);
		if (sl == NULL)
			continue;
		memset(&c, 0, sizeof(c));
		c.zone = z;
		c.trigger = t;
		c.chain = chain;
		c.bits = bits;
		c.family = family;
		memcpy(c.addr, addr, family == AF_INET ? 4 : 16);
		policy_ip_text(family, addr, c.matched, sizeof(c.matched));
		offer(r, &c, sl);
		if (r->s->zones[z].override != POLICY_OVERRIDE_LOG)
			break;
	}
}

static void start(struct rctx *r, const struct policy_snap *s, const struct policy_hit *hit,
		  struct policy_hit *shadow)
{
	memset(&r->best, 0, sizeof(r->best));
	r->s = s;
	r->shadow = shadow;
	if (hit->action != POLICY_ACTION_NONE) {
		r->best.set = true;
		r->best.zone = hit->zone;
		r->best.trigger = hit->trigger;
		r->best.chain = hit->chain_pos;
		r->best.bits = hit->prefix_bits;
		/* NSDNAME ties compare rule owners: rebuild the pending one from its text. */
		size_t nl;
		if (hit->trigger == POLICY_TRIGGER_NSDNAME &&
		    dns_name_from_text(hit->match, NULL, r->best.name, &nl) != C2W_OK)
			r->best.name[0] = 0;
	}
}

static bool finish(struct rctx *r, struct policy_hit *hit)
{
	if (!r->best.changed)
		return false;
	policy_hit_fill(r->s, r->best.slot, r->best.chain, r->best.matched, hit);
	return true;
}

struct rr {
	uint8_t owner[DNS_NAME_WIRE_MAX];
	uint16_t type, rdlen;
	size_t rd;
};

static bool next_rr(const uint8_t *m, size_t len, size_t *pos, struct rr *rr)
{
	size_t ol;

	if (dns_name_unpack(m, len, pos, rr->owner, &ol) != C2W_OK || *pos + 10 > len)
		return false;
	dns_name_lower(rr->owner);
	rr->type = (uint16_t)(m[*pos] << 8 | m[*pos + 1]);
	rr->rdlen = (uint16_t)(m[*pos + 8] << 8 | m[*pos + 9]);
	rr->rd = *pos + 10;
	if (rr->rd + rr->rdlen > len)
		return false;
	*pos = rr->rd + rr->rdlen;
	return true;
}

#define NS_MAX 16

bool policy_match_response(const struct policy_snap *s, const struct dns_query *q,
			   const struct sockaddr *client, const uint8_t *m, size_t len,
			   struct policy_hit *hit, struct policy_hit *shadow)
{
	struct rctx r;
	struct rr rr;
	struct name_prep np;
	uint8_t cur[DNS_NAME_WIRE_MAX], ns[NS_MAX][DNS_NAME_WIRE_MAX];
	unsigned chain = 0, ns_count = 0;
	size_t pos = DNS_HEADER_LEN, nl;

	(void)client;
	if (len < DNS_HEADER_LEN || !q->has_question)
		return false;
	if (hit->action == POLICY_ACTION_PASSTHRU && hit->zone == 0)
		return false;
	policy_name_prep(q->qname, &np);
	if (policy_name_protected(s, &np))
		return false;
	start(&r, s, hit, shadow);
	unsigned qd = (unsigned)(m[4] << 8 | m[5]), an = (unsigned)(m[6] << 8 | m[7]);
	unsigned nsc = (unsigned)(m[8] << 8 | m[9]), ar = (unsigned)(m[10] << 8 | m[11]);
	for (unsigned i = 0; i < qd; i++) {
		if (dns_name_unpack(m, len, &pos, cur, &nl) != C2W_OK || pos + 4 > len)
			return false;
		pos += 4;
	}
	memcpy(cur, q->qname, q->qname_len);
	for (unsigned i = 0; i < an; i++) {
		if (!next_rr(m, len, &pos, &rr))
			break;
		if (!dns_name_equal(rr.owner, cur))
			continue;
		if (rr.type == DNS_TYPE_CNAME) {
			/* A CNAME or ANY question is answered at its own name; BIND does not follow
			 * the alias, so nothing further down the chain applies. */
			if (q->qtype == DNS_TYPE_CNAME || q->qtype == DNS_TYPE_ANY)
				break;
			size_t p = rr.rd;
			if (dns_name_unpack(m, len, &p, cur, &nl) != C2W_OK)
				break;
			dns_name_lower(cur);
			chain++;
			check_name(&r, cur, POLICY_TRIGGER_QNAME, chain);
		} else if ((rr.type == DNS_TYPE_A && rr.rdlen == 4) ||
			   (rr.type == DNS_TYPE_AAAA && rr.rdlen == 16)) {
			check_ip(&r, rr.type == DNS_TYPE_A ? AF_INET : AF_INET6, m + rr.rd,
				 POLICY_TRIGGER_RESPONSE_IP, chain);
		}
	}
	for (unsigned i = 0; i < nsc; i++) {
		if (!next_rr(m, len, &pos, &rr))
			break;
		if (rr.type != DNS_TYPE_NS)
			continue;
		size_t p = rr.rd;
		if (dns_name_unpack(m, len, &p, ns[ns_count % NS_MAX], &nl) != C2W_OK)
			break;
		dns_name_lower(ns[ns_count % NS_MAX]);
		check_name(&r, ns[ns_count % NS_MAX], POLICY_TRIGGER_NSDNAME, 0);
		if (ns_count < NS_MAX)
			ns_count++;
	}
	for (unsigned i = 0; i < ar && ns_count > 0; i++) {
		if (!next_rr(m, len, &pos, &rr))
			break;
		if (!((rr.type == DNS_TYPE_A && rr.rdlen == 4) ||
		      (rr.type == DNS_TYPE_AAAA && rr.rdlen == 16)))
			continue;
		for (unsigned k = 0; k < ns_count; k++)
			if (dns_name_equal(rr.owner, ns[k])) {
				check_ip(&r, rr.type == DNS_TYPE_A ? AF_INET : AF_INET6, m + rr.rd,
					 POLICY_TRIGGER_NSIP, 0);
				break;
			}
	}
	return finish(&r, hit);
}

bool policy_match_ns(const struct policy_snap *s, const struct dns_query *q,
		     const uint8_t *ns_name, const struct sockaddr *ns_addr, struct policy_hit *hit,
		     struct policy_hit *shadow)
{
	struct rctx r;
	struct name_prep np;
	uint8_t addr[16], lower[DNS_NAME_WIRE_MAX];
	int fam;

	if (!q->has_question)
		return false;
	policy_name_prep(q->qname, &np);
	if (policy_name_protected(s, &np))
		return false;
	start(&r, s, hit, shadow);
	if (ns_name != NULL) {
		int wl = dns_name_wire_len(ns_name, DNS_NAME_WIRE_MAX);
		if (wl > 0) {
			memcpy(lower, ns_name, (size_t)wl);
			dns_name_lower(lower);
			check_name(&r, lower, POLICY_TRIGGER_NSDNAME, 0);
		}
	}
	if (policy_sockaddr_ip(ns_addr, &fam, addr))
		check_ip(&r, fam, addr, POLICY_TRIGGER_NSIP, 0);
	return finish(&r, hit);
}

bool policy_match_ns_all(const struct policy_snap *s, const struct dns_query *q, unsigned chain,
			 const uint8_t *const *names, size_t name_count,
			 const struct policy_ns_addr *addrs, size_t addr_count,
			 struct policy_hit *hit, struct policy_hit *shadow)
{
	struct rctx r;
	struct name_prep np;

	if (!q->has_question)
		return false;
	policy_name_prep(q->qname, &np);
	if (policy_name_protected(s, &np))
		return false;
	start(&r, s, hit, shadow);
	for (size_t i = 0; i < name_count; i++)
		if (names[i][0] != 0) /* BIND ignores "NS ." */
			check_name(&r, names[i], POLICY_TRIGGER_NSDNAME, chain);
	for (size_t i = 0; i < addr_count; i++)
		check_ip(&r, addrs[i].family, addrs[i].addr, POLICY_TRIGGER_NSIP, chain);
	return finish(&r, hit);
}

bool policy_nsip_wanted(const struct policy_snap *s, const struct policy_hit *hit, unsigned chain,
			int family)
{
	bool none = hit->action == POLICY_ACTION_NONE || hit->chain_pos > chain;
	unsigned fam = family == AF_INET6;
	for (unsigned z = 0; z < s->hdr->zone_count; z++) {
		const uint64_t *m = s->zones[z].lenmask[2][fam];
		if (!(m[0] | m[1] | m[2]))
			continue;
		if (none || z < hit->zone || (z == hit->zone && hit->trigger == POLICY_TRIGGER_NSIP))
			return true;
	}
	return false;
}

/* ---- explain ---- */

struct cand {
	const struct img_slot *slot;
	unsigned zone, trigger, cut, bits;
};

static const char *why_loses(const struct policy_snap *s, const struct cand *c,
			     const struct cand *w, char *buf, size_t cap)
{
	if (s->zones[c->zone].override == POLICY_OVERRIDE_LOG) {
		snprintf(buf, cap, "zone %s is in log (shadow) mode: recorded, never acts",
			 img_str(s, s->zones[c->zone].name_off));
	} else if (w == NULL) {
		snprintf(buf, cap, "?");
	} else if (c->zone != w->zone) {
		snprintf(buf, cap, "zone %s (#%u) comes after zone %s (#%u) in the configured order",
			 img_str(s, s->zones[c->zone].name_off), c->zone + 1,
			 img_str(s, s->zones[w->zone].name_off), w->zone + 1);
	} else if (c->trigger != w->trigger) {
		snprintf(buf, cap, "in one zone %s triggers come before %s triggers",
			 policy_trigger_name(w->trigger), policy_trigger_name(c->trigger));
	} else if (c->trigger == POLICY_TRIGGER_QNAME && w->cut == 0) {
		snprintf(buf, cap, "an exact name match beats a wildcard");
	} else if (c->trigger == POLICY_TRIGGER_QNAME) {
		snprintf(buf, cap, "a longer (more specific) wildcard wins");
	} else {
		snprintf(buf, cap, "a longer prefix (/%u over /%u) wins", w->bits, c->bits);
	}
	return buf;
}

enum policy_verdict policy_explain(const struct policy_snap *s, const struct dns_query *q,
				   const struct sockaddr *client, policy_explain_cb cb, void *ctx)
{
	struct cand cands[256];
	size_t n = 0;
	struct name_prep np;
	uint8_t caddr[16];
	int cfam = 0;
	bool have_client = policy_sockaddr_ip(client, &cfam, caddr);
	char qtext[DNS_NAME_TEXT_MAX], ctext[64], why[600];
	struct policy_hit h, dummy;

	if (!q->has_question)
		return POLICY_VERDICT_NONE;
	policy_name_prep(q->qname, &np);
	if (dns_name_to_text(q->qname, qtext, sizeof(qtext)) < 0)
		qtext[0] = 0;
	if (have_client)
		policy_ip_text(cfam, caddr, ctext, sizeof(ctext));
	if (policy_name_protected(s, &np)) {
		memset(&h, 0, sizeof(h));
		memcpy(h.matched, qtext, strnlen(qtext, sizeof(h.matched) - 1));
		cb(ctx, &h, false, "the name is on the never-block list: no rule applies");
		return POLICY_VERDICT_NONE;
	}
	for (unsigned z = 0; z < s->hdr->zone_count && n < 250; z++) {
		if (have_client) {
			const uint64_t *mask = s->zones[z].lenmask[0][cfam == AF_INET6];
			uint8_t key[18];
			key[0] = cfam == AF_INET6 ? 6 : 4;
			for (int bits = cfam == AF_INET6 ? 128 : 32; bits >= 1 && n < 250; bits--) {
				if (!(mask[bits / 64] & (1ull << (bits % 64))))
					continue;
				unsigned bytes = ((unsigned)bits + 7) / 8;
				key[1] = (uint8_t)bits;
				memcpy(key + 2, caddr, bytes);
				if (bits % 8)
					key[1 + bytes] &= (uint8_t)(0xff << (8 - bits % 8));
				const struct img_slot *sl =
					policy_img_find(s, img_ip_hash(key, 2 + bytes), z,
							POLICY_TRIGGER_CLIENT_IP, key, 2 + bytes);
				if (sl != NULL)
					cands[n++] = (struct cand){sl, z, POLICY_TRIGGER_CLIENT_IP, 0,
								   (unsigned)bits};
			}
		}
		const struct img_slot *sl;
		if (s->zones[z].has_exact[POLICY_TRIGGER_QNAME] &&
		    (sl = policy_img_find(s, np.h[0], z, POLICY_TRIGGER_QNAME, np.name, np.len)))
			cands[n++] = (struct cand){sl, z, POLICY_TRIGGER_QNAME, 0, 0};
		unsigned k = 0;
		if (n < 250 && s->zones[z].has_wild[POLICY_TRIGGER_QNAME] &&
		    (sl = policy_name_wild(s, &np, z, &k)) != NULL)
			cands[n++] = (struct cand){sl, z, POLICY_TRIGGER_QNAME, k, 0};
	}
	const struct cand *w = NULL;
	for (size_t i = 0; i < n && w == NULL; i++)
		if (s->zones[cands[i].zone].override != POLICY_OVERRIDE_LOG)
			w = &cands[i];
	for (size_t i = 0; i < n; i++) {
		const struct cand *c = &cands[i];
		policy_hit_fill(s, c->slot, 0, c->trigger == POLICY_TRIGGER_CLIENT_IP ? ctext : qtext,
				&h);
		if (c == w) {
			bool rec = policy_earlier_response_rules(s, c->zone);
			snprintf(why, sizeof(why),
				 "first match in precedence order (zone #%u, %s trigger%s)%s",
				 c->zone + 1, policy_trigger_name(c->trigger),
				 c->cut ? ", longest matching wildcard" : "",
				 rec ? "; an earlier zone has response-IP/NS rules, so the answer is "
				       "resolved first and may still be rewritten by them"
				     : "; answered at once, without recursion");
			cb(ctx, &h, true, why);
		} else {
			cb(ctx, &h, false, why_loses(s, c, w, why, sizeof(why)));
		}
	}
	return policy_match_query(s, q, client, &h, &dummy);
}
