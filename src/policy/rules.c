/* SPDX-License-Identifier: MIT */
/*
 * Rule set under construction and the compiler to a snapshot image. Build-time only. Rules are
 * kept in arrays with a dedupe index keyed by (zone, kind, key); local data records hang off
 * their rule in file order; rule data (action, TTL, records, metadata) is deduplicated in the
 * image so a million "CNAME ." rules share one 16-byte entry.
 */
#include "policy/rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "core/mem.h"
#include "dns/name.h"
#include "policy/image.h"
#include "policy/slots.h"

#define NONE32 UINT32_MAX

struct vec {
	uint8_t *p;
	size_t len, cap;
};

struct brule {
	uint32_t key_off; /* keys vec: [len][bytes] */
	uint32_t rr_first, rr_last;
	uint32_t ttl;
	uint32_t cat_off, fam_off; /* strs vec; 0 = zone default */
	uint16_t in_type;          /* rr_type as given to policy_rules_add() (merge() uses it) */
	uint32_t line;
	uint16_t first_seen;
	uint8_t zone, kind, action;
	uint8_t dropped;
};

struct brr {
	uint32_t next;
	uint16_t type, rdlen;
	uint32_t off; /* rrdata vec */
};

/* Open-addressing index of offsets+1 (0 = empty). */
struct index {
	uint32_t *slot;
	size_t cap, count;
};

/* Open-addressing index of rules: [hash bits 32..63][rule index + 1] (0 = empty). The stored
 * hash bits skip most key comparisons (each one a cache miss into rules and keys at 10M
 * rules) and let the table grow without rehashing keys; the home slot is the top bits. */
struct tindex {
	uint64_t *slot;
	size_t cap, count;
	unsigned bits;
};

struct bzone {
	struct policy_zone_spec spec;
	uint32_t name_off, origin_off, feed_off, cat_off, fam_off, cname_off;
	uint8_t origin[DNS_NAME_WIRE_MAX];
	uint8_t soa[DNS_NAME_WIRE_MAX * 2 + 20];
	uint16_t soa_len;
	uint32_t soa_ttl;
	bool have_soa;
};

struct policy_rules {
	struct policy_report *rep;
	struct bzone zones[POLICY_ZONES_MAX];
	size_t zone_count;
	struct brule *rules;
	size_t rule_count, rule_cap;
	struct brr *rrs;
	size_t rr_count, rr_cap;
	struct vec keys, rrdata, strs;
	struct tindex rule_idx; /* rule indices by (zone, kind, key) */
	size_t pend_start;      /* rules [pend_start, rule_count) are not deduplicated yet */
	char pend_file[4096];   /* their file (a copy: an $INCLUDE's name does not outlive it) */
	struct index str_idx;  /* strs offsets by content */
	struct vec protect;    /* [wild][len][key bytes]... */
	struct index protect_idx;
	size_t protect_count;
	int64_t now;         /* expires= is compared with this */
	int64_t next_expiry; /* earliest expiry after @now among added rules; 0 = none */
	uint64_t expired[POLICY_ZONES_MAX];
	uint64_t *filter; /* of the last compiled image, until policy_rules_filter() takes it */
	uint64_t filter_mask;
};

/* ---- small containers ---- */

static int vec_reserve(struct vec *v, size_t more)
{
	if (v->len + more <= v->cap)
		return C2W_OK;
	size_t cap = v->cap ? v->cap : 4096;
	while (cap < v->len + more)
		cap *= 2;
	uint8_t *p = realloc(v->p, cap);
	if (p == NULL)
		return C2W_ENOMEM;
	c2w_mem_hint_huge(p + v->len, cap - v->len); /* the part not yet touched */
	v->p = p;
	v->cap = cap;
	return C2W_OK;
}

static int vec_push(struct vec *v, const void *data, size_t len, uint32_t *off)
{
	if (v->len + len > UINT32_MAX || vec_reserve(v, len) != C2W_OK)
		return C2W_ENOMEM;
	if (off != NULL)
		*off = (uint32_t)v->len;
	if (len)
		memcpy(v->p + v->len, data, len);
	v->len += len;
	return C2W_OK;
}

static int index_grow(struct index *ix, uint64_t (*hash)(const void *, uint32_t), const void *ctx)
{
	size_t cap = ix->cap ? ix->cap * 2 : 1024;
	uint32_t *slot = calloc(cap, sizeof(*slot));

	if (slot == NULL)
		return C2W_ENOMEM;
	for (size_t i = 0; i < ix->cap; i++) {
		if (ix->slot[i] == 0)
			continue;
		size_t k = (size_t)hash(ctx, ix->slot[i] - 1) & (cap - 1);
		while (slot[k] != 0)
			k = (k + 1) & (cap - 1);
		slot[k] = ix->slot[i];
	}
	free(ix->slot);
	ix->slot = slot;
	ix->cap = cap;
	return C2W_OK;
}

/* ---- keys ---- */

static uint64_t rule_hash3(unsigned zone, unsigned kind, const uint8_t *key, size_t len)
{
	return XXH3_64bits_withSeed(key, len, (uint64_t)(zone << 8 | kind) + 17);
}

/*
 * Zeroed memory for the rule index, in 2 MiB pages where the kernel gives them: every probe
 * of the 128-256 MiB index at 10M rules lands on a random page, and with 4 KiB pages each one
 * is a TLB miss (a slow, nested page walk in a VM) besides the cache miss.
 */
static uint64_t *index_map(size_t cap)
{
	size_t len = cap * sizeof(uint64_t);
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
#ifdef MADV_HUGEPAGE
	if (len >= ((size_t)2 << 20))
		(void)madvise(p, len, MADV_HUGEPAGE); /* a hint: without it, 4 KiB pages */
#endif
	return p;
}

static void index_unmap(struct tindex *ix)
{
	if (ix->slot != NULL)
		munmap(ix->slot, ix->cap * sizeof(uint64_t));
	ix->slot = NULL;
}

static int tindex_resize(struct tindex *ix, unsigned bits)
{
	size_t cap = (size_t)1 << bits;
	uint64_t *slot = index_map(cap);

	if (slot == NULL)
		return C2W_ENOMEM;
	for (size_t i = 0; i < ix->cap; i++) {
		if (ix->slot[i] == 0)
			continue;
		size_t k = (size_t)(ix->slot[i] >> 32) >> (32 - bits);
		while (slot[k] != 0)
			k = (k + 1) & (cap - 1);
		slot[k] = ix->slot[i];
	}
	index_unmap(ix);
	ix->slot = slot;
	ix->cap = cap;
	ix->bits = bits;
	return C2W_OK;
}

/* Room for one more entry at load factor <= 3/4: the stored hash bits keep long probes cheap
 * (8 entries a cache line), and a smaller index is less memory to fault in. */
static int tindex_reserve_n(struct tindex *ix, size_t n)
{
	unsigned bits = ix->cap ? ix->bits : 10;

	while (bits < 32 && (ix->count + n) * 4 >= ((size_t)3 << bits))
		bits++;
	if ((ix->count + n) * 4 >= ((size_t)3 << bits))
		return C2W_ERANGE;
	return bits == ix->bits ? C2W_OK : tindex_resize(ix, bits);
}

