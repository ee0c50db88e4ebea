/* SPDX-License-Identifier: MIT */
/*
 * The libcurl download of one HTTP(S) feed (feed/http_fetch.h). Blocking on purpose: it runs
 * on the transfer thread, bounded by the caps, and aborts when the thread is told to stop.
 */
#include "feed/http_fetch.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/file.h"

struct dl {
	FILE *out;
	CURL *curl;
	uint64_t bytes, max_bytes;
	bool oversize;
	bool write_failed;
	const atomic_bool *stop;
	struct feed_http_meta got; /* validators of the last response */
};

int feed_http_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? C2W_OK : C2W_ENOMEM;
}

void feed_http_global_cleanup(void)
{
	curl_global_cleanup();
}

/* A header value, blanks trimmed; kept only when printable ASCII and short enough. */
static void take_value(const char *v, size_t len, char *out, size_t cap)
{
	while (len > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		len--;
	}
	while (len > 0 && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
		len--;
	out[0] = '\0';
	if (len == 0 || len >= cap)
		return;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] >= 0x7f)
			return;
	memcpy(out, v, len);
	out[len] = '\0';
}

static bool header_is(const char *h, size_t len, const char *name, size_t *vstart)
{
	size_t n = strlen(name);
	if (len <= n || strncasecmp(h, name, n) != 0 || h[n] != ':')
		return false;
	*vstart = n + 1;
	return true;
}

void feed_http_header(struct feed_http_meta *m, const char *h, size_t len)
{
	size_t v;
	if (len >= 5 && strncmp(h, "HTTP/", 5) == 0) {
		m->etag[0] = m->last_modified[0] = '\0';
	} else if (header_is(h, len, "etag", &v)) {
		take_value(h + v, len - v, m->etag, sizeof(m->etag));
	} else if (header_is(h, len, "last-modified", &v)) {
		take_value(h + v, len - v, m->last_modified, sizeof(m->last_modified));
	}
}

static size_t on_header(char *h, size_t size, size_t nitems, void *arg)
{
	struct dl *d = arg;
	feed_http_header(&d->got, h, size * nitems);
	return size * nitems;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct dl *d = arg;
	size_t len = size * nmemb;
	long code = 0;
	d->bytes += len;
	if (d->bytes > d->max_bytes) {
		d->oversize = true;
		return 0; /* CURLE_WRITE_ERROR */
	}
	/* Error pages are counted against the cap but not kept. */
	curl_easy_getinfo(d->curl, CURLINFO_RESPONSE_CODE, &code);
	if (code != 200)
		return len;
	if (fwrite(p, 1, len, d->out) != len) {
		d->write_failed = true;
		return 0;
	}
	return len;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct dl *d = arg;
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return d->stop != NULL && atomic_load(d->stop) ? 1 : 0;
}

static struct curl_slist *conditional(const char *url, const struct feed_http_meta *have)
{
	struct curl_slist *h = NULL, *n;
	char line[512];
	if (have == NULL || strcmp(have->url, url) != 0)
		return NULL;
	if (have->etag[0] != '\0') {
		snprintf(line, sizeof(line), "If-None-Match: %s", have->etag);
		if ((n = curl_slist_append(h, line)) == NULL)
			goto out_fail;
		h = n;
	}
	if (have->last_modified[0] != '\0') {
		snprintf(line, sizeof(line), "If-Modified-Since: %s", have->last_modified);
		if ((n = curl_slist_append(h, line)) == NULL)
			goto out_fail;
		h = n;
	}
	return h;
out_fail:
	curl_slist_free_all(h);
	return NULL;
}

static int setup(CURL *c, struct dl *d, const char *url, const struct feed_http_limits *lim,
		 struct curl_slist *hdrs, char *errbuf)
{
	bool tls = strncasecmp(url, "https://", 8) == 0;
	CURLcode r = CURLE_OK;
#define SET(opt, val)                                                                              \
	do {                                                                                       \
		if (r == CURLE_OK)                                                                 \
			r = curl_easy_setopt(c, opt, val);                                         \
	} while (0)
	SET(CURLOPT_URL, url);
	SET(CURLOPT_ERRORBUFFER, errbuf);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	/* A feed fetched over https never continues over plain http. */
	SET(CURLOPT_REDIR_PROTOCOLS_STR, tls ? "https" : "http,https");
	SET(CURLOPT_FOLLOWLOCATION, 1L);
	SET(CURLOPT_MAXREDIRS, (long)FEED_HTTP_MAX_REDIRECTS);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	if (lim->ca_file != NULL)
		SET(CURLOPT_CAINFO, lim->ca_file);
	SET(CURLOPT_TIMEOUT_MS, (long)lim->timeout_ms);
	if (lim->low_speed_s > 0) {
		SET(CURLOPT_LOW_SPEED_LIMIT, (long)lim->low_speed_bytes);
		SET(CURLOPT_LOW_SPEED_TIME, (long)lim->low_speed_s);
	}
	SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)lim->max_bytes);
	SET(CURLOPT_ACCEPT_ENCODING, ""); /* what libcurl can decode; the cap counts decoded */
	SET(CURLOPT_USERAGENT, "c2wall/" C2W_VERSION);
	SET(CURLOPT_HTTPHEADER, hdrs);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, d);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, d);
	SET(CURLOPT_NOPROGRESS, 0L);
	SET(CURLOPT_XFERINFOFUNCTION, on_progress);
	SET(CURLOPT_XFERINFODATA, d);
