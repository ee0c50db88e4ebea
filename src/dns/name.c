/* SPDX-License-Identifier: MIT */
/*
 * Domain names: decompression (RFC 1035 4.1.4) with loop protection, text form (RFC 1035
 * 5.1), canonical lower-casing (RFC 4034 6.2), comparisons. Message structure is msg.c's.
 */
#include "dns/name.h"

#include <string.h>

#include "dns/msg.h"
#include "dns/wire.h"

/* Identity everywhere except 'A'..'Z'; built at compile time so lookups cost one load. */
#define LC(i)  (uint8_t)((i) >= 'A' && (i) <= 'Z' ? (i) + 32 : (i))
#define LC8(i) LC(i), LC(i + 1), LC(i + 2), LC(i + 3), LC(i + 4), LC(i + 5), LC(i + 6), LC(i + 7)
#define LC64(i)                                                                                    \
	LC8(i), LC8(i + 8), LC8(i + 16), LC8(i + 24), LC8(i + 32), LC8(i + 40), LC8(i + 48),       \
	    LC8(i + 56)
const uint8_t dns_lower_table[256] = {LC64(0), LC64(64), LC64(128), LC64(192)};
#undef LC64
#undef LC8
#undef LC

/*
 * Pointer hops allowed in one name. Every hop must go strictly below the start of the
 * previous segment, which already rules out loops; the bound caps the work an attacker can
 * make us do with chains of pointers to pointers. 127 is the most labels a name can have.
 */
#define MAX_HOPS 127

int dns_name_unpack(const uint8_t *pkt, size_t pkt_len, size_t *pos, uint8_t *out, size_t *out_len)
{
	size_t p = *pos, seg_start = *pos, o = 0, after = 0;
	unsigned hops = 0;

	for (;;) {
		if (p >= pkt_len)
			return C2W_ESHORT;
		uint8_t c = pkt[p];
		if (c == 0) {
			out[o++] = 0;
			break;
		}
		if ((c & 0xC0) == 0xC0) {
			if (p + 1 >= pkt_len)
				return C2W_ESHORT;
			size_t target = (size_t)(c & 0x3F) << 8 | pkt[p + 1];
			/* Backwards only, never into the header, never twice into one segment. */
			if (target >= seg_start || target < DNS_HEADER_LEN || ++hops > MAX_HOPS)
				return C2W_ELOOP;
			if (after == 0)
				after = p + 2;
			p = seg_start = target;
			continue;
		}
		if (c > DNS_LABEL_MAX)
			return C2W_ELABEL; /* 0x40 (RFC 6891 extended) and 0x80 are not defined */
		if (o + 1 + c + 1 > DNS_NAME_WIRE_MAX)
			return C2W_ENAME;
		if (p + 1 + c >= pkt_len)
			return C2W_ESHORT;
		memcpy(out + o, pkt + p, (size_t)c + 1);
		o += (size_t)c + 1;
		p += (size_t)c + 1;
	}
	*pos = after ? after : p + 1;
	*out_len = o;
	return C2W_OK;
}

int dns_name_wire_len(const uint8_t *name, size_t max)
{
	size_t p = 0;

	if (max > DNS_NAME_WIRE_MAX)
		max = DNS_NAME_WIRE_MAX;
	while (p < max) {
		uint8_t c = name[p];
		if (c == 0)
			return (int)p + 1;
		if (c > DNS_LABEL_MAX)
			return C2W_EMALF;
		p += (size_t)c + 1;
	}
	return C2W_EMALF;
}

void dns_name_lower(uint8_t *name)
{
	size_t p = 0;

	while (name[p] != 0) {
		uint8_t c = name[p];
		for (size_t i = p + 1; i <= p + c; i++)
			name[i] = dns_lower_table[name[i]];
		p += (size_t)c + 1;
	}
}

bool dns_name_equal(const uint8_t *a, const uint8_t *b)
{
	size_t p = 0;

	for (;;) {
		uint8_t c = a[p];
		if (c != b[p])
			return false;
		if (c == 0)
			return true;
		for (size_t i = p + 1; i <= p + c; i++)
			if (dns_lower_table[a[i]] != dns_lower_table[b[i]])
				return false;
		p += (size_t)c + 1;
	}
}

unsigned dns_name_label_count(const uint8_t *name)
{
	unsigned n = 0;

	for (size_t p = 0; name[p] != 0; p += (size_t)name[p] + 1)
		n++;
	return n;
}

