/* SPDX-License-Identifier: MIT */
/*
 * The /metrics page: what the daemon exports to Prometheus and under which names
 * (docs/operations.md, "Metrics"). Everything is read at scrape time from the counters the
 * parts already keep (workers' NET_COUNTERS, the event pipeline, sinkhole, feeds, the HTTP
 * server): nothing is added to the query path.
 */
#ifndef C2W_NET_METRICS_H
#define C2W_NET_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct evbuffer;
struct net_worker;
struct c2w_config;
struct policy_snap;
struct net_sinkhole;
struct net_feeds;
struct events_pipeline;
struct events_optout;
struct control_http;

/* Where the figures come from; all borrowed for the call, any may be NULL / 0. */
struct net_metrics_src {
	struct net_worker *const *workers;
	unsigned worker_count;
	const struct c2w_config *cfg;
	const struct policy_snap *snap;
	const struct net_sinkhole *sinkhole;
	struct net_feeds *feeds;
	const struct events_pipeline *events;
	struct events_optout *optout;
	const struct control_http *http;
	uint64_t reloads, reload_failures;
	bool reload_running;        /* a reload's compile under way */
	double reload_last_seconds; /* the last reload, in force or refused; < 0: none yet */
	time_t start_time; /* unix s */
};

/** Append the Prometheus text page to @out. Main loop's thread. */
void net_metrics_write(const struct net_metrics_src *src, struct evbuffer *out);

#endif
