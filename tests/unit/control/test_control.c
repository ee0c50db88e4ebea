/* SPDX-License-Identifier: MIT */
/*
 * Control socket over a real unix socket: the server runs on a libevent base in this
 * thread, a client thread sends requests with control_client_call().
 */
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
#include <urcu.h>

#include "control/control.h"
#include "events/optout.h"
#include "test.h"

static char sock[96];
static struct event_base *base;

struct exchange {
	const char *req;
	char resp[4096];
	int ret;
};

static struct exchange ex[] = {
    {.req = "optout list"},
    {.req = "optout add 192.0.2.0/24"},
    {.req = "optout add 192.0.2.0/24"},
    {.req = "optout add 2001:db8::/32"},
    {.req = "optout list"},
    {.req = "optout remove 192.0.2.0/24"},
    {.req = "optout remove 192.0.2.0/24"},
    {.req = "optout add 192.0.2.1/24"},
    {.req = "optout"},
    {.req = "nosuch"},
    {.req = "echo a  b\tc"},
    {.req = "help"},
    {.req = "fail"},
    {.req = "   "},
};

static int echo_cb(void *arg, int argc, char **argv, struct control_reply *reply)
{
	(void)arg;
	control_reply_printf(reply, "%d", argc);
	for (int i = 1; i < argc; i++)
		control_reply_printf(reply, " [%s]", argv[i]);
	return C2W_OK;
}

static int fail_cb(void *arg, int argc, char **argv, struct control_reply *reply)
{
	(void)arg;
	(void)argc;
	(void)argv;
	(void)reply;
	return C2W_EFULL;
}

static void *client(void *arg)
{
	(void)arg;
	for (size_t i = 0; i < sizeof(ex) / sizeof(ex[0]); i++)
		ex[i].ret =
		    control_client_call(sock, ex[i].req, ex[i].resp, sizeof(ex[i].resp), 3000);
	event_base_loopbreak(base);
	return NULL;
}

/* A raw client: a line that is too long, then one with a control byte. */
static void *raw_client(void *arg)
{
	char *out = arg;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock);
	struct timeval tv = {5, 0}; /* never hang the test */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
		char big[CONTROL_LINE_MAX + 100];
		memset(big, 'x', sizeof(big));
		(void)!write(fd, big, sizeof(big));
		size_t got = 0;
		ssize_t n;
		while (got < 255 && (n = read(fd, out + got, 255 - got)) > 0)
			got += (size_t)n;
		out[got] = '\0';
	}
	close(fd);
	char resp[128];
	int ret = control_client_call(sock, "optout\x01list", resp, sizeof(resp), 3000);
	snprintf(out + 256, 256, "%d|%s", ret, resp);
	event_base_loopbreak(base);
	return NULL;
}

static void test_protocol(void)
{
	char dir[] = "/tmp/c2w-ctl-XXXXXX", optf[128], err[256];
	CHECK(mkdtemp(dir) != NULL);
	snprintf(sock, sizeof(sock), "%s/control.sock", dir);
	snprintf(optf, sizeof(optf), "%s/optout.txt", dir);
	base = event_base_new();
	struct events_optout *reg = NULL;
	CHECK_EQ(events_optout_open(optf, &reg, err, sizeof(err)), C2W_OK);
	struct control_server *srv = NULL;
	CHECK_EQ(control_server_new(base, sock, &srv), C2W_OK);
	if (srv == NULL)
		return;
	CHECK_EQ(control_optout_register(srv, reg), C2W_OK);
	CHECK_EQ(control_server_register(srv, "echo", echo_cb, NULL), C2W_OK);
	CHECK_EQ(control_server_register(srv, "fail", fail_cb, NULL), C2W_OK);
	CHECK_EQ(control_server_register(srv, "echo", echo_cb, NULL), C2W_EEXIST);
	CHECK_EQ(control_server_register(srv, "help", echo_cb, NULL), C2W_EEXIST);

	pthread_t t;
	pthread_create(&t, NULL, client, NULL);
	event_base_dispatch(base);
	pthread_join(t, NULL);
	for (size_t i = 0; i < sizeof(ex) / sizeof(ex[0]); i++)
		CHECK_EQ(ex[i].ret, C2W_OK);
	CHECK_STREQ(ex[0].resp, "[]");
	CHECK_STREQ(ex[1].resp, "ok");
	CHECK(strncmp(ex[2].resp, "error: ", 7) == 0 && strstr(ex[2].resp, "already"));
	CHECK_STREQ(ex[3].resp, "ok");
	CHECK_STREQ(ex[4].resp, "[\"192.0.2.0/24\",\"2001:db8::/32\"]");
	CHECK_STREQ(ex[5].resp, "ok");
	CHECK(strncmp(ex[6].resp, "error: ", 7) == 0);
	CHECK(strncmp(ex[7].resp, "error: not an address", 21) == 0);
	CHECK(strncmp(ex[8].resp, "error: usage", 12) == 0);
	CHECK(strncmp(ex[9].resp, "error: unknown command", 22) == 0);
	CHECK_STREQ(ex[10].resp, "4 [a] [b] [c]");
	CHECK(strstr(ex[11].resp, "\"optout\"") && strstr(ex[11].resp, "\"echo\""));
	CHECK_STREQ(ex[12].resp, "error: queue or table full");
	CHECK_STREQ(ex[13].resp, "error: malformed request");

	/* The change is in force and persisted. */
	struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
	inet_pton(AF_INET6, "2001:db8::1", &in6.sin6_addr);
	CHECK(events_optout_contains(reg, (struct sockaddr *)&in6));
	FILE *f = fopen(optf, "r");
	char buf[512] = "";
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	buf[n] = '\0';
	if (f)
		fclose(f);
	CHECK(strstr(buf, "2001:db8::/32") != NULL);
	CHECK(strstr(buf, "192.0.2.0/24") == NULL);

	char raw[512] = "";
	pthread_create(&t, NULL, raw_client, raw);
	event_base_dispatch(base);
	pthread_join(t, NULL);
	CHECK(strncmp(raw, "error: request too long", 23) == 0);
	CHECK_STREQ(raw + 256, "0|error: malformed request");

	control_server_free(srv);
	CHECK(access(sock, F_OK) != 0); /* unlinked */
	/* No daemon: the client says so with ENOENT. */
	char resp[64];
	CHECK_EQ(control_client_call(sock, "help", resp, sizeof(resp), 500), C2W_ENOENT);
	events_optout_free(reg);
	event_base_free(base);
	unlink(optf);
	rmdir(dir);
}

