/* SPDX-License-Identifier: MIT */
/*
 * dns/pcache.h: hit, miss, expiry, key parts (case, type, DO, CD), one copy of a DO-neutral
 * body for both DO variants, budgets of any size, what is not stored, clear,
 * entries sized to the answer within the byte budget, eviction order (one-offs first, oldest
 * first; names asked for again survive a flood; aging when everything is popular), the tag
 * (policy generation) kept, and the cost of a hit.
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
	struct dns_pcache *c = dns_pcache_new(256 * 1024, 1232);
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
	mkanswer(&ans, &q, 60, 7); /* buf was cleared above */
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

/* A DO-neutral body (insecure, no DNSSEC records) is kept once and serves both DO variants;
 * a body that is not stays with its own DO; CD stays a separate key. */
static void test_do_neutral(void)
{
	struct dns_pcache *c = dns_pcache_new(256 * 1024, 1232);
	struct dns_query q0, q1, qcd;
	uint8_t p0[512], p1[512], pcd[512], buf[1232];
	struct dns_answer ans = {.wire = buf, .cap = sizeof(buf)}, hit;
	uint32_t age;

	mkquery(&q0, p0, "n.example.", DNS_TYPE_A, false, false);
	mkquery(&q1, p1, "n.example.", DNS_TYPE_A, true, false);
	mkquery(&qcd, pcd, "n.example.", DNS_TYPE_A, true, true);
	mkanswer(&ans, &q0, 60, 1);
	ans.do_neutral = true;
	dns_pcache_store(c, &q0, &ans, 10);
	size_t one = dns_pcache_used(c);
	CHECK(dns_pcache_lookup(c, &q1, 10, &hit, &age));
	CHECK_EQ(answer_octet(&hit), 1);
	CHECK(hit.do_neutral);
	CHECK(!dns_pcache_lookup(c, &qcd, 10, &hit, &age));
	CHECK(dns_pcache_seen(c, &q1));

	/* DO clients got another body (say the zone was signed since): theirs from now on, the
	 * neutral copy still serves the others. */
	mkanswer(&ans, &q1, 60, 2);
	dns_pcache_store(c, &q1, &ans, 11);
	CHECK(dns_pcache_lookup(c, &q1, 11, &hit, &age));
	CHECK_EQ(answer_octet(&hit), 2);
	CHECK(!hit.do_neutral);
	CHECK(dns_pcache_lookup(c, &q0, 11, &hit, &age));
	CHECK_EQ(answer_octet(&hit), 1);

	/* A neutral answer again replaces both copies with one. */
	mkanswer(&ans, &q1, 60, 3);
	ans.do_neutral = true;
	dns_pcache_store(c, &q1, &ans, 12);
	CHECK(dns_pcache_lookup(c, &q0, 12, &hit, &age));
	CHECK_EQ(answer_octet(&hit), 3);
	CHECK(dns_pcache_lookup(c, &q1, 12, &hit, &age));
	CHECK_EQ(answer_octet(&hit), 3);

	/* Not neutral: the other DO misses (the existing key test in test_hit_miss_expiry). */
	dns_pcache_clear(c);
	mkanswer(&ans, &q0, 60, 4);
	dns_pcache_store(c, &q0, &ans, 13);
	CHECK_EQ(dns_pcache_used(c), one);
	CHECK(!dns_pcache_lookup(c, &q1, 13, &hit, &age));
	CHECK(dns_pcache_lookup(c, &q0, 13, &hit, &age));

	/* A body whose question is not the key's is not stored. */
	struct dns_query qo;
	uint8_t po[512];
	mkquery(&qo, po, "other.example.", DNS_TYPE_A, false, false);
	mkanswer(&ans, &qo, 60, 5);
	dns_pcache_store(c, &q0, &ans, 14);
	CHECK(dns_pcache_lookup(c, &q0, 14, &hit, &age));
	CHECK_EQ(answer_octet(&hit), 4);
	dns_pcache_free(c);
}

static bool put(struct dns_pcache *c, const char *prefix, int i, uint32_t ttl, uint64_t now,
		bool read_back);
static bool has(struct dns_pcache *c, const char *prefix, int i, uint64_t now);

/* Budgets that are not powers of two: the index and the ring together stay within the
 * budget, and what it holds is found again. */
