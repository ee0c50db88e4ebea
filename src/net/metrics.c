/* SPDX-License-Identifier: MIT */
/*
 * /metrics: names and labels in Prometheus' conventions (c2wall_ prefix, _total counters,
 * seconds and bytes), label values from bounded sets only (transport, rcode, configured policy
 * zones, actions, sinks). Worker counters are summed here, at scrape time.
 */
#include "net/metrics.h"

#include <dirent.h>
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "conf/config.h"
#include "core/mem.h"
#include "control/http.h"
#include "control/prom.h"
#include "events/hit.h"
#include "events/optout.h"
#include "events/pipeline.h"
#include "net/feeds.h"
#include "net/latency.h"
#include "net/sinkhole_glue.h"
#include "net/worker.h"
#include "policy/policy.h"

#define FEEDS_MAX 256

typedef struct control_prom_label lbl;

static void counter(struct evbuffer *b, const char *name, const char *help, uint64_t v)
{
	control_prom_family(b, name, "counter", help);
	control_prom_u64(b, name, NULL, 0, v);
}

static void gauge(struct evbuffer *b, const char *name, const char *help, double v)
{
	control_prom_family(b, name, "gauge", help);
	control_prom_double(b, name, NULL, 0, v);
}

/* Counters exported under a family of their own below; the rest of NET_COUNTERS goes out
 * as c2wall_<name>_total (or c2wall_<name> for gauges) with the list's help text. */
static const char *const grouped[] = {
    "queries",  "udp_queries", "tcp_queries", "answers", "noerror",    "nxdomain",
    "servfail", "formerr",     "refused",     "notimp",  "cache_hits", "cache_misses",
};

static bool is_grouped(const char *name)
{
	for (size_t i = 0; i < sizeof(grouped) / sizeof(grouped[0]); i++)
		if (strcmp(grouped[i], name) == 0)
			return true;
	return false;
}

/* The list marks gauges in their help text ("(gauge)", "(a gauge)"). */
static void worker_counter(struct evbuffer *b, const char *name, const char *help, uint64_t v)
{
	if (is_grouped(name))
		return;
	char full[128];
	bool is_gauge = strstr(help, "gauge") != NULL;
	snprintf(full, sizeof(full), "c2wall_%s%s", name, is_gauge ? "" : "_total");
	control_prom_family(b, full, is_gauge ? "gauge" : "counter", help);
	control_prom_u64(b, full, NULL, 0, v);
}

/* c2wall_answer_duration_seconds: the workers' fixed buckets, cumulated as Prometheus wants. */
static void write_latency(const struct net_metrics_src *src, struct evbuffer *b)
{
	static const char name[] = "c2wall_answer_duration_seconds";
	struct net_latency sum = {0}, one;
	for (unsigned i = 0; i < src->worker_count; i++) {
		net_worker_latency(src->workers[i], &one);
		net_latency_add(&sum, &one);
	}
	control_prom_family(b, name, "histogram",
			    "time from receiving a query to sending its answer");
	uint64_t cum = 0;
	char le[32];
	for (size_t i = 0; i < NET_LATENCY_BUCKETS; i++) {
		cum += sum.count[i];
		if (i < NET_LATENCY_BUCKETS - 1)
			snprintf(le, sizeof(le), "%g", net_latency_bounds_us[i] / 1e6);
		else
			snprintf(le, sizeof(le), "+Inf");
		control_prom_u64(b, "c2wall_answer_duration_seconds_bucket", (lbl[]){{"le", le}},
				 1, cum);
	}
	control_prom_double(b, "c2wall_answer_duration_seconds_sum", NULL, 0, sum.sum_us / 1e6);
	control_prom_u64(b, "c2wall_answer_duration_seconds_count", NULL, 0, cum);
}

