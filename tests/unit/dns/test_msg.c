/* SPDX-License-Identifier: MIT */
/*
 * dns/msg.h, dns/writer.h, dns/iter.h: query parsing and FORMERR cases, EDNS, upstream
 * answers (compression, DNSSEC stripping, RFC 2308 TTL), rendering (case, TTL ageing, OPT,
 * EDE, truncation, BADVERS). Packets come from dnspython (packets.h, gen_packets.py) or are
 * built here byte by byte; rendered output is decoded again with our own parser.
 */
#include "dns/iter.h"
#include "dns/msg.h"
#include "dns/name.h"
#include "dns/writer.h"
#include "packets.h"
#include "test.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A decoded response: counts, flags, and the records in order. */
struct decoded {
	uint16_t id, flags, qd, an, ns, ar;
	unsigned count;
	struct dns_rr rr[160];
	int opt; /* index of the OPT record or -1 */
	struct dns_iter it;
};

static int decode(const uint8_t *pkt, size_t len, struct decoded *d)
{
	int ret = dns_iter_init(&d->it, pkt, len);
	if (ret != C2W_OK)
		return ret;
	d->id = get16(pkt);
	d->flags = get16(pkt + 2);
	d->qd = get16(pkt + 4);
	d->an = get16(pkt + 6);
	d->ns = get16(pkt + 8);
	d->ar = get16(pkt + 10);
	d->count = 0;
	d->opt = -1;
	while (d->count < ARRAY_LEN(d->rr) &&
	       (ret = dns_iter_next(&d->it, &d->rr[d->count])) == 0) {
		if (d->rr[d->count].type == DNS_TYPE_OPT)
			d->opt = (int)d->count;
		d->count++;
	}
	if (ret != C2W_ENOENT)
		return ret;
	/* The iterator must have consumed exactly the message. */
	return d->it.pos == len ? C2W_OK : C2W_EMALF;
}

static void parse_ok(const uint8_t *pkt, size_t len, struct dns_query *q)
{
	CHECK_EQ(dns_query_parse(pkt, len, q), C2W_OK);
}

static void test_query_plain(void)
{
	struct dns_query q;

	parse_ok(pkt_q_plain, sizeof(pkt_q_plain), &q);
	CHECK_EQ(q.id, 0x1234);
	CHECK_EQ(q.opcode, DNS_OPCODE_QUERY);
	CHECK(q.rd);
	CHECK(!q.cd);
	CHECK(q.has_question);
	CHECK_EQ(q.qtype, DNS_TYPE_A);
	CHECK_EQ(q.qclass, DNS_CLASS_IN);
	CHECK_EQ(q.qname_len, 17);
	CHECK(memcmp(q.qname, "\3www\7example\3com", 17) == 0);
	CHECK(q.question == pkt_q_plain + 12);
	CHECK_EQ(q.question_len, 21);
	CHECK(!q.edns);
	CHECK_EQ(q.edns_udp_size, DNS_UDP_MIN);
}

static void test_query_edns(void)
{
	struct dns_query q;

	parse_ok(pkt_q_edns_do, sizeof(pkt_q_edns_do), &q);
	CHECK(q.edns);
	CHECK(q.edns_do);
	CHECK_EQ(q.edns_version, 0);
	CHECK_EQ(q.edns_udp_size, 4096);
	CHECK_EQ(q.edns_opts_len, 0);

	parse_ok(pkt_q_edns_small, sizeof(pkt_q_edns_small), &q);
	CHECK(q.edns);
	CHECK(!q.edns_do);
	CHECK_EQ(q.edns_udp_size, 512); /* 100 advertised: clamped */
	CHECK_EQ(q.qtype, DNS_TYPE_AAAA);

	parse_ok(pkt_q_edns_v1, sizeof(pkt_q_edns_v1), &q);
	CHECK(q.edns);
	CHECK_EQ(q.edns_version, 1);

	parse_ok(pkt_q_cookie, sizeof(pkt_q_cookie), &q);
	CHECK(q.edns);
	CHECK_EQ(q.edns_opts_len, 12);
	CHECK(q.edns_opts != NULL && get16(q.edns_opts) == 10 && get16(q.edns_opts + 2) == 8);
	CHECK_EQ(q.edns_udp_size, 1232);
}

static void test_query_ignore(void)
{
	struct dns_query q;
	uint8_t pkt[sizeof(pkt_q_plain)];

	CHECK_EQ(dns_query_parse(pkt_q_plain, 11, &q), C2W_EIGNORE);
	CHECK_EQ(dns_query_parse(pkt_q_plain, 0, &q), C2W_EIGNORE);
	memcpy(pkt, pkt_q_plain, sizeof(pkt));
	pkt[2] |= 0x80; /* QR: a response sent to us */
	CHECK_EQ(dns_query_parse(pkt, sizeof(pkt), &q), C2W_EIGNORE);
}

/* Copy @src and patch: @at < 0 means no patch. */
static size_t patched(uint8_t *dst, const uint8_t *src, size_t len, int at, uint8_t val)
{
	memcpy(dst, src, len);
	if (at >= 0)
		dst[at] = val;
	return len;
}

