/* SPDX-License-Identifier: MIT */
/*
 * The keys for serving policy zones onward: allow-transfer, notify, transfer-key-file per
 * zone, the journal and transfer caps under policy; defaults and errors with file:line.
 */
#include <string.h>

#include "conf/config.h"
#include "core/err.h"
#include "test.h"

static void test_defaults_and_keys(void)
{
	static const char yaml[] = "policy:\n"
				   "  journal-versions: 5\n"
				   "  journal-max-size: 1MiB\n"
				   "  transfers-out-max: 4\n"
				   "  transfers-out-per-client: 1\n"
				   "  zones:\n"
				   "    - name: c2.rpz.example\n"
				   "      file: /etc/c2wall/c2.rpz\n"
				   "      allow-transfer: [192.0.2.0/24, \"2001:db8::1\"]\n"
				   "      notify: [192.0.2.7, \"192.0.2.8@5353\"]\n"
				   "      transfer-key-file: /etc/c2wall/xfr.key\n"
				   "    - name: plain.example\n"
				   "      file: /etc/c2wall/plain.rpz\n";
	struct c2w_config *cfg = NULL;
	char err[512] = "";
	CHECK_EQ(conf_load_buffer(yaml, strlen(yaml), "c.yaml", &cfg, err, sizeof(err)), C2W_OK);
	if (cfg == NULL) {
		fprintf(stderr, "%s\n", err);
		return;
	}
	CHECK_EQ(cfg->policy.journal_versions, 5);
	CHECK_EQ(cfg->policy.journal_max_bytes, 1024 * 1024);
	CHECK_EQ(cfg->policy.transfers_out_max, 4);
	CHECK_EQ(cfg->policy.transfers_out_per_client, 1);
	const struct conf_policy_zone *z = &cfg->policy.zones[0];
	CHECK_EQ(z->allow_transfer_count, 2);
	CHECK_EQ(z->allow_transfer[0].bits, 24);
	CHECK_EQ(z->allow_transfer[1].bits, 128);
	CHECK_EQ(z->notify_count, 2);
	CHECK_STREQ(z->notify[0].text, "192.0.2.7@53");
	CHECK_STREQ(z->notify[1].text, "192.0.2.8@5353");
	CHECK_STREQ(z->transfer_key_file, "/etc/c2wall/xfr.key");
	CHECK_EQ(cfg->policy.zones[1].allow_transfer_count, 0);
	conf_free(cfg);

	static const char dflt[] = "policy:\n  zones:\n    - name: a.example\n      file: /a\n";
	CHECK_EQ(conf_load_buffer(dflt, strlen(dflt), "c.yaml", &cfg, err, sizeof(err)), C2W_OK);
	if (cfg != NULL) {
		CHECK_EQ(cfg->policy.journal_versions, 20);
		CHECK_EQ(cfg->policy.journal_max_bytes, 64ull * 1024 * 1024);
		CHECK_EQ(cfg->policy.transfers_out_max, 16);
		CHECK_EQ(cfg->policy.transfers_out_per_client, 2);
	}
	conf_free(cfg);
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

static void test_errors(void)
{
	expect_error("policy:\n  zones:\n    - name: a.example\n      file: /a\n"
		     "      notify: [192.0.2.1]\n",
		     "c.yaml:5: policy.zones[0].notify: only for a zone with 'allow-transfer'");
	expect_error("policy:\n  zones:\n    - name: a.example\n      file: /a\n"
		     "      transfer-key-file: /k\n",
		     "c.yaml:5: policy.zones[0].transfer-key-file: only for a zone with "
		     "'allow-transfer'");
	expect_error("policy:\n  zones:\n    - name: a.example\n      file: /a\n"
		     "      allow-transfer: [192.0.2.0/33]\n",
		     "c.yaml:5:");
	expect_error("policy:\n  transfers-out-max: 0\n", "c.yaml:2:");
	expect_error("policy:\n  journal-versions: 100000\n", "c.yaml:2:");
}

TEST_MAIN(TEST(test_defaults_and_keys), TEST(test_errors))
