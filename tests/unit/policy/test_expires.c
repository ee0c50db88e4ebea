/* SPDX-License-Identifier: MIT */
/*
 * Per-entry lifetimes: the "expires=" parser (RFC 3339 forms, bad dates refused), and the
 * build leaving out entries whose time has passed in hosts, domain-list and RPZ feeds, with
 * the earliest expiry still ahead reported and kept in the snapshot, and max-change counting
 * expired entries as present.
 */
#include "policy/feed.h"
#include "test.h"
#include "util.h"

#define HDR "$TTL 60\n@ SOA ns. h. 1 2 3 4 5\n NS ns.\n"

static bool t(const char *s, int64_t *v)
{
	return policy_feed_time(s, strlen(s), v);
}

static void test_parse(void)
{
	int64_t v = 0;
	CHECK(t("2026-12-04T00:00:00Z", &v));
	CHECK_EQ(v, 1796342400);
	CHECK(t("2026-12-04", &v));
	CHECK_EQ(v, 1796342400);
	CHECK(t("2026-12-04t09:00:00+09:00", &v));
	CHECK_EQ(v, 1796342400);
	CHECK(t("2026-12-03T19:30:00-04:30", &v));
	CHECK_EQ(v, 1796342400);
	CHECK(t("2024-02-29T12:00:01Z", &v));
	CHECK_EQ(v, 1709208001);
	CHECK(t("1970-01-01T00:00:01Z", &v));
	CHECK_EQ(v, 1);
	v = 42;
	static const char *const bad[] = {
	    "",
	    "2026-12-4",
	    "2026-13-01",
	    "2026-02-29",
	    "2023-02-29T00:00:00Z",
	    "2026-04-31",
	    "2026-12-04T24:00:00Z",
	    "2026-12-04T10:60:00Z",
	    "2026-12-04T10:00:00",
	    "2026-12-04T10:00:00.5Z",
	    "2026-12-04T10:00:00+0900",
	    "2026-12-04T10:00:00+24:00",
	    "2026-12-04 10:00:00Z",
	    "1969-12-31T23:59:59Z",
	    "1970-01-01T00:00:00Z",
	    "+026-12-04",
	    "2026-12-04Tab:00:00Z",
	    "1796342400",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (t(bad[i], &v))
			fprintf(stderr, "accepted '%s'\n", bad[i]);
		CHECK(!t(bad[i], &v));
	}
	CHECK_EQ(v, 42); /* untouched on failure */
	/* In the metadata words, beside the other keys; a bad value is ignored. */
	struct feed_meta m;
	memset(&m, 0, sizeof(m));
	const char *c = " category=c2 expires=2026-12-04T00:00:00Z family=x";
	CHECK(policy_feed_meta_parse(c, strlen(c), &m));
	CHECK_EQ(m.expires, 1796342400);
	CHECK_STREQ(m.family, "x");
	memset(&m, 0, sizeof(m));
	c = "expires=tomorrow";
	CHECK(!policy_feed_meta_parse(c, strlen(c), &m));
	CHECK_EQ(m.expires, 0);
}

static enum policy_verdict mq(struct policy_snap *s, const char *name)
{
	struct policy_hit hit;
	struct dns_query q = mkq(name, DNS_TYPE_A);
	return policy_match_query(s, &q, NULL, &hit, NULL);
}

/* now = 2026-12-03T12:00:00Z */
#define NOW 1796299200

static struct policy_snap *build_at(const struct policy_zone_spec *z, size_t n, int64_t now,
				    struct policy_report *rep)
{
	struct policy_build_opts o = {.now = now};
	struct policy_snap *s = NULL;
	CHECK_EQ(policy_snap_build(z, n, &o, rep, &s), C2W_OK);
	return s;
}

