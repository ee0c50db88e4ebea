/* SPDX-License-Identifier: MIT */
/*
 * policy_snap_flatten(): a snapshot with layers (overlay.c) made into one full image again,
 * straight from the images: every slot of the full image that no layer touched, the rules the
 * layers hold (the newest layer that touched a key decides), the never-block entries, and the
 * wildcard nodes computed afresh from the rules now live. No text is parsed and no rule set is
 * built, so the work is one pass over the slots and the memory is the new image plus small
 * indexes (the data entries and nodes met), where a full compile from the copies holds its
 * builders (about three times the image) beside the running policy.
 *
 * The result answers as a full compile of the same records does: the same rules, counts,
 * trigger flags and served records; the nodes are those of the live rules (a layer keeps a
 * node another rule left, this drops it, as a full compile does).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/mem.h"
#include "policy/image.h"
#include "policy/slots.h"

#define SRC_MAX (POLICY_DELTA_LAYERS_MAX + 1) /* the full image, then every layer's rules */

struct buf {
	uint8_t *p;
	size_t len, cap;
};

static int buf_put(struct buf *b, const void *data, size_t len)
{
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + len)
			cap *= 2;
		uint8_t *p = realloc(b->p, cap);
		if (p == NULL)
			return C2W_ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	if (len > 0)
		memcpy(b->p + b->len, data, len);
	b->len += len;
	return C2W_OK;
}

/* Open addressing, 64-bit keys (0 = empty) to 32-bit values; grows at half full. */
struct map {
	uint64_t *key;
	uint32_t *val;
	size_t cap, count;
};

static uint64_t map_mix(uint64_t k)
{
	return img_fmix(k * 0x9e3779b97f4a7c15ull + 1);
}

static uint32_t *map_find(struct map *m, uint64_t k, bool *found)
{
	size_t i = (size_t)map_mix(k) & (m->cap - 1);
	while (m->key[i] != 0 && m->key[i] != k)
		i = (i + 1) & (m->cap - 1);
	*found = m->key[i] == k;
	if (!*found)
		m->key[i] = k;
	return &m->val[i];
}

static int map_reserve(struct map *m)
{
	if (m->cap != 0 && (m->count + 1) * 2 <= m->cap)
		return C2W_OK;
	size_t cap = m->cap ? m->cap * 2 : 1024;
	uint64_t *key = calloc(cap, sizeof(*key));
	uint32_t *val = malloc(cap * sizeof(*val));
	if (key == NULL || val == NULL) {
		free(key);
		free(val);
		return C2W_ENOMEM;
	}
	struct map n = {.key = key, .val = val, .cap = cap, .count = m->count};
	for (size_t i = 0; i < m->cap; i++) {
		if (m->key[i] == 0)
			continue;
		bool f;
		*map_find(&n, m->key[i], &f) = m->val[i];
	}
	free(m->key);
	free(m->val);
	*m = n;
	return C2W_OK;
}

/* Insert-or-find @k; *@found says which; the value slot either way. */
static int map_put(struct map *m, uint64_t k, bool *found, uint32_t **val)
{
	if (map_reserve(m) != C2W_OK)
		return C2W_ENOMEM;
	*val = map_find(m, k, found);
	if (!*found)
		m->count++;
	return C2W_OK;
}

static void map_free(struct map *m)
{
	free(m->key);
	free(m->val);
	memset(m, 0, sizeof(*m));
}

/* A set of 64-bit keys (0 = empty), sized once from an estimate and grown only past it: the
 * wildcard nodes met in pass 1, millions at 10M rules, so no value array and no doubling. */
struct set {
	uint64_t *key;
	size_t cap, count;
};

static int set_grow(struct set *t, size_t cap)
{
	uint64_t *key = calloc(cap, sizeof(*key));
	if (key == NULL)
		return C2W_ENOMEM;
	for (size_t i = 0; i < t->cap; i++) {
		if (t->key[i] == 0)
			continue;
		size_t j = (size_t)map_mix(t->key[i]) & (cap - 1);
		while (key[j] != 0)
			j = (j + 1) & (cap - 1);
		key[j] = t->key[i];
	}
	free(t->key);
	t->key = key;
	t->cap = cap;
	return C2W_OK;
}

