/* SPDX-License-Identifier: MIT */
/*
 * The per-worker answer cache: an 8-way set-associative index over a ring of variable-size
 * entries, both carved from one budget at creation. Each index bucket (a 32-bit hash tag and
 * the ring offset of each of its 8 ways) fills one cache line; a lookup touches that line and
 * the entry whose tag matches, where the question and the expiry are checked. Nothing here
 * allocates or locks after dns_pcache_new().
 * Rendering is render.c's job.
 *
 * Entries are written at the ring's head. When a store needs room, the entry at the tail is
 * looked at (a CLOCK hand that never skips):
 *  - dead (replaced, or evicted from its index bucket): its bytes are reclaimed;
 *  - never asked for since stored (a one-off): it goes;
 *  - asked for (expired or not: dns_pcache_seen() must still know a popular name that the
 *    water-torture defence lets through): it gets a second chance, moved to the head.
 * A store moves at most MAX_MOVES entries; past that it gives up (the answer is not cached),
 * so a flood of one-off names never evicts a name that was asked for again. After
 * AGING_AFTER stores in a row gave up, the cache is all popular names: it ages, halving the
 * hit count of each entry the hand passes and dropping those at 0 (entries asked for once go
 * first), until the hand finds a one-off again.
 * A full index bucket evicts, in this order, an empty way, an expired one-off, a live
 * one-off, then the way with fewest hits (oldest first), and halves the others' hits when it
 * had to take one with hits.
 *
 * DO is not part of the hash: the two DO variants of a key share a bucket. A DO-neutral body
 * (dns_answer.do_neutral: no DNSSEC record in the upstream reply, not validated) is the same
 * for either DO and is kept once; a lookup takes the entry stored for its own DO first, else
 * a DO-neutral one. On the Zipf stream (30 % DO) that sharing alone added about 5 points of
 * hit ratio at 48 MiB (docs/BENCHMARKS.md).
 */
#include "dns/pcache.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <xxhash.h>

#include "dns/name.h"
#include "dns/wire.h"

#define WAYS        8
#define MAX_MOVES   16
#define AGING_AFTER 64
#define MIN_BYTES   (64u * 1024)
/*
 * The index may take up to 1/INDEX_DIV of the budget, rounded down to a power of two of
 * buckets (so between 1/12 and 1/6): 8 bytes per way. Entries take about 90-110 bytes for
 * typical answers (32-byte header, TTL offsets, the body with its question), so a full index
 * has about twice as many ways as the ring has entries: 8-way buckets then rarely overflow.
 * bench/pcache_replay.sh on the Zipf stream at 16, 48 and 96 MiB: index shares of 1/8, 1/6
 * and 1/4 within 0.1 point of hit ratio of each other (docs/BENCHMARKS.md).
 *
 * The index grows with the entries (linear hashing): it starts at INDEX_START_BUCKETS and
 * splits one bucket each time a store finds more than an eighth of the ways in use (64 bytes
 * of index per entry), so a cache that holds ten thousand answers keeps under 1 MiB of index
 * resident, not the whole mapping. A bucket is chosen by the low bits of the hash, which the
 * way keeps as its tag; a split moves the ways whose next bit is set to the new bucket (at
 * most 8 moves, each entry told its new way).
 */
#define INDEX_DIV           6
#define INDEX_START_BUCKETS 64u
#define MAX_BUCKETS         (1u << 28)
#define DEAD        UINT32_MAX /* rec.way of an entry no index way points to (or ring filler) */
#define ALIGN8(x)   (((size_t)(x) + 7) & ~(size_t)7)

/* One index way: 8 bytes, so a 64-byte bucket holds 8. Expiry lives in the entry (stored +
 * TTL), which a lookup reads anyway to compare the question. */
struct meta {
	uint32_t tag;  /* low 32 bits of the key's hash (its low bits chose the bucket) */
	uint32_t off1; /* ring offset of the entry in 8-byte units, plus 1; 0: way unused */
};

struct bucket {
	struct meta m[WAYS];
} __attribute__((aligned(64)));

/*
 * Entry header in the ring; then ttl_off[ttl_count], ede_text, body, padding to 8. The key's
 * name, type and class are not stored apart: the body's question is the canonical qname, type
 * and class (checked at store), and lookups compare against it.
 */