static void test_query_formerr(void)
{
	struct dns_query q;
	uint8_t pkt[128];
	size_t len;

	/* QDCOUNT 0 and 2: FORMERR, header fields still valid. */
	len = patched(pkt, pkt_q_plain, sizeof(pkt_q_plain), 5, 0);
	CHECK_EQ(dns_query_parse(pkt, len, &q), C2W_EMALF);
	CHECK_EQ(q.id, 0x1234);
	CHECK(!q.has_question);
	len = patched(pkt, pkt_q_plain, sizeof(pkt_q_plain), 5, 2);
	CHECK_EQ(dns_query_parse(pkt, len, &q), C2W_EMALF);

	/* Compressed question name (can only point into the header). */
	static const uint8_t ptrq[] = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 4, 0, 1, 0, 1};
	CHECK_EQ(dns_query_parse(ptrq, sizeof(ptrq), &q), C2W_EMALF);

	/* Label of 64 in the question. */
	len = patched(pkt, pkt_q_plain, sizeof(pkt_q_plain), 12, 64);
	CHECK_EQ(dns_query_parse(pkt, len, &q), C2W_EMALF);

	/* Two OPT records. */
	len = sizeof(pkt_q_edns_do);
	memcpy(pkt, pkt_q_edns_do, len);
	memcpy(pkt + len, pkt_q_edns_do + len - 11, 11);
	len += 11;
	pkt[11] = 2;
	CHECK_EQ(dns_query_parse(pkt, len, &q), C2W_EMALF);
	CHECK(!q.edns);
	CHECK(q.has_question);

	/* OPT with a non-root owner: "\1a" instead of root. */
	len = sizeof(pkt_q_edns_do) - 11;
	memcpy(pkt, pkt_q_edns_do, len);
	pkt[len++] = 1;
	pkt[len++] = 'a';
	memcpy(pkt + len, pkt_q_edns_do + sizeof(pkt_q_edns_do) - 10, 10);
	len += 10;
	CHECK_EQ(dns_query_parse(pkt, len, &q), C2W_EMALF);

	/* OPT in the answer section. */
	len = patched(pkt, pkt_q_edns_do, sizeof(pkt_q_edns_do), 11, 0);
	pkt[7] = 1;
	CHECK_EQ(dns_query_parse(pkt, len, &q), C2W_EMALF);

	/* Option framing: option length 9 in a 12-byte RDATA of a cookie option (8 + 4). */
	len = patched(pkt, pkt_q_cookie, sizeof(pkt_q_cookie), (int)sizeof(pkt_q_cookie) - 9, 9);
	CHECK_EQ(dns_query_parse(pkt, len, &q), C2W_EMALF);
	/* RDATA length past the end. */
	len = patched(pkt, pkt_q_cookie, sizeof(pkt_q_cookie), (int)sizeof(pkt_q_cookie) - 13, 13);
	CHECK_EQ(dns_query_parse(pkt, len, &q), C2W_EMALF);

	/* ARCOUNT says 2 but only one record follows. */
	len = patched(pkt, pkt_q_edns_do, sizeof(pkt_q_edns_do), 11, 2);
	CHECK_EQ(dns_query_parse(pkt, len, &q), C2W_EMALF);

	/* A non-OPT record in the additional section that parses is accepted and ignored. */
	len = sizeof(pkt_q_plain);
	memcpy(pkt, pkt_q_plain, len);
	static const uint8_t rr[] = {0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1};
	memcpy(pkt + len, rr, sizeof(rr));
	len += sizeof(rr);
	pkt[11] = 1;
	CHECK_EQ(dns_query_parse(pkt, len, &q), C2W_OK);
	CHECK(!q.edns);
}

static void test_query_every_prefix(void)
{
	static const struct {
		const uint8_t *p;
		size_t len;
	} pk[] = {
	    {pkt_q_plain, sizeof(pkt_q_plain)},           {pkt_q_edns_do, sizeof(pkt_q_edns_do)},
	    {pkt_q_edns_small, sizeof(pkt_q_edns_small)}, {pkt_q_edns_v1, sizeof(pkt_q_edns_v1)},
	    {pkt_q_cookie, sizeof(pkt_q_cookie)},
	};
	for (size_t i = 0; i < ARRAY_LEN(pk); i++) {
		for (size_t len = 0; len < pk[i].len; len++) {
			/* Exact-size copy so a sanitizer sees any read past @len. */
			uint8_t *buf = malloc(len ? len : 1);
			struct dns_query q;
			memcpy(buf, pk[i].p, len);
			int ret = dns_query_parse(buf, len, &q);
			CHECK_EQ(ret, len < 12 ? C2W_EIGNORE : C2W_EMALF);
			free(buf);
		}
	}
}

