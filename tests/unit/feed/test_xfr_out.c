/* SPDX-License-Identifier: MIT */
/*
 * The serving side (feed/xfr_out.h): versions and serials, the journal (trimmed, on disk and
 * back, damaged files), and the response streams read back by c2wall's own client
 * (feed/xfr.h): AXFR, IXFR from the journal, IXFR AXFR-style, up to date, TSIG right and
 * wrong, messages split at a small size.
 */
#include <libknot/libknot.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "feed/xfr.h"
#include "feed/xfr_out.h"
#include "feed/zone.h"
#include "test.h"

#define ORIGIN "c2.out.example."

static const uint8_t origin[] = "\002c2\003out\007example";

static void add_a(struct feed_rrs *s, const char *label, uint8_t last)
{
	uint8_t owner[64];
	size_t l = strlen(label);
	owner[0] = (uint8_t)l;
	memcpy(owner + 1, label, l);
	memcpy(owner + 1 + l, origin, sizeof(origin));
	uint8_t a[4] = {10, 0, 0, last};
	CHECK_EQ(feed_rrs_add(s, owner, 1 + l + sizeof(origin), KNOT_RRTYPE_A, 300, a, 4), C2W_OK);
}

static struct feed_out_soa soa_tpl(uint32_t feed_serial)
{
	struct feed_out_soa t = {.ttl = 300,
				 .refresh = 60,
				 .retry = 10,
				 .expire = 600,
				 .minimum = 300,
				 .feed_serial = feed_serial};
	memcpy(t.origin, origin, sizeof(origin));
	t.origin_len = sizeof(origin);
	memcpy(t.mname, "\002ns\000", 4);
	t.mname_len = 4;
	memcpy(t.rname, "\004host\000", 6);
	t.rname_len = 6;
	return t;
}

/* Version with records a0..a(n-1), offset by @shift (a(shift)..). */
static struct feed_out_ver *version(struct feed_out_ver *prev, unsigned first, unsigned n,
				    uint32_t feed_serial, const struct feed_out_limits *lim,
				    bool *changed)
{
	struct feed_rrs rrs = {0};
	for (unsigned i = first; i < first + n; i++) {
		char label[16];
		snprintf(label, sizeof(label), "a%u", i);
		add_a(&rrs, label, (uint8_t)i);
	}
	struct feed_out_soa t = soa_tpl(feed_serial);
	struct feed_out_ver *v = NULL;
	CHECK_EQ(feed_out_ver_next(prev, 0, &rrs, &t, lim, &v, changed), C2W_OK);
	feed_rrs_free(&rrs);
	return v;
}

static const struct feed_out_limits lim = {.versions = 3, .bytes = 1 << 20};

static void test_versions(void)
{
	bool changed;
	struct feed_out_ver *v1 = version(NULL, 0, 3, 7, &lim, &changed);
	CHECK(changed);
	CHECK_EQ(feed_out_ver_serial(v1), 7); /* the feed's own serial */
	CHECK_EQ(feed_out_ver_count(v1), 3);
	struct feed_out_ver *same = version(v1, 0, 3, 7, &lim, &changed);
	CHECK(!changed);
	CHECK(same == v1);
	feed_out_ver_unref(same);
	/* Changed without a new feed serial: one more. */
	struct feed_out_ver *v2 = version(v1, 1, 3, 7, &lim, &changed);
	CHECK(changed);
	CHECK_EQ(feed_out_ver_serial(v2), 8);
	uint64_t bytes;
	CHECK_EQ(feed_out_ver_journal(v2, &bytes), 1);
	CHECK(bytes > 0);
	/* A feed serial ahead wins. */
	struct feed_out_ver *v3 = version(v2, 2, 3, 100, &lim, &changed);
	CHECK_EQ(feed_out_ver_serial(v3), 100);
	/* Trimmed to lim.versions. */
	struct feed_out_ver *v4 = version(v3, 3, 3, 0, &lim, &changed);
	struct feed_out_ver *v5 = version(v4, 4, 3, 0, &lim, &changed);
	CHECK_EQ(feed_out_ver_serial(v5), 102);
	CHECK_EQ(feed_out_ver_journal(v5, &bytes), 3);
	/* No room: no journal. */
	struct feed_out_limits tiny = {.versions = 3, .bytes = 10};
	struct feed_out_ver *v6 = version(v5, 5, 3, 0, &tiny, &changed);
	CHECK_EQ(feed_out_ver_journal(v6, &bytes), 0);
	/* Without any previous version or feed serial: the time. */
	struct feed_out_ver *t = version(NULL, 0, 1, 0, &lim, &changed);
	CHECK(feed_out_ver_serial(t) > 1700000000u);
	feed_out_ver_unref(t);
	feed_out_ver_unref(v1);
	feed_out_ver_unref(v2);
	feed_out_ver_unref(v3);
	feed_out_ver_unref(v4);
	feed_out_ver_unref(v5);
	feed_out_ver_unref(v6);
}