struct rec {
	uint32_t size; /* whole entry, multiple of 8 */
	uint32_t way;  /* bucket * WAYS + way, or DEAD */
	uint32_t stored;
	uint32_t min_ttl;
	uint32_t tag;
	uint16_t len, ttl_count;
	int16_t ede_code;
	uint8_t key_flags, rcode;
	uint8_t flags; /* 1 secure, 2 dnssec_records */
	uint8_t hits;  /* lookups served, saturating; halved on each second chance */
	uint8_t ede_len;
};
_Static_assert(sizeof(struct rec) == 32, "answer-cache entry header grew");

struct dns_pcache {
	struct bucket *buckets;
	uint8_t *ring;
	size_t buckets_len; /* bytes mapped for @buckets */
	size_t ring_size;   /* multiple of 8; the bytes mapped for @ring */
	size_t head, tail, used;
	size_t max_rec;
	unsigned giveups; /* stores in a row that found no room within MAX_MOVES */
	bool aging;
	/* Linear hashing: buckets in use are 2^level + split (at most max_buckets, a power of
	 * two); a hash whose low @level bits are below @split uses level + 1 bits. */
	uint32_t max_buckets;
	uint32_t level_mask; /* 2^level - 1 */
	uint32_t split;
	size_t ways_used; /* index ways pointing at an entry */
	uint16_t max_body;
};

#define KEY_DO 1
#define KEY_CD 2

#define FLAG_SECURE     1
#define FLAG_DNSSEC     2
#define FLAG_DO_NEUTRAL 4 /* serves clients with and without DO (dns_answer.do_neutral) */

static inline uint8_t key_flags(const struct dns_query *q)
{
	return (uint8_t)((q->edns_do ? KEY_DO : 0) | (q->cd ? KEY_CD : 0));
}

/* The hash leaves DO out: both DO variants of a key share a bucket, so a lookup finds a
 * DO-neutral copy stored for the other variant without a second probe. */
static inline uint64_t key_hash(const struct dns_query *q)
{
	uint64_t seed = (uint64_t)q->qtype << 32 | (uint64_t)q->qclass << 16 | (q->cd ? KEY_CD : 0);
	return XXH3_64bits_withSeed(q->qname, q->qname_len, seed);
}

static inline struct rec *rec_at(const struct dns_pcache *c, size_t off)
{
	return (struct rec *)(c->ring + off);
}

static inline struct rec *rec_of(const struct dns_pcache *c, const struct meta *m)
{
	return rec_at(c, (size_t)(m->off1 - 1) * 8);
}

/* Times are monotonic seconds truncated to 32 bits: 136 years of uptime. An entry is live
 * while its age is below its smallest TTL (capped to keep the comparison in 31 bits). */
static inline bool rec_live(const struct rec *r, uint32_t now)
{
	uint32_t ttl = r->min_ttl > INT32_MAX ? INT32_MAX : r->min_ttl;

	return now - r->stored < ttl;
}

static inline uint16_t *rec_ttl_off(struct rec *r)
{
	return (uint16_t *)(r + 1);
}

static inline char *rec_ede(struct rec *r)
{
	return (char *)(rec_ttl_off(r) + r->ttl_count);
}

static inline uint8_t *rec_body(struct rec *r)
{
	return (uint8_t *)rec_ede(r) + r->ede_len;
}

/* Does the body @b (of @len bytes) start with @q's question, in canonical form? Names are
 * uncompressed label sequences ending in the root label, so equal bytes mean equal names. */
static inline bool question_is(const uint8_t *b, size_t len, const struct dns_query *q)
{
	const uint8_t *t = b + DNS_HEADER_LEN + q->qname_len;

	return len >= DNS_HEADER_LEN + (size_t)q->qname_len + 4 &&
	       memcmp(b + DNS_HEADER_LEN, q->qname, q->qname_len) == 0 &&
	       dns_get16(t) == q->qtype && dns_get16(t + 2) == q->qclass;
}

