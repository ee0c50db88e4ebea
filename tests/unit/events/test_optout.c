/* SPDX-License-Identifier: MIT */
/* Opt-out registry: prefixes v4/v6, lock-free lookups, atomic persistence, reload. */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <unistd.h>
#include <urcu.h>

#include "events/optout.h"
#include "test.h"

static char dir[256];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/c2w-optout-XXXXXX");
	if (mkdtemp(dir) == NULL)
		abort();
}

static bool has4(struct events_optout *reg, const char *ip)
{
	struct sockaddr_in in = {.sin_family = AF_INET};
	inet_pton(AF_INET, ip, &in.sin_addr);
	return events_optout_contains(reg, (struct sockaddr *)&in);
}

static bool has6(struct events_optout *reg, const char *ip)
{
	struct sockaddr_in6 in = {.sin6_family = AF_INET6};
	inet_pton(AF_INET6, ip, &in.sin6_addr);
	return events_optout_contains(reg, (struct sockaddr *)&in);
}

static void test_parse(void)
{
	struct events_prefix p;
	char buf[64];
	CHECK_EQ(events_prefix_parse("192.0.2.0/24", &p), C2W_OK);
	CHECK_EQ(p.bits, 24);
	CHECK_STREQ(events_prefix_format(&p, buf, sizeof(buf)), "192.0.2.0/24");
	CHECK_EQ(events_prefix_parse("198.51.100.7", &p), C2W_OK);
	CHECK_STREQ(events_prefix_format(&p, buf, sizeof(buf)), "198.51.100.7");
	CHECK_EQ(events_prefix_parse("2001:db8::/32", &p), C2W_OK);
	CHECK_STREQ(events_prefix_format(&p, buf, sizeof(buf)), "2001:db8::/32");
	CHECK_EQ(events_prefix_parse("192.0.2.1/24", &p), C2W_EINVAL);
	CHECK_EQ(events_prefix_parse("192.0.2.0/33", &p), C2W_EINVAL);
	CHECK_EQ(events_prefix_parse("192.0.2.0/", &p), C2W_EINVAL);
	CHECK_EQ(events_prefix_parse("example.com", &p), C2W_EINVAL);
	CHECK_EQ(events_prefix_parse("", &p), C2W_EINVAL);
	CHECK_EQ(events_prefix_parse("1.2.3.4/2x", &p), C2W_EINVAL);
}

static void test_add_remove_persist(void)
{
	char path[300], err[256] = "";
	snprintf(path, sizeof(path), "%s/optout.txt", dir);
	struct events_optout *reg = NULL;
	CHECK_EQ(events_optout_open(path, &reg, err, sizeof(err)), C2W_OK);
	CHECK(!has4(reg, "192.0.2.9"));
	CHECK_EQ(events_optout_add(reg, "192.0.2.0/24"), C2W_OK);
	CHECK_EQ(events_optout_add(reg, "192.0.2.0/24"), C2W_EEXIST);
	CHECK_EQ(events_optout_add(reg, "2001:db8:1::/48"), C2W_OK);
	CHECK_EQ(events_optout_add(reg, "198.51.100.7"), C2W_OK);
	CHECK_EQ(events_optout_add(reg, "junk"), C2W_EINVAL);
	CHECK(has4(reg, "192.0.2.9"));
	CHECK(has4(reg, "198.51.100.7"));
	CHECK(!has4(reg, "198.51.100.8"));
	CHECK(!has4(reg, "192.0.3.1"));
	CHECK(has6(reg, "2001:db8:1:ffff::1"));
	CHECK(!has6(reg, "2001:db8:2::1"));
	CHECK(has6(reg, "::ffff:192.0.2.200")); /* v4-mapped counts as v4 */
	struct events_prefix *items = NULL;
	size_t n = 0;
	CHECK_EQ(events_optout_list(reg, &items, &n), C2W_OK);
	CHECK_EQ(n, 3);
	free(items);
	events_optout_free(reg);

	/* Persisted: a new registry from the file sees the same entries; no temp left. */
	reg = NULL;
	CHECK_EQ(events_optout_open(path, &reg, err, sizeof(err)), C2W_OK);
	CHECK(has4(reg, "192.0.2.1"));
	CHECK(has6(reg, "2001:db8:1::5"));
	CHECK_EQ(events_optout_remove(reg, "192.0.2.0/24"), C2W_OK);
	CHECK_EQ(events_optout_remove(reg, "192.0.2.0/24"), C2W_ENOENT);
	CHECK(!has4(reg, "192.0.2.1"));
	CHECK(has4(reg, "198.51.100.7"));
	events_optout_free(reg);
	DIR *d = opendir(dir);
	struct dirent *e;
	int files = 0;
	while (d && (e = readdir(d)) != NULL)
		if (e->d_name[0] != '.') {
			files++;
			CHECK(strstr(e->d_name, ".tmp") == NULL);
		}
	if (d)
		closedir(d);
	CHECK_EQ(files, 1);
}

static void test_bad_file(void)
{
	char path[300], err[256] = "";
	snprintf(path, sizeof(path), "%s/bad.txt", dir);
	FILE *f = fopen(path, "w");
	fputs("# comment\n192.0.2.0/24\n\nnot-an-ip\n", f);
	fclose(f);
	struct events_optout *reg = NULL;
	CHECK_EQ(events_optout_open(path, &reg, err, sizeof(err)), C2W_EMALF);
	CHECK(strstr(err, ":4:") != NULL);
	/* Unwritable directory: add fails and the table is unchanged. */
	snprintf(path, sizeof(path), "%s/nodir/optout.txt", dir);
	CHECK_EQ(events_optout_open(path, &reg, err, sizeof(err)), C2W_OK);
	CHECK(events_optout_add(reg, "192.0.2.0/24") < 0);
	CHECK(!has4(reg, "192.0.2.1"));
	events_optout_free(reg);
}

static void test_reload(void)
{
	char path[300], err[256] = "";
	snprintf(path, sizeof(path), "%s/reload.txt", dir);
	struct events_optout *reg = NULL;
	CHECK_EQ(events_optout_open(path, &reg, err, sizeof(err)), C2W_OK);
	FILE *f = fopen(path, "w");
	fputs("203.0.113.0/25\n", f);
	fclose(f);
	CHECK(!has4(reg, "203.0.113.5"));
	CHECK_EQ(events_optout_reload(reg, err, sizeof(err)), C2W_OK);
	CHECK(has4(reg, "203.0.113.5"));
	CHECK(!has4(reg, "203.0.113.200"));
	f = fopen(path, "w");
	fputs("garbage\n", f);
	fclose(f);
	CHECK_EQ(events_optout_reload(reg, err, sizeof(err)), C2W_EMALF);
	CHECK(has4(reg, "203.0.113.5")); /* old table stays */
	events_optout_free(reg);
}

int main(void)
{
	static const struct test_case cases[] = {TEST(test_parse), TEST(test_add_remove_persist),
						 TEST(test_bad_file), TEST(test_reload)};
	rcu_register_thread();
	setup();
	int ret = test_run(cases, sizeof(cases) / sizeof(cases[0]));
	rcu_unregister_thread();
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		ret = 1;
	return ret;
}