static void write_workers(const struct net_metrics_src *src, struct evbuffer *b)
{
	struct net_counters sum;
	net_worker_counters_sum(src->workers, src->worker_count, &sum);
	gauge(b, "c2wall_workers", "worker threads", src->worker_count);
	control_prom_family(b, "c2wall_queries_total", "counter", "DNS queries received");
	control_prom_u64(b, "c2wall_queries_total", (lbl[]){{"transport", "udp"}}, 1,
			 sum.udp_queries);
	control_prom_u64(b, "c2wall_queries_total", (lbl[]){{"transport", "tcp"}}, 1,
			 sum.tcp_queries);
	const struct {
		const char *rcode;
		uint64_t v;
	} rc[] = {{"NOERROR", sum.noerror}, {"NXDOMAIN", sum.nxdomain}, {"SERVFAIL", sum.servfail},
		  {"FORMERR", sum.formerr}, {"REFUSED", sum.refused},   {"NOTIMP", sum.notimp}};
	control_prom_family(b, "c2wall_answers_total", "counter", "DNS answers sent, by RCODE");
	for (size_t i = 0; i < sizeof(rc) / sizeof(rc[0]); i++)
		control_prom_u64(b, "c2wall_answers_total", (lbl[]){{"rcode", rc[i].rcode}}, 1,
				 rc[i].v);
	counter(b, "c2wall_answer_cache_hits_total", "queries answered from the answer cache",
		sum.cache_hits);
	counter(b, "c2wall_answer_cache_misses_total", "queries that missed the answer cache",
		sum.cache_misses);
#define ONE(name, help) worker_counter(b, #name, help, sum.name);
	NET_COUNTERS(ONE)
#undef ONE
	write_latency(src, b);
}

static void write_policy(const struct net_metrics_src *src, struct evbuffer *b)
{
	gauge(b, "c2wall_policy_rules", "rules in the policy snapshot in force",
	      src->snap ? (double)policy_snap_rule_count(src->snap) : 0);
	if (src->cfg == NULL)
		return;
	control_prom_family(b, "c2wall_policy_zone_info", "gauge",
			    "configured policy zones with their category and default family");
	for (size_t i = 0; i < src->cfg->policy.zone_count; i++) {
		const struct conf_policy_zone *z = &src->cfg->policy.zones[i];
		lbl l[] = {{"zone", z->name},
			   {"category", z->category ? z->category : "c2"},
			   {"family", z->family ? z->family : ""}};
		control_prom_u64(b, "c2wall_policy_zone_info", l, 3, 1);
	}
}

static void write_events(const struct net_metrics_src *src, struct evbuffer *b)
{
	if (src->events == NULL)
		return;
	struct events_counter *rows = NULL;
	size_t n = 0;
	if (events_pipeline_counters(src->events, &rows, &n) == C2W_OK) {
		control_prom_family(b, "c2wall_policy_hits_total", "counter",
				    "policy hits recorded, by policy zone and action");
		for (size_t i = 0; i < n; i++) {
			lbl l[] = {{"zone", rows[i].zone},
				   {"action", events_action_name(rows[i].action)}};
			control_prom_u64(b, "c2wall_policy_hits_total", l, 2, rows[i].hits);
		}
		control_prom_family(b, "c2wall_hit_records_dropped_total", "counter",
				    "hit records lost to a full worker ring, by zone and action");
		for (size_t i = 0; i < n; i++) {
			lbl l[] = {{"zone", rows[i].zone},
				   {"action", events_action_name(rows[i].action)}};
			control_prom_u64(b, "c2wall_hit_records_dropped_total", l, 2,
					 rows[i].dropped);
		}
		free(rows);
	}
	struct events_family_counter *fam = NULL;
	size_t fn = 0;
	if (events_pipeline_family_counters(src->events, &fam, &fn) == C2W_OK) {
		control_prom_family(b, "c2wall_policy_hits_by_family_total", "counter",
				    "policy hits by the rule's category and malware family (family "
				    "\"\" when the rule names none; at most 256 pairs, later ones "
				    "counted as other/other)");
		for (size_t i = 0; i < fn; i++) {
			lbl l[] = {{"category", fam[i].category}, {"family", fam[i].family}};
			control_prom_u64(b, "c2wall_policy_hits_by_family_total", l, 2, fam[i].hits);
		}
		free(fam);
	}
	struct events_stats st;
	events_pipeline_stats(src->events, &st);
	counter(b, "c2wall_hit_records_total", "hit records processed (after the opt-out filter)",
		st.hits);
	gauge(b, "c2wall_incident_store_up", "1 when the incident store is open", st.store_open);
	gauge(b, "c2wall_incident_store_pending_records",
	      "hit records added to the incident store and not yet committed", (double)st.store_pending);
	gauge(b, "c2wall_incident_store_commit_age_seconds",
	      "seconds since the incident store's last successful commit (its lag; commits run every "
	      "second while it is healthy)",
	      (double)st.store_commit_age_ms / 1000.0);
	control_prom_family(b, "c2wall_hit_records_lost_total", "counter",
			    "hit records a sink could not keep, by sink");
	control_prom_u64(b, "c2wall_hit_records_lost_total", (lbl[]){{"sink", "store"}}, 1,
			 st.store_lost);
	control_prom_u64(b, "c2wall_hit_records_lost_total", (lbl[]){{"sink", "jsonl"}}, 1,
			 st.jsonl_lost);
	counter(b, "c2wall_sink_write_errors_total", "failed writes to JSON Lines, dnstap, syslog",
		st.sink_errors);
	counter(b, "c2wall_hit_records_optout_skipped_total",
		"records discarded because the client opted out", st.optout_skipped);
	counter(b, "c2wall_pseudonym_key_rotations_total", "pseudonymisation key rotations",
		st.key_rotations);
	counter(b, "c2wall_pseudonym_key_rotation_failures_total", "key rotations that failed",
		st.key_rotation_failures);
	counter(b, "c2wall_hit_log_rotations_total", "hit log rotations", st.jsonl_rotations);
	counter(b, "c2wall_hit_log_reopen_failures_total", "hit log reopen failures",
		st.jsonl_reopen_failures);
}

