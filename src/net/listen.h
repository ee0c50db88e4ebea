/* SPDX-License-Identifier: MIT */
/*
 * Listening sockets: one UDP and one TCP socket per listen address per worker, bound with
 * SO_REUSEPORT so the kernel spreads clients over workers. The main thread opens them (before
 * dropping privileges) and keeps ownership; workers only poll them.
 */
#ifndef C2W_NET_LISTEN_H
#define C2W_NET_LISTEN_H

#include <stdbool.h>

#include "conf/config.h"
#include "core/err.h"

enum net_proto {
	NET_UDP = 0,
	NET_TCP = 1,
};

struct net_sock {
	struct conf_addr addr;
	enum net_proto proto;
	int fd;
	bool wildcard; /* bound to 0.0.0.0 or ::: replies need the packet's own address */
};

/**
 * Open, configure and bind one socket (and listen(2) for TCP).
 *
 * @param addr   where to bind
 * @param proto  NET_UDP or NET_TCP
 * @param out    out: the socket; out->fd owned by the caller
 * @return C2W_OK or a negative errno (EADDRINUSE, EACCES, ...)
 */
C2W_NODISCARD int net_sock_open(const struct conf_addr *addr, enum net_proto proto,
				struct net_sock *out);

/** Close @s->fd if open; sets it to -1. */
void net_sock_close(struct net_sock *s);

#endif
