/* SPDX-License-Identifier: MIT */
/*
 * Token buckets in fixed point: a bucket holds up to per_minute * 60000 units, a record costs
 * 60000, and every millisecond adds per_minute units, so integer arithmetic refills exactly.
 */
#include "sinkhole/evrate.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "core/addrcount.h"

#define SETS 1024 /* power of two */
#define WAYS 4
#define COST 60000 /* ms in a minute: one record */

struct bucket {
	uint8_t key[C2W_ADDRKEY_LEN]; /* key[0] == 0: empty */
	uint64_t units;
	int64_t last_ms;
};

struct sinkhole_evrate {
	uint64_t per_minute;
	struct bucket b[SETS][WAYS];
};

struct sinkhole_evrate *sinkhole_evrate_new(unsigned per_minute)
{
	struct sinkhole_evrate *r = calloc(1, sizeof(*r));
	if (r != NULL)
		r->per_minute = per_minute ? per_minute : 1;
	return r;
}

void sinkhole_evrate_free(struct sinkhole_evrate *r)
{
	free(r);
}

/* The bucket of @key: found, or an empty or the least recently seen one of its set, reset
 * to full (a client not seen for a while starts with its whole allowance). */
static struct bucket *bucket_for(struct sinkhole_evrate *r, const uint8_t *key, int64_t now_ms)
{
	struct bucket *set = r->b[XXH3_64bits(key, C2W_ADDRKEY_LEN) & (SETS - 1)];
	struct bucket *victim = &set[0];
	for (unsigned i = 0; i < WAYS; i++) {
		if (set[i].key[0] != 0 && memcmp(set[i].key, key, C2W_ADDRKEY_LEN) == 0)
			return &set[i];
		if (victim->key[0] != 0 && (set[i].key[0] == 0 || set[i].last_ms < victim->last_ms))
			victim = &set[i];
	}
	memcpy(victim->key, key, C2W_ADDRKEY_LEN);
	victim->units = r->per_minute * COST;
	victim->last_ms = now_ms;
	return victim;
}

bool sinkhole_evrate_allow(struct sinkhole_evrate *r, const struct sockaddr *client, int64_t now_ms)
{
	uint8_t key[C2W_ADDRKEY_LEN];
	if (!c2w_addrkey_make(client, C2W_ADDRCOUNT_V4_BITS, C2W_ADDRCOUNT_V6_BITS, key))
		return true;
	struct bucket *b = bucket_for(r, key, now_ms);
	uint64_t full = r->per_minute * COST;
	if (now_ms > b->last_ms) {
		uint64_t add = (uint64_t)(now_ms - b->last_ms) * r->per_minute;
		b->units = add >= full - b->units ? full : b->units + add;
	}
	b->last_ms = now_ms;
	if (b->units < COST)
		return false;
	b->units -= COST;
	return true;
}
