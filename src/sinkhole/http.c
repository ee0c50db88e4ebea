/* SPDX-License-Identifier: MIT */
/*
 * HTTP/1.x request head parser (RFC 9112) and Accept-Language selection (RFC 9110 12.5.4).
 * Works on the receive buffer in place; every rule a lenient parser would let through and a
 * smuggling or confusion attack would need is a 400 here. Connection handling: server.c.
 */
#include "sinkhole/http.h"

#include <string.h>

#define METHOD_MAX 32

/* tchar (RFC 9110 5.6.2) */
static bool is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* field-vchar / SP / HTAB (RFC 9110 5.5); obs-text allowed, every other control byte not */
static bool is_field_byte(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static unsigned char lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

static bool slice_ieq(struct sinkhole_slice s, const char *lit)
{
	size_t n = strlen(lit);
	if (s.len != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower((unsigned char)s.p[i]) != (unsigned char)lit[i])
			return false;
	return true;
}

static bool prefix_ieq(const char *p, size_t len, const char *lit)
{
	size_t n = strlen(lit);
	if (len < n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower((unsigned char)p[i]) != (unsigned char)lit[i])
			return false;
	return true;
}

/* One line [start, nl) without its CR; C2W_EMALF on a CR anywhere but just before LF. */
static int line_strip(const char *buf, size_t start, size_t nl, size_t *end)
{
	size_t e = nl;
	if (e > start && buf[e - 1] == '\r')
		e--;
	if (memchr(buf + start, '\r', e - start) != NULL)
		return C2W_EMALF;
	*end = e;
	return C2W_OK;
}

static int parse_version(const char *p, size_t len, struct sinkhole_http_req *req)
{
	if (len != 8 || memcmp(p, "HTTP/", 5) != 0 || p[6] != '.')
		return C2W_EMALF;
	if (p[5] < '0' || p[5] > '9' || p[7] < '0' || p[7] > '9')
		return C2W_EMALF;
	if (p[5] != '1')
		return C2W_EVERSION;
	/* Minor versions are compatible (RFC 9110 2.5): treat 1.2+ as 1.1. */
	req->version_minor = p[7] == '0' ? 0 : 1;
	return C2W_OK;
}

static int parse_request_line(const char *p, size_t len, struct sinkhole_http_req *req)
{
	size_t i = 0;
	while (i < len && is_tchar((unsigned char)p[i]))
		i++;
	if (i == 0 || i > METHOD_MAX || i >= len || p[i] != ' ')
		return C2W_EMALF;
	req->method = (struct sinkhole_slice){p, i};
	size_t t = ++i;
	while (i < len && (unsigned char)p[i] > 0x20 && (unsigned char)p[i] < 0x7f)
		i++;
	if (i == t || i >= len || p[i] != ' ')
		return C2W_EMALF;
	if (i - t > SINKHOLE_HTTP_TARGET_MAX)
		return C2W_ESPACE;
	req->target = (struct sinkhole_slice){p + t, i - t};
	i++;
	return parse_version(p + i, len - i, req);
}

/* The authority of an absolute-form target (RFC 9112 3.2.2) replaces the Host field. */
static void absolute_authority(struct sinkhole_http_req *req)
{
	const char *p = req->target.p;
	size_t len = req->target.len, off;
	if (prefix_ieq(p, len, "http://"))
		off = 7;
	else if (prefix_ieq(p, len, "https://"))
		off = 8;
	else
		return;
	size_t e = off;
	while (e < len && p[e] != '/' && p[e] != '?' && p[e] != '#')
		e++;
	const char *at = memchr(p + off, '@', e - off); /* drop userinfo */
	if (at != NULL)
		off = (size_t)(at - p) + 1;
	req->host = (struct sinkhole_slice){p + off, e - off};
	req->has_host = true;
}

static int parse_content_length(struct sinkhole_slice v, uint64_t *out)
{
	uint64_t n = 0;
	if (v.len == 0 || v.len > 18)
		return C2W_EMALF;
	for (size_t i = 0; i < v.len; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return C2W_EMALF;
		n = n * 10 + (uint64_t)(v.p[i] - '0');
	}
	*out = n;
	return C2W_OK;
}

/* Connection: comma-separated tokens (RFC 9110 7.6.1). */
static void parse_connection(struct sinkhole_slice v, bool *close, bool *keep)
{
	size_t i = 0;
	while (i < v.len) {
		while (i < v.len && (v.p[i] == ' ' || v.p[i] == '\t' || v.p[i] == ','))
			i++;
		size_t s = i;
		while (i < v.len && v.p[i] != ',' && v.p[i] != ' ' && v.p[i] != '\t')
			i++;
		struct sinkhole_slice tok = {v.p + s, i - s};
		if (slice_ieq(tok, "close"))
			*close = true;
		else if (slice_ieq(tok, "keep-alive"))
			*keep = true;
	}
}

struct field_state {
	bool seen_cl;
	uint64_t cl;
	bool keep_alive;
	bool host_field;
};

static int handle_field(struct sinkhole_slice name, struct sinkhole_slice v,
			struct sinkhole_http_req *req, struct field_state *st)
{
	if (slice_ieq(name, "host")) {
		/* RFC 9112 3.2: more than one Host is a 400. */
		if (st->host_field)
			return C2W_EMALF;
		st->host_field = true;
		req->host = v;
		req->has_host = true;
	} else if (slice_ieq(name, "user-agent")) {
		if (!req->has_user_agent) {
			req->user_agent = v;
			req->has_user_agent = true;
		}
	} else if (slice_ieq(name, "accept-language")) {
		if (req->accept_language.p == NULL)
			req->accept_language = v;
	} else if (slice_ieq(name, "content-length")) {
		uint64_t n;
		if (parse_content_length(v, &n) != C2W_OK || (st->seen_cl && n != st->cl))
			return C2W_EMALF;
		st->seen_cl = true;
		st->cl = n;
		if (n > 0)
			req->has_body = true;
	} else if (slice_ieq(name, "transfer-encoding")) {
		req->has_body = true;
		req->close = true;
	} else if (slice_ieq(name, "connection")) {
		parse_connection(v, &req->close, &st->keep_alive);
	}
	return C2W_OK;
}

static int parse_field_line(const char *p, size_t len, struct sinkhole_http_req *req,
			    struct field_state *st)
{
	/* obs-fold (RFC 9112 5.2) and whitespace before the colon (5.1) are rejected. */
	size_t i = 0;
	while (i < len && is_tchar((unsigned char)p[i]))
		i++;
	if (i == 0 || i >= len || p[i] != ':')
		return C2W_EMALF;
	struct sinkhole_slice name = {p, i};
	size_t s = i + 1, e = len;
	for (size_t k = s; k < e; k++)
		if (!is_field_byte((unsigned char)p[k]))
			return C2W_EMALF;
	while (s < e && (p[s] == ' ' || p[s] == '\t'))
		s++;
	while (e > s && (p[e - 1] == ' ' || p[e - 1] == '\t'))
		e--;
	return handle_field(name, (struct sinkhole_slice){p + s, e - s}, req, st);
}

/* No LF within the window: decide between "wait" and "too big". */
static int incomplete(size_t window, size_t limit, bool in_request_line)
{
	if (window < limit)
		return C2W_EAGAIN;
	return in_request_line ? C2W_ESPACE : C2W_ERANGE;
}

static int finish(struct sinkhole_http_req *req, const struct field_state *st)
{
	if (req->version_minor == 1 && !st->host_field)
		return C2W_EMALF;
	if (req->version_minor == 0 && !st->keep_alive)
		req->close = true;
	absolute_authority(req);
	return C2W_OK;
}

int sinkhole_http_parse(const char *buf, size_t len, const struct sinkhole_http_limits *lim,
			struct sinkhole_http_req *req)
{
	memset(req, 0, sizeof(*req));
	size_t window = len < lim->header_max ? len : lim->header_max;
	size_t pos = 0;
	/* RFC 9112 2.2: ignore at least one empty line before the request line. */
	while (pos < window &&
	       (buf[pos] == '\n' || (buf[pos] == '\r' && pos + 1 < window && buf[pos + 1] == '\n')))
		pos += buf[pos] == '\r' ? 2 : 1;
	if (pos + 4 <= window && memcmp(buf + pos, "PRI ", 4) == 0)
		return C2W_EVERSION; /* HTTP/2 connection preface */
	const char *nl = memchr(buf + pos, '\n', window - pos);
	if (nl == NULL)
		return incomplete(window, lim->header_max, true);
	size_t end, next = (size_t)(nl - buf) + 1;
	int ret = line_strip(buf, pos, (size_t)(nl - buf), &end);
	if (ret == C2W_OK)
		ret = parse_request_line(buf + pos, end - pos, req);
	if (ret != C2W_OK)
		return ret;
	struct field_state st = {0};
	for (;;) {
		pos = next;
		nl = memchr(buf + pos, '\n', window - pos);
		if (nl == NULL)
			return incomplete(window, lim->header_max, false);
		next = (size_t)(nl - buf) + 1;
		ret = line_strip(buf, pos, (size_t)(nl - buf), &end);
		if (ret != C2W_OK)
			return ret;
		if (end == pos)
			break;
		if (++req->field_count > lim->header_count)
			return C2W_ERANGE;
		ret = parse_field_line(buf + pos, end - pos, req, &st);
		if (ret != C2W_OK)
			return ret;
	}
	req->consumed = next;
	return finish(req, &st);
}

int sinkhole_http_host_normalise(struct sinkhole_slice host, char *out)
{
	const char *p = host.p;
	size_t len = host.len;
	if (len > 0 && p[0] == '[') {
		const char *rb = memchr(p, ']', len);
		if (rb == NULL)
			return C2W_EMALF;
		p++;
		len = (size_t)(rb - p);
	} else {
		const char *colon = memchr(p, ':', len);
		if (colon != NULL && memchr(colon + 1, ':', len - (size_t)(colon - p) - 1) == NULL)
			len = (size_t)(colon - p);
	}
	if (len > 0 && p[len - 1] == '.')
		len--;
	if (len == 0 || len > SINKHOLE_HTTP_HOST_MAX)
		return C2W_EMALF;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		if (!is_field_byte(c) || c == '\t')
			return C2W_EMALF;
		out[i] = (char)lower(c);
	}
	out[len] = '\0';
	return (int)len;
}

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in thousandths. */
static int parse_qvalue(const char *p, size_t len)
{
	if (len == 0 || (p[0] != '0' && p[0] != '1'))
		return -1;
	int q = (p[0] - '0') * 1000;
	if (len == 1)
		return q;
	if (p[1] != '.' || len > 5)
		return -1;
	int scale = 100;
	for (size_t i = 2; i < len; i++, scale /= 10) {
		if (p[i] < '0' || p[i] > '9' || (q == 1000 && p[i] != '0'))
			return -1;
		q += (p[i] - '0') * scale;
	}
	return q;
}

