/* SPDX-License-Identifier: MIT */
/*
 * Matching and precedence: every competing pair of rules prescribes a different action, so
 * the test can tell which one won.
 */
#include "test.h"
#include "util.h"

#define HDR "$TTL 60\n@ SOA ns. h. 1 2 3 4 5\n NS ns.\n"

static enum policy_verdict mq(struct policy_snap *s, const char *name, const char *client,
			      struct policy_hit *hit)
{
	struct dns_query q = mkq(name, DNS_TYPE_A);
	struct sockaddr_storage ss;
	if (client != NULL)
		ss = mkaddr(client);
	return policy_match_query(s, &q, client ? (struct sockaddr *)&ss : NULL, hit, NULL);
}

static void test_zone_order(void)
{
	struct policy_zone_spec z[2] = {
		rpz_zone("one.rpz.", HDR "x.example CNAME *.\n"),
		rpz_zone("two.rpz.", HDR "x.example CNAME .\ny.example CNAME .\n"),
	};
	struct policy_snap *s = build(z, 2);
	struct policy_hit h;
	CHECK_EQ(mq(s, "x.example.", NULL, &h), POLICY_VERDICT_ACT);
	CHECK_EQ(h.action, POLICY_ACTION_NODATA);
	CHECK_EQ(h.zone, 0);
	CHECK_STREQ(h.zone_name, "one.rpz.");
	CHECK_EQ(mq(s, "y.example.", NULL, &h), POLICY_VERDICT_ACT);
	CHECK_EQ(h.action, POLICY_ACTION_NXDOMAIN);
	CHECK_EQ(h.zone, 1);
	CHECK_EQ(mq(s, "z.example.", NULL, &h), POLICY_VERDICT_NONE);
	CHECK_EQ(h.action, POLICY_ACTION_NONE);
	policy_snap_free(s);
}

static void test_client_ip_before_qname(void)
{
	struct policy_zone_spec z = rpz_zone(
		"rpz.", HDR "x.example CNAME .\n24.0.2.0.192.rpz-client-ip CNAME rpz-drop.\n"
			    "32.7.2.0.192.rpz-client-ip CNAME rpz-tcp-only.\n"
			    "64.zz.1.0.db8.2001.rpz-client-ip CNAME rpz-passthru.\n");
	struct policy_snap *s = build(&z, 1);
	struct policy_hit h;
	CHECK_EQ(mq(s, "x.example.", "192.0.2.9", &h), POLICY_VERDICT_ACT);
	CHECK_EQ(h.action, POLICY_ACTION_DROP);
	CHECK_EQ(h.trigger, POLICY_TRIGGER_CLIENT_IP);
	CHECK_STREQ(h.match, "192.0.2.0/24");
	CHECK_EQ(h.prefix_bits, 24);
	/* longest prefix wins */
	CHECK_EQ(mq(s, "other.example.", "192.0.2.7", &h), POLICY_VERDICT_ACT);
	CHECK_EQ(h.action, POLICY_ACTION_TCP_ONLY);
	CHECK_EQ(mq(s, "x.example.", "198.51.100.1", &h), POLICY_VERDICT_ACT);
	CHECK_EQ(h.action, POLICY_ACTION_NXDOMAIN);
	CHECK_EQ(h.trigger, POLICY_TRIGGER_QNAME);
	CHECK_EQ(mq(s, "x.example.", "2001:db8:0:1::5", &h), POLICY_VERDICT_ACT);
	CHECK_EQ(h.action, POLICY_ACTION_PASSTHRU);
	CHECK_STREQ(h.match, "2001:db8:0:1::/64");
	/* v4-mapped v6 client counts as v4 */
	CHECK_EQ(mq(s, "x.example.", "::ffff:192.0.2.7", &h), POLICY_VERDICT_ACT);
	CHECK_EQ(h.action, POLICY_ACTION_TCP_ONLY);
	CHECK_EQ(mq(s, "x.example.", "2001:db8:0:2::5", &h), POLICY_VERDICT_ACT);
	CHECK_EQ(h.action, POLICY_ACTION_NXDOMAIN);
	policy_snap_free(s);
}

