/* SPDX-License-Identifier: MIT */
/*
 * The per-worker answer cache: a 4-way set-associative table. Each bucket's metadata (hash,
 * expiry, store time of its 4 slots) fills one cache line, so a lookup touches that line and
 * the one slot whose 64-bit hash matches. Slots are preallocated; nothing here allocates or
 * locks after dns_pcache_new(). Rendering is render.c's job.
 *
 * Eviction is frequency-aware (a small segmented scheme inside each bucket): an entry stored
 * and never read again is "probationary" and goes first, oldest first; an entry that has
 * served hits is "protected" and goes only when the bucket holds nothing else, and then the
 * survivors' hit counts are halved so yesterday's hot names age out. A flood of one-off names
 * (random-subdomain NXDOMAINs) thus recycles the probationary ways and never evicts a hot
 * name that clients keep asking for.
 */
#include "dns/pcache.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "dns/name.h"

#define WAYS 4

/* Times are monotonic seconds truncated to 32 bits: 136 years of uptime. */
struct meta {
	uint64_t hash;
	uint32_t expire; /* slot is live while now < expire; 0 = empty */
	uint32_t stored;
};

struct bucket {
	struct meta m[WAYS];
} __attribute__((aligned(64)));

/* Slot header; the answer body (slot_size bytes) follows it. */
struct entry {
	uint16_t qtype, qclass;
	uint8_t key_flags;
	uint8_t qname_len;
	uint8_t rcode;
	bool secure;
	bool dnssec_records;
	uint8_t hits; /* lookups served since stored, saturating; halved on protected evictions */
	uint16_t len;
	uint16_t ttl_count;
	uint32_t min_ttl;
	uint32_t tag;
	int ede_code;
	char ede_text[64];
	uint8_t qname[DNS_NAME_WIRE_MAX];
	uint16_t ttl_off[DNS_ANSWER_TTLS];
};

struct dns_pcache {
	struct bucket *buckets;
	uint8_t *slots;
	size_t slot_bytes; /* sizeof(struct entry) + body, rounded to 64 */
	uint32_t mask;     /* bucket count - 1 */
	uint16_t slot_size;
};

static inline uint8_t key_flags(const struct dns_query *q)
{
	return (uint8_t)((q->edns_do ? 1 : 0) | (q->cd ? 2 : 0));
}

static inline uint64_t key_hash(const struct dns_query *q)
{
	uint64_t seed = (uint64_t)q->qtype << 32 | (uint64_t)q->qclass << 16 | key_flags(q);
	return XXH3_64bits_withSeed(q->qname, q->qname_len, seed);
}

static inline struct entry *slot(const struct dns_pcache *c, size_t b, unsigned w)
{
	return (struct entry *)(c->slots + (b * WAYS + w) * c->slot_bytes);
}

static inline uint8_t *slot_body(struct entry *e)
{
	return (uint8_t *)(e + 1);
}

static inline bool key_equal(const struct entry *e, const struct dns_query *q)
{
	return e->qtype == q->qtype && e->qclass == q->qclass && e->key_flags == key_flags(q) &&
	       e->qname_len == q->qname_len && memcmp(e->qname, q->qname, q->qname_len) == 0;
}

struct dns_pcache *dns_pcache_new(unsigned entries, uint16_t slot_size)
{
	size_t n = WAYS;

	while (n < entries && n < (1u << 30))
		n <<= 1;
	struct dns_pcache *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->mask = (uint32_t)(n / WAYS - 1);
	c->slot_size = slot_size;
	c->slot_bytes = (sizeof(struct entry) + slot_size + 63) & ~(size_t)63;
	c->buckets = aligned_alloc(64, n / WAYS * sizeof(struct bucket));
	/* calloc: large tables come from fresh zero pages, resident only once used. */
	c->slots = calloc(n, c->slot_bytes);
	if (c->buckets == NULL || c->slots == NULL) {
		dns_pcache_free(c);
		return NULL;
	}
	dns_pcache_clear(c);
	return c;
}

void dns_pcache_free(struct dns_pcache *c)
{
	if (c == NULL)
		return;
	free(c->buckets);
	free(c->slots);
	free(c);
}

void dns_pcache_clear(struct dns_pcache *c)
{
	memset(c->buckets, 0, ((size_t)c->mask + 1) * sizeof(struct bucket));
}

bool dns_pcache_lookup(struct dns_pcache *c, const struct dns_query *q, uint64_t now_s,
		       struct dns_answer *ans, uint32_t *age_s)
{
	uint64_t h = key_hash(q);
	size_t b = h & c->mask;
	const struct bucket *bk = &c->buckets[b];
	uint32_t now = (uint32_t)now_s;

