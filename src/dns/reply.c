/* SPDX-License-Identifier: MIT */
/*
 * Response identity for RRL, after BIND's ARM ("Response Rate Limiting"): positive answers
 * are told apart by qname and qtype; NXDOMAIN and NODATA answers by the zone they come from,
 * so random names under one domain count as one; errors only by client.
 */
#include "dns/reply.h"

#include <string.h>

#include "dns/iter.h"
#include "dns/msg.h"
#include "dns/wire.h"

/* Offset just past the question, 0 when there is none. */
static size_t question_end(const uint8_t *msg, size_t len)
{
	if (dns_get16(msg + DNS_HDR_QDCOUNT) != 1)
		return 0;
	int l = dns_name_wire_len(msg + DNS_HEADER_LEN, len - DNS_HEADER_LEN);
	if (l < 0 || DNS_HEADER_LEN + (size_t)l + 4 > len)
		return 0;
	return DNS_HEADER_LEN + (size_t)l + 4;
}

static void set_name(struct dns_reply_info *out, const uint8_t *name)
{
	int l = dns_name_wire_len(name, DNS_NAME_WIRE_MAX);
	if (l <= 0) {
		out->name[0] = 0;
		out->name_len = 1;
		return;
	}
	memcpy(out->name, name, (size_t)l);
	out->name_len = (uint8_t)l;
	dns_name_lower(out->name);
}

/* The domain of a negative answer: the SOA owner, else the qname's parent. An OPT with an
 * extended RCODE (BADVERS, BADCOOKIE) makes the response an error. */
static int negative_domain(const uint8_t *msg, size_t len, const uint8_t *qname,
			   struct dns_reply_info *out)
{
	struct dns_iter it;
	struct dns_rr rr;
	int ret;

	if (dns_iter_init(&it, msg, len) != C2W_OK)
		return C2W_EMALF;
	bool soa = false;
	while ((ret = dns_iter_next(&it, &rr)) == C2W_OK) {
		if (rr.type == DNS_TYPE_OPT && (rr.ttl >> 24) != 0) {
			out->kind = DNS_REPLY_ERROR;
			set_name(out, (const uint8_t *)"");
			return C2W_OK;
		}
		if (!soa && rr.type == DNS_TYPE_SOA && rr.section == DNS_SECTION_AUTHORITY) {
			set_name(out, rr.owner);
			soa = true;
		}
	}
	if (ret != C2W_ENOENT)
		return C2W_EMALF;
	if (!soa)
		set_name(out, qname[0] == 0 ? qname : qname + 1 + qname[0]);
	return C2W_OK;
}

int dns_reply_classify(const uint8_t *msg, size_t len, struct dns_reply_info *out)
{
	if (len < DNS_HEADER_LEN)
		return C2W_EMALF;
	size_t qend = question_end(msg, len);
	uint8_t rcode = msg[DNS_HDR_FLAGS2] & 0x0F;
	const uint8_t *qname = msg + DNS_HEADER_LEN;

	out->qtype = qend ? dns_get16(msg + qend - 4) : 0;
	if (qend == 0 || (rcode != DNS_RCODE_NOERROR && rcode != DNS_RCODE_NXDOMAIN)) {
		out->kind = DNS_REPLY_ERROR;
		set_name(out, (const uint8_t *)"");
		return C2W_OK;
	}
	if (rcode == DNS_RCODE_NOERROR &&
	    (dns_get16(msg + DNS_HDR_ANCOUNT) > 0 || (msg[DNS_HDR_FLAGS1] & DNS_FLAG1_TC))) {
		out->kind = DNS_REPLY_ANSWER;
		set_name(out, qname);
		return C2W_OK;
	}
	out->kind = rcode == DNS_RCODE_NXDOMAIN ? DNS_REPLY_NXDOMAIN : DNS_REPLY_NODATA;
	return negative_domain(msg, len, qname, out);
}

int dns_reply_slip(uint8_t *msg, size_t len, bool badcookie)
{
	struct dns_iter it;
	struct dns_rr rr;
	int ret;

	if (len < DNS_HEADER_LEN || dns_iter_init(&it, msg, len) != C2W_OK)
		return C2W_EMALF;
	size_t end = question_end(msg, len);
	if (end == 0)
		end = DNS_HEADER_LEN;
	size_t opt_off = 0, opt_len = 0;
	while ((ret = dns_iter_next(&it, &rr)) == C2W_OK) {
		if (rr.type == DNS_TYPE_OPT && rr.owner_len == 1) {
			opt_len = DNS_OPT_FIXED_LEN + (size_t)rr.rdlen;
			opt_off = (size_t)rr.rdata_off - DNS_OPT_FIXED_LEN;
		}
	}
	if (ret != C2W_ENOENT)
		return C2W_EMALF;
	if (opt_len > 0)
		memmove(msg + end, msg + opt_off, opt_len);
	dns_put16(msg + DNS_HDR_ANCOUNT, 0);
	dns_put16(msg + DNS_HDR_NSCOUNT, 0);
	dns_put16(msg + DNS_HDR_ARCOUNT, opt_len > 0 ? 1 : 0);
	if (badcookie && opt_len > 0) {
		/* RCODE 23: low 4 bits in the header, the rest in the OPT's extended RCODE. */
		msg[DNS_HDR_FLAGS1] &= (uint8_t)~DNS_FLAG1_TC;
		msg[DNS_HDR_FLAGS2] =
		    (uint8_t)((msg[DNS_HDR_FLAGS2] & 0xF0) | (DNS_RCODE_BADCOOKIE & 0x0F));
		msg[end + 5] = (uint8_t)(DNS_RCODE_BADCOOKIE >> 4);
	} else {
		msg[DNS_HDR_FLAGS1] |= DNS_FLAG1_TC;
	}
	return (int)(end + opt_len);
}
