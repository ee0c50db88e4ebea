/* SPDX-License-Identifier: MIT */
/*
 * A compiled zone written back as RPZ records (policy/export.h): every trigger type's owner
 * name, every action's records, hosts and domain lists as RPZ, the zone override applied,
 * never-block names as passthru; and the zone lookup the worker does for each query.
 */
#include "policy/export.h"
#include "test.h"
#include "util.h"

struct dump {
	char lines[64][600]; /* owner and target up to 255 each, TTL, type */
	int n;
};

static int collect(void *ctx, const uint8_t *owner, size_t owner_len, uint16_t type, uint32_t ttl,
		   const uint8_t *rdata, uint16_t rdlen)
{
	struct dump *d = ctx;
	char o[256], t[256] = "";
	(void)owner_len;
	CHECK(dns_name_to_text(owner, o, sizeof(o)) > 0);
	if (type == DNS_TYPE_CNAME)
		CHECK(dns_name_to_text(rdata, t, sizeof(t)) > 0);
	else if (type == DNS_TYPE_A && rdlen == 4)
		inet_ntop(AF_INET, rdata, t, sizeof(t));
	else if (type == DNS_TYPE_AAAA && rdlen == 16)
		inet_ntop(AF_INET6, rdata, t, sizeof(t));
	if (d->n < 64)
		snprintf(d->lines[d->n++], sizeof(d->lines[0]), "%s %u %s %s", o, ttl,
			 type == DNS_TYPE_CNAME  ? "CNAME"
			 : type == DNS_TYPE_A    ? "A"
			 : type == DNS_TYPE_AAAA ? "AAAA"
						 : "?",
			 t);
	return C2W_OK;
}

static bool has(const struct dump *d, const char *line)
{
	for (int i = 0; i < d->n; i++)
		if (strcmp(d->lines[i], line) == 0)
			return true;
	fprintf(stderr, "missing: %s\n", line);
	return false;
}

