/* SPDX-License-Identifier: MIT */
/*
 * The compiled snapshot image, internal to src/policy: a versioned header, a zone table, one
 * open-addressing hash table of 16-byte slots for every rule of every zone (name triggers keyed
 * by suffix hashes, IP triggers by (family, prefix length, masked address)), and three blobs
 * (keys, rule data, strings) referenced by 32-bit offsets. Position-independent: the file is
 * mapped read-only as it is. Native byte order (the header records it).
 */
#ifndef C2W_POLICY_IMAGE_H
#define C2W_POLICY_IMAGE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xxhash.h>

#include "policy/policy.h"

#define IMG_MAGIC    "C2WPOLS\0"
#define IMG_VERSION  2
#define IMG_ENDIAN   0x01020304u
#define IMG_SUM_FROM 64 /* the checksum covers bytes [IMG_SUM_FROM, file_len) */
#define IMG_SEED     0x63327761ull
#define IMG_LOAD_NUM 4 /* slots = rules * 5 / 4 + 1: load factor 0.8 */
#define IMG_LOAD_DEN 5

/* Slot kinds: trigger type, plus flags. */
#define IMG_KIND_WILD    0x08
#define IMG_KIND_PROTECT 0x10 /* never-block entry; zone is 0 */
#define IMG_KIND_NODE    0x20 /* with QNAME: an ancestor of a QNAME trigger (no rule data) */

struct img_header {
	char magic[8];
	uint32_t version;
	uint32_t endian;
	uint64_t file_len;
	uint64_t checksum;
	uint8_t reserved[32];
	/* checksummed from here (offset 64) */
	uint32_t zone_count;
	uint32_t flags; /* IMG_F_* */
	uint64_t rule_count;
	uint64_t protect_count;
	uint64_t slot_count;
	uint64_t zones_off;
	uint64_t slots_off;
	uint64_t keys_off, keys_len;
	uint64_t data_off, data_len;
	uint64_t str_off, str_len;
	uint64_t created; /* unix time */
};

#define IMG_F_RESPONSE_RULES 1u /* some zone has RESPONSE-IP, NSDNAME or NSIP rules */
#define IMG_F_DIST_SATURATED 2u /* a probe distance hit 255: no Robin Hood early exit */

/* IP trigger families in lenmask. */
#define IMG_IP_TRIGGERS 3 /* client-ip, response-ip, nsip */

struct img_zone {
	uint64_t rule_count;
	uint64_t lenmask[IMG_IP_TRIGGERS][2][3]; /* [trigger][v4,v6] bit b: a /b rule exists */
	uint64_t by_trigger[POLICY_TRIGGER_COUNT];
	uint64_t by_action[POLICY_ACTION_COUNT];
	uint32_t name_off;   /* str: presentation form */
	uint32_t origin_off; /* str: wire form */
	uint32_t feed_off, category_off, family_off;
	uint32_t cname_off; /* str: wire form of the override CNAME target, 0 = none */
	uint32_t soa_off;   /* str: SOA rdata */
	uint32_t soa_len;
	uint32_t soa_ttl;
	uint8_t override;
	uint8_t ede_filtered;
	uint8_t has4, has6;
	uint8_t s4[4];
	uint8_t s6[16];
	uint8_t has_exact[POLICY_TRIGGER_COUNT];
	uint8_t has_wild[POLICY_TRIGGER_COUNT];
	uint8_t format;
	uint8_t pad[5];
};

struct img_slot {
	uint32_t tag;      /* bits 8..31: slot-hash bits; bits 0..7: Robin Hood probe distance */
	uint32_t key_off;  /* keys blob: [len][bytes]; 0 = empty slot */
	uint32_t data_off; /* data blob: struct img_data */
	uint8_t zone;
	uint8_t kind;
	uint16_t first_seen; /* days since 1970-01-01, 0 = unknown */
};

/* Rule data, deduplicated: most rules of a feed share one. Followed by rr_count records
 * [type u16][rdlen u16][rdata], unaligned, native order for the two u16. */
struct img_data {
	uint8_t action; /* enum policy_action as the feed gave it */
	uint8_t pad;
	uint16_t rr_count;
	uint32_t ttl;
	uint32_t category_off; /* str; 0 = zone default */
	uint32_t family_off;   /* str; 0 = zone default */
};

