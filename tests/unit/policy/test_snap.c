/* SPDX-License-Identifier: MIT */
/*
 * The compiled snapshot: build, write, open (mmap), verify; corrupted, truncated and foreign
 * files give clear errors; memory per rule with a generated feed of 1M names.
 */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

#include "policy/image.h"
#include "test.h"
#include "util.h"

static const char *feed =
	"$TTL 60\n@ SOA ns. h. 1 2 3 4 5\nbad.example CNAME .\n*.wild.example CNAME *.\n"
	"24.0.113.0.203.rpz-ip CNAME rpz-drop.\n";

static void test_round_trip(void)
{
	char path[64] = "/tmp/c2w-snap-XXXXXX";
	int fd = mkstemp(path);
	close(fd);
	struct policy_zone_spec z = rpz_zone("rpz.", feed);
	struct policy_build_opts o = {.out_path = path};
	struct policy_report rep;
	struct policy_snap *s = NULL, *t = NULL;
	struct policy_hit h;
	char err[256] = "";
	memset(&rep, 0, sizeof(rep));
	CHECK_EQ(policy_snap_build(&z, 1, &o, &rep, &s), C2W_OK);
	CHECK_EQ(policy_snap_rule_count(s), 3);
	CHECK_EQ(policy_snap_open(path, &t, err, sizeof(err)), C2W_OK);
	CHECK_EQ(policy_snap_rule_count(t), 3);
	CHECK_EQ(policy_snap_zone_count(t), 1);
	CHECK_EQ(policy_snap_size(t), rep.snapshot_bytes);
	struct dns_query q = mkq("a.wild.example.", DNS_TYPE_A);
	CHECK_EQ(policy_match_query(t, &q, NULL, &h, NULL), POLICY_VERDICT_ACT);
	CHECK_EQ(h.action, POLICY_ACTION_NODATA);
	policy_snap_free(t);

	/* flip one byte in each region: every one must be caught by the checksum */
	struct stat st;
	CHECK_EQ(stat(path, &st), 0);
	long offs[] = {100, st.st_size / 2, st.st_size - 1};
	for (size_t i = 0; i < 3; i++) {
		char copy[80];
		snprintf(copy, sizeof(copy), "%s.bad", path);
		CHECK_EQ(policy_snap_write(s, copy), C2W_OK);
		fd = open(copy, O_RDWR);
		uint8_t b;
		CHECK_EQ(pread(fd, &b, 1, offs[i]), 1);
		b ^= 0x40;
		CHECK_EQ(pwrite(fd, &b, 1, offs[i]), 1);
		close(fd);
		t = NULL;
		CHECK_EQ(policy_snap_open(copy, &t, err, sizeof(err)), C2W_ECHECKSUM);
		CHECK(t == NULL);
		CHECK(strstr(err, "checksum") != NULL);
		/* truncated */
		CHECK_EQ(truncate(copy, st.st_size - 8), 0);
		CHECK_EQ(policy_snap_open(copy, &t, err, sizeof(err)), C2W_EMALF);
		unlink(copy);
	}
	/* another version */
	fd = open(path, O_RDWR);
	uint8_t v = 99;
	CHECK_EQ(pwrite(fd, &v, 1, 8), 1);
	close(fd);
	CHECK_EQ(policy_snap_open(path, &t, err, sizeof(err)), C2W_EVERSION);
	/* not a snapshot at all */
	CHECK_EQ(policy_snap_open(z.file, &t, err, sizeof(err)), C2W_EMALF);
	CHECK(policy_snap_open("/nonexistent/x", &t, err, sizeof(err)) == -ENOENT);
	unlink(path);
	policy_snap_free(s);
}

static unsigned dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	unsigned n = 0;
	for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;)
		n += e->d_name[0] != '.';
	if (d != NULL)
		closedir(d);
	return n;
}

/*
 * With an output file the image is built in the file's mapping (issue 11): the same bytes as
 * in memory, the snapshot served from that mapping; a build refused after the image was made
 * (max change) or a file that cannot be created leave nothing behind.
 */
