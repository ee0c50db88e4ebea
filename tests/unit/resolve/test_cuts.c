/* SPDX-License-Identifier: MIT */
/*
 * The zone-cut cache (src/resolve/cuts.c): NS answers make cuts with names and glue, negative
 * answers make no-cut entries for the name and every name up to the SOA's zone, address
 * answers fill NS names, TTLs expire entries, the table stays within its size.
 */
#include <arpa/inet.h>

#include "dns/msg.h"
#include "resolve/cuts.h"
#include "test.h"

/* ---- a tiny message builder (uncompressed names) ---- */

struct msg {
	uint8_t b[4096];
	size_t len;
	unsigned counts[4]; /* qd, an, ns, ar */
};

static void wname(struct msg *m, const char *text)
{
	uint8_t w[DNS_NAME_WIRE_MAX];
	size_t wl;
	CHECK(dns_name_from_text(text, NULL, w, &wl) == C2W_OK);
	memcpy(m->b + m->len, w, wl);
	m->len += wl;
}

static void u16(struct msg *m, unsigned v)
{
	m->b[m->len++] = (uint8_t)(v >> 8);
	m->b[m->len++] = (uint8_t)v;
}

static void u32(struct msg *m, uint32_t v)
{
	u16(m, v >> 16);
	u16(m, v & 0xffff);
}

static void msg_start(struct msg *m, const char *qname, unsigned qtype, unsigned rcode)
{
	memset(m, 0, sizeof(*m));
	m->len = DNS_HEADER_LEN;
	m->b[2] = 0x81;
	m->b[3] = (uint8_t)(0x80 | rcode);
	wname(m, qname);
	u16(m, qtype);
	u16(m, 1);
	m->counts[0] = 1;
}

/* @sec 1..3; @rdata: "name" for NS/CNAME, an address for A/AAAA, "zone" for SOA. */
static void rr(struct msg *m, int sec, const char *owner, unsigned type, uint32_t ttl,
	       const char *rdata)
{
	wname(m, owner);
	u16(m, type);
	u16(m, 1);
	u32(m, ttl);
	size_t at = m->len;
	u16(m, 0);
	if (type == DNS_TYPE_A) {
		CHECK(inet_pton(AF_INET, rdata, m->b + m->len) == 1);
		m->len += 4;
	} else if (type == DNS_TYPE_AAAA) {
		CHECK(inet_pton(AF_INET6, rdata, m->b + m->len) == 1);
		m->len += 16;
	} else if (type == DNS_TYPE_SOA) {
		wname(m, rdata);
		wname(m, rdata);
		for (int i = 0; i < 4; i++)
			u32(m, 3600);
		u32(m, 300); /* MINIMUM */
	} else {
		wname(m, rdata);
	}
	size_t rdlen = m->len - at - 2;
	m->b[at] = (uint8_t)(rdlen >> 8);
	m->b[at + 1] = (uint8_t)rdlen;
	m->counts[sec]++;
}

static const uint8_t *msg_end(struct msg *m)
{
	for (int i = 0; i < 4; i++) {
		m->b[4 + 2 * i] = (uint8_t)(m->counts[i] >> 8);
		m->b[5 + 2 * i] = (uint8_t)m->counts[i];
	}
	return m->b;
}

static const uint8_t *wire(const char *text)
{
	static uint8_t w[8][DNS_NAME_WIRE_MAX];
	static int k;
	size_t wl;
	uint8_t *out = w[k++ % 8];
	CHECK(dns_name_from_text(text, NULL, out, &wl) == C2W_OK);
	return out;
}

/* ---- tests ---- */

