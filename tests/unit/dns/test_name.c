/* SPDX-License-Identifier: MIT */
/* dns/name.h: decompression and its attacks, text form and escapes, comparisons. */
#include "dns/name.h"
#include "test.h"

/* Header (12 zero bytes) followed by @body. */
static size_t mkpkt(uint8_t *pkt, const uint8_t *body, size_t body_len)
{
	memset(pkt, 0, 12);
	memcpy(pkt + 12, body, body_len);
	return 12 + body_len;
}

static void test_unpack_plain_and_compressed(void)
{
	/* 12: www.example.com.  29: mail + ptr(16) -> mail.example.com. */
	static const uint8_t body[] = {3, 'w', 'w', 'w', 7, 'E', 'x', 'a', 'm', 'p', 'l',  'e',
				       3, 'c', 'o', 'm', 0, 4,   'm', 'a', 'i', 'l', 0xC0, 16};
	uint8_t pkt[64], out[DNS_NAME_WIRE_MAX];
	size_t len = mkpkt(pkt, body, sizeof(body)), pos = 12, out_len = 0;

	CHECK_EQ(dns_name_unpack(pkt, len, &pos, out, &out_len), C2W_OK);
	CHECK_EQ(pos, 29);
	CHECK_EQ(out_len, 17);
	CHECK(memcmp(out, body, 17) == 0); /* case kept */
	CHECK_EQ(dns_name_unpack(pkt, len, &pos, out, &out_len), C2W_OK);
	CHECK_EQ(pos, len); /* just after the pointer */
	CHECK_EQ(out_len, 18);
	CHECK(memcmp(out, "\4mail\7Example\3com", 18) == 0);
}

static void test_unpack_loops_and_bad_pointers(void)
{
	uint8_t pkt[64], out[DNS_NAME_WIRE_MAX];
	size_t pos, out_len;

	/* Pointer to itself. */
	static const uint8_t self[] = {0xC0, 12};
	size_t len = mkpkt(pkt, self, sizeof(self));
	pos = 12;
	CHECK_EQ(dns_name_unpack(pkt, len, &pos, out, &out_len), C2W_ELOOP);

	/* Forward pointer (to a valid name further on). */
	static const uint8_t fwd[] = {0xC0, 14, 0};
	len = mkpkt(pkt, fwd, sizeof(fwd));
	pos = 12;
	CHECK_EQ(dns_name_unpack(pkt, len, &pos, out, &out_len), C2W_ELOOP);

	/* Two names pointing at each other: a at 12 -> 16, b at 16: label + ptr -> 12. */
	static const uint8_t pair[] = {1, 'a', 0xC0, 16, 1, 'b', 0xC0, 12};
	len = mkpkt(pkt, pair, sizeof(pair));
	pos = 16;
	CHECK_EQ(dns_name_unpack(pkt, len, &pos, out, &out_len), C2W_ELOOP);
	pos = 12;
	CHECK_EQ(dns_name_unpack(pkt, len, &pos, out, &out_len), C2W_ELOOP);

	/* Pointer back into the header. */
	static const uint8_t hdr[] = {0xC0, 2};
	len = mkpkt(pkt, hdr, sizeof(hdr));
	pos = 12;
	CHECK_EQ(dns_name_unpack(pkt, len, &pos, out, &out_len), C2W_ELOOP);

	/* Label that jumps back into the middle of its own name and loops. */
	static const uint8_t mid[] = {0, 2, 'x', 'y', 0xC0, 13};
	len = mkpkt(pkt, mid, sizeof(mid));
	pos = 13;
	CHECK_EQ(dns_name_unpack(pkt, len, &pos, out, &out_len), C2W_ELOOP);

	/* Label types 0x40 and 0x80, and a label of 64. */
	static const uint8_t ext[] = {0x41, 0};
	len = mkpkt(pkt, ext, sizeof(ext));
	pos = 12;
	CHECK_EQ(dns_name_unpack(pkt, len, &pos, out, &out_len), C2W_ELABEL);
	static const uint8_t res[] = {0x80, 0};
	len = mkpkt(pkt, res, sizeof(res));
	pos = 12;
	CHECK_EQ(dns_name_unpack(pkt, len, &pos, out, &out_len), C2W_ELABEL);
}

