/* SPDX-License-Identifier: MIT */
/*
 * RFC 1035 section 5 master files: a tokenizer over the whole text (entries, parentheses,
 * quotes, comments) and a record parser for the types RPZ feeds use, plus RFC 3597 generic
 * syntax for the rest. Reads files whole; the meaning of records is left to feed_rpz.c.
 */
#include "policy/zonefile.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/mem.h"
#include "dns/msg.h"
#include "policy/feed.h"

#define ZF_TOKENS_MAX  512
#define ZF_INCLUDE_MAX 8
#define ZF_FILE_MAX    (1u << 30)

struct tok {
	const char *p;
	size_t len;
	bool quoted;
};

struct entry {
	unsigned line;
	bool indented; /* began with blank: owner omitted */
	size_t count;
	struct tok t[ZF_TOKENS_MAX];
	const char *comment;
	size_t comment_len;
	const char *error; /* tokenizer error for this entry */
};

struct lexer {
	const char *buf;
	size_t len, pos;
	unsigned line;
};

/* Per-file parser state. */
struct zf {
	const struct zf_opts *opts;
	const char *file;
	const char *root; /* real path of the top-level file's directory; NULL = unknown */
	unsigned depth;
	uint8_t origin[DNS_NAME_WIRE_MAX];
	uint8_t last_owner[DNS_NAME_WIRE_MAX];
	bool have_owner;
	uint32_t ttl;
	bool have_ttl;
	struct entry e;
	uint8_t rdata[ZF_RDATA_MAX];
};

static int parse_buf(const char *buf, size_t len, const char *name, const struct zf_opts *opts,
		     const uint8_t *origin, unsigned depth, const char *root);

static const struct {
	const char *name;
	uint16_t type;
} types[] = {
	{"A", 1},      {"NS", 2},     {"CNAME", 5},   {"SOA", 6},     {"PTR", 12},
	{"HINFO", 13}, {"MX", 15},    {"TXT", 16},    {"AAAA", 28},   {"SRV", 33},
	{"NAPTR", 35}, {"DNAME", 39}, {"DS", 43},     {"SSHFP", 44},  {"RRSIG", 46},
	{"NSEC", 47},  {"DNSKEY", 48}, {"TLSA", 52},  {"SVCB", 64},   {"HTTPS", 65},
	{"SPF", 99},   {"CAA", 257},
};

static void report(struct zf *z, unsigned line, const char *reason)
{
	if (z->opts->on_error != NULL)
		z->opts->on_error(z->opts->ctx, z->file, line, reason);
}

static bool tok_eq(const struct tok *t, const char *s)
{
	size_t n = strlen(s);
	return !t->quoted && t->len == n && strncasecmp(t->p, s, n) == 0;
}

/* Copy a token into a NUL-terminated buffer. */
static bool tok_cstr(const struct tok *t, char *out, size_t cap)
{
	if (t->len + 1 > cap)
		return false;
	memcpy(out, t->p, t->len);
	out[t->len] = 0;
	return true;
}

uint16_t policy_zonefile_type(const char *text, size_t len)
{
	/* The two types nearly every RPZ record has, before the table. */
	if (len == 5 && strncasecmp(text, "CNAME", 5) == 0)
		return DNS_TYPE_CNAME;
	if (len == 1 && (text[0] == 'A' || text[0] == 'a'))
		return DNS_TYPE_A;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strlen(types[i].name) == len && strncasecmp(types[i].name, text, len) == 0)
			return types[i].type;
	if (len > 4 && len < 10 && strncasecmp(text, "TYPE", 4) == 0) {
		unsigned v = 0;
		for (size_t i = 4; i < len; i++) {
			if (!isdigit((unsigned char)text[i]))
				return 0;
			v = v * 10 + (unsigned)(text[i] - '0');
		}
		if (v > 0 && v <= 65535)
			return (uint16_t)v;
	}
	return 0;
}

void policy_zonefile_type_name(uint16_t type, char *out, size_t cap)
{
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (types[i].type == type) {
			snprintf(out, cap, "%s", types[i].name);
			return;
		}
	snprintf(out, cap, "TYPE%u", (unsigned)type);
}

