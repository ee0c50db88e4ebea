// SPDX-License-Identifier: MIT
/*
 * Latency at a fixed rate, for bench/run.sh: sends a dnsperf query file open-loop at R queries
 * per second for S seconds and reports the percentiles of the answer latency. Each query is
 * stamped just before its own send(); each answer by the kernel when it reached the socket
 * (SO_TIMESTAMPNS), so the client's own scheduling delays after the answer arrived do not count.
 *
 *   latency -s ADDR -p PORT -d FILE [-B] -Q RATE -l SECONDS [-t TIMEOUT] [-S SOCKETS]
 *
 * FILE is dnsperf's input: text lines "NAME TYPE", or with -B its binary form (2-byte length,
 * then the message; the ID is overwritten). The file is looped. Output: "key value" lines.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SOCKETS 64
#define BATCH	    64
#define MAX_MSG	    512

struct query {
	uint8_t *msg;
	size_t len;
};

/* One in-flight query: ID = slot index within its socket. */
struct slot {
	int64_t sent_ns; /* CLOCK_REALTIME, as SO_TIMESTAMPNS; 0 = free */
	uint32_t query;
};

struct run {
	struct query *q;
	size_t q_count;
	int fd[MAX_SOCKETS];
	int fd_count;
	struct slot *slots; /* fd_count * 65536 */
	uint32_t *lat_ns;
	uint64_t sent, answered, lost, unexpected, rcode[6];
	int64_t timeout_ns, lag_max_ns;
	uint64_t late_sends; /* sent more than 1 ms after their scheduled time */
	uint64_t skipped;    /* not sent: the client itself fell more than 10 ms behind */
};

static int64_t now_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static long num_arg(const char *s, long lo, long hi, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "latency: %s must be %ld..%ld\n", what, lo, hi);
		exit(2);
	}
	return v;
}

static int qtype_of(const char *s)
{
	static const struct {
		const char *name;
		int code;
	} types[] = {{"A", 1},	  {"NS", 2},   {"CNAME", 5}, {"SOA", 6},    {"PTR", 12},
		     {"MX", 15},  {"TXT", 16}, {"AAAA", 28}, {"SRV", 33},   {"DS", 43},
		     {"DNSKEY", 48}, {"SVCB", 64}, {"HTTPS", 65}, {"ANY", 255}};

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcasecmp(s, types[i].name))
			return types[i].code;
	return -1;
}

/* A query message (RD set, no EDNS, as dnsperf's text input) from "NAME TYPE". */
static size_t text_query(const char *name, const char *type, uint8_t *out)
{
	static const uint8_t hdr[12] = {0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0};
	size_t n = 12, nlen = strlen(name);
	int qtype = qtype_of(type);

	if (qtype < 0 || nlen > 253)
		return 0;
	memcpy(out, hdr, sizeof(hdr));
	for (const char *p = name; *p;) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);

		if (l == 0 || l > 63)
			return 0;
		out[n++] = (uint8_t)l;
		memcpy(out + n, p, l);
		n += l;
		p += l + (dot ? 1 : 0);
	}
	out[n++] = 0;
	out[n++] = (uint8_t)(qtype >> 8);
	out[n++] = (uint8_t)qtype;
	out[n++] = 0;
	out[n++] = 1;
	return n;
}

static int add_query(struct run *r, size_t *cap, const uint8_t *msg, size_t len)
{
	if (len < 12 || len > MAX_MSG)
		return -1;
	if (r->q_count == *cap) {
		size_t ncap = *cap ? *cap * 2 : 4096;
		struct query *nq = realloc(r->q, ncap * sizeof(*nq));

		if (!nq)
			return -1;
		r->q = nq;
		*cap = ncap;
	}
	r->q[r->q_count].msg = malloc(len);
	if (!r->q[r->q_count].msg)
		return -1;
	memcpy(r->q[r->q_count].msg, msg, len);
	r->q[r->q_count].len = len;
	r->q_count++;
	return 0;
}