/* Ask @v with c2wall's client; returns feed_xfr_finish()'s kind, *records the zone's. */
static int client(struct feed_out_ver *v, enum feed_xfr_type type, const struct feed_zone *current,
		  const knot_tsig_key_t *ckey, const knot_tsig_key_t *skey, size_t max_msg,
		  size_t *records, uint32_t *serial, unsigned *messages)
{
	struct feed_xfr *x;
	uint8_t q[1024], buf[65536];
	size_t qlen, len;
	CHECK_EQ(feed_xfr_new(ORIGIN, type, current, ckey, &x), C2W_OK);
	CHECK_EQ(feed_xfr_query(x, 0x4242, q, sizeof(q), &qlen), C2W_OK);
	struct feed_out_req req;
	CHECK_EQ(feed_out_request_parse(q, qlen, skey, &req), C2W_OK);
	if (req.tsig_error != 0) {
		feed_xfr_free(x);
		return -(int)req.tsig_error;
	}
	struct feed_out_stream *st;
	CHECK_EQ(feed_out_stream_new(v, &req, skey, max_msg, &st), C2W_OK);
	int r = 0, kind = -1;
	*messages = 0;
	while (feed_out_stream_next(st, buf, sizeof(buf), &len) == 1) {
		(*messages)++;
		CHECK(len <= max_msg);
		r = feed_xfr_input(x, buf, len);
		if (r != 0)
			break;
	}
	if (r != 1)
		fprintf(stderr, "client: %d %s\n", r, feed_xfr_error(x));
	CHECK_EQ(r, 1);
	struct feed_zone *z = NULL;
	enum feed_xfr_kind k;
	if (r == 1 && feed_xfr_finish(x, current, &z, &k) == C2W_OK) {
		kind = (int)k;
		const struct feed_zone *res = z ? z : current;
		struct feed_soa soa;
		*records = feed_zone_count(res);
		CHECK(feed_zone_soa(res, &soa));
		*serial = soa.serial;
	}
	feed_zone_free(z);
	feed_out_stream_free(st);
	feed_xfr_free(x);
	return kind;
}

static struct feed_zone *held(uint32_t serial, unsigned first, unsigned n)
{
	struct feed_zone *z = NULL;
	char line[256];
	struct feed_soa soa = {.serial = serial, .refresh = 60, .retry = 10, .expire = 600};
	CHECK_EQ(feed_zone_new(ORIGIN, &z), C2W_OK);
	snprintf(line, sizeof(line), ORIGIN " 300 IN SOA ns. host. %u 60 10 600 300", serial);
	CHECK_EQ(feed_zone_set_soa(z, line, &soa), C2W_OK);
	for (unsigned i = first; i < first + n; i++) {
		snprintf(line, sizeof(line), "a%u." ORIGIN " 300 IN A 10.0.0.%u", i, i);
		CHECK_EQ(feed_zone_add(z, line), C2W_OK);
	}
	return z;
}