bool policy_zonefile_ttl(const char *text, size_t len, uint32_t *ttl)
{
	uint64_t total = 0, cur = 0;
	bool digits = false, units = false;

	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = (char)tolower((unsigned char)text[i]);
		if (c >= '0' && c <= '9') {
			cur = cur * 10 + (uint64_t)(c - '0');
			if (cur > UINT32_MAX)
				return false;
			digits = true;
			continue;
		}
		uint64_t mul;
		switch (c) {
		case 'w': mul = 604800; break;
		case 'd': mul = 86400; break;
		case 'h': mul = 3600; break;
		case 'm': mul = 60; break;
		case 's': mul = 1; break;
		default: return false;
		}
		if (!digits)
			return false;
		total += cur * mul;
		cur = 0;
		digits = false;
		units = true;
		if (total > UINT32_MAX)
			return false;
	}
	if (digits)
		total += cur;
	else if (!units)
		return false;
	if (total > UINT32_MAX)
		return false;
	*ttl = (uint32_t)total;
	return true;
}

/* ---- tokenizer ---- */

static void add_tok(struct entry *e, const char *p, size_t len, bool quoted)
{
	if (e->count >= ZF_TOKENS_MAX) {
		e->error = "too many fields";
		return;
	}
	e->t[e->count].p = p;
	e->t[e->count].len = len;
	e->t[e->count].quoted = quoted;
	e->count++;
}

/* Read one entry; @return false at end of input with no entry. */
static bool next_entry(struct lexer *lx, struct entry *e)
{
	int paren = 0;

	e->count = 0;
	e->comment = NULL;
	e->comment_len = 0;
	e->error = NULL;
	e->line = lx->line;
	e->indented = lx->pos < lx->len && (lx->buf[lx->pos] == ' ' || lx->buf[lx->pos] == '\t');
	while (lx->pos < lx->len) {
		char c = lx->buf[lx->pos];
		if (c == '\n') {
			lx->pos++;
			lx->line++;
			if (paren == 0)
				return true;
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\r') {
			lx->pos++;
			continue;
		}
		if (c == ';') {
			size_t s = ++lx->pos;
			while (lx->pos < lx->len && lx->buf[lx->pos] != '\n')
				lx->pos++;
			e->comment = lx->buf + s;
			e->comment_len = lx->pos - s;
			continue;
		}
		if (c == '(') {
			paren++;
			lx->pos++;
			continue;
		}
		if (c == ')') {
			if (paren == 0)
				e->error = "unbalanced ')'";
			else
				paren--;
			lx->pos++;
			continue;
		}
		if (c == '"') {
			size_t s = ++lx->pos;
			while (lx->pos < lx->len && lx->buf[lx->pos] != '"') {
				if (lx->buf[lx->pos] == '\\' && lx->pos + 1 < lx->len)
					lx->pos++;
				if (lx->buf[lx->pos] == '\n')
					lx->line++;
				lx->pos++;
			}
			if (lx->pos >= lx->len) {
				e->error = "unterminated quoted string";
				add_tok(e, lx->buf + s, lx->pos - s, true);
				return true;
			}
			add_tok(e, lx->buf + s, lx->pos - s, true);
			lx->pos++;
			continue;
		}
		size_t s = lx->pos;
		while (lx->pos < lx->len) {
			c = lx->buf[lx->pos];
			if (c == '\\' && lx->pos + 1 < lx->len && lx->buf[lx->pos + 1] != '\n') {
				lx->pos += 2;
				continue;
			}
			if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ';' || c == '(' ||
			    c == ')' || c == '"')
				break;
			lx->pos++;
		}
		add_tok(e, lx->buf + s, lx->pos - s, false);
	}
	if (paren != 0)
		e->error = "unbalanced '(' at end of file";
	return e->count > 0 || e->error != NULL;
}

/* ---- rdata ---- */

static int name_tok(struct zf *z, const struct tok *t, uint8_t *out, size_t *out_len)
{
	if (t->quoted || t->len > DNS_NAME_TEXT_MAX)
		return C2W_EMALF;
	return dns_name_from_text_lower(t->p, t->len, z->origin, out, out_len);
}

static bool u32_tok(const struct tok *t, uint32_t max, uint32_t *v)
{
	uint64_t x = 0;

	if (t->quoted || t->len == 0 || t->len > 10)
		return false;
	for (size_t i = 0; i < t->len; i++) {
		if (!isdigit((unsigned char)t->p[i]))
			return false;
		x = x * 10 + (uint64_t)(t->p[i] - '0');
	}
	if (x > max)
		return false;
	*v = (uint32_t)x;
	return true;
}