static int load(struct run *r, const char *path, int binary)
{
	FILE *f = fopen(path, "rb");
	uint8_t buf[MAX_MSG];
	size_t cap = 0;

	if (!f) {
		perror(path);
		return -1;
	}
	if (binary) {
		uint8_t lb[2];

		while (fread(lb, 1, 2, f) == 2) {
			size_t len = (size_t)lb[0] << 8 | lb[1];

			if (len > sizeof(buf) || fread(buf, 1, len, f) != len ||
			    add_query(r, &cap, buf, len) < 0)
				goto bad;
		}
	} else {
		char line[512], name[300], type[16];

		while (fgets(line, sizeof(line), f)) {
			size_t len;

			if (sscanf(line, "%299s %15s", name, type) != 2)
				continue;
			len = text_query(name, type, buf);
			if (!len || add_query(r, &cap, buf, len) < 0)
				goto bad;
		}
	}
	fclose(f);
	return r->q_count ? 0 : -1;
bad:
	fprintf(stderr, "latency: bad query %zu in %s\n", r->q_count + 1, path);
	fclose(f);
	return -1;
}

static int open_sockets(struct run *r, const char *addr, int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int one = 1, buf = 4 << 20;

	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		fprintf(stderr, "latency: bad IPv4 address %s\n", addr);
		return -1;
	}
	for (int i = 0; i < r->fd_count; i++) {
		int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);

		if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) < 0 ||
		    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			perror("latency: socket");
			return -1;
		}
		/* Best effort: a larger buffer only avoids drops on the client side. */
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
		r->fd[i] = fd;
	}
	return 0;
}

static void send_one(struct run *r, uint64_t seq, int64_t lag_ns)
{
	int s = (int)(seq % (uint64_t)r->fd_count);
	uint16_t id = (uint16_t)(seq / (uint64_t)r->fd_count);
	struct slot *sl = &r->slots[(size_t)s * 65536 + id];
	struct query *q = &r->q[seq % r->q_count];
	uint8_t msg[MAX_MSG];

	if (sl->sent_ns)
		r->lost++; /* never answered before its ID came round again */
	memcpy(msg, q->msg, q->len);
	msg[0] = (uint8_t)(id >> 8);
	msg[1] = (uint8_t)id;
	sl->query = (uint32_t)(seq % r->q_count);
	sl->sent_ns = now_ns(CLOCK_REALTIME);
	if (send(r->fd[s], msg, q->len, 0) < 0) {
		sl->sent_ns = 0;
		r->lost++;
	}
	r->sent++;
	if (lag_ns > r->lag_max_ns)
		r->lag_max_ns = lag_ns;
	if (lag_ns > 1000000)
		r->late_sends++;
}

/* The question of @a (a query we sent) and of @b (an answer) are the same name and type. */
static int same_question(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	size_t i = 12;

	while (i < alen && a[i])
		i += (size_t)a[i] + 1;
	i += 5; /* root label, type, class */
	if (i > alen || i > blen)
		return 0;
	return !strncasecmp((const char *)a + 12, (const char *)b + 12, i - 12) &&
	       !memcmp(a + i - 4, b + i - 4, 4);
}

static void take_answer(struct run *r, int s, const uint8_t *msg, size_t len, int64_t rx_ns)
{
	struct slot *sl;
	int64_t lat;

	if (len < 12 || !(msg[2] & 0x80)) {
		r->unexpected++;
		return;
	}
	sl = &r->slots[(size_t)s * 65536 + ((size_t)msg[0] << 8 | msg[1])];
	if (!sl->sent_ns || !same_question(r->q[sl->query].msg, r->q[sl->query].len, msg, len)) {
		r->unexpected++;
		return;
	}
	lat = rx_ns - sl->sent_ns;
	sl->sent_ns = 0;
	if (lat > r->timeout_ns) {
		r->lost++;
		return;
	}
	r->lat_ns[r->answered++] = lat < 0 ? 0 : (uint32_t)lat;
	r->rcode[(msg[3] & 0xf) < 5 ? (msg[3] & 0xf) : 5]++;
}

