/* SPDX-License-Identifier: MIT */
/*
 * The sinkhole's sockets on the daemon's libevent loop: listeners, a connection cap, one
 * absolute deadline per request head (a slow sender cannot extend it byte by byte), HTTP
 * keep-alive with pipelining, lingering close, and the TLS and raw TCP readers. Parsing is in
 * http.c and tls.c, the page in page.c; the daemon gets evidence through its callback.
 */
#include <arpa/inet.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/addrcount.h"
#include "core/log.h"
#include "sinkhole/evrate.h"
#include "sinkhole/http.h"
#include "sinkhole/page.h"
#include "sinkhole/sinkhole.h"
#include "sinkhole/tls.h"

#define LINGER_MS    2000
#define LINGER_BYTES (64 * 1024)
#define UA_MAX       1024
#define OUT_MAX      (1024 * 1024) /* queued response bytes per connection */

struct listener {
	struct sinkhole_server *srv;
	struct evconnlistener *l;
	enum sinkhole_proto proto;
	struct sinkhole_addr addr;
};

enum conn_state {
	ST_READ,   /* reading a request head / hello / first bytes */
	ST_FLUSH,  /* writing the last response, then linger */
	ST_LINGER, /* write side shut; discarding input until EOF or timer */
};

struct conn {
	struct sinkhole_server *srv;
	struct listener *ls;
	int fd;
	enum conn_state state;
	struct event *ev_read, *ev_write, *ev_timer;
	struct sockaddr_storage peer, local;
	socklen_t peer_len, local_len;
	char *in;
	size_t in_len, in_cap, lingered;
	char *out;
	size_t out_len, out_off;
	unsigned requests;
	bool counted; /* holds a place in srv->per_addr */
	struct conn *prev, *next;
};

struct sinkhole_server {
	struct event_base *base;
	struct sinkhole_page *page;
	sinkhole_lookup_cb *lookup;
	sinkhole_evidence_cb *evidence;
	void *arg;
	struct sinkhole_http_limits lim;
	unsigned read_timeout_ms, conn_max, conn_per_addr;
	size_t tcp_bytes;
	struct c2w_addrcount *per_addr; /* open connections per client prefix */
	struct sinkhole_evrate *evrate;  /* evidence per client prefix; NULL = no limit */
	struct listener *ls;
	size_t ls_count;
	char *page_buf;
	size_t page_cap;
	struct conn *conns;
	struct sinkhole_stats st;
	uint64_t log_last;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint16_t sa_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
	return 0;
}

/* ---- connection lifecycle ---- */

static void conn_free(struct conn *c)
{
	struct sinkhole_server *srv = c->srv;
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->counted)
		c2w_addrcount_put(srv->per_addr, (const struct sockaddr *)&c->peer);
	event_free(c->ev_read);
	event_free(c->ev_write);
	event_free(c->ev_timer);
	close(c->fd);
	free(c->in);
	free(c->out);
	free(c);
	srv->st.open--;
}

static void arm_timer(struct conn *c, unsigned ms)
{
	struct timeval tv = {ms / 1000, (suseconds_t)(ms % 1000) * 1000};
	evtimer_add(c->ev_timer, &tv);
}

static void linger_start(struct conn *c)
{
	/* Close the write side first and drain what the client still sends, so an unread
	 * request body does not turn our close into a RST that destroys the response. */
	shutdown(c->fd, SHUT_WR);
	c->state = ST_LINGER;
	event_del(c->ev_write);
	event_add(c->ev_read, NULL);
	arm_timer(c, LINGER_MS);
}

/* @return false when the connection was freed */
static bool flush_out(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			event_add(c->ev_write, NULL);
			return true;
		}
		if (n <= 0) {
			conn_free(c);
			return false;
		}
		c->out_off += (size_t)n;
	}
	c->out_off = c->out_len = 0;
	event_del(c->ev_write);
	if (c->state == ST_FLUSH)
		linger_start(c);
	return true;
}

static int queue_out(struct conn *c, const char *p, size_t n)
{
	if (c->out_len + n > OUT_MAX)
		return C2W_ENOSPC;
	char *grown = realloc(c->out, c->out_len + n);
	if (grown == NULL)
		return C2W_ENOMEM;
	c->out = grown;
	memcpy(c->out + c->out_len, p, n);
	c->out_len += n;
	return C2W_OK;
}

