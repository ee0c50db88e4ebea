/* SPDX-License-Identifier: MIT */
/*
 * HTTP API server: evhttp on our listeners; connections counted, capped and given a deadline
 * through the bufferevents we make for evhttp (see "connections" below). Routing,
 * authentication and the mapping of control commands to HTTP statuses live here; the
 * commands themselves are the control socket's (server.c).
 */
#include "control/http.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "control/control.h"
#include "control/dashboard.h"
#include "control/tokens.h"
#include "core/log.h"

#define PARAMS_MAX    2
#define PARAM_LEN_MAX 256

struct hconn {
	struct bufferevent *bev; /* evhttp's; we hold one reference */
	int64_t deadline_ms;     /* monotonic; 0 = already cut */
	bool refused;            /* over http-connections-max: ended at once */
	struct hconn *prev, *next;
};

/* A request whose command answers later (control_reply_defer()). */
struct hwait {
	struct control_http *h;
	struct evhttp_request *req;
	struct control_pending *pending;
	struct hwait *prev, *next;
};

struct control_http {
	struct event_base *base;
	struct hwait *waits;
	struct evhttp *http;
	SSL_CTX *ssl;
	struct control_tokens *tokens;
	struct control_server *ctl;
	control_metrics_cb metrics;
	void *metrics_arg;
	unsigned max_open;
	struct timeval timeout;
	int64_t timeout_ms;
	struct event *sweep;
	struct hconn *conns;
	struct control_http_stats st;
};

enum route_kind { ROUTE_METRICS, ROUTE_COMMAND, ROUTE_STATIC };

struct route {
	const char *path;
	enum evhttp_cmd_type method;
	enum control_role role;
	enum route_kind kind;
	const char *words[3];           /* the command, NULL-terminated */
	const char *params[PARAMS_MAX]; /* query parameters appended in order, all required */
};

/* docs/operations.md lists these; keep both in step. */
static const struct route routes[] = {
    {"/metrics", EVHTTP_REQ_GET, CONTROL_ROLE_READ, ROUTE_METRICS, {NULL}, {NULL}},
    /* The dashboard's files: no data in them, served without a token (the page asks for one). */
    {"/", EVHTTP_REQ_GET, CONTROL_ROLE_NONE, ROUTE_STATIC, {NULL}, {NULL}},
    {"/assets/dashboard.js", EVHTTP_REQ_GET, CONTROL_ROLE_NONE, ROUTE_STATIC, {NULL}, {NULL}},
    {"/assets/dashboard.css", EVHTTP_REQ_GET, CONTROL_ROLE_NONE, ROUTE_STATIC, {NULL}, {NULL}},
    {"/assets/chart.min.js", EVHTTP_REQ_GET, CONTROL_ROLE_NONE, ROUTE_STATIC, {NULL}, {NULL}},
    {"/api/v1/history", EVHTTP_REQ_GET, CONTROL_ROLE_READ, ROUTE_COMMAND, {"history"}, {NULL}},
    {"/api/v1/stats", EVHTTP_REQ_GET, CONTROL_ROLE_READ, ROUTE_COMMAND, {"stats"}, {NULL}},
    {"/api/v1/events", EVHTTP_REQ_GET, CONTROL_ROLE_READ, ROUTE_COMMAND, {"events"}, {NULL}},
    {"/api/v1/feeds", EVHTTP_REQ_GET, CONTROL_ROLE_READ, ROUTE_COMMAND, {"feeds"}, {NULL}},
    {"/api/v1/optout",
     EVHTTP_REQ_GET,
     CONTROL_ROLE_READ,
     ROUTE_COMMAND,
     {"optout", "list"},
     {NULL}},
    {"/api/v1/optout/add",
     EVHTTP_REQ_POST,
     CONTROL_ROLE_ADMIN,
     ROUTE_COMMAND,
     {"optout", "add"},
     {"prefix"}},
    {"/api/v1/optout/remove",
     EVHTTP_REQ_POST,
     CONTROL_ROLE_ADMIN,
     ROUTE_COMMAND,
     {"optout", "remove"},
     {"prefix"}},
    {"/api/v1/reload", EVHTTP_REQ_POST, CONTROL_ROLE_ADMIN, ROUTE_COMMAND, {"reload"}, {NULL}},
    {"/api/v1/explain",
     EVHTTP_REQ_GET,
     CONTROL_ROLE_READ,
     ROUTE_COMMAND,
     {"explain"},
     {"name", "type?"}},
    {"/api/v1/incidents",
     EVHTTP_REQ_GET,
     CONTROL_ROLE_READ,
     ROUTE_COMMAND,
     {"incidents", "list"},
     {"since?", "unnotified!"}},
    {"/api/v1/incidents/mark-notified",
     EVHTTP_REQ_POST,
     CONTROL_ROLE_ADMIN,
     ROUTE_COMMAND,
     {"incidents", "mark-notified"},
     {"id"}},
};

