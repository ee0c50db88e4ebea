/* SPDX-License-Identifier: MIT */
/*
 * dns/reply.h: the RRL identity of responses built with our own writer and renderer
 * (positive: qname+qtype; NXDOMAIN/NODATA: SOA owner, else the parent; errors), and the
 * slipped reply (TC=1 with the OPT kept, or BADCOOKIE split between header and OPT).
 */
#include "dns/iter.h"
#include "dns/msg.h"
#include "dns/name.h"
#include "dns/reply.h"
#include "dns/writer.h"
#include "test.h"

/* "WWW.Example.test." A, with EDNS when @edns. */
static size_t make_query(uint8_t *pkt, bool edns)
{
	static const uint8_t q[] = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
				    3,    'W',  'W',  'W',  7, 'E', 'x', 'a', 'm', 'p', 'l', 'e',
				    4,    't',  'e',  's',  't', 0, 0, 1, 0, 1};
	memcpy(pkt, q, sizeof(q));
	size_t n = sizeof(q);
	if (edns) {
		static const uint8_t opt[] = {0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0};
		pkt[11] = 1;
		memcpy(pkt + n, opt, sizeof(opt));
		n += sizeof(opt);
	}
	return n;
}

static const uint8_t ZONE[] = "\7example\4test";
static const uint8_t QNAME[] = "\3www\7example\4test";

/* Render a response with @rcode; an A record when @answer, the zone's SOA when @soa. */
static int build(bool edns, uint8_t rcode, bool answer, bool soa, uint8_t *out, size_t cap,
		 struct dns_query *q)
{
	uint8_t pkt[128], wire[1024];
	struct dns_answer ans = {.wire = wire, .cap = sizeof(wire)};
	struct dns_writer w;
	static const uint8_t addr[4] = {192, 0, 2, 1};
	uint8_t soa_rd[64];
	size_t n = 0;

	if (dns_query_parse(pkt, make_query(pkt, edns), q) != C2W_OK)
		return -1;
	if (dns_writer_init(&w, &ans, q, rcode, false) != C2W_OK)
		return -1;
	if (answer && dns_writer_add_rr(&w, DNS_SECTION_ANSWER, q->qname, DNS_TYPE_A, DNS_CLASS_IN,
					60, addr, 4) != C2W_OK)
		return -1;
	if (soa) {
		memcpy(soa_rd, "\2ns\0\2hm\0", 8); /* mname "ns.", rname "hm." */
		n = 8;
		memset(soa_rd + n, 0, 20);
		n += 20;
		if (dns_writer_add_rr(&w, DNS_SECTION_AUTHORITY, ZONE, DNS_TYPE_SOA, DNS_CLASS_IN,
				      60, soa_rd, n) != C2W_OK)
			return -1;
	}
	if (dns_writer_finish(&w) != C2W_OK)
		return -1;
	return dns_answer_render(q, &ans, 0, 1232, cap, out, cap);
}

