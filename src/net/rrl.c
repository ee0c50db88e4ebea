/* SPDX-License-Identifier: MIT */
/*
 * The RRL and query-rate tables: 4-way set-associative arrays indexed by a 64-bit hash of
 * (client prefix, response identity). A full set gives up its least recently used entry, so
 * many sources cost a flooder its history rather than memory (BIND's max-table-size). The
 * arithmetic follows BIND's rrl.c as its ARM describes it; the code is ours.
 */
#include "net/rrl.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define WAYS 4

struct rrl_entry {
	uint64_t key; /* 0: free */
	uint64_t last_s;
	int64_t balance; /* responses left this second; negative: owed */
	uint32_t slip_count;
};

struct net_rrl {
	size_t mask; /* sets - 1 */
	struct rrl_entry *e;
};

struct qrate_entry {
	uint64_t key; /* 0: free */
	uint64_t last_ms;
	int64_t tokens; /* thousandths of a query */
};

struct net_qrate {
	size_t mask;
	struct qrate_entry *e;
};

static size_t sets_for(size_t entries)
{
	size_t sets = 4;
	while (sets * WAYS < entries && sets < ((size_t)1 << 40))
		sets <<= 1;
	return sets;
}

uint64_t net_rrl_key(const struct sockaddr *peer, unsigned v4_bits, unsigned v6_bits, unsigned kind,
		     uint16_t qtype, const uint8_t *name, size_t name_len)
{
	/* family, prefix bytes, kind, qtype, name: one buffer, one hash. */
	uint8_t buf[1 + 16 + 1 + 2 + 255] = {0};
	const uint8_t *a = NULL;
	unsigned bits = 0, alen = 0;

	if (peer->sa_family == AF_INET) {
		a = (const uint8_t *)&((const struct sockaddr_in *)(const void *)peer)->sin_addr;
		alen = 4;
		bits = v4_bits;
	} else if (peer->sa_family == AF_INET6) {
		const struct in6_addr *a6 =
		    &((const struct sockaddr_in6 *)(const void *)peer)->sin6_addr;
		a = a6->s6_addr;
		alen = 16;
		bits = v6_bits;
		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			a += 12;
			alen = 4;
			bits = v4_bits;
		}
	}
	buf[0] = (uint8_t)alen;
	for (unsigned i = 0; i < alen && i * 8 < bits; i++) {
		unsigned left = bits - i * 8;
		buf[1 + i] = left >= 8 ? a[i] : (uint8_t)(a[i] & (0xFF00 >> left));
	}
	buf[17] = (uint8_t)kind;
	buf[18] = (uint8_t)(qtype >> 8);
	buf[19] = (uint8_t)qtype;
	size_t n = 20;
	if (name != NULL && name_len <= 255) {
		memcpy(buf + n, name, name_len);
		n += name_len;
	}
	uint64_t h = XXH3_64bits(buf, n);
	return h != 0 ? h : 1; /* 0 marks a free entry */
}

/* Entries for a table of about @entries (whole sets of WAYS); *mask = sets - 1. */
static void *entries_new(size_t entries, size_t entry_size, size_t *mask)
{
	size_t sets = sets_for(entries);
	*mask = sets - 1;
	return calloc(sets * WAYS, entry_size);
}

int net_rrl_new(size_t entries, struct net_rrl **out)
{
	struct net_rrl *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return C2W_ENOMEM;
	t->e = entries_new(entries, sizeof(*t->e), &t->mask);
	if (t->e == NULL) {
		free(t);
		return C2W_ENOMEM;
	}
	*out = t;
	return C2W_OK;
}

void net_rrl_free(struct net_rrl *t)
{
	if (t == NULL)
		return;
	free(t->e);
	free(t);
}

size_t net_rrl_size(const struct net_rrl *t)
{
	return (t->mask + 1) * WAYS;
}

/* The entry for @key in its set, or (*fresh) a free or the least recently used one. */
static struct rrl_entry *rrl_find(struct net_rrl *t, uint64_t key, bool *fresh)
{
	struct rrl_entry *set = t->e + ((size_t)(key >> 7) & t->mask) * WAYS, *old = set;
	for (int i = 0; i < WAYS; i++) {
		if (set[i].key == key) {
			*fresh = false;
			return &set[i];
		}
		if (old->key != 0 && (set[i].key == 0 || set[i].last_s < old->last_s))
			old = &set[i];
	}
	*fresh = true;
	return old;
}

static struct qrate_entry *qrate_find(struct net_qrate *t, uint64_t key, bool *fresh)
{
	struct qrate_entry *set = t->e + ((size_t)(key >> 7) & t->mask) * WAYS, *old = set;
	for (int i = 0; i < WAYS; i++) {
		if (set[i].key == key) {
			*fresh = false;
			return &set[i];
		}
		if (old->key != 0 && (set[i].key == 0 || set[i].last_ms < old->last_ms))
			old = &set[i];
	}
	*fresh = true;
	return old;
}

enum net_rrl_verdict net_rrl_account(struct net_rrl *t, uint64_t key, uint32_t rate,
				     uint32_t window, uint32_t slip, uint64_t now_s)
{
	bool fresh;
	struct rrl_entry *e = rrl_find(t, key, &fresh);

	if (fresh || now_s - e->last_s > window) {
		/* New, or quiet for longer than the window: a full second's worth. */
		memset(e, 0, sizeof(*e));
		e->key = key;
		e->balance = rate;
	} else if (now_s > e->last_s) {
		int64_t b = e->balance + (int64_t)(now_s - e->last_s) * rate;
		e->balance = b > (int64_t)rate ? (int64_t)rate : b;
	}
	e->last_s = now_s;
	if (--e->balance >= 0)
		return NET_RRL_PASS;
	int64_t floor = -(int64_t)window * rate;
	if (e->balance < floor)
		e->balance = floor;
	if (slip == 0)
		return NET_RRL_DROP;
	/* The first limited response slips, then every slip-th one. */
	enum net_rrl_verdict v = e->slip_count == 0 ? NET_RRL_SLIP : NET_RRL_DROP;
	if (++e->slip_count >= slip)
		e->slip_count = 0;
	return v;
}

int net_qrate_new(size_t entries, struct net_qrate **out)
{
	struct net_qrate *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return C2W_ENOMEM;
	t->e = entries_new(entries, sizeof(*t->e), &t->mask);
	if (t->e == NULL) {
		free(t);
		return C2W_ENOMEM;
	}
	*out = t;
	return C2W_OK;
}

void net_qrate_free(struct net_qrate *t)
{
	if (t == NULL)
		return;
	free(t->e);
	free(t);
}

size_t net_qrate_size(const struct net_qrate *t)
{
	return (t->mask + 1) * WAYS;
}

bool net_qrate_take(struct net_qrate *t, uint64_t key, uint32_t qps, uint32_t burst,
		    uint64_t now_ms)
{
	bool fresh;
	int64_t cap = (int64_t)burst * 1000;
	struct qrate_entry *e = qrate_find(t, key, &fresh);

	if (fresh) {
		e->key = key;
		e->tokens = cap;
	} else if (now_ms > e->last_ms) {
		/* qps queries a second = qps thousandths a millisecond. */
		uint64_t dt = now_ms - e->last_ms;
		int64_t add = dt > 3600000 ? cap : (int64_t)dt * qps;
		e->tokens = e->tokens + add > cap ? cap : e->tokens + add;
	}
	e->last_ms = now_ms;
	if (e->tokens < 1000)
		return false;
	e->tokens -= 1000;
	return true;
}
