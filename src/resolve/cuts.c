/* SPDX-License-Identifier: MIT */
/*
 * The zone-cut cache (cuts.h): a set-associative table of fixed-size entries (4 ways, keyed
 * SipHash of the name so that a client cannot aim names at one set), and the parsing of
 * "NAME NS" and "NS-name A/AAAA" answers into it. The worker decides what to ask.
 */
#include "resolve/cuts.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "core/siphash.h"
#include "dns/iter.h"
#include "dns/msg.h"

#define WAYS 4

struct resolve_cuts {
	struct resolve_cut *e;
	unsigned sets;
	uint8_t key[C2W_SIPHASH_KEY_LEN];
	struct resolve_cuts_stats st;
};

struct resolve_cuts *resolve_cuts_new(unsigned entries)
{
	struct resolve_cuts *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	if (entries == 0)
		entries = RESOLVE_CUTS_DEFAULT;
	c->sets = (entries + WAYS - 1) / WAYS;
	c->e = calloc((size_t)c->sets * WAYS, sizeof(*c->e));
	if (c->e == NULL) {
		free(c);
		return NULL;
	}
	/* Without randomness the table still works; only its spread is predictable. */
	if (getrandom(c->key, sizeof(c->key), GRND_NONBLOCK) != (ssize_t)sizeof(c->key))
		memset(c->key, 0x5a, sizeof(c->key));
	return c;
}

void resolve_cuts_free(struct resolve_cuts *cuts)
{
	if (cuts == NULL)
		return;
	free(cuts->e);
	free(cuts);
}

void resolve_cuts_reset(struct resolve_cuts *cuts)
{
	for (size_t i = 0; i < (size_t)cuts->sets * WAYS; i++)
		cuts->e[i].used = false;
}

unsigned resolve_cuts_capacity(const struct resolve_cuts *cuts)
{
	return cuts->sets * WAYS;
}

size_t resolve_cuts_bytes(const struct resolve_cuts *cuts)
{
	return sizeof(*cuts) + (size_t)cuts->sets * WAYS * sizeof(struct resolve_cut);
}

const struct resolve_cuts_stats *resolve_cuts_stats(const struct resolve_cuts *cuts)
{
	return &cuts->st;
}

static struct resolve_cut *set_of(struct resolve_cuts *cuts, const uint8_t *name, size_t len)
{
	uint8_t h[8];
	uint64_t v;
	c2w_siphash24(cuts->key, name, len, h);
	memcpy(&v, h, sizeof(v));
	return &cuts->e[(size_t)(v % cuts->sets) * WAYS];
}

static struct resolve_cut *lookup(struct resolve_cuts *cuts, const uint8_t *name, uint64_t now)
{
	int len = dns_name_wire_len(name, DNS_NAME_WIRE_MAX);
	if (len < 1)
		return NULL;
	struct resolve_cut *set = set_of(cuts, name, (size_t)len);
	for (unsigned i = 0; i < WAYS; i++) {
		struct resolve_cut *c = &set[i];
		if (c->used && c->expires > now && memcmp(c->name, name, (size_t)len) == 0)
			return c;
	}
	return NULL;
}

const struct resolve_cut *resolve_cuts_find(struct resolve_cuts *cuts, const uint8_t *name,
					    uint64_t now)
{
	const struct resolve_cut *c = lookup(cuts, name, now);
	if (c != NULL)
		cuts->st.hits++;
	else
		cuts->st.misses++;
	return c;
}

/* A fresh entry for @name: the same name's, else a free or expired way, else the one that
 * expires first. */
static struct resolve_cut *put(struct resolve_cuts *cuts, const uint8_t *name, uint32_t ttl,
			       uint64_t now)
{
	int len = dns_name_wire_len(name, DNS_NAME_WIRE_MAX);
	if (len < 1)
		return NULL;
	struct resolve_cut *set = set_of(cuts, name, (size_t)len), *v = NULL;
	for (unsigned i = 0; i < WAYS && v == NULL; i++)
		if (set[i].used && memcmp(set[i].name, name, (size_t)len) == 0)
			v = &set[i];
	for (unsigned i = 0; i < WAYS && v == NULL; i++)
		if (!set[i].used || set[i].expires <= now)
			v = &set[i];
	if (v == NULL) {
		/* Cuts are few and shared by many names; "no cut" entries are one per name asked
		 * (a flood of new names makes them). Replace those first. */
		for (unsigned i = 0; i < WAYS; i++)
			if (v == NULL || set[i].is_cut < v->is_cut ||
			    (set[i].is_cut == v->is_cut && set[i].expires < v->expires))
				v = &set[i];
		cuts->st.evictions++;
	}
	memset(v, 0, offsetof(struct resolve_cut, ns_off));
	memcpy(v->name, name, (size_t)len);
	v->used = true;
	v->expires = now + (ttl < RESOLVE_CUT_TTL_MAX ? ttl : RESOLVE_CUT_TTL_MAX);
	return v;
}

