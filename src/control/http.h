/* SPDX-License-Identifier: MIT */
/*
 * The HTTP API and metrics endpoint (control.http; docs/operations.md) on the daemon's main
 * libevent loop, served by libevent's evhttp (design note in docs/operations.md, "Why
 * evhttp"). Every request carries a bearer token (control/tokens.h); /api/v1/ endpoints run
 * the control socket's own command handlers (control_server_call), so the CLI and the API
 * share one implementation of each action. /metrics asks a callback for Prometheus text.
 *
 * Limits: request line + headers (http-headers-max), body (http-body-max), open connections
 * over all listeners (http-connections-max, more are closed at accept), idle time and the
 * time a whole request may take to arrive (http-timeout: a client trickling its headers is
 * cut off at the deadline, not kept alive by each byte).
 */
#ifndef C2W_CONTROL_HTTP_H
#define C2W_CONTROL_HTTP_H

#include <stdint.h>

#include "conf/config.h"
#include "core/err.h"

struct event_base;
struct evbuffer;
struct control_server;
struct control_http;

/** Write the metrics page (Prometheus text format) into @out. Main loop's thread. */
typedef void (*control_metrics_cb)(void *arg, struct evbuffer *out);

struct control_http_stats {
	uint64_t requests;      /* requests parsed (any outcome) */
	uint64_t unauthorized;  /* 401: no token or an unknown one */
	uint64_t forbidden;     /* 403: a read token on an admin endpoint */
	uint64_t refused;       /* connections closed at accept: http-connections-max */
	uint64_t deadline_cuts; /* connections cut: a request not whole within http-timeout */
	unsigned open;          /* connections open now */
};

/**
 * Listen on @cfg->http (bound now, so before privileges are dropped), load the token file,
 * set up TLS when cert and key are given.
 *
 * @param base  the main event_base, borrowed until _free
 * @param cfg   borrowed for the call (values are copied)
 * @param ctl   the command registry the API calls into, borrowed until _free
 * @param err   out: message on failure (file, address)
 * @return C2W_OK, C2W_ECONFIG (tokens, TLS files), negative errno (bind), C2W_ENOMEM
 */
C2W_NODISCARD int control_http_new(struct event_base *base, const struct conf_control *cfg,
				   struct control_server *ctl, struct control_http **out, char *err,
				   size_t err_len);

/** Serve /metrics from @cb (until then /metrics answers 404). */
void control_http_set_metrics(struct control_http *h, control_metrics_cb cb, void *arg);

/**
 * Re-read the token file (reload): on failure the loaded tokens stay in force.
 * @return C2W_OK or an error of control_tokens_load() (message in @err)
 */
C2W_NODISCARD int control_http_reload_tokens(struct control_http *h, const char *path, char *err,
					     size_t err_len);

/** Counters of the HTTP server. */
void control_http_stats(const struct control_http *h, struct control_http_stats *out);

/** Close the listeners and every connection; NULL does nothing. */
void control_http_free(struct control_http *h);

#endif