static void receive(struct run *r, int s)
{
	static uint8_t bufs[BATCH][MAX_MSG + 1];
	static char ctl[BATCH][CMSG_SPACE(sizeof(struct timespec)) + 64];
	struct mmsghdr mm[BATCH];
	struct iovec iov[BATCH];
	int n;

	do {
		for (int i = 0; i < BATCH; i++) {
			iov[i] = (struct iovec){bufs[i], sizeof(bufs[i])};
			mm[i].msg_hdr = (struct msghdr){.msg_iov = &iov[i],
							.msg_iovlen = 1,
							.msg_control = ctl[i],
							.msg_controllen = sizeof(ctl[i])};
		}
		n = recvmmsg(r->fd[s], mm, BATCH, MSG_DONTWAIT, NULL);
		for (int i = 0; i < n; i++) {
			int64_t rx = 0;

			for (struct cmsghdr *c = CMSG_FIRSTHDR(&mm[i].msg_hdr); c;
			     c = CMSG_NXTHDR(&mm[i].msg_hdr, c)) {
				if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
					struct timespec ts;

					memcpy(&ts, CMSG_DATA(c), sizeof(ts));
					rx = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
				}
			}
			if (!rx)
				rx = now_ns(CLOCK_REALTIME);
			take_answer(r, s, bufs[i], mm[i].msg_len, rx);
		}
	} while (n == BATCH);
}

