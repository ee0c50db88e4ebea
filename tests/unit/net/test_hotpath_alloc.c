/* SPDX-License-Identifier: MIT */
/*
 * The cache-hit path allocates nothing (DESIGN: budgets). This binary is linked with
 * -Wl,--wrap=malloc,calloc,realloc (tests/CMakeLists.txt), so every allocation made by
 * c2wall's own code is counted. It starts the real server on loopback with one worker,
 * forwarding to a small UDP authority in a thread of this test, fills the cache with one
 * query, then sends a bounded number of identical queries and checks that each was answered
 * and that no allocation happened while they were served.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conf/config.h"
#include "net/server.h"
#include "net/worker.h"
#include "test.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);

static atomic_ulong allocs;

void *__wrap_malloc(size_t n)
{
	atomic_fetch_add(&allocs, 1);
	return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t m)
{
	atomic_fetch_add(&allocs, 1);
	return __real_calloc(n, m);
}

void *__wrap_realloc(void *p, size_t n)
{
	atomic_fetch_add(&allocs, 1);
	return __real_realloc(p, n);
}

static int udp_socket_bound(uint16_t *port)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
	socklen_t len = sizeof(sin);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) != 0)
		return -1;
	*port = ntohs(sin.sin_port);
	return fd;
}

static uint16_t free_port(void)
{
	uint16_t port = 0;
	int fd = udp_socket_bound(&port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* The upstream: answers every query with one A record 192.0.2.1, TTL 300. */
static void *authority(void *arg)
{
	int fd = *(int *)arg;
	uint8_t buf[1500];
	for (;;) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		ssize_t n = recvfrom(fd, buf, sizeof(buf) - 16, 0, (struct sockaddr *)&peer, &plen);
		if (n < 12)
			return NULL;
		/* Find the end of the question, drop anything after it (EDNS). */
		size_t pos = 12;
		while (pos < (size_t)n && buf[pos] != 0)
			pos += (size_t)buf[pos] + 1;
		pos += 5;
		if (pos > (size_t)n)
			continue;
		static const uint8_t rr[] = {0xc0, 0x0c, 0, 1, 0,   1, 0, 0,
					     0x01, 0x2c, 0, 4, 192, 0, 2, 1};
		buf[2] = 0x84 | (buf[2] & 0x01); /* QR AA, RD echoed */
		buf[3] = 0x00;
		buf[6] = 0, buf[7] = 1;                  /* ANCOUNT */
		buf[8] = buf[9] = buf[10] = buf[11] = 0; /* NSCOUNT, ARCOUNT */
		memcpy(buf + pos, rr, sizeof(rr));
		sendto(fd, buf, pos + sizeof(rr), 0, (struct sockaddr *)&peer, plen);
	}
}

static void *serve(void *arg)
{
	net_server_run(arg);
	return NULL;
}

/* The stats thread's part: reads the counters while the worker writes them (under TSan in CI:
 * no data race), every millisecond until told to stop; keeps the last answer count read. */
struct reader {
	struct net_server *srv;
	atomic_bool stop;
	uint64_t answers, reads;
	bool went_back; /* a read saw fewer answers than the one before (CHECKed by the caller) */
};

static void *read_counters(void *arg)
{
	struct reader *r = arg;
	struct net_counters c;
	const struct timespec ms = {.tv_nsec = 1000000};
	while (!atomic_load(&r->stop)) {
		net_server_counters(r->srv, &c);
		if (c.answers < r->answers)
			r->went_back = true;
		r->answers = c.answers;
		r->reads++;
		nanosleep(&ms, NULL);
	}
	return NULL;
}

static size_t make_query(uint8_t *q, uint16_t id)
{
	static const uint8_t tail[] = {3,   'w', 'w', 'w', 7,   'e', 'x', 'a', 'm', 'p', 'l',
				       'e', 4,   't', 'e', 's', 't', 0,   0,   1,   0,   1};
	memset(q, 0, 12);
	q[0] = (uint8_t)(id >> 8), q[1] = (uint8_t)id;
	q[2] = 0x01; /* RD */
	q[5] = 1;    /* QDCOUNT */
	memcpy(q + 12, tail, sizeof(tail));
	return 12 + sizeof(tail);
}

