/* SPDX-License-Identifier: MIT */
/*
 * dns/cookie.h and the COOKIE option in dns/msg.h: server cookies against the examples of
 * RFC 9018 appendix A (IPv4 and IPv6, fresh, renewed, reserved bytes set by another
 * implementation, a rolled-over secret), the age window of RFC 9018 4.3 across the 2^32
 * wrap, option lengths per RFC 7873 5.2.2 (FORMERR), and the option echoed by the renderer
 * (also in a truncated response).
 */
#include <arpa/inet.h>

#include "dns/cookie.h"
#include "dns/iter.h"
#include "dns/msg.h"
#include "test.h"

static void unhex(const char *hex, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		sscanf(hex + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
}

static const char *const SECRET1 = "e5e973e5a6b2a43f48e7dc849e37bfcf";

/* RFC 9018 A.1-A.3: the server cookie a server with @secret makes. */
static void check_make(const char *secret_hex, const char *client_hex, const char *ip_text,
		       uint32_t now, const char *want_hex)
{
	uint8_t secret[16], client[8], want[16], got[16], ip[16];
	int af = strchr(ip_text, ':') ? AF_INET6 : AF_INET;

	unhex(secret_hex, secret, 16);
	unhex(client_hex, client, 8);
	unhex(want_hex, want, 16);
	CHECK_EQ(inet_pton(af, ip_text, ip), 1);
	dns_cookie_server_make(secret, client, ip, af == AF_INET ? 4 : 16, now, got);
	CHECK(memcmp(got, want, 16) == 0);
}

static void test_rfc9018_make(void)
{
	check_make(SECRET1, "2464c4abcf10c957", "198.51.100.100", 1559731985,
		   "010000005cf79f111f8130c3eee29480"); /* A.1 */
	check_make(SECRET1, "2464c4abcf10c957", "198.51.100.100", 1559734385,
		   "010000005cf7a871d4a564a1442aca77"); /* A.2 */
	check_make(SECRET1, "fc93fc62807ddb86", "203.0.113.203", 1559734700,
		   "010000005cf7a9acf73a7810aca2381e"); /* A.3 */
}

static int check_cookie(const char *secret_hex, const char *ip_text, const char *cookie_hex,
			uint32_t now)
{
	uint8_t secret[16], cookie[40], ip[16];
	size_t n = strlen(cookie_hex) / 2;
	int af = strchr(ip_text, ':') ? AF_INET6 : AF_INET;

	unhex(secret_hex, secret, 16);
	unhex(cookie_hex, cookie, n);
	if (inet_pton(af, ip_text, ip) != 1)
		return -1;
	return dns_cookie_server_check(secret, cookie, n, ip, af == AF_INET ? 4 : 16, now);
}

static void test_rfc9018_check(void)
{
	/* A.2: the cookie of A.1 comes back 40 minutes later: still valid. */
	CHECK_EQ(check_cookie(SECRET1, "198.51.100.100",
			      "2464c4abcf10c957010000005cf79f111f8130c3eee29480", 1559734385),
		 C2W_OK);
	/* A.3: a cookie another implementation made with reserved bytes set (stamped
	 * 1559727985): valid within the hour, not from another address, and expired by the
	 * time the example's client sends it (1h52m later: a fresh one is made). */
	CHECK_EQ(check_cookie(SECRET1, "203.0.113.203",
			      "fc93fc62807ddb8601abcdef5cf78f71a314227b6679ebf5", 1559727995),
		 C2W_OK);
	CHECK_EQ(check_cookie(SECRET1, "203.0.113.204",
			      "fc93fc62807ddb8601abcdef5cf78f71a314227b6679ebf5", 1559727995),
		 C2W_ECHECKSUM);
	CHECK_EQ(check_cookie(SECRET1, "203.0.113.203",
			      "fc93fc62807ddb8601abcdef5cf78f71a314227b6679ebf5", 1559734700),
		 C2W_ETIMEDOUT);
	/* A.4: an IPv6 client's cookie made with the old secret; the new one rejects it. */
	CHECK_EQ(check_cookie("dd3bdf9344b678b185a6f5cb60fca715",
			      "2001:db8:220:1:59de:d0f4:8769:82b8",
			      "22681ab97d52c298010000005cf7c57926556bd0934c72f8", 1559741817),
		 C2W_OK);
	CHECK_EQ(check_cookie("445536bcd2513298075a5d379663c962",
			      "2001:db8:220:1:59de:d0f4:8769:82b8",
			      "22681ab97d52c298010000005cf7c57926556bd0934c72f8", 1559741817),
		 C2W_ECHECKSUM);
	/* A forged hash, a flipped client cookie. */
	CHECK_EQ(check_cookie(SECRET1, "198.51.100.100",
			      "2464c4abcf10c957010000005cf79f111f8130c3eee29481", 1559731985),
		 C2W_ECHECKSUM);
	CHECK_EQ(check_cookie(SECRET1, "198.51.100.100",
			      "2564c4abcf10c957010000005cf79f111f8130c3eee29480", 1559731985),
		 C2W_ECHECKSUM);
	/* Not ours: another version, another length; none at all. */
	CHECK_EQ(check_cookie(SECRET1, "198.51.100.100",
			      "2464c4abcf10c957020000005cf79f111f8130c3eee29480", 1559731985),
		 C2W_EVERSION);
	CHECK_EQ(check_cookie(SECRET1, "198.51.100.100", "2464c4abcf10c9570102030405060708",
			      1559731985),
		 C2W_EVERSION);
	CHECK_EQ(check_cookie(SECRET1, "198.51.100.100", "2464c4abcf10c957", 1559731985),
		 C2W_ENOENT);
}

static void test_age_window(void)
{
	uint8_t secret[16] = {1}, client[8] = {2}, ip[4] = {192, 0, 2, 1}, c[24];
	const uint32_t stamps[] = {1559731985, 0xFFFFF000u};

	for (size_t i = 0; i < 2; i++) {
		uint32_t t = stamps[i];
		memcpy(c, client, 8);
		dns_cookie_server_make(secret, client, ip, 4, t, c + 8);
		CHECK_EQ(dns_cookie_server_check(secret, c, 24, ip, 4, t), C2W_OK);
		CHECK_EQ(dns_cookie_server_check(secret, c, 24, ip, 4, t + 3600), C2W_OK);
		CHECK_EQ(dns_cookie_server_check(secret, c, 24, ip, 4, t + 3601), C2W_ETIMEDOUT);
		CHECK_EQ(dns_cookie_server_check(secret, c, 24, ip, 4, t - 300), C2W_OK);
		CHECK_EQ(dns_cookie_server_check(secret, c, 24, ip, 4, t - 301), C2W_ETIMEDOUT);
	}
}

/* A query for "a." with an OPT holding a COOKIE option of @len bytes (twice: @twice). */
static size_t cookie_query(uint8_t *pkt, size_t len, bool twice)
{
	static const uint8_t head[] = {0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1,
				       1,    'a',  0,    0,    1, 0, 1};
	size_t n = sizeof(head), opts = (4 + len) * (twice ? 2 : 1);
	memcpy(pkt, head, n);
	uint8_t opt[11] = {0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, (uint8_t)(opts >> 8), (uint8_t)opts};
	memcpy(pkt + n, opt, 11);
	n += 11;
	for (int k = 0; k < (twice ? 2 : 1); k++) {
		pkt[n++] = 0;
		pkt[n++] = 10;
		pkt[n++] = (uint8_t)(len >> 8);
		pkt[n++] = (uint8_t)len;
		for (size_t i = 0; i < len; i++)
			pkt[n++] = (uint8_t)(0x10 * k + i);
	}
	return n;
}

static void test_option_lengths(void)
{
	uint8_t pkt[256];
	struct dns_query q;

	for (size_t len = 0; len <= 44; len++) {
		size_t n = cookie_query(pkt, len, false);
		int ret = dns_query_parse(pkt, n, &q);
		bool ok = len == 8 || (len >= 16 && len <= 40);
		CHECK_EQ(ret, ok ? C2W_OK : C2W_EMALF);
		CHECK_EQ(q.cookie_malformed, !ok);
		if (ok) {
			CHECK_EQ(q.cookie_len, len);
			CHECK(q.edns);
			CHECK_EQ(q.cookie[len - 1], len - 1);
		}
	}
	/* A second COOKIE: the first counts. */
	size_t n = cookie_query(pkt, 8, true);
	CHECK_EQ(dns_query_parse(pkt, n, &q), C2W_OK);
	CHECK_EQ(q.cookie_len, 8);
	CHECK_EQ(q.cookie[0], 0);
	/* No COOKIE at all. */
	pkt[2] = 0x01;
	static const uint8_t plain[] = {0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'a', 0, 0, 1, 0, 1};
	CHECK_EQ(dns_query_parse(plain, sizeof(plain), &q), C2W_OK);
	CHECK_EQ(q.cookie_len, 0);
}

/* The COOKIE option's content in a rendered response, or NULL. */
static const uint8_t *find_cookie(const uint8_t *msg, int len, uint16_t *clen)
{
	struct dns_iter it;
	struct dns_rr rr;
	if (len <= 0 || dns_iter_init(&it, msg, (size_t)len) != C2W_OK)
		return NULL;
	while (dns_iter_next(&it, &rr) == C2W_OK) {
		if (rr.type != DNS_TYPE_OPT)
			continue;
		const uint8_t *o = msg + rr.rdata_off;
		for (size_t p = 0; p + 4 <= rr.rdlen;) {
			uint16_t code = (uint16_t)(o[p] << 8 | o[p + 1]);
			uint16_t l = (uint16_t)(o[p + 2] << 8 | o[p + 3]);
			if (code == 10) {
				*clen = l;
				return o + p + 4;
			}
			p += 4 + (size_t)l;
		}
	}
	return NULL;
}

static void test_render_echo(void)
{
	uint8_t pkt[256], wire[512], out[512];
	struct dns_query q;
	struct dns_answer ans = {.wire = wire, .cap = sizeof(wire)};
	uint16_t clen = 0;

	size_t n = cookie_query(pkt, 8, false);
	CHECK_EQ(dns_query_parse(pkt, n, &q), C2W_OK);
	/* The worker puts client + server cookie in q->cookie; the renderer sends it. */
	for (int i = 8; i < 24; i++)
		q.cookie[i] = (uint8_t)(0xA0 + i);
	q.cookie_len = 24;
	CHECK_EQ(dns_answer_empty(&q, DNS_RCODE_NOERROR, DNS_EDE_BLOCKED, "blocked", &ans), C2W_OK);
	int len = dns_answer_render(&q, &ans, 0, 1232, 1232, out, sizeof(out));
	const uint8_t *c = find_cookie(out, len, &clen);
	CHECK(c != NULL && clen == 24 && memcmp(c, q.cookie, 24) == 0);
	/* Truncated so that the EDE must go: the cookie stays. */
	int full = len;
	len = dns_answer_render(&q, &ans, 0, 1232, (size_t)full - 5, out, sizeof(out));
	c = find_cookie(out, len, &clen);
	CHECK(len > 0 && (out[2] & 0x02));
	CHECK(c != NULL && clen == 24 && memcmp(c, q.cookie, 24) == 0);
	/* Cookies off: cookie_len 0, no option. */
	q.cookie_len = 0;
	len = dns_answer_render(&q, &ans, 0, 1232, 1232, out, sizeof(out));
	CHECK(len > 0 && find_cookie(out, len, &clen) == NULL);
}

TEST_MAIN(TEST(test_rfc9018_make), TEST(test_rfc9018_check), TEST(test_age_window),
	  TEST(test_option_lengths), TEST(test_render_echo))
