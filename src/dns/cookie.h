/* SPDX-License-Identifier: MIT */
/*
 * DNS Cookies (RFC 7873): the server cookie of RFC 9018 (version 1, reserved, timestamp,
 * SipHash-2-4 of client cookie, version, reserved, timestamp and client address under a
 * server secret), made and checked. Pure functions: the COOKIE option itself is parsed by
 * dns_query_parse() and rendered by dns_answer_render(); the worker decides what to do.
 */
#ifndef C2W_DNS_COOKIE_H
#define C2W_DNS_COOKIE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define DNS_COOKIE_CLIENT_LEN   8 /* RFC 7873 4 */
#define DNS_COOKIE_SERVER_MIN   8 /* RFC 7873 4: 8..32 bytes */
#define DNS_COOKIE_SERVER_MAX   32
#define DNS_COOKIE_MAX          (DNS_COOKIE_CLIENT_LEN + DNS_COOKIE_SERVER_MAX)
#define DNS_COOKIE_SERVER_LEN   16   /* ours, RFC 9018 4 */
#define DNS_COOKIE_SECRET_LEN   16   /* SipHash-2-4 key */
#define DNS_COOKIE_MAX_AGE_S    3600 /* RFC 9018 4.3: older cookies are not accepted */
#define DNS_COOKIE_MAX_FUTURE_S 300  /* ... nor ones more than 5 minutes ahead */

/**
 * Make our server cookie for a client (RFC 9018 4): version 1, reserved 0, @now, and the
 * hash over client cookie | version | reserved | timestamp | client address.
 *
 * @param secret  DNS_COOKIE_SECRET_LEN bytes
 * @param client  the client cookie (DNS_COOKIE_CLIENT_LEN bytes)
 * @param ip      the client's address as the query came from it: 4 bytes (IPv4, also for
 *                v4-mapped IPv6 peers) or 16 (IPv6), network byte order
 * @param ip_len  4 or 16
 * @param now     seconds since 1970, modulo 2^32 (serial number arithmetic, RFC 1982)
 * @param out     out: DNS_COOKIE_SERVER_LEN bytes
 */
void dns_cookie_server_make(const uint8_t secret[DNS_COOKIE_SECRET_LEN],
			    const uint8_t client[DNS_COOKIE_CLIENT_LEN], const uint8_t *ip,
			    size_t ip_len, uint32_t now, uint8_t out[DNS_COOKIE_SERVER_LEN]);

/**
 * Check a COOKIE option's content (client cookie followed by a server cookie) against
 * @secret: our version and length, a timestamp no more than an hour old nor five minutes
 * ahead (RFC 9018 4.3), and the hash (reserved bytes included as received).
 *
 * @param cookie      option content, borrowed
 * @param cookie_len  its length (8..40)
 * @return C2W_OK (valid), C2W_ENOENT (no server cookie), C2W_EVERSION (not a version-1,
 *         16-byte cookie: not one of ours), C2W_ETIMEDOUT (too old or from the future),
 *         C2W_ECHECKSUM (hash differs: forged, another client's, or another secret's)
 */
C2W_NODISCARD int dns_cookie_server_check(const uint8_t secret[DNS_COOKIE_SECRET_LEN],
					  const uint8_t *cookie, size_t cookie_len,
					  const uint8_t *ip, size_t ip_len, uint32_t now);

#endif