/* Stop reading requests; send what is queued, then linger and close. */
static bool finish_conn(struct conn *c)
{
	c->state = ST_FLUSH;
	event_del(c->ev_read);
	arm_timer(c, c->srv->read_timeout_ms);
	return flush_out(c);
}

/* ---- evidence ---- */

static void evidence_base(const struct conn *c, struct sinkhole_evidence *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->proto = c->ls->proto;
	ev->time_ms = now_ms();
	ev->client = (const struct sockaddr *)&c->peer;
	ev->client_len = c->peer_len;
	ev->local = (const struct sockaddr *)&c->local;
	ev->local_len = c->local_len;
	ev->local_port = sa_port(ev->local);
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void emit(struct sinkhole_server *srv, const struct sinkhole_evidence *ev)
{
	if (srv->evidence == NULL)
		return;
	/* A bot looping on the sinkhole must not fill the disk: the page is still served, the
	 * record is counted and dropped. */
	if (srv->evrate != NULL && !sinkhole_evrate_allow(srv->evrate, ev->client, mono_ms())) {
		srv->st.evidence_limited++;
		return;
	}
	srv->st.evidence++;
	srv->evidence(ev, srv->arg);
}

static bool do_lookup(struct conn *c, const char *host, struct sinkhole_info *info)
{
	memset(info, 0, sizeof(*info));
	if (host == NULL || c->srv->lookup == NULL)
		return false;
	return c->srv->lookup(host, (const struct sockaddr *)&c->peer, info, c->srv->arg);
}

/* Copy a slice as a C string without control bytes (TAB kept), truncated to @size - 1. */
static const char *cstr(struct sinkhole_slice s, char *out, size_t size)
{
	size_t n = 0;
	for (size_t i = 0; i < s.len && n + 1 < size; i++) {
		unsigned char b = (unsigned char)s.p[i];
		out[n++] = (b < 0x20 && b != '\t') || b == 0x7f ? '?' : (char)b;
	}
	out[n] = '\0';
	return out;
}

/* ---- HTTP ---- */

static const char *status_text(int status)
{
	switch (status) {
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 414:
		return "URI Too Long";
	case 431:
		return "Request Header Fields Too Large";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Bad Request";
	}
}

static void http_date(char *out, size_t size)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	snprintf(out, size, "%s, %02d %s %d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
		 mon[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static int respond(struct conn *c, int status, const char *ctype, const char *lang,
		   const char *body, size_t body_len, bool head_only, bool close_after)
{
	char hdr[1024], date[64];
	http_date(date, sizeof(date));
	int n = snprintf(hdr, sizeof(hdr),
			 "HTTP/1.1 %d %s\r\n"
			 "Date: %s\r\n"
			 "Content-Type: %s\r\n"
			 "Content-Length: %zu\r\n"
			 "Cache-Control: no-store\r\n"
			 "%s%s%s"
			 "X-Content-Type-Options: nosniff\r\n"
			 "Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; "
			 "img-src data:; base-uri 'none'; form-action 'none'; "
			 "frame-ancestors 'none'\r\n"
			 "Referrer-Policy: no-referrer\r\n"
			 "Connection: %s\r\n\r\n",
			 status, status_text(status), date, ctype, body_len,
			 lang ? "Content-Language: " : "", lang ? lang : "",
			 lang ? "\r\nVary: Accept-Language\r\n" : "",
			 close_after ? "close" : "keep-alive");
	if (n < 0 || (size_t)n >= sizeof(hdr))
		return C2W_ESPACE;
	int ret = queue_out(c, hdr, (size_t)n);
	if (ret == C2W_OK && !head_only && body_len > 0)
		ret = queue_out(c, body, body_len);
	return ret;
}

static int http_status_for(int err)
{
	switch (err) {
	case C2W_ESPACE:
		return 414;
	case C2W_ERANGE:
		return 431;
	case C2W_EVERSION:
		return 505;
	default:
		return 400;
	}
}

static bool http_error(struct conn *c, int err)
{
	struct sinkhole_evidence ev;
	int status = http_status_for(err);
	char body[64];
	int n = snprintf(body, sizeof(body), "%d %s\n", status, status_text(status));
	c->srv->st.http_errors++;
	evidence_base(c, &ev);
	ev.http_status = status;
	emit(c->srv, &ev);
	if (respond(c, status, "text/plain; charset=utf-8", NULL, body, (size_t)n, false, true) !=
	    C2W_OK) {
		conn_free(c);
		return false;
	}
	return finish_conn(c);
}

static bool is_favicon(struct sinkhole_slice t)
{
	return t.len >= 12 && memcmp(t.p, "/favicon.ico", 12) == 0 &&
	       (t.len == 12 || t.p[12] == '?');
}

/* Serve one parsed request. @return false when the connection was freed. */
static bool http_serve(struct conn *c, const struct sinkhole_http_req *req)
{
	struct sinkhole_server *srv = c->srv;
	char host[SINKHOLE_HTTP_HOST_MAX + 1], method[40], path[SINKHOLE_HTTP_TARGET_MAX + 1],
	    ua[UA_MAX];
	bool has_host = req->has_host && sinkhole_http_host_normalise(req->host, host) >= 0;
	struct sinkhole_info info;
	bool blocked = do_lookup(c, has_host ? host : NULL, &info);
	enum sinkhole_lang lang;
	if (sinkhole_http_lang_query(req->target, &lang) != C2W_OK)
		lang = sinkhole_http_lang_pick(req->accept_language);
	bool head_only = req->method.len == 4 && memcmp(req->method.p, "HEAD", 4) == 0;
	bool close_after =
	    req->close || req->has_body || ++c->requests >= SINKHOLE_REQUESTS_PER_CONN;
	struct sinkhole_evidence ev;
	evidence_base(c, &ev);
	ev.host = has_host ? host : NULL;
	ev.method = cstr(req->method, method, sizeof(method));
	ev.path = cstr(req->target, path, sizeof(path));
	ev.user_agent = req->has_user_agent ? cstr(req->user_agent, ua, sizeof(ua)) : NULL;
	ev.blocked = blocked;
	ev.info = blocked ? &info : NULL;
	ev.lang = lang == SINKHOLE_LANG_EN ? "en" : "ja";
	int ret;
	if (is_favicon(req->target)) {
		ev.http_status = 404;
		ret = respond(c, 404, "text/plain; charset=utf-8", NULL, NULL, 0, head_only,
			      close_after);
	} else {
		struct sinkhole_page_req pr = {
		    .lang = lang,
		    .domain = has_host ? host : NULL,
		    .info = blocked ? &info : NULL,
		    .time_s = blocked && info.last_hit_s > 0 ? info.last_hit_s : ev.time_ms / 1000,
		};
		int len = sinkhole_page_render(srv->page, &pr, srv->page_buf, srv->page_cap);
		ev.http_status = len > 0 ? 403 : 500;
		ret = len > 0 ? respond(c, 403, "text/html; charset=utf-8", ev.lang, srv->page_buf,
					(size_t)len, head_only, close_after)
			      : len;
		srv->st.http_pages += len > 0;
	}
	emit(srv, &ev);
	if (ret != C2W_OK) {
		conn_free(c);
		return false;
	}
	if (close_after)
		return finish_conn(c);
	return flush_out(c);
}

static void http_input(struct conn *c)
{
	struct sinkhole_server *srv = c->srv;
	while (c->state == ST_READ) {
		struct sinkhole_http_req req;
		int ret = sinkhole_http_parse(c->in, c->in_len, &srv->lim, &req);
		if (ret == C2W_EAGAIN)
			return;
		if (ret != C2W_OK) {
			http_error(c, ret);
			return;
		}
		/* The next head gets a fresh deadline; this one is answered. */
		arm_timer(c, srv->read_timeout_ms);
		bool alive = http_serve(c, &req);
		if (!alive)
			return;
		memmove(c->in, c->in + req.consumed, c->in_len - req.consumed);
		c->in_len -= req.consumed;
	}
}

/* ---- TLS and TCP ---- */

static void record_bytes(struct conn *c, struct sinkhole_evidence *ev)
{
	size_t n = c->in_len < c->srv->tcp_bytes ? c->in_len : c->srv->tcp_bytes;
	ev->bytes = n ? (const uint8_t *)c->in : NULL;
	ev->bytes_len = n;
}

static void tls_done(struct conn *c, int ret, const struct sinkhole_tls_hello *hello)
{
	struct sinkhole_evidence ev;
	struct sinkhole_info info;
	evidence_base(c, &ev);
	if (ret == C2W_OK) {
		c->srv->st.tls_hellos++;
		ev.host = hello->has_sni ? hello->sni : NULL;
		ev.blocked = do_lookup(c, ev.host, &info);
		ev.info = ev.blocked ? &info : NULL;
	} else {
		c->srv->st.tls_bad++;
		record_bytes(c, &ev);
	}
	emit(c->srv, &ev);
	conn_free(c);
}

static void tls_input(struct conn *c)
{
	struct sinkhole_tls_hello hello;
	int ret = sinkhole_tls_parse_hello((const uint8_t *)c->in, c->in_len, &hello);
	if (ret == C2W_EAGAIN && c->in_len < c->in_cap)
		return;
	if (ret == C2W_EAGAIN)
		ret = C2W_ERANGE;
	tls_done(c, ret, &hello);
}

static void tcp_done(struct conn *c)
{
	struct sinkhole_evidence ev;
	evidence_base(c, &ev);
	record_bytes(c, &ev);
	c->srv->st.tcp_records++;
	emit(c->srv, &ev);
	conn_free(c);
}

/* ---- events ---- */

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	(void)fd;
	(void)what;
	if (c->state != ST_READ) {
		conn_free(c);
		return;
	}
	c->srv->st.timeouts++;
	if (c->ls->proto == SINKHOLE_PROTO_TCP)
		tcp_done(c); /* a client that waits for a banner is still an attempt */
	else if (c->ls->proto == SINKHOLE_PROTO_TLS && c->in_len > 0)
		tls_done(c, C2W_ETIMEDOUT, NULL);
	else
		conn_free(c);
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	flush_out(arg);
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	(void)what;
	if (c->state == ST_LINGER) {
		char sink[4096];
		ssize_t n = recv(fd, sink, sizeof(sink), 0);
		if (n > 0 && (c->lingered += (size_t)n) < LINGER_BYTES)
			return;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		conn_free(c);
		return;
	}
	ssize_t n = recv(fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		/* EOF or error: raw TCP records what came; the others just go. */
		if (c->ls->proto == SINKHOLE_PROTO_TCP)
			tcp_done(c);
		else if (c->ls->proto == SINKHOLE_PROTO_TLS && c->in_len > 0)
			tls_done(c, C2W_ESHORT, NULL);
		else
			conn_free(c);
		return;
	}
	c->in_len += (size_t)n;
	switch (c->ls->proto) {
	case SINKHOLE_PROTO_HTTP:
		http_input(c);
		break;
	case SINKHOLE_PROTO_TLS:
		tls_input(c);
		break;
	case SINKHOLE_PROTO_TCP:
		if (c->in_len >= c->in_cap)
			tcp_done(c);
		break;
	}
}

static size_t in_cap_for(const struct sinkhole_server *srv, enum sinkhole_proto p)
{
	if (p == SINKHOLE_PROTO_HTTP)
		return srv->lim.header_max;
	if (p == SINKHOLE_PROTO_TLS)
		return SINKHOLE_TLS_READ_MAX;
	return srv->tcp_bytes;
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
		      void *arg)
{
	struct listener *ls = arg;
	struct sinkhole_server *srv = ls->srv;
	(void)l;
	srv->st.accepted++;
	if (srv->st.open >= srv->conn_max) {
		srv->st.refused_cap++;
		if (c2w_log_ratelimit(&srv->log_last, 60))
			c2w_log_warn("sinkhole: connection cap %u reached, closing new connections",
				     srv->conn_max);
		close(fd);
		return;
	}
	int ret = c2w_addrcount_take(srv->per_addr, sa, srv->conn_per_addr);
	if (ret == C2W_ERANGE) {
		srv->st.refused_addr++;
		close(fd);
		return;
	}
	struct conn *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		if (ret == C2W_OK)
			c2w_addrcount_put(srv->per_addr, sa);
		goto out_close;
	}
	c->counted = ret == C2W_OK;
	c->srv = srv;
	c->ls = ls;
	c->fd = fd;
	c->in_cap = in_cap_for(srv, ls->proto);
	c->in = malloc(c->in_cap);
	memcpy(&c->peer, sa, (size_t)salen);
	c->peer_len = (socklen_t)salen;
	c->local_len = sizeof(c->local);
	if (getsockname(fd, (struct sockaddr *)&c->local, &c->local_len) != 0)
		c->local_len = 0;
	c->ev_read = event_new(srv->base, fd, EV_READ | EV_PERSIST, on_read, c);
	c->ev_write = event_new(srv->base, fd, EV_WRITE | EV_PERSIST, on_write, c);
	c->ev_timer = evtimer_new(srv->base, on_timer, c);
	if (c->in == NULL || !c->ev_read || !c->ev_write || !c->ev_timer)
		goto out_free;
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	srv->st.open++;
	event_add(c->ev_read, NULL);
	arm_timer(c, srv->read_timeout_ms);
	return;
out_free:
	if (c->counted)
		c2w_addrcount_put(srv->per_addr, sa);
	if (c->ev_read)
		event_free(c->ev_read);
	if (c->ev_write)
		event_free(c->ev_write);
	if (c->ev_timer)
		event_free(c->ev_timer);
	free(c->in);
	free(c);
out_close:
	close(fd);
}

static void on_accept_error(struct evconnlistener *l, void *arg)
{
	struct listener *ls = arg;
	int err = EVUTIL_SOCKET_ERROR();
	(void)l;
	/* EMFILE and friends: the listener stays; say so once a minute. */
	if (c2w_log_ratelimit(&ls->srv->log_last, 60))
		c2w_log_warn("sinkhole: accept failed (%s)", c2w_strerror(-err));
}

/* ---- setup ---- */

static int open_listener(struct sinkhole_server *srv, struct listener *ls)
{
	const struct sockaddr *sa = (const struct sockaddr *)&ls->addr.ss;
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1, ret;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (sa->sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, sa, ls->addr.len) != 0 || listen(fd, 512) != 0) {
		ret = -errno;
		goto out_close;
	}
	ls->addr.len = sizeof(ls->addr.ss);
	if (getsockname(fd, (struct sockaddr *)&ls->addr.ss, &ls->addr.len) != 0) {
		ret = -errno;
		goto out_close;
	}
	ls->l = evconnlistener_new(srv->base, on_accept, ls, LEV_OPT_CLOSE_ON_FREE, 0, fd);
	if (ls->l == NULL) {
		ret = C2W_ENOMEM;
		goto out_close;
	}
	evconnlistener_set_error_cb(ls->l, on_accept_error);
	return C2W_OK;
out_close:
	close(fd);
	return ret;
}