/* Same name, type, class and CD; *exact: DO too (else the entry's body is DO-neutral). */
static inline bool key_match(struct rec *r, const struct dns_query *q, bool *exact)
{
	uint8_t f = key_flags(q);

	if (((r->key_flags ^ f) & KEY_CD) != 0 || !question_is(rec_body(r), r->len, q))
		return false;
	*exact = r->key_flags == f;
	return *exact || (r->flags & FLAG_DO_NEUTRAL) != 0;
}

/* The index bucket of hash @h: its low @level bits, or level + 1 bits once that bucket split. */
static inline uint32_t bucket_of(const struct dns_pcache *c, uint64_t h)
{
	uint32_t b = (uint32_t)h & c->level_mask;

	return b < c->split ? (uint32_t)h & (c->level_mask << 1 | 1u) : b;
}

static inline uint32_t buckets_in_use(const struct dns_pcache *c)
{
	return c->level_mask + 1 + c->split;
}

/*
 * Zeroed memory for the index or the ring, from its own mapping: pages become resident only
 * once written, and the kernel may back it with 2 MiB pages. A miss touches one random index
 * bucket and one random entry; with 4 KiB pages each is a TLB miss too (a 64 MiB cache spans
 * 16,384 of them), with 2 MiB pages the whole cache fits the TLB.
 */
static void *map_zeroed(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
#ifdef MADV_HUGEPAGE
	(void)madvise(p, len, MADV_HUGEPAGE); /* a hint: without it, 4 KiB pages */
#endif
	return p;
}

struct dns_pcache *dns_pcache_new(size_t bytes, uint16_t max_body)
{
	if (bytes < MIN_BYTES)
		bytes = MIN_BYTES;
	/* Up to an INDEX_DIV-th of the budget for the index, the rest for entries. */
	size_t nb = 1;
	while (nb * 2 <= bytes / INDEX_DIV / sizeof(struct bucket) && nb * 2 <= MAX_BUCKETS)
		nb *= 2;
	struct dns_pcache *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->max_buckets = (uint32_t)nb;
	c->level_mask = (nb < INDEX_START_BUCKETS ? (uint32_t)nb : INDEX_START_BUCKETS) - 1;
	c->max_body = max_body;
	c->ring_size = (bytes - nb * sizeof(struct bucket)) & ~(size_t)7;
	if (c->ring_size > (size_t)(UINT32_MAX - 1) * 8)
		c->ring_size = (size_t)(UINT32_MAX - 1) * 8; /* off1 fits 32 bits */
	c->max_rec = c->ring_size / 8;
	c->buckets_len = nb * sizeof(struct bucket);
	c->buckets = map_zeroed(c->buckets_len); /* page-aligned, so bucket-aligned */
	c->ring = map_zeroed(c->ring_size);
	if (c->buckets == NULL || c->ring == NULL) {
		dns_pcache_free(c);
		return NULL;
	}
	/* Fresh mappings are zero, as dns_pcache_clear() would leave them; not writing them
	 * keeps the index resident only where buckets are in use. */
	return c;
}

void dns_pcache_free(struct dns_pcache *c)
{
	if (c == NULL)
		return;
	if (c->buckets != NULL)
		munmap(c->buckets, c->buckets_len);
	if (c->ring != NULL)
		munmap(c->ring, c->ring_size);
	free(c);
}

void dns_pcache_clear(struct dns_pcache *c)
{
	/* Zero, and no longer resident: the index starts small again (a bucket a split takes
	 * into use must be empty). */
	size_t in_use = (size_t)buckets_in_use(c) * sizeof(struct bucket);
	if (madvise(c->buckets, c->buckets_len, MADV_DONTNEED) != 0)
		memset(c->buckets, 0, in_use);
	c->level_mask = (c->max_buckets < INDEX_START_BUCKETS ? c->max_buckets
							       : INDEX_START_BUCKETS) -
			1;
	c->split = 0;
	c->ways_used = 0;
	c->head = c->tail = c->used = 0;
	c->giveups = 0;
	c->aging = false;
}

size_t dns_pcache_capacity(const struct dns_pcache *c)
{
	return c->buckets_len + c->ring_size;
}

size_t dns_pcache_used(const struct dns_pcache *c)
{
	return c->used;
}

