/* SPDX-License-Identifier: MIT */
/*
 * Rendering one client's response from an answer body: ID and flags, the client's question
 * bytes (0x20 case), TTL ageing, our OPT with Extended DNS Errors (RFC 6891, RFC 8914), and
 * truncation. Runs on every cache hit: one memcpy and a few patches, no parsing of records.
 */
#include <string.h>

#include "dns/msg.h"
#include "dns/name.h"
#include "dns/wire.h"

/* End of the question in a body (header only when QDCOUNT is 0); 0 if the body is bad. */
static size_t question_end(const struct dns_answer *ans)
{
	if (dns_get16(ans->wire + DNS_HDR_QDCOUNT) == 0)
		return DNS_HEADER_LEN;
	int l = dns_name_wire_len(ans->wire + DNS_HEADER_LEN, ans->len - DNS_HEADER_LEN);
	if (l < 0 || DNS_HEADER_LEN + (size_t)l + 4 > ans->len)
		return 0;
	return DNS_HEADER_LEN + (size_t)l + 4;
}

static size_t ede_text_len(const struct dns_answer *ans)
{
	return strnlen(ans->ede_text, sizeof(ans->ede_text) - 1);
}

static size_t cookie_size(const struct dns_query *q)
{
	return q->cookie_len > 0 ? 4 + (size_t)q->cookie_len : 0;
}

static size_t opt_size(const struct dns_query *q, const struct dns_answer *ans)
{
	size_t n = DNS_OPT_FIXED_LEN + cookie_size(q);

	if (ans->ede_code >= 0)
		n += 4 + 2 + ede_text_len(ans);
	return n;
}

/* Our OPT RR (RFC 6891 6.1.2): payload size, extended RCODE, version 0, DO echoed; options:
 * EDE (RFC 8914) unless shed for room, then COOKIE (RFC 7873 5.2) as the worker set it. */
static void write_opt(const struct dns_query *q, const struct dns_answer *ans, uint16_t udp_size,
		      bool with_ede, uint8_t *p)
{
	uint32_t ttl = (uint32_t)(ans->rcode >> 4) << 24 | (q->edns_do ? DNS_EDNS_DO : 0);
	size_t rdlen = 0;
	uint8_t *o = p + DNS_OPT_FIXED_LEN;

	p[0] = 0;
	dns_put16(p + 1, DNS_TYPE_OPT);
	dns_put16(p + 3, udp_size < DNS_UDP_MIN ? DNS_UDP_MIN : udp_size);
	dns_put32(p + 5, ttl);
	if (with_ede && ans->ede_code >= 0) {
		size_t tl = ede_text_len(ans);
		dns_put16(o, DNS_OPT_EDE);
		dns_put16(o + 2, (uint16_t)(2 + tl));
		dns_put16(o + 4, (uint16_t)ans->ede_code);
		memcpy(o + 6, ans->ede_text, tl);
		rdlen = 6 + tl;
	}
	if (q->cookie_len > 0) {
		dns_put16(o + rdlen, DNS_OPT_COOKIE);
		dns_put16(o + rdlen + 2, q->cookie_len);
		memcpy(o + rdlen + 4, q->cookie, q->cookie_len);
		rdlen += 4 + (size_t)q->cookie_len;
	}
	dns_put16(p + 9, (uint16_t)rdlen);
}

static void age_ttls(const struct dns_answer *ans, uint32_t age_s, uint8_t *out, size_t len)
{
	for (unsigned i = 0; i < ans->ttl_count; i++) {
		size_t off = ans->ttl_off[i];
		if (off + 4 > len)
			continue;
		uint32_t ttl = dns_get32(out + off);
		dns_put32(out + off, ttl > age_s ? ttl - age_s : 0);
	}
}

int dns_answer_render(const struct dns_query *q, const struct dns_answer *ans, uint32_t age_s,
		      uint16_t udp_size, size_t max_len, uint8_t *out, size_t out_cap)
{
	size_t limit = max_len < out_cap ? max_len : out_cap;

	if (limit < DNS_HEADER_LEN)
		return C2W_ESPACE;
	if (ans->len < DNS_HEADER_LEN || ans->len > ans->cap)
		return C2W_EINVAL;
	size_t qend = question_end(ans);
	if (qend == 0)
		return C2W_EINVAL;
	size_t opt_len = q->edns ? opt_size(q, ans) : 0;
	bool with_ede = true, tc = false;
	size_t body = ans->len;
	if (body + opt_len > limit) {
		/* RFC 6891 7: no records, but keep the OPT; shed EDE, then OPT, then question. */
		tc = true;
		body = qend;
		if (body + opt_len > limit && q->edns) {
			with_ede = false;
			opt_len = DNS_OPT_FIXED_LEN + cookie_size(q);
		}
		if (body + opt_len > limit)
			opt_len = 0;
		if (body + opt_len > limit)
			body = DNS_HEADER_LEN;
	}
	memcpy(out, ans->wire, body);
	if (tc) {
		memset(out + DNS_HDR_ANCOUNT, 0, 6);
		if (body == DNS_HEADER_LEN)
			dns_put16(out + DNS_HDR_QDCOUNT, 0);
	}
	dns_put16(out + DNS_HDR_ID, q->id);
	bool ad = ans->secure && (q->edns_do || q->ad);
	out[DNS_HDR_FLAGS1] = (uint8_t)(DNS_FLAG1_QR | (q->opcode & 0x0F) << 3 |
					(ans->wire[DNS_HDR_FLAGS1] & DNS_FLAG1_AA) |
					(tc ? DNS_FLAG1_TC : 0) | (q->rd ? DNS_FLAG1_RD : 0));
	out[DNS_HDR_FLAGS2] = (uint8_t)(DNS_FLAG2_RA | (ad ? DNS_FLAG2_AD : 0) |
					(q->cd ? DNS_FLAG2_CD : 0) | (ans->rcode & 0x0F));
	/* Same name, maybe other case: give the client its own bytes back (0x20 defence). */
	if (body >= qend && q->has_question && q->question != NULL &&
	    (size_t)q->question_len + DNS_HEADER_LEN == qend)
		memcpy(out + DNS_HEADER_LEN, q->question, q->question_len);
	if (age_s != 0 && !tc)
		age_ttls(ans, age_s, out, body);
	if (opt_len != 0) {
		write_opt(q, ans, udp_size, with_ede, out + body);
		dns_put16(out + DNS_HDR_ARCOUNT, (uint16_t)(dns_get16(out + DNS_HDR_ARCOUNT) + 1));
	}
	return (int)(body + opt_len);
}

int dns_answer_render_badvers(const struct dns_query *q, uint16_t udp_size, uint8_t *out,
			      size_t out_cap)
{
	uint8_t buf[DNS_HEADER_LEN + DNS_NAME_MAX + 4];
	struct dns_answer a = {.wire = buf, .cap = sizeof(buf)};

	if (!q->edns)
		return C2W_EINVAL;
	int ret = dns_answer_empty(q, DNS_RCODE_BADVERS, DNS_EDE_NONE, NULL, &a);
	if (ret != C2W_OK)
		return ret;
	return dns_answer_render(q, &a, 0, udp_size, out_cap, out, out_cap);
}