static int check_spec(const struct sinkhole_spec *spec)
{
	if (spec->http_count + spec->tls_count + spec->tcp_count == 0)
		return C2W_EINVAL;
	if (spec->header_max != 0 && (spec->header_max < 1024 || spec->header_max > 65536))
		return C2W_EINVAL;
	if (spec->tcp_bytes > SINKHOLE_TCP_BYTES_MAX)
		return C2W_EINVAL;
	return C2W_OK;
}

static void apply_limits(struct sinkhole_server *srv, const struct sinkhole_spec *spec)
{
	srv->lim.header_max = spec->header_max ? spec->header_max : SINKHOLE_DEFAULT_HEADER_MAX;
	srv->lim.header_count =
	    spec->header_count ? spec->header_count : SINKHOLE_DEFAULT_HEADER_COUNT;
	srv->read_timeout_ms =
	    spec->read_timeout_ms ? spec->read_timeout_ms : SINKHOLE_DEFAULT_READ_TIMEOUT_MS;
	srv->conn_max = spec->conn_max ? spec->conn_max : SINKHOLE_DEFAULT_CONN_MAX;
	srv->tcp_bytes = spec->tcp_bytes ? spec->tcp_bytes : SINKHOLE_DEFAULT_TCP_BYTES;
	srv->conn_per_addr =
	    spec->conn_per_addr ? spec->conn_per_addr : SINKHOLE_DEFAULT_CONN_PER_ADDR;
}

