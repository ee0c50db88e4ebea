/* SPDX-License-Identifier: MIT */
/* HTTP/1.x request head parser: valid forms, limits, malformed input, pipelining, languages. */
#include "sinkhole/http.h"
#include "test.h"

static const struct sinkhole_http_limits lim = {8192, 64};

/* The last input, kept until the next parse() so @req may still point into it. */
static char *last_copy;

static int parse(const char *s, struct sinkhole_http_req *req)
{
	/* exact-size heap copy: ASan catches any read past the input */
	size_t n = strlen(s);
	free(last_copy);
	last_copy = malloc(n ? n : 1);
	memcpy(last_copy, s, n);
	return sinkhole_http_parse(last_copy, n, &lim, req);
}

static bool slice_is(struct sinkhole_slice s, const char *lit)
{
	return s.len == strlen(lit) && memcmp(s.p, lit, s.len) == 0;
}

static void test_simple_get(void)
{
	const char *r = "GET /a?b=c HTTP/1.1\r\nHost: Evil.Example:8080\r\n"
			"User-Agent:  curl/7.88  \r\nAccept-Language: en\r\n\r\n";
	struct sinkhole_http_req q;
	CHECK_EQ(sinkhole_http_parse(r, strlen(r), &lim, &q), C2W_OK);
	CHECK_EQ(q.consumed, strlen(r));
	CHECK(slice_is(q.method, "GET"));
	CHECK(slice_is(q.target, "/a?b=c"));
	CHECK(slice_is(q.host, "Evil.Example:8080"));
	CHECK(slice_is(q.user_agent, "curl/7.88"));
	CHECK(slice_is(q.accept_language, "en"));
	CHECK_EQ(q.version_minor, 1);
	CHECK(!q.close);
	CHECK_EQ(q.field_count, 3);
	char host[SINKHOLE_HTTP_HOST_MAX + 1];
	CHECK_EQ(sinkhole_http_host_normalise(q.host, host), 12);
	CHECK_STREQ(host, "evil.example");
}

static void test_bare_lf_and_leading_crlf(void)
{
	struct sinkhole_http_req q;
	CHECK_EQ(parse("\r\n\nGET / HTTP/1.0\nHost: a\n\n", &q), C2W_OK);
	CHECK_EQ(q.version_minor, 0);
	CHECK(q.close); /* HTTP/1.0 without keep-alive */
	CHECK_EQ(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &q), C2W_OK);
	CHECK(!q.close);
	CHECK(!q.has_host); /* 1.0 may omit Host */
}

static void test_absolute_form_overrides_host(void)
{
	struct sinkhole_http_req q;
	CHECK_EQ(parse("GET http://user@c2.example:81/x HTTP/1.1\r\nHost: other\r\n\r\n", &q),
		 C2W_OK);
	CHECK(slice_is(q.host, "c2.example:81"));
}

static void test_incomplete(void)
{
	const char *full = "GET / HTTP/1.1\r\nHost: a\r\nUser-Agent: x\r\n\r\n";
	struct sinkhole_http_req q;
	for (size_t n = 0; n < strlen(full); n++) {
		char *copy = malloc(n ? n : 1);
		memcpy(copy, full, n);
		CHECK_EQ(sinkhole_http_parse(copy, n, &lim, &q), C2W_EAGAIN);
		free(copy);
	}
}

static void test_pipelined(void)
{
	const char *r = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n"
			"HEAD /2 HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n"
			"GET /3 HTTP/1.1\r\nHo";
	struct sinkhole_http_req q;
	size_t off = 0, len = strlen(r);
	CHECK_EQ(sinkhole_http_parse(r, len, &lim, &q), C2W_OK);
	CHECK(slice_is(q.target, "/1"));
	off += q.consumed;
	CHECK_EQ(sinkhole_http_parse(r + off, len - off, &lim, &q), C2W_OK);
	CHECK(slice_is(q.method, "HEAD"));
	CHECK(slice_is(q.host, "b"));
	CHECK(q.close);
	off += q.consumed;
	CHECK_EQ(sinkhole_http_parse(r + off, len - off, &lim, &q), C2W_EAGAIN);
}

