/* SPDX-License-Identifier: MIT */
/*
 * SipHash-2-4 (Aumasson, Bernstein 2012): a keyed 64-bit pseudorandom function for short
 * inputs. Used for DNS server cookies (RFC 9018 4.4); not a general MAC, not for long data.
 */
#ifndef C2W_CORE_SIPHASH_H
#define C2W_CORE_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

#define C2W_SIPHASH_KEY_LEN 16

/**
 * SipHash-2-4 of @data under @key.
 *
 * @param key   16 bytes, read as two little-endian 64-bit words
 * @param data  input, borrowed
 * @param len   its length
 * @param out   out: the 8-byte result in the reference byte order (little endian)
 */
void c2w_siphash24(const uint8_t key[C2W_SIPHASH_KEY_LEN], const uint8_t *data, size_t len,
		   uint8_t out[8]);

#endif
