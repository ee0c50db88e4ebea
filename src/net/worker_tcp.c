/* SPDX-License-Identifier: MIT */
/*
 * TCP clients of a worker (RFC 7766): length-framed messages, pipelining with out-of-order
 * answers, and the bounds that keep one client from holding or bloating the worker: the ACL
 * at accept, a cap per client prefix (shared by all workers) and per worker (an idle
 * connection may make room), an absolute deadline per message, the idle timeout, a cap on
 * queries in flight and on unsent answers per connection (reading pauses at either). A
 * connection stays allocated while queries of it are in flight, so late answers never touch
 * freed memory. docs/abuse.md, "TCP connections", says what each bound is for.
 */
#include "net/worker_int.h"

#define TCP_IN_MAX     (2 + DNS_MSG_MAX) /* input buffered: one whole message at most */
#define DISPLACE_SCAN  64                /* oldest connections looked at for an idle one */
#define DEFAULT_IDLE   10000
#define DEFAULT_MSG    5000
#define DEFAULT_PIPE   32
#define DEFAULT_OUTPUT (128 * 1024)
#define XFR_CHUNK      (64 * 1024) /* transfer bytes written per turn of the loop */

static unsigned cfg_or(unsigned v, unsigned dflt)
{
	return v ? v : dflt;
}

static size_t output_max(const struct net_worker *w)
{
	uint64_t v = w->cfg->server.tcp_output_max;
	return v ? (size_t)v : DEFAULT_OUTPUT;
}

static struct timeval ms_tv(unsigned ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
	return tv;
}

/* ---- the connection list, most recently active first ------------------------------------- */

static void list_unlink(struct tcp_conn *c)
{
	struct net_worker *w = c->w;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		w->conns_tail = c->prev;
	c->prev = c->next = NULL;
}

static void list_push(struct tcp_conn *c)
{
	struct net_worker *w = c->w;
	c->prev = NULL;
	c->next = w->conns;
	if (w->conns != NULL)
		w->conns->prev = c;
	else
		w->conns_tail = c;
	w->conns = c;
}

