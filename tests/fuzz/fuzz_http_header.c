/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: HTTP response header lines from a feed server (feed_http_header), split at
 * LF as libcurl hands them over; the validators kept must be printable and NUL-terminated.
 */
#include <stdint.h>
#include <string.h>

#include "feed/http_fetch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);
	if (n >= cap)
		__builtin_trap();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct feed_http_meta m;
	memset(&m, 0, sizeof(m));
	const char *p = (const char *)data, *end = p + size;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl != NULL ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		feed_http_header(&m, p, len);
		p += len;
	}
	check(m.etag, sizeof(m.etag));
	check(m.last_modified, sizeof(m.last_modified));
	return 0;
}
