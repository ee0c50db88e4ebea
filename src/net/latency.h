/* SPDX-License-Identifier: MIT */
/*
 * Answer latency per worker, for /metrics (c2wall_answer_duration_seconds): from the receive
 * of a query (its recvmmsg batch or its TCP read) to the send of its answer, counted in fixed
 * buckets. Answers made during the receive batch (cache hits, policy answers, refusals) share
 * one observation per batch (one clock read per batch); answers that waited for the resolver
 * are observed one by one when they leave. Workers write, the scrape reads relaxed copies.
 */
#ifndef C2W_NET_LATENCY_H
#define C2W_NET_LATENCY_H

#include <stddef.h>
#include <stdint.h>

#define NET_LATENCY_BUCKETS 16 /* the last one is +Inf */

/** Upper bounds of the buckets but the last, in microseconds, increasing. */
extern const uint32_t net_latency_bounds_us[NET_LATENCY_BUCKETS - 1];

struct net_latency {
	uint64_t count[NET_LATENCY_BUCKETS]; /* per bucket, not cumulative */
	uint64_t sum_us;
};

/** Count @n answers that each took @us microseconds. */
void net_latency_observe(struct net_latency *l, uint64_t us, uint64_t n);

/** Another thread's copy of @l while its worker writes it: each field a relaxed load. */
void net_latency_copy(struct net_latency *out, const struct net_latency *l);

/** @into += @from, bucket by bucket. */
void net_latency_add(struct net_latency *into, const struct net_latency *from);

#endif
