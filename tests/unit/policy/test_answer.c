/* SPDX-License-Identifier: MIT */
/* Rewritten answers: rcode, records, TTLs, SOA in additional, EDE, never AD. */
#include "dns/wire.h"
#include "test.h"
#include "util.h"

#define HDR "$TTL 60\n@ 3600 SOA ns. h. 1 2 3 4 30\n"

struct out {
	uint8_t wire[1500];
	struct dns_answer ans;
};

static int answer(struct policy_snap *s, const char *name, uint16_t qtype, struct out *o,
		  struct policy_hit *h)
{
	struct dns_query q = mkq(name, qtype);
	memset(o, 0, sizeof(*o));
	o->ans.wire = o->wire;
	o->ans.cap = sizeof(o->wire);
	if (policy_match_query(s, &q, NULL, h, NULL) == POLICY_VERDICT_NONE)
		return -1;
	return policy_answer_build(s, &q, h, NULL, 0, &o->ans);
}

/* Offset of the first record after the question. */
static size_t first_rr(const struct out *o)
{
	size_t p = 12;
	while (o->wire[p])
		p += o->wire[p] + 1u;
	return p + 5;
}

static void test_nxdomain_nodata(void)
{
	struct policy_zone_spec z = rpz_zone("c2.rpz.example.", HDR "nx.example CNAME .\n"
								 "nd.example CNAME *.\n");
	z.ede_filtered = true;
	struct policy_snap *s = build(&z, 1);
	struct out o;
	struct policy_hit h;
	CHECK_EQ(answer(s, "nx.example.", DNS_TYPE_A, &o, &h), C2W_OK);
	CHECK_EQ(o.wire[3] & 0x0f, DNS_RCODE_NXDOMAIN);
	CHECK_EQ(dns_get16(o.wire + 6), 0); /* answer */
	CHECK_EQ(dns_get16(o.wire + 8), 0); /* authority */
	CHECK_EQ(dns_get16(o.wire + 10), 1); /* additional: SOA */
	CHECK(!o.ans.secure);
	CHECK_EQ(o.ans.ede_code, DNS_EDE_FILTERED);
	CHECK(strstr(o.ans.ede_text, "c2.rpz.example") != NULL);
	size_t p = first_rr(&o);
	/* owner c2.rpz.example. (maybe compressed), then type SOA and TTL min(3600, 30) */
	while (o.wire[p] && (o.wire[p] & 0xc0) != 0xc0)
		p += o.wire[p] + 1u;
	p += (o.wire[p] & 0xc0) ? 2 : 1;
	CHECK_EQ(dns_get16(o.wire + p), DNS_TYPE_SOA);
	CHECK_EQ(dns_get32(o.wire + p + 4), 30);
	CHECK_EQ(answer(s, "nd.example.", DNS_TYPE_A, &o, &h), C2W_OK);
	CHECK_EQ(o.wire[3] & 0x0f, DNS_RCODE_NOERROR);
	CHECK_EQ(dns_get16(o.wire + 6), 0);
	CHECK_EQ(dns_get16(o.wire + 10), 1);
	policy_snap_free(s);
}

static void test_local_data(void)
{
	struct policy_zone_spec z = rpz_zone("rpz.", HDR "l.example 120 A 192.0.2.53\n"
						       "l.example 120 AAAA 2001:db8::53\n"
						       "l.example 120 TXT \"blocked\"\n");
	struct policy_snap *s = build(&z, 1);
	struct out o;
	struct policy_hit h;
	CHECK_EQ(answer(s, "l.example.", DNS_TYPE_A, &o, &h), C2W_OK);
	CHECK_EQ(dns_get16(o.wire + 6), 1);
	size_t p = first_rr(&o);
	p += (o.wire[p] & 0xc0) ? 2 : 11; /* owner l.example. */
	CHECK_EQ(dns_get16(o.wire + p), DNS_TYPE_A);
	CHECK_EQ(dns_get32(o.wire + p + 4), 120);
	CHECK_EQ(o.wire[p + 10], 192);
	CHECK_EQ(o.wire[p + 13], 53);
	CHECK_EQ(answer(s, "l.example.", DNS_TYPE_TXT, &o, &h), C2W_OK);
	CHECK_EQ(dns_get16(o.wire + 6), 1);
	/* a type the rule has no data for: NODATA */
	CHECK_EQ(answer(s, "l.example.", DNS_TYPE_MX, &o, &h), C2W_OK);
	CHECK_EQ(dns_get16(o.wire + 6), 0);
	CHECK_EQ(o.wire[3] & 0x0f, DNS_RCODE_NOERROR);
	CHECK_EQ(answer(s, "l.example.", DNS_TYPE_ANY, &o, &h), C2W_OK);
	CHECK_EQ(dns_get16(o.wire + 6), 3);
	policy_snap_free(s);
}

