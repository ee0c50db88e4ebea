/* SPDX-License-Identifier: MIT */
/*
 * The parts of HTTP feeds that need no server (the downloads themselves are driven against a
 * real HTTPS server by tests/integration/test_feeds_http.py): response header lines, malformed
 * ones included; the validators file beside a copy; comparing a new body with the copy.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "feed/http_fetch.h"
#include "test.h"

static void hdr(struct feed_http_meta *m, const char *line)
{
	feed_http_header(m, line, strlen(line));
}

static void test_headers(void)
{
	struct feed_http_meta m;
	memset(&m, 0, sizeof(m));
	hdr(&m, "HTTP/1.1 200 OK\r\n");
	hdr(&m, "ETag:   \"abc\"  \r\n");
	hdr(&m, "last-modified: Wed, 02 Dec 2026 10:00:00 GMT\r\n");
	hdr(&m, "Content-Type: text/plain\r\n");
	CHECK_STREQ(m.etag, "\"abc\"");
	CHECK_STREQ(m.last_modified, "Wed, 02 Dec 2026 10:00:00 GMT");
	/* A new response (after a redirect) starts afresh. */
	hdr(&m, "HTTP/1.1 200 OK\r\n");
	CHECK_STREQ(m.etag, "");
	CHECK_STREQ(m.last_modified, "");
	/* Malformed: control or 8-bit bytes, empty, no colon, too long: not kept. */
	hdr(&m, "ETag: \"a\x01b\"\r\n");
	CHECK_STREQ(m.etag, "");
	hdr(&m, "ETag: \"\xc3\xa9\"\r\n");
	CHECK_STREQ(m.etag, "");
	hdr(&m, "ETag:\r\n");
	CHECK_STREQ(m.etag, "");
	hdr(&m, "ETag \"x\"\r\n");
	CHECK_STREQ(m.etag, "");
	hdr(&m, "ETagX: \"x\"\r\n");
	CHECK_STREQ(m.etag, "");
	char big[400];
	memset(big, 'x', sizeof(big));
	memcpy(big, "ETag: ", 6);
	feed_http_header(&m, big, sizeof(big));
	CHECK_STREQ(m.etag, "");
	/* Not NUL-terminated input is read only up to @len. */
	const char raw[] = {'E', 't', 'a', 'g', ':', ' ', 'W', '/', '"', 'q', '"', 'Z'};
	feed_http_header(&m, raw, sizeof(raw) - 1);
	CHECK_STREQ(m.etag, "W/\"q\"");
}

static void test_meta_file(void)
{
	char dir[] = "/tmp/c2w-http-meta-XXXXXX";
	if (mkdtemp(dir) == NULL)
		abort();
	char copy[128], path[160];
	snprintf(copy, sizeof(copy), "%s/h.feed", dir);
	snprintf(path, sizeof(path), "%s.meta", copy);
	struct feed_http_meta m = {.refreshed = 1796299200}, r;
	snprintf(m.url, sizeof(m.url), "https://127.0.0.1:8443/h.txt");
	snprintf(m.etag, sizeof(m.etag), "\"v1\"");
	snprintf(m.last_modified, sizeof(m.last_modified), "Wed, 02 Dec 2026 10:00:00 GMT");
	CHECK_EQ(feed_http_meta_read(copy, &r), C2W_ENOENT);
	CHECK_EQ(feed_http_meta_write(copy, &m), C2W_OK);
	CHECK_EQ(feed_http_meta_read(copy, &r), C2W_OK);
	CHECK_EQ(r.refreshed, m.refreshed);
	CHECK_STREQ(r.url, m.url);
	CHECK_STREQ(r.etag, m.etag);
	CHECK_STREQ(r.last_modified, m.last_modified);
	/* Not ours, or with junk: refused, or the junk dropped. */
	FILE *f = fopen(path, "w");
	fputs("something else\netag=\"x\"\n", f);
	fclose(f);
	CHECK_EQ(feed_http_meta_read(copy, &r), C2W_EMALF);
	f = fopen(path, "w");
	fputs("c2wall-http v1\nrefreshed=-5\netag=\"a\tb\"\nlast-modified=x\nnoise\n", f);
	fclose(f);
	CHECK_EQ(feed_http_meta_read(copy, &r), C2W_OK);
	CHECK_EQ(r.refreshed, 0);
	CHECK_STREQ(r.etag, "");
	CHECK_STREQ(r.last_modified, "x");
	/* Same bytes, other bytes, other length, missing file. */
	char a[160], b[160];
	snprintf(a, sizeof(a), "%s/a", dir);
	snprintf(b, sizeof(b), "%s/b", dir);
	f = fopen(a, "w");
	fputs("0.0.0.0 x.example\n", f);
	fclose(f);
	f = fopen(b, "w");
	fputs("0.0.0.0 x.example\n", f);
	fclose(f);
	CHECK(feed_http_copy_same(a, b));
	f = fopen(b, "w");
	fputs("0.0.0.0 y.example\n", f);
	fclose(f);
	CHECK(!feed_http_copy_same(a, b));
	f = fopen(b, "w");
	fputs("0.0.0.0 x.example\n\n", f);
	fclose(f);
	CHECK(!feed_http_copy_same(a, b));
	unlink(b);
	CHECK(!feed_http_copy_same(a, b));
	unlink(a);
	unlink(path);
	rmdir(dir);
}

TEST_MAIN(TEST(test_headers), TEST(test_meta_file))
