/* SPDX-License-Identifier: MIT */
/*
 * SipHash-2-4, written from the paper ("SipHash: a fast short-input PRF", 2012): 2 rounds
 * per 8-byte block, 4 finalisation rounds. Constant time in the data for a given length.
 */
#include "core/siphash.h"

static uint64_t rotl(uint64_t x, unsigned b)
{
	return (x << b) | (x >> (64 - b));
}

static uint64_t load_le(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void sip_round(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = rotl(v[1], 13);
	v[1] ^= v[0];
	v[0] = rotl(v[0], 32);
	v[2] += v[3];
	v[3] = rotl(v[3], 16);
	v[3] ^= v[2];
	v[0] += v[3];
	v[3] = rotl(v[3], 21);
	v[3] ^= v[0];
	v[2] += v[1];
	v[1] = rotl(v[1], 17);
	v[1] ^= v[2];
	v[2] = rotl(v[2], 32);
}

static void compress(uint64_t v[4], uint64_t m)
{
	v[3] ^= m;
	sip_round(v);
	sip_round(v);
	v[0] ^= m;
}

void c2w_siphash24(const uint8_t key[C2W_SIPHASH_KEY_LEN], const uint8_t *data, size_t len,
		   uint8_t out[8])
{
	uint64_t k0 = load_le(key, 8), k1 = load_le(key + 8, 8);
	uint64_t v[4] = {
	    k0 ^ 0x736f6d6570736575ULL,
	    k1 ^ 0x646f72616e646f6dULL,
	    k0 ^ 0x6c7967656e657261ULL,
	    k1 ^ 0x7465646279746573ULL,
	};
	size_t whole = len - len % 8;

	for (size_t i = 0; i < whole; i += 8)
		compress(v, load_le(data + i, 8));
	/* Last block: the remaining bytes and the length's low byte on top. */
	compress(v, load_le(data + whole, len - whole) | (uint64_t)(len & 0xff) << 56);
	v[2] ^= 0xff;
	for (int i = 0; i < 4; i++)
		sip_round(v);
	uint64_t h = v[0] ^ v[1] ^ v[2] ^ v[3];
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(h >> (8 * i));
}
