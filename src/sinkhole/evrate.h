/* SPDX-License-Identifier: MIT */
/*
 * Evidence records per client prefix (IPv4 /32, IPv6 /56): a token bucket of N records a
 * minute, N at once, so a bot looping on the sinkhole leaves a few records a minute rather than
 * one per connection. A fixed table (4-way sets, the least recently seen client replaced),
 * allocated once; one thread (the sinkhole's loop).
 */
#ifndef C2W_SINKHOLE_EVRATE_H
#define C2W_SINKHOLE_EVRATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct sinkhole_evrate;

/**
 * @param per_minute  records a minute per client, also the burst (>= 1)
 * @return the limiter, or NULL for ENOMEM
 */
struct sinkhole_evrate *sinkhole_evrate_new(unsigned per_minute);

/** Free; NULL does nothing. */
void sinkhole_evrate_free(struct sinkhole_evrate *r);

/**
 * May one more record of @client be written at @now_ms (a monotonic or wall clock, ms)?
 * Takes a token when it may.
 */
bool sinkhole_evrate_allow(struct sinkhole_evrate *r, const struct sockaddr *client,
			   int64_t now_ms);

#endif
