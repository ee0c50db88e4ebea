/* SPDX-License-Identifier: MIT */
/*
 * Response rate limiting (RRL) as BIND does it: one account per (client prefix, response
 * identity), credited @rate responses a second up to @rate, debited one per response, never
 * below -@window * @rate, so a flood must stop for @window seconds before it is answered
 * again; every @slip-th limited response slips through truncated. And the per-client query
 * rate limit: a token bucket per client prefix. Fixed-size tables preallocated per worker
 * (set-associative, least recently used entry replaced); no allocation, no lock after _new.
 */
#ifndef C2W_NET_RRL_H
#define C2W_NET_RRL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/err.h"

struct net_rrl;
struct net_qrate;

enum net_rrl_verdict {
	NET_RRL_PASS = 0, /* within the rate: send */
	NET_RRL_DROP,     /* over: send nothing */
	NET_RRL_SLIP,     /* over, but this one goes out truncated (TC=1) */
};

/**
 * A 64-bit key for a client prefix and an optional response identity.
 *
 * @param peer     client address (AF_INET or AF_INET6; v4-mapped IPv6 counts as IPv4)
 * @param v4_bits  prefix length kept of IPv4 addresses (0..32)
 * @param v6_bits  prefix length kept of IPv6 addresses (0..128)
 * @param kind     caller's class of response (0 for the query rate limit)
 * @param qtype    0 when the identity has no type
 * @param name     lower-case wire name, or NULL
 * @param name_len its length
 */
uint64_t net_rrl_key(const struct sockaddr *peer, unsigned v4_bits, unsigned v6_bits, unsigned kind,
		     uint16_t qtype, const uint8_t *name, size_t name_len);

/**
 * Allocate an RRL table.
 *
 * @param entries  accounts kept (rounded up to a power of two, at least 16)
 * @param out      out: the table
 * @return C2W_OK or C2W_ENOMEM
 */
C2W_NODISCARD int net_rrl_new(size_t entries, struct net_rrl **out);

/** Free a table; NULL does nothing. */
void net_rrl_free(struct net_rrl *t);

/** Accounts the table holds. */
size_t net_rrl_size(const struct net_rrl *t);

/**
 * Account one response and say what to do with it.
 *
 * @param key     from net_rrl_key()
 * @param rate    responses a second allowed for this key (> 0)
 * @param window  seconds (>= 1) a flooding key stays limited after it stops
 * @param slip    0: drop every limited response; N: the first and then every N-th limited
 *                response slips (1: all of them)
 * @param now_s   a monotonic clock in seconds
 */
enum net_rrl_verdict net_rrl_account(struct net_rrl *t, uint64_t key, uint32_t rate,
				     uint32_t window, uint32_t slip, uint64_t now_s);

/** Allocate a query rate table (like net_rrl_new()). */
C2W_NODISCARD int net_qrate_new(size_t entries, struct net_qrate **out);

/** Free a table; NULL does nothing. */
void net_qrate_free(struct net_qrate *t);

/** Buckets the table holds. */
size_t net_qrate_size(const struct net_qrate *t);

/**
 * Take one query from @key's token bucket (refilled at @qps a second, holding at most
 * @burst; a new client starts full).
 *
 * @param now_ms  a monotonic clock in milliseconds
 * @return true when the query may go on, false when the client is over its rate
 */
bool net_qrate_take(struct net_qrate *t, uint64_t key, uint32_t qps, uint32_t burst,
		    uint64_t now_ms);

#endif