/* policy_match_client(): policy_match_query() for a name no QNAME rule matches. */
static void test_client_only(void)
{
	struct policy_zone_spec z[2] = {
		rpz_zone("log.rpz.", HDR "32.9.2.0.192.rpz-client-ip CNAME .\n"),
		rpz_zone("rpz.", HDR "x.example CNAME .\n24.0.2.0.192.rpz-client-ip CNAME rpz-drop.\n"),
	};
	z[0].override = POLICY_OVERRIDE_LOG;
	struct policy_snap *s = build(z, 2);
	CHECK(policy_snap_has_client_rules(s));
	const char *clients[] = {"192.0.2.9", "192.0.2.10", "198.51.100.1", "::ffff:192.0.2.3",
				 "2001:db8::1"};
	for (size_t i = 0; i < sizeof(clients) / sizeof(clients[0]); i++) {
		struct sockaddr_storage ss = mkaddr(clients[i]);
		struct dns_query q = mkq("other.example.", DNS_TYPE_A);
		struct policy_hit h1, s1, h2, s2;
		enum policy_verdict v1 =
		    policy_match_query(s, &q, (struct sockaddr *)&ss, &h1, &s1);
		enum policy_verdict v2 = policy_match_client(s, (struct sockaddr *)&ss, &h2, &s2);
		CHECK_EQ(v1, v2);
		CHECK_EQ(h1.action, h2.action);
		CHECK_EQ(s1.action, s2.action);
		if (h1.action != POLICY_ACTION_NONE)
			CHECK_STREQ(h1.match, h2.match);
	}
	struct sockaddr_storage ss = mkaddr("192.0.2.9");
	struct policy_hit h, sh;
	CHECK_EQ(policy_match_client(s, (struct sockaddr *)&ss, &h, &sh), POLICY_VERDICT_ACT);
	CHECK_EQ(h.action, POLICY_ACTION_DROP);
	CHECK_EQ(sh.action, POLICY_ACTION_NXDOMAIN); /* the log-only zone's rule, reported */
	policy_snap_free(s);
	struct policy_zone_spec plain = rpz_zone("rpz.", HDR "x.example CNAME .\n");
	s = build(&plain, 1);
	CHECK(!policy_snap_has_client_rules(s));
	CHECK_EQ(policy_match_client(s, (struct sockaddr *)&ss, &h, &sh), POLICY_VERDICT_NONE);
	policy_snap_free(s);
}

static void test_exact_and_wildcards(void)
{
	struct policy_zone_spec z = rpz_zone(
		"rpz.example.", HDR "*.b.example CNAME .\n*.a.b.example CNAME *.\n"
				    "x.a.b.example CNAME rpz-drop.\n"
				    "a.b.example A 192.0.2.1\n");
	struct policy_snap *s = build(&z, 1);
	struct policy_hit h;
	CHECK_EQ(mq(s, "x.a.b.example.", NULL, &h), POLICY_VERDICT_ACT);
	CHECK_EQ(h.action, POLICY_ACTION_DROP);
	CHECK(!h.wildcard);
	CHECK_EQ(mq(s, "y.a.b.example.", NULL, &h), POLICY_VERDICT_ACT);
	CHECK_EQ(h.action, POLICY_ACTION_NODATA);
	CHECK(h.wildcard);
	CHECK_STREQ(h.match, "*.a.b.example.");
	CHECK_STREQ(h.matched, "y.a.b.example.");
	CHECK_EQ(mq(s, "deep.y.a.b.example.", NULL, &h), POLICY_VERDICT_ACT);
	CHECK_EQ(h.action, POLICY_ACTION_NODATA);
	CHECK_EQ(mq(s, "y.c.b.example.", NULL, &h), POLICY_VERDICT_ACT);
	CHECK_EQ(h.action, POLICY_ACTION_NXDOMAIN);
	CHECK_STREQ(h.match, "*.b.example.");
	CHECK_EQ(mq(s, "a.b.example.", NULL, &h), POLICY_VERDICT_ACT);
	CHECK_EQ(h.action, POLICY_ACTION_LOCAL_DATA);
	/* a wildcard does not match its own apex */
	CHECK_EQ(mq(s, "b.example.", NULL, &h), POLICY_VERDICT_NONE);
	/* case-insensitive */
	CHECK_EQ(mq(s, "X.A.B.Example.", NULL, &h), POLICY_VERDICT_ACT);
	CHECK_EQ(h.action, POLICY_ACTION_DROP);
	policy_snap_free(s);
}

