/* SPDX-License-Identifier: MIT */
/*
 * The per-client in-flight table: linear probing over a power-of-two array, deletion by
 * backward shift (no tombstones, so probe lengths never grow with churn). The hash is keyed
 * with a per-table random seed: a client choosing its IPv6 addresses cannot aim them at one
 * probe chain. Policy (the cap, what to answer) is the worker's.
 */
#include "net/client_table.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

struct entry {
	struct net_client_key key;
	uint32_t count; /* 0 = empty */
};

struct net_client_table {
	struct entry *e;
	size_t mask;    /* capacity - 1 */
	unsigned max;   /* clients held at most */
	unsigned used;  /* entries with count > 0 */
	uint64_t seed;
};

static void mask_bits(uint8_t *addr, size_t len, unsigned bits)
{
	for (size_t i = 0; i < len; i++) {
		unsigned lo = (unsigned)i * 8;
		if (bits >= lo + 8)
			continue;
		addr[i] = bits <= lo ? 0 : (uint8_t)(addr[i] & (0xff00u >> (bits - lo)));
	}
}

void net_client_key_make(const struct sockaddr *peer, unsigned v4_bits, unsigned v6_bits,
			 struct net_client_key *out)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	memset(out, 0, sizeof(*out));
	if (peer->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)peer;
		memcpy(out->addr, &sin->sin_addr, 4);
	} else if (peer->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)peer;
		const uint8_t *a = sin6->sin6_addr.s6_addr;
		if (memcmp(a, mapped, sizeof(mapped)) == 0) {
			memcpy(out->addr, a + 12, 4);
		} else {
			memcpy(out->addr, a, 16);
			out->family = 6;
			out->bits = (uint8_t)v6_bits;
			mask_bits(out->addr, 16, v6_bits);
			return;
		}
	} else {
		return;
	}
	out->family = 4;
	out->bits = (uint8_t)v4_bits;
	mask_bits(out->addr, 4, v4_bits);
}

struct net_client_table *net_client_table_new(unsigned max_clients)
{
	struct net_client_table *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	size_t cap = 16;
	while (cap < (size_t)max_clients * 2)
		cap *= 2;
	t->e = calloc(cap, sizeof(*t->e));
	if (t->e == NULL) {
		free(t);
		return NULL;
	}
	t->mask = cap - 1;
	t->max = max_clients < cap - 1 ? max_clients : (unsigned)(cap - 1);
	if (getrandom(&t->seed, sizeof(t->seed), GRND_NONBLOCK) != sizeof(t->seed))
		t->seed = (uint64_t)(uintptr_t)t ^ 0x9e3779b97f4a7c15ull;
	return t;
}

void net_client_table_free(struct net_client_table *t)
{
	if (t == NULL)
		return;
	free(t->e);
	free(t);
}

static uint64_t mix(uint64_t x)
{
	/* splitmix64's finaliser: every input bit reaches every output bit. */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

static size_t home_of(const struct net_client_table *t, const struct net_client_key *k)
{
	uint64_t a, b;
	memcpy(&a, k->addr, 8);
	memcpy(&b, k->addr + 8, 8);
	uint64_t h = mix(t->seed ^ a ^ ((uint64_t)k->family << 56 | (uint64_t)k->bits << 48));
	h = mix(h ^ b);
	return (size_t)h & t->mask;
}

static bool key_eq(const struct net_client_key *a, const struct net_client_key *b)
{
	return a->family == b->family && a->bits == b->bits &&
	       memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

/* The entry of @k, or the empty one where it would go. */
static size_t find(const struct net_client_table *t, const struct net_client_key *k)
{
	size_t i = home_of(t, k);
	while (t->e[i].count != 0 && !key_eq(&t->e[i].key, k))
		i = (i + 1) & t->mask;
	return i;
}

int net_client_table_take(struct net_client_table *t, const struct net_client_key *k,
			  unsigned cap)
{
	size_t i = find(t, k);
	struct entry *e = &t->e[i];
	if (e->count == 0) {
		if (t->used >= t->max)
			return C2W_EFULL;
		e->key = *k;
		t->used++;
	} else if (cap != 0 && e->count >= cap) {
		return C2W_ERANGE;
	}
	e->count++;
	return C2W_OK;
}

/* Backward-shift deletion: pull later members of the probe run into the hole. */
static void remove_at(struct net_client_table *t, size_t hole)
{
	size_t j = hole;
	for (;;) {
		j = (j + 1) & t->mask;
		if (t->e[j].count == 0)
			break;
		size_t home = home_of(t, &t->e[j].key);
		/* Entry j may move to the hole only if its home is not in (hole, j]. */
		bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
		if (stays)
			continue;
		t->e[hole] = t->e[j];
		hole = j;
	}
	memset(&t->e[hole], 0, sizeof(t->e[hole]));
}

void net_client_table_put(struct net_client_table *t, const struct net_client_key *k)
{
	size_t i = find(t, k);
	if (t->e[i].count == 0)
		return; /* not counted: a caller bug, but never underflow */
	if (--t->e[i].count == 0) {
		t->used--;
		remove_at(t, i);
	}
}

unsigned net_client_table_count(const struct net_client_table *t, const struct net_client_key *k)
{
	return t->e[find(t, k)].count;
}

unsigned net_client_table_clients(const struct net_client_table *t)
{
	return t->used;
}
