/* SPDX-License-Identifier: MIT */
/*
 * core/siphash.h: SipHash-2-4 against the paper's test vector (Aumasson, Bernstein 2012,
 * appendix A: key 00..0f, message 00..0e) and the first entries of the reference vectors
 * (messages 00..(n-1) for n = 0..8, one per block boundary case).
 */
#include "core/siphash.h"
#include "test.h"

static void key_seq(uint8_t key[16])
{
	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
}

static void test_paper_vector(void)
{
	uint8_t key[16], msg[15], out[8];
	static const uint8_t want[8] = {0xe5, 0x45, 0xbe, 0x49, 0x61, 0xca, 0x29, 0xa1};

	key_seq(key);
	for (int i = 0; i < 15; i++)
		msg[i] = (uint8_t)i;
	c2w_siphash24(key, msg, sizeof(msg), out);
	CHECK(memcmp(out, want, 8) == 0);
}

static void test_reference_vectors(void)
{
	/* vectors.h of the reference implementation, outputs for inputs of length 0, 1, 7, 8. */
	static const struct {
		size_t len;
		uint8_t out[8];
	} v[] = {
	    {0, {0x31, 0x0e, 0x0e, 0xdd, 0x47, 0xdb, 0x6f, 0x72}},
	    {1, {0xfd, 0x67, 0xdc, 0x93, 0xc5, 0x39, 0xf8, 0x74}},
	    {7, {0x37, 0xd1, 0x01, 0x8b, 0xf5, 0x00, 0x02, 0xab}},
	    {8, {0x62, 0x24, 0x93, 0x9a, 0x79, 0xf5, 0xf5, 0x93}},
	};
	uint8_t key[16], msg[16], out[8];

	key_seq(key);
	for (int i = 0; i < 16; i++)
		msg[i] = (uint8_t)i;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		c2w_siphash24(key, msg, v[i].len, out);
		CHECK(memcmp(out, v[i].out, 8) == 0);
	}
}

static void test_key_matters(void)
{
	uint8_t k1[16] = {0}, k2[16] = {0}, a[8], b[8];
	k2[15] = 1;
	c2w_siphash24(k1, (const uint8_t *)"cookie", 6, a);
	c2w_siphash24(k2, (const uint8_t *)"cookie", 6, b);
	CHECK(memcmp(a, b, 8) != 0);
}

TEST_MAIN(TEST(test_paper_vector), TEST(test_reference_vectors), TEST(test_key_matters))
