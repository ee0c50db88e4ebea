/* SPDX-License-Identifier: MIT */
/*
 * dns/pcache.h: hit, miss, expiry, eviction, key parts (case, type, DO, CD), what is not
 * stored, clear, and the cost of a hit.
 */
#include <time.h>

#include "dns/name.h"
#include "dns/pcache.h"
#include "dns/writer.h"
#include "test.h"

/* Build and parse a query for @name/@qtype; @do_bit adds an OPT with DO; @cd sets CD. */
static void mkquery(struct dns_query *q, uint8_t *pkt, const char *name, uint16_t qtype,
		    bool do_bit, bool cd)
{
	uint8_t wire[DNS_NAME_WIRE_MAX];
	size_t wlen = 0, n = 12;

	CHECK_EQ(dns_name_from_text(name, NULL, wire, &wlen), C2W_OK);
	memset(pkt, 0, 12);
	pkt[0] = 0x42;
	pkt[2] = 0x01;
	pkt[3] = cd ? 0x10 : 0;
	pkt[5] = 1;
	memcpy(pkt + n, wire, wlen);
	n += wlen;
	pkt[n++] = (uint8_t)(qtype >> 8);
	pkt[n++] = (uint8_t)qtype;
	pkt[n++] = 0;
	pkt[n++] = 1;
	if (do_bit) {
		static const uint8_t opt[] = {0, 0, 41, 0x04, 0xD0, 0, 0, 0x80, 0, 0, 0};
		memcpy(pkt + n, opt, sizeof(opt));
		n += sizeof(opt);
		pkt[11] = 1;
	}
	CHECK_EQ(dns_query_parse(pkt, n, q), C2W_OK);
}

/* An answer body for @q: one A record with @ttl. */
static void mkanswer(struct dns_answer *ans, const struct dns_query *q, uint32_t ttl,
		     uint8_t last_octet)
{
	struct dns_writer w;
	const uint8_t a[4] = {192, 0, 2, last_octet};

	CHECK_EQ(dns_writer_init(&w, ans, q, 0, false), C2W_OK);
	CHECK_EQ(dns_writer_add_rr(&w, DNS_SECTION_ANSWER, q->qname, DNS_TYPE_A, 1, ttl, a, 4),
		 C2W_OK);
	CHECK_EQ(dns_writer_finish(&w), C2W_OK);
}

static uint8_t answer_octet(const struct dns_answer *ans)
{
	return ans->wire[ans->len - 1];
}

static void test_hit_miss_expiry(void)
{
	struct dns_pcache *c = dns_pcache_new(1024, 1232);
	struct dns_query q, q2;
	uint8_t pkt[512], pkt2[512], buf[1232], out[1232];
	struct dns_answer ans = {.wire = buf, .cap = sizeof(buf)}, hit;
	uint32_t age = 99;

	CHECK(c != NULL);
	mkquery(&q, pkt, "www.Example.com.", DNS_TYPE_A, false, false);
	CHECK(!dns_pcache_lookup(c, &q, 1000, &hit, &age));
	mkanswer(&ans, &q, 60, 7);
	ans.secure = true;
	ans.ede_code = DNS_EDE_STALE_ANSWER;
	memcpy(ans.ede_text, "x", 2);
	dns_pcache_store(c, &q, &ans, 1000);
	memset(buf, 0, sizeof(buf)); /* the cache holds a copy */
	CHECK(dns_pcache_lookup(c, &q, 1000, &hit, &age));
	CHECK_EQ(age, 0);
	CHECK_EQ(hit.len, ans.len);
	CHECK_EQ(answer_octet(&hit), 7);
	CHECK(hit.secure);
	CHECK_EQ(hit.min_ttl, 60);
	CHECK_EQ(hit.ttl_count, 1);
	CHECK_EQ(hit.ede_code, DNS_EDE_STALE_ANSWER);
	CHECK_STREQ(hit.ede_text, "x");

	/* Case does not matter; 0x20 case comes back from the client's own question. */
	mkquery(&q2, pkt2, "WWW.EXAMPLE.COM.", DNS_TYPE_A, false, false);
	CHECK(dns_pcache_lookup(c, &q2, 1059, &hit, &age));
	CHECK_EQ(age, 59);
	int len = dns_answer_render(&q2, &hit, age, 1232, 512, out, sizeof(out));
	CHECK(len > 0);
	CHECK(memcmp(out + 12, "\3WWW\7EXAMPLE\3COM", 17) == 0);
	CHECK_EQ(out[len - 4 - 6 + 3], 1); /* TTL 60 aged by 59 */

	/* Expired at stored + min_ttl. */
	CHECK(!dns_pcache_lookup(c, &q2, 1060, &hit, &age));

	/* Other type, DO, CD: other keys. */
	dns_pcache_store(c, &q, &ans, 2000);
	mkquery(&q2, pkt2, "www.example.com.", DNS_TYPE_AAAA, false, false);
	CHECK(!dns_pcache_lookup(c, &q2, 2000, &hit, &age));
	mkquery(&q2, pkt2, "www.example.com.", DNS_TYPE_A, true, false);
	CHECK(!dns_pcache_lookup(c, &q2, 2000, &hit, &age));
	mkquery(&q2, pkt2, "www.example.com.", DNS_TYPE_A, false, true);
	CHECK(!dns_pcache_lookup(c, &q2, 2000, &hit, &age));
	mkquery(&q2, pkt2, "www.example.org.", DNS_TYPE_A, false, false);
	CHECK(!dns_pcache_lookup(c, &q2, 2000, &hit, &age));
	mkquery(&q2, pkt2, "www.example.com.", DNS_TYPE_A, false, false);
	CHECK(dns_pcache_lookup(c, &q2, 2000, &hit, &age));

	/* Replacing the same key. */
	mkanswer(&ans, &q, 60, 8);
	dns_pcache_store(c, &q, &ans, 2001);
	CHECK(dns_pcache_lookup(c, &q2, 2001, &hit, &age));
	CHECK_EQ(answer_octet(&hit), 8);

	dns_pcache_clear(c);
	CHECK(!dns_pcache_lookup(c, &q2, 2001, &hit, &age));
	dns_pcache_free(c);
	dns_pcache_free(NULL);
}