static void test_cache_hits_allocate_nothing(void)
{
	uint16_t up_port = 0;
	int up_fd = udp_socket_bound(&up_port);
	CHECK(up_fd >= 0);
	pthread_t up_thread;
	pthread_create(&up_thread, NULL, authority, &up_fd);

	uint16_t port = free_port();
	char yaml[1024];
	snprintf(yaml, sizeof(yaml),
		 "server:\n  listen: [\"127.0.0.1@%u\"]\n  workers: 1\n  user: none\n"
		 "  allow: [\"127.0.0.0/8\"]\n  cache-memory: 2m\n"
		 "resolver:\n  mode: forward\n  forward: [\"127.0.0.1@%u\"]\n"
		 "  trust-anchor: none\n  timeout: 2s\n  transparent-zones: [\"test.\"]\n"
		 "store:\n  sqlite: none\ncontrol:\n  socket: none\n"
		 "log:\n  level: error\n",
		 port, up_port);
	char path[] = "/tmp/c2w-alloc-XXXXXX.yaml";
	int cfd = mkstemps(path, 5);
	CHECK(cfd >= 0 && write(cfd, yaml, strlen(yaml)) == (ssize_t)strlen(yaml));
	close(cfd);
	char err[512];
	struct c2w_config *cfg = NULL;
	CHECK_EQ(conf_load(path, &cfg, err, sizeof(err)), C2W_OK);
	unlink(path);
	struct net_server *srv = NULL;
	CHECK_EQ(net_server_new(cfg, &srv), C2W_OK);
	if (srv == NULL)
		return;
	pthread_t srv_thread;
	pthread_create(&srv_thread, NULL, serve, srv);

	int cl = socket(AF_INET, SOCK_DGRAM, 0);
	struct timeval tv = {.tv_sec = 2};
	setsockopt(cl, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	struct sockaddr_in to = {
	    .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(0x7f000001)};
	uint8_t q[64], a[1500];
	size_t qlen = make_query(q, 1);
	/* The first answer comes from the upstream and fills the cache. */
	ssize_t n = -1;
	for (int i = 0; i < 20 && n < 0; i++) {
		sendto(cl, q, qlen, 0, (struct sockaddr *)&to, sizeof(to));
		n = recv(cl, a, sizeof(a), 0);
	}
	CHECK(n > 12 && (a[3] & 0x0f) == 0 && a[7] == 1);

	/* The workers answer before net_server_run() (the serve thread) has set its loop up (it
	 * allocates there, once): count only once nothing has allocated for 100 ms (at most
	 * 5 s), or its set-up falls into the window by chance. */
	const struct timespec tenth = {.tv_nsec = 100000000};
	unsigned long settled = atomic_load(&allocs);
	for (int i = 0; i < 50; i++) {
		nanosleep(&tenth, NULL);
		unsigned long now = atomic_load(&allocs);
		if (now == settled)
			break;
		settled = now;
	}

	const unsigned rounds = 2000;
	unsigned answered = 0;
	struct reader rd = {.srv = srv};
	pthread_t rd_thread;
	pthread_create(&rd_thread, NULL, read_counters, &rd);
	unsigned long before = atomic_load(&allocs);
	for (unsigned i = 0; i < rounds; i++) {
		qlen = make_query(q, (uint16_t)(i + 2));
		sendto(cl, q, qlen, 0, (struct sockaddr *)&to, sizeof(to));
		n = recv(cl, a, sizeof(a), 0);
		if (n > 12 && a[0] == q[0] && a[1] == q[1] && a[7] == 1)
			answered++;
	}
	unsigned long during = atomic_load(&allocs) - before;
	atomic_store(&rd.stop, true);
	pthread_join(rd_thread, NULL);
	struct net_counters end;
	net_server_counters(srv, &end);
	printf("%u cache hits answered, %lu allocations while serving them; counters read %llu "
	       "times meanwhile\n",
	       answered, during, (unsigned long long)rd.reads);
	CHECK_EQ(answered, rounds);
	CHECK_EQ(during, 0);
	CHECK(rd.reads > 0);
	CHECK(!rd.went_back);
	CHECK(end.answers >= rounds + 1);
	CHECK(end.cache_hits >= rounds);

	close(cl);
	kill(getpid(), SIGTERM);
	pthread_join(srv_thread, NULL);
	net_server_free(srv);
	/* Wakes the authority's recvfrom (returns 0), then its thread ends. */
	shutdown(up_fd, SHUT_RDWR);
	pthread_join(up_thread, NULL);
	close(up_fd);
}

TEST_MAIN(TEST(test_cache_hits_allocate_nothing))