static void touch(struct tcp_conn *c)
{
	if (c->w->conns == c)
		return;
	list_unlink(c);
	list_push(c);
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

static void conn_free(struct tcp_conn *c)
{
	list_unlink(c);
	if (c->deadline != NULL)
		event_free(c->deadline);
	if (c->resume != NULL)
		event_free(c->resume);
	free(c);
}

static void conn_close(struct tcp_conn *c)
{
	struct net_worker *w = c->w;
	if (c->closed)
		return;
	c->closed = true;
	net_xfr_stream_free(c->xfr);
	c->xfr = NULL;
	event_del(c->deadline);
	event_del(c->resume);
	/* Unsent answers go with the socket: the client stopped reading or took too long. */
	bufferevent_free(c->bev);
	c->bev = NULL;
	if (c->counted && w->tcp_per_addr != NULL)
		c2w_addrcount_put(w->tcp_per_addr, (const struct sockaddr *)&c->peer);
	c->counted = false;
	w->tcp_count--;
	CTR_SET(w->ctr.tcp_open, w->tcp_count);
	if (c->pending == 0)
		conn_free(c);
}

static size_t out_len(const struct tcp_conn *c)
{
	return evbuffer_get_length(bufferevent_get_output(c->bev));
}

static size_t in_len(const struct tcp_conn *c)
{
	return evbuffer_get_length(bufferevent_get_input(c->bev));
}

/* Nothing in flight, nothing unsent, no message started: closing it loses nothing. */
static bool conn_idle(const struct tcp_conn *c)
{
	return !c->closed && c->pending == 0 && in_len(c) == 0 && out_len(c) == 0;
}

/* Run the connection's buffered input (and its end) from the loop, never from inside a
 * resolver callback. */
static void kick(struct tcp_conn *c)
{
	if (!c->closed)
		event_active(c->resume, EV_TIMEOUT, 0);
}

void net_tcp_release(struct tcp_conn *c)
{
	c->pending--;
	if (c->closed) {
		if (c->pending == 0)
			conn_free(c);
		return;
	}
	if (c->paused || c->eof)
		kick(c);
}

void net_tcp_send(struct tcp_conn *c, uint8_t *msg, size_t len)
{
	if (c->closed)
		return;
	/* RFC 1035 4.2.2: two-octet length prefix; the caller left room in front of @msg. */
	msg[-2] = (uint8_t)(len >> 8);
	msg[-1] = (uint8_t)len;
	bufferevent_write(c->bev, msg - 2, len + 2);
}

/* ---- reading: pipelining within bounds ---------------------------------------------------- */

static void deadline_stop(struct tcp_conn *c)
{
	if (c->deadline_armed) {
		event_del(c->deadline);
		c->deadline_armed = false;
	}
}

/* A message has begun: it must be whole within tcp-message-timeout, however it trickles in
 * (the idle timeout restarts with every byte, this one does not). */
static void deadline_start(struct tcp_conn *c)
{
	if (c->deadline_armed)
		return;
	struct timeval tv = ms_tv(cfg_or(c->w->cfg->server.tcp_message_timeout_ms, DEFAULT_MSG));
	evtimer_add(c->deadline, &tv);
	c->deadline_armed = true;
}

/* May another message be taken now? Counts and pauses reading when not. */
static bool may_take(struct tcp_conn *c)
{
	struct net_worker *w = c->w;
	if (c->xfr != NULL) {
		/* A transfer is being written: the next message waits until it is done. */
		if (!c->paused) {
			c->paused = true;
			bufferevent_disable(c->bev, EV_READ);
		}
		deadline_stop(c);
		return false;
	}
	bool pipe_full = c->pending >= cfg_or(w->cfg->server.tcp_pipeline_max, DEFAULT_PIPE);
	bool out_full = out_len(c) > output_max(w);
	if (!pipe_full && !out_full) {
		if (c->paused) {
			c->paused = false;
			if (!c->eof)
				bufferevent_enable(c->bev, EV_READ);
		}
		return true;
	}
	if (!c->paused) {
		c->paused = true;
		bufferevent_disable(c->bev, EV_READ);
		if (pipe_full)
			CTR_ADD(w->ctr.tcp_pipeline_paused, 1);
		else
			CTR_ADD(w->ctr.tcp_output_paused, 1);
	}
	/* Waiting on us, not on the client: its deadline starts again when we read again. */
	deadline_stop(c);
	return false;
}

/* Handle every whole message buffered, as far as the bounds allow (RFC 7766 6.2.1: answers
 * from the cache go out at once, others when the resolver calls back, possibly out of order).
 * Returns false when @c was closed (and may be freed). */
static bool conn_input(struct tcp_conn *c)
{
	struct net_worker *w = c->w;
	struct evbuffer *in = bufferevent_get_input(c->bev);
	w->now_s = mono_s();
	while (may_take(c)) {
		uint8_t hdr[2];
		size_t avail = evbuffer_get_length(in);
		if (avail == 0) {
			deadline_stop(c);
			return true;
		}
		if (avail < 2 || evbuffer_copyout(in, hdr, 2) != 2) {
			deadline_start(c);
			return true;
		}
		size_t mlen = ((size_t)hdr[0] << 8) | hdr[1];
		if (avail < 2 + mlen) {
			deadline_start(c);
			return true;
		}
		deadline_stop(c);
		evbuffer_drain(in, 2);
		if (evbuffer_remove(in, w->tcp_in, mlen) != (int)mlen) {
			conn_close(c);
			return false;
		}
		touch(c);
		struct net_route rt = {
		    .tcp = true,
		    .peer = (const struct sockaddr *)&c->peer,
		    .peer_len = c->peer_len,
		    .conn = c,
		    .start_us = mono_us(),
		};
		CTR_ADD(w->ctr.tcp_queries, 1);
		uint8_t *out = w->out_buf + 2;
		int len = net_worker_handle(w, w->tcp_in, mlen, &rt, out, sizeof(w->out_buf) - 2);
		if (len > 0) {
			net_tcp_send(c, out, (size_t)len);
			net_latency_observe(&w->lat, mono_us() - rt.start_us, 1);
		}
	}
	return true;
}

/* The client half-closed: once its last answer is written, close (RFC 7766 6.2.3). */
static void conn_maybe_finish(struct tcp_conn *c)
{
	if (c->closed || !c->eof || c->pending > 0 || c->paused || c->xfr != NULL)
		return;
	if (out_len(c) == 0)
		conn_close(c);
	/* else on_tcp_write() closes it when the output drains */
}

static void on_tcp_read(struct bufferevent *bev, void *arg)
{
	(void)bev;
	(void)conn_input(arg);
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct tcp_conn *c = arg;
	(void)fd;
	(void)what;
	if (conn_input(c))
		conn_maybe_finish(c);
}

/* Write the next chunk of a transfer; at its end, reading goes on. @return false when @c
 * was closed. */
static bool xfr_pump(struct tcp_conn *c)
{
	int ret = net_xfr_stream_pump(c->xfr, bufferevent_get_output(c->bev), XFR_CHUNK);
	if (ret > 0)
		return true;
	net_xfr_stream_free(c->xfr);
	c->xfr = NULL;
	if (ret < 0) {
		conn_close(c);
		return false;
	}
	return true;
}

void net_tcp_stream(struct tcp_conn *c, struct net_xfr_stream *s)
{
	if (c->closed || c->xfr != NULL) {
		net_xfr_stream_free(s);
		return;
	}
	c->xfr = s;
	(void)xfr_pump(c);
}

/* Output fell to the tcp-output-max low watermark (or to empty). */
static void on_tcp_write(struct bufferevent *bev, void *arg)
{
	struct tcp_conn *c = arg;
	(void)bev;
	if (c->xfr != NULL && (!xfr_pump(c) || c->xfr != NULL))
		return;
	if (c->paused && !conn_input(c))
		return;
	conn_maybe_finish(c);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct tcp_conn *c = arg;
	(void)fd;
	(void)what;
	c->deadline_armed = false;
	CTR_ADD(c->w->ctr.tcp_message_timeouts, 1);
	conn_close(c);
}

static void on_tcp_event(struct bufferevent *bev, short what, void *arg)
{
	struct tcp_conn *c = arg;
	struct net_worker *w = c->w;
	if (what & BEV_EVENT_TIMEOUT) {
		if (what & BEV_EVENT_WRITING) {
			/* Answers sat unread for the idle timeout: the client does not read. */
			CTR_ADD(w->ctr.tcp_write_timeouts, 1);
			conn_close(c);
			return;
		}
		if (c->pending > 0) {
			/* Idle only counts when nothing is in flight for this client. */
			bufferevent_enable(bev, EV_READ);
			return;
		}
		CTR_ADD(w->ctr.tcp_idle_timeouts, 1);
		conn_close(c);
		return;
	}
	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR)) {
		/* A message cut short by the EOF will never be whole: its bytes are dropped. */
		c->eof = true;
		deadline_stop(c);
		bufferevent_disable(bev, EV_READ);
		conn_maybe_finish(c);
		return;
	}
	conn_close(c);
}

