/* SPDX-License-Identifier: MIT */
/*
 * Bare UDP DNS reflector: the ceiling of the kernel path for the benchmark. It answers every
 * datagram that looks like a DNS query by setting QR and echoing the rest, in batches with
 * recvmmsg/sendmmsg on one blocking socket and one thread. It knows no DNS beyond the header
 * and is not part of the product; bench/run.sh builds it with cc.
 *
 *   reflector [-a ADDR] [-p PORT]      (default 127.0.0.1 5300; stops on SIGTERM/SIGINT)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH	  64
#define PKT_MAX	  4096
#define DNS_HDR	  12
#define FLAG_QR	  0x80 /* in byte 2 of the header (RFC 1035 section 4.1.1) */
#define OPCODE_QR 0xf8 /* QR and OPCODE bits of byte 2 */

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static int parse_port(const char *s, uint16_t *out)
{
	char *end = NULL;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v == 0 || v > 65535)
		return -EINVAL;
	*out = (uint16_t)v;
	return 0;
}

static int open_socket(const char *addr, uint16_t port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
	int one = 1;
	int bufsz = 4 << 20;
	int fd;

	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1)
		return -EINVAL;
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		return -errno;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
		int ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

/* Turn the received queries of one batch into answers in place; returns how many to send. */
static unsigned reflect(struct mmsghdr *msgs, unsigned n, struct mmsghdr *out)
{
	unsigned k = 0;

	for (unsigned i = 0; i < n; i++) {
		uint8_t *p = msgs[i].msg_hdr.msg_iov[0].iov_base;
		/* Only standard queries (QR=0, OPCODE=0) with a full header: never answer answers,
		 * which would let two reflectors ping-pong. */
		if (msgs[i].msg_len < DNS_HDR || (p[2] & OPCODE_QR) != 0)
			continue;
		p[2] |= FLAG_QR;
		out[k] = msgs[i];
		out[k].msg_hdr.msg_iov[0].iov_len = msgs[i].msg_len;
		k++;
	}
	return k;
}

static void serve(int fd)
{
	static uint8_t bufs[BATCH][PKT_MAX];
	static struct iovec iov[BATCH];
	static struct sockaddr_storage peers[BATCH];
	static struct mmsghdr msgs[BATCH];
	static struct mmsghdr out[BATCH];

	while (!stopping) {
		for (unsigned i = 0; i < BATCH; i++) {
			iov[i].iov_base = bufs[i];
			iov[i].iov_len = PKT_MAX;
			msgs[i].msg_hdr = (struct msghdr){.msg_name = &peers[i],
							  .msg_namelen = sizeof(peers[i]),
							  .msg_iov = &iov[i],
							  .msg_iovlen = 1};
		}
		/* Block for the first datagram, take whatever else is queued. */
		int n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("reflector: recvmmsg");
			return;
		}
		unsigned k = reflect(msgs, (unsigned)n, out);
		unsigned sent = 0;
		while (sent < k) {
			int r = sendmmsg(fd, out + sent, k - sent, 0);
			if (r < 0) {
				if (errno == EINTR)
					continue;
				break; /* drop the rest of the batch, as a loaded server would */
			}
			sent += (unsigned)r;
		}
	}
}

int main(int argc, char **argv)
{
	const char *addr = "127.0.0.1";
	uint16_t port = 5300;
	struct sigaction sa = {.sa_handler = on_signal};
	int opt;
	int fd;

	while ((opt = getopt(argc, argv, "a:p:h")) != -1) {
		switch (opt) {
		case 'a':
			addr = optarg;
			break;
		case 'p':
			if (parse_port(optarg, &port) != 0) {
				fprintf(stderr, "reflector: bad port '%s'\n", optarg);
				return 2;
			}
			break;
		default:
			fprintf(stderr, "usage: reflector [-a IPV4ADDR] [-p PORT]\n");
			return opt == 'h' ? 0 : 2;
		}
	}
	/* No SA_RESTART: a signal must interrupt the blocking recvmmsg. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	fd = open_socket(addr, port);
	if (fd < 0) {
		fprintf(stderr, "reflector: cannot listen on %s port %u: %s\n", addr, port,
			strerrordesc_np(-fd));
		return 1;
	}
	serve(fd);
	close(fd);
	return 0;
}
