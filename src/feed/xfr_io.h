/* SPDX-License-Identifier: MIT */
/*
 * A zone transfer over TCP (RFC 7766 framing), blocking, for the transfer thread: connect,
 * send the query, read messages into feed_xfr until it completes, under a whole-transfer
 * time cap and byte cap. A stop flag is checked at least every 200 ms. A reader thread of its
 * own drains the socket into a queue while the caller parses, so a primary with a short I/O
 * timeout never waits on our parsing; the queue holds at most max_bytes (message bytes and a
 * fixed cost per message), after which the reader waits for the parser.
 */
#ifndef C2W_FEED_XFR_IO_H
#define C2W_FEED_XFR_IO_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>

#include "feed/xfr.h"
#include "feed/xfr_queue.h"

struct feed_xfr_limits {
	unsigned timeout_ms; /* the whole transfer, connect included */
	uint64_t max_bytes;  /* response bytes */
	const atomic_bool *stop; /* may be NULL */
};

/**
 * Run @x against the primary at @addr.
 *
 * @param err  out: why it failed (also feed_xfr_error() for message-level faults)
 * @param st   out: what the queue of received messages went through; may be NULL
 * @return 1 complete (call feed_xfr_finish()); C2W_ETIMEDOUT; C2W_ERANGE (size cap);
 *         C2W_EXFR (stream ended before the closing SOA, reset); C2W_EAGAIN (stopped); the
 *         feed_xfr_input() error; negative errno from socket calls
 */
C2W_NODISCARD int feed_xfr_fetch(struct feed_xfr *x, const struct sockaddr *addr,
				 socklen_t addr_len, const struct feed_xfr_limits *lim, char *err,
				 size_t err_len, struct feed_xfr_queue_stats *st);

#endif
