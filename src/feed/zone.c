/* SPDX-License-Identifier: MIT */
/*
 * Record set of a transferred zone (open addressing over owned strings) and its disk copy.
 * Nothing here knows the wire format: lines come from libknot's dumper (feed/xfr.c).
 *
 * Both tables use linear probing with backward-shift deletion, no tombstones: a slot is in
 * use only for a live record (or owner), so an increment that deletes as much as it adds
 * never grows them. With tombstones, a 100,000-change IXFR on a 1M-record zone doubled both
 * 32 MiB tables mid-apply (docs/BENCHMARKS.md, issue 9 memory).
 */
#include "feed/zone.h"

#include "core/mem.h"

#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#define LINE_MAX_LEN 70000 /* 64 KiB of RDATA in presentation form, and the header */

struct rec {
	char *key;  /* NULL = empty slot */
	char *line; /* as given */
};

struct ocount {
	uint64_t h;
	uint64_t n;
};

/* Undo journal entries (feed_zone_journal_begin()). 24 bytes: one per change of an
 * increment, held until its policy is in force. */
enum jop {
	J_REMOVE, /* undo an insert: remove @key, the zone's own (borrowed: see jr_undo()) */
	J_PUT,    /* undo a delete or a replace: put @key/@line back (owned) */
};

struct jent {
	char *key, *line;
	enum jop op;
};

struct feed_zone {
	char *origin;
	struct rec *slots;
	/* The low 32 bits of each slot's key hash: its home (cap <= 2^32) and a tag checked
	 * before the key. Probing and deleting then read no key but the one looked for: at 10M
	 * records each key read is a cache and TLB miss, and the backward shift of a delete read
	 * every key of the run after it (issue 9). 4 bytes a slot. */
	uint32_t *tags;
	size_t cap;   /* power of two, at least twice @count */
	size_t count; /* records */
	char *soa_line;
	struct feed_soa soa;
	bool has_soa;
	/* Records per owner, keyed by a 64-bit hash of the owner (0 = empty; an entry goes when
	 * its count drops to 0). A collision only overstates a count: feed_zone_owner_count()
	 * is an upper bound, exact but for a 2^-64 chance. */
	struct ocount *own;
	size_t own_cap, own_used; /* power of two, at least twice @own_used; entries in use */
	/* Not counted as records come (feed_zone_defer_owners()): @own is empty until
	 * feed_zone_count_owners() counts them all at once. */
	bool own_deferred;
	bool journaling;
	struct jent *jr;
	size_t jr_count, jr_cap;
	/* The SOA as it was at the journal's begin, once a change replaced it. */
	bool jr_soa_saved, jr_has_soa;
	char *jr_soa_line;
	struct feed_soa jr_soa;
};

bool feed_serial_gt(uint32_t a, uint32_t b)
{
	return a != b && (int32_t)(a - b) > 0;
}

int feed_zone_new(const char *origin, struct feed_zone **out)
{
	struct feed_zone *z = calloc(1, sizeof(*z));
	if (z == NULL || (z->origin = strdup(origin)) == NULL ||
	    (z->slots = calloc(64, sizeof(*z->slots))) == NULL ||
	    (z->tags = calloc(64, sizeof(*z->tags))) == NULL) {
		feed_zone_free(z);
		return C2W_ENOMEM;
	}
	z->cap = 64;
	*out = z;
	return C2W_OK;
}

void feed_zone_free(struct feed_zone *z)
{
	if (z == NULL)
		return;
	for (size_t i = 0; z->slots != NULL && i < z->cap; i++) {
		free(z->slots[i].key);
		free(z->slots[i].line);
	}
	free(z->slots);
	free(z->tags);
	free(z->soa_line);
	free(z->origin);
	free(z->own);
	feed_zone_commit(z);
	free(z);
}

/*
 * Identity of a record: owner, class, type and data, blanks collapsed, lower case (names
 * compare case-insensitively; TXT case is lost for matching only, never in the copy).
 * @ttl_out gets the TTL field. @return the key (malloc) or NULL (malformed or ENOMEM).
 */