/* Add @k; *@found when it was there. */
static int set_add(struct set *t, uint64_t k, bool *found)
{
	if ((t->count + 1) * 4 > t->cap * 3 && set_grow(t, t->cap ? t->cap * 2 : 1024) != C2W_OK)
		return C2W_ENOMEM;
	size_t i = (size_t)map_mix(k) & (t->cap - 1);
	while (t->key[i] != 0 && t->key[i] != k)
		i = (i + 1) & (t->cap - 1);
	*found = t->key[i] == k;
	if (!*found) {
		t->key[i] = k;
		t->count++;
	}
	return C2W_OK;
}

struct flat {
	const struct policy_snap *cur;
	const atomic_bool *cancel; /* NULL, or set by another thread to give up */
	const struct policy_snap *src[SRC_MAX]; /* [0] the full image, then layers newest first */
	const struct img_layer *layer[SRC_MAX]; /* [i] for src[i], i >= 1 */
	unsigned nsrc;
	uint64_t *alive[SRC_MAX]; /* a bit per slot of each source: live() */
	bool wild[POLICY_ZONES_MAX];
	struct map data_at;   /* (source << 32 | data offset) + 1 -> new data offset */
	struct map data_same; /* content hash | 1 -> new data offset of the first entry with it */
	struct map str_at;    /* (source << 32 | string offset) -> new string offset */
	struct set nodes;     /* node slot hashes met (pass 1) */
	uint64_t old_nodes;   /* node slots in the sources: the estimate for @nodes */
	struct buf data, strs;
	uint64_t rules, protect, node_count, keys_len;
};

/* The slots are read in table order, their keys at random: each loop over them fetches the
 * key of the slot KEY_AHEAD on while it works on slot @i. */
#define KEY_AHEAD 16

static inline void key_ahead(const struct policy_snap *s, uint64_t i)
{
	if (i + KEY_AHEAD < s->hdr->slot_count)
		__builtin_prefetch(s->keys + s->slots[i + KEY_AHEAD].key_off);
}

/* Every 65,536 slots: has the caller given up? (A reload or a shutdown, while this runs on
 * the transfer thread.) */
static inline bool stopped(const struct flat *f, uint64_t i)
{
	return (i & 0xffff) == 0 && f->cancel != NULL &&
	       atomic_load_explicit(f->cancel, memory_order_relaxed);
}

static bool live(const struct flat *f, unsigned si, uint64_t i)
{
	return (f->alive[si][i / 64] >> (i % 64)) & 1;
}

/* Pass 0 over one source: every rule and (in the full image) never-block entry, as live;
 * nodes are computed afresh. kill() then takes out what newer layers touched. */
static int mark(struct flat *f, unsigned si)
{
	const struct policy_snap *s = f->src[si];
	uint64_t n = s->hdr->slot_count;
	f->alive[si] = calloc((size_t)(n + 63) / 64, sizeof(uint64_t));
	if (f->alive[si] == NULL)
		return C2W_ENOMEM;
	for (uint64_t i = 0; i < n; i++) {
		if (stopped(f, i))
			return C2W_EAGAIN;
		const struct img_slot *sl = &s->slots[i];
		if (sl->key_off == 0)
			continue;
		if (sl->kind & IMG_KIND_NODE) {
			f->old_nodes++;
			continue;
		}
		/* a layer's copies of the never-block list are not consulted */
		if ((sl->kind & IMG_KIND_PROTECT) && si != 0)
			continue;
		f->alive[si][i / 64] |= 1ull << (i % 64);
	}
	return C2W_OK;
}

/* A key the layer of source @li touched is answered by that layer alone: its slot in every
 * older source (the layers after it, and the full image) is dead. O(touched keys), where a
 * check per slot of the full image would hash every key of it. */
