/* SPDX-License-Identifier: MIT */
/*
 * The rate-limit: and cookies: sections of the config: defaults, every key, BIND's rule that
 * the per-kind rates follow responses-per-second, range and type errors with their line,
 * and cookies.cookie-secret-file (one or two secrets; bad files rejected with the key's line).
 */
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/config.h"
#include "core/err.h"
#include "test.h"

static char g_dir[PATH_MAX];
static char g_path[PATH_MAX + 32];

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");
	CHECK(f != NULL);
	if (f == NULL)
		return;
	fputs(text, f);
	fclose(f);
}

static struct c2w_config *load(const char *yaml, char *err, size_t err_len)
{
	struct c2w_config *cfg = NULL;
	write_file(g_path, yaml);
	err[0] = '\0';
	if (conf_load(g_path, &cfg, err, err_len) != C2W_OK)
		return NULL;
	return cfg;
}

/* Rejected, with "<path>:<line>: " in front and @needle in the message. */
static void expect_error(const char *yaml, unsigned line, const char *needle)
{
	char err[512], prefix[PATH_MAX + 64];
	struct c2w_config *cfg = load(yaml, err, sizeof(err));
	snprintf(prefix, sizeof(prefix), "%s:%u: ", g_path, line);
	bool ok = cfg == NULL && strncmp(err, prefix, strlen(prefix)) == 0 &&
		  strstr(err, needle) != NULL;
	CHECK(ok);
	if (!ok)
		fprintf(stderr, "wanted line %u and \"%s\"; got \"%s\"\n", line, needle, err);
	conf_free(cfg);
}

static void test_setup(void)
{
	char tmpl[] = "/tmp/c2w-conf-rl-XXXXXX";
	CHECK(mkdtemp(tmpl) != NULL);
	CHECK(realpath(tmpl, g_dir) != NULL);
	snprintf(g_path, sizeof(g_path), "%s/c2wall.yaml", g_dir);
}

static void test_defaults(void)
{
	char err[512];
	struct c2w_config *cfg = load("", err, sizeof(err));
	CHECK(cfg != NULL);
	if (cfg == NULL)
		return;
	const struct conf_rate_limit *r = &cfg->rate_limit;
	CHECK_EQ(r->responses_per_second + r->nxdomains_per_second + r->nodata_per_second +
		     r->errors_per_second + r->queries_per_second,
		 0);
	CHECK_EQ(r->window_s, 15);
	CHECK_EQ(r->slip, 2);
	CHECK_EQ(r->ipv4_prefix_length, 24);
	CHECK_EQ(r->ipv6_prefix_length, 56);
	CHECK_EQ(r->exempt_client_count, 0);
	CHECK(!r->log_only);
	CHECK_EQ(r->table_size, 65536);
	CHECK_EQ(r->query_action, CONF_QUERY_DROP);
	CHECK_EQ(r->query_ipv4_prefix_length, 32);
	CHECK_EQ(r->query_ipv6_prefix_length, 56);
	CHECK(!r->query_cookie_exempt);
	CHECK(cfg->cookies.enable);
	CHECK(cfg->cookies.secret_file == NULL);
	CHECK_EQ(cfg->cookies.secret_count, 0);
	conf_free(cfg);
}

static void test_every_key(void)
{
	char err[512], secret[PATH_MAX + 32];
	snprintf(secret, sizeof(secret), "%s/cookie.key", g_dir);
	write_file(secret, "00112233445566778899aabbccddeeff\n  FFEEDDCCBBAA99887766554433221100 \n");
	struct c2w_config *cfg = load("rate-limit:\n"
				      "  responses-per-second: 10\n"
				      "  nxdomains-per-second: 3\n"
				      "  nodata-per-second: 4\n"
				      "  errors-per-second: 5\n"
				      "  window: 20s\n"
				      "  slip: 3\n"
				      "  ipv4-prefix-length: 32\n"
				      "  ipv6-prefix-length: 64\n"
				      "  exempt-clients: [192.0.2.0/24, '2001:db8::/32']\n"
				      "  log-only: true\n"
				      "  table-size: 1000\n"
				      "  queries-per-second: 100\n"
				      "  query-burst: 300\n"
				      "  query-action: refuse\n"
				      "  query-ipv4-prefix-length: 28\n"
				      "  query-ipv6-prefix-length: 48\n"
				      "  query-cookie-exempt: yes\n"
				      "cookies:\n"
				      "  enable: false\n"
				      "  cookie-secret-file: cookie.key\n",
				      err, sizeof(err));
	CHECK(cfg != NULL);
	if (cfg == NULL) {
		fprintf(stderr, "%s\n", err);
		return;
	}
	const struct conf_rate_limit *r = &cfg->rate_limit;
	CHECK_EQ(r->responses_per_second, 10);
	CHECK_EQ(r->nxdomains_per_second, 3);
	CHECK_EQ(r->nodata_per_second, 4);
	CHECK_EQ(r->errors_per_second, 5);
	CHECK_EQ(r->window_s, 20);
	CHECK_EQ(r->slip, 3);
	CHECK_EQ(r->ipv4_prefix_length, 32);
	CHECK_EQ(r->ipv6_prefix_length, 64);
	CHECK_EQ(r->exempt_client_count, 2);
	CHECK(r->log_only);
	CHECK_EQ(r->table_size, 1000);
	CHECK_EQ(r->queries_per_second, 100);
	CHECK_EQ(r->query_burst, 300);
	CHECK_EQ(r->query_action, CONF_QUERY_REFUSE);
	CHECK_EQ(r->query_ipv4_prefix_length, 28);
	CHECK_EQ(r->query_ipv6_prefix_length, 48);
	CHECK(r->query_cookie_exempt);
	CHECK(!cfg->cookies.enable);
	CHECK_STREQ(cfg->cookies.secret_file, secret);
	CHECK_EQ(cfg->cookies.secret_count, 2);
	CHECK_EQ(cfg->cookies.secret[0][0], 0x00);
	CHECK_EQ(cfg->cookies.secret[0][15], 0xff);
	CHECK_EQ(cfg->cookies.secret[1][0], 0xff);
	CHECK_EQ(cfg->cookies.secret[1][15], 0x00);
	conf_free(cfg);
}