static int tindex_reserve(struct tindex *ix)
{
	return tindex_reserve_n(ix, 1);
}

/*
 * The index slot of rule (@zone, @kind, @key): the matching entry, or the empty slot where it
 * goes. @tag out: the value to store with the rule index (tag | (index + 1)).
 */
static uint64_t *rule_find_h(const struct policy_rules *r, uint64_t h, unsigned zone, unsigned kind,
			     const uint8_t *key, size_t key_len, uint64_t *tag)
{
	const struct tindex *ix = &r->rule_idx;
	size_t k = (size_t)(h >> (64 - ix->bits));

	*tag = h & 0xffffffff00000000ull;
	for (;; k = (k + 1) & (ix->cap - 1)) {
		uint64_t e = ix->slot[k];
		if (e == 0)
			return &ix->slot[k];
		if ((e & 0xffffffff00000000ull) != *tag)
			continue;
		const struct brule *b = &r->rules[(uint32_t)e - 1];
		const uint8_t *bk = r->keys.p + b->key_off;
		if (b->zone == zone && b->kind == kind && bk[0] == key_len &&
		    memcmp(bk + 1, key, key_len) == 0)
			return &ix->slot[k];
	}
}

static uint64_t *rule_find(const struct policy_rules *r, unsigned zone, unsigned kind,
			   const uint8_t *key, size_t key_len, uint64_t *tag)
{
	return rule_find_h(r, rule_hash3(zone, kind, key, key_len), zone, kind, key, key_len, tag);
}

/* Start fetching the index line where a probe for hash @h begins. */
static void index_prefetch(const struct tindex *ix, uint64_t h)
{
	__builtin_prefetch(&ix->slot[h >> (64 - ix->bits)], 1);
}

static int rules_grow_to(struct policy_rules *r, size_t cap);

int policy_rules_expect(struct policy_rules *r, size_t count, size_t key_bytes)
{
	unsigned bits = 10;

	if (count > NONE32)
		count = NONE32; /* rule_append()'s bound */
	if (key_bytes > UINT32_MAX - r->keys.len)
		key_bytes = UINT32_MAX - r->keys.len; /* vec_push()'s */
	/* The rule array and the key store once, not by doubling: each doubling copies the
	 * array and touches its pages again (jemalloc cannot move pages as glibc's mremap()
	 * does); at 1M rules that was a sixth of the compile. */
	if (r->rule_count + count > r->rule_cap && rules_grow_to(r, r->rule_count + count) != C2W_OK)
		return C2W_ENOMEM;
	if (vec_reserve(&r->keys, key_bytes) != C2W_OK)
		return C2W_ENOMEM;
	while (bits < 32 && ((size_t)3 << bits) <= (r->rule_idx.count + count) * 4)
		bits++;
	if (bits <= r->rule_idx.bits)
		return C2W_OK;
	return tindex_resize(&r->rule_idx, bits);
}

static uint64_t str_hash_cb(const void *ctx, uint32_t off)
{
	const struct policy_rules *r = ctx;
	const char *s = (const char *)r->strs.p + off;
	return XXH3_64bits(s, strlen(s));
}

static uint64_t protect_hash_cb(const void *ctx, uint32_t off)
{
	const struct policy_rules *r = ctx;
	const uint8_t *p = r->protect.p + off;
	return XXH3_64bits(p, (size_t)p[1] + 2);
}

/* Intern a NUL-terminated string; @return its offset (0 for NULL or ""). */
static int str_intern(struct policy_rules *r, const char *s, size_t len, uint32_t *off)
{
	if (s == NULL || len == 0) {
		*off = 0;
		return C2W_OK;
	}
	if (r->str_idx.count * 2 >= r->str_idx.cap &&
	    index_grow(&r->str_idx, str_hash_cb, r) != C2W_OK)
		return C2W_ENOMEM;
	size_t k = (size_t)XXH3_64bits(s, len) & (r->str_idx.cap - 1);
	while (r->str_idx.slot[k] != 0) {
		const char *t = (const char *)r->strs.p + r->str_idx.slot[k] - 1;
		if (strlen(t) == len && memcmp(t, s, len) == 0) {
			*off = r->str_idx.slot[k] - 1;
			return C2W_OK;
		}
		k = (k + 1) & (r->str_idx.cap - 1);
	}
	uint32_t o;
	if (vec_push(&r->strs, s, len, &o) != C2W_OK || vec_push(&r->strs, "", 1, NULL) != C2W_OK)
		return C2W_ENOMEM;
	r->str_idx.slot[k] = o + 1;
	r->str_idx.count++;
	*off = o;
	return C2W_OK;
}

/* Intern binary data (wire names) in strs: stored as raw bytes, not deduplicated. */
static int bin_push(struct policy_rules *r, const void *p, size_t len, uint32_t *off)
{
	return vec_push(&r->strs, p, len, off);
}

/* ---- public: construction ---- */

struct policy_rules *policy_rules_new(struct policy_report *rep)
{
	struct policy_rules *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->rep = rep;
	/* Not time(NULL): glibc reads the coarse clock there, which can still show the last second
	 * for a few ms after clock_gettime() shows the next. An expiry rebuild that starts the
	 * moment its second comes (on_expiry() checks with clock_gettime()) then kept the entries
	 * it was for until a second rebuild. */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	r->now = (int64_t)ts.tv_sec;
	/* Offset 0 of keys and strs is reserved: "empty slot" and "no string". */
	if (vec_push(&r->keys, "", 1, NULL) != C2W_OK || vec_push(&r->strs, "", 1, NULL) != C2W_OK ||
	    vec_push(&r->protect, "", 1, NULL) != C2W_OK) {
		policy_rules_free(r);
		return NULL;
	}
	return r;
}

void policy_rules_free(struct policy_rules *r)
{
	if (r == NULL)
		return;
	free(r->rules);
	free(r->rrs);
	free(r->keys.p);
	free(r->rrdata.p);
	free(r->strs.p);
	index_unmap(&r->rule_idx);
	free(r->str_idx.slot);
	free(r->protect.p);
	free(r->protect_idx.slot);
	free(r->filter);
	free(r);
}

/* Copy with truncation (no format string: nothing to warn about). */
static void set_text(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = 0;
}

static struct policy_zone_report *zrep(struct policy_rules *r, unsigned zone)
{
	if (r->rep == NULL || zone >= POLICY_ZONES_MAX)
		return NULL;
	return &r->rep->zones[zone];
}

static void diag(struct policy_rules *r, const char *file, unsigned line, const char *reason)
{
	if (r->rep != NULL && r->rep->diag != NULL)
		r->rep->diag(r->rep->diag_ctx, file, line, reason);
}