static void test_malformed(void)
{
	static const char *const bad[] = {
	    "GET / HTTP/1.1\r\n\r\n",                       /* 1.1 without Host */
	    "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", /* duplicate Host */
	    "GET / HTTP/1.1\r\nHost : a\r\n\r\n",           /* space before colon */
	    "GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", /* obs-fold */
	    "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",         /* bare CR */
	    "GET  / HTTP/1.1\r\nHost: a\r\n\r\n",           /* double space */
	    "GET /\r\n\r\n",                                /* HTTP/0.9 */
	    "GET / HTTP/1.1 \r\nHost: a\r\n\r\n",           /* trailing space */
	    "G\x01T / HTTP/1.1\r\nHost: a\r\n\r\n",         /* control in method */
	    "GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n",        /* DEL in target */
	    "GET / HTTP/1.1\r\nHost: a\x01\r\n\r\n",        /* control in value */
	    "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
	    "GET / HTTX/1.1\r\nHost: a\r\n\r\n",
	    ": x\r\n\r\n",
	    "GET / HTTP/1.1\r\n: novalue-name\r\n\r\n",
	    "AVERYLONGMETHODNAMETHATISWAYTOOLONGFORANYONE / HTTP/1.1\r\nHost: a\r\n\r\n",
	};
	struct sinkhole_http_req q;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = parse(bad[i], &q);
		if (ret != C2W_EMALF)
			fprintf(stderr, "case %zu: %d\n", i, ret);
		CHECK_EQ(ret, C2W_EMALF);
	}
	/* a NUL in the middle of a header value */
	const char nul[] = "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n";
	CHECK_EQ(sinkhole_http_parse(nul, sizeof(nul) - 1, &lim, &q), C2W_EMALF);
}

static void test_versions(void)
{
	struct sinkhole_http_req q;
	CHECK_EQ(parse("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", &q), C2W_EVERSION);
	CHECK_EQ(parse("GET / HTTP/2.0\r\nHost: a\r\n\r\n", &q), C2W_EVERSION);
	CHECK_EQ(parse("GET / HTTP/1.7\r\nHost: a\r\n\r\n", &q), C2W_OK);
	CHECK_EQ(q.version_minor, 1);
}

static void test_limits(void)
{
	struct sinkhole_http_req q;
	struct sinkhole_http_limits small = {1024, 4};
	/* header bigger than header_max: 431 as soon as the window is full */
	char *big = malloc(2048);
	int n = snprintf(big, 2048, "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: ");
	memset(big + n, 'a', 2048 - (size_t)n);
	CHECK_EQ(sinkhole_http_parse(big, 1023, &small, &q), C2W_EAGAIN);
	CHECK_EQ(sinkhole_http_parse(big, 1024, &small, &q), C2W_ERANGE);
	CHECK_EQ(sinkhole_http_parse(big, 2048, &small, &q), C2W_ERANGE);
	/* long request line without end: 414 */
	memcpy(big, "GET /", 5);
	memset(big + 5, 'a', 2043);
	CHECK_EQ(sinkhole_http_parse(big, 2048, &small, &q), C2W_ESPACE);
	free(big);
	/* too many fields */
	const char *many = "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n";
	CHECK_EQ(sinkhole_http_parse(many, strlen(many), &small, &q), C2W_ERANGE);
	/* target longer than SINKHOLE_HTTP_TARGET_MAX, whole line within header_max */
	char *lt = malloc(4000);
	n = snprintf(lt, 4000, "GET /");
	memset(lt + n, 'b', 2100);
	n += 2100;
	n += snprintf(lt + n, 4000 - (size_t)n, " HTTP/1.1\r\nHost: a\r\n\r\n");
	CHECK_EQ(sinkhole_http_parse(lt, (size_t)n, &lim, &q), C2W_ESPACE);
	free(lt);
}

static void test_body_and_close(void)
{
	struct sinkhole_http_req q;
	CHECK_EQ(parse("POST /gate.php HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", &q),
		 C2W_OK);
	CHECK(q.has_body);
	CHECK_EQ(parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", &q),
		 C2W_OK);
	CHECK(q.has_body && q.close);
	CHECK_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, CLOSE\r\n\r\n", &q), C2W_OK);
	CHECK(q.close);
}

static void test_host_normalise(void)
{
	char out[SINKHOLE_HTTP_HOST_MAX + 1];
	struct {
		const char *in, *want;
	} ok[] = {{"WWW.Example.COM.", "www.example.com"},
		  {"[2001:DB8::1]:8080", "2001:db8::1"},
		  {"192.0.2.1:80", "192.0.2.1"},
		  {"<script>alert(1)</script>", "<script>alert(1)</script>"}};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct sinkhole_slice s = {ok[i].in, strlen(ok[i].in)};
		CHECK(sinkhole_http_host_normalise(s, out) > 0);
		CHECK_STREQ(out, ok[i].want);
	}
	CHECK_EQ(sinkhole_http_host_normalise((struct sinkhole_slice){"", 0}, out), C2W_EMALF);
	CHECK_EQ(sinkhole_http_host_normalise((struct sinkhole_slice){".", 1}, out), C2W_EMALF);
	CHECK_EQ(sinkhole_http_host_normalise((struct sinkhole_slice){"[::1", 4}, out), C2W_EMALF);
	char longh[300];
	memset(longh, 'a', sizeof(longh));
	CHECK_EQ(sinkhole_http_host_normalise((struct sinkhole_slice){longh, 256}, out), C2W_EMALF);
	CHECK_EQ(sinkhole_http_host_normalise((struct sinkhole_slice){longh, 255}, out), 255);
}