/* ---- connections ------------------------------------------------------------------------
 *
 * evhttp (libevent 2.1) accepts by itself and tells nobody when it frees a connection. We make
 * each connection's bufferevent (evhttp_set_bevcb) and keep a reference to it, so it stays
 * valid memory after evhttp lets go; a sweep every SWEEP_MS notices the release (evhttp's
 * bufferevent_free() clears the callbacks), drops our reference (which closes the socket)
 * and ends connections past their deadline by shutting the socket down under evhttp, which
 * then sees EOF and frees the connection itself. (A pass-through filter bufferevent with a
 * free callback would tell us at once, but with 2.1.12 answers then sometimes stayed stuck
 * in the filter: most back-to-back requests hung in our runs.)
 */

#define SWEEP_MS 100

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct hconn *conn_of(struct control_http *h, struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
	for (struct hconn *c = h->conns; c != NULL && bev != NULL; c = c->next)
		if (c->bev == bev)
			return c;
	return NULL;
}

static void conn_drop(struct control_http *h, struct hconn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		h->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	bufferevent_decref(c->bev); /* the last reference: closes the socket */
	h->st.open--;
	free(c);
}

static bool released(struct bufferevent *bev)
{
	bufferevent_data_cb rd, wr;
	bufferevent_event_cb ev;
	void *arg;
	bufferevent_getcb(bev, &rd, &wr, &ev, &arg);
	return rd == NULL && wr == NULL && ev == NULL;
}

static void sweep_arm(struct control_http *h)
{
	struct timeval tv = {0, SWEEP_MS * 1000};
	if (!evtimer_pending(h->sweep, NULL))
		evtimer_add(h->sweep, &tv);
}

static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct control_http *h = arg;
	(void)fd;
	(void)what;
	int64_t now = now_ms();
	for (struct hconn *c = h->conns, *next; c != NULL; c = next) {
		next = c->next;
		if (released(c->bev)) {
			conn_drop(h, c);
			continue;
		}
		if (c->deadline_ms == 0 || now < c->deadline_ms)
			continue;
		c->deadline_ms = 0; /* once: evhttp now sees EOF and lets go */
		if (!c->refused)
			h->st.deadline_cuts++;
		evutil_socket_t s = bufferevent_getfd(c->bev);
		if (s >= 0)
			shutdown(s, SHUT_RDWR);
	}
	if (h->conns != NULL)
		sweep_arm(h);
}

