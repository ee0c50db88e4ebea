/* SPDX-License-Identifier: MIT */
/*
 * Opt-out registry: an immutable sorted table behind an RCU pointer. Lookups mask the
 * address once per prefix length present and binary-search, so the cost does not grow with
 * the number of entries of one length. Writers serialise on a mutex, persist, then publish.
 */
#include "events/optout.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libgen.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <urcu.h>

#include "core/file.h"
#include "core/log.h"

struct table {
	size_t count;
	size_t len_count;               /* distinct (family, bits) pairs */
	struct events_prefix lens[162]; /* family+bits only; 33 v4 + 129 v6 at most */
	struct events_prefix items[];   /* sorted by cmp_prefix */
};

struct events_optout {
	struct table *table;  /* RCU-protected */
	pthread_mutex_t lock; /* writers */
	char *path;
};

static int cmp_prefix(const void *pa, const void *pb)
{
	const struct events_prefix *a = pa, *b = pb;
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	if (a->bits != b->bits)
		return a->bits < b->bits ? -1 : 1;
	return memcmp(a->addr, b->addr, 16);
}

static void mask_addr(uint8_t *addr, unsigned bits, unsigned total)
{
	for (unsigned i = 0; i < total / 8; i++) {
		unsigned lo = i * 8;
		if (bits >= lo + 8)
			continue;
		if (bits <= lo)
			addr[i] = 0;
		else
			addr[i] &= (uint8_t)(0xff << (8 - (bits - lo)));
	}
}

int events_prefix_parse(const char *text, struct events_prefix *out)
{
	char buf[64];
	size_t len = strlen(text);
	if (len == 0 || len >= sizeof(buf))
		return C2W_EINVAL;
	memcpy(buf, text, len + 1);
	char *slash = strchr(buf, '/');
	long bits = -1;
	if (slash != NULL) {
		*slash = '\0';
		const char *p = slash + 1;
		if (*p == '\0' || strlen(p) > 3)
			return C2W_EINVAL;
		bits = 0;
		for (; *p; p++) {
			if (*p < '0' || *p > '9')
				return C2W_EINVAL;
			bits = bits * 10 + (*p - '0');
		}
	}
	memset(out, 0, sizeof(*out));
	unsigned total;
	if (inet_pton(AF_INET, buf, out->addr) == 1) {
		out->family = AF_INET;
		total = 32;
	} else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
		out->family = AF_INET6;
		total = 128;
	} else {
		return C2W_EINVAL;
	}
	if (bits < 0)
		bits = total;
	if ((unsigned long)bits > total)
		return C2W_EINVAL;
	out->bits = (uint8_t)bits;
	uint8_t masked[16];
	memcpy(masked, out->addr, 16);
	mask_addr(masked, out->bits, total);
	if (memcmp(masked, out->addr, 16) != 0)
		return C2W_EINVAL; /* host bits set */
	return C2W_OK;
}

const char *events_prefix_format(const struct events_prefix *p, char *out, size_t cap)
{
	char a[INET6_ADDRSTRLEN];
	unsigned total = p->family == AF_INET ? 32 : 128;
	if (inet_ntop(p->family == AF_INET ? AF_INET : AF_INET6, p->addr, a, sizeof(a)) == NULL)
		a[0] = '\0';
	if (p->bits == total)
		snprintf(out, cap, "%s", a);
	else
		snprintf(out, cap, "%s/%u", a, p->bits);
	return out;
}

/* Build a table from @items (sorted and deduplicated here). Takes nothing; copies. */
static struct table *table_build(const struct events_prefix *items, size_t count)
{
	struct table *t = calloc(1, sizeof(*t) + count * sizeof(t->items[0]));
	if (t == NULL)
		return NULL;
	if (count)
		memcpy(t->items, items, count * sizeof(items[0]));
	qsort(t->items, count, sizeof(t->items[0]), cmp_prefix);
	size_t n = 0;
	for (size_t i = 0; i < count; i++)
		if (n == 0 || cmp_prefix(&t->items[n - 1], &t->items[i]) != 0)
			t->items[n++] = t->items[i];
	t->count = n;
	for (size_t i = 0; i < n; i++) {
		if (t->len_count > 0 && t->lens[t->len_count - 1].family == t->items[i].family &&
		    t->lens[t->len_count - 1].bits == t->items[i].bits)
			continue;
		t->lens[t->len_count].family = t->items[i].family;
		t->lens[t->len_count].bits = t->items[i].bits;
		t->len_count++;
	}
	return t;
}

