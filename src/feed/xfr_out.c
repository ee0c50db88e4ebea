/* SPDX-License-Identifier: MIT */
/*
 * Versions, journal and response streams of the zones c2wall serves (feed/xfr_out.h).
 * Messages are written here without name compression (RFC 1035 allows it; the records come
 * from the prepared version as they are); requests are parsed and TSIG is made and checked by
 * libknot. The journal file: "C2WJRNL1", serial, digest of the records, entry count, then per
 * entry from/to serials, the two SOA records, the deleted and the added records, each list as
 * count, byte length, records; numbers big-endian. Every record read back is checked.
 */
#include "feed/xfr_out.h"

#include <errno.h>
#include <fcntl.h>
#include <libknot/libknot.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#define T_SOA        6
#define C_IN         1
#define RR_FIXED     10 /* type, class, TTL, rdlength */
#define TSIG_RESERVE 400
#define JRN_MAGIC    "C2WJRNL1"
#define JRN_MAX      (1ull << 32)

struct feed_out_delta {
	atomic_uint refs;
	uint32_t from, to;
	struct feed_rrs soa; /* [0] the version deleted from, [1] the version added to */
	struct feed_rrs del, add;
	uint64_t bytes;
};

/* The record bytes of versions, shared: the version made from a change (feed_out_ver_apply())
 * appends the new records to its predecessor's store instead of copying the zone. A version
 * reads only below its own length, and only the newest version's successor appends (main
 * thread), so readers of older versions never see bytes move or change. Deleted records stay
 * until the store is full; then the live records move to a new store (compaction). */
struct rr_store {
	atomic_uint refs;
	uint8_t *data;
	size_t len, cap;
};