static void test_unpack_label_and_name_limits(void)
{
	uint8_t pkt[600], body[580], out[DNS_NAME_WIRE_MAX];
	size_t pos, out_len, n = 0;

	/* Label 63: fine. Label 64: rejected. */
	body[n++] = 63;
	memset(body + n, 'a', 63);
	n += 63;
	body[n++] = 0;
	size_t len = mkpkt(pkt, body, n);
	pos = 12;
	CHECK_EQ(dns_name_unpack(pkt, len, &pos, out, &out_len), C2W_OK);
	CHECK_EQ(out_len, 65);
	body[0] = 64;
	body[65] = 0;
	body[66] = 0;
	len = mkpkt(pkt, body, 67);
	pos = 12;
	CHECK_EQ(dns_name_unpack(pkt, len, &pos, out, &out_len), C2W_ELABEL);

	/* 255 octets: 3 x 63-byte labels (192) + 61-byte label (62) + root = 255. */
	n = 0;
	for (int i = 0; i < 3; i++) {
		body[n++] = 63;
		memset(body + n, 'b', 63);
		n += 63;
	}
	body[n++] = 61;
	memset(body + n, 'c', 61);
	n += 61;
	body[n++] = 0;
	CHECK_EQ(n, 255);
	len = mkpkt(pkt, body, n);
	pos = 12;
	CHECK_EQ(dns_name_unpack(pkt, len, &pos, out, &out_len), C2W_OK);
	CHECK_EQ(out_len, 255);
	CHECK_EQ(dns_name_wire_len(out, 255), 255);
	/* 256 octets. */
	body[192] = 62;
	memset(body + 193, 'c', 62);
	body[255] = 0;
	len = mkpkt(pkt, body, 256);
	pos = 12;
	CHECK_EQ(dns_name_unpack(pkt, len, &pos, out, &out_len), C2W_ENAME);
	/* 256 octets reached through a pointer. */
	n = 0;
	for (int i = 0; i < 3; i++) {
		body[n++] = 63;
		memset(body + n, 'd', 63);
		n += 63;
	}
	body[n++] = 0;  /* name A: 193 octets at 12 */
	body[n++] = 61; /* name B: 61-byte label + ptr to A */
	memset(body + n, 'e', 61);
	n += 61;
	body[n++] = 0xC0;
	body[n++] = 12;
	len = mkpkt(pkt, body, n);
	pos = 12 + 193;
	CHECK_EQ(dns_name_unpack(pkt, len, &pos, out, &out_len), C2W_OK); /* 62 + 193 = 255 */
	body[193] = 62;
	memset(body + 194, 'e', 62);
	body[256] = 0xC0;
	body[257] = 12;
	len = mkpkt(pkt, body, 258);
	pos = 12 + 193;
	CHECK_EQ(dns_name_unpack(pkt, len, &pos, out, &out_len), C2W_ENAME);
}

static void test_unpack_pointer_chain_bound(void)
{
	uint8_t pkt[1024], out[DNS_NAME_WIRE_MAX];
	size_t pos, out_len;

	/* Root at 12, then pointers each to the previous one: hop count = chain length. */
	memset(pkt, 0, 12);
	pkt[12] = 0;
	size_t prev = 12, at = 13;
	for (int i = 0; i < 300; i++) {
		pkt[at] = (uint8_t)(0xC0 | prev >> 8);
		pkt[at + 1] = (uint8_t)prev;
		prev = at;
		at += 2;
	}
	pos = 13 + 2 * 99; /* 100 hops: allowed */
	CHECK_EQ(dns_name_unpack(pkt, at, &pos, out, &out_len), C2W_OK);
	CHECK_EQ(out_len, 1);
	pos = 13 + 2 * 299; /* 300 hops: refused */
	CHECK_EQ(dns_name_unpack(pkt, at, &pos, out, &out_len), C2W_ELOOP);
}

static void test_unpack_every_prefix(void)
{
	static const uint8_t body[] = {3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l',  'e',
				       3, 'c', 'o', 'm', 0, 4,   'm', 'a', 'i', 'l', 0xC0, 16};
	uint8_t pkt[64], out[DNS_NAME_WIRE_MAX];
	size_t full = mkpkt(pkt, body, sizeof(body));

	for (size_t len = 0; len < full; len++) {
		size_t pos = 29, out_len;
		/* The second name needs every byte up to the end. */
		CHECK_EQ(dns_name_unpack(pkt, len, &pos, out, &out_len), C2W_ESHORT);
		pos = 12;
		int ret = dns_name_unpack(pkt, len, &pos, out, &out_len);
		CHECK(len >= 29 ? ret == C2W_OK : ret == C2W_ESHORT);
	}
}

static void check_text(const char *text, const uint8_t *origin, int want, const char *back)
{
	uint8_t wire[DNS_NAME_WIRE_MAX];
	char out[DNS_NAME_TEXT_MAX];
	size_t wlen = 0;

	int ret = dns_name_from_text(text, origin, wire, &wlen);
	CHECK_EQ(ret, want);
	if (ret != C2W_OK || back == NULL)
		return;
	CHECK_EQ(dns_name_wire_len(wire, wlen), (int)wlen);
	CHECK_EQ(dns_name_to_text(wire, out, sizeof(out)), (int)strlen(back));
	CHECK_STREQ(out, back);
}