static char *record_key(const char *line, int *why)
{
	size_t len = strlen(line);
	char *key = malloc(len + 1);
	if (key == NULL) {
		*why = C2W_ENOMEM;
		return NULL;
	}
	size_t k = 0;
	unsigned field = 0;
	const char *p = line;
	while (*p != '\0') {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0' || *p == '\n')
			break;
		const char *s = p;
		while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\n')
			p++;
		field++;
		if (field == 2)
			continue; /* the TTL */
		if (k > 0)
			key[k++] = ' ';
		for (; s < p; s++)
			key[k++] = (char)tolower((unsigned char)*s);
	}
	key[k] = '\0';
	if (field < 5) {
		free(key);
		*why = C2W_EMALF;
		return NULL;
	}
	return key;
}

static size_t slot_of(const struct feed_zone *z, const char *key, bool *found);
static uint32_t key_tag(const char *key);

static uint64_t owner_hash(const char *key_or_line, size_t *len)
{
	size_t n = 0;
	while (key_or_line[n] != '\0' && key_or_line[n] != ' ' && key_or_line[n] != '\t')
		n++;
	if (len != NULL)
		*len = n;
	char low[256];
	size_t m = n < sizeof(low) ? n : sizeof(low);
	for (size_t i = 0; i < m; i++)
		low[i] = (char)tolower((unsigned char)key_or_line[i]);
	uint64_t h = XXH3_64bits(low, m);
	return h ? h : 1;
}

static size_t own_home(const struct feed_zone *z, uint64_t h)
{
	return (size_t)(h >> 7) & (z->own_cap - 1);
}

static struct ocount *own_find(const struct feed_zone *z, uint64_t h)
{
	if (z->own_cap == 0)
		return NULL;
	size_t mask = z->own_cap - 1;
	for (size_t i = own_home(z, h);; i = (i + 1) & mask)
		if (z->own[i].h == h || z->own[i].h == 0)
			return &z->own[i];
}

/* Take entry @e out: the entries after it in its probe run that may move back into the gap
 * do (backward-shift deletion, Knuth's algorithm R), so no marker is left behind. */
static void own_remove(struct feed_zone *z, struct ocount *e)
{
	size_t mask = z->own_cap - 1, i = (size_t)(e - z->own);
	for (size_t j = (i + 1) & mask; z->own[j].h != 0; j = (j + 1) & mask) {
		if (((j - own_home(z, z->own[j].h)) & mask) >= ((j - i) & mask)) {
			z->own[i] = z->own[j];
			i = j;
		}
	}
	z->own[i] = (struct ocount){0};
	z->own_used--;
}

/* Room for one more owner, so that counting never fails afterwards. */
static int own_reserve(struct feed_zone *z)
{
	if ((z->own_used + 1) * 2 <= z->own_cap)
		return C2W_OK;
	size_t ncap = z->own_cap ? z->own_cap * 2 : 64;
	struct ocount *old = z->own;
	size_t ocap = z->own_cap;
	struct ocount *n = c2w_calloc_huge(ncap, sizeof(*n));
	if (n == NULL)
		return C2W_ENOMEM;
	z->own = n;
	z->own_cap = ncap;
	for (size_t i = 0; i < ocap; i++)
		if (old[i].h != 0)
			*own_find(z, old[i].h) = old[i];
	free(old);
	return C2W_OK;
}

/* Count a record of @key's owner in (+1) or out (-1); an owner without records leaves the
 * table. +1 needs own_reserve() first (or, in a rollback, a table that held the entry). */
static void own_count(struct feed_zone *z, const char *key, int delta)
{
	if (z->own_deferred)
		return;
	uint64_t h = owner_hash(key, NULL);
	struct ocount *e = own_find(z, h);
	if (e == NULL)
		return;
	if (e->h == 0) {
		if (delta < 0)
			return;
		e->h = h;
		z->own_used++;
	}
	if (delta > 0)
		e->n++;
	else if (--e->n == 0)
		own_remove(z, e);
}

uint64_t feed_zone_owner_count(const struct feed_zone *z, const char *owner)
{
	if (z->own_deferred)
		return UINT64_MAX; /* not counted: matches no count a caller has */
	const struct ocount *e = own_find(z, owner_hash(owner, NULL));
	return e != NULL && e->h != 0 ? e->n : 0;
}

void feed_zone_defer_owners(struct feed_zone *z)
{
	if (z->count == 0)
		z->own_deferred = true;
}