static void write_feeds(const struct net_metrics_src *src, struct evbuffer *b)
{
	struct net_feed_state *fs = calloc(FEEDS_MAX, sizeof(*fs));
	size_t n = fs ? net_feeds_state(src->feeds, fs, FEEDS_MAX) : 0;
	time_t now = time(NULL);
	static const struct {
		const char *name, *type, *help;
	} fam[] = {
	    {"c2wall_feed_serial", "gauge", "SOA serial of the copy in force (zone transfer)"},
	    {"c2wall_feed_rules", "gauge", "rules of the copy in force"},
	    {"c2wall_feed_last_success_timestamp_seconds", "gauge",
	     "unix time of the last successful refresh (0: never)"},
	    {"c2wall_feed_age_seconds", "gauge", "seconds since the last successful refresh"},
	    {"c2wall_feed_error", "gauge", "1 when the last refresh attempt failed"},
	    {"c2wall_feed_expired", "gauge", "1 when the copy is past its SOA expire"},
	    {"c2wall_feed_transfers_total", "counter", "successful zone transfers"},
	    {"c2wall_feed_failures_total", "counter", "failed refresh attempts"},
	};
	for (size_t k = 0; k < sizeof(fam) / sizeof(fam[0]); k++) {
		control_prom_family(b, fam[k].name, fam[k].type, fam[k].help);
		for (size_t i = 0; i < n; i++) {
			const struct net_feed_state *f = &fs[i];
			double v[] = {f->serial,
				      (double)f->rules,
				      (double)f->last_success,
				      f->last_success ? (double)(now - f->last_success) : -1,
				      f->error,
				      f->expired,
				      (double)f->transfers,
				      (double)f->failures};
			if (k == 3 && f->last_success == 0)
				continue; /* never refreshed: no age */
			control_prom_double(b, fam[k].name, (lbl[]){{"zone", f->name}}, 1, v[k]);
		}
	}
	free(fs);
}

static void write_sinkhole(const struct net_metrics_src *src, struct evbuffer *b)
{
	if (src->sinkhole == NULL)
		return;
	struct sinkhole_stats st;
	net_sinkhole_stats(src->sinkhole, &st);
	control_prom_family(b, "c2wall_sinkhole_contacts_total", "counter",
			    "contacts with the sinkhole, by protocol");
	control_prom_u64(b, "c2wall_sinkhole_contacts_total", (lbl[]){{"protocol", "http"}}, 1,
			 st.http_pages);
	control_prom_u64(b, "c2wall_sinkhole_contacts_total", (lbl[]){{"protocol", "tls"}}, 1,
			 st.tls_hellos);
	control_prom_u64(b, "c2wall_sinkhole_contacts_total", (lbl[]){{"protocol", "tcp"}}, 1,
			 st.tcp_records);
	counter(b, "c2wall_sinkhole_connections_total", "sinkhole connections accepted",
		st.accepted);
	control_prom_family(b, "c2wall_sinkhole_refused_total", "counter",
			    "sinkhole connections closed at accept, by cap");
	control_prom_u64(b, "c2wall_sinkhole_refused_total", (lbl[]){{"cap", "total"}}, 1,
			 st.refused_cap);
	control_prom_u64(b, "c2wall_sinkhole_refused_total", (lbl[]){{"cap", "per_address"}}, 1,
			 st.refused_addr);
	counter(b, "c2wall_sinkhole_evidence_total", "evidence records written", st.evidence);
	counter(b, "c2wall_sinkhole_evidence_limited_total",
		"evidence not recorded: the client's evidence rate", st.evidence_limited);
	counter(b, "c2wall_sinkhole_timeouts_total", "sinkhole connections closed by timeout",
		st.timeouts);
	gauge(b, "c2wall_sinkhole_connections_open", "sinkhole connections open now", st.open);
}

