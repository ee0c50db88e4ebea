/* SPDX-License-Identifier: MIT */
/*
 * Snapshot lifetime: attach and verify an image (header, bounds, checksum), map a compiled
 * file read-only, write one atomically, free. The slot probe used by every lookup lives here.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/file.h"
#include "policy/image.h"

static int fail(char *err, size_t err_len, int code, const char *msg)
{
	if (err != NULL && err_len > 0)
		snprintf(err, err_len, "%s", msg);
	return code;
}

static bool in_bounds(uint64_t off, uint64_t len, uint64_t total)
{
	return off <= total && len <= total - off;
}

/* About 8 filter bits per slot (10 per rule at load factor 0.8): with two bits per key, a
 * probe for an absent key passes the filter about 5% of the time. */
static int filter_build(struct policy_snap *s, char *err, size_t err_len)
{
	uint64_t words = img_filter_words(s->hdr->slot_count);

	if (s->filter != NULL) {
		if (s->filter_mask != words - 1)
			return fail(err, err_len, C2W_EINVAL, "prebuilt filter of the wrong size");
		return C2W_OK; /* the compiler's, for this image */
	}
	s->filter = calloc(words, sizeof(*s->filter));
	if (s->filter == NULL)
		return fail(err, err_len, C2W_ENOMEM, "no memory for the snapshot's filter");
	s->filter_mask = words - 1;
	for (uint64_t i = 0; i < s->hdr->slot_count; i++) {
		const struct img_slot *sl = &s->slots[i];
		if (sl->key_off == 0 || sl->key_off >= s->hdr->keys_len ||
		    sl->key_off + 1 + (uint64_t)s->keys[sl->key_off] > s->hdr->keys_len)
			continue; /* policy_img_find() never returns such a slot either */
		uint64_t sh = img_slot_hash(policy_img_key_hash(s->keys + sl->key_off, sl->kind),
					    sl->zone, sl->kind);
		s->filter[img_filter_word(sh, s->filter_mask)] |= img_filter_bits(sh);
	}
	return C2W_OK;
}

int policy_img_attach(struct policy_snap *s, const uint8_t *base, size_t len, char *err,
		      size_t err_len)
{
	const struct img_header *h = (const void *)base;

	if (len < sizeof(*h) || memcmp(h->magic, IMG_MAGIC, 8) != 0)
		return fail(err, err_len, C2W_EMALF, "not a c2wall policy snapshot (bad magic)");
	if (h->version != IMG_VERSION || h->endian != IMG_ENDIAN)
		return fail(err, err_len, C2W_EVERSION,
			    "snapshot format version or byte order not supported: recompile it");
	if (h->file_len != len)
		return fail(err, err_len, C2W_EMALF, "snapshot truncated or has trailing bytes");
	if (XXH3_64bits(base + IMG_SUM_FROM, len - IMG_SUM_FROM) != h->checksum)
		return fail(err, err_len, C2W_ECHECKSUM, "snapshot checksum mismatch (corrupted)");
	if (h->zone_count > POLICY_ZONES_MAX || h->slot_count == 0 || h->slot_count > UINT32_MAX ||
	    !in_bounds(h->zones_off, (uint64_t)h->zone_count * sizeof(struct img_zone), len) ||
	    !in_bounds(h->slots_off, h->slot_count * sizeof(struct img_slot), len) ||
	    !in_bounds(h->keys_off, h->keys_len, len) ||
	    !in_bounds(h->data_off, h->data_len, len) || !in_bounds(h->str_off, h->str_len, len) ||
	    h->str_len == 0 || base[h->str_off + h->str_len - 1] != 0 ||
	    (h->zones_off | h->slots_off | h->data_off) % 8)
		return fail(err, err_len, C2W_EMALF, "snapshot sections out of bounds");
	s->base = base;
	s->len = len;
	s->hdr = h;
	s->zones = (const void *)(base + h->zones_off);
	s->slots = (const void *)(base + h->slots_off);
	s->keys = base + h->keys_off;
	s->data = base + h->data_off;
	s->str = (const char *)base + h->str_off;
	int ret = filter_build(s, err, err_len);
	if (ret != C2W_OK)
		s->base = NULL; /* the caller still owns @base */
	return ret;
}

int policy_snap_open(const char *path, struct policy_snap **out, char *err, size_t err_len)
{
	return policy_img_open(path, NULL, 0, out, err, err_len);
}