int feed_zone_count_owners(struct feed_zone *z)
{
	if (!z->own_deferred)
		return C2W_OK;
	/* Sized once for every record being its own owner (the usual RPZ case), so the table
	 * never grows: at 1M records, counting as they came took a fifth of the transfer
	 * thread's time, half of it in rehashing as the table doubled. */
	size_t cap = 64;
	while (cap < 2 * (z->count + 1))
		cap *= 2;
	struct ocount *n = c2w_calloc_huge(cap, sizeof(*n));
	if (n == NULL)
		return C2W_ENOMEM;
	free(z->own);
	z->own = n;
	z->own_cap = cap;
	z->own_used = 0;
	z->own_deferred = false;
	for (size_t i = 0; i < z->cap; i++)
		if (z->slots[i].key != NULL)
			own_count(z, z->slots[i].key, +1);
	return C2W_OK;
}

size_t feed_zone_table_bytes(const struct feed_zone *z)
{
	return z->cap * (sizeof(*z->slots) + sizeof(*z->tags)) + z->own_cap * sizeof(*z->own);
}

const char *feed_zone_line(const struct feed_zone *z, const char *line)
{
	int why = C2W_OK;
	char *key = record_key(line, &why);
	if (key == NULL)
		return NULL;
	bool found;
	size_t i = slot_of(z, key, &found);
	free(key);
	return found ? z->slots[i].line : NULL;
}

static uint32_t key_tag(const char *key)
{
	return (uint32_t)XXH3_64bits(key, strlen(key));
}

/* The slot of @key (tag @tag), or the empty slot where it goes. */
static size_t slot_of_tag(const struct feed_zone *z, const char *key, uint32_t tag, bool *found)
{
	size_t mask = z->cap - 1;
	for (size_t i = tag & mask;; i = (i + 1) & mask) {
		const struct rec *r = &z->slots[i];
		if (r->key == NULL || (z->tags[i] == tag && strcmp(r->key, key) == 0)) {
			*found = r->key != NULL;
			return i;
		}
	}
}

static size_t slot_of(const struct feed_zone *z, const char *key, bool *found)
{
	return slot_of_tag(z, key, key_tag(key), found);
}

/* Fill empty slot @i with @key/@line, tag @tag. */
static void slot_set(struct feed_zone *z, size_t i, char *key, char *line, uint32_t tag)
{
	z->slots[i].key = key;
	z->slots[i].line = line;
	z->tags[i] = tag;
}

/* Empty slot @i (its strings are the caller's): backward-shift deletion, as own_remove(). */
static void slot_remove(struct feed_zone *z, size_t i)
{
	size_t mask = z->cap - 1;
	for (size_t j = (i + 1) & mask; z->slots[j].key != NULL; j = (j + 1) & mask) {
		if (((j - (z->tags[j] & mask)) & mask) >= ((j - i) & mask)) {
			z->slots[i] = z->slots[j];
			z->tags[i] = z->tags[j];
			i = j;
		}
	}
	z->slots[i] = (struct rec){0};
	z->tags[i] = 0;
	z->count--;
}

static int grow(struct feed_zone *z)
{
	size_t ncap = z->cap * 2;
	if (ncap > ((size_t)1 << 32))
		return C2W_ENOMEM; /* the tags hold 32 bits of home */
	struct rec *old = z->slots;
	uint32_t *otags = z->tags;
	size_t ocap = z->cap;
	struct rec *n = c2w_calloc_huge(ncap, sizeof(*n));
	uint32_t *nt = c2w_calloc_huge(ncap, sizeof(*nt));
	if (n == NULL || nt == NULL) {
		free(n);
		free(nt);
		return C2W_ENOMEM;
	}
	z->slots = n;
	z->tags = nt;
	z->cap = ncap;
	size_t mask = ncap - 1;
	for (size_t i = 0; i < ocap; i++) {
		if (old[i].key == NULL)
			continue;
		/* Keys are unique: the first empty slot from the home, no key read. */
		size_t j = otags[i] & mask;
		while (n[j].key != NULL)
			j = (j + 1) & mask;
		n[j] = old[i];
		nt[j] = otags[i];
	}
	free(old);
	free(otags);
	return C2W_OK;
}

/* Room for one more journal entry (reserved before a change, so logging never fails). */
static int jr_reserve(struct feed_zone *z)
{
	if (!z->journaling || z->jr_count < z->jr_cap)
		return C2W_OK;
	size_t cap = z->jr_cap ? z->jr_cap * 2 : 64;
	struct jent *n = realloc(z->jr, cap * sizeof(*n));
	if (n == NULL)
		return C2W_ENOMEM;
	z->jr = n;
	z->jr_cap = cap;
	return C2W_OK;
}

