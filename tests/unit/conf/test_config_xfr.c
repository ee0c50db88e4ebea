/* SPDX-License-Identifier: MIT */
/*
 * The zone-transfer keys of policy zones: defaults, every key, the derived copy path, and the
 * errors (file or primaries, transfer keys on a file zone, clamps the wrong way round).
 */
#include <string.h>

#include "conf/config.h"
#include "core/err.h"
#include "test.h"

static struct c2w_config *load_ok(const char *yaml)
{
	struct c2w_config *cfg = NULL;
	char err[512] = "";
	int ret = conf_load_buffer(yaml, strlen(yaml), "/etc/c2wall/c2wall.yaml", &cfg, err,
				   sizeof(err));
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
	struct c2w_config *cfg = load_ok("policy:\n  zones:\n    - name: c2.feed.example\n"
					 "      primaries: [192.0.2.1, \"192.0.2.2@5353\"]\n");
	if (cfg == NULL)
		return;
	const struct conf_policy_zone *z = &cfg->policy.zones[0];
	CHECK_EQ(z->primary_count, 2);
	CHECK_STREQ(z->primaries[0].text, "192.0.2.1@53");
	CHECK_STREQ(z->primaries[1].text, "192.0.2.2@5353");
	CHECK_STREQ(z->file, "/var/lib/c2wall/zones/c2.feed.example.zone");
	CHECK(z->tsig_key_file == NULL);
	CHECK_EQ(z->refresh_min_s, 60);
	CHECK_EQ(z->refresh_max_s, 86400);
	CHECK_EQ(z->retry_min_s, 10);
	CHECK_EQ(z->retry_max_s, 3600);
	CHECK_EQ(z->notify_interval_s, 5);
	CHECK_EQ(z->xfr_timeout_ms, 120000);
	CHECK_EQ(z->xfr_max_bytes, 256u << 20);
	CHECK_EQ(z->on_expire, CONF_ON_EXPIRE_DROP);
	conf_free(cfg);
}

static void test_every_key(void)
{
	struct c2w_config *cfg = load_ok("policy:\n"
					 "  zones:\n"
					 "    - name: c2.feed.example\n"
					 "      primaries: [\"::1@53\"]\n"
					 "      tsig-key-file: keys/feed.key\n"
					 "      refresh-min: 5s\n"
					 "      refresh-max: 10m\n"
					 "      retry-min: 2s\n"
					 "      retry-max: 1m\n"
					 "      notify-interval: 0s\n"
					 "      transfer-timeout: 30s\n"
					 "      transfer-max-size: 1MiB\n"
					 "      on-expire: keep\n"
					 "    - name: b.example\n"
					 "      primaries: [192.0.2.9]\n"
					 "      file: copies/b.zone\n"
					 "  state-dir: /srv/zones\n");
	if (cfg == NULL)
		return;
	const struct conf_policy_zone *z = &cfg->policy.zones[0];
	CHECK_STREQ(z->tsig_key_file, "/etc/c2wall/keys/feed.key");
	CHECK_EQ(z->refresh_min_s, 5);
	CHECK_EQ(z->refresh_max_s, 600);
	CHECK_EQ(z->retry_min_s, 2);
	CHECK_EQ(z->retry_max_s, 60);
	CHECK_EQ(z->notify_interval_s, 0);
	CHECK_EQ(z->xfr_timeout_ms, 30000);
	CHECK_EQ(z->xfr_max_bytes, 1u << 20);
	CHECK_EQ(z->on_expire, CONF_ON_EXPIRE_KEEP);
	/* state-dir comes after the zones in the file and still applies to them. */
	CHECK_STREQ(z->file, "/srv/zones/c2.feed.example.zone");
	CHECK_STREQ(cfg->policy.zones[1].file, "/etc/c2wall/copies/b.zone");
	conf_free(cfg);
}

static void test_errors(void)
{
	expect_error("policy:\n  zones:\n    - name: a.example\n",
		     "c.yaml:3: policy.zones[0]: a zone needs 'file', 'primaries' or 'url'");
	expect_error("policy:\n  zones:\n    - name: a.example\n      file: a\n"
		     "      on-expire: keep\n",
		     "c.yaml:5: policy.zones[0].on-expire: only for a zone with 'primaries'");
	expect_error("policy:\n  zones:\n    - name: a.example\n      file: a\n"
		     "      tsig-key-file: k\n",
		     "c.yaml:5: policy.zones[0].tsig-key-file: only for a zone with 'primaries'");
	expect_error("policy:\n  zones:\n    - name: a.example\n      primaries: [192.0.2.1]\n"
		     "      refresh-min: 2h\n      refresh-max: 1h\n",
		     "c.yaml:5: policy.zones[0]: refresh-min exceeds refresh-max");
	expect_error("policy:\n  zones:\n    - name: a.example\n      primaries: [192.0.2.1]\n"
		     "      retry-min: 2h\n      retry-max: 1h\n",
		     "c.yaml:5: policy.zones[0]: retry-min exceeds retry-max");
	expect_error("policy:\n  zones:\n    - name: a.example\n      primaries: [192.0.2.1]\n"
		     "      format: hosts\n",
		     "c.yaml:5: policy.zones[0]: a transferred zone is RPZ");
	expect_error("policy:\n  zones:\n    - name: a.example\n      primaries: [192.0.2.1]\n"
		     "      on-expire: never\n",
		     "c.yaml:5: policy.zones[0].on-expire: 'never' is not one of drop, keep");
	expect_error("policy:\n  zones:\n    - name: a.example\n      primaries: [nowhere]\n",
		     "c.yaml:4: policy.zones[0].primaries: 'nowhere' is not a valid address");
	expect_error("policy:\n  zones:\n    - name: a.example\n      primaries: [192.0.2.1]\n"
		     "      refresh-min: 0s\n",
		     "c.yaml:5: policy.zones[0].refresh-min: '0s' is out of range");
	expect_error("policy:\n  zones:\n    - name: a.example\n      primaries: [192.0.2.1]\n"
		     "      transfer-max-size: 10\n",
		     "c.yaml:5: policy.zones[0].transfer-max-size:");
}

TEST_MAIN(TEST(test_defaults), TEST(test_every_key), TEST(test_errors))
