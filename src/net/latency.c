/* SPDX-License-Identifier: MIT */
/* Fixed-bucket answer latency (latency.h). */
#include "net/latency.h"

/* 100 us to 5 s: a cache hit lands in the first buckets, a resolution in the middle, a
 * timeout (resolver.timeout, 5 s by default) in the last ones. */
const uint32_t net_latency_bounds_us[NET_LATENCY_BUCKETS - 1] = {
    100,    250,    500,    1000,    2500,    5000,    10000,   25000,
    50000,  100000, 250000, 500000, 1000000, 2500000, 5000000,
};

void net_latency_observe(struct net_latency *l, uint64_t us, uint64_t n)
{
	size_t b = 0;
	while (b < NET_LATENCY_BUCKETS - 1 && us > net_latency_bounds_us[b])
		b++;
	/* One writer (the worker): a plain read of its own count, a relaxed store the scrape's
	 * relaxed loads pair with (net_latency_copy()); no locked instruction per answer. */
	__atomic_store_n(&l->count[b], l->count[b] + n, __ATOMIC_RELAXED);
	__atomic_store_n(&l->sum_us, l->sum_us + us * n, __ATOMIC_RELAXED);
}

void net_latency_copy(struct net_latency *out, const struct net_latency *l)
{
	for (size_t i = 0; i < NET_LATENCY_BUCKETS; i++)
		out->count[i] = __atomic_load_n(&l->count[i], __ATOMIC_RELAXED);
	out->sum_us = __atomic_load_n(&l->sum_us, __ATOMIC_RELAXED);
}

void net_latency_add(struct net_latency *into, const struct net_latency *from)
{
	for (size_t i = 0; i < NET_LATENCY_BUCKETS; i++)
		into->count[i] += from->count[i];
	into->sum_us += from->sum_us;
}
