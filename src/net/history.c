/* SPDX-License-Identifier: MIT */
/*
 * Per-minute ring of counter deltas for the dashboard (history.h). The cumulative figures of
 * the previous sample are kept; a sample stores the difference. Main loop's thread only.
 */
#include "net/history.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "control/control.h"
#include "events/pipeline.h"
#include "net/latency.h"
#include "net/worker.h"

struct totals {
	uint64_t queries, noerror, nxdomain, servfail, cache_hits, hits;
	uint64_t zone_hits[NET_HISTORY_ZONES];
	uint64_t family_hits[NET_HISTORY_FAMILIES];
	struct net_latency lat; /* answer latency buckets */
};

struct minute {
	int64_t t; /* unix s at the end of the minute */
	struct totals d;
};

struct net_history {
	struct net_history_src src;
	struct event *timer;
	struct totals last;
	bool primed;                        /* last holds a first reading */
	char zones[NET_HISTORY_ZONES][256]; /* names at the last sample */
	unsigned zone_count;
	char families[NET_HISTORY_FAMILIES][EVENTS_CATEGORY_CAP + EVENTS_FAMILY_CAP + 4];
	unsigned family_count;
	struct minute ring[NET_HISTORY_MINUTES];
	unsigned head, count; /* next slot to write; samples held */
};

/* The pipeline keeps its (category, family) rows in first-seen order: the first ones are
 * stable, so index i names the same family in every minute. */
static void read_families(struct net_history *h, struct totals *t)
{
	struct events_family_counter *fam = NULL;
	size_t n = 0;
	if (events_pipeline_family_counters(h->src.events, &fam, &n) != C2W_OK)
		return;
	if (n > NET_HISTORY_FAMILIES)
		n = NET_HISTORY_FAMILIES;
	for (size_t i = 0; i < n; i++) {
		snprintf(h->families[i], sizeof(h->families[i]), "%s (%s)",
			 fam[i].family[0] ? fam[i].family : "no family", fam[i].category);
		t->family_hits[i] = fam[i].hits;
	}
	h->family_count = (unsigned)n;
	free(fam);
}

static void read_totals(struct net_history *h, struct totals *t)
{
	memset(t, 0, sizeof(*t));
	struct net_counters c;
	for (unsigned i = 0; i < h->src.worker_count; i++) {
		net_worker_counters(h->src.workers[i], &c);
		t->queries += c.queries;
		t->noerror += c.noerror;
		t->nxdomain += c.nxdomain;
		t->servfail += c.servfail;
		t->cache_hits += c.cache_hits;
		struct net_latency l;
		net_worker_latency(h->src.workers[i], &l);
		net_latency_add(&t->lat, &l);
	}
	const struct c2w_config *cfg = *h->src.cfg;
	h->zone_count = 0;
	for (size_t i = 0; i < cfg->policy.zone_count && i < NET_HISTORY_ZONES; i++) {
		snprintf(h->zones[i], sizeof(h->zones[i]), "%s", cfg->policy.zones[i].name);
		h->zone_count++;
	}
	if (h->src.events == NULL)
		return;
	struct events_stats st;
	events_pipeline_stats(h->src.events, &st);
	t->hits = st.hits;
	struct events_counter *rows = NULL;
	size_t n = 0;
	if (events_pipeline_counters(h->src.events, &rows, &n) != C2W_OK)
		return;
	for (size_t r = 0; r < n; r++)
		for (unsigned z = 0; z < h->zone_count; z++)
			if (strcmp(rows[r].zone, h->zones[z]) == 0)
				t->zone_hits[z] += rows[r].hits;
	free(rows);
	read_families(h, t);
}

static uint64_t delta(uint64_t now, uint64_t then)
{
	return now >= then ? now - then : now; /* a counter that went back restarted */
}

/* The minute since the last sample, from @t (current totals). */
static void diff(const struct net_history *h, const struct totals *tp, time_t now, struct minute *m)
{
	struct totals t = *tp;
	m->t = now;
	m->d.queries = delta(t.queries, h->last.queries);
	m->d.noerror = delta(t.noerror, h->last.noerror);
	m->d.nxdomain = delta(t.nxdomain, h->last.nxdomain);
	m->d.servfail = delta(t.servfail, h->last.servfail);
	m->d.cache_hits = delta(t.cache_hits, h->last.cache_hits);
	m->d.hits = delta(t.hits, h->last.hits);
	for (unsigned z = 0; z < NET_HISTORY_ZONES; z++)
		m->d.zone_hits[z] = delta(t.zone_hits[z], h->last.zone_hits[z]);
	for (unsigned f = 0; f < NET_HISTORY_FAMILIES; f++)
		m->d.family_hits[f] = delta(t.family_hits[f], h->last.family_hits[f]);
	for (unsigned b = 0; b < NET_LATENCY_BUCKETS; b++)
		m->d.lat.count[b] = delta(t.lat.count[b], h->last.lat.count[b]);
	m->d.lat.sum_us = delta(t.lat.sum_us, h->last.lat.sum_us);
}

/* The upper bound (ms) of the bucket holding quantile @q of the minute's answers: an upper
 * estimate, as precise as the buckets; answers past the last bound count as that bound. */
