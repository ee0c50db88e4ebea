/* SPDX-License-Identifier: MIT */
/*
 * net/service.h: the watchdog's decision. Pings go on while every worker's heartbeat moves;
 * one worker whose heartbeat stands still longer than the stall time stops them, and they
 * resume once it moves again. The notifications themselves are tested on the real daemon
 * (tests/integration/test_service.py).
 */
#include "net/service.h"
#include "test.h"

static void test_all_moving_is_healthy(void)
{
	struct net_service_beat st[2] = {{0, 0}, {0, 0}};
	uint64_t beats[2] = {0, 0};
	for (uint64_t t = 1000; t <= 20000; t += 1000) {
		beats[0]++;
		beats[1]++;
		CHECK(net_service_healthy(st, beats, 2, t, 3000));
	}
}

static void test_one_stuck_worker_stops_pings(void)
{
	struct net_service_beat st[2] = {{5, 0}, {7, 0}};
	uint64_t beats[2] = {5, 7};
	/* Worker 1 stands still; within the stall time that is still fine. */
	beats[0] = 6;
	CHECK(net_service_healthy(st, beats, 2, 2000, 3000));
	beats[0] = 7;
	CHECK(net_service_healthy(st, beats, 2, 3000, 3000));
	beats[0] = 8;
	CHECK(!net_service_healthy(st, beats, 2, 3500, 3000));
	beats[0] = 9;
	CHECK(!net_service_healthy(st, beats, 2, 10000, 3000));
	/* It moves again: healthy at once. */
	beats[0] = 10;
	beats[1] = 8;
	CHECK(net_service_healthy(st, beats, 2, 10500, 3000));
}

TEST_MAIN(TEST(test_all_moving_is_healthy), TEST(test_one_stuck_worker_stops_pings))
