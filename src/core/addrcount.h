/* SPDX-License-Identifier: MIT */
/*
 * Open connections per client prefix (IPv4 /32 and IPv6 /56 by default), for per-address
 * connection caps: the DNS workers share one (locked, taken at accept and close only, never
 * per query), the sinkhole keeps its own (unlocked, one thread). Fixed size, allocated once;
 * an IPv4-mapped IPv6 address counts as its IPv4 address.
 */
#ifndef C2W_CORE_ADDRCOUNT_H
#define C2W_CORE_ADDRCOUNT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/err.h"

struct c2w_addrcount;

#define C2W_ADDRCOUNT_V4_BITS 32
#define C2W_ADDRCOUNT_V6_BITS 56

/**
 * Create a table for up to @capacity distinct prefixes at once (rounded up to a power of two,
 * twice over, so probes stay short).
 *
 * @param v4_bits  IPv4 prefix length that makes one client (1..32)
 * @param v6_bits  IPv6 prefix length that makes one client (1..128)
 * @param locked   true when several threads use it (a mutex around each call)
 * @return the table, or NULL for ENOMEM
 */
struct c2w_addrcount *c2w_addrcount_new(unsigned capacity, unsigned v4_bits, unsigned v6_bits,
					bool locked);

/** The client prefix of an address as a key: family (4 or 6) then 16 masked bytes. */
#define C2W_ADDRKEY_LEN 17

/**
 * Make @sa's client-prefix key (IPv4-mapped IPv6 counts as IPv4).
 *
 * @return true, or false when @sa is neither AF_INET nor AF_INET6
 */
bool c2w_addrkey_make(const struct sockaddr *sa, unsigned v4_bits, unsigned v6_bits,
		      uint8_t key[C2W_ADDRKEY_LEN]);

/** Free; NULL does nothing. */
void c2w_addrcount_free(struct c2w_addrcount *t);

/**
 * Count one more connection for @sa's prefix unless it already has @max.
 *
 * @param sa   AF_INET or AF_INET6 address, borrowed
 * @param max  the cap (0 = no cap: always counted)
 * @return C2W_OK (counted: call c2w_addrcount_put() when it closes), C2W_ERANGE (at the cap:
 *         not counted), C2W_EFULL (table full, or not an IP address: not counted)
 */
C2W_NODISCARD int c2w_addrcount_take(struct c2w_addrcount *t, const struct sockaddr *sa,
				     unsigned max);

/** One connection of @sa's prefix closed (one that c2w_addrcount_take() counted). */
void c2w_addrcount_put(struct c2w_addrcount *t, const struct sockaddr *sa);

/** Connections counted for @sa's prefix now. */
unsigned c2w_addrcount_get(struct c2w_addrcount *t, const struct sockaddr *sa);

#endif