static void jr_log(struct feed_zone *z, enum jop op, char *key, char *line)
{
	z->jr[z->jr_count++] = (struct jent){.key = key, .line = line, .op = op};
}

/* Insert with ownership of @key and @line. */
static int put(struct feed_zone *z, char *key, char *line)
{
	if ((z->count + 1) * 2 > z->cap && grow(z) != C2W_OK) {
		free(key);
		free(line);
		return C2W_ENOMEM;
	}
	if ((!z->own_deferred && own_reserve(z) != C2W_OK) || jr_reserve(z) != C2W_OK) {
		free(key);
		free(line);
		return C2W_ENOMEM;
	}
	bool found;
	uint32_t tag = key_tag(key);
	size_t i = slot_of_tag(z, key, tag, &found);
	if (found) {
		if (z->journaling) {
			jr_log(z, J_PUT, key, z->slots[i].line); /* @key: a copy of the slot's */
		} else {
			free(key);
			free(z->slots[i].line);
		}
		z->slots[i].line = line;
		return C2W_OK;
	}
	if (z->journaling)
		jr_log(z, J_REMOVE, key, NULL);
	slot_set(z, i, key, line, tag);
	z->count++;
	own_count(z, key, +1);
	return C2W_OK;
}

int feed_zone_add(struct feed_zone *z, const char *line)
{
	int why = C2W_OK;
	char *key = record_key(line, &why);
	if (key == NULL)
		return why;
	char *copy = strdup(line);
	if (copy == NULL) {
		free(key);
		return C2W_ENOMEM;
	}
	return put(z, key, copy);
}

int feed_zone_del(struct feed_zone *z, const char *line)
{
	int why = C2W_OK;
	char *key = record_key(line, &why);
	if (key == NULL)
		return why;
	bool found;
	size_t i = slot_of(z, key, &found);
	free(key);
	if (!found)
		return C2W_ENOENT;
	if (jr_reserve(z) != C2W_OK)
		return C2W_ENOMEM;
	own_count(z, z->slots[i].key, -1);
	if (z->journaling) {
		jr_log(z, J_PUT, z->slots[i].key, z->slots[i].line);
	} else {
		free(z->slots[i].key);
		free(z->slots[i].line);
	}
	slot_remove(z, i);
	return C2W_OK;
}

int feed_zone_set_soa(struct feed_zone *z, const char *line, const struct feed_soa *soa)
{
	char *copy = strdup(line);
	if (copy == NULL)
		return C2W_ENOMEM;
	if (z->journaling && !z->jr_soa_saved) {
		z->jr_soa_saved = true;
		z->jr_soa_line = z->soa_line;
		z->jr_soa = z->soa;
		z->jr_has_soa = z->has_soa;
	} else {
		free(z->soa_line);
	}
	z->soa_line = copy;
	z->soa = *soa;
	z->has_soa = true;
	return C2W_OK;
}

bool feed_zone_soa(const struct feed_zone *z, struct feed_soa *out)
{
	if (z->has_soa)
		*out = z->soa;
	return z->has_soa;
}

size_t feed_zone_count(const struct feed_zone *z)
{
	return z->count;
}

void feed_zone_journal_begin(struct feed_zone *z)
{
	feed_zone_commit(z);
	z->journaling = true;
}

void feed_zone_commit(struct feed_zone *z)
{
	for (size_t i = 0; i < z->jr_count; i++) {
		if (z->jr[i].op == J_PUT)
			free(z->jr[i].key);
		free(z->jr[i].line);
	}
	free(z->jr);
	z->jr = NULL;
	z->jr_count = z->jr_cap = 0;
	free(z->jr_soa_line);
	z->jr_soa_line = NULL;
	z->jr_soa_saved = false;
	z->journaling = false;
}

/*
 * Undo one entry; ownership of its strings moves back into the zone. Cannot fail: undone in
 * reverse order, the zone goes back through record and owner counts it held before, in tables
 * that never shrink, so a put-back finds an empty slot (and its owner an entry) as it is.
 * A J_REMOVE's key is the inserted record's own: whatever came after (a delete moved it into a
 * J_PUT, a replace kept it in the slot), the later entries, undone first, put it back in the
 * zone, so it is alive and found here, and freed once, with the record.
 */