static int kill(struct flat *f, unsigned li)
{
	const struct policy_snap *t = f->layer[li]->touched;
	for (uint64_t i = 0; i < t->hdr->slot_count; i++) {
		if (stopped(f, i))
			return C2W_EAGAIN;
		const struct img_slot *sl = &t->slots[i];
		if (sl->key_off == 0 || (sl->kind & (IMG_KIND_PROTECT | IMG_KIND_NODE)))
			continue;
		const uint8_t *k = t->keys + sl->key_off;
		uint64_t h = policy_img_key_hash(k, sl->kind);
		for (unsigned si = 0; si < f->nsrc; si++) {
			if (si != 0 && si <= li)
				continue; /* newer, or the layer itself */
			const struct policy_snap *s = f->src[si];
			const struct img_slot *o =
			    policy_img_find_own(s, h, sl->zone, sl->kind, k + 1, k[0]);
			if (o != NULL) {
				uint64_t at = (uint64_t)(o - s->slots);
				f->alive[si][at / 64] &= ~(1ull << (at % 64));
			}
		}
	}
	return C2W_OK;
}

/* The zones with a QNAME wildcard among the rules that live: their nodes are recorded. */
static void note_wild(struct flat *f, unsigned si)
{
	const struct policy_snap *s = f->src[si];
	for (uint64_t i = 0; i < s->hdr->slot_count; i++)
		if (s->slots[i].kind == (POLICY_TRIGGER_QNAME | IMG_KIND_WILD) && live(f, si, i))
			f->wild[s->slots[i].zone] = true;
}

/* A string of source @si in the flat image: the full image's strings are copied as they are
 * (same offsets); a layer's are added once each. */
static int str_move(struct flat *f, unsigned si, uint32_t off, uint32_t *out)
{
	if (si == 0 || off == 0) {
		*out = off;
		return C2W_OK;
	}
	bool found;
	uint32_t *v;
	if (map_put(&f->str_at, (uint64_t)si << 32 | off, &found, &v) != C2W_OK)
		return C2W_ENOMEM;
	if (found) {
		*out = *v;
		return C2W_OK;
	}
	const char *s = img_str(f->src[si], off);
	size_t at = f->strs.len;
	if (at > UINT32_MAX || buf_put(&f->strs, s, strlen(s) + 1) != C2W_OK)
		return C2W_ENOMEM;
	*v = *out = (uint32_t)at;
	return C2W_OK;
}

/* The data entry of slot @sl (source @si) in the new data blob, once per content. */
static int data_move(struct flat *f, unsigned si, const struct img_slot *sl, uint32_t *out)
{
	bool found;
	uint32_t *v;
	if (map_put(&f->data_at, ((uint64_t)si << 32 | sl->data_off) + 1, &found, &v) != C2W_OK)
		return C2W_ENOMEM;
	if (found) {
		*out = *v;
		return C2W_OK;
	}
	const uint8_t *p = f->src[si]->data + sl->data_off;
	size_t len = img_data_len(p);
	struct img_data d;
	memcpy(&d, p, sizeof(d));
	if (str_move(f, si, d.category_off, &d.category_off) != C2W_OK ||
	    str_move(f, si, d.family_off, &d.family_off) != C2W_OK)
		return C2W_ENOMEM;
	while (f->data.len % 4 != 0) /* entries stay 4-aligned: read in place */
		if (buf_put(&f->data, "", 1) != C2W_OK)
			return C2W_ENOMEM;
	size_t start = f->data.len;
	if (start > UINT32_MAX || buf_put(&f->data, &d, sizeof(d)) != C2W_OK ||
	    buf_put(&f->data, p + sizeof(d), len - sizeof(d)) != C2W_OK)
		return C2W_ENOMEM;
	uint64_t hc = XXH3_64bits(f->data.p + start, len) | 1;
	uint32_t *same;
	/* Equal content under one hash: the first entry's offset; a hash collision between two
	 * different entries keeps the second as it is. */
	if (map_put(&f->data_same, hc, &found, &same) != C2W_OK)
		return C2W_ENOMEM;
	if (found && img_data_len(f->data.p + *same) == len &&
	    memcmp(f->data.p + *same, f->data.p + start, len) == 0) {
		f->data.len = start;
		*v = *out = *same;
		return C2W_OK;
	}
	if (!found)
		*same = (uint32_t)start;
	*v = *out = (uint32_t)start;
	return C2W_OK;
}

