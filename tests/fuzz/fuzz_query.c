/* SPDX-License-Identifier: MIT */
/*
 * Fuzz dns_query_parse() on arbitrary client bytes, then build and render the answers the
 * worker would send (FORMERR / empty NOERROR with EDE, BADVERS, a synthesized A record) at
 * several size limits, and check our own parser reads every rendered response back. The COOKIE
 * option (RFC 7873) comes from the same untrusted bytes: a parsed cookie is checked as a
 * server cookie and echoed; every rendered response goes through RRL's classification and
 * its slipped form must parse too.
 */
#include <stdlib.h>
#include <string.h>

#include "dns/cookie.h"
#include "dns/iter.h"
#include "dns/msg.h"
#include "dns/name.h"
#include "dns/reply.h"
#include "dns/writer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A response we produced must parse completely and stay within @max. */
static void check_response(const uint8_t *out, int len, size_t max)
{
	struct dns_iter it;
	struct dns_rr rr;
	int ret;

	if (len < 0)
		return;
	if ((size_t)len > max || len < DNS_HEADER_LEN || dns_iter_init(&it, out, (size_t)len) != 0)
		abort();
	while ((ret = dns_iter_next(&it, &rr)) == C2W_OK)
		;
	if (ret != C2W_ENOENT || it.pos != (size_t)len)
		abort();
}

/* RRL reads every response we send: classify it, and its slipped forms must parse. */
static void check_rrl(const uint8_t *out, int len)
{
	struct dns_reply_info info;
	uint8_t copy[4096];

	if (len <= 0)
		return;
	if (dns_reply_classify(out, (size_t)len, &info) != C2W_OK || info.name_len == 0)
		abort();
	for (int badcookie = 0; badcookie < 2; badcookie++) {
		memcpy(copy, out, (size_t)len);
		int n = dns_reply_slip(copy, (size_t)len, badcookie);
		if (n <= 0)
			abort();
		check_response(copy, n, (size_t)len);
	}
}

static void render_all(const struct dns_query *q, const struct dns_answer *ans)
{
	static const size_t limits[] = {12, 40, 512, 1232, 65535};
	uint8_t out[4096];

	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		int len = dns_answer_render(q, ans, 7, 1232, limits[i], out, sizeof(out));
		check_response(out, len, limits[i]);
		check_rrl(out, len);
	}
}

/* What the worker does with a cookie: check it as ours, then echo it with a fresh one. */
static void cookie_path(struct dns_query *q)
{
	static const uint8_t secret[DNS_COOKIE_SECRET_LEN] = {1, 2, 3};
	static const uint8_t ip[4] = {192, 0, 2, 1};

	if (q->cookie_len == 0)
		return;
	if (q->cookie_len != 8 && (q->cookie_len < 16 || q->cookie_len > DNS_COOKIE_MAX))
		abort(); /* the parser let a bad length through */
	int ret = dns_cookie_server_check(secret, q->cookie, q->cookie_len, ip, 4, 1559731985);
	if (ret == C2W_OK)
		abort(); /* nobody can forge our cookie without the secret */
	dns_cookie_server_make(secret, q->cookie, ip, 4, 1559731985, q->cookie + 8);
	q->cookie_len = DNS_COOKIE_CLIENT_LEN + DNS_COOKIE_SERVER_LEN;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_query q;
	uint8_t wire[1232];
	struct dns_answer ans = {.wire = wire, .cap = sizeof(wire)};
	char text[DNS_NAME_TEXT_MAX];

	int ret = dns_query_parse(data, size, &q);
	if (ret == C2W_EIGNORE)
		return 0;
	if (ret != C2W_OK && ret != C2W_EMALF)
		abort();
	if (ret == C2W_OK)
		cookie_path(&q);
	else
		q.cookie_len = 0; /* as the worker does: FORMERR echoes no cookie */
	if (dns_answer_empty(&q, ret == C2W_OK ? DNS_RCODE_NOERROR : DNS_RCODE_FORMERR,
			     DNS_EDE_BLOCKED, "fuzz", &ans) == C2W_OK)
		render_all(&q, &ans);
	if (ret != C2W_OK)
		return 0;
	if (dns_name_to_text(q.qname, text, sizeof(text)) < 0)
		abort(); /* a parsed qname is always printable */
	if (q.edns) {
		uint8_t out[512];
		check_response(out, dns_answer_render_badvers(&q, 1232, out, sizeof(out)), 512);
	}
	/* The policy engine's path: synthesize a sinkhole answer for the query. */
	struct dns_writer w;
	static const uint8_t addr[4] = {192, 0, 2, 1};
	static const uint8_t target[] = "\4sink\6c2wall\7example";
	if (dns_writer_init(&w, &ans, &q, DNS_RCODE_NOERROR, false) != C2W_OK)
		return 0;
	if (dns_writer_add_rr(&w, DNS_SECTION_ANSWER, q.qname, DNS_TYPE_CNAME, DNS_CLASS_IN, 30,
			      target, sizeof(target)) != C2W_OK ||
	    dns_writer_add_rr(&w, DNS_SECTION_ANSWER, target, DNS_TYPE_A, DNS_CLASS_IN, 30, addr,
			      4) != C2W_OK ||
	    dns_writer_finish(&w) != C2W_OK)
		return 0;
	render_all(&q, &ans);
	return 0;
}