int policy_rules_zone_add(struct policy_rules *r, const struct policy_zone_spec *spec)
{
	size_t olen;
	char text[DNS_NAME_TEXT_MAX];

	if (r->zone_count >= POLICY_ZONES_MAX)
		return C2W_ERANGE;
	if (spec->name == NULL || spec->file == NULL || spec->format > POLICY_FORMAT_DOMAINS ||
	    spec->override > POLICY_OVERRIDE_SINKHOLE)
		return C2W_EINVAL;
	struct bzone *z = &r->zones[r->zone_count];
	memset(z, 0, sizeof(*z));
	z->spec = *spec;
	if (dns_name_from_text(spec->name, NULL, z->origin, &olen) != C2W_OK)
		return C2W_EINVAL;
	dns_name_lower(z->origin);
	if (dns_name_to_text(z->origin, text, sizeof(text)) < 0)
		return C2W_EINVAL;
	if (str_intern(r, text, strlen(text), &z->name_off) != C2W_OK ||
	    bin_push(r, z->origin, olen, &z->origin_off) != C2W_OK)
		return C2W_ENOMEM;
	const char *feed = spec->feed ? spec->feed : text;
	const char *cat = spec->category ? spec->category : "c2";
	if (str_intern(r, feed, strlen(feed), &z->feed_off) != C2W_OK ||
	    str_intern(r, cat, strlen(cat), &z->cat_off) != C2W_OK ||
	    str_intern(r, spec->family, spec->family ? strlen(spec->family) : 0, &z->fam_off) !=
		    C2W_OK)
		return C2W_ENOMEM;
	if (spec->override == POLICY_OVERRIDE_CNAME) {
		uint8_t t[DNS_NAME_WIRE_MAX];
		size_t tl;
		if (spec->cname_target == NULL ||
		    dns_name_from_text(spec->cname_target, NULL, t, &tl) != C2W_OK)
			return C2W_EINVAL;
		dns_name_lower(t);
		if (bin_push(r, t, tl, &z->cname_off) != C2W_OK)
			return C2W_ENOMEM;
	}
	if (r->rep != NULL) {
		set_text(r->rep->zones[r->zone_count].name, POLICY_TEXT_NAME, text);
		r->rep->zone_count = r->zone_count + 1;
	}
	return (int)r->zone_count++;
}

const uint8_t *policy_rules_zone_origin(const struct policy_rules *r, unsigned zone)
{
	return r->zones[zone].origin;
}

uint32_t policy_rules_zone_ttl(const struct policy_rules *r, unsigned zone)
{
	return r->zones[zone].spec.ttl ? r->zones[zone].spec.ttl : 300;
}

int policy_rules_zone_soa(struct policy_rules *r, unsigned zone, const uint8_t *rdata,
			  uint16_t rdlen, uint32_t ttl)
{
	struct bzone *z = &r->zones[zone];

	if (z->have_soa || rdlen > sizeof(z->soa))
		return C2W_OK;
	memcpy(z->soa, rdata, rdlen);
	z->soa_len = rdlen;
	z->soa_ttl = ttl;
	z->have_soa = true;
	return C2W_OK;
}

static int dedupe_pending(struct policy_rules *r);

void policy_rules_reject(struct policy_rules *r, unsigned zone, const char *file, unsigned line,
			 const char *reason)
{
	struct policy_zone_report *zr = zrep(r, zone);

	/* Conflicts of earlier lines first. Should this fail (no memory), they are reported
	 * later, out of order, and the build fails at the next batch anyway. */
	(void)dedupe_pending(r);
	if (zr != NULL)
		zr->rejected++;
	diag(r, file, line, reason);
}

static bool is_cname_like(uint8_t action)
{
	return action != POLICY_ACTION_LOCAL_DATA;
}

static int add_rr(struct policy_rules *r, struct brule *b, uint16_t type, const uint8_t *rdata,
		  uint16_t rdlen)
{
	if (r->rr_count == r->rr_cap) {
		size_t cap = r->rr_cap ? r->rr_cap * 2 : 256;
		struct brr *n = realloc(r->rrs, cap * sizeof(*n));
		if (n == NULL)
			return C2W_ENOMEM;
		r->rrs = n;
		r->rr_cap = cap;
	}
	struct brr *rr = &r->rrs[r->rr_count];
	rr->next = NONE32;
	rr->type = type;
	rr->rdlen = rdlen;
	if (vec_push(&r->rrdata, rdata, rdlen, &rr->off) != C2W_OK)
		return C2W_ENOMEM;
	if (b->rr_first == NONE32)
		b->rr_first = (uint32_t)r->rr_count;
	else
		r->rrs[b->rr_last].next = (uint32_t)r->rr_count;
	b->rr_last = (uint32_t)r->rr_count;
	r->rr_count++;
	return C2W_OK;
}

static bool rr_exists(const struct policy_rules *r, const struct brule *b, uint16_t type,
		      const uint8_t *rdata, uint16_t rdlen)
{
	for (uint32_t i = b->rr_first; i != NONE32; i = r->rrs[i].next)
		if (r->rrs[i].type == type && r->rrs[i].rdlen == rdlen &&
		    (rdlen == 0 || memcmp(r->rrdata.p + r->rrs[i].off, rdata, rdlen) == 0))
			return true;
	return false;
}

/* Append the record of the new rule @d (at most one) to @b's records: no copy. */
static void take_rr(struct policy_rules *r, struct brule *b, const struct brule *d)
{
	uint32_t i = d->rr_first;

	if (i == NONE32)
		return;
	r->rrs[i].next = NONE32;
	if (b->rr_first == NONE32)
		b->rr_first = i;
	else
		r->rrs[b->rr_last].next = i;
	b->rr_last = i;
}

/* The new rule @d has the trigger of the earlier @b: a duplicate, a conflict (first kept), or
 * one more local-data record for @b. @file: where @d comes from. */
static void merge(struct policy_rules *r, struct brule *b, const struct brule *d, const char *file)
{
	struct policy_zone_report *zr = zrep(r, b->zone);
	const struct brr *rr = d->rr_first != NONE32 ? &r->rrs[d->rr_first] : NULL;
	const uint8_t *rdata = rr != NULL && rr->rdlen > 0 ? r->rrdata.p + rr->off : NULL;
	uint16_t rdlen = rr != NULL ? rr->rdlen : 0;
	char why[160];

	if (is_cname_like(b->action) || is_cname_like(d->action)) {
		bool same = b->action == d->action && d->action != POLICY_ACTION_CNAME &&
			    d->action != POLICY_ACTION_CNAME_WILD;
		if (same || (b->action == d->action && rr_exists(r, b, d->in_type, rdata, rdlen))) {
			if (zr != NULL)
				zr->duplicates++;
			return;
		}
		if (zr != NULL)
			zr->conflicts++;
		snprintf(why, sizeof(why),
			 "conflicting rule for the same trigger (%s vs %s at line %u): "
			 "first kept",
			 policy_action_name((enum policy_action)d->action),
			 policy_action_name((enum policy_action)b->action), b->line);
		diag(r, file, d->line, why);
		return;
	}
	if (rr_exists(r, b, d->in_type, rdata, rdlen)) {
		if (zr != NULL)
			zr->duplicates++;
		return;
	}
	if (d->ttl < b->ttl)
		b->ttl = d->ttl;
	take_rr(r, b, d);
}

void policy_rules_set_now(struct policy_rules *r, int64_t now)
{
	r->now = now;
}

int64_t policy_rules_next_expiry(const struct policy_rules *r)
{
	return r->next_expiry;
}

uint64_t policy_rules_expired(const struct policy_rules *r, unsigned zone)
{
	return zone < POLICY_ZONES_MAX ? r->expired[zone] : 0;
}