int policy_img_open(const char *path, uint64_t *filter, uint64_t mask, struct policy_snap **out,
		    char *err, size_t err_len)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return fail(err, err_len, -errno, "cannot open snapshot");
	if (fstat(fd, &st) != 0) {
		ret = -errno;
		close(fd);
		return fail(err, err_len, ret, "cannot stat snapshot");
	}
	if (st.st_size < (off_t)sizeof(struct img_header)) {
		close(fd);
		return fail(err, err_len, C2W_EMALF, "snapshot too short");
	}
	void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	ret = map == MAP_FAILED ? -errno : C2W_OK;
	close(fd);
	if (ret != C2W_OK)
		return fail(err, err_len, ret, "cannot map snapshot");
	struct policy_snap *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		munmap(map, (size_t)st.st_size);
		return C2W_ENOMEM;
	}
	s->mapped = true;
	s->filter = filter;
	s->filter_mask = mask;
	ret = policy_img_attach(s, map, (size_t)st.st_size, err, err_len);
	if (ret != C2W_OK) {
		munmap(map, (size_t)st.st_size);
		if (s->filter != filter)
			free(s->filter);
		free(s);
		return ret;
	}
	*out = s;
	return C2W_OK;
}

int policy_snap_write(const struct policy_snap *snap, const char *path)
{
	char tmp[4096];
	if (snap->parent != NULL)
		return C2W_EINVAL; /* an incremental snapshot is not one image */
	int fd = c2w_file_tmp_open(path, 0644, tmp, sizeof(tmp));
	if (fd < 0)
		return fd;
	size_t done = 0;
	while (done < snap->len) {
		ssize_t w = write(fd, snap->base + done, snap->len - done);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			goto out_err;
		}
		done += (size_t)w;
	}
	if (fsync(fd) != 0)
		goto out_err;
	if (close(fd) != 0) {
		fd = -1;
		goto out_err;
	}
	if (rename(tmp, path) != 0) {
		int e = -errno;
		unlink(tmp);
		return e;
	}
	return C2W_OK;
out_err : {
	int e = -errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return e;
}
}

int policy_img_out_begin(struct img_out *o, const char *path, size_t len)
{
	o->base = NULL;
	o->len = len;
	o->fd = c2w_file_tmp_open(path, 0644, o->tmp, sizeof(o->tmp));
	if (o->fd < 0)
		return o->fd;
	int ret = posix_fallocate(o->fd, 0, (off_t)len);
	if (ret != 0) {
		ret = -ret;
		goto out_unlink;
	}
	void *map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, o->fd, 0);
	if (map == MAP_FAILED) {
		ret = -errno;
		goto out_unlink;
	}
	o->base = map;
	return C2W_OK;
out_unlink:
	close(o->fd);
	o->fd = -1;
	unlink(o->tmp);
	return ret;
}

int policy_img_out_commit(struct img_out *o, const char *path)
{
	int ret = C2W_OK;

	if (fsync(o->fd) != 0)
		ret = -errno;
	if (close(o->fd) != 0 && ret == C2W_OK)
		ret = -errno;
	o->fd = -1;
	if (ret == C2W_OK && rename(o->tmp, path) != 0)
		ret = -errno;
	if (ret != C2W_OK) {
		unlink(o->tmp);
		return ret;
	}
	/* Readers get the same pages read-only, as from policy_snap_open(). */
	if (mprotect(o->base, o->len, PROT_READ) != 0)
		return -errno;
	return C2W_OK;
}

void policy_img_out_abort(struct img_out *o, bool unmap)
{
	if (o->fd >= 0) {
		close(o->fd);
		unlink(o->tmp);
		o->fd = -1;
	}
	if (unmap && o->base != NULL)
		munmap(o->base, o->len);
	o->base = NULL;
}

void policy_img_layers_release(struct img_layer *l)
{
	while (l != NULL && atomic_fetch_sub(&l->refs, 1) == 0) {
		struct img_layer *next = l->next;
		policy_snap_free(l->touched);
		policy_snap_free(l->rules);
		free(l);
		l = next;
	}
}

struct policy_snap *policy_snap_hold(const struct policy_snap *snap)
{
	/* The count is not the snapshot's contents: a holder may be any thread. */
	struct policy_snap *s = (struct policy_snap *)(uintptr_t)snap;
	atomic_fetch_add(&s->refs, 1);
	return s;
}

void policy_snap_free(struct policy_snap *snap)
{
	if (snap == NULL)
		return;
	if (atomic_fetch_sub(&snap->refs, 1) > 0)
		return; /* an incremental snapshot still reads this one */
	if (snap->parent != NULL) {
		policy_img_layers_release(snap->layers);
		free(snap->zones_own);
		policy_snap_free(snap->parent);
		free(snap);
		return;
	}
	if (snap->mapped)
		munmap((void *)(uintptr_t)snap->base, snap->len);
	else
		free((void *)(uintptr_t)snap->base);
	free(snap->filter);
	free(snap);
}

uint64_t policy_snap_rule_count(const struct policy_snap *snap)
{
	return snap->hdr->rule_count;
}

size_t policy_snap_zone_count(const struct policy_snap *snap)
{
	return snap->hdr->zone_count;
}

uint64_t policy_snap_size(const struct policy_snap *snap)
{
	return snap->len;
}

