/* SPDX-License-Identifier: MIT */
/*
 * Bounded FIFO of received transfer messages: a singly linked list of copies under one mutex,
 * two condition variables (a message or the end for the consumer, room for the producer). It
 * sits at the edge between two threads and sees a few thousand messages per transfer, so a
 * lock is the simple, cheap choice here.
 */
#include "feed/xfr_queue.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SLICE_MS 200

struct qmsg {
	struct qmsg *next;
	size_t len;
	uint8_t data[];
};

struct feed_xfr_queue {
	pthread_mutex_t mu;
	pthread_cond_t has_msg;   /* consumer waits: a message or the end */
	pthread_cond_t has_room;  /* producer waits: room, or the consumer gave up */
	struct qmsg *head, *tail; /* mu */
	uint64_t budget;
	uint64_t held;                  /* mu: budgeted bytes queued */
	bool closed;                    /* mu: the producer is done */
	bool aborted;                   /* mu: the consumer is done */
	int status;                     /* mu: the producer's end */
	char why[256];                  /* mu: and its reason */
	struct feed_xfr_queue_stats st; /* mu */
};

int64_t feed_xfr_queue_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

size_t feed_xfr_queue_overhead(void)
{
	return sizeof(struct qmsg) + 16; /* and what malloc keeps beside a block */
}

int feed_xfr_queue_new(uint64_t budget, struct feed_xfr_queue **out)
{
	struct feed_xfr_queue *q = calloc(1, sizeof(*q));
	if (q == NULL)
		return C2W_ENOMEM;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->has_msg, &ca);
	pthread_cond_init(&q->has_room, &ca);
	pthread_condattr_destroy(&ca);
	q->budget = budget;
	*out = q;
	return C2W_OK;
}

void feed_xfr_queue_free(struct feed_xfr_queue *q)
{
	if (q == NULL)
		return;
	while (q->head != NULL) {
		struct qmsg *m = q->head;
		q->head = m->next;
		free(m);
	}
	pthread_cond_destroy(&q->has_room);
	pthread_cond_destroy(&q->has_msg);
	pthread_mutex_destroy(&q->mu);
	free(q);
}

static uint64_t cost(size_t len)
{
	return (uint64_t)len + feed_xfr_queue_overhead();
}

int feed_xfr_queue_push(struct feed_xfr_queue *q, const uint8_t *msg, size_t len)
{
	struct qmsg *m = malloc(sizeof(*m) + len);
	if (m == NULL)
		return C2W_ENOMEM;
	m->next = NULL;
	m->len = len;
	memcpy(m->data, msg, len);
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	int64_t now_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	pthread_mutex_lock(&q->mu);
	bool waited = false;
	while (!q->aborted && q->head != NULL && q->held + cost(len) > q->budget) {
		waited = true;
		pthread_cond_wait(&q->has_room, &q->mu);
	}
	if (q->aborted) {
		pthread_mutex_unlock(&q->mu);
		free(m);
		return C2W_EAGAIN;
	}
	q->st.full_waits += waited;
	if (q->tail != NULL)
		q->tail->next = m;
	else
		q->head = m;
	q->tail = m;
	q->held += cost(len);
	if (q->held > q->st.peak_bytes)
		q->st.peak_bytes = q->held;
	q->st.messages++;
	q->st.last_push_us = now_us;
	pthread_cond_signal(&q->has_msg);
	pthread_mutex_unlock(&q->mu);
	return C2W_OK;
}

void feed_xfr_queue_close(struct feed_xfr_queue *q, int status, const char *why)
{
	pthread_mutex_lock(&q->mu);
	if (!q->closed) {
		q->closed = true;
		q->status = status;
		snprintf(q->why, sizeof(q->why), "%s", why != NULL ? why : "");
	}
	pthread_cond_signal(&q->has_msg);
	pthread_mutex_unlock(&q->mu);
}

/* Wait on has_msg until @until_ms at the latest (mu held). */
static void wait_msg(struct feed_xfr_queue *q, int64_t until_ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	int64_t left = until_ms - feed_xfr_queue_now_ms();
	if (left <= 0)
		return;
	ts.tv_sec += left / 1000;
	ts.tv_nsec += (left % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_cond_timedwait(&q->has_msg, &q->mu, &ts);
}

int feed_xfr_queue_pop(struct feed_xfr_queue *q, uint8_t *buf, size_t *len, int64_t deadline_ms,
		       const atomic_bool *stop, const char **why)
{
	*why = "";
	pthread_mutex_lock(&q->mu);
	int ret;
	for (;;) {
		if (stop != NULL && atomic_load(stop)) {
			ret = C2W_EAGAIN;
			break;
		}
		int64_t now = feed_xfr_queue_now_ms();
		if (now >= deadline_ms) {
			ret = C2W_ETIMEDOUT;
			break;
		}
		if (q->head != NULL) {
			struct qmsg *m = q->head;
			q->head = m->next;
			if (q->head == NULL)
				q->tail = NULL;
			q->held -= cost(m->len);
			pthread_cond_signal(&q->has_room);
			pthread_mutex_unlock(&q->mu);
			memcpy(buf, m->data, m->len);
			*len = m->len;
			free(m);
			return C2W_OK;
		}
		if (q->closed) {
			ret = q->status == C2W_OK ? C2W_ENOENT : q->status;
			*why = q->why;
			break;
		}
		wait_msg(q, now + SLICE_MS < deadline_ms ? now + SLICE_MS : deadline_ms);
	}
	pthread_mutex_unlock(&q->mu);
	return ret;
}

void feed_xfr_queue_abort(struct feed_xfr_queue *q)
{
	pthread_mutex_lock(&q->mu);
	q->aborted = true;
	pthread_cond_broadcast(&q->has_room);
	pthread_mutex_unlock(&q->mu);
}

void feed_xfr_queue_stats(struct feed_xfr_queue *q, struct feed_xfr_queue_stats *out)
{
	pthread_mutex_lock(&q->mu);
	*out = q->st;
	pthread_mutex_unlock(&q->mu);
}
