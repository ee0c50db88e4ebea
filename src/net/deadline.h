/* SPDX-License-Identifier: MIT */
/*
 * Deadlines of queries in flight: one libevent timer per worker instead of one per query.
 * Queries get the same timeout, so deadlines arrive in order and a FIFO keeps them sorted:
 * adding and removing are a few pointer writes, with no libevent call. What expiry does is
 * the caller's (the worker answers SERVFAIL).
 */
#ifndef C2W_NET_DEADLINE_H
#define C2W_NET_DEADLINE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"

struct event_base;
struct event;
struct net_deadline_node;

/** Called for each node whose deadline passed, after it has been unlinked. */
typedef void (*net_deadline_expire_cb)(void *arg, struct net_deadline_node *n);

/* Embedded in the caller's record (container_of to get back). */
struct net_deadline_node {
	struct net_deadline_node *prev, *next;
	uint64_t at_ms; /* monotonic milliseconds */
	bool linked;
};

/* Caller's storage; one per worker thread, used only from its loop. */
struct net_deadline_q {
	struct net_deadline_node *head, *tail; /* earliest first */
	struct event *ev;                      /* fires at the head's deadline (or later) */
	uint64_t armed_ms;                     /* the deadline @ev is set for; 0: not set */
	net_deadline_expire_cb cb;
	void *arg;
};

/**
 * @param base  the worker's event_base; the timer lives on it
 * @return C2W_OK, C2W_ENOMEM
 */
C2W_NODISCARD int net_deadline_init(struct net_deadline_q *q, struct event_base *base,
				    net_deadline_expire_cb cb, void *arg);

/** Free the timer. Linked nodes are forgotten (never expire). */
void net_deadline_deinit(struct net_deadline_q *q);

/**
 * Expire @n @timeout_ms from now (CLOCK_MONOTONIC_COARSE: a few ms early or late). Nodes
 * normally join at the tail; a shorter timeout than the ones before (after a reload) is put
 * in its place. @n must not be linked.
 */
void net_deadline_add(struct net_deadline_q *q, struct net_deadline_node *n, uint32_t timeout_ms);

/** Unlink @n; nothing happens when it is not linked. Never touches the timer. */
void net_deadline_del(struct net_deadline_q *q, struct net_deadline_node *n);

/** Current monotonic time in milliseconds, as the queue reads it. */
uint64_t net_deadline_now_ms(void);

#endif