/* An entry past its "expires=" is not a rule (as if the feed no longer listed it); one still
 * ahead moves the next re-check forward. @return true when the entry must be skipped. */
static bool expired_entry(struct policy_rules *r, unsigned zone, const struct rule_meta *meta)
{
	if (meta == NULL || meta->expires == 0)
		return false;
	if (meta->expires <= r->now) {
		r->expired[zone]++;
		struct policy_zone_report *zr = zrep(r, zone);
		if (zr != NULL)
			zr->expired++;
		return true;
	}
	if (r->next_expiry == 0 || meta->expires < r->next_expiry)
		r->next_expiry = meta->expires;
	return false;
}

static int rules_grow_to(struct policy_rules *r, size_t cap)
{
	if (cap > SIZE_MAX / sizeof(struct brule))
		return C2W_ENOMEM;
	struct brule *n = realloc(r->rules, cap * sizeof(*n));

	if (n == NULL)
		return C2W_ENOMEM;
	c2w_mem_hint_huge(n + r->rule_count, (cap - r->rule_count) * sizeof(*n));
	r->rules = n;
	r->rule_cap = cap;
	return C2W_OK;
}

static int rules_grow(struct policy_rules *r)
{
	return rules_grow_to(r, r->rule_cap ? r->rule_cap * 2 : 1024);
}

/*
 * Deduplication of the rules added since the last pass, in feed order: a batch, so that the
 * index line of rule i + PREFETCH_AHEAD is being fetched while rule i is probed (at 10M rules
 * nearly every probe misses the cache, and one at a time they were a third of the compile).
 * Survivors move down over the duplicates (rules and keys), so memory stays as before.
 */
#define PEND_MAX       256
#define PREFETCH_AHEAD 16

static int dedupe_pending(struct policy_rules *r)
{
	size_t start = r->pend_start, n = r->rule_count - start;
	uint64_t hash[PEND_MAX];

	if (n == 0)
		return C2W_OK;
	int ret = tindex_reserve_n(&r->rule_idx, n);
	if (ret != C2W_OK)
		return ret;
	for (size_t i = 0; i < n; i++) {
		const struct brule *b = &r->rules[start + i];
		const uint8_t *k = r->keys.p + b->key_off;
		hash[i] = rule_hash3(b->zone, b->kind, k + 1, k[0]);
		if (i < PREFETCH_AHEAD)
			index_prefetch(&r->rule_idx, hash[i]);
	}
	size_t w = start, kw = r->rules[start].key_off;
	for (size_t i = 0; i < n; i++) {
		if (i + PREFETCH_AHEAD < n)
			index_prefetch(&r->rule_idx, hash[i + PREFETCH_AHEAD]);
		struct brule *b = &r->rules[start + i];
		const uint8_t *k = r->keys.p + b->key_off;
		size_t klen = (size_t)k[0] + 1;
		uint64_t tag, *slot = rule_find_h(r, hash[i], b->zone, b->kind, k + 1, k[0], &tag);
		if (*slot != 0) {
			merge(r, &r->rules[(uint32_t)*slot - 1], b, r->pend_file);
			continue;
		}
		/* kw <= key_off: the keys not yet visited are never overwritten. */
		memmove(r->keys.p + kw, k, klen);
		b->key_off = (uint32_t)kw;
		kw += klen;
		if (w != start + i)
			r->rules[w] = *b;
		*slot = tag | ((uint64_t)w + 1);
		r->rule_idx.count++;
		w++;
	}
	r->keys.len = kw;
	r->rule_count = w;
	r->pend_start = w;
	return C2W_OK;
}

int policy_rules_settle(struct policy_rules *r)
{
	return dedupe_pending(r);
}

/* Rules of another file than the pending ones: deduplicate those first (their diagnostics
 * name their own file). */
static int pending_file(struct policy_rules *r, const char *file)
{
	if (strcmp(file, r->pend_file) == 0)
		return C2W_OK;
	int ret = dedupe_pending(r);
	if (ret != C2W_OK)
		return ret;
	size_t n = strlen(file);
	if (n >= sizeof(r->pend_file))
		n = sizeof(r->pend_file) - 1;
	memcpy(r->pend_file, file, n);
	r->pend_file[n] = 0;
	return C2W_OK;
}

static int rule_append(struct policy_rules *r, unsigned zone, unsigned kind, const uint8_t *key,
		       size_t key_len, enum policy_action action, uint32_t ttl, uint16_t rr_type,
		       const uint8_t *rdata, uint16_t rdlen, const struct rule_meta *meta,
		       unsigned line)
{
	if (r->rule_count == r->rule_cap && rules_grow(r) != C2W_OK)
		return C2W_ENOMEM;
	if (r->rule_count >= NONE32 - 1)
		return C2W_ERANGE;
	struct brule *b = &r->rules[r->rule_count];
	memset(b, 0, sizeof(*b));
	uint8_t kl = (uint8_t)key_len;
	if (vec_push(&r->keys, &kl, 1, &b->key_off) != C2W_OK ||
	    vec_push(&r->keys, key, key_len, NULL) != C2W_OK)
		return C2W_ENOMEM;
	b->rr_first = b->rr_last = NONE32;
	b->ttl = ttl;
	b->zone = (uint8_t)zone;
	b->kind = (uint8_t)kind;
	b->action = (uint8_t)action;
	b->in_type = rr_type;
	b->line = line;
	if (meta != NULL) {
		b->first_seen = meta->first_seen;
		if (str_intern(r, meta->category, meta->category ? strlen(meta->category) : 0,
			       &b->cat_off) != C2W_OK ||
		    str_intern(r, meta->family, meta->family ? strlen(meta->family) : 0,
			       &b->fam_off) != C2W_OK)
			return C2W_ENOMEM;
	}
	if (action == POLICY_ACTION_LOCAL_DATA || action == POLICY_ACTION_CNAME ||
	    action == POLICY_ACTION_CNAME_WILD) {
		uint16_t t = action == POLICY_ACTION_LOCAL_DATA ? rr_type : DNS_TYPE_CNAME;
		if (add_rr(r, b, t, rdata, rdlen) != C2W_OK)
			return C2W_ENOMEM;
	}
	r->rule_count++;
	return C2W_OK;
}

int policy_rules_add(struct policy_rules *r, unsigned zone, enum policy_trigger trigger,
		     bool wildcard, const uint8_t *key, size_t key_len, enum policy_action action,
		     uint32_t ttl, uint16_t rr_type, const uint8_t *rdata, uint16_t rdlen,
		     const struct rule_meta *meta, const struct rule_src *src)
{
	unsigned kind = (unsigned)trigger | (wildcard ? IMG_KIND_WILD : 0);

	if (key_len > 255 || zone >= r->zone_count)
		return C2W_EINVAL;
	if (expired_entry(r, zone, meta))
		return C2W_OK;
	int ret = pending_file(r, src != NULL && src->file != NULL ? src->file : "");
	if (ret != C2W_OK)
		return ret;
	ret = rule_append(r, zone, kind, key, key_len, action, ttl, rr_type, rdata, rdlen, meta,
			  src ? src->line : 0);
	if (ret != C2W_OK)
		return ret;
	return r->rule_count - r->pend_start >= PEND_MAX ? dedupe_pending(r) : C2W_OK;
}