static void test_response_ip(void)
{
	struct policy_zone_spec z = rpz_zone(
		"rpz.", HDR "24.0.113.0.203.rpz-ip CNAME .\n32.9.113.0.203.rpz-ip CNAME *.\n"
			    "32.1.113.0.203.rpz-ip CNAME rpz-drop.\n32.2.113.0.203.rpz-ip CNAME rpz-tcp-only.\n"
			    "128.1.zz.db8.2001.rpz-ip CNAME rpz-drop.\n");
	struct policy_snap *s = build(&z, 1);
	struct dns_query q = mkq("www.example.", DNS_TYPE_A);
	struct policy_hit h;
	struct msgb m;

	CHECK(policy_snap_has_response_rules(s));
	CHECK_EQ(mq(s, "www.example.", NULL, &h), POLICY_VERDICT_NONE);
	msg_start(&m, "www.example.", DNS_TYPE_A);
	msg_addr_rr(&m, 0, "www.example.", "203.0.113.9");
	memset(&h, 0, sizeof(h));
	CHECK(policy_match_response(s, &q, NULL, m.buf, m.len, &h, NULL));
	CHECK_EQ(h.action, POLICY_ACTION_NODATA); /* /32 beats /24 */
	CHECK_EQ(h.trigger, POLICY_TRIGGER_RESPONSE_IP);
	CHECK_STREQ(h.matched, "203.0.113.9");

	msg_start(&m, "www.example.", DNS_TYPE_A);
	msg_addr_rr(&m, 0, "www.example.", "203.0.113.77");
	memset(&h, 0, sizeof(h));
	CHECK(policy_match_response(s, &q, NULL, m.buf, m.len, &h, NULL));
	CHECK_EQ(h.action, POLICY_ACTION_NXDOMAIN);
	CHECK_EQ(h.prefix_bits, 24);

	/* two /32 matches: the smaller address wins, whatever the record order */
	msg_start(&m, "www.example.", DNS_TYPE_A);
	msg_addr_rr(&m, 0, "www.example.", "203.0.113.2");
	msg_addr_rr(&m, 0, "www.example.", "203.0.113.1");
	memset(&h, 0, sizeof(h));
	CHECK(policy_match_response(s, &q, NULL, m.buf, m.len, &h, NULL));
	CHECK_EQ(h.action, POLICY_ACTION_DROP);

	msg_start(&m, "www.example.", DNS_TYPE_AAAA);
	msg_addr_rr(&m, 0, "www.example.", "2001:db8::1");
	memset(&h, 0, sizeof(h));
	CHECK(policy_match_response(s, &q, NULL, m.buf, m.len, &h, NULL));
	CHECK_EQ(h.action, POLICY_ACTION_DROP);

	msg_start(&m, "www.example.", DNS_TYPE_A);
	msg_addr_rr(&m, 0, "www.example.", "198.51.100.1");
	memset(&h, 0, sizeof(h));
	CHECK(!policy_match_response(s, &q, NULL, m.buf, m.len, &h, NULL));
	CHECK_EQ(h.action, POLICY_ACTION_NONE);
	policy_snap_free(s);
}

static void test_wait_recurse(void)
{
	/* zone 1 has an IP rule, zone 2 a QNAME rule: the QNAME hit must wait for the answer. */
	struct policy_zone_spec z[2] = {
		rpz_zone("ip.rpz.", HDR "24.0.113.0.203.rpz-ip CNAME *.\n"),
		rpz_zone("name.rpz.", HDR "bad.example CNAME .\n"),
	};
	struct policy_snap *s = build(z, 2);
	struct dns_query q = mkq("bad.example.", DNS_TYPE_A);
	struct policy_hit h;
	struct msgb m;
	CHECK_EQ(mq(s, "bad.example.", NULL, &h), POLICY_VERDICT_RECURSE);
	CHECK_EQ(h.action, POLICY_ACTION_NXDOMAIN);
	msg_start(&m, "bad.example.", DNS_TYPE_A);
	msg_addr_rr(&m, 0, "bad.example.", "203.0.113.5");
	CHECK(policy_match_response(s, &q, NULL, m.buf, m.len, &h, NULL));
	CHECK_EQ(h.action, POLICY_ACTION_NODATA);
	CHECK_EQ(h.zone, 0);
	/* an answer elsewhere keeps the pending QNAME hit */
	CHECK_EQ(mq(s, "bad.example.", NULL, &h), POLICY_VERDICT_RECURSE);
	msg_start(&m, "bad.example.", DNS_TYPE_A);
	msg_addr_rr(&m, 0, "bad.example.", "198.51.100.5");
	CHECK(!policy_match_response(s, &q, NULL, m.buf, m.len, &h, NULL));
	CHECK_EQ(h.action, POLICY_ACTION_NXDOMAIN);
	policy_snap_free(s);

	/* reversed order: the QNAME rule acts at once and no later IP rule can beat it */
	struct policy_zone_spec r[2] = {z[1], z[0]};
	s = build(r, 2);
	CHECK_EQ(mq(s, "bad.example.", NULL, &h), POLICY_VERDICT_ACT);
	msg_start(&m, "bad.example.", DNS_TYPE_A);
	msg_addr_rr(&m, 0, "bad.example.", "203.0.113.5");
	CHECK(!policy_match_response(s, &q, NULL, m.buf, m.len, &h, NULL));
	CHECK_EQ(h.action, POLICY_ACTION_NXDOMAIN);
	policy_snap_free(s);
}

