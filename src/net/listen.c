/* SPDX-License-Identifier: MIT */
/* Socket set-up for listeners: reuseport, v6only, packet-info for wildcard binds, buffers. */
#include "net/listen.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static bool is_wildcard(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
		return in->sin_addr.s_addr == htonl(INADDR_ANY);
	}
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
	return IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr);
}

static int set_int(int fd, int level, int opt, int val)
{
	if (setsockopt(fd, level, opt, &val, sizeof(val)) != 0)
		return -errno;
	return C2W_OK;
}

static int configure(int fd, const struct net_sock *s)
{
	int family = s->addr.ss.ss_family;
	int ret = set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1);
	if (ret == C2W_OK)
		ret = set_int(fd, SOL_SOCKET, SO_REUSEPORT, 1);
	if (ret == C2W_OK && family == AF_INET6)
		ret = set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1);
	if (ret != C2W_OK || s->proto != NET_UDP)
		return ret;
	/* Bigger buffers absorb bursts between two loop iterations; failure is not fatal. */
	(void)set_int(fd, SOL_SOCKET, SO_RCVBUF, 4 << 20);
	(void)set_int(fd, SOL_SOCKET, SO_SNDBUF, 4 << 20);
	if (s->wildcard) {
		if (family == AF_INET)
			ret = set_int(fd, IPPROTO_IP, IP_PKTINFO, 1);
		else
			ret = set_int(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1);
	}
	/* Never fragment locally; answers that do not fit get TC (RFC 8085 3.2). */
	if (ret == C2W_OK && family == AF_INET)
		(void)set_int(fd, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_OMIT);
	return ret;
}

int net_sock_open(const struct conf_addr *addr, enum net_proto proto, struct net_sock *out)
{
	memset(out, 0, sizeof(*out));
	out->addr = *addr;
	out->proto = proto;
	out->wildcard = is_wildcard(&addr->ss);
	int type = (proto == NET_UDP ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC;
	int fd = socket(addr->ss.ss_family, type, 0);
	if (fd < 0)
		return -errno;
	int ret = configure(fd, out);
	if (ret != C2W_OK)
		goto out_close;
	if (bind(fd, (const struct sockaddr *)&addr->ss, addr->ss_len) != 0) {
		ret = -errno;
		goto out_close;
	}
	if (proto == NET_TCP) {
		/* Answer only after a full query arrived: fewer wake-ups for idle connects. */
		(void)set_int(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, 1);
		if (listen(fd, 1024) != 0) {
			ret = -errno;
			goto out_close;
		}
	}
	out->fd = fd;
	return C2W_OK;
out_close:
	close(fd);
	out->fd = -1;
	return ret;
}

void net_sock_close(struct net_sock *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}
