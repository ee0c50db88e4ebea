/* SPDX-License-Identifier: MIT */
/*
 * RPZ master files (draft-vixie-dnsop-dns-rpz-00 section 4): what each record of a policy zone
 * means. Owner names encode the trigger (QNAME, rpz-ip, rpz-client-ip, rpz-nsdname, rpz-nsip
 * with prefix-length-first reversed labels, "zz" for IPv6 zero runs); records encode the action
 * (CNAME ., CNAME *., rpz-passthru., rpz-drop., rpz-tcp-only., other CNAMEs, local data).
 * The zone-file syntax itself is zonefile.c.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "dns/msg.h"
#include "dns/name.h"
#include "policy/feed.h"
#include "policy/zonefile.h"

struct rpz_ctx {
	struct policy_rules *r;
	unsigned zone;
	const uint8_t *origin;
	int err;
};

static bool label_is(const uint8_t *lab, const char *s)
{
	size_t n = strlen(s);
	return lab[0] == n && strncasecmp((const char *)lab + 1, s, n) == 0;
}

static bool label_num(const uint8_t *lab, unsigned base, unsigned max, unsigned *v)
{
	unsigned x = 0;

	if (lab[0] == 0 || lab[0] > (base == 10 ? 3 : 4))
		return false;
	for (unsigned i = 1; i <= lab[0]; i++) {
		int c = tolower(lab[i]), d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (base == 16 && c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else
			return false;
		x = x * base + (unsigned)d;
	}
	if (x > max)
		return false;
	*v = x;
	return true;
}

/* Zero everything past @bits; @return true when nothing was set there. */
static bool mask_ok(uint8_t *addr, unsigned bytes, unsigned bits)
{
	bool clean = true;
	for (unsigned i = 0; i < bytes; i++) {
		unsigned keep = bits >= (i + 1) * 8 ? 8 : bits > i * 8 ? bits - i * 8 : 0;
		uint8_t m = (uint8_t)(keep ? 0xff << (8 - keep) : 0);
		if (addr[i] & ~m)
			clean = false;
		addr[i] &= m;
	}
	return clean;
}