static struct bufferevent *make_bev(struct event_base *base, void *arg)
{
	struct control_http *h = arg;
	struct bufferevent *bev = NULL;
	if (h->ssl != NULL) {
		SSL *ssl = SSL_new(h->ssl);
		if (ssl != NULL)
			bev = bufferevent_openssl_socket_new(
			    base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
		if (bev == NULL)
			SSL_free(ssl);
	} else {
		bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	}
	struct hconn *c = bev ? calloc(1, sizeof(*c)) : NULL;
	if (c == NULL)
		return bev; /* NULL: evhttp makes one itself, served uncounted (memory is short) */
	bufferevent_incref(bev);
	c->bev = bev;
	if (h->st.open >= h->max_open) /* reclaim what evhttp let go since the last sweep */
		for (struct hconn *o = h->conns, *next; o != NULL; o = next) {
			next = o->next;
			if (released(o->bev))
				conn_drop(h, o);
		}
	/* Over the cap the connection gets a deadline of now: ended at the next sweep, before
	 * it is answered (evhttp 2.1 leaves us no say at accept). */
	c->refused = h->st.open >= h->max_open;
	if (c->refused)
		h->st.refused++;
	c->deadline_ms = c->refused ? 1 : now_ms() + h->timeout_ms;
	c->next = h->conns;
	if (h->conns)
		h->conns->prev = c;
	h->conns = c;
	h->st.open++;
	sweep_arm(h);
	return bev;
}

/* ---- answers ---------------------------------------------------------------------------- */

static void add_json_string(struct evbuffer *b, const char *s)
{
	evbuffer_add(b, "\"", 1);
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			evbuffer_add_printf(b, "\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			evbuffer_add_printf(b, "\\u%04x", ch);
		else
			evbuffer_add(b, s, 1);
	}
	evbuffer_add(b, "\"", 1);
}

static void reply(struct evhttp_request *req, int code, const char *reason, const char *type,
		  struct evbuffer *body)
{
	struct evkeyvalq *hdr = evhttp_request_get_output_headers(req);
	evhttp_add_header(hdr, "Content-Type", type);
	evhttp_add_header(hdr, "Cache-Control", "no-store");
	evhttp_add_header(hdr, "X-Content-Type-Options", "nosniff");
	evhttp_send_reply(req, code, reason, body);
}

/* An error answer; the text is ours (never echoes the request back unescaped). */
static void reply_error(struct evhttp_request *req, int code, const char *reason, const char *text)
{
	struct evbuffer *b = evbuffer_new();
	if (b == NULL) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	evbuffer_add_printf(b, "{\"error\":");
	add_json_string(b, text);
	evbuffer_add_printf(b, "}\n");
	reply(req, code, reason, "application/json", b);
	evbuffer_free(b);
}

static int status_of(int ret, const char **reason)
{
	switch (ret) {
	case C2W_EINVAL:
	case C2W_EMALF:
		*reason = "Bad Request";
		return HTTP_BADREQUEST;
	case C2W_ENOENT:
		*reason = "Not Found";
		return HTTP_NOTFOUND;
	case C2W_EEXIST:
		*reason = "Conflict";
		return 409;
	case CONTROL_UNKNOWN:
		*reason = "Not Implemented";
		return HTTP_NOTIMPLEMENTED;
	default:
		*reason = "Internal Server Error";
		return HTTP_INTERNAL;
	}
}

static size_t count_params(const struct route *r)
{
	size_t n = 0;
	while (n < PARAMS_MAX && r->params[n] != NULL)
		n++;
	return n;
}

static void send_result(struct evhttp_request *req, int ret, struct evbuffer *body,
			const char *err);
static void wait_done(void *arg, int ret, struct evbuffer *body, const char *err);

/* Run the route's command; a body that is not JSON ("ok; restart needed for: ...") is
 * wrapped as {"result": "..."}. */
static void run_command(struct control_http *h, struct evhttp_request *req, const struct route *r,
			struct evkeyvalq *query)
{
	char *argv[8];
	int argc = 0;
	for (size_t i = 0; i < 3 && r->words[i] != NULL; i++)
		argv[argc++] = (char *)(uintptr_t)r->words[i];
	int given = 0;              /* argc after the last parameter present */
	char names[PARAMS_MAX][32]; /* "since?" -> "since" */
	for (size_t i = 0; i < PARAMS_MAX && r->params[i] != NULL; i++) {
		char *name = names[i];
		size_t n = strcspn(r->params[i], "?!");
		char kind = r->params[i][n];
		snprintf(name, sizeof(names[i]), "%.*s", (int)n, r->params[i]);
		const char *v = evhttp_find_header(query, name);
		if (v != NULL && (v[0] == '\0' || strlen(v) > PARAM_LEN_MAX))
			v = NULL;
		if (v == NULL && kind == '\0') {
			char msg[96];
			snprintf(msg, sizeof(msg), "parameter '%s' missing or too long", name);
			reply_error(req, HTTP_BADREQUEST, "Bad Request", msg);
			return;
		}
		if (kind == '!') /* a flag: its name as a word when true */
			v = v != NULL && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0) ? name
											 : NULL;
		argv[argc++] = v != NULL ? (char *)(uintptr_t)v : (char *)"-";
		if (v != NULL)
			given = argc;
	}
	argc = given > 0 ? given : argc - (int)count_params(r);
	argv[argc] = NULL;
	struct evbuffer *body = evbuffer_new();
	if (body == NULL) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	char err[512];
	struct hwait *w = calloc(1, sizeof(*w));
	struct control_pending *p = NULL;
	int ret = w == NULL ? control_server_call(h->ctl, argc, argv, body, err, sizeof(err))
			    : control_server_call_async(h->ctl, argc, argv, body, err, sizeof(err),
							wait_done, w, &p);
	if (p != NULL) { /* answered later (wait_done()) */
		w->h = h;
		w->req = req;
		w->pending = p;
		/* an admin waiting for a reload's compile (seconds at millions of rules) is not a
		 * slow client: no deadline until answered (the daemon bounds the waiters) */
		struct hconn *c = conn_of(h, req);
		if (c != NULL && !c->refused)
			c->deadline_ms = 0;
		w->next = h->waits;
		if (h->waits != NULL)
			h->waits->prev = w;
		h->waits = w;
	} else {
		free(w);
		send_result(req, ret, body, err);
	}
	evbuffer_free(body);
}

