/* SPDX-License-Identifier: MIT */
/*
 * Queries in flight per client prefix: a fixed-size, preallocated open-addressing table owned
 * by one worker (no malloc and no lock after creation). A client is its address truncated to
 * a prefix (IPv4 /32, IPv6 /56 by default); IPv4-mapped IPv6 counts as IPv4. The worker takes
 * a unit when a query gets a slot and gives it back when the client has its answer.
 *
 * Usage:
 *   struct net_client_key k;
 *   net_client_key_make(peer, 32, 56, &k);
 *   if (net_client_table_take(t, &k, cap) != C2W_OK) -> over the client's cap
 *   ... answer ...
 *   net_client_table_put(t, &k);
 */
#ifndef C2W_NET_CLIENT_TABLE_H
#define C2W_NET_CLIENT_TABLE_H

#include <stdint.h>
#include <sys/socket.h>

#include "core/err.h"

/** A client's identity: family and its address with the bits past the prefix cleared. */
struct net_client_key {
	uint8_t family; /* 4 or 6; 0 = not a client (unknown family) */
	uint8_t bits;   /* prefix length used */
	uint8_t addr[16];
};

struct net_client_table;

/**
 * Make the key of @peer.
 *
 * @param peer     client address (AF_INET or AF_INET6), borrowed
 * @param v4_bits  IPv4 prefix length, 1..32
 * @param v6_bits  IPv6 prefix length, 1..128
 * @param out      out: the key; family 0 for any other address family
 */
void net_client_key_make(const struct sockaddr *peer, unsigned v4_bits, unsigned v6_bits,
			 struct net_client_key *out);

/**
 * Create a table able to hold @max_clients distinct clients at once (rounded up so that the
 * load factor stays at or under one half).
 *
 * @return the table, or NULL when out of memory
 */
struct net_client_table *net_client_table_new(unsigned max_clients);

/** Free the table; NULL does nothing. */
void net_client_table_free(struct net_client_table *t);

/**
 * Count one more query in flight for @k, unless it already has @cap.
 *
 * @param k    the client, borrowed
 * @param cap  the client's cap; 0 means no cap (still counted)
 * @return C2W_OK (counted), C2W_ERANGE (at its cap: nothing counted), C2W_EFULL (the table
 *         holds max_clients others already: nothing counted)
 */
C2W_NODISCARD int net_client_table_take(struct net_client_table *t,
					const struct net_client_key *k, unsigned cap);

/** Give back one unit taken for @k by net_client_table_take(); the entry goes at zero. */
void net_client_table_put(struct net_client_table *t, const struct net_client_key *k);

/** Queries in flight for @k now (0 when unknown). */
unsigned net_client_table_count(const struct net_client_table *t, const struct net_client_key *k);

/** Clients with at least one query in flight. */
unsigned net_client_table_clients(const struct net_client_table *t);

#endif