static void write_http(const struct net_metrics_src *src, struct evbuffer *b)
{
	if (src->http == NULL)
		return;
	struct control_http_stats st;
	control_http_stats(src->http, &st);
	counter(b, "c2wall_http_requests_total", "HTTP API requests", st.requests);
	control_prom_family(b, "c2wall_http_denied_total", "counter",
			    "HTTP API requests denied, by status");
	control_prom_u64(b, "c2wall_http_denied_total", (lbl[]){{"code", "401"}}, 1,
			 st.unauthorized);
	control_prom_u64(b, "c2wall_http_denied_total", (lbl[]){{"code", "403"}}, 1, st.forbidden);
	counter(b, "c2wall_http_connections_refused_total",
		"HTTP connections closed at accept: control.http-connections-max", st.refused);
	counter(b, "c2wall_http_deadline_cuts_total",
		"HTTP connections cut: a request not whole within control.http-timeout",
		st.deadline_cuts);
	gauge(b, "c2wall_http_connections_open", "HTTP API connections open now", st.open);
}

/* process_* as Prometheus' client libraries name them, from /proc/self. */
static void write_process(const struct net_metrics_src *src, struct evbuffer *b)
{
	FILE *f = fopen("/proc/self/stat", "r");
	unsigned long utime = 0, stime = 0, vsize = 0;
	long rss = 0;
	if (f != NULL) {
		char buf[1024];
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		const char *p = strrchr(buf, ')'); /* comm may hold spaces */
		if (p == NULL ||
		    sscanf(p + 2,
			   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d "
			   "%*d %*d %*u %lu %ld",
			   &utime, &stime, &vsize, &rss) != 4)
			utime = stime = vsize = 0, rss = 0;
	}
	double tick = (double)sysconf(_SC_CLK_TCK);
	control_prom_family(b, "process_cpu_seconds_total", "counter",
			    "user and system CPU time spent in seconds");
	control_prom_double(b, "process_cpu_seconds_total", NULL, 0,
			    tick > 0 ? (double)(utime + stime) / tick : 0);
	gauge(b, "process_resident_memory_bytes", "resident memory size in bytes",
	      (double)rss * (double)sysconf(_SC_PAGESIZE));
	gauge(b, "process_virtual_memory_bytes", "virtual memory size in bytes", (double)vsize);
	gauge(b, "process_start_time_seconds", "start time of the process since the epoch",
	      (double)src->start_time);
	unsigned fds = 0;
	DIR *d = opendir("/proc/self/fd");
	for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;)
		if (e->d_name[0] != '.')
			fds++;
	if (d != NULL) {
		closedir(d);
		fds--; /* the directory's own descriptor */
	}
	gauge(b, "process_open_fds", "open file descriptors", fds);
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		gauge(b, "process_max_fds", "maximum number of open file descriptors",
		      rl.rlim_cur == RLIM_INFINITY ? -1 : (double)rl.rlim_cur);
}

static void write_daemon(const struct net_metrics_src *src, struct evbuffer *b)
{
	control_prom_family(b, "c2wall_build_info", "gauge",
			    "c2wall version and memory allocator (always 1)");
	control_prom_u64(b, "c2wall_build_info",
			 (lbl[]){{"version", C2W_VERSION}, {"allocator", c2w_mem_allocator()}}, 2, 1);
	counter(b, "c2wall_reloads_total", "configuration reloads that took effect", src->reloads);
	counter(b, "c2wall_reload_failures_total",
		"reloads refused (the running configuration stayed)", src->reload_failures);
	gauge(b, "c2wall_reload_in_progress",
	      "1 while a reload compiles the policy (on its own thread), else 0",
	      src->reload_running ? 1 : 0);
	if (src->reload_last_seconds >= 0)
		gauge(b, "c2wall_reload_last_duration_seconds",
		      "how long the last reload that reached the compile took, to the switch or "
		      "the refusal",
		      src->reload_last_seconds);
	if (src->optout != NULL) {
		struct events_prefix *items = NULL;
		size_t n = 0;
		if (events_optout_list(src->optout, &items, &n) == C2W_OK)
			gauge(b, "c2wall_optouts", "opt-out entries in force (addresses, prefixes)",
			      (double)n);
		free(items);
	}
}

void net_metrics_write(const struct net_metrics_src *src, struct evbuffer *out)
{
	write_daemon(src, out);
	write_workers(src, out);
	write_policy(src, out);
	write_events(src, out);
	write_feeds(src, out);
	write_sinkhole(src, out);
	write_http(src, out);
	write_process(src, out);
}