struct feed_out_ver {
	atomic_uint refs;
	uint32_t serial;
	uint64_t digest;
	struct feed_rrs soa; /* one record */
	struct feed_rrs rrs; /* sorted, unique; blob borrowed from @store, cap 0 */
	struct rr_store *store;
	size_t live; /* bytes of @rrs's records (the store may hold more: deleted ones) */
	struct feed_out_delta **deltas; /* oldest first; the last one ends at @serial */
	size_t delta_count;
	uint64_t journal_bytes;
	/* For the next version's SOA: the parts that are not the serial. */
	struct feed_out_soa soa_tpl;
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ---- record lists ------------------------------------------------------------------------ */

/* Length of the uncompressed wire name at @p (at most @max bytes); 0 when it is not one. */
static size_t name_len(const uint8_t *p, size_t max)
{
	size_t n = 0;
	while (n < max && n < FEED_OUT_NAME_MAX) {
		uint8_t l = p[n];
		if (l == 0)
			return n + 1;
		if (l > 63)
			return 0;
		n += (size_t)l + 1;
	}
	return 0;
}

static size_t rr_len(const struct feed_rrs *s, size_t i)
{
	const uint8_t *p = s->blob + s->off[i];
	size_t o = name_len(p, s->len - s->off[i]);
	return o + RR_FIXED + get16(p + o + 8);
}

static int rrs_append(struct feed_rrs *s, const uint8_t *rr, size_t len)
{
	if (s->len + len >= JRN_MAX)
		return C2W_ERANGE;
	if (s->len + len > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4096;
		while (cap < s->len + len)
			cap *= 2;
		uint8_t *b = realloc(s->blob, cap);
		if (b == NULL)
			return C2W_ENOMEM;
		s->blob = b;
		s->cap = cap;
	}
	if (s->count == s->off_cap) {
		size_t cap = s->off_cap ? s->off_cap * 2 : 256;
		uint32_t *o = realloc(s->off, cap * sizeof(*o));
		if (o == NULL)
			return C2W_ENOMEM;
		s->off = o;
		s->off_cap = cap;
	}
	memcpy(s->blob + s->len, rr, len);
	s->off[s->count++] = (uint32_t)s->len;
	s->len += len;
	return C2W_OK;
}

int feed_rrs_add(struct feed_rrs *s, const uint8_t *owner, size_t owner_len, uint16_t type,
		 uint32_t ttl, const uint8_t *rdata, uint16_t rdlen)
{
	uint8_t rr[FEED_OUT_NAME_MAX + RR_FIXED + 65535];
	if (owner_len > FEED_OUT_NAME_MAX || name_len(owner, owner_len) != owner_len)
		return C2W_EINVAL;
	memcpy(rr, owner, owner_len);
	uint8_t *p = rr + owner_len;
	put16(p, type);
	put16(p + 2, C_IN);
	put32(p + 4, ttl);
	put16(p + 8, rdlen);
	memcpy(p + RR_FIXED, rdata, rdlen);
	return rrs_append(s, rr, owner_len + RR_FIXED + rdlen);
}

void feed_rrs_free(struct feed_rrs *s)
{
	free(s->blob);
	free(s->off);
	memset(s, 0, sizeof(*s));
}

/* Order and identity of records: owner, type, class, rdata; the TTL is not part of it. */
static int rr_cmp(const uint8_t *a, const uint8_t *b)
{
	size_t la = name_len(a, FEED_OUT_NAME_MAX), lb = name_len(b, FEED_OUT_NAME_MAX);
	int c = memcmp(a, b, la < lb ? la : lb);
	if (c != 0 || la != lb)
		return c != 0 ? c : (la < lb ? -1 : 1);
	c = memcmp(a + la, b + lb, 4);
	if (c != 0)
		return c;
	uint16_t ra = get16(a + la + 8), rb = get16(b + lb + 8);
	c = memcmp(a + la + RR_FIXED, b + lb + RR_FIXED, ra < rb ? ra : rb);
	if (c != 0 || ra == rb)
		return c;
	return ra < rb ? -1 : 1;
}

static bool rr_same_ttl(const uint8_t *a, const uint8_t *b)
{
	size_t la = name_len(a, FEED_OUT_NAME_MAX), lb = name_len(b, FEED_OUT_NAME_MAX);
	return memcmp(a + la + 4, b + lb + 4, 4) == 0;
}

/* qsort has no context argument: the blob goes through a thread-local. */
static _Thread_local const uint8_t *sort_blob;

static int off_cmp(const void *x, const void *y)
{
	return rr_cmp(sort_blob + *(const uint32_t *)x, sort_blob + *(const uint32_t *)y);
}

/* Sort and drop repeats (the first TTL stays). Build-time, one thread at a time. */
static void rrs_sort_unique(struct feed_rrs *s)
{
	if (s->count < 2)
		return;
	sort_blob = s->blob;
	qsort(s->off, s->count, sizeof(*s->off), off_cmp);
	size_t k = 1;
	for (size_t i = 1; i < s->count; i++)
		if (rr_cmp(s->blob + s->off[i], s->blob + s->off[k - 1]) != 0)
			s->off[k++] = s->off[i];
	s->count = k;
}

/* The digest of a record set is the sum of its records' hashes (mod 2^64): independent of
 * order, so a change of k records updates it in O(k) (feed_out_ver_apply()). */
static uint64_t rr_hash(const struct feed_rrs *s, size_t i)
{
	return XXH3_64bits(s->blob + s->off[i], rr_len(s, i));
}

static uint64_t rrs_digest(const struct feed_rrs *s)
{
	uint64_t h = 0;
	for (size_t i = 0; i < s->count; i++)
		h += rr_hash(s, i);
	return h;
}

/* ---- versions ---------------------------------------------------------------------------- */

static void delta_unref(struct feed_out_delta *d)
{
	if (d == NULL || atomic_fetch_sub(&d->refs, 1) != 1)
		return;
	feed_rrs_free(&d->soa);
	feed_rrs_free(&d->del);
	feed_rrs_free(&d->add);
	free(d);
}

struct feed_out_ver *feed_out_ver_ref(struct feed_out_ver *v)
{
	atomic_fetch_add(&v->refs, 1);
	return v;
}

static void store_unref(struct rr_store *st)
{
	if (st == NULL || atomic_fetch_sub(&st->refs, 1) != 1)
		return;
	free(st->data);
	free(st);
}

void feed_out_ver_unref(struct feed_out_ver *v)
{
	if (v == NULL || atomic_fetch_sub(&v->refs, 1) != 1)
		return;
	for (size_t i = 0; i < v->delta_count; i++)
		delta_unref(v->deltas[i]);
	free(v->deltas);
	feed_rrs_free(&v->soa);
	free(v->rrs.off);
	store_unref(v->store);
	free(v);
}

uint32_t feed_out_ver_serial(const struct feed_out_ver *v)
{
	return v->serial;
}

size_t feed_out_ver_count(const struct feed_out_ver *v)
{
	return v->rrs.count;
}

size_t feed_out_ver_journal(const struct feed_out_ver *v, uint64_t *bytes)
{
	*bytes = v->journal_bytes;
	return v->delta_count;
}

const uint8_t *feed_out_ver_soa(const struct feed_out_ver *v, size_t *len)
{
	*len = v->soa.len;
	return v->soa.blob;
}

static int make_soa(struct feed_rrs *out, const struct feed_out_soa *t, uint32_t serial)
{
	uint8_t rd[2 * FEED_OUT_NAME_MAX + 20];
	memcpy(rd, t->mname, t->mname_len);
	memcpy(rd + t->mname_len, t->rname, t->rname_len);
	uint8_t *p = rd + t->mname_len + t->rname_len;
	put32(p, serial);
	put32(p + 4, t->refresh);
	put32(p + 8, t->retry);
	put32(p + 12, t->expire);
	put32(p + 16, t->minimum);
	return feed_rrs_add(out, t->origin, t->origin_len, T_SOA, t->ttl, rd,
			    (uint16_t)(p + 20 - rd));
}

/* RFC 1982 serial arithmetic: is @a after @b? */
static bool serial_gt(uint32_t a, uint32_t b)
{
	return a != b && (uint32_t)(a - b) < 0x80000000u;
}

static uint32_t next_serial(bool have_prev, uint32_t prev, uint32_t feed)
{
	if (!have_prev)
		return feed != 0 ? feed : (uint32_t)time(NULL);
	if (feed != 0 && serial_gt(feed, prev))
		return feed;
	uint32_t s = prev + 1;
	return s == 0 ? 1 : s;
}

/* Records of @a not in @b (or with another TTL) into @out. */
static int minus(const struct feed_rrs *a, const struct feed_rrs *b, struct feed_rrs *out)
{
	size_t i = 0, j = 0;
	while (i < a->count) {
		const uint8_t *ra = a->blob + a->off[i];
		int c = j < b->count ? rr_cmp(ra, b->blob + b->off[j]) : -1;
		if (c > 0) {
			j++;
			continue;
		}
		if (c < 0 || !rr_same_ttl(ra, b->blob + b->off[j])) {
			int ret = rrs_append(out, ra, rr_len(a, i));
			if (ret != C2W_OK)
				return ret;
		}
		if (c == 0)
			j++;
		i++;
	}
	return C2W_OK;
}

static int delta_new(const struct feed_out_ver *prev, const struct feed_out_ver *v,
		     struct feed_out_delta **out)
{
	struct feed_out_delta *d = calloc(1, sizeof(*d));
	if (d == NULL)
		return C2W_ENOMEM;
	atomic_init(&d->refs, 1);
	d->from = prev->serial;
	d->to = v->serial;
	int ret = rrs_append(&d->soa, prev->soa.blob, prev->soa.len);
	if (ret == C2W_OK)
		ret = rrs_append(&d->soa, v->soa.blob, v->soa.len);
	if (ret == C2W_OK)
		ret = minus(&prev->rrs, &v->rrs, &d->del);
	if (ret == C2W_OK)
		ret = minus(&v->rrs, &prev->rrs, &d->add);
	if (ret != C2W_OK) {
		delta_unref(d);
		return ret;
	}
	d->bytes = d->soa.len + d->del.len + d->add.len;
	*out = d;
	return C2W_OK;
}

/* The journal of @v: @prev's entries and @d (may be NULL), newest kept within @lim. */
static int journal_take(struct feed_out_ver *v, const struct feed_out_ver *prev,
			struct feed_out_delta *d, const struct feed_out_limits *lim)
{
	size_t n = (prev ? prev->delta_count : 0) + (d != NULL);
	struct feed_out_delta **all = calloc(n ? n : 1, sizeof(*all));
	if (all == NULL)
		return C2W_ENOMEM;
	size_t k = 0;
	for (size_t i = 0; prev != NULL && i < prev->delta_count; i++)
		all[k++] = prev->deltas[i];
	if (d != NULL)
		all[k++] = d;
	/* Keep the newest entries that fit, contiguous up to the newest. */
	size_t first = k;
	uint64_t bytes = 0;
	while (first > 0 && k - first < lim->versions &&
	       bytes + all[first - 1]->bytes <= lim->bytes) {
		bytes += all[first - 1]->bytes;
		first--;
	}
	for (size_t i = first; i < k; i++)
		if (all[i] != d)
			atomic_fetch_add(&all[i]->refs, 1);
	if (d != NULL && first == k)
		delta_unref(d); /* too big to keep: clients of older serials get the zone */
	memmove(all, all + first, (k - first) * sizeof(*all));
	v->deltas = all;
	v->delta_count = k - first;
	v->journal_bytes = bytes;
	return C2W_OK;
}

/* A version after @prev (may be NULL) with records @rrs (taken) of digest @digest; @d the
 * difference from @prev when the caller has it (taken), else it is computed (O(zone)).
 * @store: the store @rrs's blob lives in (taken), or NULL: @rrs owns its blob, which becomes
 * the new version's store. */
static int ver_make(struct feed_out_ver *prev, uint32_t prev_serial, struct feed_rrs *rrs,
		    uint64_t digest, const struct feed_out_soa *soa,
		    const struct feed_out_limits *lim, struct feed_out_delta *d,
		    struct rr_store *store, struct feed_out_ver **out)
{
	struct feed_out_ver *v = calloc(1, sizeof(*v));
	if (v != NULL && store == NULL && (store = calloc(1, sizeof(*store))) != NULL) {
		atomic_init(&store->refs, 1);
		store->data = rrs->blob;
		store->len = rrs->len;
		store->cap = rrs->cap;
	}
	if (v == NULL || store == NULL) {
		delta_unref(d);
		if (store != NULL)
			free(rrs->off);
		else
			feed_rrs_free(rrs);
		store_unref(store);
		free(v);
		return C2W_ENOMEM;
	}
	atomic_init(&v->refs, 1);
	v->rrs = *rrs;
	v->rrs.cap = 0;
	v->store = store;
	v->live = d != NULL && prev != NULL ? prev->live - d->del.len + d->add.len : rrs->len;
	memset(rrs, 0, sizeof(*rrs));
	v->digest = digest;
	v->soa_tpl = *soa;
	bool have = prev != NULL || prev_serial != 0;
	v->serial = next_serial(have, prev != NULL ? prev->serial : prev_serial, soa->feed_serial);
	int ret = make_soa(&v->soa, soa, v->serial);
	if (lim->versions == 0 || prev == NULL) {
		delta_unref(d);
		d = NULL;
	} else if (ret == C2W_OK && d != NULL) {
		d->from = prev->serial;
		d->to = v->serial;
		ret = rrs_append(&d->soa, prev->soa.blob, prev->soa.len);
		if (ret == C2W_OK)
			ret = rrs_append(&d->soa, v->soa.blob, v->soa.len);
		d->bytes = d->soa.len + d->del.len + d->add.len;
	} else if (ret == C2W_OK) {
		ret = delta_new(prev, v, &d);
	}
	if (ret == C2W_OK)
		ret = journal_take(v, lim->versions > 0 ? prev : NULL, d, lim);
	else
		delta_unref(d);
	if (ret != C2W_OK) {
		feed_out_ver_unref(v);
		return ret;
	}
	*out = v;
	return C2W_OK;
}

int feed_out_ver_next(struct feed_out_ver *prev, uint32_t prev_serial, struct feed_rrs *rrs,
		      const struct feed_out_soa *soa, const struct feed_out_limits *lim,
		      struct feed_out_ver **out, bool *changed)
{
	rrs_sort_unique(rrs);
	uint64_t digest = rrs_digest(rrs);
	bool same_soa = prev != NULL && memcmp(&prev->soa_tpl, soa, sizeof(*soa)) == 0;
	if (prev != NULL && prev->digest == digest && prev->rrs.count == rrs->count && same_soa) {
		feed_rrs_free(rrs);
		*changed = false;
		*out = feed_out_ver_ref(prev);
		return C2W_OK;
	}
	int ret = ver_make(prev, prev_serial, rrs, digest, soa, lim, NULL, NULL, out);
	*changed = ret == C2W_OK;
	return ret;
}

/* First record of sorted @s whose owner is not before @name (rr_cmp's owner order). */
static size_t lb_owner(const struct feed_rrs *s, const uint8_t *name, size_t nl)
{
	size_t lo = 0, hi = s->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const uint8_t *r = s->blob + s->off[mid];
		size_t rl = name_len(r, FEED_OUT_NAME_MAX);
		int c = memcmp(r, name, rl < nl ? rl : nl);
		if (c < 0 || (c == 0 && rl < nl))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool owner_is(const struct feed_rrs *s, size_t i, const uint8_t *name, size_t nl)
{
	const uint8_t *r = s->blob + s->off[i];
	return name_len(r, FEED_OUT_NAME_MAX) == nl && memcmp(r, name, nl) == 0;
}

/* First record of sorted @s not before @rr (rr_cmp). */
static size_t lb_rr(const struct feed_rrs *s, const uint8_t *rr)
{
	size_t lo = 0, hi = s->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (rr_cmp(s->blob + s->off[mid], rr) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Is @rr (TTL included) in sorted @s? *at: where it is or would go. */
static bool has_rr(const struct feed_rrs *s, const uint8_t *rr, size_t *at)
{
	size_t i = lb_rr(s, rr);
	*at = i;
	return i < s->count && rr_cmp(s->blob + s->off[i], rr) == 0 &&
	       rr_same_ttl(s->blob + s->off[i], rr);
}

struct positions {
	size_t *p;
	size_t count, cap;
};

static int pos_push(struct positions *ps, size_t p)
{
	if (ps->count == ps->cap) {
		size_t cap = ps->cap ? ps->cap * 2 : 64;
		size_t *n = realloc(ps->p, cap * sizeof(*n));
		if (n == NULL)
			return C2W_ENOMEM;
		ps->p = n;
		ps->cap = cap;
	}
	ps->p[ps->count++] = p;
	return C2W_OK;
}

/* Records of @prev under @owners that @add does not keep: into @del, their places @dp. */
static int collect_del(const struct feed_rrs *prev, const struct feed_rrs *owners,
		       const struct feed_rrs *add, struct feed_rrs *del, struct positions *dp)
{
	for (size_t o = 0; o < owners->count; o++) {
		const uint8_t *name = owners->blob + owners->off[o];
		size_t nl = name_len(name, FEED_OUT_NAME_MAX), at;
		for (size_t i = lb_owner(prev, name, nl);
		     i < prev->count && owner_is(prev, i, name, nl); i++) {
			if (has_rr(add, prev->blob + prev->off[i], &at))
				continue;
			int ret = rrs_append(del, prev->blob + prev->off[i], rr_len(prev, i));
			if (ret == C2W_OK)
				ret = pos_push(dp, i);
			if (ret != C2W_OK)
				return ret;
		}
	}
	return C2W_OK;
}

/* Records of @add that @prev lacks (or has with another TTL): into @ins, their places @ip. */
static int collect_ins(const struct feed_rrs *prev, const struct feed_rrs *add,
		       struct feed_rrs *ins, struct positions *ip)
{
	for (size_t i = 0; i < add->count; i++) {
		size_t at;
		if (has_rr(prev, add->blob + add->off[i], &at))
			continue;
		int ret = rrs_append(ins, add->blob + add->off[i], rr_len(add, i));
		if (ret == C2W_OK)
			ret = pos_push(ip, at);
		if (ret != C2W_OK)
			return ret;
	}
	return C2W_OK;
}

/* Bytes of the record at @rr. */
static size_t rr_bytes(const uint8_t *rr)
{
	size_t o = name_len(rr, FEED_OUT_NAME_MAX);
	return o + RR_FIXED + get16(rr + o + 8);
}

/* A new store with @p's bytes and then @ins's, with room for as much again. */
static struct rr_store *store_copy(const struct feed_rrs *p, const struct feed_rrs *ins)
{
	size_t len = p->len + ins->len, cap = len * 2 + 4096;
	if (cap >= JRN_MAX)
		cap = len + 1;
	struct rr_store *st = calloc(1, sizeof(*st));
	uint8_t *data = st != NULL ? malloc(cap) : NULL;
	if (data == NULL) {
		free(st);
		return NULL;
	}
	atomic_init(&st->refs, 1);
	if (p->len > 0)
		memcpy(data, p->blob, p->len);
	if (ins->len > 0)
		memcpy(data + p->len, ins->blob, ins->len);
	st->data = data;
	st->len = len;
	st->cap = cap;
	return st;
}

/* A new store with the records of @out, whose offsets from @p->len on are in @ins: the live
 * records only, offsets rewritten. */
static struct rr_store *store_compact(const struct feed_rrs *p, const struct feed_rrs *ins,
				      struct feed_rrs *out)
{
	size_t live = 0;
	for (size_t i = 0; i < out->count; i++) {
		uint32_t o = out->off[i];
		live += rr_bytes(o < p->len ? p->blob + o : ins->blob + (o - p->len));
	}
	size_t cap = live * 2 + 4096;
	if (cap >= JRN_MAX)
		cap = live + 1;
	struct rr_store *st = calloc(1, sizeof(*st));
	uint8_t *data = st != NULL ? malloc(cap) : NULL;
	if (data == NULL) {
		free(st);
		return NULL;
	}
	atomic_init(&st->refs, 1);
	st->data = data;
	st->cap = cap;
	for (size_t i = 0; i < out->count; i++) {
		uint32_t o = out->off[i];
		const uint8_t *rr = o < p->len ? p->blob + o : ins->blob + (o - p->len);
		size_t n = rr_bytes(rr);
		memcpy(data + st->len, rr, n);
		out->off[i] = (uint32_t)st->len;
		st->len += n;
	}
	return st;
}

/* @prev's records without those at @dp, with @ins at @ip, still sorted: runs of @prev's
 * offsets copied between the change points; the new records appended to @prev's store when
 * it has room and nothing was appended after @prev (no copy of the zone's bytes), else all
 * live records moved to a new one. *@store: the new version's store (one reference). */
static int splice_rrs(const struct feed_out_ver *prev, const struct positions *dp,
		      const struct feed_rrs *ins, const struct positions *ip, struct feed_rrs *out,
		      struct rr_store **store)
{
	const struct feed_rrs *p = &prev->rrs;
	struct rr_store *st = prev->store;
	if (p->len + ins->len >= JRN_MAX)
		return C2W_ERANGE;
	size_t count = p->count - dp->count + ins->count;
	memset(out, 0, sizeof(*out));
	out->off = malloc((count ? count : 1) * sizeof(*out->off));
	if (out->off == NULL)
		return C2W_ENOMEM;
	out->off_cap = count;
	/* Offsets of the new records as if they followed @p's bytes. */
	size_t c = 0, di = 0, ii = 0, k = 0;
	while (di < dp->count || ii < ip->count) {
		bool take_ins = ii < ip->count && (di == dp->count || ip->p[ii] <= dp->p[di]);
		size_t to = take_ins ? ip->p[ii] : dp->p[di];
		if (to > c)
			memcpy(out->off + k, p->off + c, (to - c) * sizeof(*out->off));
		k += to - c;
		if (take_ins) {
			out->off[k++] = (uint32_t)(p->len + ins->off[ii++]);
			c = to;
		} else {
			c = to + 1;
			di++;
		}
	}
	if (p->count > c)
		memcpy(out->off + k, p->off + c, (p->count - c) * sizeof(*out->off));
	out->count = k + p->count - c;
	if (st->len == p->len && st->cap - st->len >= ins->len) {
		if (ins->len > 0) /* a version whose SOA alone changed adds no record */
			memcpy(st->data + st->len, ins->blob, ins->len);
		st->len += ins->len;
		atomic_fetch_add(&st->refs, 1);
	} else if (prev->live * 2 >= p->len) {
		/* Little garbage: the bytes as they are, the new records after them (the
		 * offsets above already say so), room doubled: amortised O(change). */
		st = store_copy(p, ins);
		if (st == NULL) {
			free(out->off);
			memset(out, 0, sizeof(*out));
			return C2W_ENOMEM;
		}
	} else if ((st = store_compact(p, ins, out)) == NULL) {
		free(out->off);
		memset(out, 0, sizeof(*out));
		return C2W_ENOMEM;
	}
	out->blob = st->data;
	out->len = st->len;
	*store = st;
	return C2W_OK;
}

int feed_out_ver_apply(struct feed_out_ver *prev, struct feed_rrs *owners, struct feed_rrs *add,
		       const struct feed_out_soa *soa, const struct feed_out_limits *lim,
		       struct feed_out_ver **out, bool *changed)
{
	struct feed_out_delta *d = calloc(1, sizeof(*d));
	struct positions dp = {0}, ip = {0};
	struct feed_rrs rrs = {0};
	struct rr_store *store = NULL;
	int ret = d == NULL ? C2W_ENOMEM : C2W_OK;
	*changed = false;
	if (d != NULL)
		atomic_init(&d->refs, 1);
	rrs_sort_unique(owners);
	rrs_sort_unique(add);
	if (ret == C2W_OK)
		ret = collect_del(&prev->rrs, owners, add, &d->del, &dp);
	if (ret == C2W_OK)
		ret = collect_ins(&prev->rrs, add, &d->add, &ip);
	if (ret != C2W_OK)
		goto out_free;
	if (d->del.count == 0 && d->add.count == 0 &&
	    memcmp(&prev->soa_tpl, soa, sizeof(*soa)) == 0) {
		*out = feed_out_ver_ref(prev);
		goto out_free;
	}
	uint64_t digest = prev->digest;
	for (size_t i = 0; i < d->del.count; i++)
		digest -= rr_hash(&d->del, i);
	for (size_t i = 0; i < d->add.count; i++)
		digest += rr_hash(&d->add, i);
	ret = splice_rrs(prev, &dp, &d->add, &ip, &rrs, &store);
	if (ret == C2W_OK) {
		ret = ver_make(prev, 0, &rrs, digest, soa, lim, d, store, out);
		d = NULL; /* taken */
		*changed = ret == C2W_OK;
	}
out_free:
	delta_unref(d);
	free(dp.p);
	free(ip.p);
	feed_rrs_free(owners);
	feed_rrs_free(add);
	return ret;
}

/* ---- the journal file -------------------------------------------------------------------- */

struct wbuf {
	FILE *f;
	bool bad;
};

static void w_bytes(struct wbuf *w, const void *p, size_t n)
{
	if (!w->bad && n > 0 && fwrite(p, 1, n, w->f) != n)
		w->bad = true;
}

static void w32(struct wbuf *w, uint32_t v)
{
	uint8_t b[4];
	put32(b, v);
	w_bytes(w, b, 4);
}

static void w_rrs(struct wbuf *w, const struct feed_rrs *s)
{
	uint64_t total = 0;
	for (size_t i = 0; i < s->count; i++)
		total += rr_len(s, i);
	w32(w, (uint32_t)s->count);
	w32(w, (uint32_t)total);
	for (size_t i = 0; i < s->count; i++)
		w_bytes(w, s->blob + s->off[i], rr_len(s, i));
}

int feed_out_journal_write(const struct feed_out_ver *v, const char *path)
{
	char tmp[4200];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	struct wbuf w = {.f = fdopen(fd, "wb")};
	if (w.f == NULL) {
		int e = -errno;
		close(fd);
		unlink(tmp);
		return e;
	}
	w_bytes(&w, JRN_MAGIC, 8);
	w32(&w, v->serial);
	w32(&w, (uint32_t)(v->digest >> 32));
	w32(&w, (uint32_t)v->digest);
	w32(&w, (uint32_t)v->rrs.count);
	w32(&w, (uint32_t)v->delta_count);
	for (size_t i = 0; i < v->delta_count; i++) {
		const struct feed_out_delta *d = v->deltas[i];
		w32(&w, d->from);
		w32(&w, d->to);
		w_rrs(&w, &d->soa);
		w_rrs(&w, &d->del);
		w_rrs(&w, &d->add);
	}
	if (fflush(w.f) != 0 || fsync(fileno(w.f)) != 0)
		w.bad = true;
	int ret = w.bad ? -EIO : C2W_OK;
	if (fclose(w.f) != 0 && ret == C2W_OK)
		ret = -EIO;
	if (ret == C2W_OK && rename(tmp, path) != 0)
		ret = -errno;
	if (ret != C2W_OK)
		unlink(tmp);
	return ret;
}

struct rbuf {
	const uint8_t *p;
	size_t len, pos;
};

static bool r32(struct rbuf *r, uint32_t *v)
{
	if (r->len - r->pos < 4)
		return false;
	*v = get32(r->p + r->pos);
	r->pos += 4;
	return true;
}

/* One list: every record must be a whole IN record with a plain name. */
static int r_rrs(struct rbuf *r, struct feed_rrs *s, uint32_t max_count)
{
	uint32_t count, bytes;
	if (!r32(r, &count) || !r32(r, &bytes) || count > max_count || bytes > r->len - r->pos)
		return C2W_EMALF;
	const uint8_t *p = r->p + r->pos, *end = p + bytes;
	for (uint32_t i = 0; i < count; i++) {
		size_t nl = name_len(p, (size_t)(end - p));
		if (nl == 0 || (size_t)(end - p) < nl + RR_FIXED || get16(p + nl + 2) != C_IN)
			return C2W_EMALF;
		size_t l = nl + RR_FIXED + get16(p + nl + 8);
		if ((size_t)(end - p) < l)
			return C2W_EMALF;
		int ret = rrs_append(s, p, l);
		if (ret != C2W_OK)
			return ret;
		p += l;
	}
	if (p != end)
		return C2W_EMALF;
	r->pos += bytes;
	return C2W_OK;
}

static uint16_t rr_type(const struct feed_rrs *s, size_t i)
{
	const uint8_t *p = s->blob + s->off[i];
	return get16(p + name_len(p, s->len - s->off[i]));
}

static uint32_t soa_serial(const struct feed_rrs *s, size_t i)
{
	const uint8_t *p = s->blob + s->off[i];
	size_t nl = name_len(p, s->len - s->off[i]);
	uint16_t rdlen = get16(p + nl + 8);
	return rdlen >= 20 ? get32(p + nl + RR_FIXED + rdlen - 20) : 0;
}

int feed_out_journal_parse(struct feed_out_ver *v, const uint8_t *buf, size_t len, uint32_t *serial)
{
	struct rbuf r = {.p = buf, .len = len};
	uint32_t s, dh, dl, count, n;
	*serial = 0;
	if (len < 8 || memcmp(buf, JRN_MAGIC, 8) != 0)
		return C2W_EMALF;
	r.pos = 8;
	if (!r32(&r, &s) || !r32(&r, &dh) || !r32(&r, &dl) || !r32(&r, &count) || !r32(&r, &n) ||
	    n > 4096)
		return C2W_EMALF;
	struct feed_out_delta **ds = calloc(n ? n : 1, sizeof(*ds));
	if (ds == NULL)
		return C2W_ENOMEM;
	int ret = C2W_OK;
	uint64_t bytes = 0;
	size_t k = 0;
	for (; k < n && ret == C2W_OK; k++) {
		struct feed_out_delta *d = calloc(1, sizeof(*d));
		if (d == NULL) {
			ret = C2W_ENOMEM;
			break;
		}
		atomic_init(&d->refs, 1);
		ds[k] = d;
		if (!r32(&r, &d->from) || !r32(&r, &d->to)) {
			ret = C2W_EMALF;
			break;
		}
		ret = r_rrs(&r, &d->soa, 2);
		if (ret == C2W_OK)
			ret = r_rrs(&r, &d->del, UINT32_MAX);
		if (ret == C2W_OK)
			ret = r_rrs(&r, &d->add, UINT32_MAX);
		/* The chain must hold together: each entry's SOAs are its serials, and each
		 * entry starts where the one before ended, the last at the journal's serial. */
		if (ret == C2W_OK &&
		    (d->soa.count != 2 || rr_type(&d->soa, 0) != T_SOA ||
		     rr_type(&d->soa, 1) != T_SOA || soa_serial(&d->soa, 0) != d->from ||
		     soa_serial(&d->soa, 1) != d->to || (k > 0 && ds[k - 1]->to != d->from) ||
		     (k + 1 == n && d->to != s)))
			ret = C2W_EMALF;
		d->bytes = d->soa.len + d->del.len + d->add.len;
		bytes += d->bytes;
	}
	if (ret == C2W_OK && r.pos != r.len)
		ret = C2W_EMALF;
	if (ret == C2W_OK) {
		*serial = s;
		uint64_t digest = (uint64_t)dh << 32 | dl;
		if (v == NULL || digest != v->digest || count != v->rrs.count) {
			ret = C2W_EVERSION;
		} else {
			/* Adopted: the journal continues, at its serial. */
			for (size_t i = 0; i < v->delta_count; i++)
				delta_unref(v->deltas[i]);
			free(v->deltas);
			v->deltas = ds;
			v->delta_count = n;
			v->journal_bytes = bytes;
			v->serial = s;
			feed_rrs_free(&v->soa);
			ret = make_soa(&v->soa, &v->soa_tpl, s);
			return ret;
		}
	}
	for (size_t i = 0; i < n; i++)
		delta_unref(ds[i]);
	free(ds);
	return ret;
}

int feed_out_journal_read(struct feed_out_ver *v, const char *path, uint32_t *serial)
{
	*serial = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? C2W_ENOENT : -errno;
	off_t size = lseek(fd, 0, SEEK_END);
	if (size < 0 || (uint64_t)size > JRN_MAX || lseek(fd, 0, SEEK_SET) != 0) {
		close(fd);
		return C2W_EMALF;
	}
	uint8_t *buf = malloc(size ? (size_t)size : 1);
	if (buf == NULL) {
		close(fd);
		return C2W_ENOMEM;
	}
	size_t got = 0;
	while (got < (size_t)size) {
		ssize_t r = read(fd, buf + got, (size_t)size - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	int ret = got == (size_t)size ? feed_out_journal_parse(v, buf, got, serial) : C2W_EMALF;
	free(buf);
	return ret;
}

/* ---- requests ---------------------------------------------------------------------------- */

int feed_out_request_parse(const uint8_t *wire, size_t len, const knot_tsig_key_t *key,
			   struct feed_out_req *out)
{
	memset(out, 0, sizeof(*out));
	if (len < KNOT_WIRE_HEADER_SIZE || len > KNOT_WIRE_MAX_PKTSIZE)
		return C2W_EMALF;
	/* libknot parses in place and may touch the buffer: give it a copy. */
	uint8_t *copy = malloc(len);
	if (copy == NULL)
		return C2W_ENOMEM;
	memcpy(copy, wire, len);
	knot_pkt_t *pkt = knot_pkt_new(copy, (uint16_t)len, NULL);
	int ret = C2W_EMALF;
	if (pkt == NULL) {
		ret = C2W_ENOMEM;
		goto out_free;
	}
	if (knot_pkt_parse(pkt, 0) != KNOT_EOK || knot_wire_get_qdcount(pkt->wire) != 1)
		goto out_pkt;
	out->id = knot_wire_get_id(pkt->wire);
	out->qtype = knot_pkt_qtype(pkt);
	out->qclass = knot_pkt_qclass(pkt);
	const knot_dname_t *qn = knot_pkt_qname(pkt);
	size_t qlen = knot_dname_size(qn);
	if (qlen == 0 || qlen > sizeof(out->qname))
		goto out_pkt;
	memcpy(out->qname, qn, qlen);
	knot_dname_to_lower(out->qname);
	out->qname_len = qlen;
	/* RFC 1995 3: the client's version, as an SOA in the authority section. */
	const knot_pktsection_t *ns = knot_pkt_section(pkt, KNOT_AUTHORITY);
	for (uint16_t i = 0; i < ns->count; i++) {
		const knot_rrset_t *rr = knot_pkt_rr(ns, i);
		if (rr->type != KNOT_RRTYPE_SOA || rr->rrs.count != 1)
			continue;
		/* libknot takes empty or short rdata here (UPDATE syntax): check both names and
		 * the five numbers are there before reading the serial. */
		const knot_rdata_t *rd = rr->rrs.rdata;
		const uint8_t *end = rd->data + rd->len;
		int m = knot_dname_wire_check(rd->data, end, NULL);
		int r = m > 0 ? knot_dname_wire_check(rd->data + m, end, NULL) : -1;
		if (m <= 0 || r <= 0 || (size_t)m + (size_t)r + 20 > rd->len)
			goto out_pkt;
		out->has_serial = true;
		out->serial = get32(rd->data + m + r);
	}
	if (pkt->tsig_rr != NULL) {
		out->tsig = true;
		out->time_signed = knot_tsig_rdata_time_signed(pkt->tsig_rr);
		const knot_dname_t *alg = knot_tsig_rdata_alg_name(pkt->tsig_rr);
		size_t kl = knot_dname_size(pkt->tsig_rr->owner), al = knot_dname_size(alg);
		if (kl > 0 && kl <= sizeof(out->tsig_key) && al > 0 &&
		    al <= sizeof(out->tsig_alg)) {
			memcpy(out->tsig_key, pkt->tsig_rr->owner, kl);
			out->tsig_key_len = kl;
			memcpy(out->tsig_alg, alg, al);
			out->tsig_alg_len = al;
		}
		out->tsig_fudge = knot_tsig_rdata_fudge(pkt->tsig_rr);
		out->tsig_orig_id = knot_tsig_rdata_orig_id(pkt->tsig_rr);
		size_t ml = knot_tsig_rdata_mac_length(pkt->tsig_rr);
		if (ml <= sizeof(out->mac)) {
			memcpy(out->mac, knot_tsig_rdata_mac(pkt->tsig_rr), ml);
			out->mac_len = ml;
		}
		int c = key == NULL
			    ? KNOT_TSIG_EBADKEY
			    : knot_tsig_server_check(pkt->tsig_rr, pkt->wire, pkt->size, key);
		if (c == KNOT_TSIG_EBADKEY)
			out->tsig_error = KNOT_RCODE_BADKEY;
		else if (c == KNOT_TSIG_EBADTIME)
			out->tsig_error = KNOT_RCODE_BADTIME;
		else if (c != KNOT_EOK)
			out->tsig_error = KNOT_RCODE_BADSIG;
	}
	ret = C2W_OK;
out_pkt:
	knot_pkt_free(pkt);
out_free:
	free(copy);
	return ret;
}

/* ---- responses --------------------------------------------------------------------------- */

struct seg {
	const struct feed_rrs *rrs;
	size_t first, count;
};

struct feed_out_stream {
	struct feed_out_ver *v;
	enum feed_out_kind kind;
	struct seg *segs;
	size_t seg_count, seg, idx;
	uint8_t question[FEED_OUT_NAME_MAX + 4];
	size_t question_len;
	uint16_t id;
	size_t max_msg;
	bool sign, first;
	knot_tsig_key_t key;
	bool have_key;
	uint8_t digest[64];
	size_t digest_len;
	uint64_t time_signed;
};

static size_t header_question(const struct feed_out_req *req, uint8_t rcode, bool aa, uint8_t *buf,
			      size_t cap)
{
	if (cap < 12 + req->qname_len + 4)
		return 0;
	memset(buf, 0, 12);
	put16(buf, req->id);
	buf[2] = 0x80 | (aa ? 0x04 : 0); /* QR, opcode QUERY */
	buf[3] = rcode & 0x0f;
	put16(buf + 4, 1);
	memcpy(buf + 12, req->qname, req->qname_len);
	put16(buf + 12 + req->qname_len, req->qtype);
	put16(buf + 14 + req->qname_len, req->qclass);
	return 12 + req->qname_len + 4;
}

size_t feed_out_error(const struct feed_out_req *req, uint8_t rcode, const knot_tsig_key_t *key,
		      uint8_t *buf, size_t cap)
{
	size_t n = header_question(req, rcode, false, buf, cap);
	if (n == 0 || req->tsig_error == 0 || req->tsig_key_len == 0)
		return n;
	if (req->tsig_error == KNOT_RCODE_BADTIME && key != NULL) {
		/* RFC 8945 5.2.3, 5.3.2: the MAC was right, only the clock is off, so the error
		 * is signed (chained to the request's MAC), with the request's Time Signed and
		 * our time in Other Data (libknot writes both for BADTIME). */
		uint8_t digest[64];
		size_t dl = sizeof(digest), len = n;
		if (knot_tsig_sign(buf, &len, cap, req->mac, req->mac_len, digest, &dl, key,
				   KNOT_RCODE_BADTIME, req->time_signed) == KNOT_EOK)
			return len;
		/* No room for a signed error: the unsigned one below. */
	}
	/* TSIG RR: owner key name, type TSIG, class ANY, TTL 0; rdata algorithm, time signed
	 * (48 bits, the request's), fudge, MAC size 0, original ID, error, other length 0. */
	size_t rd = req->tsig_alg_len + 6 + 2 + 2 + 2 + 2 + 2;
	size_t need = n + req->tsig_key_len + RR_FIXED + rd;
	if (need > cap)
		return n;
	uint8_t *p = buf + n;
	memcpy(p, req->tsig_key, req->tsig_key_len);
	p += req->tsig_key_len;
	put16(p, KNOT_RRTYPE_TSIG);
	put16(p + 2, KNOT_CLASS_ANY);
	put32(p + 4, 0);
	put16(p + 8, (uint16_t)rd);
	p += RR_FIXED;
	memcpy(p, req->tsig_alg, req->tsig_alg_len);
	p += req->tsig_alg_len;
	put16(p, (uint16_t)(req->time_signed >> 32));
	put32(p + 2, (uint32_t)req->time_signed);
	put16(p + 6, req->tsig_fudge);
	put16(p + 8, 0);
	put16(p + 10, req->tsig_orig_id);
	put16(p + 12, req->tsig_error);
	put16(p + 14, 0);
	put16(buf + 10, 1); /* ARCOUNT */
	return need;
}

static int add_seg(struct feed_out_stream *st, const struct feed_rrs *rrs, size_t first,
		   size_t count)
{
	if (count == 0)
		return C2W_OK;
	struct seg *s = realloc(st->segs, (st->seg_count + 1) * sizeof(*s));
	if (s == NULL)
		return C2W_ENOMEM;
	st->segs = s;
	s[st->seg_count++] = (struct seg){.rrs = rrs, .first = first, .count = count};
	return C2W_OK;
}

/* RFC 1995 4: the journal path from @serial to the current version, or none. */
static bool journal_from(const struct feed_out_ver *v, uint32_t serial, size_t *start)
{
	for (size_t i = 0; i < v->delta_count; i++) {
		if (v->deltas[i]->from == serial) {
			*start = i;
			return true;
		}
	}
	return false;
}

static int plan(struct feed_out_stream *st, const struct feed_out_req *req)
{
	struct feed_out_ver *v = st->v;
	size_t start;
	int ret = add_seg(st, &v->soa, 0, 1);
	if (ret != C2W_OK)
		return ret;
	if (req->qtype == KNOT_RRTYPE_SOA ||
	    (req->qtype == KNOT_RRTYPE_IXFR && req->has_serial &&
	     (req->serial == v->serial || serial_gt(req->serial, v->serial)))) {
		/* RFC 1995 4: a client as new as we are gets our SOA alone. */
		st->kind = FEED_OUT_UPTODATE;
		return C2W_OK;
	}
	if (req->qtype == KNOT_RRTYPE_IXFR && req->has_serial &&
	    journal_from(v, req->serial, &start)) {
		st->kind = FEED_OUT_IXFR;
		for (size_t i = start; i < v->delta_count && ret == C2W_OK; i++) {
			const struct feed_out_delta *d = v->deltas[i];
			ret = add_seg(st, &d->soa, 0, 1);
			if (ret == C2W_OK)
				ret = add_seg(st, &d->del, 0, d->del.count);
			if (ret == C2W_OK)
				ret = add_seg(st, &d->soa, 1, 1);
			if (ret == C2W_OK)
				ret = add_seg(st, &d->add, 0, d->add.count);
		}
	} else {
		st->kind = req->qtype == KNOT_RRTYPE_IXFR ? FEED_OUT_IXFR_FULL : FEED_OUT_AXFR;
		ret = add_seg(st, &v->rrs, 0, v->rrs.count);
	}
	if (ret == C2W_OK)
		ret = add_seg(st, &v->soa, 0, 1);
	return ret;
}

int feed_out_stream_new(struct feed_out_ver *v, const struct feed_out_req *req,
			const knot_tsig_key_t *key, size_t max_msg, struct feed_out_stream **out)
{
	struct feed_out_stream *st = calloc(1, sizeof(*st));
	if (st == NULL)
		return C2W_ENOMEM;
	st->v = feed_out_ver_ref(v);
	st->id = req->id;
	st->max_msg = max_msg < 512 ? 512 : max_msg > 65535 ? 65535 : max_msg;
	st->first = true;
	memcpy(st->question, req->qname, req->qname_len);
	put16(st->question + req->qname_len, req->qtype);
	put16(st->question + req->qname_len + 2, req->qclass);
	st->question_len = req->qname_len + 4;
	int ret = plan(st, req);
	if (ret == C2W_OK && req->tsig && key != NULL) {
		st->sign = true;
		memcpy(st->digest, req->mac, req->mac_len);
		st->digest_len = req->mac_len;
		st->time_signed = req->time_signed;
		ret = knot_tsig_key_copy(&st->key, key) == KNOT_EOK ? C2W_OK : C2W_ENOMEM;
		st->have_key = ret == C2W_OK;
	}
	if (ret != C2W_OK) {
		feed_out_stream_free(st);
		return ret;
	}
	*out = st;
	return C2W_OK;
}

enum feed_out_kind feed_out_stream_kind(const struct feed_out_stream *st)
{
	return st->kind;
}

void feed_out_stream_free(struct feed_out_stream *st)
{
	if (st == NULL)
		return;
	if (st->have_key)
		knot_tsig_key_deinit(&st->key);
	feed_out_ver_unref(st->v);
	free(st->segs);
	free(st);
}

static int sign(struct feed_out_stream *st, uint8_t *buf, size_t cap, size_t *len)
{
	uint8_t digest[64];
	size_t dl = sizeof(digest);
	int ret;
	if (st->first)
		ret = knot_tsig_sign(buf, len, cap, st->digest, st->digest_len, digest, &dl,
				     &st->key, 0, st->time_signed);
	else
		ret = knot_tsig_sign_next(buf, len, cap, st->digest, st->digest_len, digest, &dl,
					  &st->key, buf, *len);
	if (ret != KNOT_EOK)
		return C2W_ETSIG;
	memcpy(st->digest, digest, dl);
	st->digest_len = dl;
	return C2W_OK;
}

int feed_out_stream_next(struct feed_out_stream *st, uint8_t *buf, size_t cap, size_t *len)
{
	if (st->seg >= st->seg_count)
		return 0;
	size_t limit = st->max_msg < cap ? st->max_msg : cap;
	if (limit < 12 + st->question_len + TSIG_RESERVE)
		return C2W_ESPACE;
	limit -= TSIG_RESERVE;
	memset(buf, 0, 12);
	put16(buf, st->id);
	buf[2] = 0x84; /* QR, AA */
	size_t n = 12;
	/* RFC 5936 2.2: the question in the first message only. */
	if (st->first) {
		put16(buf + 4, 1);
		memcpy(buf + 12, st->question, st->question_len);
		n += st->question_len;
	}
	uint16_t an = 0;
	while (st->seg < st->seg_count && an < 65535) {
		const struct seg *sg = &st->segs[st->seg];
		size_t i = sg->first + st->idx;
		size_t l = rr_len(sg->rrs, i);
		if (n + l > limit) {
			if (an == 0)
				return C2W_ESPACE; /* one record larger than a message */
			break;
		}
		memcpy(buf + n, sg->rrs->blob + sg->rrs->off[i], l);
		n += l;
		an++;
		if (++st->idx == sg->count) {
			st->idx = 0;
			st->seg++;
		}
	}
	put16(buf + 6, an);
	*len = n;
	if (st->sign) {
		int ret = sign(st, buf, cap, len);
		if (ret != C2W_OK)
			return ret;
	}
	st->first = false;
	return 1;
}

size_t feed_out_notify(const struct feed_out_ver *v, uint16_t id, const knot_tsig_key_t *key,
		       uint8_t *buf, size_t cap)
{
	const uint8_t *soa = v->soa.blob;
	size_t ol = name_len(soa, v->soa.len);
	size_t n = 12 + ol + 4 + v->soa.len;
	if (ol == 0 || n + TSIG_RESERVE > cap)
		return 0;
	memset(buf, 0, 12);
	put16(buf, id);
	buf[2] = (uint8_t)(KNOT_OPCODE_NOTIFY << 3) | 0x04; /* opcode NOTIFY, AA (RFC 1996 3.7) */
	put16(buf + 4, 1);
	put16(buf + 6, 1);
	memcpy(buf + 12, soa, ol);
	put16(buf + 12 + ol, T_SOA);
	put16(buf + 14 + ol, C_IN);
	memcpy(buf + 16 + ol, soa, v->soa.len);
	if (key != NULL) {
		uint8_t digest[64];
		size_t dl = sizeof(digest);
		if (knot_tsig_sign(buf, &n, cap, NULL, 0, digest, &dl, key, 0, 0) != KNOT_EOK)
			return 0;
	}
	return n;
}