static void test_streams(void)
{
	bool changed;
	struct feed_out_ver *v1 = version(NULL, 0, 40, 1, &lim, &changed);
	struct feed_out_ver *v2 = version(v1, 5, 40, 2, &lim, &changed);
	size_t records;
	uint32_t serial;
	unsigned msgs;
	/* AXFR in small messages. */
	CHECK_EQ(client(v2, FEED_XFR_AXFR, NULL, NULL, NULL, 512, &records, &serial, &msgs),
		 FEED_XFR_FULL);
	CHECK_EQ(records, 40);
	CHECK_EQ(serial, 2);
	CHECK(msgs > 3);
	/* IXFR from serial 1: the difference, applied to the client's copy. */
	struct feed_zone *cur = held(1, 0, 40);
	CHECK_EQ(client(v2, FEED_XFR_IXFR, cur, NULL, NULL, 16384, &records, &serial, &msgs),
		 FEED_XFR_INCREMENT);
	CHECK_EQ(records, 40);
	CHECK_EQ(serial, 2);
	feed_zone_free(cur);
	/* Up to date. */
	cur = held(2, 5, 40);
	CHECK_EQ(client(v2, FEED_XFR_IXFR, cur, NULL, NULL, 16384, &records, &serial, &msgs),
		 FEED_XFR_UPTODATE);
	CHECK_EQ(msgs, 1);
	feed_zone_free(cur);
	/* A serial the journal does not have: the whole zone. */
	cur = held(0, 0, 3);
	CHECK_EQ(client(v2, FEED_XFR_IXFR, cur, NULL, NULL, 16384, &records, &serial, &msgs),
		 FEED_XFR_FULL);
	CHECK_EQ(records, 40);
	feed_zone_free(cur);
	feed_out_ver_unref(v1);
	feed_out_ver_unref(v2);
}

static void test_tsig(void)
{
	bool changed;
	knot_tsig_key_t key, other, wrong;
	CHECK_EQ(knot_tsig_key_init(&key, "hmac-sha256", "xfr-key", "c2VjcmV0c2VjcmV0"), 0);
	CHECK_EQ(knot_tsig_key_init(&other, "hmac-sha256", "other-key", "c2VjcmV0c2VjcmV0"), 0);
	CHECK_EQ(knot_tsig_key_init(&wrong, "hmac-sha256", "xfr-key", "d3Jvbmd3cm9uZw=="), 0);
	struct feed_out_ver *v = version(NULL, 0, 200, 3, &lim, &changed);
	size_t records;
	uint32_t serial;
	unsigned msgs;
	/* Every message signed; the client checks each MAC chained to the last. */
	CHECK_EQ(client(v, FEED_XFR_AXFR, NULL, &key, &key, 1024, &records, &serial, &msgs),
		 FEED_XFR_FULL);
	CHECK_EQ(records, 200);
	CHECK(msgs > 5);
	CHECK_EQ(client(v, FEED_XFR_AXFR, NULL, &wrong, &key, 1024, &records, &serial, &msgs),
		 -KNOT_RCODE_BADSIG);
	CHECK_EQ(client(v, FEED_XFR_AXFR, NULL, &other, &key, 1024, &records, &serial, &msgs),
		 -KNOT_RCODE_BADKEY);
	CHECK_EQ(client(v, FEED_XFR_AXFR, NULL, &key, NULL, 1024, &records, &serial, &msgs),
		 -KNOT_RCODE_BADKEY);
	/* The error answer carries the TSIG error, unsigned (RFC 8945 5.3.2). */
	struct feed_xfr *x;
	uint8_t q[1024], ans[1024];
	size_t qlen;
	CHECK_EQ(feed_xfr_new(ORIGIN, FEED_XFR_AXFR, NULL, &wrong, &x), C2W_OK);
	CHECK_EQ(feed_xfr_query(x, 7, q, sizeof(q), &qlen), C2W_OK);
	struct feed_out_req req;
	CHECK_EQ(feed_out_request_parse(q, qlen, &key, &req), C2W_OK);
	size_t alen = feed_out_error(&req, KNOT_RCODE_NOTAUTH, &key, ans, sizeof(ans));
	knot_pkt_t *pkt = knot_pkt_new(ans, (uint16_t)alen, NULL);
	CHECK(pkt != NULL && knot_pkt_parse(pkt, 0) == KNOT_EOK);
	CHECK(pkt != NULL && pkt->tsig_rr != NULL &&
	      knot_tsig_rdata_error(pkt->tsig_rr) == KNOT_RCODE_BADSIG);
	knot_pkt_free(pkt);
	feed_xfr_free(x);
	/* A good MAC with a clock off by more than the fudge: BADTIME, signed with the key
	 * (RFC 8945 5.2.3), the request's Time Signed, our time in Other Data. */
	uint8_t tq[1024];
	size_t tqlen = 0, dl = 64;
	uint8_t dg[64];
	memcpy(tq, q, 12);
	knot_wire_set_arcount(tq, 0);
	CHECK_EQ(feed_xfr_new(ORIGIN, FEED_XFR_AXFR, NULL, NULL, &x), C2W_OK);
	CHECK_EQ(feed_xfr_query(x, 8, tq, sizeof(tq), &tqlen), C2W_OK);
	feed_xfr_free(x);
	uint64_t then = (uint64_t)time(NULL) - 3600;
	/* libknot signs with the current time except for a BADTIME answer, which keeps the time
	 * given: the way to make a request an hour old here (its error field is not checked). */
	CHECK_EQ(knot_tsig_sign(tq, &tqlen, sizeof(tq), NULL, 0, dg, &dl, &key, KNOT_RCODE_BADTIME,
				then),
		 KNOT_EOK);
	CHECK_EQ(feed_out_request_parse(tq, tqlen, &key, &req), C2W_OK);
	CHECK_EQ(req.tsig_error, KNOT_RCODE_BADTIME);
	alen = feed_out_error(&req, KNOT_RCODE_NOTAUTH, &key, ans, sizeof(ans));
	pkt = knot_pkt_new(ans, (uint16_t)alen, NULL);
	CHECK(pkt != NULL && knot_pkt_parse(pkt, 0) == KNOT_EOK);
	if (pkt != NULL && pkt->tsig_rr != NULL) {
		CHECK_EQ(knot_tsig_rdata_error(pkt->tsig_rr), KNOT_RCODE_BADTIME);
		CHECK_EQ(knot_tsig_rdata_mac_length(pkt->tsig_rr), 32); /* hmac-sha256, signed */
		CHECK_EQ(knot_tsig_rdata_time_signed(pkt->tsig_rr), then);
		CHECK_EQ(knot_tsig_rdata_other_data_length(pkt->tsig_rr), 6);
		/* what a client does: the answer's MAC, chained to its request's, holds */
		CHECK_EQ(
		    knot_tsig_client_check(pkt->tsig_rr, pkt->wire, pkt->size, dg, dl, &key, 0),
		    KNOT_TSIG_EBADTIME);
	} else {
		CHECK(false);
	}
	knot_pkt_free(pkt);
	/* NOTIFY, signed. */
	size_t nlen = feed_out_notify(v, 9, &key, ans, sizeof(ans));
	CHECK(nlen > 12);
	CHECK_EQ(knot_wire_get_opcode(ans), KNOT_OPCODE_NOTIFY);
	feed_out_ver_unref(v);
	knot_tsig_key_deinit(&key);
	knot_tsig_key_deinit(&other);
	knot_tsig_key_deinit(&wrong);
}

