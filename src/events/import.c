/* SPDX-License-Identifier: MIT */
/* CSV import parsers: subscriber assignments and external infection reports. */
#include "events/import.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static bool digits(const char *s, size_t n, int *out)
{
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

static int days_in_month(int y, int m)
{
	static const int d[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : d[m - 1];
}

/* Days since 1970-01-01 (proleptic Gregorian; Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	const int64_t era = (y >= 0 ? y : y - 399) / 400;
	const unsigned yoe = (unsigned)(y - era * 400);
	const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

int events_time_parse(const char *s, int64_t *out)
{
	size_t n = strlen(s);
	if (n == 0)
		return C2W_EMALF;
	if (strspn(s, "0123456789") == n) {
		if (n > 12)
			return C2W_EMALF;
		int64_t v = 0;
		for (size_t i = 0; i < n; i++)
			v = v * 10 + (s[i] - '0');
		*out = v;
		return C2W_OK;
	}
	int y, mo, d, h = 0, mi = 0, sec = 0;
	if (n < 10 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
	    !digits(s + 8, 2, &d))
		return C2W_EMALF;
	if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
		return C2W_EMALF;
	const char *p = s + 10;
	int64_t offset = 0;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (strlen(p) < 5 || !digits(p, 2, &h) || p[2] != ':' || !digits(p + 3, 2, &mi))
			return C2W_EMALF;
		p += 5;
		if (*p == ':') {
			if (strlen(p) < 3 || !digits(p + 1, 2, &sec))
				return C2W_EMALF;
			p += 3;
			if (*p == '.' || *p == ',') {
				p++;
				size_t f = strspn(p, "0123456789");
				if (f == 0 || f > 9)
					return C2W_EMALF;
				p += f;
			}
		}
		if (h > 23 || mi > 59 || sec > 60)
			return C2W_EMALF;
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			int oh, om;
			if (strlen(p) != 6 || !digits(p + 1, 2, &oh) || p[3] != ':' ||
			    !digits(p + 4, 2, &om) || oh > 23 || om > 59)
				return C2W_EMALF;
			offset = (oh * 3600 + om * 60) * (*p == '+' ? 1 : -1);
			p += 6;
		}
	}
	if (*p != '\0')
		return C2W_EMALF;
	*out = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + sec -
	       offset;
	return C2W_OK;
}

const char *events_time_format(int64_t t, char *out, size_t cap)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (gmtime_r(&tt, &tm) == NULL || strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
		if (cap)
			out[0] = '\0';
	}
	return out;
}

static char *trim(char *s, char *end)
{
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*end = '\0';
	return s;
}

int events_csv_split(char *line, char **fields, int max)
{
	size_t n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	int count = 0;
	char *r = line;
	for (;;) {
		if (count == max)
			return C2W_EMALF;
		while (*r == ' ' || *r == '\t')
			r++;
		if (*r == '"') {
			/* Quoted: unescape in place. */
			char *w = r, *start = r;
			r++;
			for (;;) {
				if (*r == '\0')
					return C2W_EMALF;
				if (*r == '"') {
					if (r[1] == '"') {
						*w++ = '"';
						r += 2;
						continue;
					}
					r++;
					break;
				}
				*w++ = *r++;
			}
			while (*r == ' ' || *r == '\t')
				r++;
			if (*r != ',' && *r != '\0')
				return C2W_EMALF;
			char sep = *r;
			*w = '\0';
			fields[count++] = start;
			if (sep == '\0')
				return count;
			r++;
			continue;
		}
		char *start = r;
		while (*r != ',' && *r != '\0') {
			if (*r == '"')
				return C2W_EMALF;
			r++;
		}
		char sep = *r;
		fields[count++] = trim(start, r);
		if (sep == '\0')
			return count;
		r++;
	}
}