static void test_text(void)
{
	const uint8_t origin[] = "\7example\3com";
	char big[400];

	check_text("www.example.com.", NULL, C2W_OK, "www.example.com.");
	check_text("www.example.com", NULL, C2W_OK, "www.example.com.");
	check_text("www", origin, C2W_OK, "www.example.com.");
	check_text("www.", origin, C2W_OK, "www.");
	check_text("@", origin, C2W_OK, "example.com.");
	check_text("@", NULL, C2W_EMALF, NULL);
	check_text(".", NULL, C2W_OK, ".");
	check_text("a\\.b.c.", NULL, C2W_OK, "a\\.b.c.");
	check_text("a\\032b\\000.", NULL, C2W_OK, "a\\032b\\000.");
	check_text("\\065\\(x\\).", NULL, C2W_OK, "A\\(x\\).");
	check_text("a..b.", NULL, C2W_EMALF, NULL);
	check_text(".a.", NULL, C2W_EMALF, NULL);
	check_text("", NULL, C2W_EMALF, NULL);
	check_text("a\\256.", NULL, C2W_EMALF, NULL);
	check_text("a\\25", NULL, C2W_EMALF, NULL);
	check_text("a\\", NULL, C2W_EMALF, NULL);

	memset(big, 'x', 63);
	big[63] = 0;
	check_text(big, NULL, C2W_OK, NULL);
	memset(big, 'x', 64);
	big[64] = 0;
	check_text(big, NULL, C2W_ELABEL, NULL);

	/* 4 labels of 62 + dots = 252 text chars: 4 * 63 + 1 = 253 wire octets. Then 255/256. */
	size_t n = 0;
	for (int i = 0; i < 4; i++) {
		memset(big + n, 'y', 62);
		n += 62;
		big[n++] = '.';
	}
	big[n] = 0;
	check_text(big, NULL, C2W_OK, NULL);
	memcpy(big + n, "z.", 3); /* 253 + 2 = 255 */
	check_text(big, NULL, C2W_OK, NULL);
	memcpy(big + n, "zz.", 4); /* 256 */
	check_text(big, NULL, C2W_ENAME, NULL);
	big[n] = 0;
	big[n - 1] = 0; /* relative: 4*63 = 252 + origin 13 = 265 */
	check_text(big, origin, C2W_ENAME, NULL);

	/* to_text: output buffer too small. */
	uint8_t wire[DNS_NAME_WIRE_MAX];
	size_t wlen;
	char small[8];
	CHECK_EQ(dns_name_from_text("www.example.com.", NULL, wire, &wlen), C2W_OK);
	CHECK_EQ(dns_name_to_text(wire, small, sizeof(small)), C2W_ESPACE);
	CHECK_EQ(dns_name_to_text((const uint8_t *)"\x50", small, sizeof(small)), C2W_EMALF);
}

static void test_compare(void)
{
	uint8_t a[] = "\3WwW\7ExAmple\3COM";
	const uint8_t b[] = "\3www\7example\3com";
	const uint8_t zone[] = "\7example\3com";
	const uint8_t other[] = "\7example\3org";

	CHECK(dns_name_equal(a, b));
	CHECK(!dns_name_equal(a, zone));
	CHECK(!dns_name_equal(zone, other));
	CHECK_EQ(dns_name_label_count(b), 3);
	CHECK_EQ(dns_name_label_count((const uint8_t *)""), 0);
	CHECK_EQ(dns_name_subdomain(a, zone), 1);
	CHECK_EQ(dns_name_subdomain(zone, zone), 0);
	CHECK_EQ(dns_name_subdomain(zone, a), -1);
	CHECK_EQ(dns_name_subdomain(a, other), -1);
	CHECK_EQ(dns_name_subdomain(a, (const uint8_t *)""), 3);
	/* "xexample.com" is not below "example.com": label boundaries count. */
	CHECK_EQ(dns_name_subdomain((const uint8_t *)"\10xexample\3com", zone), -1);
	dns_name_lower(a);
	CHECK(memcmp(a, b, sizeof(b)) == 0);
	CHECK_EQ(dns_name_wire_len(b, 5), C2W_EMALF);
	CHECK_EQ(dns_name_wire_len(b, sizeof(b)), 17);
}

/* issue 12: a name whose escaped text outgrows a hit record's field is cut with a marker,
 * never recorded as "". */