/* ---- never-block ---- */

static bool protect_has(const struct policy_rules *r, bool wild, const uint8_t *key, size_t len)
{
	uint8_t probe[257];

	if (r->protect_idx.cap == 0)
		return false;
	probe[0] = wild;
	probe[1] = (uint8_t)len;
	memcpy(probe + 2, key, len);
	size_t k = (size_t)XXH3_64bits(probe, len + 2) & (r->protect_idx.cap - 1);
	while (r->protect_idx.slot[k] != 0) {
		const uint8_t *p = r->protect.p + r->protect_idx.slot[k] - 1;
		if (memcmp(p, probe, len + 2) == 0)
			return true;
		k = (k + 1) & (r->protect_idx.cap - 1);
	}
	return false;
}

int policy_rules_protect(struct policy_rules *r, const uint8_t *name, bool wildcard)
{
	int wl = dns_name_wire_len(name, DNS_NAME_WIRE_MAX);

	if (wl < 1)
		return C2W_EINVAL;
	size_t len = (size_t)wl - 1; /* without the root label */
	if (protect_has(r, wildcard, name, len))
		return C2W_OK;
	if (r->protect_idx.count * 2 >= r->protect_idx.cap &&
	    index_grow(&r->protect_idx, protect_hash_cb, r) != C2W_OK)
		return C2W_ENOMEM;
	uint8_t hdr[2] = {wildcard, (uint8_t)len};
	uint32_t off;
	if (vec_push(&r->protect, hdr, 2, &off) != C2W_OK ||
	    vec_push(&r->protect, name, len, NULL) != C2W_OK)
		return C2W_ENOMEM;
	size_t k = (size_t)protect_hash_cb(r, off) & (r->protect_idx.cap - 1);
	while (r->protect_idx.slot[k] != 0)
		k = (k + 1) & (r->protect_idx.cap - 1);
	r->protect_idx.slot[k] = off + 1;
	r->protect_idx.count++;
	r->protect_count++;
	return C2W_OK;
}

static bool blocks(const struct policy_rules *r, const struct brule *b)
{
	unsigned ov = r->zones[b->zone].spec.override;
	if (ov == POLICY_OVERRIDE_LOG || ov == POLICY_OVERRIDE_PASSTHRU)
		return false;
	if (ov != POLICY_OVERRIDE_GIVEN)
		return true;
	return b->action != POLICY_ACTION_PASSTHRU;
}

static void rule_text(const struct policy_rules *r, const struct brule *b, char *out, size_t cap)
{
	const uint8_t *k = r->keys.p + b->key_off;
	uint8_t name[DNS_NAME_WIRE_MAX + 2];
	char text[DNS_NAME_TEXT_MAX];

	memcpy(name, k + 1, k[0]);
	name[k[0]] = 0;
	if (dns_name_to_text(name, text, sizeof(text)) < 0)
		snprintf(text, sizeof(text), "?");
	int n = snprintf(out, cap, "%s%s", (b->kind & IMG_KIND_WILD) ? "*." : "",
			 strcmp(text, ".") == 0 && (b->kind & IMG_KIND_WILD) ? "" : text);
	/* Report texts are bounded; a cut name keeps a visible marker. */
	if (n >= (int)cap && cap > 4)
		memcpy(out + cap - 4, "...", 4);
}

/* Is the QNAME rule @b inside protected space? (exact protected, or under a protected "*.") */
static bool rule_protected(const struct policy_rules *r, const struct brule *b)
{
	const uint8_t *k = r->keys.p + b->key_off;
	size_t len = k[0];
	bool wild = b->kind & IMG_KIND_WILD;

	if (!wild && protect_has(r, false, k + 1, len))
		return true;
	/* Wildcard rule "*.W" lies inside "*.P" when W is P or below; an exact N when strictly
	 * below P. */
	size_t p = wild ? 0 : (len ? (size_t)k[1] + 1 : len + 1);
	while (p <= len) {
		if (protect_has(r, true, k + 1 + p, len - p))
			return true;
		if (p == len)
			break;
		p += (size_t)k[1 + p] + 1;
	}
	return false;
}

/* Does zone @z hold a blocking wildcard "*.S" (S = @key) over a protected name? Reported. */
static bool covers(struct policy_rules *r, unsigned z, const uint8_t *key, size_t len,
		   bool refuse)
{
	char text[600], why[800];
	uint64_t tag;

	if (r->rule_idx.cap == 0)
		return false;
	const uint64_t *slot = rule_find(r, z, POLICY_TRIGGER_QNAME | IMG_KIND_WILD, key, len, &tag);
	if (*slot == 0)
		return false;
	const struct brule *b = &r->rules[(uint32_t)*slot - 1];
	if (b->dropped || !blocks(r, b))
		return false;
	rule_text(r, b, text, sizeof(text));
	snprintf(why, sizeof(why), "rule %s in zone %s covers a protected name: %s", text,
		 (const char *)r->strs.p + r->zones[z].name_off,
		 refuse ? "refused" : "name exempted");
	diag(r, r->zones[z].spec.file, b->line, why);
	if (refuse && r->rep != NULL && r->rep->error[0] == 0)
		set_text(r->rep->error, sizeof(r->rep->error), why);
	return refuse;
}

static int apply_protect(struct policy_rules *r, bool refuse)
{
	char text[600], why[800];
	int ret = C2W_OK;

	if (r->protect_count == 0)
		return C2W_OK;
	for (size_t i = 0; i < r->rule_count; i++) {
		struct brule *b = &r->rules[i];
		if ((b->kind & 7) != POLICY_TRIGGER_QNAME || !blocks(r, b) || !rule_protected(r, b))
			continue;
		rule_text(r, b, text, sizeof(text));
		snprintf(why, sizeof(why), "rule %s in zone %s would block a protected name: %s", text,
			 (const char *)r->strs.p + r->zones[b->zone].name_off,
			 refuse ? "refused" : "dropped");
		diag(r, r->zones[b->zone].spec.file, b->line, why);
		if (refuse) {
			ret = C2W_EPROTECTED;
			if (r->rep != NULL && r->rep->error[0] == 0)
				set_text(r->rep->error, sizeof(r->rep->error), why);
			continue;
		}
		b->dropped = 1;
		struct policy_zone_report *zr = zrep(r, b->zone);
		if (zr != NULL)
			zr->protected_dropped++;
	}
	/* Wildcards that cover a protected name stay (they block other names); the protected name
	 * is exempt at match time. A refusing build refuses them too. */
	for (size_t off = 1; off < r->protect.len; off += (size_t)r->protect.p[off + 1] + 2) {
		const uint8_t *p = r->protect.p + off;
		size_t len = p[1];
		const uint8_t *key = p + 2;
		/* Proper suffixes S of P: a wildcard "*.S" reaches P (or P's subtree). */
		for (size_t q = 0; q < len;) {
			q += (size_t)key[q] + 1;
			for (size_t z = 0; z < r->zone_count; z++) {
				if (covers(r, (unsigned)z, key + q, len - q, refuse))
					ret = C2W_EPROTECTED;
			}
		}
	}
	return ret;
}

/* ---- compile ---- */

struct img_build {
	struct vec data;
	struct index data_idx; /* data offsets+1 by content */
	struct vec *cur;       /* for the hash callback */
};

