/* SPDX-License-Identifier: MIT */
/*
 * The server through its public header, in process, on loopback port 0: the lookup and
 * evidence callbacks get what the contract promises, limits answer with the right status,
 * and setup errors come back as codes. The loop is pumped by hand between client steps.
 */
#include <arpa/inet.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sinkhole/sinkhole.h"
#include "test.h"

struct seen {
	int lookups, evidence;
	char lookup_host[300], host[300], method[40], path[64], ua[64], lang[4];
	uint16_t client_port_lookup, local_port;
	int status;
	bool blocked;
	char family[64];
	enum sinkhole_proto proto;
	size_t bytes_len;
	uint8_t bytes[64];
};

static bool lookup(const char *host, const struct sockaddr *client, struct sinkhole_info *out,
		   void *arg)
{
	struct seen *s = arg;
	s->lookups++;
	snprintf(s->lookup_host, sizeof(s->lookup_host), "%s", host);
	if (client->sa_family == AF_INET)
		s->client_port_lookup =
		    ntohs(((const struct sockaddr_in *)(const void *)client)->sin_port);
	if (strcmp(host, "evil.example") != 0)
		return false;
	snprintf(out->family, sizeof(out->family), "Qakbot");
	out->last_hit_s = 1735787045;
	return true;
}

static void evidence(const struct sinkhole_evidence *ev, void *arg)
{
	struct seen *s = arg;
	s->evidence++;
	s->proto = ev->proto;
	snprintf(s->host, sizeof(s->host), "%s", ev->host ? ev->host : "(null)");
	snprintf(s->method, sizeof(s->method), "%s", ev->method ? ev->method : "(null)");
	snprintf(s->path, sizeof(s->path), "%s", ev->path ? ev->path : "(null)");
	snprintf(s->ua, sizeof(s->ua), "%s", ev->user_agent ? ev->user_agent : "(null)");
	snprintf(s->lang, sizeof(s->lang), "%s", ev->lang ? ev->lang : "-");
	s->status = ev->http_status;
	s->blocked = ev->blocked;
	s->local_port = ev->local_port;
	snprintf(s->family, sizeof(s->family), "%s", ev->info ? ev->info->family : "");
	s->bytes_len = ev->bytes_len;
	memcpy(s->bytes, ev->bytes ? ev->bytes : (const uint8_t *)"",
	       ev->bytes_len < sizeof(s->bytes) ? ev->bytes_len : sizeof(s->bytes));
}

static struct sinkhole_addr loopback(uint16_t port)
{
	struct sinkhole_addr a = {.len = sizeof(struct sockaddr_in)};
	struct sockaddr_in *sin = (struct sockaddr_in *)&a.ss;
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static uint16_t port_of(const struct sinkhole_server *srv, enum sinkhole_proto p)
{
	struct sinkhole_addr a;
	if (sinkhole_server_addr(srv, p, 0, &a) != C2W_OK)
		return 0;
	return ntohs(((struct sockaddr_in *)&a.ss)->sin_port);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Send @req, pump the loop until the server closes or @wait_s passes; returns bytes read. */
static size_t exchange(struct event_base *base, uint16_t port, const char *req, size_t req_len,
		       char *out, size_t cap, double wait_s, bool *closed)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	if (req_len > 0)
		CHECK(send(fd, req, req_len, 0) == (ssize_t)req_len);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	size_t len = 0;
	*closed = false;
	for (double end = now_s() + wait_s; now_s() < end && !*closed;) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		ssize_t n = recv(fd, out + len, cap - 1 - len, 0);
		if (n > 0)
			len += (size_t)n;
		else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			*closed = true;
		else
			usleep(1000);
	}
	close(fd);
	for (int i = 0; i < 20; i++) /* let the server see our close */
		event_base_loop(base, EVLOOP_NONBLOCK);
	out[len] = '\0';
	return len;
}

struct fixture {
	struct event_base *base;
	struct sinkhole_server *srv;
	struct seen seen;
	uint16_t http, tls, tcp;
};

