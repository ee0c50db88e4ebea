/* SPDX-License-Identifier: MIT */
/*
 * The queue between a transfer's reader thread and its parser: messages come out in order and
 * intact; the producer's end (clean or an error with its reason) comes after every queued
 * message; the byte budget holds (a real producer thread against a slow consumer: the
 * high-water mark never passes the budget, the producer waited); one message larger than the
 * budget still passes; the consumer giving up wakes a producer waiting for room; the consumer
 * times out and stops.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "feed/xfr_queue.h"
#include "test.h"

#define MSG_MAX 65535

static void fill(uint8_t *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed * 31 + i);
}

static int64_t far(void)
{
	return feed_xfr_queue_now_ms() + 10000;
}

static void test_order_and_end(void)
{
	struct feed_xfr_queue *q;
	CHECK_EQ(feed_xfr_queue_new(1 << 20, &q), C2W_OK);
	static uint8_t in[MSG_MAX], out[MSG_MAX];
	for (unsigned i = 0; i < 5; i++) {
		fill(in, 100 + i, i);
		CHECK_EQ(feed_xfr_queue_push(q, in, 100 + i), C2W_OK);
	}
	feed_xfr_queue_close(q, C2W_EXFR, "stream cut inside a message");
	const char *why;
	for (unsigned i = 0; i < 5; i++) {
		size_t len = 0;
		CHECK_EQ(feed_xfr_queue_pop(q, out, &len, far(), NULL, &why), C2W_OK);
		CHECK_EQ(len, 100 + i);
		fill(in, 100 + i, i);
		CHECK(memcmp(in, out, len) == 0);
	}
	size_t len;
	CHECK_EQ(feed_xfr_queue_pop(q, out, &len, far(), NULL, &why), C2W_EXFR);
	CHECK_STREQ(why, "stream cut inside a message");
	struct feed_xfr_queue_stats st;
	feed_xfr_queue_stats(q, &st);
	CHECK_EQ(st.messages, 5);
	CHECK_EQ(st.full_waits, 0);
	CHECK(st.peak_bytes >= 5 * 100);
	feed_xfr_queue_free(q);

	/* a clean end */
	CHECK_EQ(feed_xfr_queue_new(1 << 20, &q), C2W_OK);
	feed_xfr_queue_close(q, C2W_OK, NULL);
	CHECK_EQ(feed_xfr_queue_pop(q, out, &len, far(), NULL, &why), C2W_ENOENT);
	CHECK_STREQ(why, "");
	feed_xfr_queue_free(q);
	feed_xfr_queue_free(NULL);
}

struct producer {
	struct feed_xfr_queue *q;
	unsigned count;
	size_t len;
	int last;
	unsigned pushed;
};

static void *produce(void *arg)
{
	struct producer *p = arg;
	static uint8_t buf[MSG_MAX];
	p->last = C2W_OK;
	for (unsigned i = 0; i < p->count && p->last == C2W_OK; i++) {
		fill(buf, p->len, i);
		p->last = feed_xfr_queue_push(p->q, buf, p->len);
		p->pushed += p->last == C2W_OK;
	}
	if (p->last == C2W_OK)
		feed_xfr_queue_close(p->q, C2W_OK, NULL);
	return NULL;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

static void test_budget_holds(void)
{
	const size_t len = 1000;
	const uint64_t budget = 3 * (len + feed_xfr_queue_overhead());
	struct feed_xfr_queue *q;
	CHECK_EQ(feed_xfr_queue_new(budget, &q), C2W_OK);
	struct producer p = {.q = q, .count = 40, .len = len};
	pthread_t tid;
	CHECK_EQ(pthread_create(&tid, NULL, produce, &p), 0);
	static uint8_t out[MSG_MAX], want[MSG_MAX];
	const char *why;
	unsigned got = 0;
	for (;;) {
		size_t n;
		int ret = feed_xfr_queue_pop(q, out, &n, far(), NULL, &why);
		if (ret != C2W_OK) {
			CHECK_EQ(ret, C2W_ENOENT);
			break;
		}
		fill(want, len, got);
		CHECK_EQ(n, len);
		CHECK(memcmp(out, want, len) == 0);
		got++;
		if (got % 8 == 0)
			sleep_ms(5); /* a slow parser: the producer must wait for room */
	}
	pthread_join(tid, NULL);
	CHECK_EQ(got, 40);
	struct feed_xfr_queue_stats st;
	feed_xfr_queue_stats(q, &st);
	CHECK(st.peak_bytes <= budget);
	CHECK(st.peak_bytes >= len);
	CHECK(st.full_waits > 0);
	CHECK_EQ(st.messages, 40);
	feed_xfr_queue_free(q);
}

static void test_oversized_message_passes_alone(void)
{
	struct feed_xfr_queue *q;
	CHECK_EQ(feed_xfr_queue_new(100, &q), C2W_OK);
	static uint8_t in[MSG_MAX], out[MSG_MAX];
	fill(in, MSG_MAX, 7);
	CHECK_EQ(feed_xfr_queue_push(q, in, MSG_MAX), C2W_OK);
	size_t n;
	const char *why;
	CHECK_EQ(feed_xfr_queue_pop(q, out, &n, far(), NULL, &why), C2W_OK);
	CHECK_EQ(n, MSG_MAX);
	CHECK(memcmp(in, out, n) == 0);
	feed_xfr_queue_free(q);
}

static void test_abort_wakes_producer(void)
{
	const size_t len = 500;
	struct feed_xfr_queue *q;
	CHECK_EQ(feed_xfr_queue_new(2 * (len + feed_xfr_queue_overhead()), &q), C2W_OK);
	struct producer p = {.q = q, .count = 1000, .len = len};
	pthread_t tid;
	CHECK_EQ(pthread_create(&tid, NULL, produce, &p), 0);
	sleep_ms(50); /* the producer fills the budget and waits */
	feed_xfr_queue_abort(q);
	pthread_join(tid, NULL);
	CHECK_EQ(p.last, C2W_EAGAIN);
	CHECK_EQ(p.pushed, 2);
	CHECK_EQ(feed_xfr_queue_push(q, (const uint8_t *)"x", 1), C2W_EAGAIN);
	feed_xfr_queue_free(q); /* frees what was still queued */
}

static void test_timeout_and_stop(void)
{
	struct feed_xfr_queue *q;
	CHECK_EQ(feed_xfr_queue_new(1 << 20, &q), C2W_OK);
	static uint8_t out[MSG_MAX];
	size_t n;
	const char *why;
	int64_t t0 = feed_xfr_queue_now_ms();
	CHECK_EQ(feed_xfr_queue_pop(q, out, &n, t0 + 60, NULL, &why), C2W_ETIMEDOUT);
	int64_t waited = feed_xfr_queue_now_ms() - t0;
	CHECK(waited >= 55 && waited < 5000);
	atomic_bool stop = true;
	CHECK_EQ(feed_xfr_queue_pop(q, out, &n, far(), &stop, &why), C2W_EAGAIN);
	feed_xfr_queue_free(q);
}

TEST_MAIN(TEST(test_order_and_end), TEST(test_budget_holds),
	  TEST(test_oversized_message_passes_alone), TEST(test_abort_wakes_producer),
	  TEST(test_timeout_and_stop))