/* ---- accept ------------------------------------------------------------------------------- */

/* At the per-worker cap: close the least recently active idle connection, if one of the
 * oldest is idle (as Unbound and BIND reuse idle TCP slots under load). */
static bool displace_idle(struct net_worker *w)
{
	struct tcp_conn *c = w->conns_tail;
	for (unsigned i = 0; c != NULL && i < DISPLACE_SCAN; i++, c = c->prev) {
		if (conn_idle(c)) {
			CTR_ADD(w->ctr.tcp_displaced, 1);
			conn_close(c);
			return true;
		}
	}
	return false;
}

/* Apply the caps at accept; true when @fd may become a connection (then *counted says
 * whether it holds a place in the per-address table). */
static bool admit(struct net_worker *w, const struct sockaddr *sa, bool *counted)
{
	*counted = false;
	/* Outsiders never hold a connection (DESIGN: no open resolver). */
	if (!net_worker_acl_allows(w->cfg, sa) &&
	    !(w->xfr != NULL && net_xfr_may_connect(w->xfr, sa))) {
		CTR_ADD(w->ctr.tcp_acl_refused, 1);
		return false;
	}
	if (w->tcp_per_addr != NULL) {
		int ret = c2w_addrcount_take(w->tcp_per_addr, sa,
					     cfg_or(w->cfg->server.tcp_clients_per_address, 32));
		if (ret == C2W_ERANGE) {
			CTR_ADD(w->ctr.tcp_addr_limited, 1);
			return false;
		}
		/* C2W_EFULL: more distinct addresses than the table was sized for (tcp-clients
		 * raised by a reload): the per-worker cap still holds. */
		*counted = ret == C2W_OK;
	}
	if (w->tcp_count >= w->cfg->server.tcp_clients_max && !displace_idle(w)) {
		CTR_ADD(w->ctr.tcp_rejected, 1);
		if (*counted)
			c2w_addrcount_put(w->tcp_per_addr, sa);
		*counted = false;
		return false;
	}
	return true;
}

