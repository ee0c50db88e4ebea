/* SPDX-License-Identifier: MIT */
/*
 * SPSC hit ring. The producer owns @head and the drop table, the consumer owns @tail; each
 * index lives on its own cache line. Classic Lamport queue with acquire/release ordering:
 * the producer publishes a slot by storing head with release after copying the record.
 */
#include "events/ring.h"

#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define CACHELINE 64

struct drop_slot {
	_Atomic uint32_t used; /* 0 free, 1 name published */
	char zone[EVENTS_NAME_CAP];
	_Atomic uint64_t by_action[EVENTS_ACTION_COUNT_];
};

struct events_ring {
	alignas(CACHELINE) _Atomic uint64_t head; /* next slot to write; producer */
	uint64_t tail_cache;                      /* producer's view of tail */
	_Atomic uint64_t pushed;
	_Atomic uint64_t dropped;
	alignas(CACHELINE) _Atomic uint64_t tail; /* next slot to read; consumer */
	alignas(CACHELINE) size_t mask;
	struct drop_slot drops[EVENTS_RING_DROP_ZONES + 1]; /* last = other zones */
	struct events_hit *slots;
};

int events_ring_new(unsigned entries, struct events_ring **out)
{
	size_t cap = 2;
	while (cap < entries && cap < (1u << 20))
		cap <<= 1;
	struct events_ring *r = aligned_alloc(CACHELINE, sizeof(*r));
	if (r == NULL)
		return C2W_ENOMEM;
	memset(r, 0, sizeof(*r));
	r->slots = calloc(cap, sizeof(r->slots[0]));
	if (r->slots == NULL) {
		free(r);
		return C2W_ENOMEM;
	}
	r->mask = cap - 1;
	*out = r;
	return C2W_OK;
}

void events_ring_free(struct events_ring *ring)
{
	if (ring == NULL)
		return;
	free(ring->slots);
	free(ring);
}

/* Producer only: find or claim the drop slot of @zone. */
static struct drop_slot *drop_slot(struct events_ring *r, const char *zone)
{
	for (size_t i = 0; i < EVENTS_RING_DROP_ZONES; i++) {
		struct drop_slot *s = &r->drops[i];
		if (!atomic_load_explicit(&s->used, memory_order_relaxed)) {
			events_hit_copy(s->zone, sizeof(s->zone), zone);
			atomic_store_explicit(&s->used, 1, memory_order_release);
			return s;
		}
		if (strncmp(s->zone, zone, sizeof(s->zone)) == 0)
			return s;
	}
	return &r->drops[EVENTS_RING_DROP_ZONES];
}

bool events_ring_push(struct events_ring *ring, const struct events_hit *hit)
{
	uint64_t head = atomic_load_explicit(&ring->head, memory_order_relaxed);
	if (head - ring->tail_cache > ring->mask) {
		ring->tail_cache = atomic_load_explicit(&ring->tail, memory_order_acquire);
		if (head - ring->tail_cache > ring->mask) {
			struct drop_slot *s = drop_slot(ring, hit->zone);
			unsigned a =
			    hit->action < EVENTS_ACTION_COUNT_ ? hit->action : EVENTS_ACTION_LOG;
			atomic_fetch_add_explicit(&s->by_action[a], 1, memory_order_relaxed);
			atomic_fetch_add_explicit(&ring->dropped, 1, memory_order_relaxed);
			return false;
		}
	}
	ring->slots[head & ring->mask] = *hit;
	atomic_store_explicit(&ring->head, head + 1, memory_order_release);
	atomic_fetch_add_explicit(&ring->pushed, 1, memory_order_relaxed);
	return true;
}

size_t events_ring_pop(struct events_ring *ring, struct events_hit *out, size_t max)
{
	uint64_t tail = atomic_load_explicit(&ring->tail, memory_order_relaxed);
	uint64_t head = atomic_load_explicit(&ring->head, memory_order_acquire);
	size_t n = 0;
	while (n < max && tail + n != head) {
		out[n] = ring->slots[(tail + n) & ring->mask];
		n++;
	}
	if (n > 0)
		atomic_store_explicit(&ring->tail, tail + n, memory_order_release);
	return n;
}

uint64_t events_ring_pushed(const struct events_ring *ring)
{
	return atomic_load_explicit(&ring->pushed, memory_order_relaxed);
}

uint64_t events_ring_dropped(const struct events_ring *ring)
{
	return atomic_load_explicit(&ring->dropped, memory_order_relaxed);
}

size_t events_ring_drops(const struct events_ring *ring, struct events_ring_drops *out, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i <= EVENTS_RING_DROP_ZONES && n < cap; i++) {
		const struct drop_slot *s = &ring->drops[i];
		if (i < EVENTS_RING_DROP_ZONES &&
		    !atomic_load_explicit(&s->used, memory_order_acquire))
			continue;
		uint64_t total = 0;
		for (unsigned a = 0; a < EVENTS_ACTION_COUNT_; a++) {
			out[n].by_action[a] =
			    atomic_load_explicit(&s->by_action[a], memory_order_relaxed);
			total += out[n].by_action[a];
		}
		if (i == EVENTS_RING_DROP_ZONES && total == 0)
			continue;
		if (i < EVENTS_RING_DROP_ZONES)
			memcpy(out[n].zone, s->zone, sizeof(out[n].zone));
		else
			out[n].zone[0] = '\0';
		n++;
	}
	return n;
}

size_t events_ring_capacity(const struct events_ring *ring)
{
	return ring->mask + 1;
}