/* ---- answers given later ---- */

static struct control_pending *g_pending;
static int g_done_calls, g_done_ret;
static char g_done_text[256];

/* Defers when it can (finishing at once with "at once" as the argument), else answers now. */
static int later_cb(void *arg, int argc, char **argv, struct control_reply *reply)
{
	(void)arg;
	struct control_pending *p = control_reply_defer(reply);
	if (p == NULL) {
		control_reply_printf(reply, "now");
		return C2W_OK;
	}
	if (argc > 1 && strcmp(argv[1], "at-once") == 0) {
		control_pending_finish(p, C2W_EFULL, "finished within the call");
		return C2W_OK;
	}
	g_pending = p;
	return C2W_OK;
}

static void done_cb(void *arg, int ret, struct evbuffer *body, const char *err)
{
	(void)arg;
	g_done_calls++;
	g_done_ret = ret;
	size_t n = body != NULL ? evbuffer_get_length(body) : 0;
	if (ret != C2W_OK)
		snprintf(g_done_text, sizeof(g_done_text), "%s", err);
	else
		snprintf(g_done_text, sizeof(g_done_text), "%.*s", (int)n,
			 n ? (const char *)evbuffer_pullup(body, -1) : "");
}

static int call(struct control_server *srv, const char *word, const char *arg, char *out,
		size_t out_len, struct control_pending **p)
{
	char w[32], a[32];
	snprintf(w, sizeof(w), "%s", word);
	snprintf(a, sizeof(a), "%s", arg ? arg : "");
	char *argv[] = {w, a, NULL};
	struct evbuffer *body = evbuffer_new();
	char err[512] = "";
	int ret = p != NULL ? control_server_call_async(srv, arg ? 2 : 1, argv, body, err,
							sizeof(err), done_cb, NULL, p)
			    : control_server_call(srv, arg ? 2 : 1, argv, body, err, sizeof(err));
	size_t n = evbuffer_get_length(body);
	snprintf(out, out_len, "%s", ret != C2W_OK ? err : "");
	if (ret == C2W_OK)
		snprintf(out, out_len, "%.*s", (int)n, n ? (const char *)evbuffer_pullup(body, -1) : "");
	evbuffer_free(body);
	return ret;
}

static void finish_later(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	control_pending_finish(g_pending, C2W_OK, "later ok");
	g_pending = NULL;
}

/* One connection, two lines: the deferred answer comes first, then the next line's. */
static void *pipelined_client(void *arg)
{
	char *out = arg;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock);
	struct timeval tv = {5, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
		const char *req = "later\nlater at-once\n";
		(void)!write(fd, req, strlen(req));
		size_t got = 0;
		ssize_t n;
		while (got < 255 && (n = read(fd, out + got, 255 - got)) > 0) {
			got += (size_t)n;
			out[got] = '\0';
			char *first = strchr(out, '\n');
			if (first != NULL && strchr(first + 1, '\n') != NULL)
				break; /* both answers */
		}
	}
	close(fd);
	event_base_loopbreak(base);
	return NULL;
}