#undef SET
	return r == CURLE_OK ? C2W_OK : C2W_EINVAL;
}

/* Why a download failed, in words an operator can act on. */
static int failure(const struct dl *d, CURLcode r, long status, const char *errbuf,
		   const struct feed_http_limits *lim, char *err, size_t err_len)
{
	if (d->stop != NULL && atomic_load(d->stop))
		return C2W_EAGAIN;
	if (d->oversize || r == CURLE_FILESIZE_EXCEEDED)
		snprintf(err, err_len, "body over transfer-max-size (%llu bytes)",
			 (unsigned long long)lim->max_bytes);
	else if (r == CURLE_OPERATION_TIMEDOUT)
		snprintf(err, err_len, "timeout: %s", errbuf[0] ? errbuf : curl_easy_strerror(r));
	else if (r != CURLE_OK)
		snprintf(err, err_len, "%s", errbuf[0] ? errbuf : curl_easy_strerror(r));
	else
		snprintf(err, err_len, "HTTP %ld", status);
	return C2W_EFEED;
}

static int finish_file(FILE *out, const char *tmp, const char *path)
{
	int ret = C2W_OK;
	if (fflush(out) != 0 || fsync(fileno(out)) != 0)
		ret = -errno;
	if (fclose(out) != 0 && ret == C2W_OK)
		ret = -errno;
	if (ret == C2W_OK && rename(tmp, path) != 0)
		ret = -errno;
	if (ret != C2W_OK)
		unlink(tmp);
	return ret;
}

int feed_http_fetch(const char *url, const struct feed_http_limits *lim,
		    const struct feed_http_meta *have, const char *path, struct feed_http_meta *got,
		    long *status, char *err, size_t err_len)
{
	char tmp[4200], errbuf[CURL_ERROR_SIZE] = "";
	struct dl d = {.max_bytes = lim->max_bytes, .stop = lim->stop};
	*status = 0;
	err[0] = '\0';
	int fd = c2w_file_tmp_open(path, 0640, tmp, sizeof(tmp));
	if (fd < 0) {
		snprintf(err, err_len, "cannot create %s: %s", path, c2w_strerror(fd));
		return fd;
	}
	d.out = fdopen(fd, "w");
	d.curl = curl_easy_init();
	struct curl_slist *hdrs = conditional(url, have);
	int ret = C2W_ENOMEM;
	if (d.out == NULL || d.curl == NULL)
		goto out_fail;
	ret = setup(d.curl, &d, url, lim, hdrs, errbuf);
	if (ret != C2W_OK) {
		snprintf(err, err_len, "libcurl refused an option");
		goto out_fail;
	}
	CURLcode r = curl_easy_perform(d.curl);
	curl_easy_getinfo(d.curl, CURLINFO_RESPONSE_CODE, status);
	if (r == CURLE_OK && *status == 304 && hdrs != NULL) {
		ret = FEED_HTTP_NOT_MODIFIED;
		goto out_fail; /* nothing to keep */
	}
	if (r != CURLE_OK || *status != 200 || d.write_failed) {
		ret = d.write_failed ? C2W_EIO : failure(&d, r, *status, errbuf, lim, err, err_len);
		if (d.write_failed)
			snprintf(err, err_len, "cannot write %s", tmp);
		goto out_fail;
	}
	ret = finish_file(d.out, tmp, path);
	d.out = NULL;
	if (ret != C2W_OK) {
		snprintf(err, err_len, "cannot save the body: %s", c2w_strerror(ret));
		goto out_free;
	}
	memset(got, 0, sizeof(*got));
	snprintf(got->url, sizeof(got->url), "%s", url);
	memcpy(got->etag, d.got.etag, sizeof(got->etag));
	memcpy(got->last_modified, d.got.last_modified, sizeof(got->last_modified));
	ret = FEED_HTTP_NEW;
	goto out_free;
out_fail:
	if (d.out != NULL)
		fclose(d.out);
	else
		close(fd);
	d.out = NULL;
	unlink(tmp);
out_free:
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(d.curl);
	return ret;
}