void resolve_cuts_put_nocut(struct resolve_cuts *cuts, const uint8_t *name, uint32_t ttl,
			    uint64_t now)
{
	(void)put(cuts, name, ttl, now);
}

static void shorten(struct resolve_cut *c, uint32_t ttl, uint64_t now)
{
	uint64_t until = now + ttl;
	if (until < c->expires)
		c->expires = until;
}

static int ns_index(const struct resolve_cut *c, const uint8_t *ns)
{
	for (unsigned i = 0; i < c->ns_count; i++)
		if (dns_name_equal(c->names + c->ns_off[i], ns))
			return (int)i;
	return -1;
}

static void add_ns(struct resolve_cut *c, const uint8_t *ns)
{
	int len = dns_name_wire_len(ns, DNS_NAME_WIRE_MAX);
	if (len < 1 || ns_index(c, ns) >= 0)
		return;
	size_t used = c->ns_count ? c->ns_off[c->ns_count - 1] : 0;
	if (c->ns_count)
		used += (size_t)dns_name_wire_len(c->names + used, DNS_NAME_WIRE_MAX);
	if (c->ns_count == RESOLVE_CUT_NS_MAX || used + (size_t)len > sizeof(c->names)) {
		c->trimmed = true;
		return;
	}
	memcpy(c->names + used, ns, (size_t)len);
	c->ns_off[c->ns_count] = (uint16_t)used;
	c->ns_known[c->ns_count] = ns[0] == 0 ? RESOLVE_CUT_HAVE_A | RESOLVE_CUT_HAVE_AAAA : 0;
	c->ns_failed[c->ns_count] = 0;
	c->ns_count++;
}

static void add_addr(struct resolve_cut *c, unsigned ns, const struct dns_rr *rr,
		     const uint8_t *msg)
{
	uint8_t fam = rr->type == DNS_TYPE_A ? AF_INET : AF_INET6;
	for (unsigned i = 0; i < c->addr_count; i++)
		if (c->addrs[i].ns == ns && c->addrs[i].family == fam &&
		    memcmp(c->addrs[i].addr, msg + rr->rdata_off, rr->rdlen) == 0)
			return;
	if (c->addr_count == RESOLVE_CUT_ADDR_MAX) {
		c->trimmed = true;
		return;
	}
	struct resolve_cut_addr *a = &c->addrs[c->addr_count++];
	memset(a, 0, sizeof(*a));
	a->family = fam;
	a->ns = (uint8_t)ns;
	memcpy(a->addr, msg + rr->rdata_off, rr->rdlen);
}

static bool is_addr(const struct dns_rr *rr)
{
	return (rr->type == DNS_TYPE_A && rr->rdlen == 4) ||
	       (rr->type == DNS_TYPE_AAAA && rr->rdlen == 16);
}

/* The NS RRset owned by @name in the answer section; false when there is none. */
static bool read_ns(struct resolve_cut *c, const uint8_t *name, const uint8_t *msg, size_t len,
		    uint32_t *ttl_out)
{
	struct dns_iter it;
	struct dns_rr rr;
	uint8_t ns[DNS_NAME_WIRE_MAX];
	size_t nl;
	uint32_t ttl = RESOLVE_CUT_TTL_MAX;
	if (dns_iter_init(&it, msg, len) != C2W_OK)
		return false;
	while (dns_iter_next(&it, &rr) == C2W_OK && rr.section == DNS_SECTION_ANSWER) {
		if (rr.type != DNS_TYPE_NS || !dns_name_equal(rr.owner, name) ||
		    dns_iter_rdata_name(&it, &rr, 0, ns, &nl) != C2W_OK)
			continue;
		dns_name_lower(ns);
		add_ns(c, ns);
		if (rr.ttl < ttl)
			ttl = rr.ttl;
	}
	if (c->ns_count == 0)
		return false;
	c->is_cut = true;
	*ttl_out = ttl;
	return true;
}

/* Glue: A/AAAA records of the NS names in the additional section. Each type found for a name
 * counts as that name's set (as BIND's glue look-up does). */
static void read_glue(struct resolve_cut *c, const uint8_t *msg, size_t len, uint64_t now)
{
	struct dns_iter it;
	struct dns_rr rr;
	if (dns_iter_init(&it, msg, len) != C2W_OK)
		return;
	while (dns_iter_next(&it, &rr) == C2W_OK) {
		if (rr.section != DNS_SECTION_ADDITIONAL || !is_addr(&rr))
			continue;
		int i = ns_index(c, rr.owner);
		if (i < 0)
			continue;
		add_addr(c, (unsigned)i, &rr, msg);
		c->ns_known[i] |=
		    rr.type == DNS_TYPE_A ? RESOLVE_CUT_HAVE_A : RESOLVE_CUT_HAVE_AAAA;
		shorten(c, rr.ttl, now);
	}
}

