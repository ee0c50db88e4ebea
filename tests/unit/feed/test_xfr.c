/* SPDX-License-Identifier: MIT */
/*
 * The transfer message sequence against recorded streams (tests/fuzz/corpus/xfr, made with
 * dnspython): every outcome of feed/xfr.c, then the copy on disk round trip and the key-file
 * reader. Byte 0 of a stream: bit 0 IXFR (held serial 5), bit 1 TSIG key expected.
 */
#include <fcntl.h>
#include <libknot/tsig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "feed/tsig_key.h"
#include "feed/xfr.h"
#include "feed/zone.h"
#include "test.h"

#define ORIGIN "c2.fuzz.example."

static struct feed_zone *held(void)
{
	struct feed_zone *z = NULL;
	struct feed_soa soa = {.serial = 5, .refresh = 60, .retry = 10, .expire = 600};
	CHECK_EQ(feed_zone_new(ORIGIN, &z), C2W_OK);
	CHECK_EQ(feed_zone_set_soa(z, ORIGIN " 300 IN SOA ns. host. 5 60 10 600 300", &soa), C2W_OK);
	CHECK_EQ(feed_zone_add(z, "a." ORIGIN " 300 IN A 10.0.0.1"), C2W_OK);
	return z;
}

struct outcome {
	int input;     /* last feed_xfr_input() result */
	int finish;    /* feed_xfr_finish() result, or 99 when not called */
	enum feed_xfr_kind kind;
	uint32_t serial;
	size_t records;
	bool wants_axfr;
	char err[256];
};

static void run(const char *name, struct outcome *o)
{
	char path[4096];
	const char *src = getenv("C2W_SRCDIR");
	snprintf(path, sizeof(path), "%s/tests/fuzz/corpus/xfr/%s", src ? src : ".", name);
	static uint8_t buf[1 << 16];
	FILE *f = fopen(path, "rb");
	CHECK(f != NULL);
	memset(o, 0, sizeof(*o));
	o->finish = 99;
	if (f == NULL)
		return;
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	knot_tsig_key_t key;
	bool keyed = buf[0] & 2;
	if (keyed)
		CHECK_EQ(knot_tsig_key_init(&key, "hmac-sha256", "k", "c2VjcmV0"), 0);
	struct feed_zone *cur = held(), *out = NULL;
	struct feed_xfr *x = NULL;
	CHECK_EQ(feed_xfr_new(ORIGIN, (buf[0] & 1) ? FEED_XFR_IXFR : FEED_XFR_AXFR, cur,
			      keyed ? &key : NULL, &x),
		 C2W_OK);
	uint8_t q[512];
	size_t qlen;
	CHECK_EQ(feed_xfr_query(x, 0x1234, q, sizeof(q), &qlen), C2W_OK);
	size_t off = 1;
	while (o->input == 0 && off + 2 <= n) {
		size_t len = (size_t)buf[off] << 8 | buf[off + 1];
		o->input = feed_xfr_input(x, buf + off + 2, len);
		off += 2 + len;
	}
	if (o->input == 1) {
		o->finish = feed_xfr_finish(x, cur, &out, &o->kind);
		if (out != NULL) {
			struct feed_soa s;
			CHECK(feed_zone_soa(out, &s));
			o->serial = s.serial;
			o->records = feed_zone_count(out);
		}
	}
	o->wants_axfr = feed_xfr_wants_axfr(x);
	snprintf(o->err, sizeof(o->err), "%s", feed_xfr_error(x));
	feed_zone_free(out);
	feed_xfr_free(x);
	feed_zone_free(cur);
	if (keyed)
		knot_tsig_key_deinit(&key);
}

static void test_full(void)
{
	struct outcome o;
	run("axfr_one", &o);
	CHECK_EQ(o.input, 1);
	CHECK_EQ(o.finish, C2W_OK);
	CHECK_EQ(o.kind, FEED_XFR_FULL);
	CHECK_EQ(o.serial, 6);
	CHECK_EQ(o.records, 2);
	run("axfr_two_msgs", &o);
	CHECK_EQ(o.input, 1);
	CHECK_EQ(o.records, 2);
	run("ixfr_as_axfr", &o);
	CHECK_EQ(o.input, 1);
	CHECK_EQ(o.kind, FEED_XFR_FULL);
	CHECK_EQ(o.records, 1);
}

static void test_increment(void)
{
	struct outcome o;
	run("ixfr_delta", &o); /* 5 -> 6: -a +c; 6 -> 7: +d */
	CHECK_EQ(o.input, 1);
	CHECK_EQ(o.finish, C2W_OK);
	CHECK_EQ(o.kind, FEED_XFR_INCREMENT);
	CHECK_EQ(o.serial, 7);
	CHECK_EQ(o.records, 2);
	run("ixfr_uptodate", &o);
	CHECK_EQ(o.input, 1);
	CHECK_EQ(o.kind, FEED_XFR_UPTODATE);
}