bool policy_snap_has_response_rules(const struct policy_snap *snap)
{
	return (snap->hdr->flags & IMG_F_RESPONSE_RULES) != 0;
}

bool policy_snap_has_ns_rules(const struct policy_snap *snap)
{
	for (uint32_t i = 0; i < snap->hdr->zone_count; i++)
		if (snap->zones[i].by_trigger[POLICY_TRIGGER_NSDNAME] != 0 ||
		    snap->zones[i].by_trigger[POLICY_TRIGGER_NSIP] != 0)
			return true;
	return false;
}

bool policy_snap_has_nsip_rules(const struct policy_snap *snap)
{
	for (uint32_t i = 0; i < snap->hdr->zone_count; i++)
		if (snap->zones[i].by_trigger[POLICY_TRIGGER_NSIP] != 0)
			return true;
	return false;
}

const struct img_slot *policy_img_find_own(const struct policy_snap *s, uint64_t h, unsigned zone,
					   unsigned kind, const uint8_t *key, size_t key_len)
{
	uint64_t count = s->hdr->slot_count;
	uint64_t sh = img_slot_hash(h, zone, kind);
	uint64_t fb = img_filter_bits(sh);
	if ((s->filter[img_filter_word(sh, s->filter_mask)] & fb) != fb)
		return NULL;
	uint32_t tag = img_tag(sh);
	uint64_t i = img_slot_index(sh, count);
	bool early = !(s->hdr->flags & IMG_F_DIST_SATURATED);

	/* Bounded: the table always has empty slots (load factor 0.8). */
	for (uint64_t n = 0; n < count; n++) {
		const struct img_slot *sl = &s->slots[i];
		if (sl->key_off == 0 || (early && (sl->tag & 0xff) < n))
			return NULL;
		if ((sl->tag & ~0xffu) == tag && sl->zone == zone && sl->kind == kind &&
		    sl->key_off < s->hdr->keys_len) {
			const uint8_t *k = s->keys + sl->key_off;
			if (k[0] == key_len && sl->key_off + 1 + key_len <= s->hdr->keys_len &&
			    memcmp(k + 1, key, key_len) == 0)
				return sl;
		}
		i = i + 1 == count ? 0 : i + 1;
	}
	return NULL;
}

/* Newest layer first: a key an increment touched is answered by that layer alone (its new
 * rule, or nothing when it was deleted); other keys fall through to older layers and the base.
 * Never-block entries are never touched by increments. */
const struct img_slot *policy_img_find(const struct policy_snap *s, uint64_t h, unsigned zone,
				       unsigned kind, const uint8_t *key, size_t key_len)
{
	const struct img_slot *sl;
	if (kind & IMG_KIND_NODE) {
		/* A node exists while any rule below it does, and other owners than the touched
		 * ones may keep it: it exists when any layer or the base has it (see overlay.c). */
		for (const struct img_layer *l = s->layers; l != NULL; l = l->next)
			if ((sl = policy_img_find_own(l->rules, h, zone, kind, key, key_len)) != NULL)
				return sl;
	} else if (!(kind & IMG_KIND_PROTECT)) {
		for (const struct img_layer *l = s->layers; l != NULL; l = l->next)
			if (policy_img_find_own(l->touched, h, zone, kind, key, key_len) != NULL)
				return policy_img_find_own(l->rules, h, zone, kind, key, key_len);
	}
	return policy_img_find_own(s, h, zone, kind, key, key_len);
}

static bool slot_in(const struct policy_snap *s, const struct img_slot *sl)
{
	return sl >= s->slots && sl < s->slots + s->hdr->slot_count;
}

const struct policy_snap *policy_img_src(const struct policy_snap *s, const struct img_slot *sl)
{
	for (const struct img_layer *l = s->layers; l != NULL; l = l->next)
		if (slot_in(l->rules, sl))
			return l->rules;
	return s;
}

uint32_t policy_img_rule(const struct policy_snap *s, const struct img_slot *sl)
{
	for (const struct img_layer *l = s->layers; l != NULL; l = l->next)
		if (slot_in(l->rules, sl))
			return (uint32_t)(s->hdr->slot_count + l->rule_base +
					  (uint64_t)(sl - l->rules->slots));
	return (uint32_t)(sl - s->slots);
}

const struct img_slot *policy_img_rule_slot(const struct policy_snap *s, uint32_t rule,
					    const struct policy_snap **src)
{
	if (rule < s->hdr->slot_count) {
		*src = s;
		return &s->slots[rule];
	}
	uint64_t r = rule - s->hdr->slot_count;
	for (const struct img_layer *l = s->layers; l != NULL; l = l->next)
		if (r >= l->rule_base && r - l->rule_base < l->rules->hdr->slot_count) {
			*src = l->rules;
			return &l->rules->slots[r - l->rule_base];
		}
	return NULL;
}
