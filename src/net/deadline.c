/* SPDX-License-Identifier: MIT */
/*
 * A FIFO of deadlines behind one libevent timer. The timer is set lazily: removing the head
 * leaves it as it is; when it fires early (its node already gone) it expires nothing and is
 * set again for the new head. So a query that is answered in time costs no timer work.
 */
#include "net/deadline.h"

#include <event2/event.h>
#include <time.h>

uint64_t net_deadline_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void arm(struct net_deadline_q *q, uint64_t now)
{
	if (q->head == NULL)
		return;
	uint64_t at = q->head->at_ms;
	if (q->armed_ms != 0 && q->armed_ms <= at)
		return; /* fires first anyway, and sets itself again then */
	uint64_t ms = at > now ? at - now : 0;
	struct timeval tv = {.tv_sec = (time_t)(ms / 1000),
			     .tv_usec = (suseconds_t)(ms % 1000) * 1000};
	q->armed_ms = at;
	event_add(q->ev, &tv);
}

static void unlink_node(struct net_deadline_q *q, struct net_deadline_node *n)
{
	if (n->prev != NULL)
		n->prev->next = n->next;
	else
		q->head = n->next;
	if (n->next != NULL)
		n->next->prev = n->prev;
	else
		q->tail = n->prev;
	n->prev = n->next = NULL;
	n->linked = false;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct net_deadline_q *q = arg;
	(void)fd;
	(void)what;
	q->armed_ms = 0;
	uint64_t now = net_deadline_now_ms();
	/* The coarse clock may lag the timer by a tick: what is due within one is due now. */
	while (q->head != NULL && q->head->at_ms <= now + 5) {
		struct net_deadline_node *n = q->head;
		unlink_node(q, n);
		q->cb(q->arg, n);
	}
	arm(q, now);
}

int net_deadline_init(struct net_deadline_q *q, struct event_base *base, net_deadline_expire_cb cb,
		      void *arg)
{
	q->head = q->tail = NULL;
	q->armed_ms = 0;
	q->cb = cb;
	q->arg = arg;
	q->ev = evtimer_new(base, on_timer, q);
	return q->ev != NULL ? C2W_OK : C2W_ENOMEM;
}

void net_deadline_deinit(struct net_deadline_q *q)
{
	if (q->ev != NULL)
		event_free(q->ev);
	q->ev = NULL;
	q->head = q->tail = NULL;
}

void net_deadline_add(struct net_deadline_q *q, struct net_deadline_node *n, uint32_t timeout_ms)
{
	uint64_t now = net_deadline_now_ms();
	n->at_ms = now + timeout_ms;
	/* Walk back past later deadlines: none, unless the timeout was just shortened. */
	struct net_deadline_node *after = q->tail;
	while (after != NULL && after->at_ms > n->at_ms)
		after = after->prev;
	n->prev = after;
	n->next = after != NULL ? after->next : q->head;
	if (n->next != NULL)
		n->next->prev = n;
	else
		q->tail = n;
	if (after != NULL)
		after->next = n;
	else
		q->head = n;
	n->linked = true;
	if (q->head == n)
		arm(q, now);
}

void net_deadline_del(struct net_deadline_q *q, struct net_deadline_node *n)
{
	if (n->linked)
		unlink_node(q, n);
}