static void test_ns_answer_makes_cut(void)
{
	struct resolve_cuts *c = resolve_cuts_new(64);
	struct msg m;
	msg_start(&m, "b.a.tld.", DNS_TYPE_NS, 0);
	rr(&m, 1, "b.a.tld.", DNS_TYPE_NS, 600, "ns1.b.a.tld.");
	rr(&m, 1, "B.A.tld.", DNS_TYPE_NS, 300, "NS.Hoster.NET.");
	rr(&m, 3, "ns1.b.a.tld.", DNS_TYPE_A, 600, "192.0.2.1");
	rr(&m, 3, "ns1.b.a.tld.", DNS_TYPE_AAAA, 600, "2001:db8::1");
	rr(&m, 3, "other.tld.", DNS_TYPE_A, 600, "192.0.2.9"); /* not an NS name: ignored */
	const uint8_t *pkt = msg_end(&m);
	CHECK(resolve_cuts_find(c, wire("b.a.tld."), 100) == NULL);
	const struct resolve_cut *e =
	    resolve_cuts_learn_ns(c, wire("b.a.tld."), 0, pkt, m.len, 100);
	CHECK(e != NULL && e->is_cut && !e->failed);
	CHECK_EQ(e->ns_count, 2);
	CHECK(dns_name_equal(resolve_cut_ns(e, 1), wire("ns.hoster.net.")));
	CHECK_EQ(resolve_cut_ns(e, 1)[1], 'n'); /* lower-cased */
	CHECK_EQ(e->addr_count, 2);
	CHECK_EQ(e->addrs[0].ns, 0);
	/* ns1 has glue of both types; ns.hoster.net needs A, then AAAA. */
	uint16_t qt = 0;
	CHECK(!resolve_cut_wants(e, 0, &qt));
	CHECK(resolve_cut_wants(e, 1, &qt) && qt == DNS_TYPE_A);
	/* The smallest TTL of the RRset bounds the entry. */
	CHECK(resolve_cuts_find(c, wire("b.a.tld."), 399) != NULL);
	CHECK(resolve_cuts_find(c, wire("b.a.tld."), 400) == NULL);
	resolve_cuts_free(c);
}

static void test_addresses(void)
{
	struct resolve_cuts *c = resolve_cuts_new(64);
	struct msg m;
	msg_start(&m, "a.tld.", DNS_TYPE_NS, 0);
	rr(&m, 1, "a.tld.", DNS_TYPE_NS, 3600, "ns.hoster.net.");
	const uint8_t *pkt = msg_end(&m);
	(void)resolve_cuts_learn_ns(c, wire("a.tld."), 0, pkt, m.len, 10);
	/* A: two addresses, TTL 100, and one of a CNAME's target, which BIND does not use. */
	msg_start(&m, "ns.hoster.net.", DNS_TYPE_A, 0);
	rr(&m, 1, "ns.hoster.net.", DNS_TYPE_A, 100, "198.51.100.7");
	rr(&m, 1, "ns.hoster.net.", DNS_TYPE_A, 100, "198.51.100.8");
	rr(&m, 1, "box.hoster.net.", DNS_TYPE_A, 100, "198.51.100.9");
	pkt = msg_end(&m);
	resolve_cuts_learn_addr(c, wire("a.tld."), 0, DNS_TYPE_A, 0, pkt, m.len, 10);
	/* AAAA: NODATA. */
	msg_start(&m, "ns.hoster.net.", DNS_TYPE_AAAA, 0);
	rr(&m, 2, "hoster.net.", DNS_TYPE_SOA, 300, "hoster.net.");
	pkt = msg_end(&m);
	resolve_cuts_learn_addr(c, wire("a.tld."), 0, DNS_TYPE_AAAA, 0, pkt, m.len, 10);
	const struct resolve_cut *e = resolve_cuts_find(c, wire("a.tld."), 10);
	uint16_t qt;
	CHECK(e != NULL && !resolve_cut_wants(e, 0, &qt));
	CHECK_EQ(e->addr_count, 2);
	CHECK_EQ(e->ns_failed[0], 0);
	CHECK_EQ(e->addrs[1].family, AF_INET);
	CHECK_EQ(e->addrs[1].addr[3], 8);
	/* The addresses' TTL shortens the entry. */
	CHECK(resolve_cuts_find(c, wire("a.tld."), 109) != NULL);
	CHECK(resolve_cuts_find(c, wire("a.tld."), 110) == NULL);
	/* A failed look-up is marked, and the entry is asked again soon. */
	(void)resolve_cuts_learn_ns(c, wire("a.tld."), 0, m.b, 0, 200); /* unreadable: no cut */
	msg_start(&m, "a.tld.", DNS_TYPE_NS, 0);
	rr(&m, 1, "a.tld.", DNS_TYPE_NS, 3600, "ns.hoster.net.");
	pkt = msg_end(&m);
	(void)resolve_cuts_learn_ns(c, wire("a.tld."), 0, pkt, m.len, 200);
	resolve_cuts_learn_addr(c, wire("a.tld."), 0, DNS_TYPE_A, DNS_RCODE_SERVFAIL, NULL, 0, 200);
	e = resolve_cuts_find(c, wire("a.tld."), 200);
	CHECK(e != NULL && e->ns_failed[0] == RESOLVE_CUT_HAVE_A);
	CHECK(resolve_cuts_find(c, wire("a.tld."), 200 + RESOLVE_CUT_TTL_FAIL) == NULL);
	/* An entry that is gone takes nothing (no crash, no new entry). */
	resolve_cuts_learn_addr(c, wire("gone.tld."), 0, DNS_TYPE_A, 0, pkt, m.len, 10);
	CHECK(resolve_cuts_find(c, wire("gone.tld."), 10) == NULL);
	resolve_cuts_free(c);
}

