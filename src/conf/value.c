/* SPDX-License-Identifier: MIT */
/*
 * Scalar values of the config file. Strict on purpose: "10 s", "-5", "0x10" and "1.5h" are
 * errors, so a typo is reported at load time instead of becoming a surprising setting.
 */
#include "conf/value.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int conf_value_parse_bool(const char *text, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on"};
	static const char *const no[] = {"false", "no", "off"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(text, yes[i]) == 0) {
			*out = true;
			return C2W_OK;
		}
		if (strcasecmp(text, no[i]) == 0) {
			*out = false;
			return C2W_OK;
		}
	}
	return C2W_EINVAL;
}

/* Digits at *@s into @v; advances *@s. @return C2W_OK, C2W_EINVAL (none), C2W_ERANGE */
static int take_digits(const char **s, uint64_t *v)
{
	const char *p = *s;
	uint64_t acc = 0;

	if (*p < '0' || *p > '9')
		return C2W_EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (acc > (UINT64_MAX - d) / 10)
			return C2W_ERANGE;
		acc = acc * 10 + d;
	}
	*s = p;
	*v = acc;
	return C2W_OK;
}

int conf_value_parse_uint(const char *text, uint64_t *out)
{
	const char *s = text;
	uint64_t v;
	int ret = take_digits(&s, &v);
	if (ret != C2W_OK)
		return ret == C2W_ERANGE ? C2W_EINVAL : ret;
	if (*s != '\0')
		return C2W_EINVAL;
	*out = v;
	return C2W_OK;
}

static int mul_add(uint64_t *acc, uint64_t v, uint64_t unit)
{
	if (v != 0 && unit > UINT64_MAX / v)
		return C2W_ERANGE;
	if (*acc > UINT64_MAX - v * unit)
		return C2W_ERANGE;
	*acc += v * unit;
	return C2W_OK;
}

int conf_value_parse_duration(const char *text, uint64_t *out_ms)
{
	static const struct {
		const char *suffix;
		uint64_t ms;
	} units[] = {
	    /* "ms" before "m" so the longer suffix wins. */
	    {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000},
	};
	const char *s = text;
	uint64_t total = 0;

	if (*s == '\0')
		return C2W_EINVAL;
	if (strspn(text, "0123456789") == strlen(text)) {
		/* Bare digits are seconds. */
		uint64_t v;
		int ret = take_digits(&s, &v);
		if (ret != C2W_OK)
			return ret;
		if (mul_add(&total, v, 1000) != C2W_OK)
			return C2W_ERANGE;
		*out_ms = total;
		return C2W_OK;
	}
	while (*s != '\0') {
		uint64_t v;
		int ret = take_digits(&s, &v);
		if (ret != C2W_OK)
			return ret;
		size_t i, n = 0;
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			n = strlen(units[i].suffix);
			if (strncmp(s, units[i].suffix, n) == 0 &&
			    (s[n] == '\0' || (s[n] >= '0' && s[n] <= '9')))
				break;
		}
		if (i == sizeof(units) / sizeof(units[0]))
			return C2W_EINVAL;
		if (mul_add(&total, v, units[i].ms) != C2W_OK)
			return C2W_ERANGE;
		s += n;
	}
	*out_ms = total;
	return C2W_OK;
}

int conf_value_parse_size(const char *text, uint64_t *out_bytes)
{
	static const char mult[] = "kmgt";
	const char *s = text;
	uint64_t v, unit = 1;
	int ret = take_digits(&s, &v);
	if (ret != C2W_OK)
		return ret;
	if (*s != '\0') {
		const char *m = strchr(mult, s[0] | 0x20);
		if (m == NULL || s[0] == ' ')
			return C2W_EINVAL;
		unit = (uint64_t)1 << (10 * (m - mult + 1));
		s++;
		if (strcasecmp(s, "b") != 0 && strcasecmp(s, "ib") != 0 && *s != '\0')
			return C2W_EINVAL;
	}
	uint64_t total = 0;
	if (mul_add(&total, v, unit) != C2W_OK)
		return C2W_ERANGE;
	*out_bytes = total;
	return C2W_OK;
}

int conf_value_parse_double(const char *text, double *out)
{
	/* strtod would also take "nan", "inf", hex floats and leading spaces: refuse them. */
	if (text[0] == '\0' || strspn(text, "0123456789.eE+-") != strlen(text))
		return C2W_EINVAL;
	char *end;
	double v = strtod(text, &end);
	if (*end != '\0' || !isfinite(v))
		return C2W_EINVAL;
	*out = v;
	return C2W_OK;
}

static bool name_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

int conf_value_parse_name(const char *text, char *out, size_t out_cap)
{
	size_t len = strlen(text);
	if (len == 0)
		return C2W_EINVAL;
	if (strcmp(text, ".") == 0) {
		if (out_cap < 2)
			return C2W_ESPACE;
		memcpy(out, ".", 2);
		return C2W_OK;
	}
	if (text[len - 1] == '.')
		len--;
	/* Wire length = text length + 2 (first length octet and the root label). */
	if (len == 0 || len + 2 > 255)
		return C2W_EINVAL;
	if (out_cap < len + 2)
		return C2W_ESPACE;
	size_t label = 0;
	for (size_t i = 0; i < len; i++) {
		char c = text[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c + ('a' - 'A'));
		if (c == '.') {
			if (label == 0)
				return C2W_EINVAL;
			label = 0;
		} else if (!name_char_ok(c) || ++label > 63) {
			return C2W_EINVAL;
		}
		out[i] = c;
	}
	if (label == 0)
		return C2W_EINVAL;
	out[len] = '.';
	out[len + 1] = '\0';
	return C2W_OK;
}