static void setup(struct fixture *f, unsigned timeout_ms, unsigned conn_max)
{
	memset(f, 0, sizeof(*f));
	struct sinkhole_addr h = loopback(0), t = loopback(0), p = loopback(0);
	struct sinkhole_spec spec = {.http = &h,
				     .http_count = 1,
				     .tls = &t,
				     .tls_count = 1,
				     .tcp = &p,
				     .tcp_count = 1,
				     .read_timeout_ms = timeout_ms,
				     .conn_max = conn_max,
				     .tcp_bytes = 16};
	f->base = event_base_new();
	CHECK_EQ(sinkhole_server_new(f->base, &spec, lookup, evidence, &f->seen, &f->srv), C2W_OK);
	f->http = port_of(f->srv, SINKHOLE_PROTO_HTTP);
	f->tls = port_of(f->srv, SINKHOLE_PROTO_TLS);
	f->tcp = port_of(f->srv, SINKHOLE_PROTO_TCP);
	CHECK(f->http != 0 && f->tls != 0 && f->tcp != 0);
}

static void teardown(struct fixture *f)
{
	sinkhole_server_free(f->srv);
	event_base_free(f->base);
}

static void test_http_callbacks(void)
{
	struct fixture f;
	setup(&f, 2000, 8);
	static char out[65536];
	bool closed;
	const char *req = "GET /gate.php?x=1 HTTP/1.1\r\nHost: EVIL.example.:80\r\n"
			  "User-Agent: unit/1\r\nAccept-Language: en\r\nConnection: close\r\n\r\n";
	size_t n = exchange(f.base, f.http, req, strlen(req), out, sizeof(out), 2.0, &closed);
	CHECK(n > 0 && closed);
	CHECK(strncmp(out, "HTTP/1.1 403 Forbidden\r\n", 24) == 0);
	CHECK(strstr(out, "Cache-Control: no-store\r\n") != NULL);
	CHECK(strstr(out, "Qakbot") != NULL);
	CHECK(strstr(out, "2 January 2025") != NULL || strstr(out, "1 January 2025") != NULL ||
	      strstr(out, "3 January 2025") != NULL); /* last_hit_s shown, local time zone */
	CHECK_EQ(f.seen.lookups, 1);
	CHECK_STREQ(f.seen.lookup_host, "evil.example");
	CHECK(f.seen.client_port_lookup != 0);
	CHECK_EQ(f.seen.evidence, 1);
	CHECK_EQ(f.seen.proto, SINKHOLE_PROTO_HTTP);
	CHECK_STREQ(f.seen.host, "evil.example");
	CHECK_STREQ(f.seen.method, "GET");
	CHECK_STREQ(f.seen.path, "/gate.php?x=1");
	CHECK_STREQ(f.seen.ua, "unit/1");
	CHECK_STREQ(f.seen.lang, "en");
	CHECK_STREQ(f.seen.family, "Qakbot");
	CHECK(f.seen.blocked);
	CHECK_EQ(f.seen.status, 403);
	CHECK_EQ(f.seen.local_port, f.http);
	struct sinkhole_stats st;
	sinkhole_server_stats(f.srv, &st);
	CHECK_EQ(st.http_pages, 1);
	CHECK_EQ(st.open, 0);
	teardown(&f);
}

static void test_http_errors(void)
{
	struct fixture f;
	setup(&f, 2000, 8);
	static char out[65536];
	bool closed;
	const char *bad = "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n";
	exchange(f.base, f.http, bad, strlen(bad), out, sizeof(out), 2.0, &closed);
	CHECK(strncmp(out, "HTTP/1.1 400 ", 13) == 0 && closed);
	CHECK_EQ(f.seen.status, 400);
	CHECK_EQ(f.seen.lookups, 0);
	static char big[12000];
	int n = snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: a\r\nX: ");
	memset(big + n, 'x', sizeof(big) - (size_t)n);
	exchange(f.base, f.http, big, sizeof(big), out, sizeof(out), 2.0, &closed);
	CHECK(strncmp(out, "HTTP/1.1 431 ", 13) == 0 && closed);
	struct sinkhole_stats st;
	sinkhole_server_stats(f.srv, &st);
	CHECK_EQ(st.http_errors, 2);
	teardown(&f);
}