static uint64_t data_hash_cb(const void *ctx, uint32_t off)
{
	const struct img_build *ib = ctx;
	const uint8_t *p = ib->data.p + off;
	return XXH3_64bits(p, img_data_len(p));
}

/* Serialize @b's data at the end of ib->data, dedupe; @return offset via @off. */
static int emit_data(struct policy_rules *r, struct img_build *ib, const struct brule *b,
		     uint32_t *off)
{
	struct img_data d = {.action = b->action, .ttl = b->ttl, .category_off = b->cat_off,
			     .family_off = b->fam_off};
	size_t start = ib->data.len;

	for (uint32_t i = b->rr_first; i != NONE32; i = r->rrs[i].next)
		d.rr_count++;
	/* Keep entries 4-aligned so struct img_data can be read in place. */
	while (ib->data.len % 4 != 0)
		if (vec_push(&ib->data, "", 1, NULL) != C2W_OK)
			return C2W_ENOMEM;
	start = ib->data.len;
	if (vec_push(&ib->data, &d, sizeof(d), NULL) != C2W_OK)
		return C2W_ENOMEM;
	for (uint32_t i = b->rr_first; i != NONE32; i = r->rrs[i].next) {
		const struct brr *rr = &r->rrs[i];
		if (vec_push(&ib->data, &rr->type, 2, NULL) != C2W_OK ||
		    vec_push(&ib->data, &rr->rdlen, 2, NULL) != C2W_OK ||
		    (rr->rdlen > 0 && /* rrdata.p is NULL while every rdata seen so far is empty */
		     vec_push(&ib->data, r->rrdata.p + rr->off, rr->rdlen, NULL) != C2W_OK))
			return C2W_ENOMEM;
	}
	size_t len = ib->data.len - start;
	if (ib->data_idx.count * 2 >= ib->data_idx.cap &&
	    index_grow(&ib->data_idx, data_hash_cb, ib) != C2W_OK)
		return C2W_ENOMEM;
	size_t k = (size_t)XXH3_64bits(ib->data.p + start, len) & (ib->data_idx.cap - 1);
	while (ib->data_idx.slot[k] != 0) {
		uint32_t o = ib->data_idx.slot[k] - 1;
		if (img_data_len(ib->data.p + o) == len && memcmp(ib->data.p + o, ib->data.p + start, len) == 0) {
			ib->data.len = start; /* drop the copy */
			*off = o;
			return C2W_OK;
		}
		k = (k + 1) & (ib->data_idx.cap - 1);
	}
	ib->data_idx.slot[k] = (uint32_t)start + 1;
	ib->data_idx.count++;
	*off = (uint32_t)start;
	return C2W_OK;
}

uint64_t policy_img_name_hash(const uint8_t *key, size_t len)
{
	const uint8_t *lab[128];
	size_t n = 0;
	uint64_t h = IMG_SEED;

	for (size_t p = 0; p < len && n < 128; p += (size_t)key[p] + 1)
		lab[n++] = key + p;
	while (n > 0)
		h = img_label_hash(lab[--n], h);
	return h;
}

uint64_t policy_img_key_hash(const uint8_t *k, unsigned kind)
{
	unsigned t = kind & 7;
	if (t == POLICY_TRIGGER_QNAME || t == POLICY_TRIGGER_NSDNAME || (kind & IMG_KIND_PROTECT))
		return policy_img_name_hash(k + 1, k[0]);
	return img_ip_hash(k + 1, k[0]);
}

static void zone_stats(struct policy_rules *r, struct img_zone *zones, const struct brule *b)
{
	struct img_zone *z = &zones[b->zone];
	unsigned t = b->kind & 7;
	const uint8_t *k = r->keys.p + b->key_off;
	struct policy_zone_report *zr = zrep(r, b->zone);

	z->rule_count++;
	z->by_trigger[t]++;
	z->by_action[b->action]++;
	if (b->kind & IMG_KIND_WILD)
		z->has_wild[t] = 1;
	else
		z->has_exact[t] = 1;
	img_zone_note_ip(z, t, k);
	if (zr != NULL) {
		zr->rules++;
		zr->by_trigger[t]++;
		zr->by_action[b->action]++;
		if (b->kind & IMG_KIND_WILD)
			zr->wildcards++;
	}
}

static int fill_zones(struct policy_rules *r, struct img_zone *zones)
{
	for (size_t i = 0; i < r->zone_count; i++) {
		struct bzone *bz = &r->zones[i];
		struct img_zone *z = &zones[i];
		z->name_off = bz->name_off;
		z->origin_off = bz->origin_off;
		z->feed_off = bz->feed_off;
		z->category_off = bz->cat_off;
		z->family_off = bz->fam_off;
		z->cname_off = bz->cname_off;
		z->override = (uint8_t)bz->spec.override;
		z->ede_filtered = bz->spec.ede_filtered;
		z->has4 = bz->spec.has_sinkhole4;
		z->has6 = bz->spec.has_sinkhole6;
		memcpy(z->s4, bz->spec.sinkhole4, 4);
		memcpy(z->s6, bz->spec.sinkhole6, 16);
		z->format = (uint8_t)bz->spec.format;
		if (!bz->have_soa) {
			/* Hosts and domain lists have no SOA: synthesize BIND's default for a
			 * response-policy zone ("localhost. root.localhost." style). */
			static const uint8_t lh[] = "\011localhost";
			static const uint8_t rt[] = "\004root\011localhost";
			uint32_t ttl = bz->spec.ttl ? bz->spec.ttl : 300;
			uint8_t *p = bz->soa;
			memcpy(p, lh, sizeof(lh));
			p += sizeof(lh);
			memcpy(p, rt, sizeof(rt));
			p += sizeof(rt);
			const uint32_t v[5] = {1, 3600, 600, 86400, ttl};
			for (int k = 0; k < 5; k++, p += 4) {
				p[0] = (uint8_t)(v[k] >> 24);
				p[1] = (uint8_t)(v[k] >> 16);
				p[2] = (uint8_t)(v[k] >> 8);
				p[3] = (uint8_t)v[k];
			}
			bz->soa_len = (uint16_t)(p - bz->soa);
			bz->soa_ttl = ttl;
		}
		if (bin_push(r, bz->soa, bz->soa_len, &z->soa_off) != C2W_OK)
			return C2W_ENOMEM;
		z->soa_len = bz->soa_len;
		z->soa_ttl = bz->soa_ttl;
	}
	return C2W_OK;
}

static size_t align8(size_t x)
{
	return (x + 7) & ~(size_t)7;
}

/* Record @key (a name, index hash @h) as an existing node of @zone's QNAME tree, once.
 * @return C2W_OK (added), C2W_EEXIST (it was there), C2W_ENOMEM, C2W_ERANGE */