/* Where a QNAME rule's walk over its ancestors starts (a label offset in its key), or
 * SIZE_MAX: an exact trigger's proper ancestors, a wildcard's S and its ancestors; never the
 * apex (rules.c, node_walk_start()). */
static size_t walk_start(const struct flat *f, const struct img_slot *sl, const uint8_t *k)
{
	if (!f->wild[sl->zone] || (sl->kind & ~IMG_KIND_WILD) != POLICY_TRIGGER_QNAME)
		return SIZE_MAX;
	size_t q = (sl->kind & IMG_KIND_WILD) || k[0] == 0 ? 0 : (size_t)k[1] + 1;
	return q < k[0] ? q : SIZE_MAX;
}

/* Hash of every suffix of key @k ([len][labels]): h[j] for the labels from offset off[j]. */
static unsigned suffix_hashes(const uint8_t *k, uint16_t *off, uint64_t *h)
{
	unsigned n = 0;
	for (size_t p = 0; p < k[0] && n < 128; p += (size_t)k[1 + p] + 1)
		off[n++] = (uint16_t)p;
	uint64_t x = IMG_SEED;
	for (unsigned j = n; j-- > 0;) {
		x = img_label_hash(k + 1 + off[j], x);
		h[j] = x;
	}
	return n;
}

static uint64_t node_sh(uint64_t h, unsigned zone)
{
	return img_slot_hash(h, zone, POLICY_TRIGGER_QNAME | IMG_KIND_NODE);
}

/* Pass 1 over one source: count what lives and its key bytes, and move its data. */
static int scan(struct flat *f, unsigned si)
{
	const struct policy_snap *s = f->src[si];
	for (uint64_t i = 0; i < s->hdr->slot_count; i++) {
		if (stopped(f, i))
			return C2W_EAGAIN;
		key_ahead(s, i);
		const struct img_slot *sl = &s->slots[i];
		if (!live(f, si, i))
			continue;
		const uint8_t *k = s->keys + sl->key_off;
		f->keys_len += (size_t)k[0] + 1;
		if (sl->kind & IMG_KIND_PROTECT) {
			f->protect++;
			continue;
		}
		uint32_t off;
		if (data_move(f, si, sl, &off) != C2W_OK)
			return C2W_ENOMEM;
		f->rules++;
	}
	return C2W_OK;
}

/* The image being filled. */
struct out {
	struct img_header *h;
	struct img_zone *zones;
	struct img_slot *slots;
	uint8_t *keys;
	size_t keys_len, keys_cap;
	uint64_t *filter, fmask;
};

static void put(struct out *o, uint64_t sh, struct img_slot s)
{
	struct slot_ent e = {.sh = sh, .s = s};
	o->filter[img_filter_word(sh, o->fmask)] |= img_filter_bits(sh);
	policy_slots_put(o->slots, o->h->slot_count, &e, &o->h->flags);
}

static int key_add(struct out *o, const uint8_t *key, size_t len, uint32_t *off)
{
	if (o->keys_len + len + 1 > o->keys_cap)
		return C2W_ERANGE; /* more than pass 1 counted: give up, the caller recompiles */
	*off = (uint32_t)o->keys_len;
	o->keys[o->keys_len] = (uint8_t)len;
	memcpy(o->keys + o->keys_len + 1, key, len);
	o->keys_len += len + 1;
	return C2W_OK;
}

static void zone_count(struct img_zone *z, const struct img_slot *sl, const uint8_t *k,
		       const struct img_data *d)
{
	unsigned t = sl->kind & 7;
	z->rule_count++;
	z->by_trigger[t]++;
	if (d->action < POLICY_ACTION_COUNT)
		z->by_action[d->action]++;
	if (sl->kind & IMG_KIND_WILD)
		z->has_wild[t] = 1;
	else
		z->has_exact[t] = 1;
	img_zone_note_ip(z, t, k);
}