static enum sinkhole_lang pick(const char *al)
{
	return sinkhole_http_lang_pick((struct sinkhole_slice){al, al ? strlen(al) : 0});
}

static void test_accept_language(void)
{
	CHECK_EQ(pick(NULL), SINKHOLE_LANG_JA);
	CHECK_EQ(pick(""), SINKHOLE_LANG_JA);
	CHECK_EQ(pick("en"), SINKHOLE_LANG_EN);
	CHECK_EQ(pick("en-US,en;q=0.9"), SINKHOLE_LANG_EN);
	CHECK_EQ(pick("ja,en-US;q=0.9,en;q=0.8"), SINKHOLE_LANG_JA);
	CHECK_EQ(pick("en-US,en;q=0.9,ja;q=0.8"), SINKHOLE_LANG_EN);
	CHECK_EQ(pick("ja;q=0.5, en;q=0.8"), SINKHOLE_LANG_EN);
	CHECK_EQ(pick("fr-FR, fr;q=0.9, en;q=0.5"), SINKHOLE_LANG_EN);
	CHECK_EQ(pick("fr-FR, de"), SINKHOLE_LANG_JA);
	CHECK_EQ(pick("en;q=0"), SINKHOLE_LANG_JA);    /* excluded */
	CHECK_EQ(pick("*"), SINKHOLE_LANG_JA);         /* wildcard: default */
	CHECK_EQ(pick("*, ja;q=0"), SINKHOLE_LANG_EN); /* ja excluded, rest welcome */
	CHECK_EQ(pick("*;q=0.5, en"), SINKHOLE_LANG_EN);
	CHECK_EQ(pick("en;q=0.5, ja;q=0.5"), SINKHOLE_LANG_EN); /* tie: first listed */
	CHECK_EQ(pick("ja;q=0.5, en;q=0.5"), SINKHOLE_LANG_JA);
	CHECK_EQ(pick("EN-gb ; q=1.000"), SINKHOLE_LANG_EN);
	CHECK_EQ(pick("en;q=2, ja;q=0.1"), SINKHOLE_LANG_JA); /* bad q: element skipped */
	CHECK_EQ(pick("en;q=0.0001"), SINKHOLE_LANG_JA);      /* > 3 decimals: skipped */
	CHECK_EQ(pick("en;q=1.5"), SINKHOLE_LANG_JA);
	CHECK_EQ(pick("eng"), SINKHOLE_LANG_JA); /* not "en" */
	CHECK_EQ(pick(",,, ;q=1, en"), SINKHOLE_LANG_EN);
	CHECK_EQ(pick("ja-JP;q=0.8, en;q=0.81"), SINKHOLE_LANG_EN);
}

static void test_lang_query(void)
{
	enum sinkhole_lang l = SINKHOLE_LANG_JA;
	struct sinkhole_slice t = {"/x?a=1&lang=en", 14};
	CHECK_EQ(sinkhole_http_lang_query(t, &l), C2W_OK);
	CHECK_EQ(l, SINKHOLE_LANG_EN);
	t = (struct sinkhole_slice){"/?lang=ja", 9};
	CHECK_EQ(sinkhole_http_lang_query(t, &l), C2W_OK);
	CHECK_EQ(l, SINKHOLE_LANG_JA);
	t = (struct sinkhole_slice){"/?lang=fr", 9};
	CHECK_EQ(sinkhole_http_lang_query(t, &l), C2W_ENOENT);
	t = (struct sinkhole_slice){"/lang=en", 8};
	CHECK_EQ(sinkhole_http_lang_query(t, &l), C2W_ENOENT);
	t = (struct sinkhole_slice){"/?#lang=en", 10};
	CHECK_EQ(sinkhole_http_lang_query(t, &l), C2W_ENOENT);
}

TEST_MAIN(TEST(test_simple_get), TEST(test_bare_lf_and_leading_crlf),
	  TEST(test_absolute_form_overrides_host), TEST(test_incomplete), TEST(test_pipelined),
	  TEST(test_malformed), TEST(test_versions), TEST(test_limits), TEST(test_body_and_close),
	  TEST(test_host_normalise), TEST(test_accept_language), TEST(test_lang_query))