static void test_cname_chain(void)
{
	struct policy_zone_spec z = rpz_zone("rpz.", HDR "cc.evil.example CNAME *.\n"
							  "mid.example CNAME rpz-drop.\n");
	struct policy_snap *s = build(&z, 1);
	struct dns_query q = mkq("www.good.example.", DNS_TYPE_A);
	struct policy_hit h;
	struct msgb m;
	CHECK_EQ(mq(s, "www.good.example.", NULL, &h), POLICY_VERDICT_NONE);
	msg_start(&m, "www.good.example.", DNS_TYPE_A);
	msg_name_rr(&m, 0, "www.good.example.", DNS_TYPE_CNAME, "cdn.example.");
	msg_name_rr(&m, 0, "cdn.example.", DNS_TYPE_CNAME, "cc.evil.example.");
	msg_addr_rr(&m, 0, "cc.evil.example.", "198.51.100.1");
	CHECK(policy_match_response(s, &q, NULL, m.buf, m.len, &h, NULL));
	CHECK_EQ(h.action, POLICY_ACTION_NODATA);
	CHECK_EQ(h.chain_pos, 2);
	CHECK_STREQ(h.matched, "cc.evil.example.");
	/* the first name in the chain that matches wins within one zone */
	msg_start(&m, "www.good.example.", DNS_TYPE_A);
	msg_name_rr(&m, 0, "www.good.example.", DNS_TYPE_CNAME, "mid.example.");
	msg_name_rr(&m, 0, "mid.example.", DNS_TYPE_CNAME, "cc.evil.example.");
	memset(&h, 0, sizeof(h));
	CHECK(policy_match_response(s, &q, NULL, m.buf, m.len, &h, NULL));
	CHECK_EQ(h.action, POLICY_ACTION_DROP);
	CHECK_EQ(h.chain_pos, 1);
	policy_snap_free(s);
}

/*
 * BIND restarts at every name of a CNAME chain: the first name with a hit in any zone acts,
 * even against a zone ranked higher for a later name (issue 13).
 */
static void test_chain_first_name_wins(void)
{
	struct policy_zone_spec z[2] = {rpz_zone("one.", HDR "far.example CNAME rpz-drop.\n"),
					rpz_zone("two.", HDR "mid.example CNAME .\n")};
	struct policy_snap *s = build(z, 2);
	struct dns_query q = mkq("x.example.", DNS_TYPE_A);
	struct policy_hit h;
	struct msgb m;
	memset(&h, 0, sizeof(h));
	msg_start(&m, "x.example.", DNS_TYPE_A);
	msg_name_rr(&m, 0, "x.example.", DNS_TYPE_CNAME, "mid.example.");
	msg_name_rr(&m, 0, "mid.example.", DNS_TYPE_CNAME, "far.example.");
	msg_addr_rr(&m, 0, "far.example.", "198.51.100.1");
	CHECK(policy_match_response(s, &q, NULL, m.buf, m.len, &h, NULL));
	CHECK_EQ(h.action, POLICY_ACTION_NXDOMAIN);
	CHECK_EQ(h.zone, 1);
	CHECK_EQ(h.chain_pos, 1);
	/* A hit on the query name itself (zone 2) stays against zone 1's hit further down. */
	q = mkq("mid.example.", DNS_TYPE_A);
	CHECK_EQ(mq(s, "mid.example.", NULL, &h), POLICY_VERDICT_ACT);
	msg_start(&m, "mid.example.", DNS_TYPE_A);
	msg_name_rr(&m, 0, "mid.example.", DNS_TYPE_CNAME, "far.example.");
	CHECK(!policy_match_response(s, &q, NULL, m.buf, m.len, &h, NULL));
	CHECK_EQ(h.zone, 1);
	/* A CNAME (or ANY) question is answered at its own name: the chain is not followed. */
	q = mkq("x.example.", DNS_TYPE_CNAME);
	memset(&h, 0, sizeof(h));
	msg_start(&m, "x.example.", DNS_TYPE_CNAME);
	msg_name_rr(&m, 0, "x.example.", DNS_TYPE_CNAME, "mid.example.");
	CHECK(!policy_match_response(s, &q, NULL, m.buf, m.len, &h, NULL));
	policy_snap_free(s);
}

