/* SPDX-License-Identifier: MIT */
/* The master-file reader: every syntax feature, and malformed entries with their line numbers. */
#include <sys/stat.h>
#include <unistd.h>

#include "policy/feed.h"
#include "policy/image.h"
#include "policy/zonefile.h"
#include "test.h"
#include "util.h"

struct got {
	unsigned n;
	char owner[32][128];
	uint16_t type[32];
	uint32_t ttl[32];
	uint8_t rdata[32][64];
	uint16_t rdlen[32];
	unsigned line[32];
	char comment[32][64];
	unsigned errs;
	unsigned err_line[32];
	char err[32][96];
};

static int on_rr(void *ctx, const struct zf_record *rr)
{
	struct got *g = ctx;
	if (g->n >= 32)
		return 0;
	dns_name_to_text(rr->owner, g->owner[g->n], 128);
	g->type[g->n] = rr->type;
	g->ttl[g->n] = rr->ttl;
	g->rdlen[g->n] = rr->rdlen;
	memcpy(g->rdata[g->n], rr->rdata, rr->rdlen < 64 ? rr->rdlen : 64);
	g->line[g->n] = rr->line;
	if (rr->comment)
		snprintf(g->comment[g->n], 64, "%.*s", (int)rr->comment_len, rr->comment);
	g->n++;
	return 0;
}

static void on_err(void *ctx, const char *file, unsigned line, const char *reason)
{
	struct got *g = ctx;
	(void)file;
	if (g->errs < 32) {
		g->err_line[g->errs] = line;
		snprintf(g->err[g->errs], 96, "%s", reason);
	}
	g->errs++;
}

static void parse(const char *text, struct got *g, bool include)
{
	uint8_t origin[256];
	size_t ol;
	memset(g, 0, sizeof(*g));
	if (dns_name_from_text("rpz.example.", NULL, origin, &ol) != C2W_OK)
		abort();
	struct zf_opts o = {.origin = origin, .default_ttl = 7, .allow_include = include,
			    .on_record = on_rr, .on_error = on_err, .ctx = g};
	CHECK_EQ(policy_zonefile_parse_buf(text, strlen(text), "/tmp/t.rpz", &o), C2W_OK);
}

static void test_syntax(void)
{
	struct got g;
	parse("; comment line\n"
	      "a CNAME .\n"                          /* 2: default TTL 7, relative owner */
	      "$TTL 1h30m\n"
	      "@ IN SOA ns hostmaster ( 1 ; serial\n" /* 4: parentheses over lines */
	      "   2h 3 4 1d )\n"
	      "b 60 IN A 192.0.2.1 ; category=c2\n"   /* 6 */
	      "  IN 120 AAAA 2001:db8::1\n"           /* 7: owner inherited, class before TTL */
	      "c.other. TXT \"hello world\" \"a\\\"b\\059\" plain\n" /* 8: absolute, quotes, escapes */
	      "$ORIGIN sub.rpz.example.\n"
	      "d MX 10 mail\n"                         /* 10 */
	      "e\\.dot TYPE65534 \\# 3 0a0B0c\n"        /* 11: escaped dot, generic */
	      "\n",
	      &g, false);
	CHECK_EQ(g.errs, 0);
	CHECK_EQ(g.n, 7);
	CHECK_STREQ(g.owner[0], "a.rpz.example.");
	CHECK_EQ(g.ttl[0], 7);
	CHECK_EQ(g.line[0], 2);
	CHECK_EQ(g.type[1], DNS_TYPE_SOA);
	CHECK_EQ(g.ttl[1], 5400);
	CHECK_EQ(g.line[1], 4);
	/* SOA rdata: ns.rpz.example. hostmaster.rpz.example. then 5 numbers: refresh 2h, min 1d */
	CHECK_EQ(g.rdlen[1], 16 + 24 + 20);
	CHECK_EQ(g.rdata[1][16 + 24 + 7], 0x20);   /* refresh 7200 = 0x1c20 */
	CHECK_EQ(g.rdata[1][16 + 24 + 19], 0x80);  /* minimum 86400 = 0x15180 */
	CHECK_EQ(g.ttl[2], 60);
	CHECK_STREQ(g.comment[2], " category=c2");
	CHECK_STREQ(g.owner[3], "b.rpz.example.");
	CHECK_EQ(g.type[3], DNS_TYPE_AAAA);
	CHECK_EQ(g.ttl[3], 120);
	CHECK_STREQ(g.owner[4], "c.other.");
	CHECK_EQ(g.rdlen[4], 12 + 5 + 6);
	CHECK(memcmp(g.rdata[4], "\013hello world\004a\"b;\005plain", 23) == 0);
	CHECK_STREQ(g.owner[5], "d.sub.rpz.example.");
	CHECK_EQ(g.rdlen[5], 2 + 22);
	CHECK_STREQ(g.owner[6], "e\\.dot.sub.rpz.example.");
	CHECK_EQ(g.type[6], 65534);
	CHECK_EQ(g.rdlen[6], 3);
	CHECK_EQ(g.rdata[6][1], 0x0b);
}