static void test_out_file(void)
{
	char dir[64] = "/tmp/c2w-out-XXXXXX", path[96], other[96];
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/snap", dir);
	snprintf(other, sizeof(other), "%s/other", dir);
	struct policy_zone_spec z = rpz_zone("rpz.", feed);
	struct policy_build_opts o = {.out_path = path};
	struct policy_report rep;
	struct policy_snap *s = NULL, *m = NULL, *t = NULL;
	memset(&rep, 0, sizeof(rep));
	CHECK_EQ(policy_snap_build(&z, 1, &o, &rep, &s), C2W_OK);
	CHECK_EQ(policy_snap_build(&z, 1, NULL, NULL, &m), C2W_OK);
	CHECK_EQ(policy_snap_size(s), policy_snap_size(m));
	CHECK(memcmp(s->base + s->hdr->zones_off, m->base + m->hdr->zones_off,
		     s->len - s->hdr->zones_off) == 0);
	CHECK(s->mapped && !m->mapped);
	CHECK_EQ(dir_entries(dir), 1);
	struct dns_query q = mkq("bad.example.", DNS_TYPE_A);
	struct policy_hit h;
	CHECK_EQ(policy_match_query(s, &q, NULL, &h, NULL), POLICY_VERDICT_ACT);
	CHECK_EQ(h.action, POLICY_ACTION_NXDOMAIN);

	/* Refused after compiling: no file, no temporary. */
	struct policy_zone_spec big =
	    rpz_zone("rpz.", "$TTL 60\n@ SOA ns. h. 1 2 3 4 5\n"
			     "a CNAME .\nb CNAME .\nc CNAME .\nd CNAME .\n"
			     "e CNAME .\nf CNAME .\ng CNAME .\n");
	struct policy_build_opts oc = {.out_path = other, .previous = s, .max_change = 0.5};
	CHECK_EQ(policy_snap_build(&big, 1, &oc, &rep, &t), C2W_ERANGE);
	CHECK(t == NULL);
	CHECK_EQ(dir_entries(dir), 1);

	/* A file that cannot be created: the error says so, nothing is returned. */
	struct policy_build_opts on = {.out_path = "/nonexistent-c2w/snap"};
	CHECK_EQ(policy_snap_build(&z, 1, &on, &rep, &t), -ENOENT);
	CHECK(t == NULL);
	CHECK(strstr(rep.error, "cannot write") != NULL);

	policy_snap_free(s);
	policy_snap_free(m);
	unlink(path);
	rmdir(dir);
}

/* 1M generated rules (mostly exact names, some wildcards and IP rules): bytes per rule. */
static void test_memory_per_rule(void)
{
	const unsigned n = 1000000;
	char path[64] = "/tmp/c2w-gen-XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	fprintf(f, "$TTL 300\n@ SOA ns. h. 1 2 3 4 5\n");
	for (unsigned i = 0; i < n; i++) {
		if (i % 50 == 0)
			fprintf(f, "*.w%u.c2-%u.example CNAME .\n", i, i % 997);
		else if (i % 101 == 0)
			fprintf(f, "32.%u.%u.%u.10.rpz-ip CNAME .\n", i & 255, (i >> 8) & 255,
				(i >> 16) & 255);
		else
			fprintf(f, "h%07u.c2-%u.example CNAME .\n", i, i % 997);
	}
	fclose(f);
	struct policy_zone_spec z;
	memset(&z, 0, sizeof(z));
	z.name = "gen.rpz.";
	z.file = path;
	struct policy_report rep;
	struct policy_snap *s = NULL;
	memset(&rep, 0, sizeof(rep));
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	CHECK_EQ(policy_snap_build(&z, 1, NULL, &rep, &s), C2W_OK);
	clock_gettime(CLOCK_MONOTONIC, &b);
	unlink(path);
	CHECK_EQ(rep.rules, n);
	double per = (double)rep.snapshot_bytes / (double)rep.rules;
	printf("1M rules: %llu bytes, %.1f bytes/rule, build %.2f s\n",
	       (unsigned long long)rep.snapshot_bytes, per,
	       (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
	CHECK(per <= 64.0);
	/* lookups: a hit, a wildcard hit, a miss */
	struct policy_hit h;
	struct dns_query q = mkq("h0000007.c2-7.example.", DNS_TYPE_A);
	CHECK_EQ(policy_match_query(s, &q, NULL, &h, NULL), POLICY_VERDICT_ACT);
	q = mkq("x.y.w500.c2-500.example.", DNS_TYPE_A);
	CHECK_EQ(policy_match_query(s, &q, NULL, &h, NULL), POLICY_VERDICT_ACT);
	CHECK(h.wildcard);
	q = mkq("h0000007.c2-8.example.", DNS_TYPE_A);
	CHECK_EQ(policy_match_query(s, &q, NULL, &h, NULL), POLICY_VERDICT_NONE);
	/* lookup cost: 1M prepared queries (misses that probe exact + every wildcard level) */
	enum { NQ = 1 << 16 };
	struct dns_query *qs = malloc(NQ * sizeof(*qs));
	for (unsigned i = 0; i < NQ; i++) {
		char name[64];
		snprintf(name, sizeof(name), "www.h%07u.c2-%u.example.", i * 13, (i * 13) % 997);
		qs[i] = mkq(name, DNS_TYPE_A);
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	unsigned hits = 0;
	for (unsigned i = 0; i < 1000000; i++)
		hits += policy_match_query(s, &qs[i % NQ], NULL, &h, NULL) != POLICY_VERDICT_NONE;
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("1M lookups (4-label names, %u hits): %.0f ns each\n", hits,
	       ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / 1e6);
	free(qs);
	policy_snap_free(s);
}

TEST_MAIN(TEST(test_round_trip), TEST(test_out_file), TEST(test_memory_per_rule))
