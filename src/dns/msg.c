/* SPDX-License-Identifier: MIT */
/*
 * Messages in: a client's query parsed in place (RFC 1035 4.1, EDNS RFC 6891 6.1), and an
 * upstream reply turned into a cacheable answer body. Building records is writer.c's job,
 * rendering the response for one client is render.c's.
 */
#include "dns/msg.h"

#include <string.h>

#include "dns/iter.h"
#include "dns/name.h"
#include "dns/wire.h"
#include "dns/writer.h"

static void query_reset(struct dns_query *q, const uint8_t *pkt)
{
	q->id = dns_get16(pkt + DNS_HDR_ID);
	q->opcode = (uint8_t)((pkt[DNS_HDR_FLAGS1] >> 3) & 0x0F);
	q->rd = pkt[DNS_HDR_FLAGS1] & DNS_FLAG1_RD;
	q->ad = pkt[DNS_HDR_FLAGS2] & DNS_FLAG2_AD;
	q->cd = pkt[DNS_HDR_FLAGS2] & DNS_FLAG2_CD;
	q->has_question = false;
	q->qtype = 0;
	q->qclass = 0;
	q->qname[0] = 0;
	q->qname_len = 0;
	q->question = NULL;
	q->question_len = 0;
	q->edns = false;
	q->edns_version = 0;
	q->edns_do = false;
	q->edns_udp_size = DNS_UDP_MIN;
	q->edns_opts = NULL;
	q->edns_opts_len = 0;
	q->cookie_len = 0;
	q->cookie_malformed = false;
}

/* RFC 7873 5.2.2: a client cookie alone (8), or with a server cookie of 8..32 bytes. */
static int parse_cookie(const uint8_t *o, uint16_t len, struct dns_query *q)
{
	if (len < DNS_COOKIE_CLIENT_LEN ||
	    (len > DNS_COOKIE_CLIENT_LEN && len < DNS_COOKIE_CLIENT_LEN + DNS_COOKIE_SERVER_MIN) ||
	    len > DNS_COOKIE_MAX) {
		q->cookie_malformed = true;
		return C2W_EMALF;
	}
	if (q->cookie_len == 0) { /* the first one counts */
		memcpy(q->cookie, o, len);
		q->cookie_len = (uint8_t)len;
	}
	return C2W_OK;
}

/*
 * The question name, copied and lower-cased in one pass. It starts right after the header,
 * so a compression pointer could only point into the header: rejected.
 */
static int parse_qname(const uint8_t *pkt, size_t len, size_t *pos, struct dns_query *q)
{
	size_t p = *pos, o = 0;

	for (;;) {
		if (p >= len)
			return C2W_EMALF;
		uint8_t c = pkt[p];
		if (c == 0)
			break;
		if (c > DNS_LABEL_MAX || o + c + 2 > DNS_NAME_WIRE_MAX || p + c + 1 >= len)
			return C2W_EMALF;
		q->qname[o] = c;
		for (size_t i = 1; i <= c; i++)
			q->qname[o + i] = dns_lower_table[pkt[p + i]];
		o += (size_t)c + 1;
		p += (size_t)c + 1;
	}
	q->qname[o++] = 0;
	q->qname_len = (uint8_t)o;
	*pos = p + 1;
	return C2W_OK;
}

/* RFC 6891 6.1: one OPT, root owner, options well framed. Else FORMERR. */
static int parse_opt(const struct dns_rr *rr, const uint8_t *pkt, struct dns_query *q, bool *seen)
{
	if (*seen || rr->owner_len != 1 || rr->section != DNS_SECTION_ADDITIONAL) {
		q->edns = false;
		return C2W_EMALF;
	}
	*seen = true;
	const uint8_t *o = pkt + rr->rdata_off;
	size_t p = 0;
	while (p < rr->rdlen) {
		if (p + 4 > rr->rdlen || p + 4 + dns_get16(o + p + 2) > rr->rdlen)
			return C2W_EMALF;
		uint16_t olen = dns_get16(o + p + 2);
		if (dns_get16(o + p) == DNS_OPT_COOKIE &&
		    parse_cookie(o + p + 4, olen, q) != C2W_OK)
			return C2W_EMALF;
		p += 4 + (size_t)olen;
	}
	q->edns = true;
	q->edns_udp_size = rr->rclass < DNS_UDP_MIN ? DNS_UDP_MIN : rr->rclass;
	q->edns_version = (uint8_t)(rr->ttl >> 16);
	q->edns_do = rr->ttl & DNS_EDNS_DO;
	q->edns_opts = o;
	q->edns_opts_len = rr->rdlen;
	return C2W_OK;
}

