/* SPDX-License-Identifier: MIT */
/* Feed format and zone-name guessing for the command line (c2wall check/compile/explain). */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/feed.h"

static bool word(const char *p, const char *end, const char *w)
{
	size_t n = strlen(w);
	return (size_t)(end - p) >= n && strncasecmp(p, w, n) == 0 &&
	       (p + n == end || isspace((unsigned char)p[n]));
}

static void take_name(const char *p, const char *end, char *zone, size_t cap)
{
	size_t n = 0;
	while (p < end && isspace((unsigned char)*p))
		p++;
	while (p < end && !isspace((unsigned char)*p) && *p != ';' && n + 2 < cap)
		zone[n++] = *p++;
	if (n > 0 && zone[n - 1] != '.')
		zone[n++] = '.';
	zone[n] = 0;
}

/* Read up to @cap bytes of the head of @path, cut after its last full line unless that is
 * the whole file. @return C2W_OK with *whole set when nothing is left out. */
static int read_head(const char *path, char *buf, size_t cap, size_t *len, bool *whole)
{
	FILE *f = fopen(path, "rb");

	if (f == NULL)
		return -errno;
	size_t n = fread(buf, 1, cap, f);
	int err = ferror(f) ? (errno ? -errno : C2W_EIO) : C2W_OK;
	*whole = n < cap && feof(f);
	fclose(f);
	if (err != C2W_OK)
		return err;
	while (!*whole && n > 0 && buf[n - 1] != '\n')
		n--;
	*len = n;
	return C2W_OK;
}

/* Scan the lines of @buf. @return true when the guess is settled before its end. */
static bool scan(const char *buf, size_t len, bool *rpz, bool *hosts, char *zone, size_t zone_cap)
{
	bool decided = false;

	zone[0] = 0;
	*rpz = *hosts = false;
	for (size_t i = 0; i < len;) {
		if (zone[0] != 0)
			return true;
		const char *l = buf + i;
		while (i < len && buf[i] != '\n')
			i++;
		const char *end = buf + i++;
		const char *p = l;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p == end || *p == '#' || *p == ';')
			continue;
		if (word(p, end, "$ORIGIN")) {
			take_name(p + 7, end, zone, zone_cap);
			*rpz = decided = true;
			continue;
		}
		if (*p == '$') {
			*rpz = decided = true;
			continue;
		}
		/* An SOA record: its owner names the zone. */
		for (const char *q = p; q + 3 <= end; q++)
			if (word(q, end, "SOA") && q > p && isspace((unsigned char)q[-1])) {
				if (p == l)
					take_name(p, end, zone, zone_cap);
				*rpz = decided = true;
				break;
			}
		if (!decided) {
			char a[64];
			size_t n = 0;
			while (p + n < end && !isspace((unsigned char)p[n]) && n < sizeof(a) - 1) {
				a[n] = p[n];
				n++;
			}
			a[n] = 0;
			uint8_t ad[16];
			*hosts = inet_pton(AF_INET, a, ad) == 1 || inet_pton(AF_INET6, a, ad) == 1;
			decided = true;
			if (!*hosts)
				return true;
		}
		if (!*rpz)
			return true;
	}
	return zone[0] != 0;
}

int policy_feed_guess(const char *path, enum policy_format *format, char *zone, size_t zone_cap)
{
	const size_t head_cap = 1 << 16;
	char *buf = malloc(head_cap);
	bool rpz = false, hosts = false, whole = false;
	size_t len = 0;

	if (buf == NULL)
		return C2W_ENOMEM;
	/* The head nearly always settles it: a 10M-rule feed need not be read twice. */
	int ret = read_head(path, buf, head_cap, &len, &whole);
	if (ret == C2W_OK && !scan(buf, len, &rpz, &hosts, zone, zone_cap) && !whole) {
		free(buf);
		ret = policy_feed_read(path, &buf, &len);
		if (ret != C2W_OK)
			return ret;
		scan(buf, len, &rpz, &hosts, zone, zone_cap);
	}
	free(buf);
	if (ret != C2W_OK)
		return ret;
	*format = rpz ? POLICY_FORMAT_RPZ : hosts ? POLICY_FORMAT_HOSTS : POLICY_FORMAT_DOMAINS;
	if (zone[0] == 0 || strcmp(zone, "@.") == 0) {
		const char *b = strrchr(path, '/');
		b = b ? b + 1 : path;
		size_t n = 0;
		for (; b[n] && n + 2 < zone_cap; n++)
			zone[n] = isalnum((unsigned char)b[n]) || b[n] == '-' ? (char)tolower((unsigned char)b[n]) : '-';
		zone[n++] = '.';
		zone[n] = 0;
	}
	return C2W_OK;
}
