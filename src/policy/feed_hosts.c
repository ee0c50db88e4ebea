/* SPDX-License-Identifier: MIT */
/*
 * Hosts files and plain domain lists, and the "key=value" metadata convention shared by all
 * feed formats. A hosts line "0.0.0.0 name" (or 127.0.0.1, ::, ::1) blocks the name
 * (NXDOMAIN unless the zone overrides); any other address becomes local data for it.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/msg.h"
#include "dns/name.h"
#include "policy/feed.h"

bool policy_feed_date(const char *t, size_t len, uint16_t *days)
{
	unsigned y = 0, m = 0, d = 0;

	if (len != 10 || t[4] != '-' || t[7] != '-')
		return false;
	for (size_t i = 0; i < 10; i++)
		if (i != 4 && i != 7 && !isdigit((unsigned char)t[i]))
			return false;
	y = (unsigned)((t[0] - '0') * 1000 + (t[1] - '0') * 100 + (t[2] - '0') * 10 + (t[3] - '0'));
	m = (unsigned)((t[5] - '0') * 10 + (t[6] - '0'));
	d = (unsigned)((t[8] - '0') * 10 + (t[9] - '0'));
	if (y < 1970 || y > 2150 || m < 1 || m > 12 || d < 1 || d > 31)
		return false;
	/* Days from civil (H. Hinnant's algorithm). */
	int yy = (int)y - (m <= 2);
	int era = yy / 400;
	unsigned yoe = (unsigned)(yy - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	long v = (long)era * 146097 + (long)doe - 719468;
	if (v <= 0 || v > 65535)
		return false;
	*days = (uint16_t)v;
	return true;
}

static void copy_val(char *out, size_t cap, const char *v, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len && n + 1 < cap; i++) {
		unsigned char c = (unsigned char)v[i];
		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '/' || c == ':')
			out[n++] = (char)c;
	}
	out[n] = 0;
}

bool policy_feed_meta_parse(const char *text, size_t len, struct feed_meta *out)
{
	bool any = false;
	size_t i = 0;

	while (i < len) {
		while (i < len && (isspace((unsigned char)text[i]) || text[i] == ','))
			i++;
		size_t ks = i;
		while (i < len && text[i] != '=' && !isspace((unsigned char)text[i]))
			i++;
		if (i >= len || text[i] != '=') {
			while (i < len && !isspace((unsigned char)text[i]))
				i++;
			continue;
		}
		size_t klen = i - ks;
		size_t vs = ++i;
		while (i < len && !isspace((unsigned char)text[i]) && text[i] != ',')
			i++;
		size_t vlen = i - vs;
		const char *k = text + ks, *v = text + vs;
		if (klen == 8 && strncasecmp(k, "category", 8) == 0 && vlen > 0) {
			copy_val(out->category, sizeof(out->category), v, vlen);
			any = true;
		} else if (klen == 6 && strncasecmp(k, "family", 6) == 0 && vlen > 0) {
			copy_val(out->family, sizeof(out->family), v, vlen);
			any = true;
		} else if (klen == 10 && strncasecmp(k, "first-seen", 10) == 0) {
			any |= policy_feed_date(v, vlen, &out->first_seen);
		} else if (klen == 7 && strncasecmp(k, "expires", 7) == 0) {
			any |= policy_feed_time(v, vlen, &out->expires);
		}
	}
	return any;
}

static bool host_char(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '_' || c == '.';
}

/* Name token → key (wire labels without root, lower case). @return NULL or why it is bad. */
static const char *name_key(const char *tok, size_t len, uint8_t *key, size_t *key_len)
{
	char buf[DNS_NAME_TEXT_MAX];
	uint8_t wire[DNS_NAME_WIRE_MAX];
	size_t wl;

	if (len == 0 || len >= 254)
		return "bad name";
	for (size_t i = 0; i < len; i++)
		if (!host_char((unsigned char)tok[i]))
			return "invalid character in name";
	memcpy(buf, tok, len);
	buf[len] = 0;
	if (buf[len - 1] != '.') {
		buf[len] = '.';
		buf[len + 1] = 0;
	}
	if (buf[0] == '.' || dns_name_from_text(buf, NULL, wire, &wl) != C2W_OK)
		return "bad name";
	if (wl <= 1)
		return "root name cannot be a trigger";
	dns_name_lower(wire);
	*key_len = wl - 1;
	memcpy(key, wire, *key_len);
	return NULL;
}

static bool is_blackhole(int af, const uint8_t *a)
{
	static const uint8_t zero[16], lo6[16] = {[15] = 1};
	if (af == AF_INET)
		return memcmp(a, zero, 4) == 0 || a[0] == 127;
	return memcmp(a, zero, 16) == 0 || memcmp(a, lo6, 16) == 0;
}

static bool is_local_alias(const char *t, size_t len)
{
	static const char *const names[] = {"localhost", "localhost.localdomain", "local",
					    "broadcasthost", "ip6-localhost", "ip6-loopback",
					    "ip6-localnet", "ip6-mcastprefix", "ip6-allnodes",
					    "ip6-allrouters", "ip6-allhosts", "0.0.0.0"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == len && strncasecmp(names[i], t, len) == 0)
			return true;
	return false;
}

struct line {
	const char *tok[64];
	size_t len[64];
	size_t count;
	const char *comment;
	size_t comment_len;
};

