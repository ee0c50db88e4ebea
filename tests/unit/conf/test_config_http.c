/* SPDX-License-Identifier: MIT */
/*
 * The HTTP(S) feed keys of policy zones (url:): defaults, every key, the derived copy path,
 * and the errors (bad URLs, HTTP keys on other zones, transfer-only keys on an HTTP zone).
 */
#include <string.h>

#include "conf/config.h"
#include "core/err.h"
#include "test.h"

static struct c2w_config *load_ok(const char *yaml)
{
	struct c2w_config *cfg = NULL;
	char err[512] = "";
	int ret =
	    conf_load_buffer(yaml, strlen(yaml), "/etc/c2wall/c2wall.yaml", &cfg, err, sizeof(err));
	if (ret != C2W_OK)
		fprintf(stderr, "unexpected error: %s\n", err);
	CHECK_EQ(ret, C2W_OK);
	return cfg;
}

static void expect_error(const char *yaml, const char *want)
{
	struct c2w_config *cfg = NULL;
	char err[512] = "";
	CHECK_EQ(conf_load_buffer(yaml, strlen(yaml), "c.yaml", &cfg, err, sizeof(err)),
		 C2W_ECONFIG);
	if (strstr(err, want) == NULL)
		fprintf(stderr, "error '%s' lacks '%s'\n", err, want);
	CHECK(strstr(err, want) != NULL);
	conf_free(cfg);
}

static void test_defaults(void)
{
	struct c2w_config *cfg = load_ok("policy:\n  zones:\n    - name: h.feed.example\n"
					 "      url: https://feeds.example.net/h.txt\n"
					 "      format: hosts\n");
	if (cfg == NULL)
		return;
	const struct conf_policy_zone *z = &cfg->policy.zones[0];
	CHECK_STREQ(z->url, "https://feeds.example.net/h.txt");
	CHECK_EQ(z->format, CONF_ZONE_HOSTS);
	CHECK_STREQ(z->file, "/var/lib/c2wall/zones/h.feed.example.feed");
	CHECK(z->ca_file == NULL);
	CHECK_EQ(z->refresh_s, 600);
	CHECK_EQ(z->expire_s, 7 * 86400);
	CHECK_EQ(z->retry_min_s, 10);
	CHECK_EQ(z->retry_max_s, 3600);
	CHECK_EQ(z->xfr_timeout_ms, 120000);
	CHECK_EQ(z->xfr_max_bytes, 256u << 20);
	CHECK_EQ(z->low_speed_bytes, 1024);
	CHECK_EQ(z->low_speed_s, 30);
	CHECK_EQ(z->on_expire, CONF_ON_EXPIRE_DROP);
	CHECK_EQ(z->primary_count, 0);
	conf_free(cfg);
}

static void test_every_key(void)
{
	struct c2w_config *cfg = load_ok("policy:\n"
					 "  zones:\n"
					 "    - name: d.feed.example\n"
					 "      url: http://127.0.0.1:8080/list\n"
					 "      format: domains\n"
					 "      file: copies/d.txt\n"
					 "      ca-file: ca.pem\n"
					 "      refresh: 30s\n"
					 "      expire: 2h\n"
					 "      retry-min: 2s\n"
					 "      retry-max: 1m\n"
					 "      transfer-timeout: 5s\n"
					 "      transfer-max-size: 1MiB\n"
					 "      low-speed-limit: 100\n"
					 "      low-speed-time: 0s\n"
					 "      on-expire: keep\n");
	if (cfg == NULL)
		return;
	const struct conf_policy_zone *z = &cfg->policy.zones[0];
	CHECK_STREQ(z->file, "/etc/c2wall/copies/d.txt");
	CHECK_STREQ(z->ca_file, "/etc/c2wall/ca.pem");
	CHECK_EQ(z->refresh_s, 30);
	CHECK_EQ(z->expire_s, 7200);
	CHECK_EQ(z->retry_min_s, 2);
	CHECK_EQ(z->retry_max_s, 60);
	CHECK_EQ(z->xfr_timeout_ms, 5000);
	CHECK_EQ(z->xfr_max_bytes, 1u << 20);
	CHECK_EQ(z->low_speed_bytes, 100);
	CHECK_EQ(z->low_speed_s, 0);
	CHECK_EQ(z->on_expire, CONF_ON_EXPIRE_KEEP);
	conf_free(cfg);
}

static void test_errors(void)
{
	expect_error("policy:\n  zones:\n    - name: a.example\n      url: ftp://x.example/l\n",
		     "c.yaml:4: policy.zones[0].url: 'ftp://x.example/l' is not an http:// or "
		     "https:// URL");
	expect_error("policy:\n  zones:\n    - name: a.example\n      url: file:///etc/passwd\n",
		     "c.yaml:4: policy.zones[0].url:");
	expect_error("policy:\n  zones:\n    - name: a.example\n      url: \"http://a b/\"\n",
		     "c.yaml:4: policy.zones[0].url:");
	expect_error("policy:\n  zones:\n    - name: a.example\n      file: a\n      refresh: 1m\n",
		     "c.yaml:5: policy.zones[0].refresh: only for a zone with 'url'");
	expect_error("policy:\n  zones:\n    - name: a.example\n      primaries: [192.0.2.1]\n"
		     "      ca-file: ca.pem\n",
		     "c.yaml:5: policy.zones[0].ca-file: only for a zone with 'url'");
	expect_error("policy:\n  zones:\n    - name: a.example\n      url: https://x.example/l\n"
		     "      primaries: [192.0.2.1]\n",
		     "c.yaml:5: policy.zones[0].primaries: not for a zone with 'url'");
	expect_error("policy:\n  zones:\n    - name: a.example\n      url: https://x.example/l\n"
		     "      tsig-key-file: k\n",
		     "c.yaml:5: policy.zones[0].tsig-key-file: not for a zone with 'url'");
	expect_error("policy:\n  zones:\n    - name: a.example\n      url: https://x.example/l\n"
		     "      allow-include: true\n",
		     "c.yaml:5: policy.zones[0].allow-include: an HTTP feed cannot $INCLUDE");
	expect_error("policy:\n  zones:\n    - name: a.example\n      url: https://x.example/l\n"
		     "      refresh: 0s\n",
		     "c.yaml:5: policy.zones[0].refresh: '0s' is out of range");
	expect_error("policy:\n  zones:\n    - name: a.example\n      url: https://x.example/l\n"
		     "      retry-min: 2h\n      retry-max: 1h\n",
		     "c.yaml:5: policy.zones[0]: retry-min exceeds retry-max");
}

TEST_MAIN(TEST(test_defaults), TEST(test_every_key), TEST(test_errors))