static void test_cname_forms(void)
{
	struct policy_zone_spec z = rpz_zone("rpz.", HDR "c.example CNAME sinkhole.isp.example.\n"
						       "*.w.example CNAME *.garden.isp.example.\n"
						       "d.example CNAME rpz-drop.\n");
	struct policy_snap *s = build(&z, 1);
	struct out o;
	struct policy_hit h;
	CHECK_EQ(answer(s, "c.example.", DNS_TYPE_A, &o, &h), C2W_OK);
	CHECK_EQ(h.action, POLICY_ACTION_CNAME);
	CHECK_EQ(dns_get16(o.wire + 6), 1);
	size_t p = first_rr(&o);
	p += (o.wire[p] & 0xc0) ? 2 : 11;
	CHECK_EQ(dns_get16(o.wire + p), DNS_TYPE_CNAME);
	CHECK_EQ(dns_get32(o.wire + p + 4), 60);
	CHECK(memcmp(o.wire + p + 10, "\010sinkhole\003isp", 13) == 0); /* then example., maybe compressed */
	CHECK_EQ(answer(s, "a.w.example.", DNS_TYPE_A, &o, &h), C2W_OK);
	CHECK_EQ(h.action, POLICY_ACTION_CNAME_WILD);
	p = first_rr(&o);
	p += (o.wire[p] & 0xc0) ? 2 : 13;
	CHECK_EQ(dns_get16(o.wire + p), DNS_TYPE_CNAME);
	/* target a.w.example.garden.isp.example. : first labels spelled out */
	CHECK(memcmp(o.wire + p + 10, "\001a\001w\007example\006garden", 19) == 0 ||
	      (o.wire[p + 10] == 1 && o.wire[p + 11] == 'a'));
	CHECK_EQ(answer(s, "d.example.", DNS_TYPE_A, &o, &h), C2W_EINVAL); /* DROP: nothing */
	policy_snap_free(s);
}

static void test_sinkhole_override(void)
{
	struct policy_zone_spec z = rpz_zone("rpz.", HDR "s.example CNAME .\n");
	z.override = POLICY_OVERRIDE_SINKHOLE;
	z.has_sinkhole4 = true;
	z.sinkhole4[0] = 192, z.sinkhole4[1] = 0, z.sinkhole4[2] = 2, z.sinkhole4[3] = 99;
	struct policy_snap *s = build(&z, 1);
	struct out o;
	struct policy_hit h;
	CHECK_EQ(answer(s, "s.example.", DNS_TYPE_A, &o, &h), C2W_OK);
	CHECK_EQ(h.action, POLICY_ACTION_SINKHOLE);
	CHECK_EQ(dns_get16(o.wire + 6), 1);
	CHECK_EQ(answer(s, "s.example.", DNS_TYPE_AAAA, &o, &h), C2W_OK);
	CHECK_EQ(dns_get16(o.wire + 6), 0); /* no v6 sinkhole: NODATA */
	policy_snap_free(s);
}

static void test_chain_prefix(void)
{
	struct policy_zone_spec z = rpz_zone("rpz.", HDR "cc.evil.example CNAME .\n");
	struct policy_snap *s = build(&z, 1);
	struct dns_query q = mkq("www.good.example.", DNS_TYPE_A);
	struct msgb m;
	struct policy_hit h;
	struct out o;
	memset(&h, 0, sizeof(h));
	msg_start(&m, "www.good.example.", DNS_TYPE_A);
	msg_name_rr(&m, 0, "www.good.example.", DNS_TYPE_CNAME, "cc.evil.example.");
	msg_addr_rr(&m, 0, "cc.evil.example.", "198.51.100.1");
	CHECK(policy_match_response(s, &q, NULL, m.buf, m.len, &h, NULL));
	memset(&o, 0, sizeof(o));
	o.ans.wire = o.wire;
	o.ans.cap = sizeof(o.wire);
	CHECK_EQ(policy_answer_build(s, &q, &h, m.buf, m.len, &o.ans), C2W_OK);
	CHECK_EQ(o.wire[3] & 0x0f, DNS_RCODE_NXDOMAIN);
	CHECK_EQ(dns_get16(o.wire + 6), 1); /* the CNAME into the blocked name stays */
	policy_snap_free(s);
}

/* A DNAME in the chain stays with the CNAME synthesized from it (issue 13). */
static void test_chain_keeps_dname(void)
{
	struct policy_zone_spec z = rpz_zone("rpz.", HDR "h1.target.example CNAME .\n");
	struct policy_snap *s = build(&z, 1);
	struct dns_query q = mkq("h1.dn.alias.example.", DNS_TYPE_A);
	struct msgb m;
	struct policy_hit h;
	struct out o;
	memset(&h, 0, sizeof(h));
	msg_start(&m, "h1.dn.alias.example.", DNS_TYPE_A);
	msg_name_rr(&m, 0, "dn.alias.example.", DNS_TYPE_DNAME, "target.example.");
	msg_name_rr(&m, 0, "h1.dn.alias.example.", DNS_TYPE_CNAME, "h1.target.example.");
	msg_addr_rr(&m, 0, "h1.target.example.", "198.51.100.1");
	CHECK(policy_match_response(s, &q, NULL, m.buf, m.len, &h, NULL));
	CHECK_EQ(h.chain_pos, 1);
	memset(&o, 0, sizeof(o));
	o.ans.wire = o.wire;
	o.ans.cap = sizeof(o.wire);
	CHECK_EQ(policy_answer_build(s, &q, &h, m.buf, m.len, &o.ans), C2W_OK);
	CHECK_EQ(o.wire[3] & 0x0f, DNS_RCODE_NXDOMAIN);
	CHECK_EQ(dns_get16(o.wire + 6), 2); /* DNAME + synthesized CNAME */
	policy_snap_free(s);
}

TEST_MAIN(TEST(test_nxdomain_nodata), TEST(test_local_data), TEST(test_cname_forms),
	  TEST(test_sinkhole_override), TEST(test_chain_prefix), TEST(test_chain_keeps_dname))