static void test_badvers(void)
{
	struct dns_query q;
	uint8_t out[512];
	struct decoded d;

	parse_ok(pkt_q_edns_v1, sizeof(pkt_q_edns_v1), &q);
	int len = dns_answer_render_badvers(&q, 1232, out, sizeof(out));
	CHECK(len > 0);
	CHECK_EQ(decode(out, (size_t)len, &d), C2W_OK);
	CHECK_EQ(d.id, 0x1234);
	CHECK_EQ(d.flags & 0x000F, 0); /* low bits of 16 */
	CHECK(d.flags & 0x8000);
	CHECK_EQ(d.qd, 1);
	CHECK_EQ(d.an + d.ns, 0);
	CHECK_EQ(d.ar, 1);
	CHECK(d.opt == 0);
	if (d.opt == 0) {
		CHECK_EQ(d.rr[0].ttl >> 24, 1);          /* extended RCODE: 1 << 4 | 0 = 16 */
		CHECK_EQ((d.rr[0].ttl >> 16) & 0xFF, 0); /* version 0 */
		CHECK_EQ(d.rr[0].rclass, 1232);
	}
	parse_ok(pkt_q_plain, sizeof(pkt_q_plain), &q);
	CHECK_EQ(dns_answer_render_badvers(&q, 1232, out, sizeof(out)), C2W_EINVAL);
}

/* Query for www.example.com A with DO, as the client wrote it (mixed case). */
static void client_query(struct dns_query *q)
{
	parse_ok(pkt_q_edns_do, sizeof(pkt_q_edns_do), q);
}

static void test_upstream_cname_chain(void)
{
	struct dns_query q;
	uint8_t wire[1232];
	struct dns_answer ans = {.wire = wire, .cap = sizeof(wire)};
	struct decoded d;
	uint8_t name[DNS_NAME_WIRE_MAX];
	size_t nlen;

	client_query(&q);
	CHECK_EQ(dns_answer_from_upstream(&q, pkt_a_cname_chain, sizeof(pkt_a_cname_chain), true,
					  false, &ans),
		 C2W_OK);
	CHECK_EQ(ans.rcode, DNS_RCODE_NOERROR);
	CHECK(ans.secure);
	CHECK(!ans.dnssec_records);
	CHECK(!ans.do_neutral); /* secure: AD for DO clients only, and the RRSIG */
	CHECK_EQ(ans.min_ttl, 60);
	CHECK_EQ(ans.ttl_count, 7);
	CHECK(ans.len < sizeof(pkt_a_cname_chain)); /* no RRSIG, no OPT, compressed */
	CHECK_EQ(decode(wire, ans.len, &d), C2W_OK);
	CHECK_EQ(d.qd, 1);
	CHECK_EQ(d.an, 3);
	CHECK_EQ(d.ns, 2);
	CHECK_EQ(d.ar, 2);
	CHECK_EQ(d.opt, -1);
	CHECK(memcmp(wire + 12, "\3www\7example\3com\0\0\1\0\1", 21) == 0); /* canonical */
	/* Walk the chain the way the policy engine will. */
	CHECK_EQ(d.rr[0].type, DNS_TYPE_CNAME);
	CHECK_EQ(d.rr[0].ttl, 300);
	CHECK(dns_name_equal(d.rr[0].owner, q.qname));
	CHECK(wire[d.rr[0].ttl_off - 6] == 0xC0 && wire[d.rr[0].ttl_off - 5] == 12);
	CHECK_EQ(dns_iter_rdata_name(&d.it, &d.rr[0], 0, name, &nlen), C2W_OK);
	CHECK(dns_name_equal(name, (const uint8_t *)"\3web\7example\3com"));
	CHECK_EQ(d.rr[0].rdlen, 6); /* "web" + pointer */
	CHECK_EQ(d.rr[1].type, DNS_TYPE_A);
	CHECK(dns_name_equal(d.rr[1].owner, name));
	CHECK_EQ(d.rr[1].rdlen, 4);
	CHECK(memcmp(wire + d.rr[1].rdata_off, "\xC0\x00\x02\x01", 4) == 0);
	CHECK(memcmp(wire + d.rr[2].rdata_off, "\xC0\x00\x02\x02", 4) == 0);
	CHECK_EQ(d.rr[3].type, DNS_TYPE_NS);
	CHECK_EQ(d.rr[3].section, DNS_SECTION_AUTHORITY);
	/* dnspython's RRset order is not fixed: ns1 and ns2 in some order. */
	uint8_t name2[DNS_NAME_WIRE_MAX];
	CHECK_EQ(dns_iter_rdata_name(&d.it, &d.rr[3], 0, name, &nlen), C2W_OK);
	CHECK_EQ(dns_iter_rdata_name(&d.it, &d.rr[4], 0, name2, &nlen), C2W_OK);
	CHECK((dns_name_equal(name, (const uint8_t *)"\3ns1\7example\3com") &&
	       dns_name_equal(name2, (const uint8_t *)"\3ns2\7example\3com")) ||
	      (dns_name_equal(name, (const uint8_t *)"\3ns2\7example\3com") &&
	       dns_name_equal(name2, (const uint8_t *)"\3ns1\7example\3com")));
	CHECK_EQ(d.rr[6].type, DNS_TYPE_AAAA);
	CHECK_EQ(d.rr[6].section, DNS_SECTION_ADDITIONAL);
	for (unsigned i = 0; i < ans.ttl_count; i++)
		CHECK_EQ(get32(wire + ans.ttl_off[i]), d.rr[i].ttl);

	/* DO client: the RRSIG stays. */
	CHECK_EQ(dns_answer_from_upstream(&q, pkt_a_cname_chain, sizeof(pkt_a_cname_chain), true,
					  true, &ans),
		 C2W_OK);
	CHECK(ans.dnssec_records);
	CHECK(!ans.do_neutral);
	CHECK_EQ(decode(wire, ans.len, &d), C2W_OK);
	CHECK_EQ(d.an, 4);
	CHECK_EQ(d.rr[3].type, DNS_TYPE_RRSIG);
	CHECK_EQ(ans.ttl_count, 8);
}