static void test_faults(void)
{
	struct outcome o;
	run("axfr_noclose", &o);
	CHECK_EQ(o.input, 0); /* still waiting for the closing SOA: the I/O layer fails it */
	run("axfr_older", &o);
	CHECK_EQ(o.input, C2W_ESERIAL);
	CHECK(strstr(o.err, "older than ours") != NULL);
	run("ixfr_backwards", &o);
	CHECK_EQ(o.input, C2W_ESERIAL);
	run("ixfr_missing_del", &o);
	CHECK_EQ(o.input, 1);
	CHECK_EQ(o.finish, C2W_EXFR);
	CHECK(o.wants_axfr);
	run("refused", &o);
	CHECK_EQ(o.input, C2W_EXFR);
	CHECK(o.wants_axfr);
	CHECK(strstr(o.err, "NOTIMP") != NULL);
	run("unsigned_with_key", &o);
	CHECK_EQ(o.input, C2W_ETSIG);
	CHECK(strstr(o.err, "not signed") != NULL);
	run("after_end", &o);
	CHECK_EQ(o.input, 1); /* complete after message 1; a second message is not read */
}

static void test_copy_roundtrip(void)
{
	char dir[] = "/tmp/c2w-feed-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char path[256];
	snprintf(path, sizeof(path), "%s/" ORIGIN "zone", dir);
	struct feed_zone *z = held(), *back = NULL;
	CHECK_EQ(feed_zone_add(z, "b." ORIGIN "\t300\tIN\tTXT\t\"two  words\""), C2W_OK);
	CHECK_EQ(feed_zone_add(z, "B." ORIGIN " 60 IN TXT \"two  words\""), C2W_OK); /* same */
	CHECK_EQ(feed_zone_count(z), 2);
	struct feed_zone_meta meta = {.refreshed = 1700000000}, m2;
	snprintf(meta.primary, sizeof(meta.primary), "192.0.2.1@53");
	CHECK_EQ(feed_zone_write(z, path, &meta), C2W_OK);
	struct stat st;
	CHECK_EQ(stat(path, &st), 0);
	CHECK_EQ(st.st_mode & 0777, 0640);
	CHECK_EQ(feed_zone_read(path, ORIGIN, &back, &m2), C2W_OK);
	if (back != NULL) {
		struct feed_soa s;
		CHECK(feed_zone_soa(back, &s));
		CHECK_EQ(s.serial, 5);
		CHECK_EQ(s.expire, 600);
		CHECK_EQ(feed_zone_count(back), 2);
		CHECK_EQ(m2.refreshed, 1700000000);
		CHECK_STREQ(m2.primary, "192.0.2.1@53");
		CHECK_EQ(feed_zone_del(back, "a." ORIGIN " 1 IN A 10.0.0.1"), C2W_OK);
		CHECK_EQ(feed_zone_del(back, "a." ORIGIN " 1 IN A 10.0.0.1"), C2W_ENOENT);
	}
	CHECK_EQ(feed_zone_read(path, "other.example.", &back, &m2) == C2W_OK ? 0 : 1, 1);
	feed_zone_free(back);
	feed_zone_free(z);
	unlink(path);
	rmdir(dir);
	CHECK(feed_serial_gt(1, 0xffffffffu));
	CHECK(!feed_serial_gt(5, 5));
	CHECK(!feed_serial_gt(3, 5));
}

static void test_key_file(void)
{
	static const char good[] = "key \"feed-key\" {\n\talgorithm hmac-sha256;\n"
				   "\tsecret \"c2VjcmV0c2VjcmV0\";\n};\n";
	struct feed_tsig_key_text kt;
	char err[128];
	CHECK_EQ(feed_tsig_key_parse(good, strlen(good), &kt, err, sizeof(err)), C2W_OK);
	CHECK_STREQ(kt.name, "feed-key");
	CHECK_STREQ(kt.algorithm, "hmac-sha256");
	CHECK_STREQ(kt.secret, "c2VjcmV0c2VjcmV0");
	static const char md5[] = "key k { algorithm hmac-md5; secret \"YQ==\"; };";
	CHECK_EQ(feed_tsig_key_parse(md5, strlen(md5), &kt, err, sizeof(err)), C2W_EMALF);
	CHECK(strstr(err, "algorithm must be") != NULL);
	static const char nosecret[] = "key k {\n algorithm hmac-sha1;\n};";
	CHECK_EQ(feed_tsig_key_parse(nosecret, strlen(nosecret), &kt, err, sizeof(err)),
		 C2W_EMALF);
	CHECK_STREQ(err, "line 3: a key needs an algorithm and a secret");
}

TEST_MAIN(TEST(test_full), TEST(test_increment), TEST(test_faults), TEST(test_copy_roundtrip),
	  TEST(test_key_file))