static void test_budgets(void)
{
	const size_t sizes[] = {64 * 1024, 3u * 1024 * 1024 + 12345, 10u * 1024 * 1024 / 3,
				96u * 1024 * 1024 / 7};

	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct dns_pcache *c = dns_pcache_new(sizes[k], 1232);
		unsigned found = 0;
		CHECK(c != NULL);
		CHECK(dns_pcache_capacity(c) <= sizes[k]);
		CHECK(dns_pcache_capacity(c) >= sizes[k] - 4096);
		for (int i = 0; i < 300; i++)
			put(c, "b", i, 300, 10, false);
		for (int i = 0; i < 300; i++)
			found += has(c, "b", i, 11);
		CHECK(found >= 290);
		dns_pcache_free(c);
	}
}

static void test_not_stored(void)
{
	struct dns_pcache *c = dns_pcache_new(0, 100);
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

/* Store "NAME-I.example." A with @ttl at @now; returns its lookup result at @now. */
static bool put(struct dns_pcache *c, const char *prefix, int i, uint32_t ttl, uint64_t now,
		bool read_back)
{
	struct dns_query q;
	uint8_t pkt[300], buf[512];
	struct dns_answer ans = {.wire = buf, .cap = sizeof(buf)}, hit;
	uint32_t age;
	char name[64];

	snprintf(name, sizeof(name), "%s-%d.example.", prefix, i);
	mkquery(&q, pkt, name, DNS_TYPE_A, false, false);
	mkanswer(&ans, &q, ttl, (uint8_t)i);
	dns_pcache_store(c, &q, &ans, now);
	return read_back && dns_pcache_lookup(c, &q, now, &hit, &age) &&
	       answer_octet(&hit) == (uint8_t)i;
}

static bool has(struct dns_pcache *c, const char *prefix, int i, uint64_t now)
{
	struct dns_query q;
	uint8_t pkt[300];
	struct dns_answer hit;
	uint32_t age;
	char name[64];

	snprintf(name, sizeof(name), "%s-%d.example.", prefix, i);
	mkquery(&q, pkt, name, DNS_TYPE_A, false, false);
	return dns_pcache_lookup(c, &q, now, &hit, &age) && answer_octet(&hit) == (uint8_t)i;
}

/* Entries take what the answer needs: 1 MiB holds far more small answers than the 512 slots
 * of 2 KiB it would have held before, and a 1200-byte body fits too. */
static void test_sizes(void)
{
	enum { N = 2000 };
	struct dns_pcache *c = dns_pcache_new(1u << 20, 1232);
	unsigned found = 0;

	CHECK(c != NULL);
	CHECK_EQ(dns_pcache_used(c), 0);
	for (int i = 0; i < N; i++)
		put(c, "small", i, 300, 10, false);
	size_t used = dns_pcache_used(c);
	/* About 90 bytes per entry (32 header, one TTL offset, a 50-byte body with its question).
	 */
	CHECK(used > N * 64 && used < N * 160);
	for (int i = 0; i < N; i++)
		found += has(c, "small", i, 11);
	/* A few may share a full 8-way index bucket with others; nearly all are there. */
	CHECK(found >= N * 98 / 100);

	struct dns_query q;
	uint8_t pkt[300], buf[1232];
	struct dns_answer ans = {.wire = buf, .cap = sizeof(buf)}, hit;
	uint32_t age;
	struct dns_writer w;
	mkquery(&q, pkt, "big.example.", DNS_TYPE_TXT, false, false);
	CHECK_EQ(dns_writer_init(&w, &ans, &q, 0, false), C2W_OK);
	uint8_t txt[250];
	memset(txt, 'a', sizeof(txt));
	txt[0] = 249;
	for (int i = 0; i < 4; i++)
		CHECK_EQ(dns_writer_add_rr(&w, DNS_SECTION_ANSWER, q.qname, DNS_TYPE_TXT, 1, 300,
					   txt, sizeof(txt)),
			 C2W_OK);
	CHECK_EQ(dns_writer_finish(&w), C2W_OK);
	CHECK(ans.len > 1000);
	ans.tag = 7;
	dns_pcache_store(c, &q, &ans, 10);
	CHECK(dns_pcache_lookup(c, &q, 10, &hit, &age));
	CHECK_EQ(hit.len, ans.len);
	CHECK_EQ(hit.ttl_count, 4);
	CHECK_EQ(hit.tag, 7); /* the policy generation that checked the body */
	CHECK(memcmp(hit.wire, buf, ans.len) == 0);
	dns_pcache_clear(c);
	CHECK_EQ(dns_pcache_used(c), 0);
	CHECK(!dns_pcache_lookup(c, &q, 10, &hit, &age));
	dns_pcache_free(c);
}

/* One-offs go oldest first; a name asked for again is kept over them; the budget holds. */
static void test_eviction_order(void)
{
	struct dns_pcache *c = dns_pcache_new(64 * 1024, 1232);
	unsigned newest = 0;

	CHECK(put(c, "kept", 0, 100, 10, true)); /* stored and asked for: a second chance */
	for (int i = 0; i < 3000; i++) {
		put(c, "once", i, 100, 10 + (uint64_t)i / 100, false);
		CHECK(dns_pcache_used(c) <= 64 * 1024);
	}
	CHECK(!has(c, "once", 0, 40));
	CHECK(!has(c, "once", 1, 40));
	for (int i = 2900; i < 3000; i++)
		newest += has(c, "once", i, 40);
	CHECK(newest >= 95);
	CHECK(has(c, "kept", 0, 40));
	dns_pcache_free(c);
}

/* An expired entry that was asked for is still "seen" (the water-torture defence lets such
 * names through); a refresh keeps that, and a replaced body keeps the new tag. */
static void test_ttl_seen_tag(void)
{
	struct dns_pcache *c = dns_pcache_new(0, 1232);
	struct dns_query q;
	uint8_t pkt[300], buf[512];
	struct dns_answer ans = {.wire = buf, .cap = sizeof(buf)}, hit;
	uint32_t age;

	mkquery(&q, pkt, "ttl.example.", DNS_TYPE_A, false, false);
	mkanswer(&ans, &q, 30, 1);
	ans.tag = 3;
	dns_pcache_store(c, &q, &ans, 100);
	CHECK(!dns_pcache_seen(c, &q));
	CHECK(dns_pcache_lookup(c, &q, 129, &hit, &age));
	CHECK_EQ(age, 29);
	CHECK_EQ(hit.tag, 3);
	CHECK(!dns_pcache_lookup(c, &q, 130, &hit, &age));
	CHECK(dns_pcache_seen(c, &q));
	mkanswer(&ans, &q, 30, 2);
	ans.tag = 4;
	dns_pcache_store(c, &q, &ans, 200);
	CHECK(dns_pcache_seen(c, &q));
	CHECK(dns_pcache_lookup(c, &q, 200, &hit, &age));
	CHECK_EQ(answer_octet(&hit), 2);
	CHECK_EQ(hit.tag, 4);
	dns_pcache_free(c);
}

/* When every entry was asked for, new names still get in: after a run of stores that found
 * no room, the cache ages and drops the least asked-for entries. */
static void test_aging(void)
{
	struct dns_pcache *c = dns_pcache_new(64 * 1024, 1232);
	int stored = 0;
	bool fresh = false;

	for (int i = 0; i < 3000; i++) /* fills and refills; every one read once */
		stored += put(c, "pop", i, 1000, 10, true);
	CHECK(stored > 300);
	for (int i = 0; i < 5000 && !fresh; i++)
		fresh = put(c, "new", i, 1000, 11, true);
	CHECK(fresh);
	dns_pcache_free(c);
}

/* Many laps of the ring with answers of mixed sizes, reads in between (second chances move
 * entries, some wrap at the ring's end): every hit returns the body stored for its key. */
static void test_random_integrity(void)
{
	enum { KEYS = 3000, OPS = 40000 };
	struct dns_pcache *c = dns_pcache_new(96 * 1024, 1232);
	uint8_t pkt[300], buf[1232], txt[256];
	struct dns_query q;
	struct dns_answer ans = {.wire = buf, .cap = sizeof(buf)}, hit;
	uint32_t age, x = 12345;
	unsigned hits = 0, bad = 0;
	char name[64];

	for (int op = 0; op < OPS; op++) {
		x = x * 1103515245u + 12345u;
		int k = (int)((x >> 8) % KEYS);
		/* Key k's body: k % 4 + 1 TXT records of (k * 7) % 250 + 1 bytes, filled with k. */
		snprintf(name, sizeof(name), "k%d.mixed.example.", k);
		mkquery(&q, pkt, name, DNS_TYPE_TXT, false, false);
		if ((x >> 4) & 1) {
			if (dns_pcache_lookup(c, &q, 10, &hit, &age)) {
				hits++;
				size_t dl = (size_t)(k * 7) % 250 + 1;
				bad += hit.ttl_count != k % 4 + 1 ||
				       hit.wire[hit.len - 1] != (dl > 1 ? (uint8_t)k : 0) ||
				       hit.len < (k % 4 + 1) * (dl + 11);
			}
			continue;
		}
		struct dns_writer w;
		size_t dl = (size_t)(k * 7) % 250 + 1;
		memset(txt, (uint8_t)k, sizeof(txt));
		txt[0] = (uint8_t)(dl - 1);
		CHECK_EQ(dns_writer_init(&w, &ans, &q, 0, false), C2W_OK);
		for (int r = 0; r < k % 4 + 1; r++)
			CHECK_EQ(dns_writer_add_rr(&w, DNS_SECTION_ANSWER, q.qname, DNS_TYPE_TXT, 1,
						   300, txt, dl),
				 C2W_OK);
		CHECK_EQ(dns_writer_finish(&w), C2W_OK);
		dns_pcache_store(c, &q, &ans, 10);
		CHECK(dns_pcache_used(c) <= 96 * 1024);
	}
	CHECK(hits > 1000);
	CHECK_EQ(bad, 0);
	dns_pcache_free(c);
}

/* A flood of one-off names (each stored once, never read) must not evict names that are read:
 * the water-torture case of issue 8. 100 hot names, then 20x the cache size in junk. */
static void test_flood_keeps_hot(void)
{
	enum { HOT = 100, JUNK = 20 * 1024 };
	struct dns_pcache *c = dns_pcache_new(128 * 1024, 512);
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

/* The index grows with the entries (linear hashing), up to its share of the budget: every
 * entry stays findable across the splits, and a clear starts it small again. */
static void test_index_grows(void)
{
	enum { N = 20000 };
	struct dns_pcache *c = dns_pcache_new(16u << 20, 1232);
	uint8_t buf[1232];
	struct dns_answer ans = {.wire = buf, .cap = sizeof(buf)};
	struct dns_query q;
	uint8_t pkt[300];
	char name[64];
	unsigned found = 0;

	CHECK(c != NULL);
	size_t start = dns_pcache_index_bytes(c);
	CHECK(start <= 4096);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "grow-%d.example.", i);
		mkquery(&q, pkt, name, DNS_TYPE_A, i % 3 == 0, false);
		mkanswer(&ans, &q, 300, (uint8_t)i);
		dns_pcache_store(c, &q, &ans, 1);
		if (i == 999) {
			/* 1,000 entries: about 64 bytes of index each, far below the 2 MiB it may take. */
			CHECK(dns_pcache_index_bytes(c) >= 1000 * 64);
			CHECK(dns_pcache_index_bytes(c) <= 1100 * 64);
		}
	}
	size_t grown = dns_pcache_index_bytes(c);
	CHECK(grown > start);
	CHECK(grown <= dns_pcache_capacity(c) / 6);
	struct dns_answer hit;
	uint32_t age;
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "grow-%d.example.", i);
		mkquery(&q, pkt, name, DNS_TYPE_A, i % 3 == 0, false);
		found += dns_pcache_lookup(c, &q, 2, &hit, &age) && answer_octet(&hit) == (uint8_t)i;
	}
	CHECK_EQ(found, N);
	dns_pcache_clear(c);
	CHECK_EQ(dns_pcache_index_bytes(c), start);
	CHECK_EQ(dns_pcache_used(c), 0);
	snprintf(name, sizeof(name), "grow-%d.example.", 7);
	mkquery(&q, pkt, name, DNS_TYPE_A, false, false);
	CHECK(!dns_pcache_lookup(c, &q, 2, &hit, &age));
	mkanswer(&ans, &q, 300, 7);
	dns_pcache_store(c, &q, &ans, 3);
	CHECK(dns_pcache_lookup(c, &q, 4, &hit, &age) && answer_octet(&hit) == 7);
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
	struct dns_pcache *c = dns_pcache_new(8u << 20, 1232);
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

TEST_MAIN(TEST(test_hit_miss_expiry), TEST(test_do_neutral), TEST(test_budgets),
	  TEST(test_not_stored), TEST(test_sizes), TEST(test_eviction_order),
	  TEST(test_ttl_seen_tag), TEST(test_aging), TEST(test_random_integrity),
	  TEST(test_flood_keeps_hot), TEST(test_index_grows), TEST(test_many_hits))