	for (unsigned w = 0; w < WAYS; w++) {
		const struct meta *m = &bk->m[w];
		if (m->hash != h || (int32_t)(m->expire - now) <= 0)
			continue;
		struct entry *e = slot(c, b, w);
		if (!key_equal(e, q))
			continue;
		if (e->hits < UINT8_MAX)
			e->hits++;
		ans->wire = slot_body(e);
		ans->cap = c->slot_size;
		ans->len = e->len;
		ans->rcode = e->rcode;
		ans->secure = e->secure;
		ans->dnssec_records = e->dnssec_records;
		ans->ttl_count = e->ttl_count;
		memcpy(ans->ttl_off, e->ttl_off, e->ttl_count * sizeof(e->ttl_off[0]));
		ans->min_ttl = e->min_ttl;
		ans->tag = e->tag;
		ans->ede_code = e->ede_code;
		ans->ede_text[0] = 0;
		if (e->ede_code >= 0) /* the text matters only with a code: skip 64 bytes */
			memcpy(ans->ede_text, e->ede_text, sizeof(ans->ede_text));
		*age_s = now - m->stored;
		return true;
	}
	return false;
}

/*
 * Eviction rank of way @w (lower goes first): empty 0; expired: its hit count (an expired
 * entry once popular outranks a live one-off, so dns_pcache_seen() still knows it); live:
 * 1 + 2 * hits (a live one-off is 1, any live entry with a hit is 3 or more).
 */
static unsigned way_rank(const struct dns_pcache *c, size_t b, unsigned w, uint32_t now)
{
	const struct meta *m = &c->buckets[b].m[w];
	if (m->expire == 0)
		return 0;
	unsigned hits = slot(c, b, w)->hits;
	if ((int32_t)(m->expire - now) <= 0)
		return hits;
	return 1 + 2 * hits;
}

/* Same key, else the lowest rank (ties: the oldest). Sets *protected_out when the victim had
 * served hits (the bucket held no free or probationary way). */
static unsigned pick_way(const struct dns_pcache *c, size_t b, uint64_t h,
			 const struct dns_query *q, uint32_t now, bool *protected_out)
{
	const struct bucket *bk = &c->buckets[b];
	unsigned victim = 0, best = UINT32_MAX;

	*protected_out = false;
	for (unsigned w = 0; w < WAYS; w++) {
		const struct meta *m = &bk->m[w];
		if (m->hash == h && m->expire != 0 && key_equal(slot(c, b, w), q))
			return w;
		unsigned r = way_rank(c, b, w, now);
		if (r < best || (r == best && (int32_t)(m->stored - bk->m[victim].stored) < 0)) {
			best = r;
			victim = w;
		}
	}
	*protected_out = best > 1;
	return victim;
}

/* A protected entry was evicted: age the others so stale popularity does not pin them. */
static void age_bucket(struct dns_pcache *c, size_t b, unsigned except)
{
	for (unsigned w = 0; w < WAYS; w++)
		if (w != except)
			slot(c, b, w)->hits /= 2;
}

bool dns_pcache_seen(const struct dns_pcache *c, const struct dns_query *q)
{
	uint64_t h = key_hash(q);
	size_t b = h & c->mask;
	const struct bucket *bk = &c->buckets[b];

	for (unsigned w = 0; w < WAYS; w++) {
		const struct meta *m = &bk->m[w];
		if (m->hash != h || m->expire == 0)
			continue;
		const struct entry *e = slot(c, b, w);
		if (key_equal(e, q))
			return e->hits > 0;
	}
	return false;
}

void dns_pcache_store(struct dns_pcache *c, const struct dns_query *q, const struct dns_answer *ans,
		      uint64_t now_s)
{
	if (ans->min_ttl == 0 || ans->len > c->slot_size || ans->ttl_count > DNS_ANSWER_TTLS ||
	    !q->has_question)
		return;
	uint64_t h = key_hash(q);
	size_t b = h & c->mask;
	uint32_t now = (uint32_t)now_s;
	/* Keep expiry representable in the 32-bit wrap-around comparison. */
	uint32_t ttl = ans->min_ttl > INT32_MAX ? INT32_MAX : ans->min_ttl;
	bool protected_victim;
	unsigned w = pick_way(c, b, h, q, now, &protected_victim);
	struct entry *e = slot(c, b, w);
	struct meta *m = &c->buckets[b].m[w];
	bool same = m->hash == h && m->expire != 0 && key_equal(e, q);

	if (protected_victim && !same)
		age_bucket(c, b, w);
	/* A refresh of the same name keeps its popularity. */
	e->hits = same ? e->hits : 0;

	e->qtype = q->qtype;
	e->qclass = q->qclass;
	e->key_flags = key_flags(q);
	e->qname_len = q->qname_len;
	memcpy(e->qname, q->qname, q->qname_len);
	e->rcode = ans->rcode;
	e->secure = ans->secure;
	e->dnssec_records = ans->dnssec_records;
	e->len = ans->len;
	e->ttl_count = ans->ttl_count;
	memcpy(e->ttl_off, ans->ttl_off, ans->ttl_count * sizeof(e->ttl_off[0]));
	e->min_ttl = ans->min_ttl;
	e->tag = ans->tag;
	e->ede_code = ans->ede_code;
	memcpy(e->ede_text, ans->ede_text, sizeof(e->ede_text));
	e->ede_text[sizeof(e->ede_text) - 1] = 0;
	memcpy(slot_body(e), ans->wire, ans->len);
	m->hash = h;
	m->stored = now;
	m->expire = now + ttl;
	if (m->expire == 0)
		m->expire = 1; /* 0 means empty */
}