/*
 * BIND looks a name up in a policy zone as in a DNS zone: a wildcard covers only names whose
 * closest existing node is its parent, and an empty non-terminal matches nothing (issue 13).
 */
static void test_wildcard_closest_encloser(void)
{
	struct policy_zone_spec z[2] = {
	    rpz_zone("one.", HDR "*.example CNAME .\na.b.example CNAME rpz-passthru.\n"
				 "*.w.example CNAME *.\nh.w.example A 192.0.2.1\n"),
	    rpz_zone("two.", HDR "*.example CNAME rpz-drop.\n")};
	struct policy_snap *s = build(z, 2);
	struct policy_hit h;
	CHECK_EQ(mq(s, "c.example.", NULL, &h), POLICY_VERDICT_ACT);
	CHECK_EQ(h.action, POLICY_ACTION_NXDOMAIN);
	/* b.example exists in zone one (empty non-terminal): zone one has no rule for it or
	 * anything below it but a.b.example; zone two's wildcard acts. */
	CHECK_EQ(mq(s, "b.example.", NULL, &h), POLICY_VERDICT_ACT);
	CHECK_EQ(h.action, POLICY_ACTION_DROP);
	CHECK_EQ(h.zone, 1);
	CHECK_EQ(mq(s, "x.b.example.", NULL, &h), POLICY_VERDICT_ACT);
	CHECK_EQ(h.zone, 1);
	CHECK_EQ(mq(s, "x.a.b.example.", NULL, &h), POLICY_VERDICT_ACT);
	CHECK_EQ(h.zone, 1);
	CHECK_EQ(mq(s, "a.b.example.", NULL, &h), POLICY_VERDICT_ACT);
	CHECK_EQ(h.action, POLICY_ACTION_PASSTHRU);
	/* the closest encloser w.example has its own wildcard; h.w.example is a node */
	CHECK_EQ(mq(s, "y.w.example.", NULL, &h), POLICY_VERDICT_ACT);
	CHECK_EQ(h.action, POLICY_ACTION_NODATA);
	CHECK_EQ(mq(s, "y.h.w.example.", NULL, &h), POLICY_VERDICT_ACT);
	CHECK_EQ(h.zone, 1);
	/* w.example itself: a node of zone one (no wildcard match at its own name) */
	CHECK_EQ(mq(s, "w.example.", NULL, &h), POLICY_VERDICT_ACT);
	CHECK_EQ(h.zone, 1);
	policy_snap_free(s);
}