/*
 * The index way that answers @q, or NULL: the entry stored for @q's DO, else a DO-neutral one
 * stored for the other DO. Expired ways count (the caller checks). With @other, the way of a
 * DO-neutral entry of the other DO is also returned there (NULL when none).
 */
static struct meta *find2(const struct dns_pcache *c, const struct dns_query *q, uint64_t h,
			  struct meta **other)
{
	struct bucket *bk = &c->buckets[bucket_of(c, h)];
	struct meta *exact = NULL, *neutral = NULL;

	for (unsigned w = 0; w < WAYS; w++) {
		struct meta *m = &bk->m[w];
		bool ex;
		if (m->tag == (uint32_t)h && m->off1 != 0 && key_match(rec_of(c, m), q, &ex)) {
			if (ex && other == NULL)
				return m; /* a lookup: the other DO's entry is not wanted */
			if (ex)
				exact = m;
			else
				neutral = m;
		}
	}
	if (other != NULL)
		*other = neutral;
	return exact != NULL ? exact : neutral;
}

static inline struct meta *find(const struct dns_pcache *c, const struct dns_query *q, uint64_t h)
{
	return find2(c, q, h, NULL);
}

bool dns_pcache_lookup(struct dns_pcache *c, const struct dns_query *q, uint64_t now_s,
		       struct dns_answer *ans, uint32_t *age_s)
{
	uint64_t h = key_hash(q);
	uint32_t now = (uint32_t)now_s;
	struct meta *m = find(c, q, h);

	if (m == NULL)
		return false;
	struct rec *r = rec_of(c, m);
	if (!rec_live(r, now))
		return false;
	if (r->hits < UINT8_MAX)
		r->hits++;
	ans->wire = rec_body(r);
	ans->cap = r->len;
	ans->len = r->len;
	ans->rcode = r->rcode;
	ans->secure = r->flags & FLAG_SECURE;
	ans->dnssec_records = r->flags & FLAG_DNSSEC;
	ans->do_neutral = r->flags & FLAG_DO_NEUTRAL;
	ans->ttl_count = r->ttl_count;
	memcpy(ans->ttl_off, rec_ttl_off(r), r->ttl_count * sizeof(uint16_t));
	ans->min_ttl = r->min_ttl;
	ans->tag = r->tag;
	ans->ede_code = r->ede_code;
	ans->ede_text[0] = 0;
	if (r->ede_code >= 0 && r->ede_len > 0)
		memcpy(ans->ede_text, rec_ede(r), r->ede_len);
	*age_s = now - r->stored;
	return true;
}

bool dns_pcache_seen(const struct dns_pcache *c, const struct dns_query *q)
{
	const struct meta *m = find(c, q, key_hash(q));

	return m != NULL && rec_of(c, m)->hits > 0;
}

static struct meta *meta_of(const struct dns_pcache *c, uint32_t way)
{
	return &c->buckets[way / WAYS].m[way % WAYS];
}

/* Contiguous free bytes at the head. */
static size_t head_room(const struct dns_pcache *c)
{
	if (c->used == 0)
		return c->ring_size;
	if (c->head > c->tail || (c->head == c->tail && c->used == 0))
		return c->ring_size - c->head;
	return c->head < c->tail ? c->tail - c->head : 0;
}

/* Mark the ring's end after the head as filler, so the next entry starts at offset 0. */
static void wrap_head(struct dns_pcache *c)
{
	size_t rest = c->ring_size - c->head;

	if (rest > 0) {
		struct rec *f = rec_at(c, c->head);
		f->size = (uint32_t)rest;
		f->way = DEAD;
		c->used += rest;
	}
	c->head = 0;
}

static void advance_tail(struct dns_pcache *c, size_t size)
{
	c->used -= size;
	c->tail += size;
	if (c->tail == c->ring_size)
		c->tail = 0;
	if (c->used == 0)
		c->head = c->tail = 0;
}

