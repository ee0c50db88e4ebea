/* SPDX-License-Identifier: MIT */
/*
 * Server cookies as RFC 9018 4 builds them, so that every node behind one anycast address
 * that shares the secret accepts the others' cookies, whatever software they run.
 */
#include "dns/cookie.h"

#include <stdbool.h>
#include <string.h>

#include "core/siphash.h"

#define COOKIE_VERSION 1

/* Hash input: client cookie, version, reserved, timestamp, address (at most 8+1+3+4+16). */
static void cookie_hash(const uint8_t secret[DNS_COOKIE_SECRET_LEN], const uint8_t *client,
			const uint8_t head[8], const uint8_t *ip, size_t ip_len, uint8_t out[8])
{
	uint8_t in[DNS_COOKIE_CLIENT_LEN + 8 + 16];
	size_t n = 0;

	memcpy(in, client, DNS_COOKIE_CLIENT_LEN);
	n += DNS_COOKIE_CLIENT_LEN;
	memcpy(in + n, head, 8);
	n += 8;
	memcpy(in + n, ip, ip_len);
	n += ip_len;
	c2w_siphash24(secret, in, n, out);
}

void dns_cookie_server_make(const uint8_t secret[DNS_COOKIE_SECRET_LEN],
			    const uint8_t client[DNS_COOKIE_CLIENT_LEN], const uint8_t *ip,
			    size_t ip_len, uint32_t now, uint8_t out[DNS_COOKIE_SERVER_LEN])
{
	out[0] = COOKIE_VERSION;
	out[1] = out[2] = out[3] = 0;
	out[4] = (uint8_t)(now >> 24);
	out[5] = (uint8_t)(now >> 16);
	out[6] = (uint8_t)(now >> 8);
	out[7] = (uint8_t)now;
	cookie_hash(secret, client, out, ip, ip_len > 16 ? 16 : ip_len, out + 8);
}

/* Compare without an early exit: the time taken says nothing about where they differ. */
static bool same(const uint8_t *a, const uint8_t *b, size_t n)
{
	uint8_t d = 0;
	for (size_t i = 0; i < n; i++)
		d |= a[i] ^ b[i];
	return d == 0;
}

int dns_cookie_server_check(const uint8_t secret[DNS_COOKIE_SECRET_LEN], const uint8_t *cookie,
			    size_t cookie_len, const uint8_t *ip, size_t ip_len, uint32_t now)
{
	if (cookie_len <= DNS_COOKIE_CLIENT_LEN)
		return C2W_ENOENT;
	const uint8_t *sc = cookie + DNS_COOKIE_CLIENT_LEN;
	if (cookie_len != DNS_COOKIE_CLIENT_LEN + DNS_COOKIE_SERVER_LEN || sc[0] != COOKIE_VERSION)
		return C2W_EVERSION;
	uint32_t ts = (uint32_t)sc[4] << 24 | (uint32_t)sc[5] << 16 | (uint32_t)sc[6] << 8 | sc[7];
	/* RFC 1982: the difference as a signed 32-bit number tells past from future. */
	int32_t age = (int32_t)(now - ts);
	if (age > DNS_COOKIE_MAX_AGE_S || age < -DNS_COOKIE_MAX_FUTURE_S)
		return C2W_ETIMEDOUT;
	uint8_t h[8];
	cookie_hash(secret, cookie, sc, ip, ip_len > 16 ? 16 : ip_len, h);
	return same(h, sc + 8, 8) ? C2W_OK : C2W_ECHECKSUM;
}