/* Character-string (RFC 1035 3.3) with \X and \DDD escapes; @return bytes or -1. */
static int charstr(const struct tok *t, uint8_t *out, size_t cap)
{
	size_t o = 0;

	if (cap < 1)
		return -1;
	for (size_t i = 0; i < t->len;) {
		unsigned c = (unsigned char)t->p[i++];
		if (c == '\\') {
			if (i >= t->len)
				return -1;
			if (isdigit((unsigned char)t->p[i])) {
				if (i + 3 > t->len || !isdigit((unsigned char)t->p[i + 1]) ||
				    !isdigit((unsigned char)t->p[i + 2]))
					return -1;
				c = (unsigned)(t->p[i] - '0') * 100 + (unsigned)(t->p[i + 1] - '0') * 10 +
				    (unsigned)(t->p[i + 2] - '0');
				if (c > 255)
					return -1;
				i += 3;
			} else {
				c = (unsigned char)t->p[i++];
			}
		}
		if (o + 1 >= cap || o >= 255)
			return -1;
		out[1 + o++] = (uint8_t)c;
	}
	out[0] = (uint8_t)o;
	return (int)o + 1;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* RFC 3597: \# LEN HEX... */
static const char *generic_rdata(const struct tok *t, size_t n, uint8_t *out, size_t *len)
{
	uint32_t want;

	if (n < 2 || !u32_tok(&t[1], 65535, &want))
		return "bad generic rdata length";
	size_t o = 0;
	int hi = -1;
	for (size_t i = 2; i < n; i++) {
		for (size_t k = 0; k < t[i].len; k++) {
			int v = hexval(t[i].p[k]);
			if (v < 0 || t[i].quoted)
				return "bad hex in generic rdata";
			if (hi < 0) {
				hi = v;
				continue;
			}
			if (o >= want)
				return "generic rdata longer than its length";
			out[o++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	if (hi >= 0 || o != want)
		return "generic rdata shorter than its length";
	*len = o;
	return NULL;
}

static const char *put_name(struct zf *z, const struct tok *t, size_t *o)
{
	size_t nl;

	if (*o + DNS_NAME_WIRE_MAX > ZF_RDATA_MAX)
		return "rdata too long";
	if (name_tok(z, t, z->rdata + *o, &nl) != C2W_OK)
		return "bad domain name in rdata";
	*o += nl;
	return NULL;
}

static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static const char *rdata_addr(const struct tok *t, size_t n, int af, uint8_t *out, size_t *len)
{
	char buf[64];

	if (n != 1 || t[0].quoted || !tok_cstr(&t[0], buf, sizeof(buf)) ||
	    inet_pton(af, buf, out) != 1)
		return af == AF_INET ? "bad IPv4 address" : "bad IPv6 address";
	*len = af == AF_INET ? 4 : 16;
	return NULL;
}

static const char *rdata_soa(struct zf *z, const struct tok *t, size_t n, size_t *len)
{
	size_t o = 0;
	const char *why;

	if (n != 7)
		return "SOA needs 7 fields";
	if ((why = put_name(z, &t[0], &o)) != NULL || (why = put_name(z, &t[1], &o)) != NULL)
		return why;
	for (size_t i = 2; i < 7; i++) {
		uint32_t v;
		if (!(i == 2 ? u32_tok(&t[i], UINT32_MAX, &v)
			     : policy_zonefile_ttl(t[i].p, t[i].len, &v)))
			return "bad SOA number";
		put32(z->rdata + o, v);
		o += 4;
	}
	*len = o;
	return NULL;
}

static const char *rdata_strings(const struct tok *t, size_t n, uint8_t *out, size_t *len,
				 size_t want)
{
	size_t o = 0;

	if (n == 0 || (want != 0 && n != want))
		return "wrong number of strings";
	for (size_t i = 0; i < n; i++) {
		int w = charstr(&t[i], out + o, ZF_RDATA_MAX - o);
		if (w < 0)
			return "bad or too long character string";
		o += (size_t)w;
	}
	*len = o;
	return NULL;
}

/* Fields: 'n' name, '2' u16, '4' u32. */
static const char *rdata_fields(struct zf *z, const struct tok *t, size_t n, const char *fmt,
				size_t *len)
{
	size_t o = 0;
	const char *why;

	if (n != strlen(fmt))
		return "wrong number of rdata fields";
	for (size_t i = 0; i < n; i++) {
		uint32_t v;
		if (fmt[i] == 'n') {
			if ((why = put_name(z, &t[i], &o)) != NULL)
				return why;
		} else if (fmt[i] == '2') {
			if (!u32_tok(&t[i], 65535, &v))
				return "bad 16-bit number";
			put16(z->rdata + o, v);
			o += 2;
		} else {
			if (!u32_tok(&t[i], UINT32_MAX, &v))
				return "bad 32-bit number";
			put32(z->rdata + o, v);
			o += 4;
		}
	}
	*len = o;
	return NULL;
}

static const char *parse_rdata(struct zf *z, uint16_t type, const struct tok *t, size_t n,
			       size_t *len)
{
	if (n >= 1 && !t[0].quoted && t[0].len == 2 && memcmp(t[0].p, "\\#", 2) == 0)
		return generic_rdata(t, n, z->rdata, len);
	switch (type) {
	case DNS_TYPE_A: return rdata_addr(t, n, AF_INET, z->rdata, len);
	case DNS_TYPE_AAAA: return rdata_addr(t, n, AF_INET6, z->rdata, len);
	case DNS_TYPE_NS:
	case DNS_TYPE_CNAME:
	case DNS_TYPE_PTR:
	case 39: /* DNAME */ return rdata_fields(z, t, n, "n", len);
	case DNS_TYPE_MX: return rdata_fields(z, t, n, "2n", len);
	case 33: /* SRV */ return rdata_fields(z, t, n, "222n", len);
	case DNS_TYPE_SOA: return rdata_soa(z, t, n, len);
	case DNS_TYPE_TXT:
	case 99: /* SPF */ return rdata_strings(t, n, z->rdata, len, 0);
	case DNS_TYPE_HINFO: return rdata_strings(t, n, z->rdata, len, 2);
	default: return "type needs RFC 3597 generic rdata (\\# LEN HEX)";
	}
}

/* ---- entries ---- */

/* Read an included file whole: a regular file (opened non-blocking, so a FIFO cannot stall
 * us), at most ZF_INCLUDE_FILE_MAX bytes. @return C2W_OK or the reason in *why. */
static int include_read(const char *real, char **out, size_t *out_len, const char **why)
{
	int fd = open(real, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	*why = "$INCLUDE file cannot be read";
	if (fd < 0)
		return -errno;
	int ret = C2W_EFEED;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		*why = "$INCLUDE is not a regular file";
		goto out_close;
	}
	if ((uint64_t)st.st_size > ZF_INCLUDE_FILE_MAX) {
		*why = "$INCLUDE file too large";
		goto out_close;
	}
	char *buf = malloc((size_t)st.st_size + 1);
	size_t len = 0;
	ret = C2W_ENOMEM;
	if (buf == NULL)
		goto out_close;
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	*out = buf;
	*out_len = len;
	*why = NULL;
	ret = C2W_OK;
out_close:
	close(fd);
	return ret;
}

/*
 * $INCLUDE, when the zone allows it: the path (symlinks resolved) must lie inside the
 * top-level feed's directory. @return 0, or a fatal value from on_record / C2W_ENOMEM;
 * a rejected include sets *why and is reported by the caller.
 */
static int include_file(struct zf *z, const char *path, const uint8_t *origin, const char **why)
{
	char real[PATH_MAX];
	size_t rl = z->root != NULL ? strlen(z->root) : 0;
	if (realpath(path, real) == NULL) {
		*why = "$INCLUDE file cannot be read";
		return 0;
	}
	if (z->root == NULL || strncmp(real, z->root, rl) != 0 ||
	    (real[rl] != '/' && !(rl == 1 && z->root[0] == '/'))) {
		*why = "$INCLUDE outside the feed's directory";
		return 0;
	}
	char *buf = NULL;
	size_t len = 0;
	int ret = include_read(real, &buf, &len, why);
	if (ret == C2W_ENOMEM)
		return ret;
	if (ret != C2W_OK)
		return 0;
	ret = parse_buf(buf, len, path, z->opts, origin, z->depth + 1, z->root);
	free(buf);
	return ret;
}

static const char *directive(struct zf *z, const struct entry *e, int *fatal)
{
	const struct tok *t = e->t;
	uint8_t name[DNS_NAME_WIRE_MAX];
	size_t nl;

	if (tok_eq(&t[0], "$ORIGIN")) {
		if (e->count != 2 || name_tok(z, &t[1], name, &nl) != C2W_OK)
			return "bad $ORIGIN";
		memcpy(z->origin, name, nl);
		return NULL;
	}
	if (tok_eq(&t[0], "$TTL")) {
		if (e->count != 2 || !policy_zonefile_ttl(t[1].p, t[1].len, &z->ttl))
			return "bad $TTL";
		z->have_ttl = true;
		return NULL;
	}
	if (tok_eq(&t[0], "$INCLUDE")) {
		char path[4096], full[4096];
		if (!z->opts->allow_include)
			return "$INCLUDE not allowed here";
		if (z->depth + 1 >= ZF_INCLUDE_MAX)
			return "$INCLUDE nested too deep";
		if (e->count < 2 || e->count > 3 || !tok_cstr(&t[1], path, sizeof(path)))
			return "bad $INCLUDE";
		const uint8_t *origin = z->origin;
		if (e->count == 3) {
			if (name_tok(z, &t[2], name, &nl) != C2W_OK)
				return "bad $INCLUDE origin";
			origin = name;
		}
		const char *slash = strrchr(z->file, '/');
		if (path[0] != '/' && slash != NULL) {
			int w = snprintf(full, sizeof(full), "%.*s/%s", (int)(slash - z->file),
					 z->file, path);
			if (w < 0 || (size_t)w >= sizeof(full))
				return "$INCLUDE path too long";
		} else {
			snprintf(full, sizeof(full), "%s", path);
		}
		const char *why = NULL;
		int ret = include_file(z, full, origin, &why);
		if (why != NULL)
			return why;
		if (ret != 0)
			*fatal = ret;
		return NULL;
	}
	return "unsupported directive";
}

static bool is_class(const struct tok *t, uint16_t *cls)
{
	if (tok_eq(t, "IN")) {
		*cls = DNS_CLASS_IN;
		return true;
	}
	if (tok_eq(t, "CH") || tok_eq(t, "HS") || tok_eq(t, "CS")) {
		*cls = 0;
		return true;
	}
	return false;
}

static const char *record(struct zf *z, const struct entry *e, int *stop)
{
	struct zf_record rr; /* every field set below: no memset of the owner buffer per record */
	size_t i = 0;

	if (e->indented) {
		if (!z->have_owner)
			return "no owner name";
		rr.owner_len = (size_t)dns_name_wire_len(z->last_owner, DNS_NAME_WIRE_MAX);
		memcpy(rr.owner, z->last_owner, rr.owner_len);
	} else {
		if (name_tok(z, &e->t[0], rr.owner, &rr.owner_len) != C2W_OK)
			return "bad owner name";
		memcpy(z->last_owner, rr.owner, rr.owner_len);
		z->have_owner = true;
		i = 1;
	}
	bool have_ttl = false, have_class = false;
	rr.rclass = DNS_CLASS_IN;
	rr.ttl = z->ttl;
	for (int k = 0; k < 2 && i < e->count; k++) {
		uint16_t cls;
		if (!have_class && is_class(&e->t[i], &cls)) {
			if (cls != DNS_CLASS_IN)
				return "only class IN is supported";
			have_class = true;
			i++;
		} else if (!have_ttl && !e->t[i].quoted && isdigit((unsigned char)e->t[i].p[0]) &&
			   policy_zonefile_ttl(e->t[i].p, e->t[i].len, &rr.ttl)) {
			have_ttl = true;
			i++;
		}
	}
	if (i >= e->count)
		return "missing type";
	rr.type = e->t[i].quoted ? 0 : policy_zonefile_type(e->t[i].p, e->t[i].len);
	if (rr.type == 0)
		return "unknown record type";
	i++;
	if (have_ttl && !z->have_ttl) {
		/* RFC 1035: without $TTL the last explicit TTL is the default. */
		z->ttl = rr.ttl;
	}
	size_t len = 0;
	const char *why = parse_rdata(z, rr.type, e->t + i, e->count - i, &len);
	if (why != NULL)
		return why;
	rr.rdata = z->rdata;
	rr.rdlen = (uint16_t)len;
	rr.file = z->file;
	rr.line = e->line;
	rr.comment = e->comment;
	rr.comment_len = e->comment_len;
	*stop = z->opts->on_record(z->opts->ctx, &rr);
	return NULL;
}

static int parse_buf(const char *buf, size_t len, const char *name, const struct zf_opts *opts,
		     const uint8_t *origin, unsigned depth, const char *root)
{
	struct zf *z = calloc(1, sizeof(*z));
	struct lexer lx = {.buf = buf, .len = len, .pos = 0, .line = 1};
	int ret = C2W_OK;

	if (z == NULL)
		return C2W_ENOMEM;
	int olen = dns_name_wire_len(origin, DNS_NAME_WIRE_MAX);
	if (olen < 0) {
		free(z);
		return C2W_EINVAL;
	}
	memcpy(z->origin, origin, (size_t)olen);
	dns_name_lower(z->origin);
	z->opts = opts;
	z->file = name;
	z->root = root;
	z->depth = depth;
	z->ttl = opts->default_ttl;
	while (ret == C2W_OK && next_entry(&lx, &z->e)) {
		const char *why = z->e.error;
		if (why == NULL && z->e.count == 0)
			continue;
		if (why == NULL && !z->e.indented && !z->e.t[0].quoted && z->e.t[0].p[0] == '$')
			why = directive(z, &z->e, &ret);
		else if (why == NULL)
			why = record(z, &z->e, &ret);
		if (why != NULL)
			report(z, z->e.line, why);
	}
	free(z);
	return ret;
}

int policy_feed_read(const char *path, char **out, size_t *out_len)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 1 << 16, len = 0;
	char *buf;
	struct stat st;

	if (f == NULL)
		return -errno;
	/* A regular file gets a buffer of its size plus one byte at once, so one read reaches
	 * the end: doubling from 64 KiB copied a 44 MB feed twice over and faulted in every
	 * copy, about a fifth of `c2wall compile`'s time at 1M rules. A file that grows meanwhile,
	 * or a pipe, goes on doubling. */
	if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
	    (uint64_t)st.st_size < ZF_FILE_MAX)
		cap = (size_t)st.st_size + 1;
	buf = malloc(cap);
	c2w_mem_hint_huge(buf, cap);
	if (buf == NULL) {
		fclose(f);
		return C2W_ENOMEM;
	}
	for (;;) {
		size_t n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (len < cap) {
			if (ferror(f)) {
				int err = errno ? -errno : C2W_EIO;
				free(buf);
				fclose(f);
				return err;
			}
			break;
		}
		if (cap >= ZF_FILE_MAX) {
			free(buf);
			fclose(f);
			return C2W_EFEED;
		}
		size_t ncap = cap * 2 < ZF_FILE_MAX ? cap * 2 : ZF_FILE_MAX;
		char *nb = realloc(buf, ncap);
		if (nb == NULL) {
			free(buf);
			fclose(f);
			return C2W_ENOMEM;
		}
		buf = nb;
		cap = ncap;
	}
	fclose(f);
	*out = buf;
	*out_len = len;
	return C2W_OK;
}

/* Real path of the directory holding @name (the confinement of $INCLUDE) into @root. */
static const char *root_of(const char *name, char *root)
{
	char dir[PATH_MAX];
	if (name == NULL || snprintf(dir, sizeof(dir), "%s", name) >= (int)sizeof(dir))
		return NULL;
	char *slash = strrchr(dir, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	return realpath(dir, root);
}

int policy_zonefile_parse_file(const char *path, const struct zf_opts *opts)
{
	char *buf, root[PATH_MAX];
	size_t len;
	int ret = policy_feed_read(path, &buf, &len);

	if (ret != C2W_OK)
		return ret;
	ret = parse_buf(buf, len, path, opts, opts->origin, 0,
			opts->allow_include ? root_of(path, root) : NULL);
	free(buf);
	return ret;
}

int policy_zonefile_parse_buf(const char *buf, size_t len, const char *name,
			      const struct zf_opts *opts)
{
	char root[PATH_MAX];
	return parse_buf(buf, len, name, opts, opts->origin, 0,
			 opts->allow_include ? root_of(name, root) : NULL);
}
