/* SPDX-License-Identifier: MIT */
/*
 * Addresses and prefixes as written in the config: "address@port" listeners and upstreams,
 * "a.b.c.d/n" and "x::/n" access-control prefixes, and the membership test the workers run on
 * every query (v4-mapped IPv6 clients match IPv4 prefixes). No allocation, no I/O.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "conf/config.h"
#include "core/err.h"

/* Longest address text we accept: an IPv6 address with an embedded IPv4 part. */
#define ADDR_TEXT_MAX INET6_ADDRSTRLEN

static int parse_port(const char *s, uint16_t *port)
{
	unsigned long v = 0;
	if (*s == '\0' || strlen(s) > 5)
		return C2W_EINVAL;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return C2W_EINVAL;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	if (v == 0 || v > 65535)
		return C2W_EINVAL;
	*port = (uint16_t)v;
	return C2W_OK;
}

/* Copy @len bytes of @s into @buf as a string, or fail when it does not fit. */
static int copy_part(const char *s, size_t len, char *buf, size_t cap)
{
	if (len == 0 || len >= cap)
		return C2W_EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return C2W_OK;
}

int conf_addr_parse(const char *text, uint16_t default_port, struct conf_addr *out)
{
	char host[ADDR_TEXT_MAX];
	uint16_t port = default_port;
	const char *at = strrchr(text, '@');
	size_t host_len = at != NULL ? (size_t)(at - text) : strlen(text);
	bool bracket = text[0] == '[';

	/* "[2001:db8::80]@80": the bracket form people copy from URLs; an IPv6 address only. */
	if (bracket) {
		if (host_len < 3 || text[host_len - 1] != ']')
			return C2W_EINVAL;
		text++;
		host_len -= 2;
	}
	if (copy_part(text, host_len, host, sizeof(host)) != C2W_OK)
		return C2W_EINVAL;
	if (at != NULL && parse_port(at + 1, &port) != C2W_OK)
		return C2W_EINVAL;
	if (port == 0) /* no default: the key requires an explicit port */
		return C2W_EINVAL;

	memset(out, 0, sizeof(*out));
	struct sockaddr_in *sin = (struct sockaddr_in *)&out->ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->ss;
	if (!bracket && inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		out->ss_len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		out->ss_len = sizeof(*sin6);
	} else {
		return C2W_EINVAL;
	}
	/* Normalise the text through inet_ntop so "::0001" prints as "::1". */
	char norm[ADDR_TEXT_MAX];
	const void *raw = sin->sin_family == AF_INET ? (const void *)&sin->sin_addr
						     : (const void *)&sin6->sin6_addr;
	if (inet_ntop(sin->sin_family, raw, norm, sizeof(norm)) == NULL)
		return C2W_EINVAL;
	snprintf(out->text, sizeof(out->text), "%s@%u", norm, (unsigned)port);
	return C2W_OK;
}

int conf_prefix_parse(const char *text, struct conf_prefix *out)
{
	char host[ADDR_TEXT_MAX];
	const char *slash = strchr(text, '/');
	size_t host_len = slash != NULL ? (size_t)(slash - text) : strlen(text);

	if (copy_part(text, host_len, host, sizeof(host)) != C2W_OK)
		return C2W_EINVAL;
	memset(out, 0, sizeof(*out));
	unsigned max_bits;
	if (inet_pton(AF_INET, host, out->addr) == 1) {
		out->family = AF_INET;
		max_bits = 32;
	} else if (inet_pton(AF_INET6, host, out->addr) == 1) {
		out->family = AF_INET6;
		max_bits = 128;
	} else {
		return C2W_EINVAL;
	}
	unsigned bits = max_bits;
	if (slash != NULL) {
		const char *s = slash + 1;
		if (*s == '\0' || strlen(s) > 3)
			return C2W_EINVAL;
		bits = 0;
		for (; *s != '\0'; s++) {
			if (*s < '0' || *s > '9')
				return C2W_EINVAL;
			bits = bits * 10 + (unsigned)(*s - '0');
		}
		if (bits > max_bits)
			return C2W_EINVAL;
	}
	/* Host bits must be zero: "10.1.2.3/8" is almost always a typo for something else. */
	for (unsigned i = bits; i < max_bits; i++)
		if (out->addr[i / 8] & (0x80u >> (i % 8)))
			return C2W_EINVAL;
	out->bits = (uint8_t)bits;
	return C2W_OK;
}

static bool bits_match(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;
	if (memcmp(a, b, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xffu << (8 - rest));
	return (a[whole] & mask) == (b[whole] & mask);
}

bool conf_prefix_contains(const struct conf_prefix *p, const struct sockaddr *sa)
{
	static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	const uint8_t *addr;

	if (sa->sa_family == AF_INET) {
		if (p->family != AF_INET)
			return false;
		addr = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
	} else if (sa->sa_family == AF_INET6) {
		addr = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		if (p->family == AF_INET) {
			/* A dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d. */
			if (memcmp(addr, v4mapped, sizeof(v4mapped)) != 0)
				return false;
			addr += sizeof(v4mapped);
		} else if (p->family != AF_INET6) {
			return false;
		}
	} else {
		return false;
	}
	return bits_match(addr, p->addr, p->bits);
}