/* A command's answer: an error with its status, or the body (wrapped unless JSON). */
static void send_result(struct evhttp_request *req, int ret, struct evbuffer *body,
			const char *err)
{
	if (ret != C2W_OK) {
		const char *reason;
		int code = status_of(ret, &reason);
		reply_error(req, code, reason, err != NULL ? err : c2w_strerror(ret));
		return;
	}
	size_t n = evbuffer_get_length(body);
	const char *p = n ? (const char *)evbuffer_pullup(body, 1) : NULL;
	if (p == NULL || (p[0] != '{' && p[0] != '[')) {
		struct evbuffer *wrap = evbuffer_new();
		if (wrap == NULL) {
			evhttp_send_error(req, HTTP_INTERNAL, NULL);
			return;
		}
		evbuffer_add(body, "", 1);
		const char *text = n ? (const char *)evbuffer_pullup(body, -1) : "ok";
		evbuffer_add_printf(wrap, "{\"result\":");
		add_json_string(wrap, text ? text : "ok");
		evbuffer_add_printf(wrap, "}\n");
		reply(req, HTTP_OK, "OK", "application/json", wrap);
		evbuffer_free(wrap);
		return;
	}
	evbuffer_add(body, "\n", 1);
	reply(req, HTTP_OK, "OK", "application/json", body);
}

/* A deferred command answered: the request gets it (evhttp frees a request whose client
 * went away when it is answered). */
static void wait_done(void *arg, int ret, struct evbuffer *body, const char *err)
{
	struct hwait *w = arg;
	struct control_http *h = w->h;
	if (w->prev)
		w->prev->next = w->next;
	else
		h->waits = w->next;
	if (w->next)
		w->next->prev = w->prev;
	struct hconn *c = conn_of(h, w->req); /* NULL once its client went away */
	if (c != NULL && !c->refused)
		c->deadline_ms = now_ms() + h->timeout_ms;
	if (body == NULL)
		evhttp_send_error(w->req, HTTP_INTERNAL, NULL);
	else
		send_result(w->req, ret, body, err);
	free(w);
}

static void serve_metrics(struct control_http *h, struct evhttp_request *req)
{
	struct evbuffer *b = evbuffer_new();
	if (b == NULL) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	h->metrics(h->metrics_arg, b);
	reply(req, HTTP_OK, "OK", "text/plain; version=0.0.4; charset=utf-8", b);
	evbuffer_free(b);
}

/* Chart.js from Debian's package, read per request (about 200 KB; the dashboard asks once). */
static int add_file(struct evbuffer *b, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (8 << 20)) {
		close(fd);
		return C2W_EINVAL;
	}
	/* evbuffer_add_file takes the descriptor and closes it. */
	return evbuffer_add_file(b, fd, 0, st.st_size) == 0 ? C2W_OK : C2W_EIO;
}