static int node_add(struct policy_rules *r, uint64_t h, unsigned zone, const uint8_t *key,
		    size_t key_len)
{
	unsigned kind = POLICY_TRIGGER_QNAME | IMG_KIND_NODE;
	int ret = tindex_reserve(&r->rule_idx);
	if (ret != C2W_OK)
		return ret;
	uint64_t tag, *slot = rule_find_h(r, h, zone, kind, key, key_len, &tag);
	if (*slot != 0)
		return C2W_EEXIST;
	if (r->rule_count == r->rule_cap && rules_grow(r) != C2W_OK)
		return C2W_ENOMEM;
	if (r->rule_count >= NONE32 - 1)
		return C2W_ERANGE;
	struct brule *b = &r->rules[r->rule_count];
	memset(b, 0, sizeof(*b));
	uint8_t kl = (uint8_t)key_len;
	if (vec_push(&r->keys, &kl, 1, &b->key_off) != C2W_OK ||
	    vec_push(&r->keys, key, key_len, NULL) != C2W_OK)
		return C2W_ENOMEM;
	b->rr_first = b->rr_last = NONE32;
	b->zone = (uint8_t)zone;
	b->kind = (uint8_t)kind;
	*slot = tag | ((uint64_t)r->rule_count + 1);
	r->rule_idx.count++;
	r->rule_count++;
	r->pend_start = r->rule_count; /* in the index already */
	return C2W_OK;
}

/* Where rule @b's walk over its ancestors starts (an offset in its key), or SIZE_MAX when it
 * has none to record: an exact trigger's proper ancestors; a wildcard's S and its ancestors.
 * The apex (the empty suffix) always exists. */
static size_t node_walk_start(const struct policy_rules *r, const bool *wild, const struct brule *b)
{
	if (b->dropped || !wild[b->zone] || (b->kind & ~IMG_KIND_WILD) != POLICY_TRIGGER_QNAME)
		return SIZE_MAX;
	const uint8_t *k = r->keys.p + b->key_off;
	size_t q = (b->kind & IMG_KIND_WILD) || k[0] == 0 ? 0 : (size_t)k[1] + 1;
	return q < k[0] ? q : SIZE_MAX;
}

static uint64_t node_hash(unsigned zone, const uint8_t *key, size_t len)
{
	return rule_hash3(zone, POLICY_TRIGGER_QNAME | IMG_KIND_NODE, key, len);
}

/* The ancestors of rule @i from offset @q; @h0: the index hash of the first one. */
static int node_walk(struct policy_rules *r, size_t i, size_t q, uint64_t h0)
{
	uint8_t key[256];
	unsigned zone = r->rules[i].zone;
	const uint8_t *k = r->keys.p + r->rules[i].key_off;
	size_t len = k[0];

	/* A copy: node_add() moves the keys and rules arrays as they grow. */
	memcpy(key, k + 1, len);
	for (uint64_t h = h0; q < len;
	     q += (size_t)key[q] + 1, h = node_hash(zone, key + q, len - q)) {
		int ret = node_add(r, h, zone, key + q, len - q);
		/* A node is only ever added with all its ancestors (this loop), so an existing
		 * one ends the walk: most names stop at their parent or TLD. */
		if (ret == C2W_EEXIST)
			break;
		if (ret != C2W_OK)
			return ret;
	}
	return C2W_OK;
}

/*
 * BIND looks a QNAME up in each policy zone as in a DNS database, so a wildcard "*.S" does
 * not reach a name below (or at) another existing node under S (RFC 4592 4.3.3, closest
 * encloser): with "*.example" and "a.b.example", "b.example" and "x.b.example" match
 * nothing. For zones with QNAME wildcards, every ancestor of a QNAME trigger (and S of every
 * "*.S") is recorded as a node, so matching can find the closest encloser. The first probe of
 * rule i + PREFETCH_AHEAD is fetched while rule i walks (most walks are that one probe).
 */
static int add_nodes(struct policy_rules *r)
{
	bool wild[POLICY_ZONES_MAX] = {false};
	size_t n = r->rule_count;
	uint64_t ring[PREFETCH_AHEAD];
	size_t qs[PREFETCH_AHEAD];

	for (size_t i = 0; i < n; i++)
		if (!r->rules[i].dropped &&
		    r->rules[i].kind == (POLICY_TRIGGER_QNAME | IMG_KIND_WILD))
			wild[r->rules[i].zone] = true;
	for (size_t i = 0; i < n + PREFETCH_AHEAD; i++) {
		/* Rule j's entry in the rings is where rule i's goes: walk j first. */
		size_t j = i - PREFETCH_AHEAD;
		if (i >= PREFETCH_AHEAD && qs[j % PREFETCH_AHEAD] != SIZE_MAX) {
			int ret = node_walk(r, j, qs[j % PREFETCH_AHEAD], ring[j % PREFETCH_AHEAD]);
			if (ret != C2W_OK)
				return ret;
		}
		if (i >= n)
			continue;
		const struct brule *b = &r->rules[i];
		size_t q = node_walk_start(r, wild, b);
		qs[i % PREFETCH_AHEAD] = q;
		if (q != SIZE_MAX) {
			const uint8_t *k = r->keys.p + b->key_off;
			ring[i % PREFETCH_AHEAD] = node_hash(b->zone, k + 1 + q, k[0] - q);
			index_prefetch(&r->rule_idx, ring[i % PREFETCH_AHEAD]);
		}
	}
	return C2W_OK;
}

/* The snapshot's lookup filter (snap.c builds the same from the slots), while every slot
 * hash is at hand: saves a pass over the keys in random order when the image is attached. */
static int make_filter(struct policy_rules *r, uint64_t nslots, const struct slot_ent *ents,
		       size_t n)
{
	uint64_t words = img_filter_words(nslots);
	uint64_t *f = calloc(words, sizeof(*f));

	if (f == NULL)
		return C2W_ENOMEM;
	for (size_t i = 0; i < n; i++)
		f[img_filter_word(ents[i].sh, words - 1)] |= img_filter_bits(ents[i].sh);
	free(r->filter);
	r->filter = f;
	r->filter_mask = words - 1;
	return C2W_OK;
}

uint64_t *policy_rules_filter(struct policy_rules *r, uint64_t *mask)
{
	uint64_t *f = r->filter;

	*mask = r->filter_mask;
	r->filter = NULL;
	return f;
}

int policy_rules_compile(struct policy_rules *r, bool refuse_protected, uint8_t **out,
			 size_t *out_len)
{
	return policy_rules_compile_into(r, refuse_protected, NULL, NULL, out, out_len);
}