_Static_assert(sizeof(struct img_header) == 168, "header layout");
_Static_assert(sizeof(struct img_slot) == 16, "slot layout");
_Static_assert(sizeof(struct img_data) == 16, "data layout");
_Static_assert(sizeof(struct img_zone) % 8 == 0, "zone layout");

/*
 * One applied increment (overlay.c): @touched holds a slot for every trigger key the increment
 * changed (zone, kind, key), @rules the rules those keys have in the new version (a key in
 * @touched but not in @rules was deleted). Both are small compiled images in anonymous memory,
 * immutable once published; layers are shared, newest first, by the snapshots built on them.
 */
struct img_layer {
	struct policy_snap *touched;
	struct policy_snap *rules;
	uint64_t rule_base; /* hit->rule of rules->slots[0], minus the base's slot count */
	struct img_layer *next;
	atomic_uint refs; /* holders besides the first */
};

struct policy_snap {
	const uint8_t *base;
	size_t len;
	bool mapped; /* munmap vs free */
	const struct img_header *hdr;
	const struct img_zone *zones;
	const struct img_slot *slots;
	const uint8_t *keys, *data;
	const char *str;
	/* Built at attach time, not stored in the file: a blocked Bloom filter over every
	 * slot's hash, so that a probe for a name no rule has (nearly every query) usually
	 * touches one word of a small array instead of the large slot table. */
	uint64_t *filter;
	uint64_t filter_mask; /* words - 1 */
	/* Set by policy_snap_build(), not stored in the file: "expires=" bookkeeping. */
	int64_t next_expiry;                /* earliest expiry still ahead; 0 = none */
	uint64_t expired[POLICY_ZONES_MAX]; /* per zone: entries left out as expired */
	/* Incremental snapshots (overlay.c): the fields above are borrowed from @parent (the
	 * full snapshot), except hdr and zones, which point at this snapshot's own copies with
	 * the counts and trigger flags after every layer. Full snapshots: parent NULL. */
	struct policy_snap *parent;
	struct img_layer *layers; /* newest first */
	unsigned layer_count;
	uint64_t layer_rules; /* touched keys over all layers */
	struct img_header hdr_own;
	struct img_zone *zones_own;
	atomic_uint refs; /* holders besides the first (incremental snapshots on this one,
			   policy_snap_hold()) */
};

/* The two filter bits of a slot hash, and its word. */
static inline uint64_t img_filter_bits(uint64_t sh)
{
	return (1ull << ((sh >> 52) & 63)) | (1ull << ((sh >> 58) & 63));
}

/* Words of the filter for a table of @slot_count slots: a power of two, >= slots / 8. */
static inline uint64_t img_filter_words(uint64_t slot_count)
{
	uint64_t words = 1;
	while (words * 8 < slot_count)
		words *= 2;
	return words;
}

static inline uint64_t img_filter_word(uint64_t sh, uint64_t mask)
{
	return (sh >> 12) & mask;
}

static inline uint64_t img_fmix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

/* Hash of one more label (length byte + bytes) in front of a suffix with hash @h. */
static inline uint64_t img_label_hash(const uint8_t *label, uint64_t h)
{
	return XXH3_64bits_withSeed(label, (size_t)label[0] + 1, h);
}

static inline uint64_t img_slot_hash(uint64_t h, unsigned zone, unsigned kind)
{
	return img_fmix(h ^ ((uint64_t)(zone << 8 | kind) + 1) * 0x9e3779b97f4a7c15ull);
}

static inline uint64_t img_slot_index(uint64_t h, uint64_t count)
{
	return (uint64_t)(((unsigned __int128)h * count) >> 64);
}

/* The tag bits of a slot hash (distance bits clear). */
static inline uint32_t img_tag(uint64_t sh)
{
	return (uint32_t)sh & ~0xffu;
}

/*
 * Hash of a relative name key (wire labels without the root, lower case): labels from the
 * right, starting at IMG_SEED. Used by the compiler; the matcher computes the same values
 * incrementally for every suffix of the query name.
 */
uint64_t policy_img_name_hash(const uint8_t *key, size_t len);

/** The hash a slot's key @k ([len][bytes]) is filed under for its @kind (name or IP). */
uint64_t policy_img_key_hash(const uint8_t *k, unsigned kind);

/** Hash of an IP key [family][bits][masked address bytes]. */
static inline uint64_t img_ip_hash(const uint8_t *key, size_t len)
{
	return XXH3_64bits_withSeed(key, len, IMG_SEED);
}

