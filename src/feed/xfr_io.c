/* SPDX-License-Identifier: MIT */
/*
 * TCP side of a zone transfer: non-blocking socket, poll() with a deadline, two-byte length
 * framing; a reader thread drains the socket into a bounded queue (feed/xfr_queue.c) while
 * the calling thread parses. Message meaning is feed/xfr.c's.
 */
#include "feed/xfr_io.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define SLICE_MS 200

struct conn {
	int fd;
	int64_t deadline_ms;
	const atomic_bool *stop;
	atomic_bool quit; /* the parser is done: the reader stops */
};

static int64_t now_ms(void)
{
	return feed_xfr_queue_now_ms();
}

/* Wait for @events on the socket, in slices so a stop request is seen. */
static int wait_fd(struct conn *c, short events)
{
	for (;;) {
		if ((c->stop != NULL && atomic_load(c->stop)) || atomic_load(&c->quit))
			return C2W_EAGAIN;
		int64_t left = c->deadline_ms - now_ms();
		if (left <= 0)
			return C2W_ETIMEDOUT;
		struct pollfd p = {.fd = c->fd, .events = events};
		int n = poll(&p, 1, left < SLICE_MS ? (int)left : SLICE_MS);
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n > 0)
			return C2W_OK;
	}
}

static int conn_open(struct conn *c, const struct sockaddr *addr, socklen_t len)
{
	c->fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	if (connect(c->fd, addr, len) == 0)
		return C2W_OK;
	if (errno != EINPROGRESS)
		return -errno;
	int ret = wait_fd(c, POLLOUT);
	if (ret != C2W_OK)
		return ret;
	int soerr = 0;
	socklen_t sl = sizeof(soerr);
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
		return -errno;
	return soerr == 0 ? C2W_OK : -soerr;
}

static int send_all(struct conn *c, const uint8_t *buf, size_t len)
{
	size_t off = 0;
	while (off < len) {
		ssize_t n = send(c->fd, buf + off, len - off, MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		int ret = wait_fd(c, POLLOUT);
		if (ret != C2W_OK)
			return ret;
	}
	return C2W_OK;
}

/* @return C2W_OK, C2W_ENOENT (clean end of stream before the first byte), errors */
static int recv_all(struct conn *c, uint8_t *buf, size_t len)
{
	size_t off = 0;
	while (off < len) {
		ssize_t n = recv(c->fd, buf + off, len - off, 0);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n == 0)
			return off == 0 ? C2W_ENOENT : C2W_EXFR;
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		int ret = wait_fd(c, POLLIN);
		if (ret != C2W_OK)
			return ret;
	}
	return C2W_OK;
}

static int send_query(struct feed_xfr *x, struct conn *c)
{
	uint8_t q[2 + 512];
	uint16_t id;
	if (getrandom(&id, sizeof(id), 0) != sizeof(id))
		id = (uint16_t)now_ms();
	size_t len;
	int ret = feed_xfr_query(x, id, q + 2, sizeof(q) - 2, &len);
	if (ret != C2W_OK)
		return ret;
	q[0] = (uint8_t)(len >> 8);
	q[1] = (uint8_t)len;
	return send_all(c, q, len + 2);
}

/* ---- the reader thread: drain the socket into the queue ----------------------------------- */

struct reader {
	struct conn *c;
	struct feed_xfr_queue *q;
	uint64_t max_bytes;
	uint8_t msg[65535];
};

/* Read framed messages until the stream ends, a cap is hit or the parser gives up. The
 * reader never parses: whatever the parser is doing (a table doubling, TSIG), the socket is
 * drained as fast as the primary sends, within the queue's budget. */