static void test_not_stored(void)
{
	struct dns_pcache *c = dns_pcache_new(64, 100);
	struct dns_query q;
	uint8_t pkt[512], buf[1232];
	struct dns_answer ans = {.wire = buf, .cap = sizeof(buf)}, hit;
	uint32_t age;

	mkquery(&q, pkt, "a.example.", DNS_TYPE_A, false, false);
	mkanswer(&ans, &q, 0, 1); /* TTL 0 */
	dns_pcache_store(c, &q, &ans, 10);
	CHECK(!dns_pcache_lookup(c, &q, 10, &hit, &age));
	CHECK_EQ(dns_answer_empty(&q, DNS_RCODE_SERVFAIL, DNS_EDE_NONE, NULL, &ans), C2W_OK);
	dns_pcache_store(c, &q, &ans, 10); /* no records: min_ttl 0 */
	CHECK(!dns_pcache_lookup(c, &q, 10, &hit, &age));

	/* Larger than a 100-byte slot. */
	struct dns_writer w;
	CHECK_EQ(dns_writer_init(&w, &ans, &q, 0, false), C2W_OK);
	for (int i = 0; i < 10; i++) {
		const uint8_t a[4] = {10, 0, 0, (uint8_t)i};
		CHECK_EQ(dns_writer_add_rr(&w, DNS_SECTION_ANSWER, q.qname, 1, 1, 300, a, 4),
			 C2W_OK);
	}
	CHECK_EQ(dns_writer_finish(&w), C2W_OK);
	CHECK(ans.len > 100);
	dns_pcache_store(c, &q, &ans, 10);
	CHECK(!dns_pcache_lookup(c, &q, 10, &hit, &age));
	dns_pcache_free(c);
}

static void test_eviction(void)
{
	/* 4 slots: one bucket of 4 ways, so every name lands in the same bucket. */
	struct dns_pcache *c = dns_pcache_new(4, 512);
	struct dns_query q[6];
	uint8_t pkt[6][512], buf[512];
	struct dns_answer ans = {.wire = buf, .cap = sizeof(buf)}, hit;
	uint32_t age;
	char name[32];

	for (int i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "host%d.example.", i);
		mkquery(&q[i], pkt[i], name, DNS_TYPE_A, false, false);
	}
	for (int i = 0; i < 4; i++) {
		mkanswer(&ans, &q[i], 100, (uint8_t)i);
		dns_pcache_store(c, &q[i], &ans, 100 + (uint64_t)i);
	}
	for (int i = 0; i < 4; i++) {
		CHECK(dns_pcache_lookup(c, &q[i], 110, &hit, &age));
		CHECK_EQ(answer_octet(&hit), i);
	}
	/* Full: the oldest (host0) goes. */
	mkanswer(&ans, &q[4], 100, 4);
	dns_pcache_store(c, &q[4], &ans, 110);
	CHECK(!dns_pcache_lookup(c, &q[0], 110, &hit, &age));
	for (int i = 1; i < 5; i++)
		CHECK(dns_pcache_lookup(c, &q[i], 110, &hit, &age));
	/* An expired entry is reused before a live one is evicted: host1 (stored 101) expires at
	 * 201; host2..host4 are still live at 201. */
	mkanswer(&ans, &q[5], 100, 5);
	dns_pcache_store(c, &q[5], &ans, 201);
	CHECK(!dns_pcache_lookup(c, &q[1], 201, &hit, &age));
	CHECK(dns_pcache_lookup(c, &q[2], 201, &hit, &age));
	CHECK(dns_pcache_lookup(c, &q[3], 201, &hit, &age));
	CHECK(dns_pcache_lookup(c, &q[4], 201, &hit, &age));
	CHECK(dns_pcache_lookup(c, &q[5], 201, &hit, &age));
	CHECK_EQ(answer_octet(&hit), 5);
	dns_pcache_free(c);
}

