/* SPDX-License-Identifier: MIT */
/*
 * Open addressing with linear probing and backward-shift deletion: no tombstones, so a table
 * that sees millions of connect/close pairs never degrades. An entry lives while its count is
 * above zero.
 */
#include "core/addrcount.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

struct key {
	uint8_t family; /* 4 or 6; 0 = empty slot */
	uint8_t addr[16];
};

struct entry {
	struct key key;
	unsigned count;
};

struct c2w_addrcount {
	struct entry *e;
	size_t mask;
	size_t used;
	size_t max_used; /* keep the load at or below one half */
	unsigned v4_bits, v6_bits;
	bool locked;
	pthread_mutex_t mu;
};

static void mask_bits(uint8_t *addr, size_t len, unsigned bits)
{
	for (size_t i = 0; i < len; i++) {
		if (bits >= 8) {
			bits -= 8;
			continue;
		}
		addr[i] &= (uint8_t)(0xff00u >> bits);
		bits = 0;
	}
}

bool c2w_addrkey_make(const struct sockaddr *sa, unsigned v4_bits, unsigned v6_bits,
		      uint8_t key[C2W_ADDRKEY_LEN])
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	memset(key, 0, C2W_ADDRKEY_LEN);
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;
		key[0] = 4;
		memcpy(key + 1, &in->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		const uint8_t *a = in6->sin6_addr.s6_addr;
		if (memcmp(a, mapped, sizeof(mapped)) == 0) {
			key[0] = 4;
			memcpy(key + 1, a + 12, 4);
		} else {
			key[0] = 6;
			memcpy(key + 1, a, 16);
		}
	} else {
		return false;
	}
	if (key[0] == 4)
		mask_bits(key + 1, 4, v4_bits >= 1 && v4_bits <= 32 ? v4_bits : 32);
	else
		mask_bits(key + 1, 16, v6_bits >= 1 && v6_bits <= 128 ? v6_bits : 56);
	return true;
}

/* The client prefix of @sa; false when it is not an IP address. */
static bool make_key(const struct c2w_addrcount *t, const struct sockaddr *sa, struct key *k)
{
	_Static_assert(sizeof(struct key) == C2W_ADDRKEY_LEN, "key layout");
	uint8_t raw[C2W_ADDRKEY_LEN];
	if (!c2w_addrkey_make(sa, t->v4_bits, t->v6_bits, raw))
		return false;
	memcpy(k, raw, sizeof(*k));
	return true;
}

static size_t slot_of(const struct c2w_addrcount *t, const struct key *k)
{
	return (size_t)XXH3_64bits(k, sizeof(*k)) & t->mask;
}

/* The slot holding @k, or the empty slot where it would go. */
static size_t find(const struct c2w_addrcount *t, const struct key *k)
{
	size_t i = slot_of(t, k);
	while (t->e[i].key.family != 0 && memcmp(&t->e[i].key, k, sizeof(*k)) != 0)
		i = (i + 1) & t->mask;
	return i;
}

/* Empty slot @i and pull later entries of its probe run back (no tombstones). */
static void remove_at(struct c2w_addrcount *t, size_t i)
{
	size_t j = i;
	for (;;) {
		t->e[i].key.family = 0;
		for (;;) {
			j = (j + 1) & t->mask;
			if (t->e[j].key.family == 0)
				return;
			size_t home = slot_of(t, &t->e[j].key);
			/* Entry j may move to i only if i lies on its probe path (home..j). */
			bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
			if (!stays)
				break;
		}
		t->e[i] = t->e[j];
		i = j;
	}
}

struct c2w_addrcount *c2w_addrcount_new(unsigned capacity, unsigned v4_bits, unsigned v6_bits,
					bool locked)
{
	struct c2w_addrcount *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	size_t size = 16;
	while (size < 2 * (size_t)capacity)
		size *= 2;
	t->e = calloc(size, sizeof(*t->e));
	if (t->e == NULL) {
		free(t);
		return NULL;
	}
	t->mask = size - 1;
	t->max_used = size / 2;
	t->v4_bits = v4_bits >= 1 && v4_bits <= 32 ? v4_bits : C2W_ADDRCOUNT_V4_BITS;
	t->v6_bits = v6_bits >= 1 && v6_bits <= 128 ? v6_bits : C2W_ADDRCOUNT_V6_BITS;
	t->locked = locked;
	pthread_mutex_init(&t->mu, NULL);
	return t;
}

void c2w_addrcount_free(struct c2w_addrcount *t)
{
	if (t == NULL)
		return;
	pthread_mutex_destroy(&t->mu);
	free(t->e);
	free(t);
}

static void lock(struct c2w_addrcount *t)
{
	if (t->locked)
		pthread_mutex_lock(&t->mu);
}

static void unlock(struct c2w_addrcount *t)
{
	if (t->locked)
		pthread_mutex_unlock(&t->mu);
}

int c2w_addrcount_take(struct c2w_addrcount *t, const struct sockaddr *sa, unsigned max)
{
	struct key k;
	if (!make_key(t, sa, &k))
		return C2W_EFULL;
	int ret = C2W_OK;
	lock(t);
	size_t i = find(t, &k);
	struct entry *e = &t->e[i];
	if (e->key.family != 0) {
		if (max != 0 && e->count >= max)
			ret = C2W_ERANGE;
		else
			e->count++;
	} else if (t->used >= t->max_used) {
		ret = C2W_EFULL;
	} else {
		e->key = k;
		e->count = 1;
		t->used++;
	}
	unlock(t);
	return ret;
}

void c2w_addrcount_put(struct c2w_addrcount *t, const struct sockaddr *sa)
{
	struct key k;
	if (!make_key(t, sa, &k))
		return;
	lock(t);
	size_t i = find(t, &k);
	if (t->e[i].key.family != 0 && --t->e[i].count == 0) {
		remove_at(t, i);
		t->used--;
	}
	unlock(t);
}

unsigned c2w_addrcount_get(struct c2w_addrcount *t, const struct sockaddr *sa)
{
	struct key k;
	if (!make_key(t, sa, &k))
		return 0;
	lock(t);
	size_t i = find(t, &k);
	unsigned n = t->e[i].key.family != 0 ? t->e[i].count : 0;
	unlock(t);
	return n;
}