static bool table_contains(const struct table *t, int family, const uint8_t *addr)
{
	for (size_t l = 0; l < t->len_count; l++) {
		if (t->lens[l].family != family)
			continue;
		struct events_prefix key = {.family = (uint8_t)family, .bits = t->lens[l].bits};
		memcpy(key.addr, addr, family == AF_INET ? 4 : 16);
		mask_addr(key.addr, key.bits, family == AF_INET ? 32 : 128);
		if (bsearch(&key, t->items, t->count, sizeof(key), cmp_prefix) != NULL)
			return true;
	}
	return false;
}

bool events_optout_contains_raw(const struct events_optout *reg, int family, const uint8_t addr[16])
{
	if (reg == NULL || (family != AF_INET && family != AF_INET6))
		return false;
	rcu_read_lock();
	const struct table *t = rcu_dereference(reg->table);
	bool hit = t != NULL && table_contains(t, family, addr);
	rcu_read_unlock();
	return hit;
}

bool events_optout_contains(const struct events_optout *reg, const struct sockaddr *sa)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	uint8_t addr[16] = {0};
	if (sa == NULL)
		return false;
	if (sa->sa_family == AF_INET) {
		memcpy(addr, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
		return events_optout_contains_raw(reg, AF_INET, addr);
	}
	if (sa->sa_family != AF_INET6)
		return false;
	const uint8_t *a = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
	if (memcmp(a, mapped, 12) == 0) {
		memcpy(addr, a + 12, 4);
		return events_optout_contains_raw(reg, AF_INET, addr);
	}
	return events_optout_contains_raw(reg, AF_INET6, a);
}

/* Read the file into a new table. Missing file: empty table. */
static int load_file(const char *path, struct table **out, char *err, size_t err_len)
{
	struct events_prefix *items = NULL;
	size_t count = 0, cap = 0;
	int ret = C2W_OK;
	FILE *f = path ? fopen(path, "r") : NULL;
	if (f == NULL && path != NULL && errno != ENOENT) {
		ret = -errno;
		snprintf(err, err_len, "%s: %s", path, c2w_strerror(ret));
		return ret;
	}
	char line[256];
	unsigned lineno = 0;
	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		char *s = line;
		while (*s == ' ' || *s == '\t')
			s++;
		size_t n = strlen(s);
		while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' ||
				 s[n - 1] == '\t'))
			s[--n] = '\0';
		if (n == 0)
			continue;
		if (count == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct events_prefix *ni = realloc(items, ncap * sizeof(*ni));
			if (ni == NULL) {
				ret = C2W_ENOMEM;
				goto out_close;
			}
			items = ni;
			cap = ncap;
		}
		if (events_prefix_parse(s, &items[count]) != C2W_OK) {
			snprintf(err, err_len, "%s:%u: not an address or prefix: %.64s", path,
				 lineno, s);
			ret = C2W_EMALF;
			goto out_close;
		}
		count++;
	}
	*out = table_build(items, count);
	if (*out == NULL)
		ret = C2W_ENOMEM;
out_close:
	if (f != NULL)
		fclose(f);
	free(items);
	return ret;
}