static void split(const char *s, size_t len, struct line *l)
{
	size_t i = 0;

	l->count = 0;
	l->comment = NULL;
	l->comment_len = 0;
	while (i < len) {
		while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
			i++;
		if (i >= len)
			break;
		if (s[i] == '#') {
			l->comment = s + i + 1;
			l->comment_len = len - i - 1;
			break;
		}
		size_t st = i;
		while (i < len && s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '#')
			i++;
		if (l->count < 64) {
			l->tok[l->count] = s + st;
			l->len[l->count] = i - st;
		}
		l->count++;
	}
}

struct hctx {
	struct policy_rules *r;
	unsigned zone;
	const char *file;
	uint32_t ttl;
};

static int add(struct hctx *h, unsigned line, const struct line *l, bool wild, const uint8_t *key,
	       size_t key_len, enum policy_action act, uint16_t type, const uint8_t *rdata,
	       uint16_t rdlen)
{
	struct feed_meta fm;
	struct rule_meta m = {0};
	struct rule_src src = {h->file, line};

	memset(&fm, 0, sizeof(fm));
	if (l->comment != NULL && policy_feed_meta_parse(l->comment, l->comment_len, &fm)) {
		m.category = fm.category[0] ? fm.category : NULL;
		m.family = fm.family[0] ? fm.family : NULL;
		m.first_seen = fm.first_seen;
		m.expires = fm.expires;
	}
	return policy_rules_add(h->r, h->zone, POLICY_TRIGGER_QNAME, wild, key, key_len, act, h->ttl,
				type, rdata, rdlen, &m, &src);
}

static int hosts_line(struct hctx *h, unsigned line, const struct line *l)
{
	char abuf[64];
	uint8_t addr[16], key[DNS_NAME_WIRE_MAX];
	size_t key_len;
	int af = AF_INET;

	if (l->count < 2) {
		policy_rules_reject(h->r, h->zone, h->file, line, "expected an address and a name");
		return C2W_OK;
	}
	if (l->count > 64) {
		policy_rules_reject(h->r, h->zone, h->file, line, "too many names on one line");
		return C2W_OK;
	}
	if (l->len[0] >= sizeof(abuf)) {
		policy_rules_reject(h->r, h->zone, h->file, line, "bad address");
		return C2W_OK;
	}
	memcpy(abuf, l->tok[0], l->len[0]);
	abuf[l->len[0]] = 0;
	if (inet_pton(AF_INET, abuf, addr) != 1) {
		af = AF_INET6;
		if (inet_pton(AF_INET6, abuf, addr) != 1) {
			policy_rules_reject(h->r, h->zone, h->file, line, "bad address");
			return C2W_OK;
		}
	}
	bool block = is_blackhole(af, addr);
	for (size_t i = 1; i < l->count; i++) {
		if (block && is_local_alias(l->tok[i], l->len[i]))
			continue;
		const char *why = name_key(l->tok[i], l->len[i], key, &key_len);
		if (why != NULL) {
			policy_rules_reject(h->r, h->zone, h->file, line, why);
			continue;
		}
		int ret = block ? add(h, line, l, false, key, key_len, POLICY_ACTION_NXDOMAIN, 0,
				      NULL, 0)
				: add(h, line, l, false, key, key_len, POLICY_ACTION_LOCAL_DATA,
				      af == AF_INET ? DNS_TYPE_A : DNS_TYPE_AAAA, addr,
				      af == AF_INET ? 4 : 16);
		if (ret == C2W_ENOMEM)
			return ret;
	}
	return C2W_OK;
}

static int domains_line(struct hctx *h, unsigned line, const struct line *l)
{
	uint8_t key[DNS_NAME_WIRE_MAX];
	size_t key_len;
	const char *t = l->tok[0];
	size_t len = l->len[0];
	bool only_below = false;

	if (l->count != 1) {
		policy_rules_reject(h->r, h->zone, h->file, line, "expected one name per line");
		return C2W_OK;
	}
	if (len > 2 && t[0] == '*' && t[1] == '.') {
		only_below = true;
		t += 2;
		len -= 2;
	}
	const char *why = name_key(t, len, key, &key_len);
	if (why != NULL) {
		policy_rules_reject(h->r, h->zone, h->file, line, why);
		return C2W_OK;
	}
	int ret = C2W_OK;
	if (!only_below)
		ret = add(h, line, l, false, key, key_len, POLICY_ACTION_NXDOMAIN, 0, NULL, 0);
	if (ret == C2W_OK)
		ret = add(h, line, l, true, key, key_len, POLICY_ACTION_NXDOMAIN, 0, NULL, 0);
	return ret == C2W_ENOMEM ? ret : C2W_OK;
}

int policy_feed_hosts_parse(struct policy_rules *r, unsigned zone, const char *buf, size_t len,
			    const char *name, bool domains)
{
	struct hctx h = {r, zone, name, policy_rules_zone_ttl(r, zone)};
	struct line l;
	unsigned lineno = 0;

	for (size_t i = 0; i < len;) {
		size_t st = i;
		while (i < len && buf[i] != '\n')
			i++;
		lineno++;
		split(buf + st, i - st, &l);
		i++;
		if (l.count == 0)
			continue;
		int ret = domains ? domains_line(&h, lineno, &l) : hosts_line(&h, lineno, &l);
		if (ret != C2W_OK)
			return ret;
	}
	return C2W_OK;
}

int policy_feed_hosts_load(struct policy_rules *r, unsigned zone, const char *path, bool domains)
{
	char *buf;
	size_t len;
	int ret = policy_feed_read(path, &buf, &len);

	if (ret != C2W_OK)
		return ret;
	ret = policy_feed_hosts_parse(r, zone, buf, len, path, domains);
	free(buf);
	return ret;
}