static size_t trim(const char *p, size_t s, size_t *e)
{
	while (s < *e && (p[s] == ' ' || p[s] == '\t'))
		s++;
	while (*e > s && (p[*e - 1] == ' ' || p[*e - 1] == '\t'))
		(*e)--;
	return s;
}

/* One element "range [; q=x] [; other]"; @return q (0..1000) or -1 when malformed. */
static int parse_lang_element(const char *p, size_t s, size_t e, struct sinkhole_slice *range)
{
	size_t semi = s;
	while (semi < e && p[semi] != ';')
		semi++;
	size_t re = semi;
	s = trim(p, s, &re);
	*range = (struct sinkhole_slice){p + s, re - s};
	for (size_t i = 0; i < range->len; i++) {
		char c = range->p[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
			  c == '*' || (c >= '0' && c <= '9');
		if (!ok)
			return -1;
	}
	if (range->len == 0)
		return -1;
	int q = 1000;
	while (semi < e) {
		size_t ps = semi + 1, pe = ps;
		while (pe < e && p[pe] != ';')
			pe++;
		size_t te = pe;
		ps = trim(p, ps, &te);
		if (te - ps >= 2 && (p[ps] == 'q' || p[ps] == 'Q') && p[ps + 1] == '=') {
			q = parse_qvalue(p + ps + 2, te - ps - 2);
			if (q < 0)
				return -1;
		}
		semi = pe;
	}
	return q;
}

struct lang_score {
	int q;      /* -1: not named */
	size_t pos; /* element index that set q */
	bool exact; /* set by a ja/en range (not "*") */
};

static void score_update(struct lang_score *sc, int q, size_t pos, bool exact)
{
	/* A named range outranks the wildcard (RFC 4647 3.3.1 lookup semantics). */
	if (exact && !sc->exact) {
		*sc = (struct lang_score){q, pos, true};
		return;
	}
	if (exact == sc->exact && q > sc->q)
		*sc = (struct lang_score){q, pos, exact};
}

static bool range_is(struct sinkhole_slice r, const char *primary)
{
	return (r.len == 2 || (r.len > 2 && r.p[2] == '-')) &&
	       lower((unsigned char)r.p[0]) == (unsigned char)primary[0] &&
	       lower((unsigned char)r.p[1]) == (unsigned char)primary[1];
}

enum sinkhole_lang sinkhole_http_lang_pick(struct sinkhole_slice al)
{
	struct lang_score ja = {-1, 0, false}, en = {-1, 0, false};
	size_t s = 0, idx = 0;
	while (s < al.len && al.p != NULL) {
		size_t e = s;
		while (e < al.len && al.p[e] != ',')
			e++;
		struct sinkhole_slice r;
		int q = parse_lang_element(al.p, s, e, &r);
		if (q >= 0) {
			bool star = r.len == 1 && r.p[0] == '*';
			if (star || range_is(r, "ja"))
				score_update(&ja, q, idx, !star);
			if (star || range_is(r, "en"))
				score_update(&en, q, idx, !star);
		}
		idx++;
		s = e + 1;
	}
	if (en.q > 0 && en.q > ja.q)
		return SINKHOLE_LANG_EN;
	if (en.q == ja.q && en.q > 0 && en.exact && (!ja.exact || en.pos < ja.pos))
		return SINKHOLE_LANG_EN;
	return SINKHOLE_LANG_JA;
}

int sinkhole_http_lang_query(struct sinkhole_slice target, enum sinkhole_lang *out)
{
	const char *q = memchr(target.p, '?', target.len);
	if (q == NULL)
		return C2W_ENOENT;
	size_t i = (size_t)(q - target.p) + 1;
	while (i < target.len && target.p[i] != '#') {
		size_t e = i;
		while (e < target.len && target.p[e] != '&' && target.p[e] != '#')
			e++;
		if (e - i >= 5 && memcmp(target.p + i, "lang=", 5) == 0) {
			struct sinkhole_slice v = {target.p + i + 5, e - i - 5};
			if (range_is(v, "en")) {
				*out = SINKHOLE_LANG_EN;
				return C2W_OK;
			}
			if (range_is(v, "ja")) {
				*out = SINKHOLE_LANG_JA;
				return C2W_OK;
			}
		}
		i = e < target.len && target.p[e] == '&' ? e + 1 : e;
	}
	return C2W_ENOENT;
}