static void test_malformed(void)
{
	struct got g;
	parse("ok CNAME .\n"
	      "bad1 A 300.1.1.1\n"          /* 2 */
	      "bad2 FOO x\n"                /* 3 */
	      "bad3 AAAA\n"                 /* 4 */
	      "$GENERATE 1-2 x A 1.2.3.4\n" /* 5 */
	      "bad4 TXT \"unterminated\n"   /* 6: swallows the rest */
	      "x CNAME .\n",
	      &g, false);
	CHECK_EQ(g.n, 1);
	CHECK_EQ(g.errs, 5);
	CHECK_EQ(g.err_line[0], 2);
	CHECK_STREQ(g.err[0], "bad IPv4 address");
	CHECK_EQ(g.err_line[1], 3);
	CHECK_STREQ(g.err[1], "unknown record type");
	CHECK_EQ(g.err_line[2], 4);
	CHECK_EQ(g.err_line[3], 5);
	CHECK_STREQ(g.err[3], "unsupported directive");
	CHECK_EQ(g.err_line[4], 6);
	CHECK_STREQ(g.err[4], "unterminated quoted string");

	parse("a ( CNAME .\n", &g, false);
	CHECK_EQ(g.errs, 1);
	CHECK_STREQ(g.err[0], "unbalanced '(' at end of file");
	parse("a CNAME . )\nb CNAME .\n", &g, false);
	CHECK_EQ(g.errs, 1);
	CHECK_EQ(g.err_line[0], 1);
	CHECK_EQ(g.n, 1);
	parse("x..y CNAME .\n", &g, false);
	CHECK_STREQ(g.err[0], "bad owner name");
	parse("  CNAME .\n", &g, false);
	CHECK_STREQ(g.err[0], "no owner name");
	parse("$INCLUDE /etc/passwd\n", &g, false);
	CHECK_STREQ(g.err[0], "$INCLUDE not allowed here");
}

static void test_include(void)
{
	struct got g;
	const char *inc = tmp_feed("x CNAME .\n$ORIGIN deeper.example.\ny CNAME .\n");
	char text[256];
	snprintf(text, sizeof(text), "$INCLUDE %s other.example.\nz CNAME .\n$INCLUDE /nonexistent/f\n",
		 inc);
	parse(text, &g, true);
	CHECK_EQ(g.n, 3);
	CHECK_STREQ(g.owner[0], "x.other.example.");
	CHECK_STREQ(g.owner[1], "y.deeper.example.");
	CHECK_STREQ(g.owner[2], "z.rpz.example."); /* origin restored after the include */
	CHECK_EQ(g.errs, 1);
	CHECK_EQ(g.err_line[0], 3);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (f == NULL)
		abort();
	fputs(text, f);
	fclose(f);
}

/* issue 12: where a zone allows $INCLUDE, only regular files inside the feed's directory are
 * read: not a path outside it (absolute, "..", or a symlink out), not a FIFO (which would
 * stall the main loop). */
