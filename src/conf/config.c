/* SPDX-License-Identifier: MIT */
/*
 * The config loader: libyaml events → struct c2w_config. The file's shape is described by
 * tables (one per section, one line per key), so adding a key is adding a line; the generic
 * walker reports unknown and duplicate keys, wrong types and missing required keys as
 * "file:line: message". Scalar syntax lives in value.c, addresses in addr.c.
 */
#include "conf/config.h"

#include <arpa/inet.h>
#include <assert.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "conf/value.h"
#include "core/err.h"
#include "core/log.h"

#define CONF_FILE_MAX (1u << 20) /* a config file is small; refuse anything bigger */
#define WHERE_MAX     192        /* "policy.zones[12].never-block" and the like */
#define TABLE_KEYS    64         /* keys per table: map_lines keeps one line per key */

struct parser;
struct map_lines;

enum key_kind {
	KEY_MAP,      /* nested table */
	KEY_STR,      /* non-empty string */
	KEY_STR_OPT,  /* string; null or "none" → NULL */
	KEY_PATH,     /* path, relative ones resolved against the config file's directory */
	KEY_PATH_OPT, /* path; null or "none" → NULL */
	KEY_NAME,     /* one domain name */
	KEY_BOOL,
	KEY_UINT,     /* integer in [lo, hi], stored in @width bytes */
	KEY_MS,       /* duration in [lo, hi] ms, stored as unsigned milliseconds */
	KEY_SEC,      /* duration in whole seconds, [lo, hi] in ms, stored as unsigned seconds */
	KEY_BYTES,    /* size, [lo, hi] bytes, stored as uint64_t bytes */
	KEY_MB,       /* size, [lo, hi] bytes, stored as unsigned MiB (rounded up) */
	KEY_FRACTION, /* double >= 0 */
	KEY_ENUM,     /* one of @enums, stored as int */
	KEY_ADDRS,    /* list of "address@port", default port @port (0: port required) */
	KEY_PREFIXES, /* list of prefixes */
	KEY_NAMES,    /* list of domain names, char ** */
	KEY_CUSTOM,   /* @parse does it */
	KEY_UNSUPPORTED, /* documented for a later version; rejected with @why */
};

struct enum_def {
	const char *text;
	int value;
};

struct key_def {
	const char *name;
	enum key_kind kind;
	uint16_t port; /* KEY_ADDRS: default port, 0 = port required */
	bool required;
	bool wild;        /* KEY_NAMES: "*.name" allowed */
	size_t off;       /* field offset in the table's struct */
	size_t count_off; /* lists: offset of the size_t count */
	size_t width;     /* sizeof the field */
	uint64_t lo, hi;
	const struct enum_def *enums; /* KEY_ENUM: terminated by {NULL, 0} */
	const struct table *sub;      /* KEY_MAP */
	int (*parse)(struct parser *p, const struct key_def *k, void *base); /* KEY_CUSTOM */
	const char *why; /* KEY_UNSUPPORTED: the rest of the message */
};

struct table {
	const struct key_def *keys;
	size_t key_count;
	/* Whole-table validation after the mapping ends; may be NULL. */
	int (*check)(struct parser *p, void *base, const struct map_lines *ml);
};

/* Where each key of one mapping was seen, for duplicate and cross-key messages. */
struct map_lines {
	const struct table *tbl;
	const char *where;        /* "server", "policy.zones[0]"; "" at the top */
	unsigned start;           /* line of the mapping itself */
	unsigned key[TABLE_KEYS]; /* line of each key; 0 = absent */
};

struct parser {
	yaml_parser_t yp;
	yaml_event_t ev; /* the current event; valid when @have_ev */
	bool have_ev;
	const uint8_t *data; /* the input, for reader-error line numbers */
	size_t len;
	const char *name; /* file name as the operator gave it, for messages */
	char *dir;        /* absolute directory relative paths are resolved against */
	char *err;
	size_t err_len;
	char where[WHERE_MAX];  /* key path of the value being parsed */
	unsigned sinkhole_line; /* first zone with "policy: sinkhole"; 0 = none */
};

static char *join_path(const char *dir, const char *name);

#define FIELD(base, off) ((void *)((char *)(base) + (off)))

/* ---- errors --------------------------------------------------------------------------- */

static int fail(struct parser *p, unsigned line, const char *fmt, ...) C2W_PRINTF(3, 4);

static int fail(struct parser *p, unsigned line, const char *fmt, ...)
{
	if (p->err == NULL || p->err_len == 0)
		return C2W_ECONFIG;
	int n = snprintf(p->err, p->err_len, "%s:%u: ", p->name, line);
	if (n < 0 || (size_t)n >= p->err_len)
		return C2W_ECONFIG;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->err + n, p->err_len - (size_t)n, fmt, ap);
	va_end(ap);
	/* Values are quoted into messages: keep the message one printable line for logs. */
	for (char *c = p->err; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	return C2W_ECONFIG;
}

static int fail_nomem(struct parser *p)
{
	if (p->err != NULL && p->err_len > 0)
		snprintf(p->err, p->err_len, "%s: out of memory", p->name);
	return C2W_ENOMEM;
}

static unsigned line_of(const struct parser *p)
{
	return (unsigned)p->ev.start_mark.line + 1;
}

/* Line of @offset in the input, for reader errors (they carry no mark). */
static unsigned line_at_offset(const struct parser *p, size_t offset)
{
	unsigned line = 1;
	for (size_t i = 0; i < offset && i < p->len; i++)
		if (p->data[i] == '\n')
			line++;
	return line;
}

static int fail_yaml(struct parser *p)
{
	const yaml_parser_t *y = &p->yp;
	if (y->error == YAML_MEMORY_ERROR)
		return fail_nomem(p);
	if (y->error == YAML_READER_ERROR)
		return fail(p, line_at_offset(p, y->problem_offset), "invalid input: %s",
			    y->problem != NULL ? y->problem : "unreadable");
	const char *problem = y->problem != NULL ? y->problem : "syntax error";
	unsigned problem_line = (unsigned)y->problem_mark.line + 1;
	unsigned context_line = (unsigned)y->context_mark.line + 1;
	if (y->context == NULL)
		return fail(p, problem_line, "YAML syntax error: %s", problem);
	/* The scanner's context is the token it was reading (a quoted string, a key): that is
	 * where the operator must look, the problem itself is often at the end of the file.
	 * The parser's context is the enclosing collection; the problem line is the culprit. */
	if (y->error == YAML_SCANNER_ERROR)
		return fail(p, context_line, "YAML syntax error: %s (%s)", problem, y->context);
	return fail(p, problem_line, "YAML syntax error: %s (%s at line %u)", problem, y->context,
		    context_line);
}

/* ---- events --------------------------------------------------------------------------- */

static int next(struct parser *p)
{
	if (p->have_ev) {
		yaml_event_delete(&p->ev);
		p->have_ev = false;
	}
	if (!yaml_parser_parse(&p->yp, &p->ev))
		return fail_yaml(p);
	p->have_ev = true;
	/* Aliases could multiply a small file into a huge config ("billion laughs"), and a
	 * config has no need for them. */
	if (p->ev.type == YAML_ALIAS_EVENT)
		return fail(p, line_of(p), "anchors and aliases are not supported");
	return C2W_OK;
}