int dns_query_parse(const uint8_t *pkt, size_t len, struct dns_query *q)
{
	if (len < DNS_HEADER_LEN || (pkt[DNS_HDR_FLAGS1] & DNS_FLAG1_QR))
		return C2W_EIGNORE;
	query_reset(q, pkt);
	if (dns_get16(pkt + DNS_HDR_QDCOUNT) != 1)
		return C2W_EMALF;
	size_t pos = DNS_HEADER_LEN;
	if (parse_qname(pkt, len, &pos, q) != C2W_OK || pos + 4 > len)
		return C2W_EMALF;
	q->qtype = dns_get16(pkt + pos);
	q->qclass = dns_get16(pkt + pos + 2);
	q->question = pkt + DNS_HEADER_LEN;
	q->question_len = (uint16_t)(pos + 4 - DNS_HEADER_LEN);
	q->has_question = true;
	if ((pkt[6] | pkt[7] | pkt[8] | pkt[9] | pkt[10] | pkt[11]) == 0)
		return C2W_OK; /* the common case: nothing after the question */

	/* Other sections: they must parse; only OPT means something to us. */
	struct dns_iter it;
	struct dns_rr rr;
	bool seen_opt = false;
	int ret = dns_iter_init(&it, pkt, len);
	if (ret != C2W_OK)
		return C2W_EMALF;
	while ((ret = dns_iter_next(&it, &rr)) == C2W_OK) {
		if (rr.type == DNS_TYPE_OPT && parse_opt(&rr, pkt, q, &seen_opt) != C2W_OK)
			return C2W_EMALF;
	}
	return ret == C2W_ENOENT ? C2W_OK : C2W_EMALF;
}

/* RFC 4035 3.2.1: without DO, DNSSEC records go only to those who asked for that type. */
static bool strip(uint16_t type, uint16_t qtype)
{
	return (type == DNS_TYPE_RRSIG || type == DNS_TYPE_NSEC || type == DNS_TYPE_NSEC3) &&
	       type != qtype;
}

/* The upstream question, when present, must be ours. */
static int check_question(const struct dns_query *q, const uint8_t *up, size_t up_len)
{
	uint16_t qd = dns_get16(up + DNS_HDR_QDCOUNT);

	if (qd == 0)
		return C2W_OK;
	if (qd > 1)
		return C2W_EMALF;
	uint8_t name[DNS_NAME_WIRE_MAX];
	size_t pos = DNS_HEADER_LEN, nlen;
	if (dns_name_unpack(up, up_len, &pos, name, &nlen) != C2W_OK || pos + 4 > up_len)
		return C2W_EMALF;
	if (!dns_name_equal(name, q->qname) || dns_get16(up + pos) != q->qtype)
		return C2W_EMALF;
	return C2W_OK;
}

int dns_answer_from_upstream(const struct dns_query *q, const uint8_t *up, size_t up_len,
			     bool secure, bool keep_dnssec, struct dns_answer *ans)
{
	struct dns_writer w;
	struct dns_iter it;
	struct dns_rr rr;
	bool dnssec_seen = false;
	int ret;

	ans->len = 0;
	if (!q->has_question)
		return C2W_EINVAL;
	if (up_len < DNS_HEADER_LEN || !(up[DNS_HDR_FLAGS1] & DNS_FLAG1_QR) ||
	    check_question(q, up, up_len) != C2W_OK || dns_iter_init(&it, up, up_len) != C2W_OK)
		return C2W_EMALF;
	ret = dns_writer_init(&w, ans, q, up[DNS_HDR_FLAGS2] & 0x0F,
			      up[DNS_HDR_FLAGS1] & DNS_FLAG1_AA);
	if (ret != C2W_OK)
		return ret;
	while ((ret = dns_iter_next(&it, &rr)) == C2W_OK) {
		if (rr.type == DNS_TYPE_OPT) {
			if (rr.section != DNS_SECTION_ADDITIONAL)
				return C2W_EMALF;
			continue; /* ours is added per client at render time */
		}
		if (strip(rr.type, q->qtype)) {
			dnssec_seen = true;
			if (!keep_dnssec)
				continue;
		}
		ret = dns_writer_copy_rr(&w, rr.section, rr.owner, rr.type, rr.rclass, rr.ttl, up,
					 up_len, rr.rdata_off, rr.rdlen);
		if (ret != C2W_OK)
			return ret;
	}
	if (ret != C2W_ENOENT)
		return C2W_EMALF;
	ret = dns_writer_finish(&w);
	ans->secure = secure;
	ans->dnssec_records = keep_dnssec;
	ans->do_neutral = !secure && !dnssec_seen;
	return ret;
}

int dns_answer_empty(const struct dns_query *q, uint8_t rcode, int ede_code, const char *ede_text,
		     struct dns_answer *ans)
{
	struct dns_writer w;
	int ret = dns_writer_init(&w, ans, q, rcode, false);

	if (ret == C2W_OK)
		ret = dns_writer_finish(&w);
	if (ret != C2W_OK) {
		ans->len = 0;
		return ret;
	}
	ans->ede_code = ede_code;
	size_t n = 0;
	if (ede_text != NULL) {
		n = strnlen(ede_text, sizeof(ans->ede_text) - 1);
		memcpy(ans->ede_text, ede_text, n);
	}
	ans->ede_text[n] = 0;
	return C2W_OK;
}
