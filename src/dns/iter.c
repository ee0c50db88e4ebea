/* SPDX-License-Identifier: MIT */
/*
 * The record iterator: walks the sections of a message in place. Header and question
 * semantics (what a valid query is) are msg.c's; this only knows the record framing.
 */
#include "dns/iter.h"

#include "dns/wire.h"

int dns_iter_init(struct dns_iter *it, const uint8_t *pkt, size_t len)
{
	it->pkt = pkt;
	it->len = len;
	it->section = DNS_SECTION_ANSWER;
	it->left[0] = it->left[1] = it->left[2] = 0;
	it->pos = len;
	if (len < DNS_HEADER_LEN)
		return C2W_EMALF;
	size_t pos = DNS_HEADER_LEN;
	uint16_t qd = dns_get16(pkt + DNS_HDR_QDCOUNT);
	for (uint16_t i = 0; i < qd; i++) {
		uint8_t name[DNS_NAME_WIRE_MAX];
		size_t nlen;
		if (dns_name_unpack(pkt, len, &pos, name, &nlen) != C2W_OK || pos + 4 > len)
			return C2W_EMALF;
		pos += 4;
	}
	it->pos = pos;
	it->left[0] = dns_get16(pkt + DNS_HDR_ANCOUNT);
	it->left[1] = dns_get16(pkt + DNS_HDR_NSCOUNT);
	it->left[2] = dns_get16(pkt + DNS_HDR_ARCOUNT);
	return C2W_OK;
}

int dns_iter_next(struct dns_iter *it, struct dns_rr *rr)
{
	if (it->section < 0)
		return C2W_EMALF;
	while (it->section <= DNS_SECTION_ADDITIONAL && it->left[it->section] == 0)
		it->section++;
	if (it->section > DNS_SECTION_ADDITIONAL)
		return C2W_ENOENT;
	size_t pos = it->pos, nlen;
	if (dns_name_unpack(it->pkt, it->len, &pos, rr->owner, &nlen) != C2W_OK ||
	    pos + 10 > it->len)
		goto out_malformed;
	const uint8_t *p = it->pkt + pos;
	rr->section = (enum dns_section)it->section;
	rr->owner_len = (uint8_t)nlen;
	rr->type = dns_get16(p);
	rr->rclass = dns_get16(p + 2);
	rr->ttl = dns_get32(p + 4);
	rr->rdlen = dns_get16(p + 8);
	rr->ttl_off = (uint16_t)(pos + 4);
	rr->rdata_off = (uint16_t)(pos + 10);
	if (pos + 10 + rr->rdlen > it->len || pos + 10 > UINT16_MAX)
		goto out_malformed;
	it->pos = pos + 10 + rr->rdlen;
	it->left[it->section]--;
	return C2W_OK;
out_malformed:
	it->section = -1; /* sticky */
	return C2W_EMALF;
}

int dns_iter_rdata_name(const struct dns_iter *it, const struct dns_rr *rr, size_t skip,
			uint8_t *out, size_t *out_len)
{
	size_t end = (size_t)rr->rdata_off + rr->rdlen;
	size_t pos = (size_t)rr->rdata_off + skip;

	if (end > it->len || pos >= end)
		return C2W_EMALF;
	return dns_name_unpack(it->pkt, end, &pos, out, out_len) == C2W_OK ? C2W_OK : C2W_EMALF;
}