static void test_journal_file(void)
{
	char dir[] = "/tmp/c2w-jrnl-XXXXXX", path[128];
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/z.journal", dir);
	bool changed;
	struct feed_out_ver *v1 = version(NULL, 0, 10, 1, &lim, &changed);
	struct feed_out_ver *v2 = version(v1, 2, 10, 0, &lim, &changed);
	CHECK_EQ(feed_out_journal_write(v2, path), C2W_OK);
	uint32_t js;
	/* After a restart: the same records take the journal up, serial included. */
	CHECK_EQ(feed_out_journal_read(NULL, path, &js), C2W_EVERSION);
	CHECK_EQ(js, 2);
	struct feed_rrs rrs = {0};
	for (unsigned i = 2; i < 12; i++) {
		char label[16];
		snprintf(label, sizeof(label), "a%u", i);
		add_a(&rrs, label, (uint8_t)i);
	}
	struct feed_out_soa t = soa_tpl(0);
	struct feed_out_ver *r = NULL;
	CHECK_EQ(feed_out_ver_next(NULL, js, &rrs, &t, &lim, &r, &changed), C2W_OK);
	CHECK_EQ(feed_out_ver_serial(r), 3);
	CHECK_EQ(feed_out_journal_read(r, path, &js), C2W_OK);
	CHECK_EQ(feed_out_ver_serial(r), 2);
	uint64_t bytes;
	CHECK_EQ(feed_out_ver_journal(r, &bytes), 1);
	size_t records;
	uint32_t serial;
	unsigned msgs;
	struct feed_zone *cur = held(1, 0, 10);
	CHECK_EQ(client(r, FEED_XFR_IXFR, cur, NULL, NULL, 16384, &records, &serial, &msgs),
		 FEED_XFR_INCREMENT);
	CHECK_EQ(serial, 2);
	feed_zone_free(cur);
	/* Other records: serial only. */
	struct feed_out_ver *o = version(NULL, 50, 2, 0, &lim, &changed);
	CHECK_EQ(feed_out_journal_read(o, path, &js), C2W_EVERSION);
	/* Damaged files: every cut, and flipped bytes, are refused or harmless. */
	FILE *f = fopen(path, "rb");
	static uint8_t buf[1 << 16];
	size_t n = f ? fread(buf, 1, sizeof(buf), f) : 0;
	if (f)
		fclose(f);
	CHECK(n > 40);
	for (size_t cut = 0; cut < n; cut++)
		CHECK(feed_out_journal_parse(NULL, buf, cut, &js) == C2W_EMALF);
	for (size_t i = 8; i < n; i += 3) {
		buf[i] ^= 0x5a;
		int ret = feed_out_journal_parse(NULL, buf, n, &js);
		CHECK(ret == C2W_EMALF || ret == C2W_EVERSION);
		buf[i] ^= 0x5a;
	}
	unlink(path);
	rmdir(dir);
	feed_out_ver_unref(o);
	feed_out_ver_unref(r);
	feed_out_ver_unref(v1);
	feed_out_ver_unref(v2);
}

