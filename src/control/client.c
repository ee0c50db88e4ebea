/* SPDX-License-Identifier: MIT */
/* Control client for the CLI: one request line, one response line, bounded by a timeout. */
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control/control.h"

static int remaining_ms(const struct timespec *deadline)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long ms =
	    (deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
	return ms > 0 ? (int)ms : 0;
}

int control_client_call(const char *path, const char *request, char *resp, size_t resp_cap,
			unsigned timeout_ms)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	size_t rlen = strlen(request);
	if (strlen(path) >= sizeof(sun.sun_path) || rlen + 1 >= CONTROL_LINE_MAX || resp_cap == 0)
		return C2W_EINVAL;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	struct timespec deadline;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int ret = C2W_OK;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		ret = -errno;
		goto out_close;
	}
	char line[CONTROL_LINE_MAX];
	memcpy(line, request, rlen);
	line[rlen] = '\n';
	size_t sent = 0;
	while (sent < rlen + 1) {
		ssize_t n = send(fd, line + sent, rlen + 1 - sent, MSG_NOSIGNAL);
		if (n < 0) {
			ret = -errno;
			goto out_close;
		}
		sent += (size_t)n;
	}
	size_t got = 0;
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int ms = remaining_ms(&deadline);
		if (ms == 0 || poll(&pfd, 1, ms) <= 0) {
			ret = C2W_ETIMEDOUT;
			goto out_close;
		}
		if (got + 1 >= resp_cap) {
			ret = C2W_ESPACE;
			goto out_close;
		}
		ssize_t n = recv(fd, resp + got, resp_cap - 1 - got, 0);
		if (n < 0) {
			ret = -errno;
			goto out_close;
		}
		if (n == 0) {
			ret = C2W_EIO; /* closed before a full line */
			goto out_close;
		}
		char *nl = memchr(resp + got, '\n', (size_t)n);
		got += (size_t)n;
		if (nl != NULL) {
			*nl = '\0';
			break;
		}
	}
out_close:
	close(fd);
	if (ret != C2W_OK)
		resp[0] = '\0';
	return ret;
}
