/* SPDX-License-Identifier: MIT */
/*
 * The per-worker hit ring: single producer (the worker), single consumer (the event thread),
 * lock-free with C11 atomics, fixed capacity allocated up front. A push never blocks and
 * never allocates or makes a system call: when the ring is full the hit is dropped and
 * counted (per action and per policy zone), so logging can never delay an answer.
 */
#ifndef C2W_EVENTS_RING_H
#define C2W_EVENTS_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "events/hit.h"

/* Distinct zones whose drops are counted by name; further zones count under "" (other). */
#define EVENTS_RING_DROP_ZONES 32

struct events_ring;

/** Drops from a full ring, per zone and action, as read by the consumer side. */
struct events_ring_drops {
	char zone[EVENTS_NAME_CAP]; /* "" = zones beyond EVENTS_RING_DROP_ZONES */
	uint64_t by_action[EVENTS_ACTION_COUNT_];
};

/**
 * Allocate a ring.
 *
 * @param entries  capacity; rounded up to a power of two, at least 2, at most 1<<20
 * @param out      out: the ring; free with events_ring_free() after both sides stopped
 * @return C2W_OK or C2W_ENOMEM
 */
C2W_NODISCARD int events_ring_new(unsigned entries, struct events_ring **out);

/** Free a ring; NULL does nothing. Neither side may use it afterwards. */
void events_ring_free(struct events_ring *ring);

/**
 * Copy @hit into the ring. Producer thread only (the owning worker). Wait-free.
 *
 * @return true when queued; false when the ring was full (the hit is dropped and counted)
 */
bool events_ring_push(struct events_ring *ring, const struct events_hit *hit);

/**
 * Take up to @max hits out of the ring. Consumer thread only (the event thread).
 *
 * @param out  caller's array of @max records
 * @return number of records copied into @out (0 when empty)
 */
size_t events_ring_pop(struct events_ring *ring, struct events_hit *out, size_t max);

/** Hits pushed successfully so far (any thread; relaxed). */
uint64_t events_ring_pushed(const struct events_ring *ring);

/** Hits dropped because the ring was full (any thread; relaxed). */
uint64_t events_ring_dropped(const struct events_ring *ring);

/**
 * Read the drop counters per zone. Any thread; a zone slot is published with release order
 * after its name is written, so a reader never sees a half-written name.
 *
 * @param out    caller's array
 * @param cap    its length (EVENTS_RING_DROP_ZONES + 1 covers all)
 * @return number of entries filled
 */
size_t events_ring_drops(const struct events_ring *ring, struct events_ring_drops *out, size_t cap);

/** Capacity after rounding. */
size_t events_ring_capacity(const struct events_ring *ring);

#endif