static bool ev_is_null(const struct parser *p)
{
	if (p->ev.type != YAML_SCALAR_EVENT || p->ev.data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	const char *v = (const char *)p->ev.data.scalar.value;
	return v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
	       strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

static const char *ev_kind(const struct parser *p)
{
	switch (p->ev.type) {
	case YAML_SEQUENCE_START_EVENT:
		return "a list";
	case YAML_MAPPING_START_EVENT:
		return "a mapping";
	default:
		return "a single value";
	}
}

/* The current event as a string: it must be a scalar without NUL bytes. */
static int get_scalar(struct parser *p, const char **text)
{
	*text = ""; /* never left unset, whatever the caller does with an error */
	if (p->ev.type != YAML_SCALAR_EVENT)
		return fail(p, line_of(p), "%s: expected a single value, not %s", p->where,
			    ev_kind(p));
	const char *v = (const char *)p->ev.data.scalar.value;
	if (strlen(v) != p->ev.data.scalar.length)
		return fail(p, line_of(p), "%s: value contains a NUL character", p->where);
	*text = v;
	return C2W_OK;
}

/* ---- storing values ------------------------------------------------------------------- */

/* The tables' ranges guarantee @v fits; the assert catches a table that disagrees. */
static void store_uint(void *field, size_t width, uint64_t v)
{
	assert(width == 8 || v >> (8 * width) == 0);
	uint8_t u8 = (uint8_t)v;
	uint16_t u16 = (uint16_t)v;
	uint32_t u32 = (uint32_t)v;
	switch (width) {
	case 1:
		memcpy(field, &u8, 1);
		break;
	case 2:
		memcpy(field, &u16, 2);
		break;
	case 4:
		memcpy(field, &u32, 4);
		break;
	default:
		memcpy(field, &v, 8);
		break;
	}
}

static int set_str(struct parser *p, char **field, const char *text)
{
	char *copy = NULL;
	if (text != NULL && (copy = strdup(text)) == NULL)
		return fail_nomem(p);
	free(*field);
	*field = copy;
	return C2W_OK;
}

static int set_path(struct parser *p, char **field, const char *text)
{
	if (text[0] == '/')
		return set_str(p, field, text);
	char *abs = join_path(p->dir, text);
	if (abs == NULL)
		return fail_nomem(p);
	free(*field);
	*field = abs;
	return C2W_OK;
}

/*
 * Make room for element @count of a growing array. Capacity is implied by the count (the
 * next power of two, at least 4), so the structs keep only the count.
 */
static int array_slot(struct parser *p, void **arr, size_t count, size_t elem)
{
	size_t cap;
	if (count == 0)
		cap = 4;
	else if (count >= 4 && (count & (count - 1)) == 0)
		cap = count * 2;
	else
		return C2W_OK;
	if (cap > SIZE_MAX / elem)
		return fail_nomem(p);
	void *grown = realloc(*arr, cap * elem);
	if (grown == NULL)
		return fail_nomem(p);
	*arr = grown;
	return C2W_OK;
}

static void fmt_ms(char *buf, size_t cap, uint64_t ms)
{
	static const struct {
		uint64_t ms;
		const char *unit;
	} units[] = {{86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}};
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (ms != 0 && ms % units[i].ms == 0) {
			snprintf(buf, cap, "%llu%s", (unsigned long long)(ms / units[i].ms),
				 units[i].unit);
			return;
		}
	}
	snprintf(buf, cap, "%llums", (unsigned long long)ms);
}

static int check_range_ms(struct parser *p, const struct key_def *k, const char *text, uint64_t ms)
{
	if (ms >= k->lo && ms <= k->hi)
		return C2W_OK;
	char lo[32], hi[32];
	fmt_ms(lo, sizeof(lo), k->lo);
	fmt_ms(hi, sizeof(hi), k->hi);
	return fail(p, line_of(p), "%s: '%s' is out of range (%s to %s)", p->where, text, lo, hi);
}

static int scalar_uint(struct parser *p, const struct key_def *k, const char *text, void *base)
{
	uint64_t v;
	if (conf_value_parse_uint(text, &v) != C2W_OK)
		return fail(p, line_of(p), "%s: expected a number, got '%s'", p->where, text);
	if (v < k->lo || v > k->hi)
		return fail(p, line_of(p), "%s: %s is out of range (%llu to %llu)", p->where, text,
			    (unsigned long long)k->lo, (unsigned long long)k->hi);
	store_uint(FIELD(base, k->off), k->width, v);
	return C2W_OK;
}

static int scalar_duration(struct parser *p, const struct key_def *k, const char *text, void *base)
{
	uint64_t ms;
	if (conf_value_parse_duration(text, &ms) != C2W_OK)
		return fail(p, line_of(p),
			    "%s: expected a duration like 30s, 5m, 24h or 7d, got '%s'", p->where,
			    text);
	int ret = check_range_ms(p, k, text, ms);
	if (ret != C2W_OK)
		return ret;
	if (k->kind == KEY_SEC) {
		if (ms % 1000 != 0)
			return fail(p, line_of(p), "%s: '%s' is not a whole number of seconds",
				    p->where, text);
		ms /= 1000;
	}
	store_uint(FIELD(base, k->off), k->width, ms);
	return C2W_OK;
}

static int scalar_size(struct parser *p, const struct key_def *k, const char *text, void *base)
{
	uint64_t bytes;
	if (conf_value_parse_size(text, &bytes) != C2W_OK)
		return fail(p, line_of(p), "%s: expected a size like 512k, 64m or 1g, got '%s'",
			    p->where, text);
	if (bytes < k->lo || bytes > k->hi)
		return fail(p, line_of(p), "%s: '%s' is out of range (%lluk to %lluk)", p->where,
			    text, (unsigned long long)(k->lo >> 10),
			    (unsigned long long)(k->hi >> 10));
	if (k->kind == KEY_MB)
		store_uint(FIELD(base, k->off), k->width, (bytes + (1u << 20) - 1) >> 20);
	else
		store_uint(FIELD(base, k->off), k->width, bytes);
	return C2W_OK;
}

static int scalar_enum(struct parser *p, const struct key_def *k, const char *text, void *base)
{
	char choices[256] = "";
	size_t used = 0;
	for (const struct enum_def *e = k->enums; e->text != NULL; e++) {
		if (strcmp(text, e->text) == 0) {
			assert(k->width == sizeof(int));
			memcpy(FIELD(base, k->off), &e->value, sizeof(int));
			return C2W_OK;
		}
		int n = snprintf(choices + used, sizeof(choices) - used, "%s%s",
				 used != 0 ? ", " : "", e->text);
		if (n > 0 && (size_t)n < sizeof(choices) - used)
			used += (size_t)n;
	}
	return fail(p, line_of(p), "%s: '%s' is not one of %s", p->where, text, choices);
}

static bool is_none(const struct parser *p, const char *text)
{
	return ev_is_null(p) || strcmp(text, "none") == 0;
}

static int scalar_name(struct parser *p, const char *text, char **field)
{
	char name[256];
	if (conf_value_parse_name(text, name, sizeof(name)) != C2W_OK)
		return fail(p, line_of(p), "%s: '%s' is not a valid domain name", p->where, text);
	return set_str(p, field, name);
}

static int scalar_value(struct parser *p, const struct key_def *k, void *base)
{
	const char *text;
	int ret = get_scalar(p, &text);
	if (ret != C2W_OK)
		return ret;
	char **str = FIELD(base, k->off);
	bool optional = k->kind == KEY_STR_OPT || k->kind == KEY_PATH_OPT;

	if (optional && is_none(p, text))
		return set_str(p, str, NULL);
	if (text[0] == '\0' || ev_is_null(p))
		return fail(p, line_of(p), "%s: a value is required", p->where);
	switch (k->kind) {
	case KEY_STR:
	case KEY_STR_OPT:
		return set_str(p, str, text);
	case KEY_PATH:
	case KEY_PATH_OPT:
		return set_path(p, str, text);
	case KEY_NAME:
		return scalar_name(p, text, str);
	case KEY_BOOL:
		assert(k->width == sizeof(bool));
		if (conf_value_parse_bool(text, FIELD(base, k->off)) != C2W_OK)
			return fail(p, line_of(p), "%s: expected true or false, got '%s'", p->where,
				    text);
		return C2W_OK;
	case KEY_UINT:
		return scalar_uint(p, k, text, base);
	case KEY_MS:
	case KEY_SEC:
		return scalar_duration(p, k, text, base);
	case KEY_BYTES:
	case KEY_MB:
		return scalar_size(p, k, text, base);
	case KEY_FRACTION: {
		double v;
		assert(k->width == sizeof(double));
		if (conf_value_parse_double(text, &v) != C2W_OK || v < 0)
			return fail(p, line_of(p), "%s: expected a number >= 0, got '%s'", p->where,
				    text);
		memcpy(FIELD(base, k->off), &v, sizeof(v));
		return C2W_OK;
	}
	case KEY_ENUM:
		return scalar_enum(p, k, text, base);
	default:
		return fail(p, line_of(p), "%s: internal error: bad key kind", p->where);
	}
}

/* ---- lists ---------------------------------------------------------------------------- */

/* One list item: @text at the current event. */
typedef int list_item_cb(struct parser *p, const struct key_def *k, void *base, const char *text);

/*
 * Walk a list of scalars; a single scalar counts as a one-item list, null as an empty one.
 * Leaves the current event on the last event of the value.
 */
static int for_each_item(struct parser *p, const struct key_def *k, void *base, list_item_cb *item)
{
	const char *text;
	int ret;
	if (p->ev.type == YAML_SCALAR_EVENT) {
		if (ev_is_null(p))
			return C2W_OK;
		ret = get_scalar(p, &text);
		return ret != C2W_OK ? ret : item(p, k, base, text);
	}
	if (p->ev.type != YAML_SEQUENCE_START_EVENT)
		return fail(p, line_of(p), "%s: expected a list, not %s", p->where, ev_kind(p));
	for (;;) {
		if ((ret = next(p)) != C2W_OK)
			return ret;
		if (p->ev.type == YAML_SEQUENCE_END_EVENT)
			return C2W_OK;
		if ((ret = get_scalar(p, &text)) != C2W_OK)
			return ret;
		if (text[0] == '\0')
			return fail(p, line_of(p), "%s: empty list item", p->where);
		if ((ret = item(p, k, base, text)) != C2W_OK)
			return ret;
	}
}

static int item_addr(struct parser *p, const struct key_def *k, void *base, const char *text)
{
	struct conf_addr **arr = FIELD(base, k->off);
	size_t *count = FIELD(base, k->count_off);
	struct conf_addr a;
	if (conf_addr_parse(text, k->port, &a) != C2W_OK) {
		if (k->port == 0 && strchr(text, '@') == NULL)
			return fail(p, line_of(p), "%s: '%s' needs a port (address@port)", p->where,
				    text);
		return fail(p, line_of(p), "%s: '%s' is not a valid address (IPv4 or IPv6, @port)",
			    p->where, text);
	}
	int ret = array_slot(p, (void **)arr, *count, sizeof(**arr));
	if (ret != C2W_OK)
		return ret;
	(*arr)[(*count)++] = a;
	return C2W_OK;
}

static int item_prefix(struct parser *p, const struct key_def *k, void *base, const char *text)
{
	struct conf_prefix **arr = FIELD(base, k->off);
	size_t *count = FIELD(base, k->count_off);
	struct conf_prefix pfx;
	if (conf_prefix_parse(text, &pfx) != C2W_OK)
		return fail(p, line_of(p),
			    "%s: '%s' is not a valid prefix (address/length, host bits zero)",
			    p->where, text);
	int ret = array_slot(p, (void **)arr, *count, sizeof(**arr));
	if (ret != C2W_OK)
		return ret;
	(*arr)[(*count)++] = pfx;
	return C2W_OK;
}

static int item_name(struct parser *p, const struct key_def *k, void *base, const char *text)
{
	char ***arr = FIELD(base, k->off);
	size_t *count = FIELD(base, k->count_off);
	int ret = array_slot(p, (void **)arr, *count, sizeof(**arr));
	if (ret != C2W_OK)
		return ret;
	/* "*.name" is the policy engine's wildcard: everything below name. */
	bool wild = k->wild && strncmp(text, "*.", 2) == 0;
	char name[258];
	if (conf_value_parse_name(text + (wild ? 2 : 0), name + 2, sizeof(name) - 2) != C2W_OK ||
	    (wild && strcmp(name + 2, ".") == 0))
		return fail(p, line_of(p), "%s: '%s' is not a valid domain name", p->where, text);
	if (wild)
		memcpy(name, "*.", 2);
	(*arr)[*count] = NULL;
	if ((ret = set_str(p, &(*arr)[*count], wild ? name : name + 2)) != C2W_OK)
		return ret;
	(*count)++;
	return C2W_OK;
}

static void free_names(char **names, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(names[i]);
	free(names);
}

static int list_value(struct parser *p, const struct key_def *k, void *base)
{
	void **arr = FIELD(base, k->off);
	size_t *count = FIELD(base, k->count_off);
	/* The key replaces the default list. */
	if (k->kind == KEY_NAMES)
		free_names(*arr, *count);
	else
		free(*arr);
	*arr = NULL;
	*count = 0;
	switch (k->kind) {
	case KEY_ADDRS:
		return for_each_item(p, k, base, item_addr);
	case KEY_PREFIXES:
		return for_each_item(p, k, base, item_prefix);
	default:
		return for_each_item(p, k, base, item_name);
	}
}

/* ---- mappings ------------------------------------------------------------------------- */

static int parse_map(struct parser *p, const struct table *tbl, void *base, const char *where);

static int find_key(const struct table *tbl, const char *name)
{
	for (size_t i = 0; i < tbl->key_count; i++)
		if (strcmp(tbl->keys[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int fail_unknown(struct parser *p, const struct table *tbl, const char *where,
			const char *key)
{
	/* The most common slip is snake_case for kebab-case. */
	char alt[64];
	size_t n = strlen(key);
	if (n < sizeof(alt)) {
		for (size_t i = 0; i <= n; i++)
			alt[i] = (char)(key[i] == '_' ? '-' : key[i]);
		int i = find_key(tbl, alt);
		if (i >= 0 && strcmp(alt, key) != 0)
			return fail(p, line_of(p), "unknown key '%s' in %s (did you mean '%s'?)",
				    key, where[0] != '\0' ? where : "top level", alt);
	}
	if (where[0] == '\0')
		return fail(p, line_of(p), "unknown section '%s'", key);
	return fail(p, line_of(p), "unknown key '%s' in %s", key, where);
}

static int handle_value(struct parser *p, const struct key_def *k, void *base)
{
	switch (k->kind) {
	case KEY_MAP: {
		if (ev_is_null(p))
			return C2W_OK;
		if (p->ev.type != YAML_MAPPING_START_EVENT)
			return fail(p, line_of(p), "%s: expected a mapping (key: value), not %s",
				    p->where, ev_kind(p));
		char sub[WHERE_MAX];
		snprintf(sub, sizeof(sub), "%s", p->where);
		return parse_map(p, k->sub, FIELD(base, k->off), sub);
	}
	case KEY_ADDRS:
	case KEY_PREFIXES:
	case KEY_NAMES:
		return list_value(p, k, base);
	case KEY_CUSTOM:
		return k->parse(p, k, base);
	case KEY_UNSUPPORTED:
		/* Accepting a key the code does not act on would make the file lie. */
		return fail(p, line_of(p), "%s: not supported in this version (%s)", p->where,
			    k->why);
	default:
		return scalar_value(p, k, base);
	}
}

static int check_required(struct parser *p, const struct map_lines *ml)
{
	for (size_t i = 0; i < ml->tbl->key_count; i++)
		if (ml->tbl->keys[i].required && ml->key[i] == 0)
			return fail(p, ml->start, "%s: missing required key '%s'",
				    ml->where[0] != '\0' ? ml->where : "top level",
				    ml->tbl->keys[i].name);
	return C2W_OK;
}

/* Current event: MAPPING_START. Leaves the current event on its MAPPING_END. */
static int parse_map(struct parser *p, const struct table *tbl, void *base, const char *where)
{
	struct map_lines ml = {.tbl = tbl, .where = where, .start = line_of(p)};
	int ret;

	for (;;) {
		if ((ret = next(p)) != C2W_OK)
			return ret;
		if (p->ev.type == YAML_MAPPING_END_EVENT)
			break;
		const char *key;
		if (p->ev.type != YAML_SCALAR_EVENT)
			return fail(p, line_of(p), "%s: keys must be plain strings",
				    where[0] != '\0' ? where : "top level");
		if ((ret = get_scalar(p, &key)) != C2W_OK)
			return ret;
		int i = find_key(tbl, key);
		if (i < 0)
			return fail_unknown(p, tbl, where, key);
		if (ml.key[i] != 0)
			return fail(p, line_of(p), "duplicate key '%s' in %s (first at line %u)",
				    key, where[0] != '\0' ? where : "top level", ml.key[i]);
		ml.key[i] = line_of(p);
		/* Key paths are short; a cut one only shortens an error message. */
		if (snprintf(p->where, sizeof(p->where), "%s%s%s", where,
			     where[0] != '\0' ? "." : "", key) >= (int)sizeof(p->where))
			p->where[sizeof(p->where) - 1] = '\0';
		if ((ret = next(p)) != C2W_OK)
			return ret;
		if ((ret = handle_value(p, &tbl->keys[i], base)) != C2W_OK)
			return ret;
	}
	if ((ret = check_required(p, &ml)) != C2W_OK)
		return ret;
	return tbl->check != NULL ? tbl->check(p, base, &ml) : C2W_OK;
}

/* Line of key @name in @ml, or the mapping's own line when the key is absent. */
static unsigned key_line(const struct map_lines *ml, const char *name)
{
	int i = find_key(ml->tbl, name);
	return i >= 0 && ml->key[i] != 0 ? ml->key[i] : ml->start;
}

static bool key_seen(const struct map_lines *ml, const char *name)
{
	int i = find_key(ml->tbl, name);
	return i >= 0 && ml->key[i] != 0;
}

/*
 * A list of mappings (policy.zones, resolver.stub): for each item, make room, parse it with
 * @tbl, then let @after compare it with the items before it.
 */
static int map_list(struct parser *p, void **arr, size_t *count, size_t elem,
		    const struct table *tbl,
		    int (*after)(struct parser *p, void *arr, size_t idx, unsigned line))
{
	char where[WHERE_MAX], item_where[WHERE_MAX];
	int ret;
	snprintf(where, sizeof(where), "%s", p->where);
	if (ev_is_null(p))
		return C2W_OK;
	if (p->ev.type != YAML_SEQUENCE_START_EVENT)
		return fail(p, line_of(p), "%s: expected a list of mappings, not %s", where,
			    ev_kind(p));
	for (;;) {
		if ((ret = next(p)) != C2W_OK)
			return ret;
		if (p->ev.type == YAML_SEQUENCE_END_EVENT)
			return C2W_OK;
		int n = snprintf(item_where, sizeof(item_where), "%s[%zu]", where, *count);
		if (n < 0 || (size_t)n >= sizeof(item_where))
			return fail(p, line_of(p), "%s: key path too long", where);
		if (p->ev.type != YAML_MAPPING_START_EVENT)
			return fail(p, line_of(p), "%s: expected a mapping (key: value), not %s",
				    item_where, ev_kind(p));
		if ((ret = array_slot(p, arr, *count, elem)) != C2W_OK)
			return ret;
		void *item = (char *)*arr + *count * elem;
		memset(item, 0, elem);
		(*count)++; /* counted before parsing, so conf_free sees partial items */
		unsigned line = line_of(p);
		if ((ret = parse_map(p, tbl, item, item_where)) != C2W_OK)
			return ret;
		if ((ret = after(p, *arr, *count - 1, line)) != C2W_OK)
			return ret;
	}
}

/* ---- custom keys ---------------------------------------------------------------------- */

static int parse_workers(struct parser *p, const struct key_def *k, void *base)
{
	const char *text;
	int ret = get_scalar(p, &text);
	if (ret != C2W_OK)
		return ret;
	if (strcmp(text, "auto") == 0) {
		store_uint(FIELD(base, k->off), k->width, 0);
		return C2W_OK;
	}
	uint64_t v;
	if (conf_value_parse_uint(text, &v) != C2W_OK || v < 1 || v > 1024)
		return fail(p, line_of(p),
			    "%s: expected 'auto' or a number from 1 to 1024, got '%s'", p->where,
			    text);
	store_uint(FIELD(base, k->off), k->width, v);
	return C2W_OK;
}

static int parse_dnstap(struct parser *p, const struct key_def *k, void *base)
{
	const char *text;
	char **field = FIELD(base, k->off);
	int ret = get_scalar(p, &text);
	if (ret != C2W_OK)
		return ret;
	if (is_none(p, text))
		return set_str(p, field, NULL);
	const char *path = NULL;
	if (strncmp(text, "unix:", 5) == 0 || strncmp(text, "file:", 5) == 0)
		path = text + 5;
	if (path == NULL || path[0] == '\0')
		return fail(p, line_of(p), "%s: expected unix:/path or file:/path, got '%s'",
			    p->where, text);
	char *resolved = NULL;
	if ((ret = set_path(p, &resolved, path)) != C2W_OK)
		return ret;
	size_t n = strlen(resolved) + 6;
	char *full = malloc(n);
	if (full == NULL) {
		free(resolved);
		return fail_nomem(p);
	}
	snprintf(full, n, "%.5s%s", text, resolved);
	free(resolved);
	free(*field);
	*field = full;
	return C2W_OK;
}

static int parse_ip(struct parser *p, const struct key_def *k, void *base, int family)
{
	const char *text;
	char **field = FIELD(base, k->off);
	int ret = get_scalar(p, &text);
	if (ret != C2W_OK)
		return ret;
	if (is_none(p, text))
		return set_str(p, field, NULL);
	uint8_t raw[16];
	char norm[INET6_ADDRSTRLEN];
	if (inet_pton(family, text, raw) != 1 || inet_ntop(family, raw, norm, sizeof(norm)) == NULL)
		return fail(p, line_of(p), "%s: '%s' is not an IPv%d address", p->where, text,
			    family == AF_INET ? 4 : 6);
	return set_str(p, field, norm);
}

static int parse_ipv4(struct parser *p, const struct key_def *k, void *base)
{
	return parse_ip(p, k, base, AF_INET);
}

static int parse_ipv6(struct parser *p, const struct key_def *k, void *base)
{
	return parse_ip(p, k, base, AF_INET6);
}

static int parse_zone_policy(struct parser *p, const struct key_def *k, void *base)
{
	static const struct enum_def policies[] = {
	    {"given", CONF_POLICY_GIVEN},   {"nxdomain", CONF_POLICY_NXDOMAIN},
	    {"nodata", CONF_POLICY_NODATA}, {"passthru", CONF_POLICY_PASSTHRU},
	    {"drop", CONF_POLICY_DROP},     {"tcp-only", CONF_POLICY_TCP_ONLY},
	    {"log", CONF_POLICY_LOG},       {"sinkhole", CONF_POLICY_SINKHOLE},
	};
	struct conf_policy_zone *z = base;
	const char *text;
	int ret = get_scalar(p, &text);
	(void)k;
	if (ret != C2W_OK)
		return ret;
	for (size_t i = 0; i < sizeof(policies) / sizeof(policies[0]); i++) {
		if (strcmp(text, policies[i].text) == 0) {
			z->policy = (enum conf_zone_policy)policies[i].value;
			if (z->policy == CONF_POLICY_SINKHOLE && p->sinkhole_line == 0)
				p->sinkhole_line = line_of(p);
			return C2W_OK;
		}
	}
	if (strncmp(text, "cname", 5) == 0 && (text[5] == ' ' || text[5] == '\t')) {
		const char *target = text + 5 + strspn(text + 5, " \t");
		z->policy = CONF_POLICY_CNAME;
		return scalar_name(p, target, &z->cname_target);
	}
	return fail(p, line_of(p),
		    "%s: '%s' is not one of given, nxdomain, nodata, passthru, drop, tcp-only, "
		    "log, sinkhole, cname NAME",
		    p->where, text);
}

/* An HTTP feed's address: http or https only, printable, no blanks (it goes to libcurl). */
static int parse_url(struct parser *p, const struct key_def *k, void *base)
{
	struct conf_policy_zone *z = base;
	const char *text;
	int ret = get_scalar(p, &text);
	(void)k;
	if (ret != C2W_OK)
		return ret;
	size_t n = strlen(text);
	bool scheme = strncasecmp(text, "http://", 7) == 0 || strncasecmp(text, "https://", 8) == 0;
	bool clean = n > 8 && n < 1024;
	for (size_t i = 0; i < n && clean; i++)
		clean = (unsigned char)text[i] > 0x20 && (unsigned char)text[i] < 0x7f;
	if (!scheme || !clean)
		return fail(p, line_of(p),
			    "%s: '%s' is not an http:// or https:// URL (printable, no blanks, "
			    "under 1024 characters)",
			    p->where, text);
	return set_str(p, &z->url, text);
}

static int parse_ede(struct parser *p, const struct key_def *k, void *base)
{
	struct conf_policy_zone *z = base;
	const char *text;
	int ret = get_scalar(p, &text);
	(void)k;
	if (ret != C2W_OK)
		return ret;
	if (strcmp(text, "blocked") == 0)
		z->ede_filtered = false;
	else if (strcmp(text, "filtered") == 0)
		z->ede_filtered = true;
	else
		return fail(p, line_of(p), "%s: '%s' is not one of blocked, filtered", p->where,
			    text);
	return C2W_OK;
}

/* ---- the tables ----------------------------------------------------------------------- */

#define K(n, k, st, f, ...)                                                                        \
	{                                                                                          \
		.name = (n), .kind = (k), .off = offsetof(st, f), .width = sizeof(((st *)0)->f),   \
		__VA_ARGS__                                                                        \
	}
#define K_UINT(n, st, f, lo_, hi_)    K(n, KEY_UINT, st, f, .lo = (lo_), .hi = (hi_))
#define K_LIST(n, k, st, f, cnt, ...) K(n, k, st, f, .count_off = offsetof(st, cnt), __VA_ARGS__)
#define K_CUSTOM(n, st, f, fn)        K(n, KEY_CUSTOM, st, f, .parse = (fn))
#define K_UNSUPPORTED(n, why_)        {.name = (n), .kind = KEY_UNSUPPORTED, .why = (why_)}

#define SECONDS(x) ((uint64_t)(x)*1000)
#define DAYS(x)    SECONDS((uint64_t)(x)*86400)
#define MIB(x)     ((uint64_t)(x) << 20)

static int parse_stubs(struct parser *p, const struct key_def *k, void *base);
static int parse_zones(struct parser *p, const struct key_def *k, void *base);

static const struct enum_def resolver_modes[] = {
    {"recursive", CONF_RESOLVER_RECURSIVE},
    {"forward", CONF_RESOLVER_FORWARD},
    {NULL, 0},
};

static const struct enum_def zone_formats[] = {
    {"rpz", CONF_ZONE_RPZ},
    {"hosts", CONF_ZONE_HOSTS},
    {"domains", CONF_ZONE_DOMAINS},
    {NULL, 0},
};

static const struct enum_def over_limits[] = {
    {"servfail", CONF_OVER_LIMIT_SERVFAIL},
    {"drop", CONF_OVER_LIMIT_DROP},
    {NULL, 0},
};

static const struct enum_def on_expire_modes[] = {
    {"drop", CONF_ON_EXPIRE_DROP},
    {"keep", CONF_ON_EXPIRE_KEEP},
    {NULL, 0},
};

static const struct enum_def log_levels[] = {
    {"error", C2W_LOG_ERR},
    {"warning", C2W_LOG_WARN},
    {"info", C2W_LOG_INFO},
    {"debug", C2W_LOG_DEBUG},
    {NULL, 0},
};

#define TABLE(keys_, check_)                                                                       \
	{                                                                                          \
		.keys = (keys_), .key_count = sizeof(keys_) / sizeof((keys_)[0]),                  \
		.check = (check_)                                                                  \
	}

static int check_server(struct parser *p, void *base, const struct map_lines *ml)
{
	const struct conf_server *s = base;
	if (s->listen_count == 0)
		return fail(p, key_line(ml, "listen"),
			    "server.listen: at least one address is needed");
	return C2W_OK;
}

static const struct key_def server_keys[] = {
    K_LIST("listen", KEY_ADDRS, struct conf_server, listen, listen_count, .port = 53),
    K_CUSTOM("workers", struct conf_server, workers, parse_workers),
    K_LIST("allow", KEY_PREFIXES, struct conf_server, allow, allow_count),
    K("user", KEY_STR_OPT, struct conf_server, user),
    K_UINT("tcp-clients", struct conf_server, tcp_clients_max, 1, 65535),
    K("tcp-idle-timeout", KEY_MS, struct conf_server, tcp_idle_timeout_ms, .lo = 1,
      .hi = SECONDS(3600)),
    K_UINT("tcp-clients-per-address", struct conf_server, tcp_clients_per_address, 1, 65535),
    K("tcp-message-timeout", KEY_MS, struct conf_server, tcp_message_timeout_ms, .lo = 1,
      .hi = SECONDS(3600)),
    K_UINT("tcp-pipeline-max", struct conf_server, tcp_pipeline_max, 1, 65535),
    K("tcp-output-max", KEY_BYTES, struct conf_server, tcp_output_max, .lo = 4096, .hi = MIB(64)),
    K_UINT("edns-udp-size", struct conf_server, edns_udp_size, 512, 65535),
    K("cache-memory", KEY_MB, struct conf_server, cache_memory_mb, .lo = MIB(1),
      .hi = MIB(1u << 20)),
    K("syscall-filter", KEY_BOOL, struct conf_server, syscall_filter),
};

static int check_stub(struct parser *p, void *base, const struct map_lines *ml)
{
	const struct conf_stub *s = base;
	if (s->addr_count == 0)
		return fail(p, key_line(ml, "addr"), "%s.addr: at least one address is needed",
			    ml->where);
	return C2W_OK;
}

static const struct key_def stub_keys[] = {
    K("zone", KEY_NAME, struct conf_stub, zone, .required = true),
    K_LIST("addr", KEY_ADDRS, struct conf_stub, addrs, addr_count, .port = 53, .required = true),
};
static const struct table stub_table = TABLE(stub_keys, check_stub);

static int check_resolver(struct parser *p, void *base, const struct map_lines *ml)
{
	const struct conf_resolver *r = base;
	if (r->mode == CONF_RESOLVER_FORWARD && r->forward_count == 0)
		return fail(p, key_line(ml, "mode"),
			    "resolver.mode is forward but resolver.forward lists no upstream");
	if (r->mode == CONF_RESOLVER_RECURSIVE && r->forward_count > 0)
		return fail(
		    p, key_line(ml, "forward"),
		    "resolver.forward is only used with 'mode: forward' (mode is recursive)");
	return C2W_OK;
}

static const struct key_def resolver_keys[] = {
    K("mode", KEY_ENUM, struct conf_resolver, mode, .enums = resolver_modes),
    K("root-hints", KEY_PATH, struct conf_resolver, root_hints),
    K("trust-anchor", KEY_PATH_OPT, struct conf_resolver, trust_anchor),
    K_LIST("forward", KEY_ADDRS, struct conf_resolver, forward, forward_count, .port = 53),
    K("stub", KEY_CUSTOM, struct conf_resolver, stub, .parse = parse_stubs, .sub = &stub_table),
    K("timeout", KEY_MS, struct conf_resolver, timeout_ms, .lo = 1, .hi = SECONDS(600)),
    K("serve-stale", KEY_BOOL, struct conf_resolver, serve_stale),
    K_LIST("transparent-zones", KEY_NAMES, struct conf_resolver, transparent_zones,
	   transparent_zone_count),
    K("cache-size", KEY_MB, struct conf_resolver, cache_mb, .lo = MIB(1), .hi = MIB(1u << 20)),
    K_UINT("ratelimit", struct conf_resolver, ratelimit, 0, 1000000),
    K("aggressive-nsec", KEY_BOOL, struct conf_resolver, aggressive_nsec),
    K("loopback-delegations", KEY_BOOL, struct conf_resolver, loopback_delegations),
};

static const struct enum_def ddos_actions[] = {
    {"servfail", CONF_DDOS_SERVFAIL},
    {"nxdomain", CONF_DDOS_NXDOMAIN},
    {"refused", CONF_DDOS_REFUSED},
    {"drop", CONF_DDOS_DROP},
    {NULL, 0},
};

static int check_ddos(struct parser *p, void *base, const struct map_lines *ml)
{
	const struct conf_ddos *d = base;
	if (d->bad_ratio > 1.0)
		return fail(p, key_line(ml, "bad-ratio"),
			    "ddos.bad-ratio: %g is out of range (0 to 1)", d->bad_ratio);
	return C2W_OK;
}

static const struct key_def ddos_keys[] = {
    K("enabled", KEY_BOOL, struct conf_ddos, enabled),
    K("window", KEY_SEC, struct conf_ddos, window_s, .lo = SECONDS(1), .hi = SECONDS(3600)),
    K_UINT("min-misses", struct conf_ddos, min_misses, 8, 1000),
    K("bad-ratio", KEY_FRACTION, struct conf_ddos, bad_ratio),
    K("hold", KEY_SEC, struct conf_ddos, hold_s, .lo = SECONDS(1), .hi = DAYS(1)),
    K("lift-after", KEY_SEC, struct conf_ddos, lift_after_s, .lo = 0, .hi = SECONDS(3600)),
    K("action", KEY_ENUM, struct conf_ddos, action, .enums = ddos_actions),
    K_UINT("fetches-per-zone", struct conf_ddos, fetches_per_zone, 0, 4096),
    K_UINT("fetches-unresponsive", struct conf_ddos, fetches_unresponsive, 0, 4096),
    K_UINT("trickle", struct conf_ddos, trickle, 0, 1000),
};

static const struct key_def limits_keys[] = {
    K_UINT("client-prefix-v4", struct conf_limits, client_prefix_v4, 8, 32),
    K_UINT("client-prefix-v6", struct conf_limits, client_prefix_v6, 16, 128),
    K_UINT("client-inflight-max", struct conf_limits, client_inflight_max, 1, 65535),
    K("over-limit", KEY_ENUM, struct conf_limits, over_limit, .enums = over_limits),
    K_UINT("upstream-pending-max", struct conf_limits, upstream_pending_max, 0, 65536),
};

/* HTTP(S) feed keys: defaults, and sense across keys (only zones with 'url' take them). */
static int check_zone_http(struct parser *p, struct conf_policy_zone *z, const struct map_lines *ml)
{
	static const char *const http_keys[] = {"refresh", "expire", "ca-file", "low-speed-limit",
						"low-speed-time"};
	static const char *const xfr_only[] = {"tsig-key-file", "refresh-min", "refresh-max",
					       "notify-interval", "primaries"};
	if (z->url == NULL) {
		for (size_t i = 0; i < sizeof(http_keys) / sizeof(http_keys[0]); i++)
			if (key_seen(ml, http_keys[i]))
				return fail(p, key_line(ml, http_keys[i]),
					    "%s.%s: only for a zone with 'url'", ml->where,
					    http_keys[i]);
		return C2W_OK;
	}
	for (size_t i = 0; i < sizeof(xfr_only) / sizeof(xfr_only[0]); i++)
		if (key_seen(ml, xfr_only[i]))
			return fail(p, key_line(ml, xfr_only[i]),
				    "%s.%s: not for a zone with 'url' (an HTTP feed)", ml->where,
				    xfr_only[i]);
	if (z->allow_include)
		return fail(p, key_line(ml, "allow-include"),
			    "%s.allow-include: an HTTP feed cannot $INCLUDE local files",
			    ml->where);
	if (z->refresh_s == 0)
		z->refresh_s = 600;
	if (z->expire_s == 0)
		z->expire_s = 7 * 86400;
	if (!key_seen(ml, "low-speed-time"))
		z->low_speed_s = 30;
	if (z->low_speed_bytes == 0)
		z->low_speed_bytes = 1024;
	return C2W_OK;
}

/* Zone-transfer keys: defaults, and sense across keys (file-only zones take none of them). */
static int check_zone_xfr(struct parser *p, struct conf_policy_zone *z, const struct map_lines *ml)
{
	static const char *const xfr_keys[] = {
	    "tsig-key-file", "refresh-min",       "refresh-max", "retry-min", "retry-max",
	    "notify-interval", "transfer-timeout", "transfer-max-size", "on-expire"};
	if (z->primary_count == 0 && z->url != NULL) {
		if (z->xfr_timeout_ms == 0)
			z->xfr_timeout_ms = 120000;
		if (z->xfr_max_bytes == 0)
			z->xfr_max_bytes = MIB(256);
		if (z->retry_min_s == 0)
			z->retry_min_s = 10;
		if (z->retry_max_s == 0)
			z->retry_max_s = 3600;
		if (z->retry_min_s > z->retry_max_s)
			return fail(p, key_line(ml, "retry-min"), "%s: retry-min exceeds retry-max",
				    ml->where);
		return check_zone_http(p, z, ml);
	}
	if (z->primary_count == 0) {
		if (!key_seen(ml, "file"))
			return fail(p, ml->start, "%s: a zone needs 'file', 'primaries' or 'url'",
				    ml->where);
		for (size_t i = 0; i < sizeof(xfr_keys) / sizeof(xfr_keys[0]); i++)
			if (key_seen(ml, xfr_keys[i]))
				return fail(p, key_line(ml, xfr_keys[i]),
					    "%s.%s: only for a zone with 'primaries'", ml->where,
					    xfr_keys[i]);
		return check_zone_http(p, z, ml);
	}
	if (z->format != CONF_ZONE_RPZ)
		return fail(p, key_line(ml, "format"), "%s: a transferred zone is RPZ", ml->where);
	if (z->refresh_min_s == 0)
		z->refresh_min_s = 60;
	if (z->refresh_max_s == 0)
		z->refresh_max_s = 86400;
	if (z->retry_min_s == 0)
		z->retry_min_s = 10;
	if (z->retry_max_s == 0)
		z->retry_max_s = 3600;
	if (!key_seen(ml, "notify-interval"))
		z->notify_interval_s = 5;
	if (z->xfr_timeout_ms == 0)
		z->xfr_timeout_ms = 120000;
	if (z->xfr_max_bytes == 0)
		z->xfr_max_bytes = MIB(256);
	if (z->refresh_min_s > z->refresh_max_s)
		return fail(p, key_line(ml, "refresh-min"), "%s: refresh-min exceeds refresh-max",
			    ml->where);
	if (z->retry_min_s > z->retry_max_s)
		return fail(p, key_line(ml, "retry-min"), "%s: retry-min exceeds retry-max",
			    ml->where);
	return check_zone_http(p, z, ml);
}

static int check_zone(struct parser *p, void *base, const struct map_lines *ml)
{
	struct conf_policy_zone *z = base;
	int ret = check_zone_xfr(p, z, ml);
	if (ret != C2W_OK)
		return ret;
	/* Serving keys mean nothing for a zone nobody may transfer. */
	static const char *const serve_keys[] = {"notify", "transfer-key-file"};
	for (size_t i = 0; i < 2 && z->allow_transfer_count == 0; i++)
		if (key_seen(ml, serve_keys[i]))
			return fail(p, key_line(ml, serve_keys[i]),
				    "%s.%s: only for a zone with 'allow-transfer'", ml->where,
				    serve_keys[i]);
	if (z->category == NULL && (ret = set_str(p, &z->category, "c2")) != C2W_OK)
		return ret;
	if (z->feed == NULL)
		return set_str(p, &z->feed, z->name);
	return C2W_OK;
}

static const struct key_def zone_keys[] = {
    K("name", KEY_NAME, struct conf_policy_zone, name, .required = true),
    K("file", KEY_PATH, struct conf_policy_zone, file),
    K("format", KEY_ENUM, struct conf_policy_zone, format, .enums = zone_formats),
    K_CUSTOM("policy", struct conf_policy_zone, policy, parse_zone_policy),
    K("category", KEY_STR, struct conf_policy_zone, category),
    K("family", KEY_STR_OPT, struct conf_policy_zone, family),
    K("feed", KEY_STR, struct conf_policy_zone, feed),
    K_CUSTOM("ede", struct conf_policy_zone, ede_filtered, parse_ede),
    K_LIST("primaries", KEY_ADDRS, struct conf_policy_zone, primaries, primary_count, .port = 53),
    K("tsig-key-file", KEY_PATH_OPT, struct conf_policy_zone, tsig_key_file),
    K("refresh-min", KEY_SEC, struct conf_policy_zone, refresh_min_s, .lo = SECONDS(1),
      .hi = DAYS(28)),
    K("refresh-max", KEY_SEC, struct conf_policy_zone, refresh_max_s, .lo = SECONDS(1),
      .hi = DAYS(28)),
    K("retry-min", KEY_SEC, struct conf_policy_zone, retry_min_s, .lo = SECONDS(1),
      .hi = DAYS(28)),
    K("retry-max", KEY_SEC, struct conf_policy_zone, retry_max_s, .lo = SECONDS(1),
      .hi = DAYS(28)),
    K("notify-interval", KEY_SEC, struct conf_policy_zone, notify_interval_s, .lo = 0,
      .hi = SECONDS(3600)),
    K("transfer-timeout", KEY_MS, struct conf_policy_zone, xfr_timeout_ms, .lo = SECONDS(1),
      .hi = SECONDS(3600)),
    K("transfer-max-size", KEY_BYTES, struct conf_policy_zone, xfr_max_bytes, .lo = 4096,
      .hi = (uint64_t)1 << 40),
    K("on-expire", KEY_ENUM, struct conf_policy_zone, on_expire, .enums = on_expire_modes),
    K("allow-include", KEY_BOOL, struct conf_policy_zone, allow_include),
    K_CUSTOM("url", struct conf_policy_zone, url, parse_url),
    K("ca-file", KEY_PATH_OPT, struct conf_policy_zone, ca_file),
    K("refresh", KEY_SEC, struct conf_policy_zone, refresh_s, .lo = SECONDS(1), .hi = DAYS(7)),
    K("expire", KEY_SEC, struct conf_policy_zone, expire_s, .lo = SECONDS(1), .hi = DAYS(365)),
    K("low-speed-limit", KEY_BYTES, struct conf_policy_zone, low_speed_bytes, .lo = 1,
      .hi = MIB(1024)),
    K("low-speed-time", KEY_SEC, struct conf_policy_zone, low_speed_s, .lo = 0,
      .hi = SECONDS(3600)),
    K_LIST("allow-transfer", KEY_PREFIXES, struct conf_policy_zone, allow_transfer,
	   allow_transfer_count),
    K_LIST("notify", KEY_ADDRS, struct conf_policy_zone, notify, notify_count, .port = 53),
    K("transfer-key-file", KEY_PATH_OPT, struct conf_policy_zone, transfer_key_file),
};
static const struct table zone_table = TABLE(zone_keys, check_zone);

static const struct key_def policy_keys[] = {
    K("zones", KEY_CUSTOM, struct conf_policy, zones, .parse = parse_zones, .sub = &zone_table),
    K_LIST("never-block", KEY_NAMES, struct conf_policy, never_block, never_block_count,
	   .wild = true),
    K("never-block-file", KEY_PATH_OPT, struct conf_policy, never_block_file),
    K("max-change", KEY_FRACTION, struct conf_policy, max_change),
    K("state-dir", KEY_PATH, struct conf_policy, state_dir),
    K_UINT("min-ns-dots", struct conf_policy, min_ns_dots, 0, 127),
    K_UINT("journal-versions", struct conf_policy, journal_versions, 0, 10000),
    K("journal-max-size", KEY_BYTES, struct conf_policy, journal_max_bytes, .lo = 0,
      .hi = (uint64_t)1 << 40),
    K_UINT("transfers-out-max", struct conf_policy, transfers_out_max, 1, 1024),
    K_UINT("transfers-out-per-client", struct conf_policy, transfers_out_per_client, 1, 1024),
};

static const struct key_def events_keys[] = {
    K("jsonl", KEY_PATH_OPT, struct conf_events, jsonl),
    K("jsonl-rotate-size", KEY_BYTES, struct conf_events, jsonl_rotate_bytes, .lo = 0,
      .hi = UINT64_MAX),
    K("jsonl-rotate-interval", KEY_SEC, struct conf_events, jsonl_rotate_s, .lo = 0,
      .hi = DAYS(366)),
    K_CUSTOM("dnstap", struct conf_events, dnstap, parse_dnstap),
    K("syslog", KEY_BOOL, struct conf_events, syslog),
    K("query-log", KEY_BOOL, struct conf_events, query_log),
    K_UINT("ring-entries", struct conf_events, ring_entries, 16, 1u << 24),
};

static int check_privacy(struct parser *p, void *base, const struct map_lines *ml)
{
	const struct conf_privacy *pr = base;
	if (pr->notify_window_days > pr->retention_days)
		return fail(p,
			    key_line(ml, key_seen(ml, "notify-window-days") ? "notify-window-days"
									    : "retention-days"),
			    "privacy.notify-window-days (%u) exceeds privacy.retention-days (%u): "
			    "addresses would be deleted before the notification window ends",
			    pr->notify_window_days, pr->retention_days);
	return C2W_OK;
}

static const struct key_def privacy_keys[] = {
    K("key-file", KEY_PATH, struct conf_privacy, key_file),
    K("key-rotation", KEY_SEC, struct conf_privacy, key_rotation_s, .lo = SECONDS(60),
      .hi = DAYS(366)),
    K_UINT("retention-days", struct conf_privacy, retention_days, 1, 3650),
    K_UINT("notify-window-days", struct conf_privacy, notify_window_days, 1, 3650),
    K("optout-file", KEY_PATH_OPT, struct conf_privacy, optout_file),
};

static const struct key_def store_keys[] = {
    K("sqlite", KEY_PATH_OPT, struct conf_store, sqlite),
    K_UNSUPPORTED("postgres", "the incident store is SQLite only; use store.sqlite"),
};

static const struct key_def control_keys[] = {
    K("socket", KEY_PATH_OPT, struct conf_control, socket),
    K_LIST("http", KEY_ADDRS, struct conf_control, http, http_count, .port = 9153),
    K("http-tokens", KEY_PATH_OPT, struct conf_control, http_tokens),
    K("http-tls-cert", KEY_PATH_OPT, struct conf_control, http_tls_cert),
    K("http-tls-key", KEY_PATH_OPT, struct conf_control, http_tls_key),
    K("http-body-max", KEY_BYTES, struct conf_control, http_body_max, .lo = 256,
      .hi = MIB(16)),
    K("http-headers-max", KEY_BYTES, struct conf_control, http_headers_max, .lo = 1024,
      .hi = MIB(1)),
    K("http-timeout", KEY_MS, struct conf_control, http_timeout_ms, .lo = SECONDS(1),
      .hi = SECONDS(3600)),
    K_UINT("http-connections-max", struct conf_control, http_connections_max, 1, 65535),
};

/* The API is useless and unsafe without tokens; TLS needs both halves. */
static int check_control(struct parser *p, void *base, const struct map_lines *ml)
{
	const struct conf_control *c = base;
	if (c->http_count > 0 && c->http_tokens == NULL)
		return fail(p, key_line(ml, "http"),
			    "control.http needs control.http-tokens (a file of bearer tokens): "
			    "every request is authenticated");
	if ((c->http_tls_cert == NULL) != (c->http_tls_key == NULL))
		return fail(p,
			    key_line(ml, key_seen(ml, "http-tls-cert") ? "http-tls-cert"
								       : "http-tls-key"),
			    "control.http-tls-cert and control.http-tls-key go together");
	return C2W_OK;
}

static const struct key_def sinkhole_keys[] = {
    K_CUSTOM("ipv4", struct conf_sinkhole, ipv4, parse_ipv4),
    K_CUSTOM("ipv6", struct conf_sinkhole, ipv6, parse_ipv6),
    K_LIST("http", KEY_ADDRS, struct conf_sinkhole, http, http_count, .port = 80),
    K_LIST("tls", KEY_ADDRS, struct conf_sinkhole, tls, tls_count, .port = 443),
    K_LIST("tcp", KEY_ADDRS, struct conf_sinkhole, tcp, tcp_count, .port = 0),
    K("templates", KEY_PATH_OPT, struct conf_sinkhole, templates),
    K_UINT("clients-per-address", struct conf_sinkhole, clients_per_address, 1, 65535),
    K_UINT("evidence-per-minute", struct conf_sinkhole, evidence_per_minute, 0, 1000000),
};

static const struct enum_def query_actions[] = {
    {"drop", CONF_QUERY_DROP},
    {"refuse", CONF_QUERY_REFUSE},
    {NULL, 0},
};

/* Rates not given follow responses-per-second, as in BIND. */
static int check_rate_limit(struct parser *p, void *base, const struct map_lines *ml)
{
	struct conf_rate_limit *r = base;
	(void)p;
	if (!key_seen(ml, "nxdomains-per-second"))
		r->nxdomains_per_second = r->responses_per_second;
	if (!key_seen(ml, "nodata-per-second"))
		r->nodata_per_second = r->responses_per_second;
	if (!key_seen(ml, "errors-per-second"))
		r->errors_per_second = r->responses_per_second;
	if (!key_seen(ml, "query-burst"))
		r->query_burst = r->queries_per_second > 0 ? r->queries_per_second : 1;
	return C2W_OK;
}

#define RATE_MAX 1000000

static const struct key_def rate_limit_keys[] = {
    K_UINT("responses-per-second", struct conf_rate_limit, responses_per_second, 0, RATE_MAX),
    K_UINT("nxdomains-per-second", struct conf_rate_limit, nxdomains_per_second, 0, RATE_MAX),
    K_UINT("nodata-per-second", struct conf_rate_limit, nodata_per_second, 0, RATE_MAX),
    K_UINT("errors-per-second", struct conf_rate_limit, errors_per_second, 0, RATE_MAX),
    K("window", KEY_SEC, struct conf_rate_limit, window_s, .lo = SECONDS(1), .hi = SECONDS(3600)),
    K_UINT("slip", struct conf_rate_limit, slip, 0, 10),
    K_UINT("ipv4-prefix-length", struct conf_rate_limit, ipv4_prefix_length, 0, 32),
    K_UINT("ipv6-prefix-length", struct conf_rate_limit, ipv6_prefix_length, 0, 128),
    K_LIST("exempt-clients", KEY_PREFIXES, struct conf_rate_limit, exempt_clients,
	   exempt_client_count),
    K("log-only", KEY_BOOL, struct conf_rate_limit, log_only),
    K_UINT("table-size", struct conf_rate_limit, table_size, 16, 1u << 24),
    K_UINT("queries-per-second", struct conf_rate_limit, queries_per_second, 0, RATE_MAX),
    K_UINT("query-burst", struct conf_rate_limit, query_burst, 1, RATE_MAX),
    K("query-action", KEY_ENUM, struct conf_rate_limit, query_action, .enums = query_actions),
    K_UINT("query-ipv4-prefix-length", struct conf_rate_limit, query_ipv4_prefix_length, 0, 32),
    K_UINT("query-ipv6-prefix-length", struct conf_rate_limit, query_ipv6_prefix_length, 0,
	   128),
    K("query-cookie-exempt", KEY_BOOL, struct conf_rate_limit, query_cookie_exempt),
};

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* One line of 32 hex digits (surrounding blanks allowed) into @out. */
static bool parse_secret_line(const char *line, size_t len, uint8_t out[CONF_COOKIE_SECRET_LEN])
{
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r'))
		len--;
	while (len > 0 && (line[0] == ' ' || line[0] == '\t')) {
		line++;
		len--;
	}
	if (len != 2 * CONF_COOKIE_SECRET_LEN)
		return false;
	for (size_t i = 0; i < CONF_COOKIE_SECRET_LEN; i++) {
		int hi = hex_digit(line[2 * i]), lo = hex_digit(line[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

/* cookie-secret-file: one or two lines of 32 hex digits (RFC 9018 5: the first makes cookies,
 * the second, the previous secret, is still accepted during a rollover). */
static int read_cookie_secret(struct parser *p, struct conf_cookies *c, unsigned line)
{
	char buf[512];
	FILE *f = fopen(c->secret_file, "re");
	if (f == NULL)
		return fail(p, line, "cookies.cookie-secret-file: cannot open %s (%s)",
			    c->secret_file, c2w_strerror(-errno));
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	bool big = n == sizeof(buf) - 1;
	fclose(f);
	buf[n] = '\0';
	c->secret_count = 0;
	for (char *s = buf; !big && *s != '\0' && c->secret_count < 3;) {
		char *nl = strchr(s, '\n');
		size_t len = nl != NULL ? (size_t)(nl - s) : strlen(s);
		if (len > 0 && c->secret_count < 2 &&
		    parse_secret_line(s, len, c->secret[c->secret_count]))
			c->secret_count++;
		else if (len > 0)
			c->secret_count = 3; /* a bad or third line */
		s += len + (nl != NULL);
	}
	if (big || c->secret_count == 0 || c->secret_count > 2)
		return fail(p, line,
			    "cookies.cookie-secret-file: %s must hold one or two lines of 32 hex "
			    "digits (a 128-bit secret)",
			    c->secret_file);
	return C2W_OK;
}

static int check_cookies(struct parser *p, void *base, const struct map_lines *ml)
{
	struct conf_cookies *c = base;
	if (c->secret_file == NULL)
		return C2W_OK;
	return read_cookie_secret(p, c, key_line(ml, "cookie-secret-file"));
}

static const struct key_def cookies_keys[] = {
    K("enable", KEY_BOOL, struct conf_cookies, enable),
    K("cookie-secret-file", KEY_PATH_OPT, struct conf_cookies, secret_file),
};

static const struct key_def log_keys[] = {
    K("level", KEY_ENUM, struct conf_log, level, .enums = log_levels),
    K("syslog", KEY_BOOL, struct conf_log, syslog),
};

static const struct table server_table = TABLE(server_keys, check_server);
static const struct table resolver_table = TABLE(resolver_keys, check_resolver);
static const struct table limits_table = TABLE(limits_keys, NULL);
static const struct table ddos_table = TABLE(ddos_keys, check_ddos);

/* A transferred zone without 'file' keeps its last good copy in the state directory. */
static int check_policy(struct parser *p, void *base, const struct map_lines *ml)
{
	struct conf_policy *pol = base;
	(void)ml;
	for (size_t i = 0; i < pol->zone_count; i++) {
		struct conf_policy_zone *z = &pol->zones[i];
		if (z->file != NULL || (z->primary_count == 0 && z->url == NULL))
			continue;
		char base_name[300];
		/* Zone names are validated names: no '/' and at most 253 characters. */
		snprintf(base_name, sizeof(base_name), "%s%s", z->name,
			 z->url != NULL ? "feed" : "zone");
		if ((z->file = join_path(pol->state_dir, base_name)) == NULL)
			return fail_nomem(p);
	}
	return C2W_OK;
}

static const struct table policy_table = TABLE(policy_keys, check_policy);
static const struct table events_table = TABLE(events_keys, NULL);
static const struct table privacy_table = TABLE(privacy_keys, check_privacy);
static const struct table store_table = TABLE(store_keys, NULL);
static const struct table control_table = TABLE(control_keys, check_control);
static const struct table sinkhole_table = TABLE(sinkhole_keys, NULL);
static const struct table log_table = TABLE(log_keys, NULL);
static const struct table rate_limit_table = TABLE(rate_limit_keys, check_rate_limit);
static const struct table cookies_table = TABLE(cookies_keys, check_cookies);

static int check_top(struct parser *p, void *base, const struct map_lines *ml)
{
	const struct c2w_config *cfg = base;
	(void)ml;
	if (p->sinkhole_line != 0 && cfg->sinkhole.ipv4 == NULL && cfg->sinkhole.ipv6 == NULL)
		return fail(p, p->sinkhole_line,
			    "a zone uses 'policy: sinkhole' but neither sinkhole.ipv4 nor "
			    "sinkhole.ipv6 is set");
	return C2W_OK;
}

#define SECTION(n, f, t) K(n, KEY_MAP, struct c2w_config, f, .sub = &(t))

static const struct key_def top_keys[] = {
    SECTION("server", server, server_table),
    SECTION("resolver", resolver, resolver_table),
    SECTION("limits", limits, limits_table),
    SECTION("ddos", ddos, ddos_table),
    SECTION("policy", policy, policy_table),
    SECTION("events", events, events_table),
    SECTION("privacy", privacy, privacy_table),
    SECTION("store", store, store_table),
    SECTION("control", control, control_table),
    SECTION("sinkhole", sinkhole, sinkhole_table),
    SECTION("log", log, log_table),
    SECTION("rate-limit", rate_limit, rate_limit_table),
    SECTION("cookies", cookies, cookies_table),
};
static const struct table top_table = TABLE(top_keys, check_top);

static int stub_after(struct parser *p, void *arr, size_t idx, unsigned line)
{
	const struct conf_stub *stubs = arr;
	for (size_t j = 0; j < idx; j++)
		if (strcmp(stubs[idx].zone, stubs[j].zone) == 0)
			return fail(p, line, "resolver.stub[%zu]: zone %s is already in stub[%zu]",
				    idx, stubs[idx].zone, j);
	return C2W_OK;
}

static int parse_stubs(struct parser *p, const struct key_def *k, void *base)
{
	struct conf_resolver *r = base;
	(void)k;
	return map_list(p, (void **)&r->stub, &r->stub_count, sizeof(*r->stub), &stub_table,
			stub_after);
}

static int zone_after(struct parser *p, void *arr, size_t idx, unsigned line)
{
	const struct conf_policy_zone *zones = arr;
	for (size_t j = 0; j < idx; j++)
		if (strcmp(zones[idx].name, zones[j].name) == 0)
			return fail(p, line, "policy.zones[%zu]: zone %s is already in zones[%zu]",
				    idx, zones[idx].name, j);
	return C2W_OK;
}

static int parse_zones(struct parser *p, const struct key_def *k, void *base)
{
	struct conf_policy *pol = base;
	(void)k;
	return map_list(p, (void **)&pol->zones, &pol->zone_count, sizeof(*pol->zones), &zone_table,
			zone_after);
}

/* ---- the key list, from the tables ------------------------------------------------------ */

static void keys_walk(const struct table *tbl, const char *prefix,
		      void (*cb)(void *ctx, const char *path), void *ctx)
{
	for (size_t i = 0; i < tbl->key_count; i++) {
		const struct key_def *k = &tbl->keys[i];
		char path[WHERE_MAX];
		if (k->kind == KEY_UNSUPPORTED)
			continue;
		if (snprintf(path, sizeof(path), "%s%s%s", prefix, prefix[0] != '\0' ? "." : "",
			     k->name) >= (int)sizeof(path))
			continue; /* key paths are short; a table would have to nest absurdly */
		if (k->kind == KEY_MAP) {
			keys_walk(k->sub, path, cb, ctx);
			continue;
		}
		cb(ctx, path);
		if (k->sub != NULL) { /* a list of mappings: policy.zones[].name */
			char sub[WHERE_MAX];
			if (snprintf(sub, sizeof(sub), "%s[]", path) >= (int)sizeof(sub))
				continue;
			keys_walk(k->sub, sub, cb, ctx);
		}
	}
}

void conf_keys_each(void (*cb)(void *ctx, const char *path), void *ctx)
{
	keys_walk(&top_table, "", cb, ctx);
}

/* ---- defaults, lifecycle -------------------------------------------------------------- */

static int add_default_addr(struct conf_addr **arr, size_t *count, const char *text)
{
	struct conf_addr *grown = realloc(*arr, (*count + 1) * sizeof(**arr));
	if (grown == NULL)
		return C2W_ENOMEM;
	*arr = grown;
	if (conf_addr_parse(text, 53, &grown[*count]) != C2W_OK)
		return C2W_EINVAL;
	(*count)++;
	return C2W_OK;
}

static int add_default_prefix(struct conf_prefix **arr, size_t *count, const char *text)
{
	struct conf_prefix *grown = realloc(*arr, (*count + 1) * sizeof(**arr));
	if (grown == NULL)
		return C2W_ENOMEM;
	*arr = grown;
	if (conf_prefix_parse(text, &grown[*count]) != C2W_OK)
		return C2W_EINVAL;
	(*count)++;
	return C2W_OK;
}

/* Every default in one place; docs/config.md and conf/c2wall.yaml repeat them. */
static int set_defaults(struct c2w_config *cfg)
{
	struct conf_server *s = &cfg->server;
	int ret;

	if ((ret = add_default_addr(&s->listen, &s->listen_count, "127.0.0.1@53")) != C2W_OK ||
	    (ret = add_default_addr(&s->listen, &s->listen_count, "::1@53")) != C2W_OK ||
	    (ret = add_default_prefix(&s->allow, &s->allow_count, "127.0.0.0/8")) != C2W_OK ||
	    (ret = add_default_prefix(&s->allow, &s->allow_count, "::1/128")) != C2W_OK)
		return ret;
	s->workers = 0;
	s->tcp_clients_max = 256;
	s->tcp_idle_timeout_ms = 10000;
	s->tcp_clients_per_address = 32;
	s->tcp_message_timeout_ms = 5000;
	s->tcp_pipeline_max = 32;
	s->tcp_output_max = 128 * 1024;
	s->edns_udp_size = 1232;
	s->cache_memory_mb = CONF_CACHE_MEMORY_MB_DEFAULT;

	cfg->sinkhole.clients_per_address = 16;
	cfg->sinkhole.evidence_per_minute = 30;

	cfg->resolver.mode = CONF_RESOLVER_RECURSIVE;
	cfg->resolver.timeout_ms = 5000;
	cfg->resolver.serve_stale = false;
	cfg->resolver.cache_mb = CONF_RESOLVER_CACHE_MB_DEFAULT;
	cfg->resolver.aggressive_nsec = true;
	cfg->server.syscall_filter = true;

	cfg->ddos.enabled = true;
	cfg->ddos.window_s = 3;
	cfg->ddos.min_misses = 200;
	cfg->ddos.bad_ratio = 0.8;
	cfg->ddos.hold_s = 5;
	cfg->ddos.lift_after_s = 1;
	cfg->ddos.action = CONF_DDOS_SERVFAIL;
	cfg->ddos.fetches_per_zone = 500;
	cfg->ddos.fetches_unresponsive = 256;
	cfg->ddos.trickle = 2;

	cfg->limits.client_prefix_v4 = 32;
	cfg->limits.client_prefix_v6 = 56;
	cfg->limits.client_inflight_max = 100;
	cfg->limits.over_limit = CONF_OVER_LIMIT_SERVFAIL;
	cfg->limits.upstream_pending_max = 1024;

	cfg->policy.max_change = 0;
	cfg->policy.min_ns_dots = 1; /* BIND's default: root and top-level zones skipped */
	cfg->policy.journal_versions = 20;
	cfg->policy.journal_max_bytes = MIB(64);
	cfg->policy.transfers_out_max = 16;
	cfg->policy.transfers_out_per_client = 2;
	cfg->events.ring_entries = 4096;
	cfg->privacy.key_rotation_s = 86400;
	cfg->privacy.retention_days = 30;
	cfg->privacy.notify_window_days = 14;
	cfg->control.http_body_max = 65536;
	cfg->control.http_headers_max = 8192;
	cfg->control.http_timeout_ms = 10000;
	cfg->control.http_connections_max = 64;
	cfg->log.level = C2W_LOG_INFO;

	struct conf_rate_limit *rl = &cfg->rate_limit;
	rl->window_s = 15;
	rl->slip = 2;
	rl->ipv4_prefix_length = 24;
	rl->ipv6_prefix_length = 56;
	rl->table_size = 65536;
	rl->query_burst = 1;
	rl->query_action = CONF_QUERY_DROP;
	rl->query_ipv4_prefix_length = 32;
	rl->query_ipv6_prefix_length = 56;
	cfg->cookies.enable = true;

	static const struct {
		size_t off;
		const char *text;
	} strings[] = {
	    {offsetof(struct c2w_config, resolver.root_hints), "/usr/share/dns/root.hints"},
	    {offsetof(struct c2w_config, resolver.trust_anchor), "/usr/share/dns/root.key"},
	    {offsetof(struct c2w_config, privacy.key_file), "/var/lib/c2wall/pseudonym.key"},
	    {offsetof(struct c2w_config, store.sqlite), "/var/lib/c2wall/incidents.db"},
	    {offsetof(struct c2w_config, control.socket), "/run/c2wall/control.sock"},
	    {offsetof(struct c2w_config, policy.state_dir), "/var/lib/c2wall/zones"},
	    /* Started as root, the daemon runs as this user unless told "none" (net/server.c). */
	    {offsetof(struct c2w_config, server.user), "c2wall"},
	};
	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
		char **field = FIELD(cfg, strings[i].off);
		if ((*field = strdup(strings[i].text)) == NULL)
			return C2W_ENOMEM;
	}
	return C2W_OK;
}

static void free_zone(struct conf_policy_zone *z)
{
	free(z->name);
	free(z->file);
	free(z->cname_target);
	free(z->category);
	free(z->family);
	free(z->feed);
	free(z->primaries);
	free(z->tsig_key_file);
	free(z->url);
	free(z->ca_file);
	free(z->allow_transfer);
	free(z->notify);
	free(z->transfer_key_file);
}

void conf_free(struct c2w_config *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->path);
	free(cfg->server.listen);
	free(cfg->server.allow);
	free(cfg->server.user);
	free(cfg->resolver.root_hints);
	free(cfg->resolver.trust_anchor);
	free(cfg->resolver.forward);
	for (size_t i = 0; i < cfg->resolver.stub_count; i++) {
		free(cfg->resolver.stub[i].zone);
		free(cfg->resolver.stub[i].addrs);
	}
	free(cfg->resolver.stub);
	for (size_t i = 0; i < cfg->policy.zone_count; i++)
		free_zone(&cfg->policy.zones[i]);
	free(cfg->policy.zones);
	free_names(cfg->resolver.transparent_zones, cfg->resolver.transparent_zone_count);
	free(cfg->policy.never_block_file);
	free(cfg->policy.state_dir);
	free_names(cfg->policy.never_block, cfg->policy.never_block_count);
	free(cfg->events.jsonl);
	free(cfg->events.dnstap);
	free(cfg->privacy.key_file);
	free(cfg->privacy.optout_file);
	free(cfg->store.sqlite);
	free(cfg->control.socket);
	free(cfg->control.http);
	free(cfg->control.http_tokens);
	free(cfg->control.http_tls_cert);
	free(cfg->control.http_tls_key);
	free(cfg->sinkhole.ipv4);
	free(cfg->sinkhole.ipv6);
	free(cfg->sinkhole.http);
	free(cfg->sinkhole.tls);
	free(cfg->sinkhole.tcp);
	free(cfg->sinkhole.templates);
	free(cfg->rate_limit.exempt_clients);
	free(cfg->cookies.secret_file);
	explicit_bzero(cfg->cookies.secret, sizeof(cfg->cookies.secret));
	free(cfg);
}

/* ---- loading -------------------------------------------------------------------------- */

static char *join_path(const char *dir, const char *name)
{
	size_t dl = strlen(dir);
	const char *sep = dl > 0 && dir[dl - 1] == '/' ? "" : "/";
	size_t n = dl + strlen(sep) + strlen(name) + 1;
	char *out = malloc(n);
	if (out != NULL)
		snprintf(out, n, "%s%s%s", dir, sep, name);
	return out;
}

/*
 * The absolute directory of @path: relative paths in the file are resolved against it, so
 * the daemon can chdir("/") and a reload from another directory means the same files.
 */
static char *config_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	if (slash == NULL)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (dir == NULL)
		return NULL;
	char *real = realpath(dir, NULL);
	if (real != NULL) {
		free(dir);
		return real;
	}
	if (dir[0] == '/')
		return dir;
	/* The directory does not exist (a buffer with a made-up name): resolve lexically. */
	char cwd[PATH_MAX];
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return dir;
	char *abs = join_path(cwd, dir);
	free(dir);
	return abs;
}

static int parse_stream(struct parser *p, struct c2w_config *cfg)
{
	int ret;
	if ((ret = next(p)) != C2W_OK) /* STREAM-START */
		return ret;
	if ((ret = next(p)) != C2W_OK)
		return ret;
	if (p->ev.type == YAML_STREAM_END_EVENT)
		return C2W_OK;         /* an empty file: all defaults */
	if ((ret = next(p)) != C2W_OK) /* past DOCUMENT-START */
		return ret;
	if (p->ev.type == YAML_MAPPING_START_EVENT) {
		if ((ret = parse_map(p, &top_table, cfg, "")) != C2W_OK)
			return ret;
	} else if (!ev_is_null(p)) {
		return fail(p, line_of(p),
			    "the file must be a mapping of sections (server:, resolver:, ...), "
			    "not %s",
			    ev_kind(p));
	}
	if ((ret = next(p)) != C2W_OK) /* DOCUMENT-END */
		return ret;
	if ((ret = next(p)) != C2W_OK)
		return ret;
	if (p->ev.type != YAML_STREAM_END_EVENT)
		return fail(p, line_of(p), "only one YAML document is allowed in a config file");
	return C2W_OK;
}

int conf_load_buffer(const char *data, size_t len, const char *path, struct c2w_config **out,
		     char *err, size_t err_len)
{
	struct parser p = {
	    .data = (const uint8_t *)data,
	    .len = len,
	    .name = path,
	    .err = err,
	    .err_len = err_len,
	};
	struct c2w_config *cfg = NULL;
	int ret = C2W_ENOMEM;

	*out = NULL;
	if (err != NULL && err_len > 0)
		err[0] = '\0';
	if (!yaml_parser_initialize(&p.yp))
		return fail_nomem(&p);
	yaml_parser_set_input_string(&p.yp, (const unsigned char *)data, len);
	if ((p.dir = config_dir(path)) == NULL)
		goto out_nomem;
	if ((cfg = calloc(1, sizeof(*cfg))) == NULL)
		goto out_nomem;
	const char *base = strrchr(path, '/');
	if ((cfg->path = join_path(p.dir, base != NULL ? base + 1 : path)) == NULL)
		goto out_nomem;
	if (set_defaults(cfg) != C2W_OK) /* the defaults are constants: only ENOMEM fails */
		goto out_nomem;
	if ((ret = parse_stream(&p, cfg)) != C2W_OK)
		goto out_free;
	*out = cfg;
	cfg = NULL;
	goto out_free;
out_nomem:
	ret = fail_nomem(&p);
out_free:
	conf_free(cfg);
	if (p.have_ev)
		yaml_event_delete(&p.ev);
	yaml_parser_delete(&p.yp);
	free(p.dir);
	return ret;
}

static int fail_file(const char *path, char *err, size_t err_len, int ret, const char *what)
{
	if (err != NULL && err_len > 0)
		snprintf(err, err_len, "%s: %s", path, what != NULL ? what : c2w_strerror(ret));
	return ret;
}

int conf_load(const char *path, struct c2w_config **out, char *err, size_t err_len)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int ret;

	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail_file(path, err, err_len, -errno, NULL);
	if (fstat(fd, &st) != 0) {
		ret = fail_file(path, err, err_len, -errno, NULL);
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = fail_file(path, err, err_len, C2W_ECONFIG, "not a regular file");
		goto out_close;
	}
	if (st.st_size > (off_t)CONF_FILE_MAX) {
		ret = fail_file(path, err, err_len, C2W_ECONFIG, "file too large (limit 1 MiB)");
		goto out_close;
	}
	/* Read to EOF rather than trusting st_size: the file may change under us. */
	if ((buf = malloc(CONF_FILE_MAX + 1)) == NULL) {
		ret = fail_file(path, err, err_len, C2W_ENOMEM, NULL);
		goto out_close;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, CONF_FILE_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = fail_file(path, err, err_len, -errno, NULL);
			goto out_free;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > CONF_FILE_MAX) {
			ret = fail_file(path, err, err_len, C2W_ECONFIG,
					"file too large (limit 1 MiB)");
			goto out_free;
		}
	}
	ret = conf_load_buffer(buf, len, path, out, err, err_len);
out_free:
	free(buf);
out_close:
	close(fd);
	return ret;
}