static int open_all(struct sinkhole_server *srv, const struct sinkhole_spec *spec)
{
	const struct {
		const struct sinkhole_addr *a;
		size_t n;
		enum sinkhole_proto p;
	} kinds[] = {{spec->http, spec->http_count, SINKHOLE_PROTO_HTTP},
		     {spec->tls, spec->tls_count, SINKHOLE_PROTO_TLS},
		     {spec->tcp, spec->tcp_count, SINKHOLE_PROTO_TCP}};
	for (size_t k = 0; k < 3; k++) {
		for (size_t i = 0; i < kinds[k].n; i++) {
			struct listener *ls = &srv->ls[srv->ls_count];
			ls->srv = srv;
			ls->proto = kinds[k].p;
			ls->addr = kinds[k].a[i];
			int ret = open_listener(srv, ls);
			if (ret != C2W_OK) {
				char text[INET6_ADDRSTRLEN] = "?";
				const struct sockaddr *sa = (const void *)&kinds[k].a[i].ss;
				const void *ip =
				    sa->sa_family == AF_INET6
					? (const void *)&(
					      (const struct sockaddr_in6 *)(const void *)sa)
					      ->sin6_addr
					: (const void *)&(
					      (const struct sockaddr_in *)(const void *)sa)
					      ->sin_addr;
				inet_ntop(sa->sa_family, ip, text, sizeof(text));
				c2w_log_err("sinkhole: cannot listen on %s port %u (%s)", text,
					    sa_port(sa), c2w_strerror(ret));
				return ret;
			}
			srv->ls_count++;
		}
	}
	return C2W_OK;
}