static void *reader_main(void *arg)
{
	struct reader *r = arg;
	struct conn *c = r->c;
	uint64_t total = 0;
	char why[128] = "";
	int ret;
	for (;;) {
		uint8_t hdr[2];
		ret = recv_all(c, hdr, 2);
		if (ret == C2W_ENOENT || ret == C2W_EXFR || ret == -ECONNRESET) {
			snprintf(why, sizeof(why), "%s before the closing SOA",
				 ret == -ECONNRESET ? "connection reset" : "stream ended");
			ret = C2W_EXFR;
			break;
		}
		if (ret != C2W_OK)
			break;
		size_t len = (size_t)hdr[0] << 8 | hdr[1];
		total += len + 2;
		if (total > r->max_bytes) {
			snprintf(why, sizeof(why), "transfer exceeds %llu bytes",
				 (unsigned long long)r->max_bytes);
			ret = C2W_ERANGE;
			break;
		}
		ret = recv_all(c, r->msg, len);
		if (ret == C2W_ENOENT || ret == C2W_EXFR || ret == -ECONNRESET) {
			snprintf(why, sizeof(why), "stream cut inside a message");
			ret = C2W_EXFR;
			break;
		}
		if (ret != C2W_OK)
			break;
		ret = feed_xfr_queue_push(r->q, r->msg, len);
		if (ret != C2W_OK)
			break;
	}
	feed_xfr_queue_close(r->q, ret, why);
	return NULL;
}

/* The parser side: messages in order, then the reader's end. */
static int parse_messages(struct feed_xfr *x, struct conn *c, struct feed_xfr_queue *q, char *err,
			  size_t err_len)
{
	uint8_t *msg = malloc(65535);
	if (msg == NULL)
		return C2W_ENOMEM;
	int ret;
	for (;;) {
		size_t len;
		const char *why;
		ret = feed_xfr_queue_pop(q, msg, &len, c->deadline_ms, c->stop, &why);
		if (ret == C2W_ENOENT)
			ret = C2W_EXFR; /* the reader stops only on an error or when told */
		if (ret != C2W_OK) {
			if (why[0] != '\0')
				snprintf(err, err_len, "%s", why);
			break;
		}
		ret = feed_xfr_input(x, msg, len);
		if (ret != 0) {
			if (ret < 0)
				snprintf(err, err_len, "%s", feed_xfr_error(x));
			break;
		}
	}
	free(msg);
	return ret;
}

static int read_messages(struct feed_xfr *x, struct conn *c, const struct feed_xfr_limits *lim,
			 char *err, size_t err_len, struct feed_xfr_queue_stats *st)
{
	struct reader *r = malloc(sizeof(*r));
	struct feed_xfr_queue *q = NULL;
	if (r == NULL || feed_xfr_queue_new(lim->max_bytes, &q) != C2W_OK) {
		free(r);
		return C2W_ENOMEM;
	}
	r->c = c;
	r->q = q;
	r->max_bytes = lim->max_bytes;
	pthread_t tid;
	int ret = pthread_create(&tid, NULL, reader_main, r);
	if (ret != 0) {
		ret = -ret;
		goto out_free;
	}
	ret = parse_messages(x, c, q, err, err_len);
	/* Done (complete, or given up): wake the reader wherever it waits and join it. */
	feed_xfr_queue_abort(q);
	atomic_store(&c->quit, true);
	(void)shutdown(c->fd, SHUT_RDWR);
	pthread_join(tid, NULL);
	if (st != NULL)
		feed_xfr_queue_stats(q, st);
out_free:
	feed_xfr_queue_free(q);
	free(r);
	return ret;
}

int feed_xfr_fetch(struct feed_xfr *x, const struct sockaddr *addr, socklen_t addr_len,
		   const struct feed_xfr_limits *lim, char *err, size_t err_len,
		   struct feed_xfr_queue_stats *st)
{
	struct conn c = {.fd = -1, .deadline_ms = now_ms() + lim->timeout_ms, .stop = lim->stop};
	if (st != NULL)
		memset(st, 0, sizeof(*st));
	err[0] = '\0';
	int ret = conn_open(&c, addr, addr_len);
	if (ret == C2W_OK)
		ret = send_query(x, &c);
	if (ret == C2W_OK)
		ret = read_messages(x, &c, lim, err, err_len, st);
	if (ret < 0 && err[0] == '\0')
		snprintf(err, err_len, "%s", ret == C2W_ETIMEDOUT ? "transfer timed out"
								 : c2w_strerror(ret));
	if (c.fd >= 0)
		close(c.fd);
	return ret;
}
