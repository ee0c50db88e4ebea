/* SPDX-License-Identifier: MIT */
/*
 * The config loader under allocation failure: fail the Nth allocation (ours and libyaml's)
 * for N = 1, 2, ... until a load completes, and check every run returns C2W_OK or
 * C2W_ENOMEM, frees what it allocated, and never crashes. Uses glibc's documented malloc
 * replacement, so it runs in plain builds; under ASan/TSan (which own malloc) it only loads.
 */
#include <stdbool.h>
#include <stddef.h>

#include "conf/config.h"
#include "core/err.h"
#include "failmalloc.h"
#include "test.h"

static const char yaml[] =
    "server:\n"
    "  listen: [\"192.0.2.1@5353\", \"::1\", 10.0.0.1, 10.0.0.2, 10.0.0.3]\n"
    "  allow: [10.0.0.0/8, \"2001:db8::/32\", 192.0.2.7, 192.0.2.8, 1.0.0.0/8]\n"
    "  user: c2wall\n"
    "resolver:\n"
    "  mode: forward\n"
    "  forward: [192.0.2.53]\n"
    "  stub:\n"
    "    - {zone: a.example, addr: [10.0.0.1]}\n"
    "    - {zone: b.example, addr: [10.0.0.2]}\n"
    "policy:\n"
    "  zones:\n"
    "    - {name: c2.rpz.example, file: feeds/c2.rpz, family: x}\n"
    "    - {name: h.example, file: h, policy: cname w.example}\n"
    "  never-block: [a.jp, b.jp, c.jp, d.jp, e.jp, f.jp]\n"
    "  never-block-file: nb.txt\n"
    "events:\n"
    "  jsonl: var/hits.jsonl\n"
    "  dnstap: file:var/tap\n"
    "privacy: {key-file: k, optout-file: o}\n"
    "store: {sqlite: s.db}\n"
    "control: {socket: c.sock}\n"
    "sinkhole: {ipv4: 127.0.0.2, ipv6: \"::1\", tcp: [\"127.0.0.2@6667\"],"
    " templates: t}\n";

/* A config that fails late, after most allocations: the error path must free them too. */
static const char bad_yaml[] = "server:\n  listen: [127.0.0.1, \"::1\"]\n"
			       "policy:\n  zones:\n    - {name: a.example, file: a}\n"
			       "  never-block: [a.jp, b.jp]\n"
			       "log:\n  level: loud\n";

static void run_oom(const char *text, int final_ret)
{
	unsigned long n;
	char err[256];
	for (n = 0; n < 100000; n++) {
		struct c2w_config *cfg = NULL;
		arm(n);
		int ret = conf_load_buffer(text, strlen(text), "/nonexistent/c2wall.yaml", &cfg,
					   err, sizeof(err));
		conf_free(cfg);
		disarm();
#ifndef OOM_SANITIZED
		CHECK_EQ(g_live, 0);
		if (g_live != 0)
			fprintf(stderr, "  leak of %ld blocks when allocation %lu fails\n", g_live,
				n + 1);
		if (!g_injected) {
			CHECK_EQ(ret, final_ret);
			break;
		}
		CHECK(ret == C2W_ENOMEM || ret == final_ret);
		if (ret == C2W_ENOMEM)
			CHECK(strstr(err, "out of memory") != NULL);
#else
		CHECK_EQ(ret, final_ret);
		break;
#endif
	}
	CHECK(n < 100000);
	printf("%s: %lu allocation failure points\n", final_ret == C2W_OK ? "good" : "bad", n);
}

static void test_oom_good(void)
{
	run_oom(yaml, C2W_OK);
}

static void test_oom_bad(void)
{
	run_oom(bad_yaml, C2W_ECONFIG);
}

TEST_MAIN(TEST(test_oom_good), TEST(test_oom_bad))