static void nx_query(struct dns_query *q)
{
	static const uint8_t pkt[] = {0xAB, 0xCD, 0x01, 0x00, 0,   1, 0,   0,   0,   0,   0,   0,
				      4,    'N',  'o',  'p',  'e', 7, 'e', 'x', 'a', 'm', 'p', 'l',
				      'e',  3,    'c',  'o',  'm', 0, 0,   1,   0,   1};
	parse_ok(pkt, sizeof(pkt), q);
}

static void test_upstream_nxdomain(void)
{
	struct dns_query q;
	uint8_t wire[1232];
	struct dns_answer ans = {.wire = wire, .cap = sizeof(wire)};
	struct decoded d;

	nx_query(&q);
	CHECK_EQ(dns_answer_from_upstream(&q, pkt_a_nxdomain, sizeof(pkt_a_nxdomain), false, false,
					  &ans),
		 C2W_OK);
	CHECK_EQ(ans.rcode, DNS_RCODE_NXDOMAIN);
	CHECK(!ans.do_neutral); /* not secure, but the reply had RRSIG and NSEC (stripped here) */
	CHECK_EQ(ans.min_ttl, 300); /* RFC 2308: min(SOA TTL 3600, MINIMUM 300) */
	CHECK_EQ(decode(wire, ans.len, &d), C2W_OK);
	CHECK_EQ(d.flags & 0xF, DNS_RCODE_NXDOMAIN);
	CHECK_EQ(d.an, 0);
	CHECK_EQ(d.ns, 1); /* RRSIG and NSEC stripped */
	CHECK_EQ(d.rr[0].type, DNS_TYPE_SOA);
	CHECK_EQ(d.rr[0].rdlen, 6 + 13 + 20); /* "ns1"+ptr, "hostmaster"+ptr, 20 */
	CHECK_EQ(get32(wire + d.rr[0].rdata_off + d.rr[0].rdlen - 4), 300);

	CHECK_EQ(
	    dns_answer_from_upstream(&q, pkt_a_nxdomain, sizeof(pkt_a_nxdomain), false, true, &ans),
	    C2W_OK);
	CHECK_EQ(decode(wire, ans.len, &d), C2W_OK);
	CHECK_EQ(d.ns, 3);
	CHECK_EQ(d.rr[2].type, DNS_TYPE_NSEC);
	CHECK_EQ(ans.min_ttl, 300);
}

static void test_upstream_mx_and_mismatch(void)
{
	static const uint8_t qpkt[] = {0, 7,   0x01, 0,   0,   1,   0,   0,   0,   0,
				       0, 0,   7,    'e', 'x', 'a', 'm', 'p', 'l', 'e',
				       3, 'c', 'o',  'm', 0,   0,   15,  0,   1};
	struct dns_query q, other;
	uint8_t wire[512];
	struct dns_answer ans = {.wire = wire, .cap = sizeof(wire)};
	struct decoded d;
	uint8_t name[DNS_NAME_WIRE_MAX];
	size_t nlen;

	parse_ok(qpkt, sizeof(qpkt), &q);
	CHECK_EQ(dns_answer_from_upstream(&q, pkt_a_mx, sizeof(pkt_a_mx), false, false, &ans),
		 C2W_OK);
	CHECK(ans.do_neutral); /* insecure, no DNSSEC records: the same body for DO clients */
	CHECK_EQ(dns_answer_from_upstream(&q, pkt_a_mx, sizeof(pkt_a_mx), false, true, &ans),
		 C2W_OK);
	CHECK(ans.do_neutral);
	CHECK_EQ(dns_answer_from_upstream(&q, pkt_a_mx, sizeof(pkt_a_mx), true, false, &ans),
		 C2W_OK);
	CHECK(!ans.do_neutral);
	CHECK_EQ(dns_answer_from_upstream(&q, pkt_a_mx, sizeof(pkt_a_mx), false, false, &ans),
		 C2W_OK);
	CHECK_EQ(decode(wire, ans.len, &d), C2W_OK);
	CHECK_EQ(d.an, 2);
	CHECK_EQ(dns_iter_rdata_name(&d.it, &d.rr[1], 2, name, &nlen), C2W_OK);
	CHECK(dns_name_equal(name, (const uint8_t *)"\3mx2\7example\3com"));
	CHECK_EQ(get16(wire + d.rr[1].rdata_off), 20);
	CHECK_EQ(dns_iter_rdata_name(&d.it, &d.rr[1], 1, name, &nlen),
		 C2W_EMALF); /* 20-byte label */
	CHECK_EQ(ans.min_ttl, 600);

	/* The reply is for another question. */
	client_query(&other);
	CHECK_EQ(dns_answer_from_upstream(&other, pkt_a_mx, sizeof(pkt_a_mx), false, false, &ans),
		 C2W_EMALF);
	/* Not a response. */
	uint8_t up[sizeof(pkt_a_mx)];
	memcpy(up, pkt_a_mx, sizeof(up));
	up[2] &= 0x7F;
	CHECK_EQ(dns_answer_from_upstream(&q, up, sizeof(up), false, false, &ans), C2W_EMALF);
	/* MX exchange name compressed with a forward pointer. */
	memcpy(up, pkt_a_mx, sizeof(up));
	CHECK_EQ(decode(up, sizeof(up), &d), C2W_OK);
	size_t at = d.rr[0].rdata_off + 2;
	while ((up[at] & 0xC0) != 0xC0)
		at += up[at] + 1u;
	up[at + 1] = (uint8_t)(sizeof(up) - 4);
	CHECK_EQ(dns_answer_from_upstream(&q, up, sizeof(up), false, false, &ans), C2W_EMALF);
	/* A record with 5 bytes of RDATA (the additional A: last record). */
	memcpy(up, pkt_a_mx, sizeof(up));
	up[sizeof(up) - 5] = 3;
	CHECK_EQ(dns_answer_from_upstream(&q, up, sizeof(up) - 1, false, false, &ans), C2W_EMALF);
	/* Body buffer too small. */
	struct dns_answer tiny = {.wire = wire, .cap = 40};
	CHECK_EQ(dns_answer_from_upstream(&q, pkt_a_mx, sizeof(pkt_a_mx), false, false, &tiny),
		 C2W_ESPACE);
	CHECK_EQ(tiny.len, 0);
}