/* Deal with the entry at the tail: reclaim it, or give it a second chance at the head. */
static void evict_tail(struct dns_pcache *c, unsigned *moves)
{
	struct rec *r = rec_at(c, c->tail);
	size_t size = r->size;

	if (r->way == DEAD) {
		advance_tail(c, size);
		return;
	}
	struct meta *m = meta_of(c, r->way);
	if (r->hits == 0)
		c->aging = false; /* a one-off again: popular names are safe */
	else if (c->aging)
		r->hits /= 2;
	if (r->hits == 0) {
		m->off1 = 0;
		m->tag = 0;
		c->ways_used--;
		advance_tail(c, size);
		return;
	}
	(*moves)++;
	if (c->head > c->tail && c->ring_size - c->head < size)
		wrap_head(c);
	if (c->head > c->tail) {
		/* Free space after the head, before the ring's end: a plain copy. */
		memcpy(rec_at(c, c->head), r, size);
	} else {
		/* Free space is [head, tail), right before the entry: slide it down. */
		memmove(rec_at(c, c->head), r, size);
	}
	m->off1 = (uint32_t)(c->head / 8) + 1;
	c->head += size;
	c->used += size;
	advance_tail(c, size);
	if (c->head == c->ring_size)
		c->head = 0;
}

/* Room for @size contiguous bytes at the head: true with their offset in *off, false when
 * MAX_MOVES second chances did not free enough. */
static bool reserve(struct dns_pcache *c, size_t size, size_t *off_out)
{
	unsigned moves = 0;

	for (;;) {
		if (c->used == 0)
			c->head = c->tail = 0;
		if (head_room(c) >= size)
			break;
		if (c->head > c->tail && c->ring_size - c->head < size && c->tail >= size) {
			wrap_head(c);
			continue;
		}
		if (moves >= MAX_MOVES) {
			if (++c->giveups >= AGING_AFTER)
				c->aging = true;
			return false;
		}
		evict_tail(c, &moves);
	}
	c->giveups = 0;
	size_t off = c->head;
	c->head += size;
	c->used += size;
	if (c->head == c->ring_size)
		c->head = 0;
	*off_out = off;
	return true;
}

/*
 * Eviction rank of way @w in @bk (lower goes first): empty 0; expired: its hit count; live:
 * 1 + 2 * hits (a live one-off is 1, any live entry with a hit is 3 or more).
 */
static unsigned way_rank(const struct dns_pcache *c, const struct meta *m, uint32_t now)
{
	if (m->off1 == 0)
		return 0;
	const struct rec *r = rec_of(c, m);
	unsigned hits = r->hits;
	if (!rec_live(r, now))
		return hits;
	return 1 + 2 * hits;
}

static void kill_way(struct dns_pcache *c, struct meta *m)
{
	rec_of(c, m)->way = DEAD;
	m->off1 = 0;
	m->tag = 0;
	c->ways_used--;
}

static unsigned pick_way(struct dns_pcache *c, struct bucket *bk, uint32_t now)
{
	unsigned victim = 0, best = UINT32_MAX;

	for (unsigned w = 0; w < WAYS; w++)
		if (bk->m[w].off1 == 0)
			return w; /* an empty way: no entry to read */
	for (unsigned w = 0; w < WAYS; w++) {
		const struct meta *m = &bk->m[w];
		unsigned r = way_rank(c, m, now);
		if (r < best ||
		    (r == best && m->off1 != 0 && bk->m[victim].off1 != 0 &&
		     (int32_t)(rec_of(c, m)->stored - rec_of(c, &bk->m[victim])->stored) < 0)) {
			best = r;
			victim = w;
		}
	}
	struct meta *v = &bk->m[victim];
	if (v->off1 != 0) {
		rec_of(c, v)->way = DEAD;
		if (best > 1) /* a popular entry had to go: age the others */
			for (unsigned w = 0; w < WAYS; w++)
				if (w != victim && bk->m[w].off1 != 0)
					rec_of(c, &bk->m[w])->hits /= 2;
		v->off1 = 0;
		c->ways_used--;
	}
	return victim;
}

/* Split the next bucket (linear hashing): its ways whose hash has the next bit set go to the
 * new bucket at the end, each entry told its new way. */