static void test_ns_triggers(void)
{
	struct policy_zone_spec z = rpz_zone(
		"rpz.", HDR "ns1.bad-ns.example.rpz-nsdname CNAME .\n*.bullet.example.rpz-nsdname CNAME *.\n"
			    "32.66.100.51.198.rpz-nsip CNAME rpz-drop.\n");
	struct policy_snap *s = build(&z, 1);
	struct dns_query q = mkq("www.hosted.example.", DNS_TYPE_A);
	struct policy_hit h;
	struct msgb m;
	msg_start(&m, "www.hosted.example.", DNS_TYPE_A);
	msg_addr_rr(&m, 0, "www.hosted.example.", "192.0.2.1");
	msg_name_rr(&m, 1, "hosted.example.", DNS_TYPE_NS, "ns.fine.example.");
	msg_name_rr(&m, 1, "hosted.example.", DNS_TYPE_NS, "ns1.bad-ns.example.");
	memset(&h, 0, sizeof(h));
	CHECK(policy_match_response(s, &q, NULL, m.buf, m.len, &h, NULL));
	CHECK_EQ(h.trigger, POLICY_TRIGGER_NSDNAME);
	CHECK_EQ(h.action, POLICY_ACTION_NXDOMAIN);

	/* NSDNAME beats NSIP in one zone */
	msg_start(&m, "www.hosted.example.", DNS_TYPE_A);
	msg_name_rr(&m, 1, "hosted.example.", DNS_TYPE_NS, "a.bullet.example.");
	msg_addr_rr(&m, 2, "a.bullet.example.", "198.51.100.66");
	memset(&h, 0, sizeof(h));
	CHECK(policy_match_response(s, &q, NULL, m.buf, m.len, &h, NULL));
	CHECK_EQ(h.trigger, POLICY_TRIGGER_NSDNAME);
	CHECK_EQ(h.action, POLICY_ACTION_NODATA);

	msg_start(&m, "www.hosted.example.", DNS_TYPE_A);
	msg_name_rr(&m, 1, "hosted.example.", DNS_TYPE_NS, "ns.fine.example.");
	msg_addr_rr(&m, 2, "ns.fine.example.", "198.51.100.66");
	memset(&h, 0, sizeof(h));
	CHECK(policy_match_response(s, &q, NULL, m.buf, m.len, &h, NULL));
	CHECK_EQ(h.trigger, POLICY_TRIGGER_NSIP);
	CHECK_EQ(h.action, POLICY_ACTION_DROP);

	/* the worker's direct feed */
	uint8_t ns[256];
	size_t nl;
	CHECK_EQ(dns_name_from_text("NS1.Bad-NS.example.", NULL, ns, &nl), C2W_OK);
	struct sockaddr_storage a = mkaddr("198.51.100.66");
	memset(&h, 0, sizeof(h));
	CHECK(policy_match_ns(s, &q, NULL, (struct sockaddr *)&a, &h, NULL));
	CHECK_EQ(h.action, POLICY_ACTION_DROP);
	CHECK(policy_match_ns(s, &q, ns, NULL, &h, NULL));
	CHECK_EQ(h.action, POLICY_ACTION_NXDOMAIN);
	policy_snap_free(s);
}

/* Name-server hits for the n-th chain name rank at chain position n (BIND restarts there). */
static void test_ns_chain_positions(void)
{
	struct policy_zone_spec z[2] = {
		rpz_zone("one.rpz.", HDR "end.example CNAME .\n"),
		rpz_zone("two.rpz.", HDR "ns.mid.example.rpz-nsdname CNAME rpz-tcp-only.\n"
					 "32.9.2.0.192.rpz-nsip CNAME rpz-drop.\n"),
	};
	struct policy_snap *s = build(z, 2);
	struct dns_query q = mkq("start.example.", DNS_TYPE_A);
	struct policy_hit h;
	struct msgb m;
	uint8_t ns[256];
	size_t nl;
	const uint8_t *names[1] = {ns};
	struct policy_ns_addr a = {AF_INET, {192, 0, 2, 9}};
	CHECK_EQ(dns_name_from_text("ns.mid.example.", NULL, ns, &nl), C2W_OK);

	/* start -> mid -> end: zone one's QNAME hit for "end" is at chain position 2 */
	msg_start(&m, "start.example.", DNS_TYPE_A);
	msg_name_rr(&m, 0, "start.example.", DNS_TYPE_CNAME, "mid.example.");
	msg_name_rr(&m, 0, "mid.example.", DNS_TYPE_CNAME, "end.example.");
	memset(&h, 0, sizeof(h));
	CHECK(policy_match_response(s, &q, NULL, m.buf, m.len, &h, NULL));
	CHECK_EQ(h.chain_pos, 2);
	CHECK_EQ(h.zone, 0);
	/* zone two's NSDNAME hit at "mid" (position 1) comes first, whatever the zone order */
	CHECK(policy_nsip_wanted(s, &h, 1, AF_INET));
	CHECK(policy_match_ns_all(s, &q, 1, names, 1, NULL, 0, &h, NULL));
	CHECK_EQ(h.chain_pos, 1);
	CHECK_EQ(h.trigger, POLICY_TRIGGER_NSDNAME);
	CHECK_EQ(h.action, POLICY_ACTION_TCP_ONLY);
	/* ... and a later chain name's name servers cannot take it back */
	CHECK(!policy_match_ns_all(s, &q, 2, NULL, 0, &a, 1, &h, NULL));
	CHECK_EQ(h.chain_pos, 1);
	/* an NSIP hit at position 0 would */
	CHECK(policy_match_ns_all(s, &q, 0, NULL, 0, &a, 1, &h, NULL));
	CHECK_EQ(h.chain_pos, 0);
	CHECK_EQ(h.action, POLICY_ACTION_DROP);
	/* with the query name's own hit in zone one, zone two's NSIP is no longer wanted */
	memset(&h, 0, sizeof(h));
	h.action = POLICY_ACTION_NXDOMAIN;
	h.trigger = POLICY_TRIGGER_QNAME;
	h.zone = 0;
	CHECK(!policy_nsip_wanted(s, &h, 0, AF_INET));
	policy_snap_free(s);
}