static void test_upstream_every_prefix(void)
{
	static const struct {
		const uint8_t *p;
		size_t len;
	} pk[] = {
	    {pkt_a_cname_chain, sizeof(pkt_a_cname_chain)},
	    {pkt_a_nxdomain, sizeof(pkt_a_nxdomain)},
	    {pkt_a_mx, sizeof(pkt_a_mx)},
	};
	struct dns_query q;
	uint8_t wire[1232];
	struct dns_answer ans = {.wire = wire, .cap = sizeof(wire)};

	for (size_t i = 0; i < ARRAY_LEN(pk); i++) {
		struct dns_query qs;
		/* Rebuild the question from the packet itself. */
		uint8_t qbuf[300];
		size_t qlen = 12;
		memcpy(qbuf, pk[i].p, 12);
		qbuf[2] &= 0x7F;
		memset(qbuf + 6, 0, 6);
		struct dns_iter it;
		CHECK_EQ(dns_iter_init(&it, pk[i].p, pk[i].len), C2W_OK);
		memcpy(qbuf + 12, pk[i].p + 12, it.pos - 12);
		qlen = it.pos;
		parse_ok(qbuf, qlen, &qs);
		q = qs;
		CHECK_EQ(dns_answer_from_upstream(&q, pk[i].p, pk[i].len, false, true, &ans),
			 C2W_OK);
		for (size_t len = 0; len < pk[i].len; len++) {
			uint8_t *buf = malloc(len ? len : 1);
			memcpy(buf, pk[i].p, len);
			CHECK_EQ(dns_answer_from_upstream(&q, buf, len, false, true, &ans),
				 C2W_EMALF);
			free(buf);
		}
	}
}

static void test_render(void)
{
	struct dns_query q;
	uint8_t wire[1232], out[1232];
	struct dns_answer ans = {.wire = wire, .cap = sizeof(wire)};
	struct decoded d;

	client_query(&q);
	CHECK_EQ(dns_answer_from_upstream(&q, pkt_a_cname_chain, sizeof(pkt_a_cname_chain), true,
					  true, &ans),
		 C2W_OK);
	ans.ede_code = DNS_EDE_BLOCKED;
	memcpy(ans.ede_text, "c2wall: blocked", 16);

	int len = dns_answer_render(&q, &ans, 10, 1232, q.edns_udp_size, out, sizeof(out));
	CHECK(len > 0);
	CHECK_EQ(decode(out, (size_t)len, &d), C2W_OK);
	CHECK_EQ(d.id, 0x1234);
	CHECK_EQ(d.flags, 0x8000 | 0x0100 | 0x0080 | 0x0020);    /* QR RD RA AD */
	CHECK(memcmp(out + 12, "\3www\7Example\3COM", 17) == 0); /* client's case */
	CHECK_EQ(d.an, 4);
	CHECK_EQ(d.ar, 3);
	CHECK_EQ(d.rr[0].ttl, 290);
	CHECK_EQ(d.rr[1].ttl, 50);
	CHECK_EQ(d.opt, (int)d.count - 1);
	if (d.opt >= 0) {
		struct dns_rr *o = &d.rr[d.opt];
		CHECK_EQ(o->rclass, 1232);
		CHECK_EQ(o->ttl, 0x8000); /* DO echoed, version 0, ext rcode 0 */
		CHECK_EQ(o->rdlen, 4 + 2 + 15);
		const uint8_t *p = out + o->rdata_off;
		CHECK_EQ(get16(p), 15);
		CHECK_EQ(get16(p + 2), 2 + 15);
		CHECK_EQ(get16(p + 4), DNS_EDE_BLOCKED);
		CHECK(memcmp(p + 6, "c2wall: blocked", 15) == 0);
	}
	/* The body is untouched: render again with a larger age. */
	len = dns_answer_render(&q, &ans, 100000, 1232, 1232, out, sizeof(out));
	CHECK_EQ(decode(out, (size_t)len, &d), C2W_OK);
	CHECK_EQ(d.rr[0].ttl, 0);
	CHECK_EQ(get32(wire + ans.ttl_off[0]), 300);

	/* Not secure: no AD. Client without DO but with AD: AD when secure. */
	ans.secure = false;
	len = dns_answer_render(&q, &ans, 0, 1232, 1232, out, sizeof(out));
	CHECK_EQ(out[3] & 0x20, 0);
	ans.secure = true;
	q.edns_do = false;
	q.ad = false;
	len = dns_answer_render(&q, &ans, 0, 1232, 1232, out, sizeof(out));
	CHECK_EQ(out[3] & 0x20, 0);
	q.ad = true;
	q.cd = true;
	len = dns_answer_render(&q, &ans, 0, 1232, 1232, out, sizeof(out));
	CHECK_EQ(out[3] & 0x30, 0x30);

	/* Client without EDNS: no OPT, EDE not sent. */
	parse_ok(pkt_q_plain, sizeof(pkt_q_plain), &q);
	len = dns_answer_render(&q, &ans, 0, 1232, 512, out, sizeof(out));
	CHECK_EQ(decode(out, (size_t)len, &d), C2W_OK);
	CHECK_EQ(d.opt, -1);
	CHECK_EQ(d.ar, 2);
	CHECK_EQ(len, ans.len);
	CHECK(memcmp(out + 12, "\3www\7Example\3COM", 17) == 0);
}