/* Pass 2 over one source: its live slots into the table. */
static int fill(struct flat *f, struct out *o, unsigned si, const uint8_t *data)
{
	const struct policy_snap *s = f->src[si];
	for (uint64_t i = 0; i < s->hdr->slot_count; i++) {
		if (stopped(f, i))
			return C2W_EAGAIN;
		key_ahead(s, i);
		const struct img_slot *sl = &s->slots[i];
		if (!live(f, si, i))
			continue;
		const uint8_t *k = s->keys + sl->key_off;
		struct img_slot n = {.zone = sl->zone, .kind = sl->kind, .first_seen = sl->first_seen};
		if (key_add(o, k + 1, k[0], &n.key_off) != C2W_OK)
			return C2W_ERANGE;
		if (!(sl->kind & IMG_KIND_PROTECT)) {
			bool found;
			uint32_t *v;
			if (map_put(&f->data_at, ((uint64_t)si << 32 | sl->data_off) + 1, &found,
				    &v) != C2W_OK)
				return C2W_ENOMEM;
			if (!found)
				return C2W_ERANGE; /* pass 1 moved every live slot's data */
			n.data_off = *v;
			zone_count(&o->zones[sl->zone], sl, k, (const void *)(data + n.data_off));
		}
		uint64_t sh = img_slot_hash(policy_img_key_hash(k, sl->kind),
					    (sl->kind & IMG_KIND_PROTECT) ? 0 : sl->zone, sl->kind);
		put(o, sh, n);
	}
	return C2W_OK;
}

/* A node slot already in the table being filled? (Robin Hood, no deletions: a key is before
 * the first empty slot of its probe sequence.) */
static bool node_in(const struct out *o, uint64_t sh, unsigned zone, const uint8_t *key,
		    size_t len)
{
	uint64_t count = o->h->slot_count, i = img_slot_index(sh, count);
	uint32_t tag = img_tag(sh);
	for (uint64_t n = 0; n < count; n++) {
		const struct img_slot *sl = &o->slots[i];
		if (sl->key_off == 0)
			return false;
		if ((sl->tag & ~0xffu) == tag && sl->zone == zone &&
		    sl->kind == (POLICY_TRIGGER_QNAME | IMG_KIND_NODE) && o->keys[sl->key_off] == len &&
		    memcmp(o->keys + sl->key_off + 1, key, len) == 0)
			return true;
		i = i + 1 == count ? 0 : i + 1;
	}
	return false;
}

/* One new node: counted in pass 1 (@o NULL; @return C2W_EEXIST when it was met already),
 * put into the table in pass 2 (C2W_EEXIST when it is there). Pass 1 knows a node by its
 * 64-bit slot hash alone: two nodes under one hash would be counted once, and pass 2 would
 * then run out of the key bytes counted (C2W_ERANGE: the merge is a full compile instead). */
static int node_one(struct flat *f, struct out *o, uint64_t sh, unsigned zone, const uint8_t *key,
		    size_t len)
{
	if (o == NULL) {
		bool found;
		if (set_add(&f->nodes, sh | 1, &found) != C2W_OK)
			return C2W_ENOMEM;
		if (found)
			return C2W_EEXIST;
		f->node_count++;
		f->keys_len += len + 1;
		return C2W_OK;
	}
	if (node_in(o, sh, zone, key, len))
		return C2W_EEXIST;
	struct img_slot ns = {.zone = (uint8_t)zone, .kind = POLICY_TRIGGER_QNAME | IMG_KIND_NODE};
	if (key_add(o, key, len, &ns.key_off) != C2W_OK)
		return C2W_ERANGE;
	put(o, sh, ns);
	return C2W_OK;
}

/* A rule whose ancestors are to be walked, with its suffix hashes. */
struct walk {
	const uint8_t *k;
	unsigned zone, n;
	size_t q;
	uint16_t off[129];
	uint64_t h[129];
};

#define WALK_AHEAD 8 /* rules whose first probe is fetched before it is made */

