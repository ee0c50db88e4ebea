/* SPDX-License-Identifier: MIT */
/*
 * The deadline FIFO on a real libevent loop: nodes expire in deadline order, removed nodes
 * never expire, a shorter timeout added later is put in its place, and a head removed before
 * its time leaves the timer to fire early and set itself again for the next node.
 */
#include <event2/event.h>
#include <stddef.h>
#include <stdio.h>

#include "net/deadline.h"

static int failures;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
			failures++;                                                                \
		}                                                                                  \
	} while (0)

struct rec {
	struct net_deadline_node n;
	int id;
	uint64_t fired_ms;
};

struct log {
	int order[8];
	int count;
	struct event_base *base;
	int stop_after;
};

static void on_expire(void *arg, struct net_deadline_node *n)
{
	struct log *lg = arg;
	struct rec *r = (struct rec *)(void *)((char *)n - offsetof(struct rec, n));
	CHECK(!n->linked);
	r->fired_ms = net_deadline_now_ms();
	if (lg->count < 8)
		lg->order[lg->count] = r->id;
	lg->count++;
	if (lg->count == lg->stop_after)
		event_base_loopbreak(lg->base);
}

/* Run the loop until @want expiries, bounded by a 5 s safety timer. */
static void run(struct log *lg, int want)
{
	lg->stop_after = want;
	struct timeval cap = {.tv_sec = 5};
	event_base_loopexit(lg->base, &cap);
	event_base_dispatch(lg->base);
}

static void test_order_and_delete(void)
{
	struct log lg = {.count = 0};
	lg.base = event_base_new();
	struct net_deadline_q q;
	CHECK(net_deadline_init(&q, lg.base, on_expire, &lg) == C2W_OK);
	struct rec a = {.id = 1}, b = {.id = 2}, c = {.id = 3}, d = {.id = 4};
	uint64_t t0 = net_deadline_now_ms();
	net_deadline_add(&q, &a.n, 300);
	net_deadline_add(&q, &b.n, 300);
	net_deadline_add(&q, &c.n, 300);
	/* A shorter timeout after longer ones (a reload shortened it): it goes first. */
	net_deadline_add(&q, &d.n, 100);
	CHECK(q.head == &d.n && q.tail == &c.n);
	/* The head answered in time: its deadline goes, the timer stays as it was. */
	net_deadline_del(&q, &a.n);
	net_deadline_del(&q, &a.n); /* twice does nothing */
	CHECK(!a.n.linked);
	run(&lg, 3);
	CHECK(lg.count == 3);
	CHECK(lg.order[0] == 4 && lg.order[1] == 2 && lg.order[2] == 3);
	CHECK(a.fired_ms == 0);
	/* Coarse clock: a few ms either way, and a loaded machine fires late, never early. */
	CHECK(d.fired_ms + 10 >= t0 + 100);
	CHECK(b.fired_ms + 10 >= t0 + 300);
	CHECK(q.head == NULL && q.tail == NULL);
	net_deadline_deinit(&q);
	event_base_free(lg.base);
}

static void test_head_removed_early(void)
{
	struct log lg = {.count = 0};
	lg.base = event_base_new();
	struct net_deadline_q q;
	CHECK(net_deadline_init(&q, lg.base, on_expire, &lg) == C2W_OK);
	struct rec a = {.id = 1}, b = {.id = 2};
	net_deadline_add(&q, &a.n, 50);
	/* Later: b joins after a; a is answered; the timer (set for a) fires with nothing due
	 * and must set itself again for b. */
	struct timeval gap = {.tv_usec = 20000};
	event_base_loopexit(lg.base, &gap);
	event_base_dispatch(lg.base);
	uint64_t tb = net_deadline_now_ms();
	net_deadline_add(&q, &b.n, 200);
	net_deadline_del(&q, &a.n);
	run(&lg, 1);
	CHECK(lg.count == 1 && lg.order[0] == 2);
	CHECK(b.fired_ms + 10 >= tb + 200);
	/* Nothing linked: no timer is left set. */
	CHECK(!event_pending(q.ev, EV_TIMEOUT, NULL));
	net_deadline_deinit(&q);
	event_base_free(lg.base);
}

int main(void)
{
	test_order_and_delete();
	test_head_removed_early();
	if (failures != 0) {
		fprintf(stderr, "%d failure(s)\n", failures);
		return 1;
	}
	printf("ok\n");
	return 0;
}