/* Wait for answers until @until_ns (CLOCK_MONOTONIC), reading all that arrive. */
static void poll_until(struct run *r, int64_t until_ns)
{
	struct pollfd pfd[MAX_SOCKETS];
	int64_t left = until_ns - now_ns(CLOCK_MONOTONIC);
	struct timespec ts;

	if (left < 0)
		left = 0;
	ts.tv_sec = left / 1000000000;
	ts.tv_nsec = left % 1000000000;
	for (int i = 0; i < r->fd_count; i++)
		pfd[i] = (struct pollfd){.fd = r->fd[i], .events = POLLIN};
	if (ppoll(pfd, (nfds_t)r->fd_count, &ts, NULL) <= 0)
		return;
	for (int i = 0; i < r->fd_count; i++)
		if (pfd[i].revents & POLLIN)
			receive(r, i);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static double pct_us(const struct run *r, double p)
{
	size_t i;

	if (!r->answered)
		return -1;
	i = (size_t)(p / 100.0 * (double)r->answered);
	if (i >= r->answered)
		i = r->answered - 1;
	return r->lat_ns[i] / 1000.0;
}

static void report(struct run *r, long rate, double elapsed_s)
{
	qsort(r->lat_ns, r->answered, sizeof(r->lat_ns[0]), cmp_u32);
	printf("rate %ld\nsent %llu\nanswered %llu\nlost %llu\nunexpected %llu\n", rate,
	       (unsigned long long)r->sent, (unsigned long long)r->answered,
	       (unsigned long long)r->lost, (unsigned long long)r->unexpected);
	printf("achieved_rate %.0f\n", elapsed_s > 0 ? (double)r->sent / elapsed_s : 0.0);
	printf("p50_us %.1f\np90_us %.1f\np99_us %.1f\np999_us %.1f\nmax_us %.1f\n",
	       pct_us(r, 50), pct_us(r, 90), pct_us(r, 99), pct_us(r, 99.9), pct_us(r, 100));
	printf("send_lag_max_us %.1f\nlate_sends %llu\nskipped %llu\n",
	       (double)r->lag_max_ns / 1000.0, (unsigned long long)r->late_sends,
	       (unsigned long long)r->skipped);
	printf("noerror %llu\nformerr %llu\nservfail %llu\nnxdomain %llu\nnotimp %llu\n"
	       "other_rcode %llu\n",
	       (unsigned long long)r->rcode[0], (unsigned long long)r->rcode[1],
	       (unsigned long long)r->rcode[2], (unsigned long long)r->rcode[3],
	       (unsigned long long)r->rcode[4], (unsigned long long)r->rcode[5]);
}

static void usage(void)
{
	fprintf(stderr, "usage: latency -s ADDR -p PORT -d FILE [-B] -Q RATE -l SECONDS "
			"[-t TIMEOUT_S] [-S SOCKETS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *addr = "127.0.0.1", *file = NULL;
	long port = 53, rate = 0, secs = 0, timeout = 2;
	int binary = 0, opt;
	struct run r = {.fd_count = 4};
	uint64_t total, seq = 0;
	int64_t start, end, deadline, send_end;

	while ((opt = getopt(argc, argv, "s:p:d:BQ:l:t:S:")) != -1) {
		switch (opt) {
		case 's': addr = optarg; break;
		case 'p': port = num_arg(optarg, 1, 65535, "-p"); break;
		case 'd': file = optarg; break;
		case 'B': binary = 1; break;
		case 'Q': rate = num_arg(optarg, 1, 1000000, "-Q"); break;
		case 'l': secs = num_arg(optarg, 1, 3600, "-l"); break;
		case 't': timeout = num_arg(optarg, 1, 4, "-t"); break;
		case 'S': r.fd_count = (int)num_arg(optarg, 1, MAX_SOCKETS, "-S"); break;
		default: usage();
		}
	}
	if (!file || !rate || !secs)
		usage();
	/* An ID comes round again after fd_count * 65536 queries: that must outlast the timeout. */
	while (r.fd_count < MAX_SOCKETS && (double)r.fd_count * 65536 / (double)rate < timeout + 1)
		r.fd_count++;
	total = (uint64_t)rate * (uint64_t)secs;
	r.timeout_ns = (int64_t)timeout * 1000000000;
	r.slots = calloc((size_t)r.fd_count * 65536, sizeof(*r.slots));
	r.lat_ns = malloc(total * sizeof(*r.lat_ns));
	if (!r.slots || !r.lat_ns || load(&r, file, binary) < 0 ||
	    open_sockets(&r, addr, (int)port) < 0)
		return 1;
	start = now_ns(CLOCK_MONOTONIC);
	send_end = start;
	while (seq < total) {
		int64_t now = now_ns(CLOCK_MONOTONIC);
		uint64_t due = (uint64_t)((double)(now - start) * (double)rate / 1e9) + 1;
		uint64_t burst_max = (uint64_t)rate / 100 + 1;

		if (due > total)
			due = total;
		/*
		 * Open loop: every query due by now goes out, each stamped at its own send. When
		 * the client itself was not scheduled for more than 10 ms, the queries it missed
		 * are skipped, not sent as one burst that would queue at the server.
		 */
		if (due > seq + burst_max) {
			r.skipped += due - burst_max - seq;
			seq = due - burst_max;
		}
		for (; seq < due; seq++) {
			int64_t sched = start + (int64_t)((double)seq * 1e9 / (double)rate);

			send_one(&r, r.sent, now_ns(CLOCK_MONOTONIC) - sched);
		}
		send_end = now_ns(CLOCK_MONOTONIC);
		poll_until(&r, start + (int64_t)((double)seq * 1e9 / (double)rate));
	}
	end = send_end;
	deadline = now_ns(CLOCK_MONOTONIC) + r.timeout_ns;
	while (now_ns(CLOCK_MONOTONIC) < deadline && r.answered + r.lost < r.sent)
		poll_until(&r, deadline);
	for (size_t i = 0; i < (size_t)r.fd_count * 65536; i++)
		if (r.slots[i].sent_ns)
			r.lost++;
	report(&r, rate, (double)(end - start) / 1e9);
	return 0;
}