static int walk_one(struct flat *f, struct out *o, const struct walk *w)
{
	for (unsigned j = 0; j < w->n; j++) {
		if (w->off[j] < w->q)
			continue;
		int ret = node_one(f, o, node_sh(w->h[j], w->zone), w->zone, w->k + 1 + w->off[j],
				   (size_t)w->k[0] - w->off[j]);
		/* A node is only ever added with all its ancestors (this loop), so one met already
		 * ends the walk: most end at the rule's parent. */
		if (ret == C2W_EEXIST)
			return C2W_OK;
		if (ret != C2W_OK)
			return ret;
	}
	return C2W_OK;
}

/* The wildcard nodes of source @si's live QNAME rules (rules.c, add_nodes()): counted (@o
 * NULL), or put into the table. Each walk's first probe is a random read of a large table:
 * it is fetched WALK_AHEAD rules before it is made. */
static int walk_nodes(struct flat *f, struct out *o, unsigned si)
{
	const struct policy_snap *s = f->src[si];
	struct walk ring[WALK_AHEAD];
	uint64_t c = 0;
	for (uint64_t i = 0;; i++) {
		struct walk *w = &ring[c % WALK_AHEAD];
		bool more = i < s->hdr->slot_count;
		if (more) {
			if (stopped(f, i))
				return C2W_EAGAIN;
			key_ahead(s, i);
			const struct img_slot *sl = &s->slots[i];
			if (!f->wild[sl->zone] || (sl->kind & (IMG_KIND_PROTECT | IMG_KIND_NODE)) ||
			    (sl->kind & 7) != POLICY_TRIGGER_QNAME || !live(f, si, i))
				continue;
			const uint8_t *k = s->keys + sl->key_off;
			size_t q = walk_start(f, sl, k);
			if (q == SIZE_MAX)
				continue;
			if (c >= WALK_AHEAD) {
				int ret = walk_one(f, o, w); /* the oldest, whose line is fetched */
				if (ret != C2W_OK)
					return ret;
			}
			w->k = k;
			w->zone = sl->zone;
			w->q = q;
			w->n = suffix_hashes(k, w->off, w->h);
			for (unsigned j = 0; j < w->n; j++) {
				if (w->off[j] < q)
					continue;
				uint64_t sh = node_sh(w->h[j], sl->zone);
				if (o != NULL)
					__builtin_prefetch(&o->slots[img_slot_index(sh, o->h->slot_count)]);
				else if (f->nodes.cap > 0)
					__builtin_prefetch(
					    &f->nodes.key[map_mix(sh | 1) & (f->nodes.cap - 1)]);
				break;
			}
			c++;
			continue;
		}
		/* the end: the walks still in the ring, oldest first */
		for (uint64_t d = c > WALK_AHEAD ? c - WALK_AHEAD : 0; d < c; d++) {
			int ret = walk_one(f, o, &ring[d % WALK_AHEAD]);
			if (ret != C2W_OK)
				return ret;
		}
		return C2W_OK;
	}
}

static size_t align8(size_t x)
{
	return (x + 7) & ~(size_t)7;
}

static void flat_free(struct flat *f)
{
	map_free(&f->data_at);
	map_free(&f->data_same);
	map_free(&f->str_at);
	free(f->nodes.key);
	free(f->data.p);
	free(f->strs.p);
	for (unsigned i = 0; i < f->nsrc; i++)
		free(f->alive[i]);
}