static void test_negative_answers(void)
{
	struct resolve_cuts *c = resolve_cuts_new(64);
	struct msg m;
	/* NODATA for x.y.b.a.tld NS from zone a.tld: no cut at x.y.b.a.tld, y.b.a.tld, b.a.tld;
	 * a.tld itself stays unknown. Negative TTL = min(SOA TTL, MINIMUM) = 300. */
	msg_start(&m, "x.y.b.a.tld.", DNS_TYPE_NS, 0);
	rr(&m, 2, "a.tld.", DNS_TYPE_SOA, 900, "a.tld.");
	const uint8_t *pkt = msg_end(&m);
	const struct resolve_cut *e =
	    resolve_cuts_learn_ns(c, wire("x.y.b.a.tld."), 0, pkt, m.len, 0);
	CHECK(e != NULL && !e->is_cut && !e->failed);
	CHECK(resolve_cuts_find(c, wire("y.b.a.tld."), 0) != NULL);
	CHECK(resolve_cuts_find(c, wire("b.a.tld."), 0) != NULL);
	CHECK(resolve_cuts_find(c, wire("a.tld."), 0) == NULL);
	CHECK(resolve_cuts_find(c, wire("b.a.tld."), 300) == NULL);
	/* NXDOMAIN likewise. */
	msg_start(&m, "nx.q.tld.", DNS_TYPE_NS, DNS_RCODE_NXDOMAIN);
	rr(&m, 2, "tld.", DNS_TYPE_SOA, 60, "tld.");
	pkt = msg_end(&m);
	e = resolve_cuts_learn_ns(c, wire("nx.q.tld."), DNS_RCODE_NXDOMAIN, pkt, m.len, 0);
	CHECK(e != NULL && !e->is_cut);
	CHECK(resolve_cuts_find(c, wire("q.tld."), 59) != NULL);
	/* A CNAME at the name: no cut, for the CNAME's TTL. */
	msg_start(&m, "alias.tld.", DNS_TYPE_NS, 0);
	rr(&m, 1, "alias.tld.", DNS_TYPE_CNAME, 42, "a.tld.");
	rr(&m, 1, "a.tld.", DNS_TYPE_NS, 3600, "ns.a.tld.");
	pkt = msg_end(&m);
	e = resolve_cuts_learn_ns(c, wire("alias.tld."), 0, pkt, m.len, 0);
	CHECK(e != NULL && !e->is_cut);
	CHECK(resolve_cuts_find(c, wire("alias.tld."), 42) == NULL);
	/* SERVFAIL: remembered as a failure, briefly. */
	e = resolve_cuts_learn_ns(c, wire("dead.tld."), DNS_RCODE_SERVFAIL, NULL, 0, 0);
	CHECK(e != NULL && e->failed && !e->is_cut);
	CHECK(resolve_cuts_find(c, wire("dead.tld."), RESOLVE_CUT_TTL_FAIL) == NULL);
	resolve_cuts_free(c);
}