static void test_build(void)
{
	struct policy_zone_spec z[3];
	memset(z, 0, sizeof(z));
	z[0].name = "hosts.";
	z[0].format = POLICY_FORMAT_HOSTS;
	z[0].file = tmp_feed("0.0.0.0 gone.example # expires=2026-12-03T11:59:59Z\n"
			     "0.0.0.0 edge.example # expires=2026-12-03T12:00:00Z\n"
			     "0.0.0.0 soon.example # category=c2 expires=2026-12-03T12:00:05Z\n"
			     "0.0.0.0 later.example # expires=2026-12-04\n"
			     "0.0.0.0 always.example\n"
			     "0.0.0.0 bad.example # expires=someday\n");
	z[1].name = "list.";
	z[1].format = POLICY_FORMAT_DOMAINS;
	z[1].file =
	    tmp_feed("old.example # expires=2026-01-01\nnew.example # expires=2027-01-01\n");
	z[2] = rpz_zone("rpz.", HDR "r1.example CNAME . ; expires=2026-12-03T11:00:00Z\n"
				    "r2.example CNAME . ; expires=2026-12-03T12:00:02Z\n"
				    "r3.example A 10.0.0.1 ; expires=2026-12-03T11:00:00Z\n"
				    "r3.example A 10.0.0.2\n");
	struct policy_report rep;
	memset(&rep, 0, sizeof(rep));
	struct policy_snap *s = build_at(z, 3, NOW, &rep);
	if (s == NULL)
		return;
	CHECK_EQ(mq(s, "gone.example."), POLICY_VERDICT_NONE);
	CHECK_EQ(mq(s, "edge.example."), POLICY_VERDICT_NONE); /* at its second: expired */
	CHECK_EQ(mq(s, "soon.example."), POLICY_VERDICT_ACT);
	CHECK_EQ(mq(s, "later.example."), POLICY_VERDICT_ACT);
	CHECK_EQ(mq(s, "always.example."), POLICY_VERDICT_ACT);
	CHECK_EQ(mq(s, "bad.example."), POLICY_VERDICT_ACT); /* unparsable: no lifetime */
	CHECK_EQ(mq(s, "old.example."), POLICY_VERDICT_NONE);
	CHECK_EQ(mq(s, "x.old.example."), POLICY_VERDICT_NONE);
	CHECK_EQ(mq(s, "x.new.example."), POLICY_VERDICT_ACT);
	CHECK_EQ(mq(s, "r1.example."), POLICY_VERDICT_NONE);
	CHECK_EQ(mq(s, "r2.example."), POLICY_VERDICT_ACT);
	CHECK_EQ(mq(s, "r3.example."), POLICY_VERDICT_ACT); /* the record without a lifetime */
	CHECK_EQ(rep.zones[0].expired, 2);
	CHECK_EQ(rep.zones[0].rules, 4);
	CHECK_EQ(rep.zones[1].expired, 2); /* exact + wildcard */
	CHECK_EQ(rep.zones[2].expired, 2);
	CHECK_EQ(rep.next_expiry, NOW + 2);
	CHECK_EQ(policy_snap_next_expiry(s), NOW + 2);

	/* Five seconds on: soon and r2 are out; the next expiry is later.example's. */
	struct policy_report rep2;
	memset(&rep2, 0, sizeof(rep2));
	struct policy_build_opts o = {.now = NOW + 5, .previous = s, .max_change = 0.01};
	struct policy_snap *s2 = NULL;
	/* max-change counts expired entries as present: expiry alone never trips it. */
	CHECK_EQ(policy_snap_build(z, 3, &o, &rep2, &s2), C2W_OK);
	if (s2 != NULL) {
		CHECK_EQ(mq(s2, "soon.example."), POLICY_VERDICT_NONE);
		CHECK_EQ(mq(s2, "r2.example."), POLICY_VERDICT_NONE);
		CHECK_EQ(mq(s2, "later.example."), POLICY_VERDICT_ACT);
		CHECK_EQ(rep2.zones[0].expired, 3);
		CHECK_EQ(policy_snap_next_expiry(s2), 1796342400);
	}
	policy_snap_free(s2);
	policy_snap_free(s);

	/* Nothing with a lifetime: no re-check. */
	struct policy_zone_spec plain = rpz_zone("p.", HDR "a.example CNAME .\n");
	s = build_at(&plain, 1, NOW, NULL);
	CHECK_EQ(policy_snap_next_expiry(s), 0);
	policy_snap_free(s);
}

TEST_MAIN(TEST(test_parse), TEST(test_build))