/* The zones' SOA rdata with new timers, after the strings copied so far: @soa_off per zone. */
static int soa_timers(struct flat *f, const struct policy_soa_timers *soa, uint32_t *soa_off)
{
	const struct policy_snap *cur = f->cur;
	for (uint32_t z = 0; z < cur->hdr->zone_count; z++) {
		const struct img_zone *iz = &cur->zones[z];
		soa_off[z] = iz->soa_off;
		if (soa == NULL || !soa[z].set || iz->soa_len < 20)
			continue;
		uint8_t rd[1024];
		if (iz->soa_len > sizeof(rd) || f->strs.len > UINT32_MAX)
			return C2W_ERANGE;
		/* the full image's strings, at the same offsets in the new blob */
		memcpy(rd, f->strs.p + iz->soa_off, iz->soa_len);
		uint8_t *t = rd + iz->soa_len - 20;
		for (int k = 0; k < 5; k++, t += 4) {
			t[0] = (uint8_t)(soa[z].v[k] >> 24);
			t[1] = (uint8_t)(soa[z].v[k] >> 16);
			t[2] = (uint8_t)(soa[z].v[k] >> 8);
			t[3] = (uint8_t)soa[z].v[k];
		}
		soa_off[z] = (uint32_t)f->strs.len;
		/* the blob ends with a NUL: every string lookup stays inside */
		if (buf_put(&f->strs, rd, iz->soa_len) != C2W_OK || buf_put(&f->strs, "", 1) != C2W_OK)
			return C2W_ENOMEM;
	}
	return C2W_OK;
}