static void test_timeout_and_cap(void)
{
	struct fixture f;
	setup(&f, 300, 1);
	static char out[1024];
	bool closed;
	/* a silent client is dropped after the deadline */
	double t0 = now_s();
	size_t n = exchange(f.base, f.http, "", 0, out, sizeof(out), 2.0, &closed);
	CHECK(n == 0 && closed);
	CHECK(now_s() - t0 >= 0.25);
	struct sinkhole_stats st;
	sinkhole_server_stats(f.srv, &st);
	CHECK_EQ(st.timeouts, 1);
	/* cap 1: hold one connection, the next is closed at once */
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(f.http)};
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int held = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(connect(held, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	for (int i = 0; i < 50; i++)
		event_base_loop(f.base, EVLOOP_NONBLOCK);
	n = exchange(f.base, f.http, "", 0, out, sizeof(out), 0.2, &closed);
	CHECK(n == 0 && closed);
	sinkhole_server_stats(f.srv, &st);
	CHECK_EQ(st.refused_cap, 1);
	close(held);
	teardown(&f);
}

static void test_tcp_and_tls(void)
{
	struct fixture f;
	setup(&f, 500, 8);
	static char out[64];
	bool closed;
	const char *irc = "NICK bot-123456789\r\nUSER x\r\n";
	exchange(f.base, f.tcp, irc, strlen(irc), out, sizeof(out), 2.0, &closed);
	CHECK(closed);
	CHECK_EQ(f.seen.proto, SINKHOLE_PROTO_TCP);
	CHECK_EQ(f.seen.bytes_len, 16); /* spec.tcp_bytes */
	CHECK(memcmp(f.seen.bytes, irc, 16) == 0);
	CHECK_EQ(f.seen.local_port, f.tcp);
	/* not TLS on the TLS port: recorded with its first bytes, closed at once */
	exchange(f.base, f.tls, "GET / HTTP/1.1\r\n", 16, out, sizeof(out), 2.0, &closed);
	CHECK(closed);
	CHECK_EQ(f.seen.proto, SINKHOLE_PROTO_TLS);
	CHECK_STREQ(f.seen.host, "(null)");
	CHECK(f.seen.bytes_len > 0);
	struct sinkhole_stats st;
	sinkhole_server_stats(f.srv, &st);
	CHECK_EQ(st.tls_bad, 1);
	CHECK_EQ(st.tcp_records, 1);
	teardown(&f);
}

static void test_setup_errors(void)
{
	struct event_base *base = event_base_new();
	struct sinkhole_server *srv = NULL;
	struct sinkhole_spec none = {0};
	CHECK_EQ(sinkhole_server_new(base, &none, NULL, NULL, NULL, &srv), C2W_EINVAL);
	struct sinkhole_addr a = loopback(0);
	struct sinkhole_link bad = {"tool", "https://x.example/cleaner.exe"};
	struct sinkhole_spec spec = {.http = &a, .http_count = 1};
	spec.text[SINKHOLE_LANG_EN] = (struct sinkhole_text){.links = &bad, .link_count = 1};
	CHECK_EQ(sinkhole_server_new(base, &spec, NULL, NULL, NULL, &srv), C2W_EINVAL);
	spec.text[SINKHOLE_LANG_EN] = (struct sinkhole_text){0};
	spec.header_max = 100;
	CHECK_EQ(sinkhole_server_new(base, &spec, NULL, NULL, NULL, &srv), C2W_EINVAL);
	spec.header_max = 0;
	/* the same port twice: the second bind fails with EADDRINUSE, nothing leaks */
	CHECK_EQ(sinkhole_server_new(base, &spec, NULL, NULL, NULL, &srv), C2W_OK);
	struct sinkhole_addr taken;
	CHECK_EQ(sinkhole_server_addr(srv, SINKHOLE_PROTO_HTTP, 0, &taken), C2W_OK);
	CHECK_EQ(sinkhole_server_addr(srv, SINKHOLE_PROTO_TLS, 0, &taken), C2W_ENOENT);
	CHECK_EQ(sinkhole_server_addr(srv, SINKHOLE_PROTO_HTTP, 0, &taken), C2W_OK);
	struct sinkhole_spec dup = {.http = &taken, .http_count = 1};
	struct sinkhole_server *srv2 = NULL;
	CHECK_EQ(sinkhole_server_new(base, &dup, NULL, NULL, NULL, &srv2), -EADDRINUSE);
	CHECK(srv2 == NULL);
	sinkhole_server_free(srv);
	sinkhole_server_free(NULL);
	event_base_free(base);
}

TEST_MAIN(TEST(test_http_callbacks), TEST(test_http_errors), TEST(test_timeout_and_cap),
	  TEST(test_tcp_and_tls), TEST(test_setup_errors))