static void serve_static(struct evhttp_request *req, const char *path)
{
	struct evbuffer *b = evbuffer_new();
	if (b == NULL) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	const char *type = "text/html; charset=utf-8";
	int ret = C2W_OK;
	if (strcmp(path, "/") == 0) {
		evbuffer_add(b, control_asset_index, control_asset_index_len);
	} else if (strcmp(path, "/assets/dashboard.js") == 0) {
		type = "text/javascript; charset=utf-8";
		evbuffer_add(b, control_asset_js, control_asset_js_len);
	} else if (strcmp(path, "/assets/dashboard.css") == 0) {
		type = "text/css; charset=utf-8";
		evbuffer_add(b, control_asset_css, control_asset_css_len);
	} else {
		type = "text/javascript; charset=utf-8";
		ret = add_file(b, CONTROL_CHARTJS_PATH);
	}
	if (ret != C2W_OK) {
		evbuffer_free(b);
		reply_error(req, HTTP_NOTFOUND, "Not Found",
			    "Chart.js not installed (Debian package libjs-chart.js)");
		return;
	}
	struct evkeyvalq *hdr = evhttp_request_get_output_headers(req);
	/* Nothing but this server: scripts, styles, API calls; no framing. */
	evhttp_add_header(hdr, "Content-Security-Policy",
			  "default-src 'none'; script-src 'self'; style-src 'self'; "
			  "connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
			  "base-uri 'none'; form-action 'none'");
	evhttp_add_header(hdr, "Referrer-Policy", "no-referrer");
	reply(req, HTTP_OK, "OK", type, b);
	evbuffer_free(b);
}

static const struct route *find_route(const char *path)
{
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (strcmp(routes[i].path, path) == 0)
			return &routes[i];
	return NULL;
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct control_http *h = arg;
	h->st.requests++;
	struct hconn *c = conn_of(h, req);
	if (c != NULL && c->refused) { /* answered before the sweep ended it */
		evhttp_send_error(req, HTTP_SERVUNAVAIL, NULL);
		return;
	}
	if (c != NULL && c->deadline_ms != 0) /* the next request has a deadline of its own */
		c->deadline_ms = now_ms() + h->timeout_ms;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	const struct route *r = path ? find_route(path) : NULL;
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	if (r != NULL && r->kind == ROUTE_STATIC && (m == EVHTTP_REQ_GET || m == EVHTTP_REQ_HEAD)) {
		serve_static(req, r->path);
		return;
	}
	/* Authentication first: without a valid token nothing about the server shows, not
	 * even which other paths exist (401 without detail). */
	const char *auth =
	    evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
	enum control_role role = control_tokens_check(h->tokens, auth);
	if (role == CONTROL_ROLE_NONE) {
		h->st.unauthorized++;
		evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
				  "Bearer realm=\"c2wall\"");
		reply_error(req, 401, "Unauthorized", "unauthorized");
		return;
	}
	if (r == NULL || (r->kind == ROUTE_METRICS && h->metrics == NULL)) {
		reply_error(req, HTTP_NOTFOUND, "Not Found", "no such endpoint");
		return;
	}
	if (m != r->method && !(m == EVHTTP_REQ_HEAD && r->method == EVHTTP_REQ_GET)) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
				  r->method == EVHTTP_REQ_GET ? "GET, HEAD" : "POST");
		reply_error(req, HTTP_BADMETHOD, "Method Not Allowed", "method not allowed");
		return;
	}
	if (role < r->role) {
		h->st.forbidden++;
		reply_error(req, 403, "Forbidden", "forbidden");
		return;
	}
	if (r->kind == ROUTE_METRICS) {
		serve_metrics(h, req);
		return;
	}
	struct evkeyvalq query = {0};
	const char *q = evhttp_uri_get_query(uri);
	if (q != NULL && evhttp_parse_query_str(q, &query) != 0) {
		evhttp_clear_headers(&query);
		reply_error(req, HTTP_BADREQUEST, "Bad Request", "malformed query string");
		return;
	}
	run_command(h, req, r, &query);
	evhttp_clear_headers(&query);
}

/* ---- set-up ----------------------------------------------------------------------------- */