/* BIND: rates not given follow responses-per-second; the burst follows the query rate. */
static void test_followers(void)
{
	char err[512];
	struct c2w_config *cfg = load("rate-limit:\n"
				      "  responses-per-second: 7\n"
				      "  errors-per-second: 0\n"
				      "  queries-per-second: 50\n",
				      err, sizeof(err));
	CHECK(cfg != NULL);
	if (cfg == NULL)
		return;
	CHECK_EQ(cfg->rate_limit.nxdomains_per_second, 7);
	CHECK_EQ(cfg->rate_limit.nodata_per_second, 7);
	CHECK_EQ(cfg->rate_limit.errors_per_second, 0);
	CHECK_EQ(cfg->rate_limit.query_burst, 50);
	conf_free(cfg);
}

static void test_errors(void)
{
	expect_error("rate-limit:\n  slip: 11\n", 2, "rate-limit.slip");
	expect_error("rate-limit:\n  window: 0s\n", 2, "rate-limit.window");
	expect_error("rate-limit:\n  window: 2h\n", 2, "rate-limit.window");
	expect_error("rate-limit:\n  ipv4-prefix-length: 33\n", 2, "ipv4-prefix-length");
	expect_error("rate-limit:\n  ipv6-prefix-length: 129\n", 2, "ipv6-prefix-length");
	expect_error("rate-limit:\n  responses-per-second: -1\n", 2, "responses-per-second");
	expect_error("rate-limit:\n  responses-per-second: 1000001\n", 2, "responses-per-second");
	expect_error("rate-limit:\n  query-burst: 0\n", 2, "query-burst");
	expect_error("rate-limit:\n  query-action: tarpit\n", 2, "query-action");
	expect_error("rate-limit:\n  exempt-clients: [192.0.2.1/24]\n", 2, "not a valid prefix");
	expect_error("rate-limit:\n  log-only: maybe\n", 2, "log-only");
	expect_error("rate-limit:\n  query-cookie-exempt: 2\n", 2, "query-cookie-exempt");
	expect_error("rate-limit:\n  table-size: 8\n", 2, "table-size");
	expect_error("rate-limit:\n  all-per-second: 8\n", 2, "unknown key 'all-per-second'");
	expect_error("cookies:\n  enable: 1x\n", 2, "cookies.enable");
	expect_error("cookies:\n  secret: abc\n", 2, "unknown key 'secret'");
}

static void test_secret_file_errors(void)
{
	char path[PATH_MAX + 32], yaml[PATH_MAX + 128];
	snprintf(path, sizeof(path), "%s/bad.key", g_dir);
	snprintf(yaml, sizeof(yaml), "cookies:\n  enable: true\n  cookie-secret-file: %s\n", path);
	expect_error(yaml, 3, "cannot open");
	static const char *const bad[] = {
	    "",
	    "0011\n",
	    "00112233445566778899aabbccddeeffaa\n",
	    "00112233445566778899aabbccddeefg\n",
	    /* three lines: one too many */
	    ("00112233445566778899aabbccddeeff\n00112233445566778899aabbccddeeff\n"
	     "00112233445566778899aabbccddeeff\n"),
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_file(path, bad[i]);
		expect_error(yaml, 3, "32 hex digits");
	}
	unlink(path);
}

static void test_teardown(void)
{
	char p[PATH_MAX + 32];
	static const char *const files[] = {"c2wall.yaml", "cookie.key", "bad.key"};
	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s/%s", g_dir, files[i]);
		unlink(p);
	}
	CHECK_EQ(rmdir(g_dir), 0);
}

TEST_MAIN(TEST(test_setup), TEST(test_defaults), TEST(test_every_key), TEST(test_followers),
	  TEST(test_errors), TEST(test_secret_file_errors), TEST(test_teardown))