/* Every message of @v's answer to an AXFR or IXFR (from @current) query, one after another. */
static size_t stream_bytes(struct feed_out_ver *v, enum feed_xfr_type type,
			   const struct feed_zone *current, uint8_t *out, size_t cap)
{
	struct feed_xfr *x;
	uint8_t q[1024];
	size_t qlen, len, total = 0;
	CHECK_EQ(feed_xfr_new(ORIGIN, type, current, NULL, &x), C2W_OK);
	CHECK_EQ(feed_xfr_query(x, 0x4242, q, sizeof(q), &qlen), C2W_OK);
	struct feed_out_req req;
	CHECK_EQ(feed_out_request_parse(q, qlen, NULL, &req), C2W_OK);
	struct feed_out_stream *st;
	CHECK_EQ(feed_out_stream_new(v, &req, NULL, 16384, &st), C2W_OK);
	while (total + 16384 <= cap && feed_out_stream_next(st, out + total, 16384, &len) == 1)
		total += len;
	feed_out_stream_free(st);
	feed_xfr_free(x);
	return total;
}

static void add_a_ttl(struct feed_rrs *s, unsigned i, uint8_t last, uint32_t ttl)
{
	uint8_t owner[64];
	char label[16];
	size_t l = (size_t)snprintf(label, sizeof(label), "a%u", i);
	owner[0] = (uint8_t)l;
	memcpy(owner + 1, label, l);
	memcpy(owner + 1 + l, origin, sizeof(origin));
	uint8_t a[4] = {10, 0, 0, last};
	CHECK_EQ(feed_rrs_add(s, owner, 1 + l + sizeof(origin), KNOT_RRTYPE_A, ttl, a, 4), C2W_OK);
}

static void add_owner(struct feed_rrs *s, unsigned i)
{
	uint8_t owner[64];
	char label[16];
	size_t l = (size_t)snprintf(label, sizeof(label), "a%u", i);
	owner[0] = (uint8_t)l;
	memcpy(owner + 1, label, l);
	memcpy(owner + 1 + l, origin, sizeof(origin));
	CHECK_EQ(feed_rrs_add(s, owner, 1 + l + sizeof(origin), 0, 0, origin, 0), C2W_OK);
}

/* A version made from the change alone (feed_out_ver_apply) is the version made from the
 * whole new record set: same AXFR and IXFR bytes, and its journal is taken up by a version
 * built in full after a restart (same digest). */