int policy_rules_compile_into(struct policy_rules *r, bool refuse_protected,
			      policy_img_alloc_cb alloc, void *ctx, uint8_t **out, size_t *out_len)
{
	struct img_build ib = {0};
	struct img_zone zones[POLICY_ZONES_MAX];
	uint32_t *doff = NULL;
	struct slot_ent *ents = NULL;
	uint8_t *img = NULL;
	int ret = dedupe_pending(r);

	if (ret != C2W_OK)
		return ret;
	ret = apply_protect(r, refuse_protected);

	if (ret != C2W_OK)
		return ret;
	ret = add_nodes(r);
	if (ret != C2W_OK)
		return ret;
	/* The index is done with: give its memory back before the image is built. */
	index_unmap(&r->rule_idx);
	memset(&r->rule_idx, 0, sizeof(r->rule_idx));
	memset(zones, 0, sizeof(zones));
	if (vec_push(&ib.data, "\0\0\0\0", 4, NULL) != C2W_OK)
		goto out_nomem;
	size_t doff_len = (r->rule_count ? r->rule_count : 1) * sizeof(*doff);
	doff = malloc(doff_len);
	c2w_mem_hint_huge(doff, doff_len);
	if (doff == NULL)
		goto out_nomem;
	uint64_t live = 0, nodes = 0;
	for (size_t i = 0; i < r->rule_count; i++) {
		if (r->rules[i].dropped)
			continue;
		if (r->rules[i].kind & IMG_KIND_NODE) {
			doff[i] = 0;
			nodes++;
			continue;
		}
		if (emit_data(r, &ib, &r->rules[i], &doff[i]) != C2W_OK)
			goto out_nomem;
		zone_stats(r, zones, &r->rules[i]);
		live++;
	}
	if (fill_zones(r, zones) != C2W_OK || vec_push(&r->strs, "", 1, NULL) != C2W_OK)
		goto out_nomem; /* the strings blob ends with a NUL: every lookup stays inside */
	/* The local data is in the data blob now: its builders go before the image is made
	 * (the compile's peak is the image beside what is still held here). */
	free(r->rrs);
	r->rrs = NULL;
	r->rr_count = r->rr_cap = 0;
	free(r->rrdata.p);
	r->rrdata = (struct vec){0};
	free(r->str_idx.slot);
	r->str_idx = (struct index){0};
	free(ib.data_idx.slot);
	ib.data_idx = (struct index){0};
	uint64_t nslots = (live + nodes + r->protect_count) * IMG_LOAD_DEN / IMG_LOAD_NUM + 1;
	if (nslots < 8)
		nslots = 8;
	if (nslots > UINT32_MAX)
		goto out_range;
	/* Protected names go into the keys blob too. */
	size_t prot_keys_start = r->keys.len;
	for (size_t off = 1; off < r->protect.len; off += (size_t)r->protect.p[off + 1] + 2)
		if (vec_push(&r->keys, r->protect.p + off + 1, (size_t)r->protect.p[off + 1] + 1,
			     NULL) != C2W_OK)
			goto out_nomem;

	size_t hdr_len = sizeof(struct img_header);
	size_t zones_off = align8(hdr_len);
	size_t slots_off = align8(zones_off + r->zone_count * sizeof(struct img_zone));
	size_t keys_off = align8(slots_off + nslots * sizeof(struct img_slot));
	size_t data_off = align8(keys_off + r->keys.len);
	size_t str_off = align8(data_off + ib.data.len);
	size_t total = align8(str_off + r->strs.len);
	if (r->keys.len > UINT32_MAX || ib.data.len > UINT32_MAX || r->strs.len > UINT32_MAX)
		goto out_range;
	img = alloc != NULL ? alloc(ctx, total) : c2w_calloc_huge(1, total);
	if (img == NULL)
		goto out_nomem;
	struct img_header *h = (struct img_header *)(void *)img;
	memcpy(h->magic, IMG_MAGIC, 8);
	h->version = IMG_VERSION;
	h->endian = IMG_ENDIAN;
	h->file_len = total;
	h->zone_count = (uint32_t)r->zone_count;
	h->rule_count = live;
	h->protect_count = r->protect_count;
	h->slot_count = nslots;
	h->zones_off = zones_off;
	h->slots_off = slots_off;
	h->keys_off = keys_off;
	h->keys_len = r->keys.len;
	h->data_off = data_off;
	h->data_len = ib.data.len;
	h->str_off = str_off;
	h->str_len = r->strs.len;
	h->created = (uint64_t)time(NULL);
	for (size_t z = 0; z < r->zone_count; z++)
		if (zones[z].by_trigger[POLICY_TRIGGER_RESPONSE_IP] ||
		    zones[z].by_trigger[POLICY_TRIGGER_NSDNAME] ||
		    zones[z].by_trigger[POLICY_TRIGGER_NSIP])
			h->flags |= IMG_F_RESPONSE_RULES;
	memcpy(img + zones_off, zones, r->zone_count * sizeof(struct img_zone));
	memcpy(img + keys_off, r->keys.p, r->keys.len);
	memcpy(img + data_off, ib.data.p, ib.data.len);
	memcpy(img + str_off, r->strs.p, r->strs.len);
	/* Copied: the slots' keys are read from the image from here, the builders go. */
	const uint8_t *keys = img + keys_off;
	free(r->keys.p);
	r->keys = (struct vec){0};
	free(r->strs.p);
	r->strs = (struct vec){0};
	free(ib.data.p);
	ib.data = (struct vec){0};
	struct img_slot *slots = (struct img_slot *)(void *)(img + slots_off);
	size_t ents_len = (size_t)(live + nodes + r->protect_count + 1) * sizeof(*ents);
	ents = malloc(ents_len);
	c2w_mem_hint_huge(ents, ents_len);
	if (ents == NULL)
		goto out_nomem;
	size_t n = 0;
	for (size_t i = 0; i < r->rule_count; i++) {
		const struct brule *b = &r->rules[i];
		if (b->dropped)
			continue;
		uint64_t kh = policy_img_key_hash(keys + b->key_off, b->kind);
		ents[n].sh = img_slot_hash(kh, b->zone, b->kind);
		ents[n++].s = (struct img_slot){.key_off = b->key_off, .data_off = doff[i],
						.zone = b->zone, .kind = b->kind,
						.first_seen = b->first_seen};
	}
	size_t ko = prot_keys_start;
	for (size_t off = 1; off < r->protect.len; off += (size_t)r->protect.p[off + 1] + 2) {
		unsigned kind = IMG_KIND_PROTECT | (r->protect.p[off] ? IMG_KIND_WILD : 0);
		uint64_t kh = policy_img_name_hash(keys + ko + 1, keys[ko]);
		ents[n].sh = img_slot_hash(kh, 0, kind);
		ents[n++].s = (struct img_slot){.key_off = (uint32_t)ko, .kind = (uint8_t)kind};
		ko += (size_t)keys[ko] + 1;
	}
	/* The rules are done with (only ents and doff are read from here): their array, touched
	 * already, is the sort's scratch room when it is large enough (it nearly always is). */
	struct slot_ent *tmp = NULL;
	if (r->rule_cap * sizeof(*r->rules) >= n * sizeof(*ents))
		tmp = (struct slot_ent *)(void *)r->rules;
	if (make_filter(r, nslots, ents, n) != C2W_OK ||
	    policy_slots_fill(slots, nslots, ents, n, tmp, &h->flags) != C2W_OK)
		goto out_nomem;
	if (tmp != NULL) {
		free(r->rules); /* its content is gone: nothing may read it again */
		r->rules = NULL;
		r->rule_count = r->rule_cap = 0;
	}
	h->checksum = XXH3_64bits(img + IMG_SUM_FROM, total - IMG_SUM_FROM);
	if (r->rep != NULL) {
		r->rep->rules = live;
		r->rep->snapshot_bytes = total;
	}
	*out = img;
	*out_len = total;
	img = NULL;
	ret = C2W_OK;
	goto out_free;
out_range:
	ret = C2W_ERANGE;
	goto out_free;
out_nomem:
	ret = C2W_ENOMEM;
out_free:
	if (alloc == NULL)
		free(img);
	free(ents);
	free(doff);
	free(ib.data.p);
	free(ib.data_idx.slot);
	return ret;
}
