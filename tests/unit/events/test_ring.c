/* SPDX-License-Identifier: MIT */
/* Hit ring: order, full ring drops and counts per zone/action, SPSC across threads. */
#include <pthread.h>

#include "events/ring.h"
#include "test.h"

static void make_hit(struct events_hit *h, unsigned i, const char *zone, unsigned action)
{
	memset(h, 0, sizeof(*h));
	h->time_ns = i;
	h->action = (uint8_t)action;
	events_hit_copy(h->zone, sizeof(h->zone), zone);
	snprintf(h->qname, sizeof(h->qname), "n%u.example.", i);
}

static void test_order_and_full(void)
{
	struct events_ring *r = NULL;
	CHECK_EQ(events_ring_new(5, &r), C2W_OK);
	CHECK_EQ(events_ring_capacity(r), 8);
	struct events_hit h, out[16];
	for (unsigned i = 0; i < 8; i++) {
		make_hit(&h, i, "c2.rpz.", EVENTS_ACTION_NXDOMAIN);
		CHECK(events_ring_push(r, &h));
	}
	make_hit(&h, 99, "c2.rpz.", EVENTS_ACTION_NXDOMAIN);
	CHECK(!events_ring_push(r, &h));
	make_hit(&h, 100, "other.rpz.", EVENTS_ACTION_SINKHOLE);
	CHECK(!events_ring_push(r, &h));
	CHECK_EQ(events_ring_dropped(r), 2);
	CHECK_EQ(events_ring_pushed(r), 8);
	struct events_ring_drops d[EVENTS_RING_DROP_ZONES + 1];
	size_t n = events_ring_drops(r, d, EVENTS_RING_DROP_ZONES + 1);
	CHECK_EQ(n, 2);
	CHECK_STREQ(d[0].zone, "c2.rpz.");
	CHECK_EQ(d[0].by_action[EVENTS_ACTION_NXDOMAIN], 1);
	CHECK_STREQ(d[1].zone, "other.rpz.");
	CHECK_EQ(d[1].by_action[EVENTS_ACTION_SINKHOLE], 1);
	CHECK_EQ(events_ring_pop(r, out, 3), 3);
	CHECK_EQ(out[0].time_ns, 0);
	CHECK_EQ(out[2].time_ns, 2);
	CHECK_EQ(events_ring_pop(r, out, 16), 5);
	CHECK_EQ(out[4].time_ns, 7);
	CHECK_EQ(events_ring_pop(r, out, 16), 0);
	events_ring_free(r);
}

static void test_many_zones(void)
{
	struct events_ring *r = NULL;
	CHECK_EQ(events_ring_new(2, &r), C2W_OK);
	struct events_hit h;
	make_hit(&h, 0, "z", 0);
	CHECK(events_ring_push(r, &h));
	CHECK(events_ring_push(r, &h));
	for (unsigned i = 0; i < EVENTS_RING_DROP_ZONES + 5; i++) {
		char zone[32];
		snprintf(zone, sizeof(zone), "zone%u.", i);
		make_hit(&h, i, zone, EVENTS_ACTION_DROP);
		CHECK(!events_ring_push(r, &h));
	}
	struct events_ring_drops d[EVENTS_RING_DROP_ZONES + 1];
	size_t n = events_ring_drops(r, d, EVENTS_RING_DROP_ZONES + 1);
	CHECK_EQ(n, EVENTS_RING_DROP_ZONES + 1);
	CHECK_STREQ(d[EVENTS_RING_DROP_ZONES].zone, "");
	CHECK_EQ(d[EVENTS_RING_DROP_ZONES].by_action[EVENTS_ACTION_DROP], 5);
	events_ring_free(r);
}

#define SPSC_N 200000

static void *producer(void *arg)
{
	struct events_ring *r = arg;
	struct events_hit h;
	for (unsigned i = 0; i < SPSC_N; i++) {
		make_hit(&h, i, "z.", 0);
		(void)events_ring_push(r, &h);
	}
	return NULL;
}

static void test_spsc_threads(void)
{
	struct events_ring *r = NULL;
	CHECK_EQ(events_ring_new(1024, &r), C2W_OK);
	pthread_t t;
	pthread_create(&t, NULL, producer, r);
	struct events_hit out[64];
	uint64_t got = 0, last = 0;
	bool ordered = true, done = false;
	while (!done) {
		done = events_ring_pushed(r) + events_ring_dropped(r) == SPSC_N;
		size_t n;
		while ((n = events_ring_pop(r, out, 64)) > 0) {
			for (size_t i = 0; i < n; i++) {
				if (got > 0 && out[i].time_ns <= last)
					ordered = false;
				char want[32];
				snprintf(want, sizeof(want), "n%u.example.",
					 (unsigned)out[i].time_ns);
				if (strcmp(out[i].qname, want) != 0)
					ordered = false; /* torn record */
				last = out[i].time_ns;
				got++;
			}
		}
	}
	pthread_join(t, NULL);
	CHECK(ordered);
	CHECK_EQ(got, events_ring_pushed(r));
	CHECK_EQ(got + events_ring_dropped(r), SPSC_N);
	events_ring_free(r);
}

TEST_MAIN(TEST(test_order_and_full), TEST(test_many_zones), TEST(test_spsc_threads))