static void split_one(struct dns_pcache *c)
{
	uint32_t from = c->split, to = from + c->level_mask + 1, bit = c->level_mask + 1;
	struct bucket *a = &c->buckets[from], *b = &c->buckets[to];
	unsigned n = 0;

	for (unsigned w = 0; w < WAYS; w++) {
		struct meta *m = &a->m[w];
		if (m->off1 == 0 || (m->tag & bit) == 0)
			continue;
		b->m[n] = *m;
		rec_of(c, m)->way = to * WAYS + n;
		n++;
		m->off1 = 0;
		m->tag = 0;
	}
	if (++c->split == bit) {
		c->level_mask = c->level_mask << 1 | 1u;
		c->split = 0;
	}
}

void dns_pcache_store(struct dns_pcache *c, const struct dns_query *q, const struct dns_answer *ans,
		      uint64_t now_s)
{
	if (ans->min_ttl == 0 || ans->len > c->max_body || ans->ttl_count > DNS_ANSWER_TTLS ||
	    !q->has_question)
		return;
	size_t ede_len =
	    ans->ede_code >= 0 ? strnlen(ans->ede_text, sizeof(ans->ede_text) - 1) + 1 : 0;
	if (ans->ede_code > INT16_MAX || !question_is(ans->wire, ans->len, q))
		return;
	size_t size =
	    ALIGN8(sizeof(struct rec) + ans->ttl_count * sizeof(uint16_t) + ede_len + ans->len);
	if (size > c->max_rec)
		return;
	uint64_t h = key_hash(q);
	uint32_t now = (uint32_t)now_s;
	struct meta *m = find(c, q, h);
	/* A refresh of the same name keeps its popularity; the old copy is dead. */
	uint8_t hits = m != NULL ? rec_of(c, m)->hits : 0;
	size_t off;

	if (!reserve(c, size, &off))
		return;
	/* Making room may have moved or dropped entries: look again. The old copy for this DO
	 * goes; a DO-neutral answer also replaces the other DO's copy. */
	struct meta *other = NULL;
	m = find2(c, q, h, &other);
	if (m != NULL && (m != other || ans->do_neutral))
		kill_way(c, m);
	if (other != NULL && other != m && ans->do_neutral)
		kill_way(c, other);
	uint32_t b = bucket_of(c, h);
	struct bucket *bk = &c->buckets[b];
	unsigned w = pick_way(c, bk, now);
	struct rec *r = rec_at(c, off);

	r->size = (uint32_t)size;
	r->way = b * WAYS + w;
	r->stored = now;
	r->min_ttl = ans->min_ttl;
	r->tag = ans->tag;
	r->ede_code = (int16_t)ans->ede_code;
	r->len = ans->len;
	r->ttl_count = ans->ttl_count;
	r->key_flags = key_flags(q);
	r->rcode = ans->rcode;
	r->flags =
	    (uint8_t)((ans->secure ? FLAG_SECURE : 0) | (ans->dnssec_records ? FLAG_DNSSEC : 0) |
		      (ans->do_neutral ? FLAG_DO_NEUTRAL : 0));
	r->hits = hits;
	r->ede_len = (uint8_t)ede_len;
	memcpy(rec_ttl_off(r), ans->ttl_off, ans->ttl_count * sizeof(uint16_t));
	if (ede_len > 0) {
		memcpy(rec_ede(r), ans->ede_text, ede_len - 1);
		rec_ede(r)[ede_len - 1] = 0;
	}
	memcpy(rec_body(r), ans->wire, ans->len);
	struct meta *nm = &bk->m[w];
	nm->tag = (uint32_t)h;
	nm->off1 = (uint32_t)(off / 8) + 1;
	c->ways_used++;
	/* While it may grow, the index keeps at most an eighth of its ways in use: one entry per
	 * bucket on average, under 1.4 in the buckets not yet split, so an 8-way bucket all but
	 * never overflows (which would drop an entry; at a quarter, 1 in 1,000 entries was lost
	 * by the time 1,000 were stored). One split adds 8 ways, a store one. */
	if (c->ways_used * 8 > (size_t)buckets_in_use(c) * WAYS && buckets_in_use(c) < c->max_buckets)
		split_one(c);
}

size_t dns_pcache_index_bytes(const struct dns_pcache *c)
{
	return (size_t)buckets_in_use(c) * sizeof(struct bucket);
}