int dns_name_subdomain(const uint8_t *name, const uint8_t *zone)
{
	unsigned n = dns_name_label_count(name), z = dns_name_label_count(zone);

	if (n < z)
		return -1;
	size_t p = 0;
	for (unsigned i = 0; i < n - z; i++)
		p += (size_t)name[p] + 1;
	return dns_name_equal(name + p, zone) ? (int)(n - z) : -1;
}

/* Parse a \X or \DDD escape at text[*i] (just after the backslash). @return byte or -1. */
static int unescape(const char *text, size_t *i)
{
	unsigned char c = (unsigned char)text[*i];

	if (c == 0)
		return -1;
	if (c < '0' || c > '9') {
		(*i)++;
		return c;
	}
	unsigned v = 0;
	for (int k = 0; k < 3; k++) {
		unsigned char d = (unsigned char)text[*i + (size_t)k];
		if (d < '0' || d > '9')
			return -1;
		v = v * 10 + (unsigned)(d - '0');
	}
	if (v > 255)
		return -1;
	*i += 3;
	return (int)v;
}

/* Append wire name @origin to @out at @o. */
static int append_origin(const uint8_t *origin, uint8_t *out, size_t o, size_t *out_len)
{
	int olen = dns_name_wire_len(origin, DNS_NAME_WIRE_MAX);

	if (olen < 0)
		return C2W_EMALF;
	if (o + (size_t)olen > DNS_NAME_WIRE_MAX)
		return C2W_ENAME;
	memcpy(out + o, origin, (size_t)olen);
	*out_len = o + (size_t)olen;
	return C2W_OK;
}

int dns_name_from_text(const char *text, const uint8_t *origin, uint8_t *out, size_t *out_len)
{
	size_t i = 0, o = 0, lab = 0; /* lab: offset of the current label's length byte */

	if (text[0] == '@' && text[1] == 0) {
		if (origin == NULL)
			return C2W_EMALF;
		return append_origin(origin, out, 0, out_len);
	}
	if (text[0] == '.' && text[1] == 0) {
		out[0] = 0;
		*out_len = 1;
		return C2W_OK;
	}
	out[0] = 0;
	o = 1;
	for (;;) {
		unsigned char c = (unsigned char)text[i];
		if (c == 0 || c == '.') {
			if (o == lab + 1)
				return C2W_EMALF; /* empty label */
			out[lab] = (uint8_t)(o - lab - 1);
			if (c == 0 || text[i + 1] == 0) {
				if (c == 0 && origin != NULL)
					return append_origin(origin, out, o, out_len);
				if (o + 1 > DNS_NAME_WIRE_MAX)
					return C2W_ENAME;
				out[o++] = 0;
				*out_len = o;
				return C2W_OK;
			}
			i++;
			lab = o;
			if (o + 1 > DNS_NAME_WIRE_MAX)
				return C2W_ENAME;
			out[o++] = 0;
			continue;
		}
		int b = c;
		i++;
		if (c == '\\' && (b = unescape(text, &i)) < 0)
			return C2W_EMALF;
		if (o - lab - 1 >= DNS_LABEL_MAX)
			return C2W_ELABEL;
		if (o + 1 >= DNS_NAME_WIRE_MAX)
			return C2W_ENAME; /* the root label still has to follow */
		out[o++] = (uint8_t)b;
	}
}

/* The general case: a NUL-terminated copy through dns_name_from_text(). */
static int from_text_copy(const char *text, size_t len, const uint8_t *origin, uint8_t *out,
			  size_t *out_len)
{
	char buf[DNS_NAME_TEXT_MAX + 1];

	if (len > DNS_NAME_TEXT_MAX)
		return C2W_ENAME;
	memcpy(buf, text, len);
	buf[len] = 0;
	int ret = dns_name_from_text(buf, origin, out, out_len);
	if (ret == C2W_OK)
		dns_name_lower(out);
	return ret;
}

