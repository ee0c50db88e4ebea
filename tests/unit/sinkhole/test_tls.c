/* SPDX-License-Identifier: MIT */
/* ClientHello reader: real hellos, every truncation, fragmentation across records, garbage. */
#include "hellos.h"
#include "sinkhole/tls.h"
#include "test.h"

static void test_real_sni(void)
{
	struct sinkhole_tls_hello h;
	CHECK_EQ(sinkhole_tls_parse_hello(hello_openssl_sni, sizeof(hello_openssl_sni), &h),
		 C2W_OK);
	CHECK(h.has_sni);
	CHECK_STREQ(h.sni, "x.example");
	CHECK_EQ(h.legacy_version, 0x0303);
	CHECK(h.ext_count > 5);
}

static void test_real_tls12_lowercased(void)
{
	struct sinkhole_tls_hello h;
	CHECK_EQ(sinkhole_tls_parse_hello(hello_openssl_tls12, sizeof(hello_openssl_tls12), &h),
		 C2W_OK);
	CHECK_STREQ(h.sni, "mixed.example.org");
}

static void test_real_no_sni(void)
{
	struct sinkhole_tls_hello h;
	CHECK_EQ(sinkhole_tls_parse_hello(hello_openssl_nosni, sizeof(hello_openssl_nosni), &h),
		 C2W_OK);
	CHECK(!h.has_sni);
	CHECK_STREQ(h.sni, "");
}

/* Every strict prefix is "need more", never an error and never a read past the end. */
static void test_every_prefix_is_eagain(void)
{
	struct sinkhole_tls_hello h;
	for (size_t n = 0; n < sizeof(hello_openssl_sni); n++) {
		unsigned char *copy = malloc(n ? n : 1);
		memcpy(copy, hello_openssl_sni, n);
		int ret = sinkhole_tls_parse_hello(copy, n, &h);
		if (ret != C2W_EAGAIN)
			fprintf(stderr, "prefix %zu: %d\n", n, ret);
		CHECK_EQ(ret, C2W_EAGAIN);
		free(copy);
	}
}

/* Split the handshake message over three records, as a client may (RFC 8446 5.1). */
static void test_fragmented_records(void)
{
	const unsigned char *hs = hello_openssl_sni + 5;
	size_t hs_len = sizeof(hello_openssl_sni) - 5, cuts[] = {3, 100, hs_len};
	unsigned char buf[1024];
	size_t len = 0, from = 0;
	for (size_t i = 0; i < 3; i++) {
		size_t n = cuts[i] - from;
		buf[len++] = 0x16;
		buf[len++] = 0x03;
		buf[len++] = 0x01;
		buf[len++] = (unsigned char)(n >> 8);
		buf[len++] = (unsigned char)n;
		memcpy(buf + len, hs + from, n);
		len += n;
		from = cuts[i];
	}
	struct sinkhole_tls_hello h;
	CHECK_EQ(sinkhole_tls_parse_hello(buf, len, &h), C2W_OK);
	CHECK_STREQ(h.sni, "x.example");
	CHECK_EQ(sinkhole_tls_parse_hello(buf, len - 1, &h), C2W_EAGAIN);
}

static void test_not_tls(void)
{
	struct sinkhole_tls_hello h;
	const char *http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	CHECK_EQ(sinkhole_tls_parse_hello((const uint8_t *)http, strlen(http), &h), C2W_EMALF);
	/* handshake record, but a ServerHello (type 2) */
	unsigned char sh[] = {0x16, 0x03, 0x03, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00};
	CHECK_EQ(sinkhole_tls_parse_hello(sh, sizeof(sh), &h), C2W_EMALF);
	/* empty record */
	unsigned char empty[] = {0x16, 0x03, 0x01, 0x00, 0x00};
	CHECK_EQ(sinkhole_tls_parse_hello(empty, sizeof(empty), &h), C2W_EMALF);
	/* record longer than 2^14 */
	unsigned char big[] = {0x16, 0x03, 0x01, 0x40, 0x01, 0x01};
	CHECK_EQ(sinkhole_tls_parse_hello(big, sizeof(big), &h), C2W_EMALF);
	/* ClientHello claiming 1 MiB */
	unsigned char huge[] = {0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x10, 0x00, 0x00};
	CHECK_EQ(sinkhole_tls_parse_hello(huge, sizeof(huge), &h), C2W_ERANGE);
}

/* Corrupt each length field inside the real hello: never OK with a bogus SNI, never a crash. */
static void test_corrupted_lengths(void)
{
	struct sinkhole_tls_hello h;
	unsigned char copy[sizeof(hello_openssl_sni)];
	for (size_t i = 5; i < sizeof(copy); i++) {
		for (int delta = -2; delta <= 2; delta += 4) {
			memcpy(copy, hello_openssl_sni, sizeof(copy));
			copy[i] = (unsigned char)(copy[i] + delta);
			int ret = sinkhole_tls_parse_hello(copy, sizeof(copy), &h);
			CHECK(ret == C2W_OK || ret == C2W_EMALF || ret == C2W_EAGAIN ||
			      ret == C2W_ERANGE);
			if (ret == C2W_OK && h.has_sni)
				CHECK(strlen(h.sni) > 0 && strlen(h.sni) < 256);
		}
	}
}

static void test_sni_with_control_byte(void)
{
	unsigned char copy[sizeof(hello_openssl_sni)];
	memcpy(copy, hello_openssl_sni, sizeof(copy));
	unsigned char *x = memmem(copy, sizeof(copy), "x.example", 9);
	CHECK(x != NULL);
	if (x == NULL)
		return;
	x[1] = '\n';
	struct sinkhole_tls_hello h;
	CHECK_EQ(sinkhole_tls_parse_hello(copy, sizeof(copy), &h), C2W_EMALF);
}

TEST_MAIN(TEST(test_real_sni), TEST(test_real_tls12_lowercased), TEST(test_real_no_sni),
	  TEST(test_every_prefix_is_eagain), TEST(test_fragmented_records), TEST(test_not_tls),
	  TEST(test_corrupted_lengths), TEST(test_sni_with_control_byte))