/* Negative answer: the zone (SOA owner) and the negative TTL, min(SOA TTL, MINIMUM). */
static bool read_soa(const uint8_t *msg, size_t len, uint8_t *zone, uint32_t *ttl)
{
	struct dns_iter it;
	struct dns_rr rr;
	if (dns_iter_init(&it, msg, len) != C2W_OK)
		return false;
	while (dns_iter_next(&it, &rr) == C2W_OK) {
		if (rr.section != DNS_SECTION_AUTHORITY || rr.type != DNS_TYPE_SOA || rr.rdlen < 22)
			continue;
		const uint8_t *m = msg + rr.rdata_off + rr.rdlen - 4;
		uint32_t minimum =
		    (uint32_t)m[0] << 24 | (uint32_t)m[1] << 16 | (uint32_t)m[2] << 8 | m[3];
		memcpy(zone, rr.owner, rr.owner_len);
		dns_name_lower(zone);
		*ttl = rr.ttl < minimum ? rr.ttl : minimum;
		return true;
	}
	return false;
}

/* Every name strictly between @name and @zone is inside @zone and not an apex. */
static void nocut_between(struct resolve_cuts *cuts, const uint8_t *name, const uint8_t *zone,
			  uint32_t ttl, uint64_t now)
{
	int k = dns_name_subdomain(name, zone);
	const uint8_t *p = name;
	for (int j = 1; j < k; j++) {
		p += p[0] + 1;
		if (lookup(cuts, p, now) == NULL)
			(void)put(cuts, p, ttl, now);
	}
}

/* TTL of an answer without NS or SOA (a CNAME): its first record's, else a minute. */
static uint32_t answer_ttl(const uint8_t *msg, size_t len)
{
	struct dns_iter it;
	struct dns_rr rr;
	if (dns_iter_init(&it, msg, len) == C2W_OK && dns_iter_next(&it, &rr) == C2W_OK)
		return rr.ttl;
	return 60;
}

const struct resolve_cut *resolve_cuts_learn_ns(struct resolve_cuts *cuts, const uint8_t *name,
						int rcode, const uint8_t *msg, size_t len,
						uint64_t now)
{
	uint8_t zone[DNS_NAME_WIRE_MAX];
	uint32_t ttl = RESOLVE_CUT_TTL_FAIL;
	struct resolve_cut *c;
	bool ok = msg != NULL && len >= DNS_HEADER_LEN &&
		  (rcode == DNS_RCODE_NOERROR || rcode == DNS_RCODE_NXDOMAIN);
	if (ok && rcode == DNS_RCODE_NOERROR) {
		c = put(cuts, name, 0, now);
		if (c == NULL)
			return NULL;
		if (read_ns(c, name, msg, len, &ttl)) {
			c->expires = now + (ttl < RESOLVE_CUT_TTL_MAX ? ttl : RESOLVE_CUT_TTL_MAX);
			read_glue(c, msg, len, now);
			return c;
		}
	}
	if (ok && read_soa(msg, len, zone, &ttl))
		nocut_between(cuts, name, zone, ttl, now);
	else if (ok)
		ttl = answer_ttl(msg, len);
	/* Written last: nocut_between() may have taken a way of this entry's set. */
	c = put(cuts, name, ttl, now);
	if (c != NULL)
		c->failed = !ok;
	return c;
}

bool resolve_cut_wants(const struct resolve_cut *c, unsigned i, uint16_t *qtype)
{
	if (i >= c->ns_count)
		return false;
	if (!(c->ns_known[i] & RESOLVE_CUT_HAVE_A)) {
		*qtype = DNS_TYPE_A;
		return true;
	}
	if (!(c->ns_known[i] & RESOLVE_CUT_HAVE_AAAA)) {
		*qtype = DNS_TYPE_AAAA;
		return true;
	}
	return false;
}

const uint8_t *resolve_cut_ns(const struct resolve_cut *c, unsigned i)
{
	return c->names + c->ns_off[i];
}

void resolve_cuts_learn_addr(struct resolve_cuts *cuts, const uint8_t *cut_name, unsigned i,
			     uint16_t qtype, int rcode, const uint8_t *msg, size_t len,
			     uint64_t now)
{
	struct resolve_cut *c = lookup(cuts, cut_name, now);
	struct dns_iter it;
	struct dns_rr rr;
	if (c == NULL || i >= c->ns_count)
		return;
	uint8_t bit = qtype == DNS_TYPE_A ? RESOLVE_CUT_HAVE_A : RESOLVE_CUT_HAVE_AAAA;
	c->ns_known[i] |= bit;
	if (rcode == DNS_RCODE_NXDOMAIN)
		return;
	if (rcode != DNS_RCODE_NOERROR || msg == NULL || dns_iter_init(&it, msg, len) != C2W_OK) {
		c->ns_failed[i] |= bit;
		shorten(c, RESOLVE_CUT_TTL_FAIL, now); /* try again soon */
		return;
	}
	const uint8_t *ns = resolve_cut_ns(c, i);
	while (dns_iter_next(&it, &rr) == C2W_OK && rr.section == DNS_SECTION_ANSWER) {
		if (rr.type != qtype || !is_addr(&rr) || !dns_name_equal(rr.owner, ns))
			continue;
		add_addr(c, i, &rr, msg);
		shorten(c, rr.ttl, now);
	}
}