static void test_shadow_and_overrides(void)
{
	struct policy_zone_spec z[3] = {
		rpz_zone("trial.rpz.", HDR "x.example CNAME .\n"),
		rpz_zone("over.rpz.", HDR "x.example CNAME *.\ny.example A 192.0.2.1\n"),
		rpz_zone("garden.rpz.", HDR "g.example CNAME .\n"),
	};
	z[0].override = POLICY_OVERRIDE_LOG;
	z[1].override = POLICY_OVERRIDE_TCP_ONLY;
	z[2].override = POLICY_OVERRIDE_CNAME;
	z[2].cname_target = "walled.isp.example.";
	struct policy_snap *s = build(z, 3);
	struct dns_query q = mkq("x.example.", DNS_TYPE_A);
	struct policy_hit h, sh;
	CHECK_EQ(policy_match_query(s, &q, NULL, &h, &sh), POLICY_VERDICT_ACT);
	CHECK_EQ(h.action, POLICY_ACTION_TCP_ONLY);
	CHECK_EQ(h.given, POLICY_ACTION_NODATA);
	CHECK_EQ(h.zone, 1);
	CHECK_EQ(sh.action, POLICY_ACTION_NXDOMAIN);
	CHECK(sh.shadow);
	CHECK_STREQ(sh.zone_name, "trial.rpz.");
	CHECK_EQ(mq(s, "g.example.", NULL, &h), POLICY_VERDICT_ACT);
	CHECK_EQ(h.action, POLICY_ACTION_CNAME);
	policy_snap_free(s);
}

static void test_never_block(void)
{
	struct policy_zone_spec z = rpz_zone(
		"rpz.", HDR "portal.isp.example CNAME .\n*.isp.example CNAME *.\n"
			    "evil.example CNAME .\n*.cdn.example CNAME .\n");
	const char *nb[] = {"portal.isp.example", "*.cdn.example.", "update.vendor.example"};
	struct policy_build_opts o = {.never_block = nb, .never_block_count = 3};
	struct policy_report rep;
	struct policy_snap *s = NULL;
	struct policy_hit h;
	memset(&rep, 0, sizeof(rep));
	CHECK_EQ(policy_snap_build(&z, 1, &o, &rep, &s), C2W_OK);
	CHECK_EQ(rep.zones[0].protected_dropped, 2); /* portal exact, *.cdn wildcard */
	CHECK_EQ(mq(s, "portal.isp.example.", NULL, &h), POLICY_VERDICT_NONE);
	CHECK_EQ(mq(s, "a.cdn.example.", NULL, &h), POLICY_VERDICT_NONE);
	CHECK_EQ(mq(s, "other.isp.example.", NULL, &h), POLICY_VERDICT_ACT); /* still blocked */
	CHECK_EQ(mq(s, "evil.example.", NULL, &h), POLICY_VERDICT_ACT);
	policy_snap_free(s);

	o.protect_mode = POLICY_PROTECT_REFUSE;
	s = NULL;
	CHECK_EQ(policy_snap_build(&z, 1, &o, &rep, &s), C2W_EPROTECTED);
	CHECK(s == NULL);
	CHECK(strstr(rep.error, "portal.isp.example") != NULL ||
	      strstr(rep.error, "cdn.example") != NULL);
}