static void test_deferred(void)
{
	base = event_base_new();
	struct control_server *srv = NULL;
	CHECK_EQ(control_server_new(base, NULL, &srv), C2W_OK);
	if (srv == NULL)
		return;
	CHECK_EQ(control_server_register(srv, "later", later_cb, NULL), C2W_OK);
	char out[256];
	struct control_pending *p = NULL;

	/* A caller that cannot wait gets the answer now. */
	CHECK_EQ(call(srv, "later", NULL, out, sizeof(out), NULL), C2W_OK);
	CHECK_STREQ(out, "now");
	/* Deferred: nothing now, the answer through done_cb when finished. */
	CHECK_EQ(call(srv, "later", NULL, out, sizeof(out), &p), C2W_OK);
	CHECK(p != NULL && p == g_pending);
	CHECK_EQ(g_done_calls, 0);
	control_pending_finish(g_pending, C2W_OK, "it worked");
	CHECK_EQ(g_done_calls, 1);
	CHECK_EQ(g_done_ret, C2W_OK);
	CHECK_STREQ(g_done_text, "it worked");
	/* An error later. */
	CHECK_EQ(call(srv, "later", NULL, out, sizeof(out), &p), C2W_OK);
	control_pending_finish(g_pending, C2W_EINVAL, "refused, reason");
	CHECK_EQ(g_done_calls, 2);
	CHECK_EQ(g_done_ret, C2W_EINVAL);
	CHECK_STREQ(g_done_text, "refused, reason");
	/* Finished within the handler's call: the call's own answer, done_cb never runs. */
	CHECK_EQ(call(srv, "later", "at-once", out, sizeof(out), &p), C2W_EFULL);
	CHECK(p == NULL);
	CHECK_STREQ(out, "finished within the call");
	CHECK_EQ(g_done_calls, 2);
	/* The caller went away: the answer goes nowhere. */
	CHECK_EQ(call(srv, "later", NULL, out, sizeof(out), &p), C2W_OK);
	control_pending_orphan(p);
	control_pending_finish(g_pending, C2W_OK, "nobody");
	CHECK_EQ(g_done_calls, 2);
	control_server_free(srv);

	/* Over the socket: the next line on the connection waits for the deferred answer. */
	char dir[] = "/tmp/c2w-ctl-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	snprintf(sock, sizeof(sock), "%s/control.sock", dir);
	CHECK_EQ(control_server_new(base, sock, &srv), C2W_OK);
	if (srv == NULL)
		return;
	CHECK_EQ(control_server_register(srv, "later", later_cb, NULL), C2W_OK);
	g_pending = NULL;
	char resp[256] = "";
	pthread_t t;
	pthread_create(&t, NULL, pipelined_client, resp);
	struct event *tick = evtimer_new(base, finish_later, NULL);
	for (int i = 0; i < 200 && g_pending == NULL; i++) /* the first line is in */
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK), usleep(1000);
	CHECK(g_pending != NULL);
	struct timeval tv = {0, 50000};
	evtimer_add(tick, &tv);
	event_base_dispatch(base);
	pthread_join(t, NULL);
	CHECK_STREQ(resp, "later ok\nerror: finished within the call\n");
	event_free(tick);
	control_server_free(srv);
	event_base_free(base);
	rmdir(dir);
}

static void test_parse(void)
{
	char buf[64];
	char *argv[CONTROL_ARGS_MAX + 1];
	CHECK_EQ(control_request_parse("a b", 3, buf, sizeof(buf), argv), 2);
	CHECK_STREQ(argv[1], "b");
	CHECK(argv[2] == NULL);
	CHECK_EQ(control_request_parse("a b\r", 4, buf, sizeof(buf), argv), 2);
	CHECK_STREQ(argv[1], "b");
	CHECK_EQ(control_request_parse("", 0, buf, sizeof(buf), argv), C2W_EMALF);
	CHECK_EQ(control_request_parse("a\0b", 3, buf, sizeof(buf), argv), C2W_EMALF);
	CHECK_EQ(control_request_parse("a b c", 5, buf, 3, argv), C2W_ESPACE);
	CHECK_EQ(control_request_parse("1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16", 38, buf,
				       sizeof(buf), argv),
		 16);
	CHECK_EQ(control_request_parse("1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17", 41, buf,
				       sizeof(buf), argv),
		 C2W_EMALF);
}

int main(void)
{
	static const struct test_case cases[] = {TEST(test_parse), TEST(test_protocol),
						 TEST(test_deferred)};
	rcu_register_thread();
	evthread_use_pthreads(); /* the client threads break the loop */
	int ret = test_run(cases, sizeof(cases) / sizeof(cases[0]));
	rcu_unregister_thread();
	return ret;
}