static int tls_setup(struct control_http *h, const struct conf_control *cfg, char *err,
		     size_t err_len)
{
	h->ssl = SSL_CTX_new(TLS_server_method());
	if (h->ssl == NULL)
		return C2W_ENOMEM;
	SSL_CTX_set_min_proto_version(h->ssl, TLS1_2_VERSION);
	SSL_CTX_set_options(h->ssl, SSL_OP_NO_RENEGOTIATION);
	if (SSL_CTX_use_certificate_chain_file(h->ssl, cfg->http_tls_cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(h->ssl, cfg->http_tls_key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(h->ssl) != 1) {
		char why[256];
		ERR_error_string_n(ERR_get_error(), why, sizeof(why));
		snprintf(err, err_len, "control.http-tls-cert/key (%s, %s): %s", cfg->http_tls_cert,
			 cfg->http_tls_key, why);
		ERR_clear_error();
		return C2W_ECONFIG;
	}
	return C2W_OK;
}

static int listen_all(struct control_http *h, const struct conf_control *cfg, char *err,
		      size_t err_len)
{
	for (size_t i = 0; i < cfg->http_count; i++) {
		const struct conf_addr *a = &cfg->http[i];
		struct evconnlistener *l = evconnlistener_new_bind(
		    h->base, NULL, NULL,
		    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_REUSEABLE, 64,
		    (const struct sockaddr *)&a->ss, (int)a->ss_len);
		if (l == NULL) {
			int ret = errno ? -errno : C2W_EIO;
			snprintf(err, err_len, "control.http: cannot listen on %s: %s", a->text,
				 c2w_strerror(ret));
			return ret;
		}
		if (evhttp_bind_listener(h->http, l) == NULL) {
			evconnlistener_free(l);
			return C2W_ENOMEM;
		}
	}
	return C2W_OK;
}

int control_http_new(struct event_base *base, const struct conf_control *cfg,
		     struct control_server *ctl, struct control_http **out, char *err,
		     size_t err_len)
{
	struct control_http *h = calloc(1, sizeof(*h));
	if (h == NULL)
		return C2W_ENOMEM;
	h->base = base;
	h->ctl = ctl;
	h->max_open = cfg->http_connections_max;
	h->timeout.tv_sec = cfg->http_timeout_ms / 1000;
	h->timeout.tv_usec = (cfg->http_timeout_ms % 1000) * 1000;
	h->timeout_ms = cfg->http_timeout_ms;
	h->sweep = evtimer_new(base, on_sweep, h);
	if (h->sweep == NULL) {
		free(h);
		return C2W_ENOMEM;
	}
	int ret = control_tokens_load(cfg->http_tokens, &h->tokens, err, err_len);
	if (ret != C2W_OK) {
		ret = C2W_ECONFIG;
		goto out_free;
	}
	if (cfg->http_tls_cert != NULL && (ret = tls_setup(h, cfg, err, err_len)) != C2W_OK)
		goto out_free;
	h->http = evhttp_new(base);
	if (h->http == NULL) {
		ret = C2W_ENOMEM;
		goto out_free;
	}
	evhttp_set_max_headers_size(h->http, (ev_ssize_t)cfg->http_headers_max);
	evhttp_set_max_body_size(h->http, (ev_ssize_t)cfg->http_body_max);
	evhttp_set_timeout_tv(h->http, &h->timeout);
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST);
	evhttp_set_bevcb(h->http, make_bev, h);
	evhttp_set_gencb(h->http, on_request, h);
	ret = listen_all(h, cfg, err, err_len);
	if (ret != C2W_OK)
		goto out_free;
	*out = h;
	return C2W_OK;
out_free:
	control_http_free(h);
	return ret;
}

void control_http_set_metrics(struct control_http *h, control_metrics_cb cb, void *arg)
{
	h->metrics = cb;
	h->metrics_arg = arg;
}

int control_http_reload_tokens(struct control_http *h, const char *path, char *err, size_t err_len)
{
	struct control_tokens *t = NULL;
	int ret = control_tokens_load(path, &t, err, err_len);
	if (ret != C2W_OK)
		return ret;
	control_tokens_free(h->tokens);
	h->tokens = t;
	return C2W_OK;
}

void control_http_stats(const struct control_http *h, struct control_http_stats *out)
{
	*out = h->st;
}

void control_http_free(struct control_http *h)
{
	if (h == NULL)
		return;
	/* evhttp_free closes the listeners it was given and lets go of every connection;
	 * then our references go. */
	/* Requests still waiting for a deferred answer go with evhttp: the answer goes nowhere. */
	while (h->waits != NULL) {
		struct hwait *w = h->waits;
		h->waits = w->next;
		control_pending_orphan(w->pending);
		free(w);
	}
	if (h->http != NULL)
		evhttp_free(h->http);
	while (h->conns != NULL)
		conn_drop(h, h->conns);
	if (h->sweep != NULL)
		event_free(h->sweep);
	if (h->ssl != NULL)
		SSL_CTX_free(h->ssl);
	control_tokens_free(h->tokens);
	free(h);
}
