/* SPDX-License-Identifier: MIT */
/*
 * The sinkhole under allocation failure: fail the Nth allocation (ours, libevent's) for
 * N = 0, 1, ... until setup completes. Every run returns C2W_OK or C2W_ENOMEM, never crashes;
 * the page loader frees everything it allocated. glibc's malloc replacement, so it runs in
 * plain builds; under ASan/TSan (which own malloc) it only runs each setup once.
 */
#include <event2/event.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <unistd.h>

#include "failmalloc.h"
#include "sinkhole/page.h"
#include "sinkhole/sinkhole.h"
#include "test.h"

static char dir[] = "/tmp/c2w-sinkhole-oom-XXXXXX";

static void write_file(const char *name, const char *body)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	fputs(body, f);
	fclose(f);
}

static void test_page_oom(void)
{
	static const char *const steps[] = {"one", "two"};
	struct sinkhole_text text[SINKHOLE_LANG_COUNT] = {
	    [SINKHOLE_LANG_EN] = {.steps = steps, .step_count = 2, .contact = "desk"}};
	unsigned long n;
	for (n = 0; n < 10000; n++) {
		struct sinkhole_page *pg = NULL;
		arm(n);
		int ret = sinkhole_page_new(dir, text, &pg);
		sinkhole_page_free(pg);
		bool injected = g_injected;
		long live = g_live;
		disarm();
		CHECK(ret == C2W_OK || ret == C2W_ENOMEM);
		CHECK_EQ(live, 0);
		if (ret == C2W_OK && !injected)
			break;
	}
	CHECK(n < 10000);
}

static void test_server_oom(void)
{
	struct sinkhole_addr a = {.len = sizeof(struct sockaddr_in)};
	struct sockaddr_in *sin = (struct sockaddr_in *)&a.ss;
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	struct sinkhole_spec spec = {.http = &a,
				     .http_count = 1,
				     .tls = &a,
				     .tls_count = 1,
				     .tcp = &a,
				     .tcp_count = 1,
				     .templates = dir};
	unsigned long n;
	for (n = 0; n < 10000; n++) {
		struct event_base *base = event_base_new();
		struct sinkhole_server *srv = NULL;
		arm(n);
		int ret = sinkhole_server_new(base, &spec, NULL, NULL, NULL, &srv);
		bool injected = g_injected;
		sinkhole_server_free(srv);
		disarm();
		event_base_free(base);
		CHECK(ret == C2W_OK || ret == C2W_ENOMEM);
		if (ret == C2W_OK && !injected)
			break;
	}
	CHECK(n < 10000);
}

int main(void)
{
	static const struct test_case cases[] = {TEST(test_page_oom), TEST(test_server_oom)};
	if (mkdtemp(dir) == NULL)
		return 1;
	write_file("text.ja.txt", "isp = 例\nstep = a\nstep = b\nlink = l | https://x.example/\n");
	write_file("page.en.html", "<p>{{isp}} {{domain}}{{#family}}({{family}}){{/family}}</p>");
	int ret = test_run(cases, sizeof(cases) / sizeof(cases[0]));
	char path[256];
	snprintf(path, sizeof(path), "%s/text.ja.txt", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/page.en.html", dir);
	unlink(path);
	rmdir(dir);
	return ret;
}