/* A flood of one-off names (each stored once, never read) must not evict names that are read:
 * the water-torture case of issue 8. 100 hot names, then 20x the cache size in junk. */
static void test_flood_keeps_hot(void)
{
	enum { HOT = 100, JUNK = 20 * 1024 };
	struct dns_pcache *c = dns_pcache_new(1024, 512);
	static struct dns_query hot[HOT];
	static uint8_t pkt[HOT][300];
	uint8_t jpkt[300], buf[512];
	struct dns_query jq;
	struct dns_answer ans = {.wire = buf, .cap = sizeof(buf)}, hit;
	uint32_t age;
	char name[64];
	unsigned found = 0;

	for (int i = 0; i < HOT; i++) {
		snprintf(name, sizeof(name), "hot%d.example.", i);
		mkquery(&hot[i], pkt[i], name, DNS_TYPE_A, false, false);
		mkanswer(&ans, &hot[i], 3600, (uint8_t)i);
		dns_pcache_store(c, &hot[i], &ans, 10);
		CHECK(!dns_pcache_seen(c, &hot[i])); /* stored, not yet asked again */
		CHECK(dns_pcache_lookup(c, &hot[i], 11, &hit, &age));
		CHECK(dns_pcache_seen(c, &hot[i]));
	}
	for (int i = 0; i < JUNK; i++) {
		snprintf(name, sizeof(name), "r%08x.victim.example.", (unsigned)i * 2654435761u);
		mkquery(&jq, jpkt, name, DNS_TYPE_A, false, false);
		mkanswer(&ans, &jq, 3600, 0);
		dns_pcache_store(c, &jq, &ans, 20);
		CHECK(!dns_pcache_seen(c, &jq));
	}
	for (int i = 0; i < HOT; i++)
		found += dns_pcache_lookup(c, &hot[i], 30, &hit, &age);
	CHECK_EQ(found, HOT);
	dns_pcache_free(c);
}

static double now_ns(void)
{
	struct timespec ts;
	/* Thread CPU time: other processes on a busy machine do not count. */
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void test_many_hits(void)
{
	enum { NAMES = 1000, ROUNDS = 1000 };
	struct dns_pcache *c = dns_pcache_new(1 << 16, 1232);
	static struct dns_query q[NAMES];
	static uint8_t pkt[NAMES][300];
	uint8_t buf[1232];
	struct dns_answer ans = {.wire = buf, .cap = sizeof(buf)}, hit;
	uint32_t age;
	char name[64];
	unsigned hits = 0;

	for (int i = 0; i < NAMES; i++) {
		snprintf(name, sizeof(name), "host-%d.cdn.example.com.", i);
		mkquery(&q[i], pkt[i], name, DNS_TYPE_A, i % 2 == 0, false);
		mkanswer(&ans, &q[i], 300, (uint8_t)i);
		dns_pcache_store(c, &q[i], &ans, 1);
	}
	double t0 = now_ns();
	for (int r = 0; r < ROUNDS; r++)
		for (int i = 0; i < NAMES; i++)
			hits += dns_pcache_lookup(c, &q[i], 2, &hit, &age);
	double per = (now_ns() - t0) / (NAMES * ROUNDS);
	CHECK_EQ(hits, NAMES * ROUNDS);
	/* Informational only: performance targets live in bench/, not in timed unit tests. */
	printf("pcache: %.1f ns per hit (%d names)\n", per, NAMES);
	dns_pcache_free(c);
}

TEST_MAIN(TEST(test_hit_miss_expiry), TEST(test_not_stored), TEST(test_eviction),
	  TEST(test_flood_keeps_hot), TEST(test_many_hits))