/* Append @v in base @base (10 or 16, lower case, no leading zeros) after a '.' unless at 0. */
static size_t put_num(char *out, size_t o, unsigned v, unsigned base)
{
	char d[8];
	size_t n = 0;

	if (o > 0)
		out[o++] = '.';
	do {
		d[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v != 0);
	while (n > 0)
		out[o++] = d[--n];
	return o;
}

/*
 * Is the trigger written in BIND's canonical form (which BIND requires: it ignores any other
 * spelling)? IPv4: decimal without leading zeros. IPv6: lower-case hex words without leading
 * zeros, "zz" for the longest run of two or more zero words, the first one in address order
 * when two are as long (the last one in label order).
 */
static bool canonical(const uint8_t *const *lab, unsigned n, unsigned bits, const uint8_t *addr,
		      bool v6)
{
	/* At most "128" + 8 * ".ffff": 43 bytes. Formatted by hand: this runs for every IP
	 * trigger, and snprintf() here was 5% of compiling the bench's mixed feed (6% IP). */
	char want[64], got[80];
	size_t wl = put_num(want, 0, bits, 10), gl = 0;

	if (!v6) {
		for (int i = 3; i >= 0; i--)
			wl = put_num(want, wl, addr[i], 10);
	} else {
		unsigned w[8], best = 8, best_len = 0, cur_len = 0;
		for (unsigned k = 0; k < 8; k++)
			w[k] = (unsigned)addr[(7 - k) * 2] << 8 | addr[(7 - k) * 2 + 1];
		for (unsigned k = 0; k < 8; k++) {
			cur_len = w[k] ? 0 : cur_len + 1;
			if (cur_len >= 2 && cur_len >= best_len) {
				best = k + 1 - cur_len;
				best_len = cur_len;
			}
		}
		for (unsigned k = 0; k < 8; k++) {
			if (k == best) {
				memcpy(want + wl, ".zz", 3);
				wl += 3;
				k += best_len - 1;
			} else {
				wl = put_num(want, wl, w[k], 16);
			}
		}
	}
	for (unsigned i = 0; i < n && gl + lab[i][0] + 2 < sizeof(got); i++) {
		if (i > 0)
			got[gl++] = '.';
		memcpy(got + gl, lab[i] + 1, lab[i][0]);
		gl += lab[i][0];
	}
	return gl == wl && strncasecmp(got, want, wl) == 0;
}

/*
 * Decode "prefix.b4.b3.b2.b1" or "prefix.wN...w1" (with one "zz") from @n labels into an IP key
 * [family][bits][masked bytes]. @return NULL or the reason it is bad.
 */
static const char *decode_ip(const uint8_t *const *lab, unsigned n, uint8_t *key, size_t *key_len)
{
	unsigned bits, v;
	uint8_t addr[16] = {0};
	bool zz = false;

	if (n < 2 || !label_num(lab[0], 10, 128, &bits) || bits == 0)
		return "bad prefix length in IP trigger";
	for (unsigned i = 1; i < n; i++)
		if (label_is(lab[i], "zz"))
			zz = true;
	if (n == 5 && !zz) {
		if (bits > 32)
			return "IPv4 prefix length over 32";
		for (unsigned i = 0; i < 4; i++) {
			if (!label_num(lab[4 - i], 10, 255, &v))
				return "bad IPv4 octet in trigger";
			addr[i] = (uint8_t)v;
		}
		if (!mask_ok(addr, 4, bits))
			return "address has bits set beyond the prefix length";
		if (!canonical(lab, n, bits, addr, false))
			return "IP trigger not in canonical form (BIND ignores it)";
		key[0] = 4;
		key[1] = (uint8_t)bits;
		memcpy(key + 2, addr, (bits + 7) / 8);
		*key_len = 2 + (bits + 7) / 8;
		return NULL;
	}
	/* IPv6: words from the last label (most significant) to the first after the prefix. */
	unsigned words = n - 1;
	if ((!zz && words != 8) || (zz && words > 8))
		return "bad IPv6 trigger (needs 8 words or one zz)";
	unsigned w = 0;
	bool used_zz = false;
	for (unsigned i = n - 1; i >= 1; i--) {
		if (label_is(lab[i], "zz")) {
			if (used_zz)
				return "more than one zz in IPv6 trigger";
			used_zz = true;
			w += 8 - (words - 1);
			continue;
		}
		if (!label_num(lab[i], 16, 0xffff, &v) || w >= 8)
			return "bad IPv6 word in trigger";
		addr[w * 2] = (uint8_t)(v >> 8);
		addr[w * 2 + 1] = (uint8_t)v;
		w++;
	}
	if (w != 8)
		return "bad IPv6 trigger length";
	if (!mask_ok(addr, 16, bits))
		return "address has bits set beyond the prefix length";
	if (!canonical(lab, n, bits, addr, true))
		return "IP trigger not in canonical form (BIND ignores it)";
	key[0] = 6;
	key[1] = (uint8_t)bits;
	memcpy(key + 2, addr, (bits + 7) / 8);
	*key_len = 2 + (bits + 7) / 8;
	return NULL;
}

/* Classify a CNAME target. @rdata/@rdlen out: data to keep for CNAME / CNAME_WILD. */
static enum policy_action cname_action(const uint8_t *target, const uint8_t *trigger_abs,
				       const uint8_t **rdata, uint16_t *rdlen)
{
	static const uint8_t wild_root[] = {1, '*', 0};

	if (target[0] == 0)
		return POLICY_ACTION_NXDOMAIN;
	if (memcmp(target, wild_root, 3) == 0)
		return POLICY_ACTION_NODATA;
	if (target[target[0] + 1] == 0) {
		if (label_is(target, "rpz-passthru"))
			return POLICY_ACTION_PASSTHRU;
		if (label_is(target, "rpz-drop"))
			return POLICY_ACTION_DROP;
		if (label_is(target, "rpz-tcp-only"))
			return POLICY_ACTION_TCP_ONLY;
	}
	if (trigger_abs != NULL && dns_name_equal(target, trigger_abs))
		return POLICY_ACTION_PASSTHRU; /* the draft's older PASSTHRU form */
	int len = dns_name_wire_len(target, DNS_NAME_WIRE_MAX);
	if (label_is(target, "*")) {
		*rdata = target + 2;
		*rdlen = (uint16_t)(len - 2);
		return POLICY_ACTION_CNAME_WILD;
	}
	*rdata = target;
	*rdlen = (uint16_t)len;
	return POLICY_ACTION_CNAME;
}

static void meta_from(const struct zf_record *rr, struct feed_meta *fm, struct rule_meta *m)
{
	memset(fm, 0, sizeof(*fm));
	memset(m, 0, sizeof(*m));
	if (rr->comment == NULL || !policy_feed_meta_parse(rr->comment, rr->comment_len, fm))
		return;
	m->category = fm->category[0] ? fm->category : NULL;
	m->family = fm->family[0] ? fm->family : NULL;
	m->first_seen = fm->first_seen;
	m->expires = fm->expires;
}

static int on_record(void *vctx, const struct zf_record *rr)
{
	struct rpz_ctx *c = vctx;
	const uint8_t *lab[128];
	unsigned n = 0;
	int rel = dns_name_subdomain(rr->owner, c->origin);

	if (rel < 0) {
		policy_rules_reject(c->r, c->zone, rr->file, rr->line, "owner outside the policy zone");
		return 0;
	}
	if (rel == 0) {
		if (rr->type == DNS_TYPE_SOA)
			return policy_rules_zone_soa(c->r, c->zone, rr->rdata, rr->rdlen, rr->ttl);
		return 0; /* NS and other apex records do not make rules */
	}
	for (size_t p = 0; n < (unsigned)rel; p += (size_t)rr->owner[p] + 1)
		lab[n++] = rr->owner + p;
	enum policy_trigger trig = POLICY_TRIGGER_QNAME;
	unsigned name_labels = n; /* labels of the trigger name (QNAME/NSDNAME) */
	const uint8_t *last = lab[n - 1];
	if (label_is(last, "rpz-ip"))
		trig = POLICY_TRIGGER_RESPONSE_IP;
	else if (label_is(last, "rpz-client-ip"))
		trig = POLICY_TRIGGER_CLIENT_IP;
	else if (label_is(last, "rpz-nsip"))
		trig = POLICY_TRIGGER_NSIP;
	else if (label_is(last, "rpz-nsdname"))
		trig = POLICY_TRIGGER_NSDNAME;
	/* Any other label, "rpz-foo" included, is part of a QNAME trigger, as in BIND. */
	if (trig != POLICY_TRIGGER_QNAME)
		name_labels = n - 1;
	if (name_labels == 0) {
		policy_rules_reject(c->r, c->zone, rr->file, rr->line, "empty trigger");
		return 0;
	}

	uint8_t key[DNS_NAME_WIRE_MAX], trigger_abs[DNS_NAME_WIRE_MAX];
	size_t key_len = 0;
	bool wild = false;
	const char *why = NULL;
	const uint8_t *tabs = NULL;
	if (trig == POLICY_TRIGGER_QNAME || trig == POLICY_TRIGGER_NSDNAME) {
		unsigned first = 0;
		if (label_is(lab[0], "*")) {
			wild = true;
			first = 1;
		}
		/* The trigger name ends where the origin (QNAME) or the rpz-nsdname label starts. */
		size_t to = trig == POLICY_TRIGGER_QNAME
				    ? (size_t)(lab[n - 1] - rr->owner) + lab[n - 1][0] + 1
				    : (size_t)(lab[n - 1] - rr->owner);
		size_t from = first < name_labels ? (size_t)(lab[first] - rr->owner) : to;
		key_len = to - from;
		memcpy(key, rr->owner + from, key_len);
		if (!wild) {
			memcpy(trigger_abs, key, key_len);
			trigger_abs[key_len] = 0;
			tabs = trigger_abs;
		}
	} else {
		why = decode_ip(lab, n - 1, key, &key_len);
	}
	if (why != NULL) {
		policy_rules_reject(c->r, c->zone, rr->file, rr->line, why);
		return 0;
	}

	enum policy_action act = POLICY_ACTION_LOCAL_DATA;
	const uint8_t *rdata = rr->rdata;
	uint16_t rdlen = rr->rdlen;
	switch (rr->type) {
	case DNS_TYPE_CNAME:
		act = cname_action(rr->rdata, tabs, &rdata, &rdlen);
		break;
	case DNS_TYPE_NS:
	case DNS_TYPE_SOA:
	case 39: /* DNAME */
	case DNS_TYPE_RRSIG:
	case DNS_TYPE_NSEC:
	case DNS_TYPE_NSEC3:
	case DNS_TYPE_DS:
		policy_rules_reject(c->r, c->zone, rr->file, rr->line,
				    "record type not allowed as policy data");
		return 0;
	default:
		break;
	}
	struct feed_meta fm;
	struct rule_meta m;
	struct rule_src src = {rr->file, rr->line};
	meta_from(rr, &fm, &m);
	int ret = policy_rules_add(c->r, c->zone, trig, wild, key, key_len, act, rr->ttl,
				   act == POLICY_ACTION_LOCAL_DATA ? rr->type : 0, rdata, rdlen, &m,
				   &src);
	if (ret != C2W_OK)
		c->err = ret;
	return ret == C2W_ENOMEM ? ret : 0;
}

static void on_error(void *vctx, const char *file, unsigned line, const char *reason)
{
	struct rpz_ctx *c = vctx;
	policy_rules_reject(c->r, c->zone, file, line, reason);
}

static void init(struct rpz_ctx *c, struct zf_opts *o, struct policy_rules *r, unsigned zone,
		 bool allow_include)
{
	memset(c, 0, sizeof(*c));
	c->r = r;
	c->zone = zone;
	c->origin = policy_rules_zone_origin(r, zone);
	memset(o, 0, sizeof(*o));
	o->origin = c->origin;
	o->default_ttl = 300;
	o->allow_include = allow_include;
	o->on_record = on_record;
	o->on_error = on_error;
	o->ctx = c;
}

int policy_feed_rpz_load(struct policy_rules *r, unsigned zone, const char *path,
			 bool allow_include)
{
	struct rpz_ctx c;
	struct zf_opts o;

	init(&c, &o, r, zone, allow_include);
	return policy_zonefile_parse_file(path, &o);
}

int policy_feed_rpz_parse(struct policy_rules *r, unsigned zone, const char *buf, size_t len,
			  const char *name, bool allow_include)
{
	struct rpz_ctx c;
	struct zf_opts o;

	init(&c, &o, r, zone, allow_include);
	return policy_zonefile_parse_buf(buf, len, name, &o);
}