static void test_render_truncation(void)
{
	struct dns_query q;
	uint8_t wire[1232], out[1232];
	struct dns_answer ans = {.wire = wire, .cap = sizeof(wire)};
	struct decoded d;

	client_query(&q);
	CHECK_EQ(dns_answer_from_upstream(&q, pkt_a_cname_chain, sizeof(pkt_a_cname_chain), false,
					  false, &ans),
		 C2W_OK);
	ans.ede_code = DNS_EDE_FILTERED;
	ans.ede_text[0] = 0;
	size_t full = ans.len + 11 + 6;
	int len = dns_answer_render(&q, &ans, 0, 1232, full, out, sizeof(out));
	CHECK_EQ(len, (int)full);
	CHECK_EQ(out[2] & 0x02, 0);
	len = dns_answer_render(&q, &ans, 0, 1232, full - 1, out, sizeof(out));
	CHECK_EQ(len, 12 + 21 + 11 + 6);
	CHECK_EQ(decode(out, (size_t)len, &d), C2W_OK);
	CHECK(d.flags & 0x0200); /* TC */
	CHECK_EQ(d.qd, 1);
	CHECK_EQ(d.an + d.ns, 0);
	CHECK_EQ(d.ar, 1);
	CHECK_EQ(d.opt, 0);
	if (d.opt == 0)
		CHECK_EQ(get16(out + d.rr[0].rdata_off + 4), DNS_EDE_FILTERED);
	/* Even header + question + OPT + EDE does not fit: EDE goes, then OPT, then question. */
	len = dns_answer_render(&q, &ans, 0, 1232, 12 + 21 + 11, out, sizeof(out));
	CHECK_EQ(len, 12 + 21 + 11);
	CHECK_EQ(decode(out, (size_t)len, &d), C2W_OK);
	CHECK_EQ(d.rr[0].rdlen, 0);
	len = dns_answer_render(&q, &ans, 0, 1232, 12 + 21, out, sizeof(out));
	CHECK_EQ(len, 12 + 21);
	CHECK_EQ(decode(out, (size_t)len, &d), C2W_OK);
	CHECK_EQ(d.ar, 0);
	len = dns_answer_render(&q, &ans, 0, 1232, 20, out, sizeof(out));
	CHECK_EQ(len, 12);
	CHECK_EQ(decode(out, (size_t)len, &d), C2W_OK);
	CHECK_EQ(d.qd, 0);
	CHECK_EQ(dns_answer_render(&q, &ans, 0, 1232, 11, out, sizeof(out)), C2W_ESPACE);
	CHECK_EQ(dns_answer_render(&q, &ans, 0, 1232, 1232, out, 11), C2W_ESPACE);
	/* out_cap smaller than max_len also truncates. */
	len = dns_answer_render(&q, &ans, 0, 1232, 1232, out, 100);
	CHECK(len > 0 && len <= 100);
	CHECK(out[2] & 0x02);
}

