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
	l->count[b] += n;
	l->sum_us += us * n;
}

void net_latency_add(struct net_latency *into, const struct net_latency *from)
{
	for (size_t i = 0; i < NET_LATENCY_BUCKETS; i++)
		into->count[i] += from->count[i];
	into->sum_us += from->sum_us;
}
