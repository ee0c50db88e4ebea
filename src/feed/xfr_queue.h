/* SPDX-License-Identifier: MIT */
/*
 * Received zone-transfer messages between the thread that drains the socket and the one that
 * parses them (feed/xfr_io.c), so a primary is never left waiting on our parsing. FIFO, one
 * producer, one consumer, bounded by a byte budget that counts each message's bookkeeping too.
 * What the messages mean is feed/xfr.c's; the socket is feed/xfr_io.c's.
 */
#ifndef C2W_FEED_XFR_QUEUE_H
#define C2W_FEED_XFR_QUEUE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct feed_xfr_queue;

/** What a queue went through, for the zone state. */
struct feed_xfr_queue_stats {
	uint64_t peak_bytes; /* high-water mark of the budgeted bytes held */
	uint64_t full_waits; /* times the producer had to wait for room */
	uint64_t messages;   /* messages that went through */
	int64_t last_push_us; /* monotonic µs when the last message came in (0: none) */
};

/**
 * A queue that holds at most @budget bytes (message bytes plus a fixed cost per message); a
 * single message larger than the budget is still taken when the queue is empty.
 *
 * @return C2W_OK, C2W_ENOMEM
 */
C2W_NODISCARD int feed_xfr_queue_new(uint64_t budget, struct feed_xfr_queue **out);
/** Free @q; both threads must be done with it. NULL does nothing. */
void feed_xfr_queue_free(struct feed_xfr_queue *q);

/** The fixed cost the budget counts for each message besides its bytes. */
size_t feed_xfr_queue_overhead(void);

/**
 * Producer: append a copy of @msg, waiting while the budget is used up.
 *
 * @return C2W_OK; C2W_EAGAIN when the consumer gave up (feed_xfr_queue_abort()): stop
 *         reading; C2W_ENOMEM
 */
C2W_NODISCARD int feed_xfr_queue_push(struct feed_xfr_queue *q, const uint8_t *msg, size_t len);

/**
 * Producer: no more messages. @status (C2W_OK or an error) and @why (copied, may be NULL) are
 * what the consumer gets once it has taken every message queued before.
 */
void feed_xfr_queue_close(struct feed_xfr_queue *q, int status, const char *why);

/**
 * Consumer: take the oldest message into @buf (room for 65535 bytes), waiting until one
 * comes, the producer closes, @deadline_ms (CLOCK_MONOTONIC, ms) passes or *@stop is set
 * (checked at least every 200 ms; @stop may be NULL).
 *
 * @param why  out: on the producer's end, its reason ("" when none), valid while @q lives
 * @return C2W_OK (*@len set); C2W_ENOENT the producer closed with C2W_OK; the producer's error;
 *         C2W_ETIMEDOUT; C2W_EAGAIN (stopped)
 */
C2W_NODISCARD int feed_xfr_queue_pop(struct feed_xfr_queue *q, uint8_t *buf, size_t *len,
				     int64_t deadline_ms, const atomic_bool *stop,
				     const char **why);

/** Consumer: give up; a waiting or later push returns C2W_EAGAIN. Queued messages are kept
 *  until feed_xfr_queue_free(). */
void feed_xfr_queue_abort(struct feed_xfr_queue *q);

/** The statistics so far (either thread). */
void feed_xfr_queue_stats(struct feed_xfr_queue *q, struct feed_xfr_queue_stats *out);

/** Monotonic clock in ms, the one @deadline_ms is on. */
int64_t feed_xfr_queue_now_ms(void);

#endif
