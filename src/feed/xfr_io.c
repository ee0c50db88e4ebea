/* SPDX-License-Identifier: MIT */
/*
 * TCP side of a zone transfer: non-blocking socket, poll() with a deadline, two-byte length
 * framing. Message meaning is feed/xfr.c's.
 */
#include "feed/xfr_io.h"

#include <fcntl.h>
#include <poll.h>
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
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for @events on the socket, in slices so a stop request is seen. */
static int wait_fd(struct conn *c, short events)
{
	for (;;) {
		if (c->stop != NULL && atomic_load(c->stop))
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

static int read_messages(struct feed_xfr *x, struct conn *c, uint64_t max_bytes, char *err,
			 size_t err_len)
{
	uint8_t *msg = malloc(65535);
	if (msg == NULL)
		return C2W_ENOMEM;
	uint64_t total = 0;
	int ret;
	for (;;) {
		uint8_t hdr[2];
		ret = recv_all(c, hdr, 2);
		if (ret == C2W_ENOENT || ret == C2W_EXFR || ret == -ECONNRESET) {
			snprintf(err, err_len, "%s before the closing SOA",
				 ret == -ECONNRESET ? "connection reset" : "stream ended");
			ret = C2W_EXFR;
			break;
		}
		if (ret != C2W_OK)
			break;
		size_t len = (size_t)hdr[0] << 8 | hdr[1];
		total += len + 2;
		if (total > max_bytes) {
			snprintf(err, err_len, "transfer exceeds %llu bytes",
				 (unsigned long long)max_bytes);
			ret = C2W_ERANGE;
			break;
		}
		ret = recv_all(c, msg, len);
		if (ret == C2W_ENOENT || ret == C2W_EXFR || ret == -ECONNRESET) {
			snprintf(err, err_len, "stream cut inside a message");
			ret = C2W_EXFR;
			break;
		}
		if (ret != C2W_OK)
			break;
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

int feed_xfr_fetch(struct feed_xfr *x, const struct sockaddr *addr, socklen_t addr_len,
		   const struct feed_xfr_limits *lim, char *err, size_t err_len)
{
	struct conn c = {.fd = -1, .deadline_ms = now_ms() + lim->timeout_ms, .stop = lim->stop};
	err[0] = '\0';
	int ret = conn_open(&c, addr, addr_len);
	if (ret == C2W_OK)
		ret = send_query(x, &c);
	if (ret == C2W_OK)
		ret = read_messages(x, &c, lim->max_bytes, err, err_len);
	if (ret < 0 && err[0] == '\0')
		snprintf(err, err_len, "%s", ret == C2W_ETIMEDOUT ? "transfer timed out"
								 : c2w_strerror(ret));
	if (c.fd >= 0)
		close(c.fd);
	return ret;
}