static void test_empty(void)
{
	struct dns_query q;
	uint8_t wire[300], out[512];
	struct dns_answer ans = {.wire = wire, .cap = sizeof(wire)};
	struct decoded d;

	client_query(&q);
	CHECK_EQ(dns_answer_empty(&q, DNS_RCODE_REFUSED, DNS_EDE_PROHIBITED, "not allowed", &ans),
		 C2W_OK);
	CHECK_EQ(ans.min_ttl, 0);
	int len = dns_answer_render(&q, &ans, 0, 1232, 1232, out, sizeof(out));
	CHECK_EQ(decode(out, (size_t)len, &d), C2W_OK);
	CHECK_EQ(d.flags & 0xF, DNS_RCODE_REFUSED);
	CHECK_EQ(d.qd, 1);
	CHECK_EQ(d.an + d.ns, 0);
	CHECK_EQ(d.ar, 1);
	CHECK_EQ(get16(out + d.rr[0].rdata_off + 4), DNS_EDE_PROHIBITED);
	CHECK(memcmp(out + d.rr[0].rdata_off + 6, "not allowed", 11) == 0);

	/* FORMERR before the question: header only. */
	uint8_t bad[sizeof(pkt_q_plain)];
	memcpy(bad, pkt_q_plain, sizeof(bad));
	bad[5] = 0;
	CHECK_EQ(dns_query_parse(bad, sizeof(bad), &q), C2W_EMALF);
	CHECK_EQ(dns_answer_empty(&q, DNS_RCODE_FORMERR, DNS_EDE_NONE, NULL, &ans), C2W_OK);
	CHECK_EQ(ans.len, 12);
	len = dns_answer_render(&q, &ans, 0, 1232, 512, out, sizeof(out));
	CHECK_EQ(len, 12);
	CHECK_EQ(get16(out), 0x1234);
	CHECK_EQ(out[3] & 0xF, DNS_RCODE_FORMERR);

	/* EDE text longer than the field is cut, not overflowed. */
	client_query(&q);
	char longtext[200];
	memset(longtext, 'x', sizeof(longtext) - 1);
	longtext[sizeof(longtext) - 1] = 0;
	CHECK_EQ(dns_answer_empty(&q, DNS_RCODE_SERVFAIL, DNS_EDE_OTHER, longtext, &ans), C2W_OK);
	CHECK_EQ(strlen(ans.ede_text), sizeof(ans.ede_text) - 1);
	struct dns_answer small = {.wire = wire, .cap = 20};
	CHECK_EQ(dns_answer_empty(&q, DNS_RCODE_SERVFAIL, DNS_EDE_NONE, NULL, &small), C2W_ESPACE);
}

static void test_writer(void)
{
	struct dns_query q;
	uint8_t wire[512], out[512];
	struct dns_answer ans = {.wire = wire, .cap = sizeof(wire)};
	struct dns_writer w;
	struct decoded d;
	uint8_t name[DNS_NAME_WIRE_MAX];
	size_t nlen;

	client_query(&q);
	CHECK_EQ(dns_writer_init(&w, &ans, &q, DNS_RCODE_NOERROR, true), C2W_OK);
	static const uint8_t sink[] = {10, 0, 0, 1};
	static const uint8_t cname[] = "\4sink\6c2wall\7example\3com";
	CHECK_EQ(dns_writer_add_rr(&w, DNS_SECTION_ANSWER, q.qname, DNS_TYPE_CNAME, DNS_CLASS_IN,
				   30, cname, sizeof(cname)),
		 C2W_OK);
	CHECK_EQ(
	    dns_writer_add_rr(&w, DNS_SECTION_ANSWER, cname, DNS_TYPE_A, DNS_CLASS_IN, 20, sink, 4),
	    C2W_OK);
	/* SOA: two names then 20 bytes; MINIMUM 5 caps the TTL 100 in authority. */
	uint8_t soa[128];
	size_t n = 0;
	memcpy(soa, "\3ns1\7example\3com", 17);
	n += 17;
	memcpy(soa + n, "\4host\7example\3com", 18);
	n += 18;
	memset(soa + n, 0, 16);
	n += 16;
	memcpy(soa + n, "\0\0\0\5", 4);
	n += 4;
	CHECK_EQ(dns_writer_add_rr(&w, DNS_SECTION_AUTHORITY, (const uint8_t *)"\7example\3com",
				   DNS_TYPE_SOA, DNS_CLASS_IN, 100, soa, (uint16_t)n),
		 C2W_OK);
	CHECK_EQ(dns_writer_finish(&w), C2W_OK);
	CHECK_EQ(ans.min_ttl, 5);
	CHECK_EQ(ans.ttl_count, 3);
	CHECK_EQ(decode(wire, ans.len, &d), C2W_OK);
	CHECK_EQ(d.flags, 0x8400); /* QR AA */
	CHECK_EQ(d.an, 2);
	CHECK_EQ(d.ns, 1);
	/* Owner of the CNAME is a pointer to the question; its target shares "example.com". */
	CHECK(wire[33] == 0xC0 && wire[34] == 12);
	CHECK_EQ(d.rr[0].rdlen, 5 + 7 + 2);
	CHECK_EQ(dns_iter_rdata_name(&d.it, &d.rr[0], 0, name, &nlen), C2W_OK);
	CHECK(dns_name_equal(name, cname));
	CHECK(dns_name_equal(d.rr[1].owner, cname));
	CHECK_EQ(d.rr[1].rdlen, 4);
	CHECK_EQ(d.rr[2].rdlen, 6 + 7 + 20);
	CHECK_EQ(dns_iter_rdata_name(&d.it, &d.rr[2], 6, name, &nlen), C2W_OK);
	CHECK(dns_name_equal(name, (const uint8_t *)"\4host\7example\3com"));

	/* It renders like any body. */
	int len = dns_answer_render(&q, &ans, 0, 1232, 1232, out, sizeof(out));
	CHECK_EQ(decode(out, (size_t)len, &d), C2W_OK);
	CHECK(memcmp(out + 12, "\3www\7Example\3COM", 17) == 0);

	/* Errors: order, bad RDATA, no space; sticky. */
	CHECK_EQ(dns_writer_init(&w, &ans, &q, 0, false), C2W_OK);
	CHECK_EQ(dns_writer_add_rr(&w, DNS_SECTION_AUTHORITY, q.qname, DNS_TYPE_A, 1, 1, sink, 4),
		 C2W_OK);
	CHECK_EQ(dns_writer_add_rr(&w, DNS_SECTION_ANSWER, q.qname, DNS_TYPE_A, 1, 1, sink, 4),
		 C2W_EINVAL);
	CHECK_EQ(dns_writer_finish(&w), C2W_EINVAL);
	CHECK_EQ(dns_writer_init(&w, &ans, &q, 0, false), C2W_OK);
	CHECK_EQ(dns_writer_add_rr(&w, DNS_SECTION_ANSWER, q.qname, DNS_TYPE_A, 1, 1, sink, 3),
		 C2W_EMALF);
	CHECK_EQ(dns_writer_init(&w, &ans, &q, 0, false), C2W_OK);
	CHECK_EQ(dns_writer_add_rr(&w, DNS_SECTION_ANSWER, q.qname, DNS_TYPE_CNAME, 1, 1,
				   (const uint8_t *)"\4sink\xC0\x0C", 7),
		 C2W_EMALF); /* no compression pointers in caller RDATA */
	CHECK_EQ(dns_writer_init(&w, &ans, &q, 0, false), C2W_OK);
	CHECK_EQ(dns_writer_add_rr(&w, DNS_SECTION_ANSWER, q.qname, DNS_TYPE_MX, 1, 1,
				   (const uint8_t *)"\0\12\2mx\0\0", 7),
		 C2W_EMALF); /* trailing byte after the exchange */
	struct dns_answer tiny = {.wire = wire, .cap = 40};
	CHECK_EQ(dns_writer_init(&w, &tiny, &q, 0, false), C2W_OK);
	CHECK_EQ(dns_writer_add_rr(&w, DNS_SECTION_ANSWER, cname, DNS_TYPE_A, 1, 1, sink, 4),
		 C2W_ESPACE);
	CHECK_EQ(dns_writer_add_rr(&w, DNS_SECTION_ANSWER, q.qname, DNS_TYPE_A, 1, 1, sink, 4),
		 C2W_ESPACE);
	CHECK_EQ(dns_writer_finish(&w), C2W_ESPACE);
	/* TTL with the top bit set counts as 0 (RFC 2181 8). */
	CHECK_EQ(dns_writer_init(&w, &ans, &q, 0, false), C2W_OK);
	CHECK_EQ(
	    dns_writer_add_rr(&w, DNS_SECTION_ANSWER, q.qname, DNS_TYPE_A, 1, 0x80000000u, sink, 4),
	    C2W_OK);
	CHECK_EQ(dns_writer_finish(&w), C2W_OK);
	CHECK_EQ(ans.min_ttl, 0);
}