static void test_apply(void)
{
	bool changed;
	struct feed_out_ver *v1 = version(NULL, 0, 40, 1, &lim, &changed);
	/* a3 deleted, a7 changed, a10 new TTL, a50 added, a20 touched but unchanged */
	struct feed_rrs owners = {0}, add = {0}, full = {0};
	unsigned touched[] = {3, 7, 10, 50, 20};
	for (unsigned i = 0; i < 5; i++)
		add_owner(&owners, touched[i]);
	add_a_ttl(&add, 7, 77, 300);
	add_a_ttl(&add, 10, 10, 900);
	add_a_ttl(&add, 50, 50, 300);
	add_a_ttl(&add, 20, 20, 300);
	for (unsigned i = 0; i < 40; i++)
		if (i != 3)
			add_a_ttl(&full, i, i == 7 ? 77 : (uint8_t)i, i == 10 ? 900 : 300);
	add_a_ttl(&full, 50, 50, 300);
	struct feed_out_soa t = soa_tpl(0);
	struct feed_out_ver *va = NULL, *vf = NULL;
	CHECK_EQ(feed_out_ver_apply(v1, &owners, &add, &t, &lim, &va, &changed), C2W_OK);
	CHECK(changed);
	CHECK_EQ(owners.count, 0); /* taken */
	CHECK_EQ(feed_out_ver_next(v1, 0, &full, &t, &lim, &vf, &changed), C2W_OK);
	feed_rrs_free(&full);
	if (va == NULL || vf == NULL)
		return;
	CHECK_EQ(feed_out_ver_serial(va), 2);
	CHECK_EQ(feed_out_ver_count(va), 40);
	uint64_t ba, bf;
	CHECK_EQ(feed_out_ver_journal(va, &ba), 1);
	CHECK_EQ(feed_out_ver_journal(vf, &bf), 1);
	CHECK_EQ(ba, bf);
	static uint8_t sa[1 << 16], sf[1 << 16];
	size_t la = stream_bytes(va, FEED_XFR_AXFR, NULL, sa, sizeof(sa));
	size_t lf = stream_bytes(vf, FEED_XFR_AXFR, NULL, sf, sizeof(sf));
	CHECK(la > 0 && la == lf && memcmp(sa, sf, la) == 0);
	struct feed_zone *cur = held(1, 0, 40);
	la = stream_bytes(va, FEED_XFR_IXFR, cur, sa, sizeof(sa));
	lf = stream_bytes(vf, FEED_XFR_IXFR, cur, sf, sizeof(sf));
	CHECK(la > 0 && la == lf && memcmp(sa, sf, la) == 0);
	size_t records;
	uint32_t serial;
	unsigned msgs;
	CHECK_EQ(client(va, FEED_XFR_IXFR, cur, NULL, NULL, 16384, &records, &serial, &msgs),
		 FEED_XFR_INCREMENT);
	CHECK_EQ(records, 40);
	feed_zone_free(cur);
	/* A second version from v1 (whose record store va appended to): v1's bytes copied to a
	 * new store, va unharmed. */
	struct feed_out_ver *vb = NULL;
	add_owner(&owners, 60);
	add_a_ttl(&add, 60, 60, 300);
	CHECK_EQ(feed_out_ver_apply(v1, &owners, &add, &t, &lim, &vb, &changed), C2W_OK);
	CHECK(changed);
	CHECK_EQ(feed_out_ver_count(vb), 41);
	CHECK_EQ(client(vb, FEED_XFR_AXFR, NULL, NULL, NULL, 16384, &records, &serial, &msgs),
		 FEED_XFR_FULL);
	CHECK_EQ(records, 41);
	CHECK_EQ(client(va, FEED_XFR_AXFR, NULL, NULL, NULL, 16384, &records, &serial, &msgs),
		 FEED_XFR_FULL);
	CHECK_EQ(records, 40);
	feed_out_ver_unref(vb);
	/* Nothing changed: the same version back. */
	struct feed_out_ver *vs = NULL;
	add_owner(&owners, 50);
	add_a_ttl(&add, 50, 50, 300);
	CHECK_EQ(feed_out_ver_apply(va, &owners, &add, &t, &lim, &vs, &changed), C2W_OK);
	CHECK(!changed);
	CHECK(vs == va);
	feed_out_ver_unref(vs);
	/* The SOA's timers alone changed (a flatten gives the policy the copy's SOA): a new
	 * version with the same records, no record added or deleted. */
	struct feed_out_soa t2 = t;
	t2.refresh += 100;
	struct feed_out_ver *vt = NULL;
	CHECK_EQ(feed_out_ver_apply(va, &owners, &add, &t2, &lim, &vt, &changed), C2W_OK);
	CHECK(changed);
	CHECK(vt != NULL && vt != va);
	if (vt != NULL) {
		CHECK_EQ(feed_out_ver_serial(vt), 3);
		CHECK_EQ(feed_out_ver_count(vt), 40);
		CHECK_EQ(client(vt, FEED_XFR_AXFR, NULL, NULL, NULL, 16384, &records, &serial,
				&msgs),
			 FEED_XFR_FULL);
		CHECK_EQ(records, 40);
		feed_out_ver_unref(vt);
	}
	/* Many versions from changes, each appending to the shared record store until it is
	 * full and the live records move (compaction): still the version a full build makes,
	 * and the older versions still read their own records. */
	struct feed_out_ver *vc = feed_out_ver_ref(va), *keep = NULL;
	struct feed_rrs all = {0};
	for (unsigned r = 0; r < 300; r++) {
		struct feed_out_ver *nv = NULL;
		add_owner(&owners, 100 + r);
		add_a_ttl(&add, 100 + r, (uint8_t)r, 300);
		if (r >= 1) /* and the one before goes */
			add_owner(&owners, 100 + r - 1);
		CHECK_EQ(feed_out_ver_apply(vc, &owners, &add, &t, &lim, &nv, &changed), C2W_OK);
		CHECK(changed);
		if (r == 10)
			keep = feed_out_ver_ref(vc);
		feed_out_ver_unref(vc);
		vc = nv;
	}
	CHECK_EQ(feed_out_ver_count(vc), 41);
	CHECK_EQ(feed_out_ver_serial(vc), 2 + 300);
	CHECK_EQ(client(vc, FEED_XFR_AXFR, NULL, NULL, NULL, 16384, &records, &serial, &msgs),
		 FEED_XFR_FULL);
	CHECK_EQ(records, 41);
	/* an older version still reads its own records (a109 there, a110 not yet) */
	CHECK(keep != NULL);
	if (keep != NULL) {
		CHECK_EQ(
		    client(keep, FEED_XFR_AXFR, NULL, NULL, NULL, 16384, &records, &serial, &msgs),
		    FEED_XFR_FULL);
		CHECK_EQ(records, 41);
		CHECK_EQ(serial, 2 + 10);
		feed_out_ver_unref(keep);
	}
	/* the same records as a full build: its digest and count take vc's journal up */
	for (unsigned i = 0; i < 40; i++)
		if (i != 3)
			add_a_ttl(&all, i, i == 7 ? 77 : (uint8_t)i, i == 10 ? 900 : 300);
	add_a_ttl(&all, 50, 50, 300);
	add_a_ttl(&all, 399, (uint8_t)299, 300);
	struct feed_out_ver *vall = NULL;
	CHECK_EQ(feed_out_ver_next(NULL, 0, &all, &t, &lim, &vall, &changed), C2W_OK);
	feed_rrs_free(&all);
	char d2[] = "/tmp/c2w-jrnl-XXXXXX", p2[128];
	CHECK(mkdtemp(d2) != NULL);
	snprintf(p2, sizeof(p2), "%s/z.journal", d2);
	uint32_t js2;
	CHECK_EQ(feed_out_journal_write(vc, p2), C2W_OK);
	CHECK_EQ(feed_out_journal_read(vall, p2, &js2), C2W_OK);
	CHECK_EQ(feed_out_ver_serial(vall), 302);
	unlink(p2);
	rmdir(d2);
	feed_out_ver_unref(vall);
	feed_out_ver_unref(vc);
	/* The journal of the applied version is adopted by the full one after a restart. */
	char dir[] = "/tmp/c2w-jrnl-XXXXXX", path[128];
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/z.journal", dir);
	CHECK_EQ(feed_out_journal_write(va, path), C2W_OK);
	struct feed_rrs again = {0};
	for (unsigned i = 0; i < 40; i++)
		if (i != 3)
			add_a_ttl(&again, i, i == 7 ? 77 : (uint8_t)i, i == 10 ? 900 : 300);
	add_a_ttl(&again, 50, 50, 300);
	struct feed_out_ver *r = NULL;
	uint32_t js;
	CHECK_EQ(feed_out_ver_next(NULL, 2, &again, &t, &lim, &r, &changed), C2W_OK);
	feed_rrs_free(&again);
	CHECK_EQ(feed_out_journal_read(r, path, &js), C2W_OK);
	CHECK_EQ(feed_out_ver_serial(r), 2);
	unlink(path);
	rmdir(dir);
	feed_out_ver_unref(r);
	feed_out_ver_unref(va);
	feed_out_ver_unref(vf);
	feed_out_ver_unref(v1);
}

TEST_MAIN(TEST(test_versions), TEST(test_streams), TEST(test_tsig), TEST(test_journal_file),
	  TEST(test_apply))