static void test_text_trunc(void)
{
	uint8_t wire[DNS_NAME_WIRE_MAX];
	size_t p = 0;
	for (int l = 0; l < 4; l++) { /* 4 labels of 62 bytes 0x01: 248 * 4 = 992 chars */
		wire[p++] = 62;
		memset(wire + p, 1, 62);
		p += 62;
	}
	wire[p] = 0;
	char full[DNS_NAME_TEXT_MAX], cut[256];
	int n = dns_name_to_text(wire, full, sizeof(full));
	CHECK(n > 255);
	CHECK_EQ(dns_name_to_text(wire, cut, sizeof(cut)), C2W_ESPACE);
	int m = dns_name_to_text_trunc(wire, cut, sizeof(cut));
	CHECK(m > 0 && m < 256);
	CHECK_EQ((long long)strlen(cut), m);
	CHECK(m >= 3 && strcmp(cut + m - 3, DNS_NAME_TRUNC_MARK) == 0);
	CHECK(strncmp(cut, full, (size_t)m - 3) == 0);
	for (int i = 0; i < m - 3; i++) /* whole \DDD escapes only */
		if (cut[i] == '\\') {
			CHECK(i + 4 <= m - 3);
			i += 3;
		}
	/* A name that fits is unchanged. */
	const uint8_t small[] = "\3www\7example\3com";
	CHECK_EQ(dns_name_to_text_trunc(small, cut, sizeof(cut)), 16);
	CHECK_STREQ(cut, "www.example.com.");
	CHECK_EQ(dns_name_to_text_trunc(small, cut, 4), C2W_ESPACE);
}

/* dns_name_from_text_lower() gives what copy + dns_name_from_text() + dns_name_lower() give,
 * result and error, with and without an origin, on edge cases and on random strings. */
static void same_as_slow(const char *text, size_t len, const uint8_t *origin)
{
	char buf[DNS_NAME_TEXT_MAX + 2];
	uint8_t a[DNS_NAME_WIRE_MAX], b[DNS_NAME_WIRE_MAX];
	size_t al = 0, bl = 0;

	memcpy(buf, text, len);
	buf[len] = 0;
	int ra = dns_name_from_text(buf, origin, a, &al);
	if (ra == C2W_OK)
		dns_name_lower(a);
	int rb = dns_name_from_text_lower(text, len, origin, b, &bl);
	CHECK_EQ(rb, ra);
	if (ra == C2W_OK && rb == C2W_OK) {
		CHECK_EQ(bl, al);
		CHECK(memcmp(a, b, al) == 0);
	}
}

static void test_text_lower(void)
{
	static const uint8_t origin[] = "\3RPZ\5Bench";
	static const char *cases[] = {
		"@", ".", "a", "A.", "Www.Example.COM", "www.example.com.", "a..b", ".a", "a.",
		"..", "a\\.b.c", "a\\065b.", "x\\", "\\000.", "*.Evil", "24.0.0.0.10.rpz-ip",
		"@x", "x@", "",
	};
	char big[700];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		same_as_slow(cases[i], strlen(cases[i]), origin);
		same_as_slow(cases[i], strlen(cases[i]), NULL);
	}
	/* Label and name limits around 63 and 255, relative and absolute. */
	for (size_t n = 60; n < 300; n++) {
		for (size_t k = 0; k < n; k++)
			big[k] = (k % 64 == 63) ? '.' : 'X';
		same_as_slow(big, n, origin);
		same_as_slow(big, n, NULL);
		memset(big, 'y', n);
		same_as_slow(big, n, NULL);
	}
	/* Random short strings over an alphabet with the special characters. */
	static const char alpha[] = "aZ9.-*\\@";
	uint32_t x = 2463534242u;
	for (int i = 0; i < 20000; i++) {
		size_t n = 1 + i % 12;
		for (size_t k = 0; k < n; k++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			big[k] = alpha[x % (sizeof(alpha) - 1)];
		}
		same_as_slow(big, n, origin);
		same_as_slow(big, n, NULL);
	}
	/* Random label lengths up to and past 63, names up to and past 255: the label-at-a-time
	 * path must break the same limit first as the byte loop does. */
	for (int i = 0; i < 20000; i++) {
		size_t n = 0;
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		size_t want = 200 + x % 100;
		while (n < want) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			size_t ll = x % 70;
			for (size_t k = 0; k < ll && n < want; k++)
				big[n++] = (char)('a' + (x >> (k % 16)) % 26);
			if (n < want)
				big[n++] = '.';
		}
		same_as_slow(big, n, origin);
		same_as_slow(big, n, NULL);
	}
	/* A NUL byte ends the name, as in a C string. */
	same_as_slow("ab\0cd", 5, origin);
}

TEST_MAIN(TEST(test_text_trunc), TEST(test_unpack_plain_and_compressed), TEST(test_unpack_loops_and_bad_pointers),
	  TEST(test_unpack_label_and_name_limits), TEST(test_unpack_pointer_chain_bound),
	  TEST(test_unpack_every_prefix), TEST(test_text), TEST(test_compare), TEST(test_text_lower))