/* Persist @t atomically: temp file in the same directory, fsync, rename, fsync directory. */
static int persist(const char *path, const struct table *t)
{
	if (path == NULL)
		return C2W_OK;
	char tmp[4096];
	int fd = c2w_file_tmp_open(path, 0600, tmp, sizeof(tmp));
	if (fd < 0)
		return fd;
	FILE *f = fdopen(fd, "w");
	if (f == NULL) {
		int e = -errno;
		close(fd);
		unlink(tmp);
		return e;
	}
	fprintf(f, "# c2wall opt-out registry: one address or prefix per line\n");
	for (size_t i = 0; i < t->count; i++) {
		char buf[64];
		fprintf(f, "%s\n", events_prefix_format(&t->items[i], buf, sizeof(buf)));
	}
	int ret = C2W_OK;
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		ret = -errno;
	if (fclose(f) != 0 && ret == C2W_OK)
		ret = -errno;
	if (ret == C2W_OK && rename(tmp, path) != 0)
		ret = -errno;
	if (ret != C2W_OK) {
		unlink(tmp);
		return ret;
	}
	char dirbuf[4096];
	snprintf(dirbuf, sizeof(dirbuf), "%s", path);
	int dfd = open(dirname(dirbuf), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	return C2W_OK;
}

static void publish(struct events_optout *reg, struct table *t)
{
	struct table *old = rcu_xchg_pointer(&reg->table, t);
	synchronize_rcu();
	free(old);
}

int events_optout_open(const char *path, struct events_optout **out, char *err, size_t err_len)
{
	struct events_optout *reg = calloc(1, sizeof(*reg));
	if (reg == NULL)
		return C2W_ENOMEM;
	if (path != NULL && (reg->path = strdup(path)) == NULL) {
		free(reg);
		return C2W_ENOMEM;
	}
	struct table *t = NULL;
	int ret = load_file(path, &t, err, err_len);
	if (ret != C2W_OK) {
		free(reg->path);
		free(reg);
		return ret;
	}
	reg->table = t;
	pthread_mutex_init(&reg->lock, NULL);
	*out = reg;
	return C2W_OK;
}

void events_optout_free(struct events_optout *reg)
{
	if (reg == NULL)
		return;
	pthread_mutex_destroy(&reg->lock);
	free(reg->table);
	free(reg->path);
	free(reg);
}

/* Writer: build the changed table, persist, publish. Caller holds the lock. */
static int change(struct events_optout *reg, const struct events_prefix *p, bool add)
{
	struct table *cur = reg->table; /* stable under the writer lock */
	bool present = bsearch(p, cur->items, cur->count, sizeof(*p), cmp_prefix) != NULL;
	if (add && present)
		return C2W_EEXIST;
	if (!add && !present)
		return C2W_ENOENT;
	struct events_prefix *items = malloc((cur->count + 1) * sizeof(*items));
	if (items == NULL)
		return C2W_ENOMEM;
	size_t n = 0;
	for (size_t i = 0; i < cur->count; i++)
		if (add || cmp_prefix(&cur->items[i], p) != 0)
			items[n++] = cur->items[i];
	if (add)
		items[n++] = *p;
	struct table *t = table_build(items, n);
	free(items);
	if (t == NULL)
		return C2W_ENOMEM;
	int ret = persist(reg->path, t);
	if (ret != C2W_OK) {
		free(t);
		return ret;
	}
	publish(reg, t);
	return C2W_OK;
}

static int change_text(struct events_optout *reg, const char *text, bool add)
{
	struct events_prefix p;
	if (text == NULL || events_prefix_parse(text, &p) != C2W_OK)
		return C2W_EINVAL;
	pthread_mutex_lock(&reg->lock);
	int ret = change(reg, &p, add);
	pthread_mutex_unlock(&reg->lock);
	return ret;
}

int events_optout_add(struct events_optout *reg, const char *text)
{
	return change_text(reg, text, true);
}

int events_optout_remove(struct events_optout *reg, const char *text)
{
	return change_text(reg, text, false);
}

int events_optout_list(struct events_optout *reg, struct events_prefix **out, size_t *count)
{
	pthread_mutex_lock(&reg->lock);
	const struct table *t = reg->table;
	int ret = C2W_OK;
	*out = NULL;
	*count = t->count;
	if (t->count > 0) {
		*out = malloc(t->count * sizeof(**out));
		if (*out == NULL)
			ret = C2W_ENOMEM;
		else
			memcpy(*out, t->items, t->count * sizeof(**out));
	}
	pthread_mutex_unlock(&reg->lock);
	return ret;
}

int events_optout_reload(struct events_optout *reg, char *err, size_t err_len)
{
	struct table *t = NULL;
	pthread_mutex_lock(&reg->lock);
	int ret = load_file(reg->path, &t, err, err_len);
	if (ret == C2W_OK)
		publish(reg, t);
	pthread_mutex_unlock(&reg->lock);
	if (ret != C2W_OK)
		c2w_log_warn("events: opt-out reload failed, keeping the current list: %s", err);
	return ret;
}