static int conn_setup(struct net_worker *w, struct tcp_conn *c, evutil_socket_t fd)
{
	c->deadline = evtimer_new(w->base, on_deadline, c);
	c->resume = event_new(w->base, -1, 0, on_resume, c);
	if (c->deadline == NULL || c->resume == NULL)
		return C2W_ENOMEM;
	c->bev = bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL)
		return C2W_ENOMEM;
	struct timeval idle = ms_tv(cfg_or(w->cfg->server.tcp_idle_timeout_ms, DEFAULT_IDLE));
	bufferevent_setcb(c->bev, on_tcp_read, on_tcp_write, on_tcp_event, c);
	bufferevent_set_timeouts(c->bev, &idle, &idle);
	/* Input: at most one whole message waits (libevent stops reading above it). Output:
	 * the write callback fires once unsent answers fall to tcp-output-max. */
	bufferevent_setwatermark(c->bev, EV_READ, 0, TCP_IN_MAX);
	bufferevent_setwatermark(c->bev, EV_WRITE, output_max(w), 0);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	return C2W_OK;
}

void net_tcp_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa, int salen,
		    void *arg)
{
	struct polled *p = arg;
	struct net_worker *w = p->w;
	bool counted;
	(void)lev;
	if (!admit(w, sa, &counted)) {
		close(fd);
		return;
	}
	struct tcp_conn *c = calloc(1, sizeof(*c));
	if (c == NULL || conn_setup(w, c, fd) != C2W_OK) {
		if (counted)
			c2w_addrcount_put(w->tcp_per_addr, sa);
		if (c != NULL) {
			if (c->deadline != NULL)
				event_free(c->deadline);
			if (c->resume != NULL)
				event_free(c->resume);
			free(c);
		}
		close(fd);
		return;
	}
	c->w = w;
	c->counted = counted;
	memcpy(&c->peer, sa, (size_t)salen);
	c->peer_len = (socklen_t)salen;
	list_push(c);
	w->tcp_count++;
	CTR_SET(w->ctr.tcp_open, w->tcp_count);
	CTR_ADD(w->ctr.tcp_accepted, 1);
}

void net_tcp_free_all(struct net_worker *w)
{
	while (w->conns != NULL) {
		struct tcp_conn *c = w->conns;
		if (!c->closed) {
			net_xfr_stream_free(c->xfr);
			c->xfr = NULL;
			bufferevent_free(c->bev);
			if (c->counted && w->tcp_per_addr != NULL)
				c2w_addrcount_put(w->tcp_per_addr,
						  (const struct sockaddr *)&c->peer);
		}
		conn_free(c);
	}
}
