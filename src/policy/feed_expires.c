/* SPDX-License-Identifier: MIT */
/*
 * The "expires=" metadata word of feed lines (docs/policy.md "Per-entry lifetimes"): an
 * RFC 3339 time after which the entry is not enforced. Only the parser lives here; skipping
 * expired entries is policy/rules.c, re-checking at the earliest expiry is the daemon's.
 */
#include <ctype.h>

#include "policy/feed.h"

static bool digits(const char *t, size_t n, unsigned *v)
{
	unsigned x = 0;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)t[i]))
			return false;
		x = x * 10 + (unsigned)(t[i] - '0');
	}
	*v = x;
	return true;
}

static bool leap(unsigned y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days from 1970-01-01 (H. Hinnant's days_from_civil); the date is already range-checked. */
static int64_t days_from_civil(unsigned y, unsigned m, unsigned d)
{
	int yy = (int)y - (m <= 2);
	int era = yy / 400;
	unsigned yoe = (unsigned)(yy - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (int64_t)era * 146097 + (int64_t)doe - 719468;
}

static bool date_part(const char *t, unsigned *y, unsigned *m, unsigned *d)
{
	static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (t[4] != '-' || t[7] != '-' || !digits(t, 4, y) || !digits(t + 5, 2, m) ||
	    !digits(t + 8, 2, d))
		return false;
	if (*y < 1970 || *y > 9999 || *m < 1 || *m > 12 || *d < 1)
		return false;
	return *d <= mdays[*m - 1] + (*m == 2 && leap(*y));
}

/* "Z", "+HH:MM" or "-HH:MM": the zone's offset east of UTC in seconds. */
static bool offset_part(const char *t, size_t len, int64_t *off)
{
	unsigned h, mi;
	if (len == 1 && (t[0] == 'Z' || t[0] == 'z')) {
		*off = 0;
		return true;
	}
	if (len != 6 || (t[0] != '+' && t[0] != '-') || t[3] != ':' || !digits(t + 1, 2, &h) ||
	    !digits(t + 4, 2, &mi) || h > 23 || mi > 59)
		return false;
	*off = (int64_t)(h * 3600 + mi * 60) * (t[0] == '-' ? -1 : 1);
	return true;
}

bool policy_feed_time(const char *t, size_t len, int64_t *out)
{
	unsigned y, m, d, hh = 0, mm = 0, ss = 0;
	int64_t off = 0;

	if (len < 10 || !date_part(t, &y, &m, &d))
		return false;
	if (len > 10) {
		/* "THH:MM:SS" then an offset; fractions of a second are not accepted. */
		if (len < 20 || (t[10] != 'T' && t[10] != 't') || t[13] != ':' || t[16] != ':' ||
		    !digits(t + 11, 2, &hh) || !digits(t + 14, 2, &mm) || !digits(t + 17, 2, &ss) ||
		    hh > 23 || mm > 59 || ss > 60 || !offset_part(t + 19, len - 19, &off))
			return false;
	}
	int64_t v = days_from_civil(y, m, d) * 86400 + hh * 3600 + mm * 60 + (ss == 60 ? 59 : ss);
	v -= off;
	if (v <= 0)
		return false;
	*out = v;
	return true;
}