/* Copy a line into @buf; reject NUL bytes and over-long lines. */
static int take_line(const char *line, size_t len, char *buf, size_t cap, char *err, size_t err_len)
{
	if (len >= cap) {
		snprintf(err, err_len, "line too long (%zu bytes)", len);
		return C2W_EMALF;
	}
	if (memchr(line, '\0', len) != NULL) {
		snprintf(err, err_len, "NUL byte in line");
		return C2W_EMALF;
	}
	memcpy(buf, line, len);
	buf[len] = '\0';
	size_t i = 0;
	while (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n')
		i++;
	if (buf[i] == '\0' || buf[i] == '#')
		return C2W_EIGNORE;
	return C2W_OK;
}

static bool is_header(const char *first, const char *const *words)
{
	for (; *words; words++)
		if (strcasecmp(first, *words) == 0)
			return true;
	return false;
}

static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/*
 * One CSV row of an import file into fields (in @buf): C2W_EIGNORE for a header row (first
 * field one of @hdr), C2W_EMALF with a reason in @err for a row that does not split.
 */
static int split_row(const char *line, size_t len, const char *const *hdr,
		     char buf[EVENTS_IMPORT_LINE_MAX], char *f[EVENTS_IMPORT_FIELDS], int *n,
		     char *err, size_t err_len)
{
	int ret = take_line(line, len, buf, EVENTS_IMPORT_LINE_MAX, err, err_len);
	if (ret != C2W_OK)
		return ret;
	*n = events_csv_split(buf, f, EVENTS_IMPORT_FIELDS);
	if (*n < 0) {
		snprintf(err, err_len, "bad CSV quoting or too many fields");
		return C2W_EMALF;
	}
	if (*n >= 1 && is_header(f[0], hdr))
		return C2W_EIGNORE;
	return C2W_OK;
}

int events_import_subscriber_parse(const char *line, size_t len, struct events_subscriber_row *out,
				   char *err, size_t err_len)
{
	static const char *const hdr[] = {"subscriber_id", "subscriber", "id", NULL};
	char buf[EVENTS_IMPORT_LINE_MAX];
	char *f[EVENTS_IMPORT_FIELDS];
	int n;
	int ret = split_row(line, len, hdr, buf, f, &n, err, err_len);
	if (ret != C2W_OK)
		return ret;
	if (n != 3 && n != 4) {
		snprintf(err, err_len,
			 "expected 4 fields (subscriber_id,address,start,end), got %d", n);
		return C2W_EMALF;
	}
	size_t idlen = strlen(f[0]);
	if (idlen == 0 || idlen >= sizeof(out->id) || !printable(f[0])) {
		snprintf(err, err_len, "bad subscriber id");
		return C2W_EMALF;
	}
	memcpy(out->id, f[0], idlen + 1);
	if (events_prefix_parse(f[1], &out->prefix) != C2W_OK) {
		snprintf(err, err_len, "bad address or prefix '%.64s'", f[1]);
		return C2W_EMALF;
	}
	if (events_time_parse(f[2], &out->start_s) != C2W_OK) {
		snprintf(err, err_len, "bad start time '%.40s'", f[2]);
		return C2W_EMALF;
	}
	out->end_s = INT64_MAX;
	if (n == 4 && f[3][0] != '\0' && events_time_parse(f[3], &out->end_s) != C2W_OK) {
		snprintf(err, err_len, "bad end time '%.40s'", f[3]);
		return C2W_EMALF;
	}
	if (out->end_s <= out->start_s) {
		snprintf(err, err_len, "end is not after start");
		return C2W_EMALF;
	}
	return C2W_OK;
}

int events_import_report_parse(const char *line, size_t len, struct events_report_row *out,
			       char *err, size_t err_len)
{
	static const char *const hdr[] = {"timestamp", "time", "ts", NULL};
	char buf[EVENTS_IMPORT_LINE_MAX];
	char *f[EVENTS_IMPORT_FIELDS];
	int n;
	int ret = split_row(line, len, hdr, buf, f, &n, err, err_len);
	if (ret != C2W_OK)
		return ret;
	if (n != 4) {
		snprintf(err, err_len,
			 "expected 4 fields (timestamp,address,family,source), got %d", n);
		return C2W_EMALF;
	}
	if (events_time_parse(f[0], &out->time_s) != C2W_OK) {
		snprintf(err, err_len, "bad timestamp '%.40s'", f[0]);
		return C2W_EMALF;
	}
	if (strchr(f[1], '/') != NULL || events_prefix_parse(f[1], &out->addr) != C2W_OK) {
		snprintf(err, err_len, "bad address '%.64s'", f[1]);
		return C2W_EMALF;
	}
	size_t fl = strlen(f[2]), sl = strlen(f[3]);
	if (fl >= sizeof(out->family) || !printable(f[2])) {
		snprintf(err, err_len, "bad family");
		return C2W_EMALF;
	}
	if (sl == 0 || sl >= sizeof(out->source) || !printable(f[3])) {
		snprintf(err, err_len, "bad or empty source");
		return C2W_EMALF;
	}
	memcpy(out->family, f[2], fl + 1);
	memcpy(out->source, f[3], sl + 1);
	return C2W_OK;
}