/**
 * Find the slot for (@zone, @kind, @key) with precomputed name/IP hash @h.
 * @return the slot or NULL
 */
const struct img_slot *policy_img_find(const struct policy_snap *s, uint64_t h, unsigned zone,
				       unsigned kind, const uint8_t *key, size_t key_len);

/** policy_img_find() on @s's own table only, ignoring layers. */
const struct img_slot *policy_img_find_own(const struct policy_snap *s, uint64_t h, unsigned zone,
					   unsigned kind, const uint8_t *key, size_t key_len);

/** The image a slot returned by policy_img_find() lives in (@s or a layer's rules). */
const struct policy_snap *policy_img_src(const struct policy_snap *s, const struct img_slot *sl);

/** The rule index of a slot (struct policy_hit.rule), unique over base and layers. */
uint32_t policy_img_rule(const struct policy_snap *s, const struct img_slot *sl);

/** The slot of rule index @rule and its image. @return NULL when out of range */
const struct img_slot *policy_img_rule_slot(const struct policy_snap *s, uint32_t rule,
					    const struct policy_snap **src);

/** Drop one hold on a chain of layers (frees those nobody else holds). */
void policy_img_layers_release(struct img_layer *l);

/**
 * Attach a verified image (header, bounds) to @s. @s->filter is NULL (it is built here from
 * the slots), or the filter the compiler made for this very image (policy_rules_filter()),
 * which @s then owns.
 * @return C2W_OK or C2W_EMALF
 */
int policy_img_attach(struct policy_snap *s, const uint8_t *base, size_t len, char *err,
		      size_t err_len);

/**
 * policy_snap_open() with a prebuilt @filter (words @mask + 1) for the image in @path, or
 * NULL to build it. On success *out owns @filter; on failure the caller still does.
 */
int policy_img_open(const char *path, uint64_t *filter, uint64_t mask, struct policy_snap **out,
		    char *err, size_t err_len);

/* A snapshot file being written through a shared mapping (snap.c). */
struct img_out {
	int fd;
	char tmp[4096]; /* the temporary's name, renamed to the target on commit */
	uint8_t *base;
	size_t len;
};

/**
 * Create a temporary beside @path, reserve @len bytes of disk for it (a full disk fails here,
 * not as SIGBUS on a write through the mapping) and map it writable; o->base reads as zeros.
 * @return C2W_OK or a negative errno (nothing is left behind)
 */
int policy_img_out_begin(struct img_out *o, const char *path, size_t len);

/**
 * Flush the image to disk, rename it to @path and make the mapping read-only. The mapping
 * (o->base, o->len) stays: the caller unmaps it (a snapshot with mapped = true does).
 * @return C2W_OK or a negative errno (the temporary is then removed, the mapping stays)
 */
int policy_img_out_commit(struct img_out *o, const char *path);

/** Give up before the commit: remove the temporary. Unmaps too when @unmap. */
void policy_img_out_abort(struct img_out *o, bool unmap);

static inline const char *img_str(const struct policy_snap *s, uint32_t off)
{
	return s->str + off;
}

static inline const struct img_data *img_data_at(const struct policy_snap *s, uint32_t off)
{
	return (const struct img_data *)(const void *)(s->data + off);
}

/* Bytes of the data entry at @p: struct img_data and its records. */
static inline size_t img_data_len(const uint8_t *p)
{
	const struct img_data *d = (const void *)p;
	size_t o = sizeof(*d);
	for (unsigned i = 0; i < d->rr_count; i++) {
		uint16_t rdlen;
		__builtin_memcpy(&rdlen, p + o + 2, 2);
		o += 4 + rdlen;
	}
	return o;
}

/* Record an IP trigger's prefix length (key [family][bits]...) in its zone's lenmask. */
static inline void img_zone_note_ip(struct img_zone *z, unsigned trigger, const uint8_t *k)
{
	if (trigger != POLICY_TRIGGER_CLIENT_IP && trigger != POLICY_TRIGGER_RESPONSE_IP &&
	    trigger != POLICY_TRIGGER_NSIP)
		return;
	unsigned ti = trigger == POLICY_TRIGGER_CLIENT_IP     ? 0
		      : trigger == POLICY_TRIGGER_RESPONSE_IP ? 1
							      : 2;
	unsigned fam = k[1] == 6, bits = k[2];
	z->lenmask[ti][fam][bits / 64] |= 1ull << (bits % 64);
}

#endif