static void test_max_change(void)
{
	struct policy_zone_spec z = rpz_zone("rpz.", HDR "a.example CNAME .\nb.example CNAME .\n"
							 "c.example CNAME .\nd.example CNAME .\n");
	struct policy_snap *old = build(&z, 1);
	struct policy_zone_spec z2 = rpz_zone("rpz.", HDR "a.example CNAME .\n");
	struct policy_build_opts o = {.max_change = 0.5, .previous = old};
	struct policy_report rep;
	struct policy_snap *s = NULL;
	memset(&rep, 0, sizeof(rep));
	CHECK_EQ(policy_snap_build(&z2, 1, &o, &rep, &s), C2W_ERANGE);
	CHECK(s == NULL);
	CHECK(strstr(rep.error, "refused") != NULL);
	struct policy_zone_spec z3 = rpz_zone("rpz.", HDR "a.example CNAME .\nb.example CNAME .\n"
							  "c.example CNAME .\n");
	CHECK_EQ(policy_snap_build(&z3, 1, &o, &rep, &s), C2W_OK);
	policy_snap_free(s);
	policy_snap_free(old);
}

static void test_hosts_and_domains(void)
{
	struct policy_zone_spec z[2];
	memset(z, 0, sizeof(z));
	z[0].name = "hosts.";
	z[0].format = POLICY_FORMAT_HOSTS;
	z[0].file = tmp_feed("127.0.0.1 localhost\n0.0.0.0 bad.example # family=njrat\n"
			     "192.0.2.80 warn.example\n2001:db8::80 warn.example\n");
	z[1].name = "list.";
	z[1].format = POLICY_FORMAT_DOMAINS;
	z[1].file = tmp_feed("# list\nlisted.example\n*.below.example\n");
	struct policy_snap *s = build(z, 2);
	struct policy_hit h;
	CHECK_EQ(mq(s, "bad.example.", NULL, &h), POLICY_VERDICT_ACT);
	CHECK_EQ(h.action, POLICY_ACTION_NXDOMAIN);
	CHECK_STREQ(h.family, "njrat");
	CHECK_EQ(mq(s, "sub.bad.example.", NULL, &h), POLICY_VERDICT_NONE);
	CHECK_EQ(mq(s, "localhost.", NULL, &h), POLICY_VERDICT_NONE);
	CHECK_EQ(mq(s, "warn.example.", NULL, &h), POLICY_VERDICT_ACT);
	CHECK_EQ(h.action, POLICY_ACTION_LOCAL_DATA);
	CHECK_EQ(mq(s, "listed.example.", NULL, &h), POLICY_VERDICT_ACT);
	CHECK_EQ(mq(s, "a.listed.example.", NULL, &h), POLICY_VERDICT_ACT);
	CHECK_EQ(mq(s, "below.example.", NULL, &h), POLICY_VERDICT_NONE);
	CHECK_EQ(mq(s, "x.below.example.", NULL, &h), POLICY_VERDICT_ACT);
	CHECK_STREQ(h.zone_name, "list.");
	policy_snap_free(s);
}

static void test_metadata(void)
{
	struct policy_zone_spec z = rpz_zone(
		"rpz.", HDR "m.example CNAME . ; category=phishing family=qakbot first-seen=2026-01-02\n"
			    "n.example CNAME .\n");
	z.category = "c2";
	z.family = "generic";
	z.feed = "vendor-x";
	struct policy_snap *s = build(&z, 1);
	struct policy_hit h;
	CHECK_EQ(mq(s, "m.example.", NULL, &h), POLICY_VERDICT_ACT);
	CHECK_STREQ(h.category, "phishing");
	CHECK_STREQ(h.family, "qakbot");
	CHECK_STREQ(h.feed, "vendor-x");
	CHECK_EQ(h.first_seen, 1767312000); /* 2026-01-02T00:00:00Z */
	CHECK_EQ(mq(s, "n.example.", NULL, &h), POLICY_VERDICT_ACT);
	CHECK_STREQ(h.category, "c2");
	CHECK_STREQ(h.family, "generic");
	CHECK_EQ(h.first_seen, 0);
	CHECK_EQ(h.ede_code, DNS_EDE_BLOCKED);
	policy_snap_free(s);
}

TEST_MAIN(TEST(test_zone_order), TEST(test_client_ip_before_qname), TEST(test_client_only),
	  TEST(test_exact_and_wildcards),
	  TEST(test_response_ip), TEST(test_wait_recurse), TEST(test_cname_chain),
	  TEST(test_ns_triggers), TEST(test_ns_chain_positions), TEST(test_shadow_and_overrides),
	  TEST(test_never_block),
	  TEST(test_max_change), TEST(test_hosts_and_domains), TEST(test_metadata),
	  TEST(test_chain_first_name_wins), TEST(test_wildcard_closest_encloser))