static void test_include_confined(void)
{
	char dir[] = "/tmp/c2w-inc-XXXXXX", feed[128], path[128], outside[128], text[1024];
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(outside, sizeof(outside), "%s.outside.rpz", dir);
	write_file(outside, "secret CNAME .\n");
	snprintf(path, sizeof(path), "%s/sub", dir);
	CHECK_EQ(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/sub/inc.rpz", dir);
	write_file(path, "inside CNAME .\n");
	snprintf(path, sizeof(path), "%s/fifo", dir);
	CHECK_EQ(mkfifo(path, 0600), 0);
	snprintf(path, sizeof(path), "%s/link.rpz", dir);
	CHECK_EQ(symlink(outside, path), 0);
	snprintf(text, sizeof(text),
		 "$INCLUDE sub/inc.rpz\n"     /* 1: inside: read */
		 "$INCLUDE %s\n"              /* 2: absolute, outside */
		 "$INCLUDE ../%s\n"           /* 3: relative, outside */
		 "$INCLUDE link.rpz\n"        /* 4: symlink pointing outside */
		 "$INCLUDE fifo\n"            /* 5: not a regular file */
		 "$INCLUDE /etc/passwd\n"     /* 6 */
		 "last CNAME .\n",
		 outside, strrchr(outside, '/') + 1);
	snprintf(feed, sizeof(feed), "%s/feed.rpz", dir);
	write_file(feed, text);
	uint8_t origin[256];
	size_t ol;
	CHECK_EQ(dns_name_from_text("rpz.example.", NULL, origin, &ol), C2W_OK);
	struct got g;
	memset(&g, 0, sizeof(g));
	struct zf_opts o = {.origin = origin, .default_ttl = 7, .allow_include = true,
			    .on_record = on_rr, .on_error = on_err, .ctx = &g};
	CHECK_EQ(policy_zonefile_parse_file(feed, &o), C2W_OK);
	CHECK_EQ(g.n, 2);
	CHECK_STREQ(g.owner[0], "inside.rpz.example.");
	CHECK_STREQ(g.owner[1], "last.rpz.example.");
	CHECK_EQ(g.errs, 5);
	CHECK_STREQ(g.err[0], "$INCLUDE outside the feed's directory");
	CHECK_STREQ(g.err[1], "$INCLUDE outside the feed's directory");
	CHECK_STREQ(g.err[2], "$INCLUDE outside the feed's directory");
	CHECK_STREQ(g.err[3], "$INCLUDE is not a regular file");
	CHECK_STREQ(g.err[4], "$INCLUDE outside the feed's directory");
	/* Off (the default for a zone): no include at all. */
	memset(&g, 0, sizeof(g));
	o.allow_include = false;
	CHECK_EQ(policy_zonefile_parse_file(feed, &o), C2W_OK);
	CHECK_EQ(g.n, 1);
	CHECK_EQ(g.errs, 6);
	CHECK_STREQ(g.err[0], "$INCLUDE not allowed here");
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", dir, outside);
	CHECK_EQ(system(cmd), 0);
}

static void test_ttl_and_meta(void)
{
	uint32_t t;
	CHECK(policy_zonefile_ttl("1w2d3h4m5s", 10, &t));
	CHECK_EQ(t, 604800 + 2 * 86400 + 3 * 3600 + 245);
	CHECK(policy_zonefile_ttl("3600", 4, &t));
	CHECK(!policy_zonefile_ttl("h", 1, &t));
	CHECK(!policy_zonefile_ttl("99999999999", 11, &t));
	struct feed_meta m;
	memset(&m, 0, sizeof(m));
	const char *c = " category=c2 family=emotet first-seen=1970-01-02 junk x=";
	CHECK(policy_feed_meta_parse(c, strlen(c), &m));
	CHECK_STREQ(m.category, "c2");
	CHECK_STREQ(m.family, "emotet");
	CHECK_EQ(m.first_seen, 1);
	uint16_t d;
	CHECK(!policy_feed_date("2026-13-01", 10, &d));
	CHECK(policy_feed_date("2026-01-01", 10, &d));
	CHECK_EQ(d, 20454);
}

/* RPZ meaning of records: rejected triggers are reported with file:line through the build. */
struct diags {
	unsigned n;
	unsigned line[16];
	char why[16][128];
};

static void diag(void *ctx, const char *file, unsigned line, const char *reason)
{
	struct diags *d = ctx;
	(void)file;
	if (d->n < 16) {
		d->line[d->n] = line;
		snprintf(d->why[d->n], 128, "%s", reason);
	}
	d->n++;
}

static void test_rpz_rejects(void)
{
	struct policy_zone_spec z =
	    rpz_zone("rpz.example.", "$TTL 60\n@ SOA ns. h. 1 2 3 4 5\n"
				     "33.1.2.0.192.rpz-ip CNAME .\n"    /* 3 */
				     "24.1.2.0.192.rpz-ip CNAME .\n"    /* 4: host bits */
				     "64.zz.1.zz.2001.rpz-ip CNAME .\n" /* 5 */
				     "x.rpz-bogus CNAME .\n"            /* 6: a QNAME */
				     "outside.example. CNAME .\n"       /* 7 */
				     "dup CNAME .\ndup CNAME .\n"       /* 8, 9 */
				     "mix CNAME .\nmix A 192.0.2.1\n"   /* 10, 11 */
				     "ns NS ns.example.\n");            /* 12 */
	struct diags d;
	struct policy_report rep;
	struct policy_snap *s = NULL;
	memset(&d, 0, sizeof(d));
	memset(&rep, 0, sizeof(rep));
	rep.diag = diag;
	rep.diag_ctx = &d;
	CHECK_EQ(policy_snap_build(&z, 1, NULL, &rep, &s), C2W_OK);
	CHECK_EQ(rep.zones[0].rules, 3);
	CHECK_EQ(rep.zones[0].rejected, 5);
	CHECK_EQ(rep.zones[0].duplicates, 1);
	CHECK_EQ(rep.zones[0].conflicts, 1);
	CHECK_EQ(d.n, 6);
	CHECK_EQ(d.line[0], 3);
	CHECK_EQ(d.line[1], 4);
	CHECK_STREQ(d.why[1], "address has bits set beyond the prefix length");
	CHECK_EQ(d.line[2], 5);
	CHECK_EQ(d.line[3], 7);
	CHECK_STREQ(d.why[3], "owner outside the policy zone");
	CHECK_EQ(d.line[4], 11);
	CHECK_EQ(d.line[5], 12);
	/* BIND reads an rpz- label that is no trigger label as part of a QNAME trigger. */
	struct dns_query q = mkq("x.rpz-bogus.", DNS_TYPE_A);
	struct policy_hit hit, shadow;
	CHECK_EQ(policy_match_query(s, &q, NULL, &hit, &shadow), POLICY_VERDICT_ACT);
	CHECK_EQ(hit.action, POLICY_ACTION_NXDOMAIN);
	policy_snap_free(s);
}

/* IP triggers only in BIND's canonical spelling, which BIND requires (issue 13). */
static void test_ip_canonical(void)
{
	struct policy_zone_spec z = rpz_zone(
	    "rpz.example.", "$TTL 60\n@ SOA ns. h. 1 2 3 4 5\n"
			    "128.1.zz.db8.2001.rpz-ip CNAME .\n"        /* 3: ok */
			    "128.2.0.0.0.0.0.db8.2001.rpz-ip CNAME .\n" /* 4: needs zz */
			    "128.1.0.0.1.zz.db8.2001.rpz-ip CNAME .\n"  /* 5: ok, last run */
			    "128.1.zz.1.0.0.db8.2001.rpz-ip CNAME .\n"  /* 6: first run */
			    "128.3.0.1.0.1.0.db8.2001.rpz-ip CNAME .\n" /* 7: ok, no runs */
			    "32.01.2.0.192.rpz-ip CNAME .\n"            /* 8: leading 0 */
			    "128.ABC.zz.db8.2001.rpz-ip CNAME .\n"      /* 9: ok, any case */
			    "128.0abc.zz.db8.2001.rpz-ip CNAME .\n");   /* 10: leading 0 */
	struct diags d;
	struct policy_report rep;
	struct policy_snap *s = NULL;
	memset(&d, 0, sizeof(d));
	memset(&rep, 0, sizeof(rep));
	rep.diag = diag;
	rep.diag_ctx = &d;
	CHECK_EQ(policy_snap_build(&z, 1, NULL, &rep, &s), C2W_OK);
	CHECK_EQ(rep.zones[0].rules, 4);
	CHECK_EQ(d.n, 4);
	CHECK_EQ(d.line[0], 4);
	CHECK_STREQ(d.why[0], "IP trigger not in canonical form (BIND ignores it)");
	CHECK_EQ(d.line[1], 6);
	CHECK_EQ(d.line[2], 8);
	CHECK_EQ(d.line[3], 10);
	policy_snap_free(s);
}

/* Text of @n rules "<p>K CNAME ." appended to @b at @len. */
static size_t fillers(char *b, size_t len, const char *p, unsigned n)
{
	for (unsigned k = 0; k < n; k++)
		len += (size_t)snprintf(b + len, 64, "%s%u CNAME .\n", p, k);
	return len;
}

/*
 * Duplicates are resolved in batches (issue 11): a feed whose duplicates, conflicts and
 * local-data records lie hundreds of lines apart compiles to the very image of the same rules
 * without them, and the reports still come in line order.
 */
static void test_dedupe_batches(void)
{
	static char a[128 * 1024], b[128 * 1024];
	const char *head = "$TTL 60\n@ SOA ns. h. 1 2 3 4 5\n";
	size_t la = (size_t)snprintf(a, sizeof(a), "%s", head);
	size_t lb = (size_t)snprintf(b, sizeof(b), "%s", head);

	la = fillers(a, la, "n", 600); /* lines 3-602 */
	la += (size_t)snprintf(a + la, 200,
			       "n5 CNAME .\n"       /* 603: duplicate */
			       "n7 A 192.0.2.9\n"   /* 604: conflict */
			       "ld A 192.0.2.1\n"); /* 605 */
	la = fillers(a, la, "f", 300);
	la += (size_t)snprintf(a + la, 200, "ld A 192.0.2.2\nld A 192.0.2.1\n"); /* dup record */
	la = fillers(a, la, "g", 300);
	la += (size_t)snprintf(a + la, 200, "ld A 192.0.2.3\nout.example. CNAME .\n");
	lb = fillers(b, lb, "n", 600);
	lb += (size_t)snprintf(b + lb, 200, "ld A 192.0.2.1\nld A 192.0.2.2\nld A 192.0.2.3\n");
	lb = fillers(b, lb, "f", 300);
	lb = fillers(b, lb, "g", 300);
	CHECK(la < sizeof(a) - 64 && lb < sizeof(b) - 64);

	struct policy_zone_spec za = rpz_zone("rpz.example.", a), zb = rpz_zone("rpz.example.", b);
	struct diags d;
	struct policy_report rep;
	struct policy_snap *sa = NULL, *sb = NULL;
	memset(&d, 0, sizeof(d));
	memset(&rep, 0, sizeof(rep));
	rep.diag = diag;
	rep.diag_ctx = &d;
	CHECK_EQ(policy_snap_build(&za, 1, NULL, &rep, &sa), C2W_OK);
	CHECK_EQ(rep.zones[0].rules, 1201);
	CHECK_EQ(rep.zones[0].duplicates, 2);
	CHECK_EQ(rep.zones[0].conflicts, 1);
	CHECK_EQ(rep.zones[0].rejected, 1);
	CHECK_EQ(d.n, 2);
	CHECK_EQ(d.line[0], 604);
	CHECK_EQ(d.line[1], 1209);
	CHECK_STREQ(d.why[1], "owner outside the policy zone");
	CHECK_EQ(policy_snap_build(&zb, 1, NULL, NULL, &sb), C2W_OK);
	const struct img_header *ha = sa->hdr, *hb = sb->hdr;
	CHECK_EQ(sa->len, sb->len);
	CHECK(sa->len == sb->len && memcmp(sa->base + ha->zones_off, sb->base + hb->zones_off,
					   sa->len - ha->zones_off) == 0);
	struct dns_query q = mkq("n7.", DNS_TYPE_A);
	struct policy_hit hit, shadow;
	CHECK_EQ(policy_match_query(sa, &q, NULL, &hit, &shadow), POLICY_VERDICT_ACT);
	CHECK_EQ(hit.action, POLICY_ACTION_NXDOMAIN); /* the first rule stays */
	policy_snap_free(sa);
	policy_snap_free(sb);
}

TEST_MAIN(TEST(test_syntax), TEST(test_malformed), TEST(test_include), TEST(test_include_confined),
	  TEST(test_ttl_and_meta), TEST(test_rpz_rejects), TEST(test_ip_canonical),
	  TEST(test_dedupe_batches))