static void jr_undo(struct feed_zone *z, struct jent *e)
{
	bool found;
	uint32_t tag = key_tag(e->key);
	size_t i = slot_of_tag(z, e->key, tag, &found);
	if (e->op == J_REMOVE) {
		if (found) {
			own_count(z, z->slots[i].key, -1);
			free(z->slots[i].key);
			free(z->slots[i].line);
			slot_remove(z, i);
		}
		return;
	}
	if (found) {
		free(e->key);
		free(z->slots[i].line);
		z->slots[i].line = e->line;
		return;
	}
	slot_set(z, i, e->key, e->line, tag);
	z->count++;
	own_count(z, e->key, +1); /* no allocation: see above */
}

void feed_zone_rollback(struct feed_zone *z)
{
	while (z->jr_count > 0)
		jr_undo(z, &z->jr[--z->jr_count]);
	if (z->jr_soa_saved) {
		free(z->soa_line);
		z->soa_line = z->jr_soa_line;
		z->soa = z->jr_soa;
		z->has_soa = z->jr_has_soa;
		z->jr_soa_line = NULL;
		z->jr_soa_saved = false;
	}
	feed_zone_commit(z);
}

int feed_zone_foreach(const struct feed_zone *z, int (*cb)(void *ctx, const char *line), void *ctx)
{
	for (size_t i = 0; i < z->cap; i++) {
		const struct rec *r = &z->slots[i];
		if (r->key == NULL)
			continue;
		int ret = cb(ctx, r->line);
		if (ret != 0)
			return ret;
	}
	return 0;
}

int feed_zone_clone(const struct feed_zone *src, struct feed_zone **out)
{
	struct feed_zone *z = calloc(1, sizeof(*z));
	if (z == NULL)
		return C2W_ENOMEM;
	z->cap = src->cap;
	z->soa = src->soa;
	z->has_soa = src->has_soa;
	z->origin = strdup(src->origin);
	z->slots = c2w_calloc_huge(src->cap, sizeof(*z->slots));
	z->tags = c2w_calloc_huge(src->cap, sizeof(*z->tags));
	if (z->origin == NULL || z->slots == NULL || z->tags == NULL ||
	    (src->soa_line != NULL && (z->soa_line = strdup(src->soa_line)) == NULL))
		goto out_nomem;
	/* Same capacity, same hash: every record keeps its slot. */
	for (size_t i = 0; i < src->cap; i++) {
		const struct rec *r = &src->slots[i];
		if (r->key == NULL)
			continue;
		z->slots[i].key = strdup(r->key);
		z->slots[i].line = strdup(r->line);
		if (z->slots[i].key == NULL || z->slots[i].line == NULL) {
			free(z->slots[i].key);
			free(z->slots[i].line);
			z->slots[i].key = NULL;
			z->slots[i].line = NULL;
			goto out_nomem;
		}
		z->tags[i] = src->tags[i];
		z->count++;
		if (!src->own_deferred) {
			if (own_reserve(z) != C2W_OK)
				goto out_nomem;
			own_count(z, z->slots[i].key, +1);
		}
	}
	z->own_deferred = src->own_deferred;
	*out = z;
	return C2W_OK;
out_nomem:
	feed_zone_free(z);
	return C2W_ENOMEM;
}

/* ---- disk copy ------------------------------------------------------------------------- */

static int write_all(FILE *f, const struct feed_zone *z, const struct feed_zone_meta *meta)
{
	fprintf(f, "; c2wall-xfr v1 origin=%s serial=%" PRIu32 " refreshed=%" PRId64 " from=%s\n",
		z->origin, z->soa.serial, meta->refreshed, meta->primary[0] ? meta->primary : "-");
	fprintf(f, "%s\n", z->soa_line);
	/* A million lines: stdio without a format or a lock per line, the next slot's line
	 * fetched while this one is written (the lines lie in slot order at random). */
	for (size_t i = 0; i < z->cap; i++) {
		if (i + 8 < z->cap && z->slots[i + 8].line != NULL)
			__builtin_prefetch(z->slots[i + 8].line);
		if (z->slots[i].key != NULL) {
			fputs_unlocked(z->slots[i].line, f);
			putc_unlocked('\n', f);
		}
	}
	return ferror(f) ? C2W_EIO : C2W_OK;
}

static void sync_dir(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	if (slash == NULL || (size_t)(slash - path) >= sizeof(dir))
		return;
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash == path ? 1 : slash - path] = '\0';
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

