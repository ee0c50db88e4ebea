/* SPDX-License-Identifier: MIT */
/*
 * Comparing a running config with a reloaded one: the settings fixed when the daemon starts
 * (workers, event pipeline, store, control, sinkhole servers, logging). The reload path in
 * src/net/server.c applies the rest; docs/config.md marks the same keys "restart".
 */
#include <stdio.h>
#include <string.h>

#include "conf/config.h"

static bool str_differs(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return strcmp(a, b) != 0;
}

static bool addrs_differ(const struct conf_addr *a, size_t a_count, const struct conf_addr *b,
			 size_t b_count)
{
	if (a_count != b_count)
		return true;
	for (size_t i = 0; i < a_count; i++)
		if (strcmp(a[i].text, b[i].text) != 0)
			return true;
	return false;
}

struct diff {
	char *out;
	size_t out_len;
	size_t used;
	unsigned count;
};

static void note(struct diff *d, bool differs, const char *key)
{
	if (!differs)
		return;
	d->count++;
	if (d->out_len == 0 || d->used >= d->out_len)
		return;
	int n =
	    snprintf(d->out + d->used, d->out_len - d->used, "%s%s", d->count > 1 ? ", " : "", key);
	if (n > 0)
		d->used += (size_t)n;
}

unsigned conf_diff_restart(const struct c2w_config *o, const struct c2w_config *n, char *out,
			   size_t out_len)
{
	struct diff d = {.out = out, .out_len = out_len};
	if (out_len > 0)
		out[0] = '\0';
	/* server.listen is not here: a reload opens new listeners and closes removed ones. */
	note(&d, o->server.workers != n->server.workers, "server.workers");
	note(&d, str_differs(o->server.user, n->server.user), "server.user");
	note(&d, o->server.cache_memory_mb != n->server.cache_memory_mb, "server.cache-memory");
	note(&d, o->server.syscall_filter != n->server.syscall_filter, "server.syscall-filter");
	/* The slot pool (waiting clients + orphans) is allocated when a worker starts. */
	note(&d, o->limits.upstream_pending_max < n->limits.upstream_pending_max,
	     "limits.upstream-pending-max");
	/* The event pipeline is built once; SIGHUP only reopens its files (log rotation). */
	note(&d, str_differs(o->events.jsonl, n->events.jsonl), "events.jsonl");
	note(&d, o->events.jsonl_rotate_bytes != n->events.jsonl_rotate_bytes,
	     "events.jsonl-rotate-size");
	note(&d, o->events.jsonl_rotate_s != n->events.jsonl_rotate_s,
	     "events.jsonl-rotate-interval");
	note(&d, str_differs(o->events.dnstap, n->events.dnstap), "events.dnstap");
	note(&d, o->events.syslog != n->events.syslog, "events.syslog");
	note(&d, o->events.query_log != n->events.query_log, "events.query-log");
	note(&d, o->events.ring_entries != n->events.ring_entries, "events.ring-entries");
	note(&d, str_differs(o->privacy.key_file, n->privacy.key_file), "privacy.key-file");
	note(&d, o->privacy.key_rotation_s != n->privacy.key_rotation_s, "privacy.key-rotation");
	note(&d, o->privacy.retention_days != n->privacy.retention_days, "privacy.retention-days");
	note(&d, o->privacy.notify_window_days != n->privacy.notify_window_days,
	     "privacy.notify-window-days");
	note(&d, str_differs(o->privacy.optout_file, n->privacy.optout_file),
	     "privacy.optout-file");
	note(&d, str_differs(o->store.sqlite, n->store.sqlite), "store.sqlite");
	note(&d, str_differs(o->control.socket, n->control.socket), "control.socket");
	note(&d,
	     addrs_differ(o->control.http, o->control.http_count, n->control.http,
			  n->control.http_count),
	     "control.http");
	note(&d, str_differs(o->control.http_tls_cert, n->control.http_tls_cert),
	     "control.http-tls-cert");
	note(&d, str_differs(o->control.http_tls_key, n->control.http_tls_key),
	     "control.http-tls-key");
	note(&d,
	     o->control.http_body_max != n->control.http_body_max ||
		 o->control.http_headers_max != n->control.http_headers_max ||
		 o->control.http_timeout_ms != n->control.http_timeout_ms ||
		 o->control.http_connections_max != n->control.http_connections_max,
	     "control.http limits");
	note(&d,
	     addrs_differ(o->sinkhole.http, o->sinkhole.http_count, n->sinkhole.http,
			  n->sinkhole.http_count),
	     "sinkhole.http");
	note(&d,
	     addrs_differ(o->sinkhole.tls, o->sinkhole.tls_count, n->sinkhole.tls,
			  n->sinkhole.tls_count),
	     "sinkhole.tls");
	note(&d,
	     addrs_differ(o->sinkhole.tcp, o->sinkhole.tcp_count, n->sinkhole.tcp,
			  n->sinkhole.tcp_count),
	     "sinkhole.tcp");
	note(&d, str_differs(o->sinkhole.templates, n->sinkhole.templates), "sinkhole.templates");
	note(&d, o->sinkhole.clients_per_address != n->sinkhole.clients_per_address,
	     "sinkhole.clients-per-address");
	note(&d, o->sinkhole.evidence_per_minute != n->sinkhole.evidence_per_minute,
	     "sinkhole.evidence-per-minute");
	note(&d, o->log.level != n->log.level, "log.level");
	note(&d, o->log.syslog != n->log.syslog, "log.syslog");
	return d.count;
}