static double quantile_ms(const struct net_latency *l, uint64_t count, double q)
{
	uint64_t want = (uint64_t)((double)count * q + 0.999999), cum = 0;
	for (unsigned b = 0; b < NET_LATENCY_BUCKETS - 1; b++) {
		cum += l->count[b];
		if (cum >= want)
			return net_latency_bounds_us[b] / 1000.0;
	}
	return net_latency_bounds_us[NET_LATENCY_BUCKETS - 2] / 1000.0;
}

static void latency_json(struct control_reply *reply, const struct net_latency *l)
{
	uint64_t count = 0;
	for (unsigned b = 0; b < NET_LATENCY_BUCKETS; b++)
		count += l->count[b];
	if (count == 0) {
		control_reply_printf(reply, "\"latency_ms\":null,");
		return;
	}
	control_reply_printf(reply, "\"latency_ms\":{\"p50\":%g,\"p99\":%g,\"mean\":%.3f},",
			     quantile_ms(l, count, 0.5), quantile_ms(l, count, 0.99),
			     (double)l->sum_us / 1000.0 / (double)count);
}

void net_history_sample(struct net_history *h, time_t now)
{
	struct totals t;
	read_totals(h, &t);
	if (!h->primed) {
		h->last = t;
		h->primed = true;
	}
	diff(h, &t, now, &h->ring[h->head]);
	h->last = t;
	h->head = (h->head + 1) % NET_HISTORY_MINUTES;
	if (h->count < NET_HISTORY_MINUTES)
		h->count++;
}

static void on_minute(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	net_history_sample(arg, time(NULL));
}

int net_history_new(struct event_base *base, const struct net_history_src *src,
		    struct net_history **out)
{
	struct net_history *h = calloc(1, sizeof(*h));
	if (h == NULL)
		return C2W_ENOMEM;
	h->src = *src;
	h->timer = event_new(base, -1, EV_PERSIST, on_minute, h);
	if (h->timer == NULL) {
		free(h);
		return C2W_ENOMEM;
	}
	/* The baseline: the first minute counts from the start. */
	read_totals(h, &h->last);
	h->primed = true;
	struct timeval tv = {60, 0};
	event_add(h->timer, &tv);
	*out = h;
	return C2W_OK;
}

static void minute_json(struct control_reply *reply, const struct minute *m, unsigned zones,
			unsigned families, bool first, bool partial)
{
	control_reply_printf(
	    reply,
	    "%s{\"t\":%lld,\"queries\":%llu,\"noerror\":%llu,\"nxdomain\":%llu,"
	    "\"servfail\":%llu,\"cache_hits\":%llu,\"hits\":%llu,%s",
	    first ? "" : ",", (long long)m->t, (unsigned long long)m->d.queries,
	    (unsigned long long)m->d.noerror, (unsigned long long)m->d.nxdomain,
	    (unsigned long long)m->d.servfail, (unsigned long long)m->d.cache_hits,
	    (unsigned long long)m->d.hits, partial ? "\"partial\":true," : "");
	latency_json(reply, &m->d.lat);
	control_reply_printf(reply, "\"zone_hits\":[");
	for (unsigned z = 0; z < zones; z++)
		control_reply_printf(reply, "%s%llu", z ? "," : "",
				     (unsigned long long)m->d.zone_hits[z]);
	control_reply_printf(reply, "],\"family_hits\":[");
	for (unsigned f = 0; f < families; f++)
		control_reply_printf(reply, "%s%llu", f ? "," : "",
				     (unsigned long long)m->d.family_hits[f]);
	control_reply_printf(reply, "]}");
}

/* The ring oldest first, then the minute in progress (marked partial), so that a dashboard
 * opened just after start has something to show. */
static int history_cb(void *arg, int argc, char **argv, struct control_reply *reply)
{
	struct net_history *h = arg;
	(void)argc;
	(void)argv;
	struct totals now;
	read_totals(h, &now);
	control_reply_printf(reply, "{\"interval\":60,\"zones\":[");
	for (unsigned z = 0; z < h->zone_count; z++) {
		control_reply_printf(reply, "%s", z ? "," : "");
		control_reply_json(reply, h->zones[z]);
	}
	control_reply_printf(reply, "],\"families\":[");
	for (unsigned f = 0; f < h->family_count; f++) {
		control_reply_printf(reply, "%s", f ? "," : "");
		control_reply_json(reply, h->families[f]);
	}
	control_reply_printf(reply, "],\"minutes\":[");
	unsigned first = (h->head + NET_HISTORY_MINUTES - h->count) % NET_HISTORY_MINUTES;
	for (unsigned i = 0; i < h->count; i++)
		minute_json(reply, &h->ring[(first + i) % NET_HISTORY_MINUTES], h->zone_count,
			    h->family_count, i == 0, false);
	struct minute cur;
	diff(h, &now, time(NULL), &cur);
	minute_json(reply, &cur, h->zone_count, h->family_count, h->count == 0, true);
	control_reply_printf(reply, "]}");
	return C2W_OK;
}

int net_history_control_register(struct net_history *h, struct control_server *ctl)
{
	return control_server_register(ctl, "history", history_cb, h);
}

void net_history_free(struct net_history *h)
{
	if (h == NULL)
		return;
	event_free(h->timer);
	free(h);
}
