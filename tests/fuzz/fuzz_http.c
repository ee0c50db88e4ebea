/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the sinkhole's HTTP/1.x head parser as the server drives it: parse pipelined heads one
 * after another under the input's own limits, normalise the Host, pick the language, render
 * the warning page with that Host and write the evidence JSON. Checks the invariants the
 * server relies on: consumed within the input, slices inside it, no raw '<' from the Host on
 * the page, the JSON line free of control bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "sinkhole/evidence.h"
#include "sinkhole/http.h"
#include "sinkhole/page.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sinkhole_page *page;
static char *page_buf, *json_buf;

static void inside(const char *buf, size_t len, struct sinkhole_slice s)
{
	if (s.p != NULL && (s.p < buf || s.p + s.len > buf + len))
		abort();
}

static void check_page(const char *host, enum sinkhole_lang lang)
{
	struct sinkhole_info info = {.family = "Fuzz<>\"'&"};
	struct sinkhole_page_req req = {lang, host, &info, 1735787045};
	int n = sinkhole_page_render(page, &req, page_buf, sinkhole_page_size_max(page));
	if (n <= 0)
		abort();
	/* The built-in templates have exactly this many '<'; the Host and family add none. */
	static int baseline[SINKHOLE_LANG_COUNT] = {-1, -1};
	int lt = 0;
	for (int i = 0; i < n; i++)
		lt += page_buf[i] == '<';
	if (baseline[lang] < 0) {
		struct sinkhole_page_req plain = {lang, "x", &info, 1735787045};
		int m = sinkhole_page_render(page, &plain, page_buf, sinkhole_page_size_max(page));
		baseline[lang] = 0;
		for (int i = 0; i < m; i++)
			baseline[lang] += page_buf[i] == '<';
	}
	if (lt != baseline[lang])
		abort();
}

static void check_json(const struct sinkhole_http_req *req, const char *host)
{
	char method[40], path[SINKHOLE_HTTP_TARGET_MAX + 1];
	size_t ml = req->method.len < sizeof(method) - 1 ? req->method.len : sizeof(method) - 1;
	size_t pl = req->target.len < sizeof(path) - 1 ? req->target.len : sizeof(path) - 1;
	memcpy(method, req->method.p, ml);
	method[ml] = '\0';
	memcpy(path, req->target.p, pl);
	path[pl] = '\0';
	struct sinkhole_evidence ev = {.proto = SINKHOLE_PROTO_HTTP,
				       .host = host,
				       .method = method,
				       .path = path,
				       .http_status = 403};
	int n = sinkhole_evidence_json(&ev, "p", "k", json_buf, SINKHOLE_EVIDENCE_JSON_MAX);
	if (n <= 0 || json_buf[n - 1] != '\n')
		abort();
	for (int i = 0; i < n - 1; i++)
		if ((unsigned char)json_buf[i] < 0x20 || (unsigned char)json_buf[i] >= 0x7f)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (page == NULL) {
		if (sinkhole_page_new(NULL, NULL, &page) != C2W_OK)
			abort();
		page_buf = malloc(sinkhole_page_size_max(page));
		json_buf = malloc(SINKHOLE_EVIDENCE_JSON_MAX);
	}
	if (size < 1)
		return 0;
	/* First byte: the limits, so small limits get exercised too. */
	struct sinkhole_http_limits lim = {1024 + (size_t)(data[0] & 0x0f) * 512,
					   1 + (unsigned)(data[0] >> 4) * 4};
	const char *buf = (const char *)data + 1;
	size_t len = size - 1;
	for (unsigned rounds = 0; rounds < 64 && len > 0; rounds++) {
		struct sinkhole_http_req req;
		int ret = sinkhole_http_parse(buf, len, &lim, &req);
		if (ret != C2W_OK)
			break;
		if (req.consumed == 0 || req.consumed > len || req.consumed > lim.header_max)
			abort();
		inside(buf, len, req.method);
		inside(buf, len, req.target);
		inside(buf, len, req.host);
		inside(buf, len, req.user_agent);
		inside(buf, len, req.accept_language);
		char host[SINKHOLE_HTTP_HOST_MAX + 1];
		int hl = req.has_host ? sinkhole_http_host_normalise(req.host, host) : -1;
		if (hl > SINKHOLE_HTTP_HOST_MAX || (hl >= 0 && strlen(host) != (size_t)hl))
			abort();
		enum sinkhole_lang lang;
		if (sinkhole_http_lang_query(req.target, &lang) != C2W_OK)
			lang = sinkhole_http_lang_pick(req.accept_language);
		if (lang != SINKHOLE_LANG_JA && lang != SINKHOLE_LANG_EN)
			abort();
		check_page(hl >= 0 ? host : NULL, lang);
		check_json(&req, hl >= 0 ? host : NULL);
		buf += req.consumed;
		len -= req.consumed;
	}
	return 0;
}