int policy_snap_flatten(const struct policy_snap *cur, const struct policy_soa_timers *soa,
			const atomic_bool *cancel, struct policy_snap **out)
{
	uint32_t soa_off[POLICY_ZONES_MAX];
	struct flat f = {.cur = cur, .cancel = cancel};
	const struct policy_snap *base = policy_snap_base(cur);
	uint8_t *img = NULL;
	uint64_t *filter = NULL;
	struct policy_snap *s = NULL;
	int ret = C2W_ENOMEM;

	f.src[f.nsrc++] = base;
	for (const struct img_layer *l = cur->layers; l != NULL; l = l->next) {
		if (f.nsrc == SRC_MAX)
			return C2W_EFULL;
		f.layer[f.nsrc] = l;
		f.src[f.nsrc++] = l->rules;
	}
	/* The data entries and strings: the full image's strings as they are, ahead of the
	 * layers' own. */
	if (buf_put(&f.data, "\0\0\0\0", 4) != C2W_OK ||
	    buf_put(&f.strs, base->str, base->hdr->str_len) != C2W_OK)
		goto done;
	if (cur->hdr->zone_count > POLICY_ZONES_MAX) {
		ret = C2W_ERANGE;
		goto done;
	}
	ret = soa_timers(&f, soa, soa_off);
	if (ret != C2W_OK)
		goto done;
	for (unsigned si = 0; si < f.nsrc && ret == C2W_OK; si++)
		ret = mark(&f, si);
	for (unsigned li = 1; li < f.nsrc && ret == C2W_OK; li++)
		ret = kill(&f, li);
	if (ret != C2W_OK)
		goto done;
	ret = C2W_ENOMEM;
	for (unsigned si = 0; si < f.nsrc; si++)
		note_wild(&f, si);
	f.keys_len = 1; /* offset 0: "empty slot" */
	size_t cap = 1024;
	while (cap * 3 < (f.old_nodes + f.old_nodes / 8 + 1) * 4)
		cap *= 2;
	if (f.old_nodes > 0 && set_grow(&f.nodes, cap) != C2W_OK)
		goto done;
	for (unsigned si = 0; si < f.nsrc; si++) {
		ret = scan(&f, si);
		if (ret == C2W_OK)
			ret = walk_nodes(&f, NULL, si);
		if (ret != C2W_OK)
			goto done;
	}
	map_free(&f.data_same);
	free(f.nodes.key);
	f.nodes = (struct set){0};
	/* Pass 1's indexes go back to the system before the image is allocated: at 10M rules
	 * the node set alone is about 64 MiB, which the allocator would otherwise keep. */
	c2w_mem_release();
	ret = C2W_ERANGE;
	uint64_t entries = f.rules + f.protect + f.node_count;
	uint64_t nslots = entries * IMG_LOAD_DEN / IMG_LOAD_NUM + 1;
	if (nslots < 8)
		nslots = 8;
	if (nslots > UINT32_MAX || f.keys_len > UINT32_MAX || f.data.len > UINT32_MAX ||
	    f.strs.len > UINT32_MAX)
		goto done;
	uint32_t zc = cur->hdr->zone_count;
	size_t zones_off = align8(sizeof(struct img_header));
	size_t slots_off = align8(zones_off + zc * sizeof(struct img_zone));
	size_t keys_off = align8(slots_off + nslots * sizeof(struct img_slot));
	size_t data_off = align8(keys_off + f.keys_len);
	size_t str_off = align8(data_off + f.data.len);
	size_t total = align8(str_off + f.strs.len);
	ret = C2W_ENOMEM;
	uint64_t words = img_filter_words(nslots);
	img = c2w_calloc_huge(1, total);
	filter = calloc(words, sizeof(*filter));
	if (img == NULL || filter == NULL)
		goto done;
	struct img_header *h = (struct img_header *)(void *)img;
	memcpy(h->magic, IMG_MAGIC, 8);
	h->version = IMG_VERSION;
	h->endian = IMG_ENDIAN;
	h->file_len = total;
	h->zone_count = zc;
	h->rule_count = f.rules;
	h->protect_count = f.protect;
	h->slot_count = nslots;
	h->zones_off = zones_off;
	h->slots_off = slots_off;
	h->keys_off = keys_off;
	h->data_off = data_off;
	h->data_len = f.data.len;
	h->str_off = str_off;
	h->str_len = f.strs.len;
	h->created = (uint64_t)time(NULL);
	memcpy(img + data_off, f.data.p, f.data.len);
	memcpy(img + str_off, f.strs.p, f.strs.len);
	free(f.data.p);
	f.data = (struct buf){0};
	free(f.strs.p);
	f.strs = (struct buf){0};
	struct img_zone *zones = (struct img_zone *)(void *)(img + zones_off);
	/* Everything but the counts and trigger flags, which pass 2 makes from the live rules. */
	memcpy(zones, cur->zones, zc * sizeof(*zones));
	for (uint32_t z = 0; z < zc; z++) {
		zones[z].soa_off = soa_off[z];
		zones[z].rule_count = 0;
		memset(zones[z].lenmask, 0, sizeof(zones[z].lenmask));
		memset(zones[z].by_trigger, 0, sizeof(zones[z].by_trigger));
		memset(zones[z].by_action, 0, sizeof(zones[z].by_action));
		memset(zones[z].has_exact, 0, sizeof(zones[z].has_exact));
		memset(zones[z].has_wild, 0, sizeof(zones[z].has_wild));
	}
	struct out o = {.h = h, .zones = zones, .slots = (void *)(img + slots_off),
			.keys = img + keys_off, .keys_len = 1, .keys_cap = f.keys_len,
			.filter = filter, .fmask = words - 1};
	for (unsigned si = 0; si < f.nsrc; si++) {
		ret = fill(&f, &o, si, img + data_off);
		if (ret != C2W_OK)
			goto done;
	}
	for (unsigned si = 0; si < f.nsrc; si++) {
		ret = walk_nodes(&f, &o, si);
		if (ret != C2W_OK)
			goto done;
	}
	h->keys_len = o.keys_len;
	for (uint32_t z = 0; z < zc; z++)
		if (zones[z].by_trigger[POLICY_TRIGGER_RESPONSE_IP] ||
		    zones[z].by_trigger[POLICY_TRIGGER_NSDNAME] ||
		    zones[z].by_trigger[POLICY_TRIGGER_NSIP])
			h->flags |= IMG_F_RESPONSE_RULES;
	h->checksum = XXH3_64bits(img + IMG_SUM_FROM, total - IMG_SUM_FROM);
	ret = C2W_ENOMEM;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		goto done;
	s->filter = filter;
	s->filter_mask = words - 1;
	ret = policy_img_attach(s, img, total, NULL, 0);
	if (ret != C2W_OK) {
		s->filter = NULL; /* still ours */
		free(s);
		s = NULL;
		goto done;
	}
	filter = NULL;
	img = NULL;
	/* The lifetimes of the entries stay as they were (increments carry no "expires="). */
	s->next_expiry = cur->next_expiry;
	memcpy(s->expired, cur->expired, sizeof(s->expired));
	*out = s;
	ret = C2W_OK;
done:
	free(img);
	free(filter);
	flat_free(&f);
	return ret;
}