int feed_zone_write(const struct feed_zone *z, const char *path, const struct feed_zone_meta *meta)
{
	if (!z->has_soa || z->soa_line == NULL)
		return C2W_EINVAL;
	char tmp[4096];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= (int)sizeof(tmp))
		return C2W_ERANGE;
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int ret = fchmod(fd, 0640) == 0 ? C2W_OK : -errno;
	FILE *f = ret == C2W_OK ? fdopen(fd, "w") : NULL;
	if (f == NULL) {
		ret = ret != C2W_OK ? ret : -errno;
		close(fd);
		goto out_unlink;
	}
	ret = write_all(f, z, meta);
	if (ret == C2W_OK && (fflush(f) != 0 || fsync(fileno(f)) != 0))
		ret = -errno;
	if (fclose(f) != 0 && ret == C2W_OK)
		ret = -errno;
	if (ret == C2W_OK && rename(tmp, path) != 0)
		ret = -errno;
	if (ret == C2W_OK) {
		sync_dir(path);
		return C2W_OK;
	}
out_unlink:
	unlink(tmp);
	return ret;
}

/* "; c2wall-xfr v1 origin=O serial=S refreshed=T from=P" */
static int parse_header(const char *line, const char *origin, struct feed_zone_meta *meta)
{
	char o[300], from[64];
	unsigned long serial;
	long long refreshed;
	if (sscanf(line, "; c2wall-xfr v1 origin=%299s serial=%lu refreshed=%lld from=%63s", o,
		   &serial, &refreshed, from) != 4)
		return C2W_EMALF;
	if (strcasecmp(o, origin) != 0)
		return C2W_EMALF;
	meta->refreshed = refreshed;
	snprintf(meta->primary, sizeof(meta->primary), "%s", strcmp(from, "-") ? from : "");
	return C2W_OK;
}

/* Fields 6.. of an SOA line: mname rname serial refresh retry expire minimum. */
static int parse_soa_line(const char *line, struct feed_soa *soa)
{
	char owner[300], ttl[32], cls[16], type[16], mname[300], rname[300];
	if (sscanf(line,
		   "%299s %31s %15s %15s %299s %299s %" SCNu32 " %" SCNu32 " %" SCNu32 " %" SCNu32
		   " %" SCNu32,
		   owner, ttl, cls, type, mname, rname, &soa->serial, &soa->refresh, &soa->retry,
		   &soa->expire, &soa->minimum) != 11)
		return C2W_EMALF;
	return strcasecmp(type, "SOA") == 0 ? C2W_OK : C2W_EMALF;
}

static bool is_soa_line(const char *line)
{
	char owner[300], ttl[32], cls[16], type[16];
	return sscanf(line, "%299s %31s %15s %15s", owner, ttl, cls, type) == 4 &&
	       strcasecmp(type, "SOA") == 0;
}

static int read_lines(FILE *f, struct feed_zone *z, struct feed_zone_meta *meta)
{
	char *line = malloc(LINE_MAX_LEN);
	if (line == NULL)
		return C2W_ENOMEM;
	int ret = C2W_EMALF;
	if (fgets(line, LINE_MAX_LEN, f) == NULL || parse_header(line, z->origin, meta) != C2W_OK)
		goto out;
	ret = C2W_OK;
	while (ret == C2W_OK && fgets(line, LINE_MAX_LEN, f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '\0' || line[0] == ';')
			continue;
		if (is_soa_line(line)) {
			struct feed_soa soa;
			ret = parse_soa_line(line, &soa);
			if (ret == C2W_OK)
				ret = feed_zone_set_soa(z, line, &soa);
		} else {
			ret = feed_zone_add(z, line);
		}
	}
	if (ret == C2W_OK && !z->has_soa)
		ret = C2W_EMALF;
out:
	free(line);
	return ret;
}

int feed_zone_read(const char *path, const char *origin, struct feed_zone **out,
		   struct feed_zone_meta *meta)
{
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return -errno;
	struct feed_zone *z;
	int ret = feed_zone_new(origin, &z);
	if (ret == C2W_OK) {
		memset(meta, 0, sizeof(*meta));
		ret = read_lines(f, z, meta);
		if (ret == C2W_OK)
			*out = z;
		else
			feed_zone_free(z);
	}
	fclose(f);
	return ret;
}