/* More records than DNS_ANSWER_TTLS: complete body, not cacheable. */
static void test_too_many_records(void)
{
	struct dns_query q;
	static uint8_t up[8192], wire[8192], out[8192];
	struct dns_answer upa = {.wire = up, .cap = sizeof(up)};
	struct dns_answer ans = {.wire = wire, .cap = sizeof(wire)};
	struct dns_writer w;
	struct decoded d;

	client_query(&q);
	CHECK_EQ(dns_writer_init(&w, &upa, &q, 0, false), C2W_OK);
	for (unsigned i = 0; i < DNS_ANSWER_TTLS + 2; i++) {
		uint8_t a[4] = {10, 0, (uint8_t)(i >> 8), (uint8_t)i};
		CHECK_EQ(
		    dns_writer_add_rr(&w, DNS_SECTION_ANSWER, q.qname, DNS_TYPE_A, 1, 60, a, 4),
		    C2W_OK);
	}
	CHECK_EQ(dns_writer_finish(&w), C2W_ESPACE);
	CHECK(upa.len > 0);
	CHECK_EQ(dns_answer_from_upstream(&q, up, upa.len, false, false, &ans), C2W_ESPACE);
	CHECK(ans.len > 0);
	CHECK_EQ(ans.ttl_count, 0);
	CHECK_EQ(ans.min_ttl, 0);
	int len = dns_answer_render(&q, &ans, 0, 1232, 65535, out, sizeof(out));
	CHECK(len > 0);
	CHECK_EQ(decode(out, (size_t)len, &d), C2W_OK);
	CHECK_EQ(d.an, DNS_ANSWER_TTLS + 2);
	CHECK_EQ(d.rr[DNS_ANSWER_TTLS + 1].rdata_off + 4u, (unsigned)len - 11);
}

TEST_MAIN(TEST(test_query_plain), TEST(test_query_edns), TEST(test_query_ignore),
	  TEST(test_query_formerr), TEST(test_query_every_prefix), TEST(test_badvers),
	  TEST(test_upstream_cname_chain), TEST(test_upstream_nxdomain),
	  TEST(test_upstream_mx_and_mismatch), TEST(test_upstream_every_prefix), TEST(test_render),
	  TEST(test_render_truncation), TEST(test_empty), TEST(test_writer),
	  TEST(test_too_many_records))