static void test_export(void)
{
	const char *rpz = tmp_feed("$ORIGIN r.example.\n$TTL 60\n"
				   "@ SOA ns. host. 9 3600 600 86400 60\n@ NS localhost.\n"
				   "a.test CNAME .\n*.w.test CNAME *.\nd.test CNAME rpz-drop.\n"
				   "p.test CNAME rpz-passthru.\nt.test CNAME rpz-tcp-only.\n"
				   "g.test CNAME garden.example.\nh.test CNAME *.garden.example.\n"
				   "l.test A 10.1.1.1\nl.test AAAA 2001:db8::1\n"
				   "24.0.2.0.192.rpz-client-ip CNAME .\n"
				   "48.zz.db8.2001.rpz-ip CNAME .\n"
				   "128.1.zz.db8.2001.rpz-client-ip CNAME rpz-drop.\n"
				   "ns.evil.rpz-nsdname CNAME .\n32.1.0.0.10.rpz-nsip CNAME .\n");
	const char *hosts = tmp_feed("0.0.0.0 blk.test\n10.2.2.2 loc.test\n");
	const char *doms = tmp_feed("dom.test\n*.below.test\nsafe.test\n");
	struct policy_zone_spec z[3] = {
	    {.name = "r.example.", .file = rpz},
	    {.name = "h.example.", .file = hosts, .format = POLICY_FORMAT_HOSTS},
	    {.name = "d.example.",
	     .file = doms,
	     .format = POLICY_FORMAT_DOMAINS,
	     .override = POLICY_OVERRIDE_SINKHOLE,
	     .has_sinkhole4 = true,
	     .sinkhole4 = {192, 0, 2, 80}},
	};
	const char *nb[] = {"safe.test."};
	struct policy_build_opts o = {.never_block = nb, .never_block_count = 1};
	struct policy_snap *s = NULL;
	CHECK_EQ(policy_snap_build(z, 3, &o, NULL, &s), C2W_OK);
	if (s == NULL)
		return;
	struct dump d = {.n = 0};
	CHECK_EQ(policy_export_zone(s, 0, collect, &d), C2W_OK);
	CHECK(has(&d, "a.test.r.example. 60 CNAME ."));
	CHECK(has(&d, "*.w.test.r.example. 60 CNAME *."));
	CHECK(has(&d, "d.test.r.example. 60 CNAME rpz-drop."));
	CHECK(has(&d, "p.test.r.example. 60 CNAME rpz-passthru."));
	CHECK(has(&d, "t.test.r.example. 60 CNAME rpz-tcp-only."));
	CHECK(has(&d, "g.test.r.example. 60 CNAME garden.example."));
	CHECK(has(&d, "h.test.r.example. 60 CNAME *.garden.example."));
	CHECK(has(&d, "l.test.r.example. 60 A 10.1.1.1"));
	CHECK(has(&d, "l.test.r.example. 60 AAAA 2001:db8::1"));
	CHECK(has(&d, "24.0.2.0.192.rpz-client-ip.r.example. 60 CNAME ."));
	CHECK(has(&d, "48.zz.db8.2001.rpz-ip.r.example. 60 CNAME ."));
	CHECK(has(&d, "ns.evil.rpz-nsdname.r.example. 60 CNAME ."));
	CHECK(has(&d, "32.1.0.0.10.rpz-nsip.r.example. 60 CNAME ."));
	CHECK(has(&d, "safe.test.r.example. 60 CNAME rpz-passthru."));
	CHECK(has(&d, "128.1.zz.db8.2001.rpz-client-ip.r.example. 60 CNAME rpz-drop."));
	CHECK_EQ(d.n, 15);
	const uint8_t *rd;
	uint16_t rdlen;
	uint32_t ttl;
	CHECK(policy_snap_zone_soa(s, 0, &rd, &rdlen, &ttl));
	CHECK(!policy_snap_zone_soa(s, 1, &rd, &rdlen, &ttl)); /* made up for the hosts file */

	d.n = 0;
	CHECK_EQ(policy_export_zone(s, 1, collect, &d), C2W_OK);
	CHECK(has(&d, "blk.test.h.example. 300 CNAME ."));
	CHECK(has(&d, "loc.test.h.example. 300 A 10.2.2.2"));
	d.n = 0;
	/* Domain list under "policy: sinkhole". The never-block name's own rule is gone and it
	 * is served as passthru; names below it stay blocked, as in c2wall. */
	CHECK_EQ(policy_export_zone(s, 2, collect, &d), C2W_OK);
	CHECK(has(&d, "dom.test.d.example. 300 A 192.0.2.80"));
	CHECK(has(&d, "*.dom.test.d.example. 300 A 192.0.2.80"));
	CHECK(has(&d, "*.below.test.d.example. 300 A 192.0.2.80"));
	CHECK(has(&d, "safe.test.d.example. 300 CNAME rpz-passthru."));
	CHECK(has(&d, "*.safe.test.d.example. 300 A 192.0.2.80"));
	CHECK_EQ(d.n, 5);

	struct dns_query q = mkq("x.h.example.", DNS_TYPE_A);
	CHECK_EQ(policy_snap_zone_of(s, q.qname, q.qname_len), 1);
	q = mkq("h.example.", DNS_TYPE_SOA);
	CHECK_EQ(policy_snap_zone_of(s, q.qname, q.qname_len), 1);
	q = mkq("xh.example.", DNS_TYPE_A);
	CHECK_EQ(policy_snap_zone_of(s, q.qname, q.qname_len), -1);
	q = mkq("example.", DNS_TYPE_A);
	CHECK_EQ(policy_snap_zone_of(s, q.qname, q.qname_len), -1);
	CHECK_EQ(policy_export_zone(s, 3, collect, &d), C2W_EINVAL);
	policy_snap_free(s);
}

TEST_MAIN(TEST(test_export))