static void test_classify(void)
{
	uint8_t out[1024];
	struct dns_query q;
	struct dns_reply_info info;

	int len = build(true, DNS_RCODE_NOERROR, true, false, out, sizeof(out), &q);
	CHECK(len > 0 && dns_reply_classify(out, (size_t)len, &info) == C2W_OK);
	CHECK_EQ(info.kind, DNS_REPLY_ANSWER);
	CHECK_EQ(info.qtype, DNS_TYPE_A);
	CHECK(dns_name_equal(info.name, QNAME) && memcmp(info.name, QNAME, sizeof(QNAME)) == 0);

	len = build(true, DNS_RCODE_NXDOMAIN, false, true, out, sizeof(out), &q);
	CHECK(len > 0 && dns_reply_classify(out, (size_t)len, &info) == C2W_OK);
	CHECK_EQ(info.kind, DNS_REPLY_NXDOMAIN);
	CHECK(memcmp(info.name, ZONE, sizeof(ZONE)) == 0);

	len = build(false, DNS_RCODE_NOERROR, false, true, out, sizeof(out), &q);
	CHECK(len > 0 && dns_reply_classify(out, (size_t)len, &info) == C2W_OK);
	CHECK_EQ(info.kind, DNS_REPLY_NODATA);
	CHECK(memcmp(info.name, ZONE, sizeof(ZONE)) == 0);

	/* No SOA (a policy NXDOMAIN): the qname's parent. */
	len = build(true, DNS_RCODE_NXDOMAIN, false, false, out, sizeof(out), &q);
	CHECK(len > 0 && dns_reply_classify(out, (size_t)len, &info) == C2W_OK);
	CHECK_EQ(info.kind, DNS_REPLY_NXDOMAIN);
	CHECK(memcmp(info.name, ZONE, sizeof(ZONE)) == 0);

	len = build(true, DNS_RCODE_REFUSED, false, false, out, sizeof(out), &q);
	CHECK(len > 0 && dns_reply_classify(out, (size_t)len, &info) == C2W_OK);
	CHECK_EQ(info.kind, DNS_REPLY_ERROR);
	CHECK_EQ(info.name_len, 1);

	/* BADVERS: header RCODE 0, extended RCODE in the OPT: an error. */
	uint8_t pkt[128];
	make_query(pkt, true);
	CHECK(dns_query_parse(pkt, make_query(pkt, true), &q) == C2W_OK);
	q.edns_version = 1;
	len = dns_answer_render_badvers(&q, 1232, out, sizeof(out));
	CHECK(len > 0 && dns_reply_classify(out, (size_t)len, &info) == C2W_OK);
	CHECK_EQ(info.kind, DNS_REPLY_ERROR);

	CHECK_EQ(dns_reply_classify(out, 5, &info), C2W_EMALF);
}

static void test_slip(void)
{
	uint8_t out[1024];
	struct dns_query q;
	struct dns_iter it;
	struct dns_rr rr;

	/* With EDNS: TC=1, question and OPT kept, nothing else. */
	int len = build(true, DNS_RCODE_NOERROR, true, true, out, sizeof(out), &q);
	int n = dns_reply_slip(out, (size_t)len, false);
	CHECK(n > 0 && n < len);
	CHECK(out[2] & 0x02);
	CHECK_EQ(out[7] | out[9], 0);
	CHECK_EQ(out[11], 1);
	CHECK(dns_iter_init(&it, out, (size_t)n) == C2W_OK);
	CHECK(dns_iter_next(&it, &rr) == C2W_OK && rr.type == DNS_TYPE_OPT);
	CHECK(dns_iter_next(&it, &rr) == C2W_ENOENT && it.pos == (size_t)n);

	/* Without EDNS: header and question only. */
	len = build(false, DNS_RCODE_NXDOMAIN, false, true, out, sizeof(out), &q);
	n = dns_reply_slip(out, (size_t)len, true); /* no OPT: TC, not BADCOOKIE */
	CHECK_EQ(n, 12 + 18 + 4);
	CHECK(out[2] & 0x02);
	CHECK_EQ(out[3] & 0x0F, DNS_RCODE_NXDOMAIN);

	/* BADCOOKIE: RCODE 23 = header 7 + OPT extended 1, TC clear. */
	len = build(true, DNS_RCODE_NOERROR, true, false, out, sizeof(out), &q);
	n = dns_reply_slip(out, (size_t)len, true);
	CHECK(n > 0);
	CHECK(!(out[2] & 0x02));
	CHECK_EQ(out[3] & 0x0F, 7);
	CHECK(dns_iter_init(&it, out, (size_t)n) == C2W_OK);
	CHECK(dns_iter_next(&it, &rr) == C2W_OK && rr.type == DNS_TYPE_OPT);
	CHECK_EQ(rr.ttl >> 24, 1);
}

TEST_MAIN(TEST(test_classify), TEST(test_slip))