int sinkhole_server_new(struct event_base *base, const struct sinkhole_spec *spec,
			sinkhole_lookup_cb *lookup, sinkhole_evidence_cb *evidence, void *arg,
			struct sinkhole_server **out)
{
	int ret = check_spec(spec);
	if (ret != C2W_OK)
		return ret;
	struct sinkhole_server *srv = calloc(1, sizeof(*srv));
	if (srv == NULL)
		return C2W_ENOMEM;
	srv->base = base;
	srv->lookup = lookup;
	srv->evidence = evidence;
	srv->arg = arg;
	apply_limits(srv, spec);
	ret = sinkhole_page_new(spec->templates, spec->text, &srv->page);
	if (ret != C2W_OK)
		goto out_free;
	srv->page_cap = sinkhole_page_size_max(srv->page);
	srv->page_buf = malloc(srv->page_cap);
	/* Every open connection holds at most one entry: the table never fills. */
	srv->per_addr = c2w_addrcount_new(srv->conn_max, C2W_ADDRCOUNT_V4_BITS,
					  C2W_ADDRCOUNT_V6_BITS, false);
	if (spec->evidence_per_minute > 0)
		srv->evrate = sinkhole_evrate_new(spec->evidence_per_minute);
	if (srv->per_addr == NULL || (spec->evidence_per_minute > 0 && srv->evrate == NULL)) {
		ret = C2W_ENOMEM;
		goto out_free;
	}
	srv->ls = calloc(spec->http_count + spec->tls_count + spec->tcp_count, sizeof(*srv->ls));
	if (srv->page_buf == NULL || srv->ls == NULL) {
		ret = C2W_ENOMEM;
		goto out_free;
	}
	ret = open_all(srv, spec);
	if (ret != C2W_OK)
		goto out_free;
	*out = srv;
	return C2W_OK;
out_free:
	sinkhole_server_free(srv);
	return ret;
}

void sinkhole_server_free(struct sinkhole_server *srv)
{
	if (srv == NULL)
		return;
	while (srv->conns != NULL)
		conn_free(srv->conns);
	for (size_t i = 0; i < srv->ls_count; i++)
		evconnlistener_free(srv->ls[i].l);
	free(srv->ls);
	c2w_addrcount_free(srv->per_addr);
	sinkhole_evrate_free(srv->evrate);
	free(srv->page_buf);
	sinkhole_page_free(srv->page);
	free(srv);
}

void sinkhole_server_stats(const struct sinkhole_server *srv, struct sinkhole_stats *out)
{
	*out = srv->st;
}

int sinkhole_server_addr(const struct sinkhole_server *srv, enum sinkhole_proto proto, size_t index,
			 struct sinkhole_addr *out)
{
	for (size_t i = 0; i < srv->ls_count; i++) {
		if (srv->ls[i].proto != proto)
			continue;
		if (index-- == 0) {
			*out = srv->ls[i].addr;
			return C2W_OK;
		}
	}
	return C2W_ENOENT;
}
