/* SPDX-License-Identifier: MIT */
/*
 * TCP clients of a worker (RFC 7766): length-framed messages, pipelining with out-of-order
 * answers, idle timeout, a cap on connections. A connection stays allocated while queries of
 * it are in flight, so late answers never touch freed memory.
 */
#include "net/worker_int.h"

/* ---- TCP ------------------------------------------------------------------------------ */

static void conn_free(struct tcp_conn *c)
{
	struct net_worker *w = c->w;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	free(c);
}

static void conn_close(struct tcp_conn *c)
{
	if (c->closed)
		return;
	c->closed = true;
	bufferevent_free(c->bev);
	c->bev = NULL;
	c->w->tcp_count--;
	if (c->pending == 0)
		conn_free(c);
}

static void on_tcp_drained(struct bufferevent *bev, void *arg)
{
	struct tcp_conn *c = arg;
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		conn_close(c);
}

void net_tcp_release(struct tcp_conn *c)
{
	c->pending--;
	if (c->closed) {
		if (c->pending == 0)
			conn_free(c);
		return;
	}
	/* The client half-closed after its last query: close once every answer is out. */
	if (c->eof && c->pending == 0) {
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
			conn_close(c);
		else
			bufferevent_setcb(c->bev, NULL, on_tcp_drained, NULL, c);
	}
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

static void on_tcp_read(struct bufferevent *bev, void *arg)
{
	struct tcp_conn *c = arg;
	struct net_worker *w = c->w;
	struct evbuffer *in = bufferevent_get_input(bev);
	w->now_s = mono_s();
	/* Pipelining (RFC 7766 6.2.1): every complete message is handled now; answers from the
	 * cache go out at once, others when the resolver calls back, possibly out of order. */
	while (!c->closed) {
		uint8_t hdr[2];
		size_t avail = evbuffer_get_length(in);
		if (avail < 2 || evbuffer_copyout(in, hdr, 2) != 2)
			return;
		size_t mlen = ((size_t)hdr[0] << 8) | hdr[1];
		if (avail < 2 + mlen)
			return;
		evbuffer_drain(in, 2);
		if (evbuffer_remove(in, w->tcp_in, mlen) != (int)mlen) {
			conn_close(c);
			return;
		}
		struct net_route rt = {
		    .tcp = true,
		    .peer = (const struct sockaddr *)&c->peer,
		    .peer_len = c->peer_len,
		    .conn = c,
		};
		w->ctr.tcp_queries++;
		uint8_t *out = w->out_buf + 2;
		int len = net_worker_handle(w, w->tcp_in, mlen, &rt, out, sizeof(w->out_buf) - 2);
		if (len > 0)
			net_tcp_send(c, out, (size_t)len);
	}
}

static void on_tcp_event(struct bufferevent *bev, short what, void *arg)
{
	struct tcp_conn *c = arg;
	if ((what & BEV_EVENT_TIMEOUT) && c->pending > 0) {
		/* Idle only counts when nothing is in flight for this client. */
		bufferevent_enable(bev, EV_READ);
		return;
	}
	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) && c->pending > 0) {
		c->eof = true;
		bufferevent_disable(bev, EV_READ);
		return;
	}
	conn_close(c);
}

void net_tcp_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa, int salen,
		    void *arg)
{
	struct polled *p = arg;
	struct net_worker *w = p->w;
	(void)lev;
	if (w->tcp_count >= w->cfg->server.tcp_clients_max) {
		/* Bounded TCP clients (DESIGN: overload): refuse the newest. */
		w->ctr.tcp_rejected++;
		close(fd);
		return;
	}
	struct tcp_conn *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		close(fd);
		return;
	}
	c->w = w;
	c->bev = bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		free(c);
		close(fd);
		return;
	}
	memcpy(&c->peer, sa, (size_t)salen);
	c->peer_len = (socklen_t)salen;
	c->next = w->conns;
	if (w->conns != NULL)
		w->conns->prev = c;
	w->conns = c;
	w->tcp_count++;
	w->ctr.tcp_accepted++;
	unsigned ms =
	    w->cfg->server.tcp_idle_timeout_ms ? w->cfg->server.tcp_idle_timeout_ms : 10000;
	struct timeval idle = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
	bufferevent_setcb(c->bev, on_tcp_read, NULL, on_tcp_event, c);
	bufferevent_set_timeouts(c->bev, &idle, &idle);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

void net_tcp_free_all(struct net_worker *w)
{
	while (w->conns != NULL) {
		struct tcp_conn *c = w->conns;
		if (!c->closed)
			bufferevent_free(c->bev);
		conn_free(c);
	}
}