static void test_malformed(void)
{
	struct resolve_cuts *c = resolve_cuts_new(16);
	uint8_t junk[64];
	for (size_t n = 0; n < sizeof(junk); n++) {
		memset(junk, 0xc0, sizeof(junk));
		const struct resolve_cut *e =
		    resolve_cuts_learn_ns(c, wire("j.tld."), 0, junk, n, 0);
		CHECK(e != NULL && !e->is_cut);
		resolve_cuts_learn_addr(c, wire("j.tld."), 0, DNS_TYPE_A, 0, junk, n, 0);
	}
	resolve_cuts_free(c);
}

static void test_bounded(void)
{
	struct resolve_cuts *c = resolve_cuts_new(40);
	char name[64];
	CHECK_EQ(resolve_cuts_capacity(c), 40);
	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "n%d.tld.", i);
		resolve_cuts_put_nocut(c, wire(name), 1000 + (uint32_t)i % 7, 0);
	}
	unsigned live = 0;
	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "n%d.tld.", i);
		live += resolve_cuts_find(c, wire(name), 1) != NULL;
	}
	CHECK(live <= 40 && live >= 20);
	CHECK(resolve_cuts_stats(c)->evictions >= 960);
	/* The TTL is capped. */
	resolve_cuts_put_nocut(c, wire("long.tld."), 86400, 0);
	CHECK(resolve_cuts_find(c, wire("long.tld."), RESOLVE_CUT_TTL_MAX) == NULL);
	resolve_cuts_reset(c);
	CHECK(resolve_cuts_find(c, wire("n999.tld."), 1) == NULL);
	resolve_cuts_free(c);
	resolve_cuts_free(NULL);
}

/* A flood of "no cut" entries does not push out the cuts. */
static void test_cuts_kept(void)
{
	struct resolve_cuts *c = resolve_cuts_new(8);
	struct msg m;
	char name[64];
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "z%d.tld.", i);
		msg_start(&m, name, DNS_TYPE_NS, 0);
		rr(&m, 1, name, DNS_TYPE_NS, 600, "ns.hoster.net.");
		const uint8_t *pkt = msg_end(&m);
		(void)resolve_cuts_learn_ns(c, wire(name), 0, pkt, m.len, 0);
	}
	for (int i = 0; i < 500; i++) {
		snprintf(name, sizeof(name), "n%d.z1.tld.", i);
		resolve_cuts_put_nocut(c, wire(name), 3000, 0);
	}
	unsigned cuts = 0;
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "z%d.tld.", i);
		const struct resolve_cut *e = resolve_cuts_find(c, wire(name), 1);
		cuts += e != NULL && e->is_cut;
	}
	/* 2 sets of 4 ways: at most 3 cuts per set leave room for a name (the set's 4th way). */
	CHECK(cuts >= 3);
	resolve_cuts_free(c);
}

static void test_many_ns(void)
{
	struct resolve_cuts *c = resolve_cuts_new(8);
	struct msg m;
	char ns[64];
	msg_start(&m, "big.tld.", DNS_TYPE_NS, 0);
	for (int i = 0; i < 20; i++) {
		snprintf(ns, sizeof(ns), "ns%d.big.tld.", i);
		rr(&m, 1, "big.tld.", DNS_TYPE_NS, 600, ns);
	}
	const uint8_t *pkt = msg_end(&m);
	const struct resolve_cut *e = resolve_cuts_learn_ns(c, wire("big.tld."), 0, pkt, m.len, 0);
	CHECK(e != NULL && e->is_cut && e->trimmed);
	CHECK_EQ(e->ns_count, RESOLVE_CUT_NS_MAX);
	resolve_cuts_free(c);
}

TEST_MAIN(TEST(test_ns_answer_makes_cut), TEST(test_addresses), TEST(test_negative_answers),
	  TEST(test_malformed), TEST(test_bounded), TEST(test_cuts_kept), TEST(test_many_ns))