int dns_name_from_text_lower(const char *text, size_t len, const uint8_t *origin, uint8_t *out,
			     size_t *out_len)
{
	size_t o = 1, lab = 0;

	if (len == 1 && text[0] == '.') { /* "CNAME ." : nearly every RPZ record */
		out[0] = 0;
		*out_len = 1;
		return C2W_OK;
	}
	if (len == 0 || len > DNS_NAME_TEXT_MAX || (len == 1 && text[0] == '@') ||
	    memchr(text, '\\', len) != NULL || memchr(text, 0, len) != NULL)
		return from_text_copy(text, len, origin, out, out_len);
	/* A label at a time (the names of a million-rule feed: a fifth of a compile's time when
	 * this went a byte at a time through every check). The checks are the byte loop's, in
	 * its order: the first byte to break a limit says which error. */
	const char *p = text, *end = text + len;
	for (;;) {
		const char *dot = memchr(p, '.', (size_t)(end - p));
		size_t ll = (size_t)((dot != NULL ? dot : end) - p);
		if (ll == 0)
			return C2W_EMALF; /* empty label */
		/* byte k of the label goes to out[lab + 1 + k]: too long at k = DNS_LABEL_MAX, or
		 * at the first k with lab + 2 + k >= DNS_NAME_WIRE_MAX */
		size_t k_label = DNS_LABEL_MAX;
		size_t k_name = lab + 2 >= DNS_NAME_WIRE_MAX ? 0 : DNS_NAME_WIRE_MAX - 2 - lab;
		if (ll > k_label || ll > k_name)
			return k_label <= k_name ? C2W_ELABEL : C2W_ENAME;
		for (size_t k = 0; k < ll; k++)
			out[o + k] = dns_lower_table[(unsigned char)p[k]];
		o += ll;
		out[lab] = (uint8_t)ll;
		if (dot == NULL)
			break;
		if (dot + 1 == end) {
			out[o++] = 0; /* absolute: o < DNS_NAME_WIRE_MAX, checked above */
			*out_len = o;
			return C2W_OK;
		}
		lab = o;
		if (o + 1 > DNS_NAME_WIRE_MAX)
			return C2W_ENAME;
		out[o++] = 0;
		p = dot + 1;
	}
	if (origin != NULL) {
		int ret = append_origin(origin, out, o, out_len);
		if (ret == C2W_OK)
			dns_name_lower(out + o);
		return ret;
	}
	if (o + 1 > DNS_NAME_WIRE_MAX)
		return C2W_ENAME;
	out[o++] = 0;
	*out_len = o;
	return C2W_OK;
}

static bool needs_escape(uint8_t c)
{
	switch (c) {
	case '.':
	case '\\':
	case '"':
	case '(':
	case ')':
	case ';':
	case '@':
	case '$':
		return true;
	default:
		return false;
	}
}

int dns_name_to_text(const uint8_t *name, char *out, size_t out_cap)
{
	size_t o = 0, p = 0;

	if (dns_name_wire_len(name, DNS_NAME_WIRE_MAX) < 0)
		return C2W_EMALF;
	if (name[0] == 0) {
		if (out_cap < 2)
			return C2W_ESPACE;
		out[0] = '.';
		out[1] = 0;
		return 1;
	}
	while (name[p] != 0) {
		uint8_t len = name[p];
		for (size_t k = p + 1; k <= p + len; k++) {
			uint8_t c = name[k];
			if (c <= 0x20 || c >= 0x7F) {
				if (o + 4 >= out_cap)
					return C2W_ESPACE;
				out[o++] = '\\';
				out[o++] = (char)('0' + c / 100);
				out[o++] = (char)('0' + c / 10 % 10);
				out[o++] = (char)('0' + c % 10);
				continue;
			}
			if (needs_escape(c)) {
				if (o + 2 >= out_cap)
					return C2W_ESPACE;
				out[o++] = '\\';
			} else if (o + 1 >= out_cap) {
				return C2W_ESPACE;
			}
			out[o++] = (char)c;
		}
		if (o + 1 >= out_cap)
			return C2W_ESPACE;
		out[o++] = '.';
		p += (size_t)len + 1;
	}
	out[o] = 0;
	return (int)o;
}

int dns_name_to_text_trunc(const uint8_t *name, char *out, size_t out_cap)
{
	char full[DNS_NAME_TEXT_MAX];
	const size_t mark = sizeof(DNS_NAME_TRUNC_MARK) - 1;
	if (out_cap < 8)
		return C2W_ESPACE;
	int n = dns_name_to_text(name, full, sizeof(full));
	if (n < 0)
		return n;
	if ((size_t)n < out_cap) {
		memcpy(out, full, (size_t)n + 1);
		return n;
	}
	/* Keep whole characters: "\\DDD" and "\\X" are one character each. */
	size_t limit = out_cap - 1 - mark, keep = 0;
	for (size_t i = 0; i < (size_t)n;) {
		size_t step = full[i] != '\\' ? 1 : (full[i + 1] >= '0' && full[i + 1] <= '9') ? 4 : 2;
		if (i + step > limit)
			break;
		i += step;
		keep = i;
	}
	memcpy(out, full, keep);
	memcpy(out + keep, DNS_NAME_TRUNC_MARK, mark + 1);
	return (int)(keep + mark);
}
