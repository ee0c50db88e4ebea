/* SPDX-License-Identifier: MIT */
/*
 * The dashboard's memory: one sample per minute for the last 24 hours (a ring of 1440), so the
 * dashboard draws its charts without Prometheus. Each sample holds what changed during that
 * minute: queries, answers by outcome, answer-cache hits, policy hits in total and per policy
 * zone (the first NET_HISTORY_ZONES configured) and per malware family (the first
 * NET_HISTORY_FAMILIES seen). Filled from the main loop by a timer; read by
 * the "history" control command (GET /api/v1/history).
 */
#ifndef C2W_NET_HISTORY_H
#define C2W_NET_HISTORY_H

#include <stdint.h>
#include <time.h>

#include "core/err.h"

#define NET_HISTORY_MINUTES 1440
#define NET_HISTORY_ZONES   8
#define NET_HISTORY_FAMILIES 8 /* the first malware families (with category) seen */

struct event_base;
struct control_server;
struct net_history;
struct net_worker;
struct events_pipeline;
struct c2w_config;

/* What the sampler reads each minute; pointers borrowed (the server's own fields, so a
 * reload's new config is seen). */
struct net_history_src {
	struct net_worker *const *workers;
	unsigned worker_count;
	struct c2w_config *const *cfg;
	struct events_pipeline *events; /* NULL: no hit figures */
};

/**
 * Start sampling every 60 s on @base (the first sample a minute after start).
 * @return C2W_OK or C2W_ENOMEM
 */
C2W_NODISCARD int net_history_new(struct event_base *base, const struct net_history_src *src,
				  struct net_history **out);

/** Take a sample now (the timer does this each minute; tests call it). */
void net_history_sample(struct net_history *h, time_t now);

/** Register "history" (the ring as JSON, oldest first). */
C2W_NODISCARD int net_history_control_register(struct net_history *h, struct control_server *ctl);

/** Stop the timer and free; NULL does nothing. */
void net_history_free(struct net_history *h);

#endif
