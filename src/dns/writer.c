/* SPDX-License-Identifier: MIT */
/*
 * The record writer: header, question, records with name compression, TTL bookkeeping for
 * the answer cache. Reading messages is iter.c's and msg.c's job; the RDATA layout table
 * lives here because only the writer rewrites names inside RDATA.
 */
#include "dns/writer.h"

#include <string.h>

#include "dns/name.h"
#include "dns/wire.h"

#define PTR_MAX 0x3FFF /* highest offset a compression pointer can reach */

static const uint8_t layout_name_c[] = {DNS_RDF_NAME_C, DNS_RDF_END};
static const uint8_t layout_name[] = {DNS_RDF_NAME, DNS_RDF_END};
static const uint8_t layout_soa[] = {DNS_RDF_NAME_C, DNS_RDF_NAME_C, DNS_RDF_FIX20, DNS_RDF_END};
static const uint8_t layout_two_c[] = {DNS_RDF_NAME_C, DNS_RDF_NAME_C, DNS_RDF_END};
static const uint8_t layout_two[] = {DNS_RDF_NAME, DNS_RDF_NAME, DNS_RDF_END};
static const uint8_t layout_mx[] = {DNS_RDF_FIX2, DNS_RDF_NAME_C, DNS_RDF_END};
static const uint8_t layout_pref_name[] = {DNS_RDF_FIX2, DNS_RDF_NAME, DNS_RDF_END};
static const uint8_t layout_px[] = {DNS_RDF_FIX2, DNS_RDF_NAME, DNS_RDF_NAME, DNS_RDF_END};
static const uint8_t layout_srv[] = {DNS_RDF_FIX6, DNS_RDF_NAME, DNS_RDF_END};

const uint8_t *dns_rdata_layout(uint16_t type)
{
	switch (type) {
	case DNS_TYPE_NS:
	case 3: /* MD */
	case 4: /* MF */
	case DNS_TYPE_CNAME:
	case 7: /* MB */
	case 8: /* MG */
	case 9: /* MR */
	case DNS_TYPE_PTR:
		return layout_name_c;
	case DNS_TYPE_SOA:
		return layout_soa;
	case 14: /* MINFO */
		return layout_two_c;
	case DNS_TYPE_MX:
		return layout_mx;
	case 17: /* RP */
		return layout_two;
	case 18: /* AFSDB */
	case 21: /* RT */
	case 36: /* KX */
		return layout_pref_name;
	case 26: /* PX */
		return layout_px;
	case 33: /* SRV */
		return layout_srv;
	case 39: /* DNAME */
		return layout_name;
	default:
		return NULL;
	}
}

static int fail(struct dns_writer *w, int err)
{
	if (w->err == C2W_OK)
		w->err = err;
	return w->err;
}

/* Does the (possibly compressed) name at @off in our own body equal the wire name @s? */
static bool suffix_match(const uint8_t *wire, size_t off, const uint8_t *s)
{
	size_t p = 0;

	for (unsigned hops = 0; hops < 128;) {
		uint8_t c = wire[off];
		if ((c & 0xC0) == 0xC0) {
			off = (size_t)(c & 0x3F) << 8 | wire[off + 1];
			hops++;
			continue;
		}
		if (c != s[p])
			return false;
		if (c == 0)
			return true;
		for (size_t i = 1; i <= c; i++)
			if (dns_lower_table[wire[off + i]] != dns_lower_table[s[p + i]])
				return false;
		off += (size_t)c + 1;
		p += (size_t)c + 1;
	}
	return false;
}

/* Offset in the body of an earlier copy of @suffix with @labels labels, or 0 if none. */
static size_t comp_find(const struct dns_writer *w, const uint8_t *suffix, unsigned labels)
{
	for (unsigned e = 0; e < w->comp_count; e++)
		if (w->comp_labels[e] == labels &&
		    suffix_match(w->ans->wire, w->comp_off[e], suffix))
			return w->comp_off[e];
	return 0;
}

/* Write wire name @name (valid, uncompressed), compressing it when @compress. */
static int write_name(struct dns_writer *w, const uint8_t *name, bool compress)
{
	size_t lab_off[DNS_NAME_WIRE_MAX / 2 + 1];
	unsigned n = 0;
	size_t p = 0;

	for (; name[p] != 0; p += (size_t)name[p] + 1)
		lab_off[n++] = p;
	/* Longest suffix already in the body: labels [0, cut) are written, then a pointer. */
	unsigned cut = n;
	size_t target = 0;
	for (unsigned i = 0; compress && i < n; i++) {
		target = comp_find(w, name + lab_off[i], n - i);
		if (target != 0) {
			cut = i;
			break;
		}
	}
	size_t prefix_len = cut < n ? lab_off[cut] : p;
	size_t need = prefix_len + (target != 0 ? 2 : 1);
	if (w->pos + need > w->ans->cap)
		return fail(w, C2W_ESPACE);
	for (unsigned j = 0; j < cut; j++) {
		size_t at = w->pos + lab_off[j];
		if (at > PTR_MAX || w->comp_count >= DNS_WRITER_COMP_MAX)
			break;
		w->comp_off[w->comp_count] = (uint16_t)at;
		w->comp_labels[w->comp_count++] = (uint8_t)(n - j);
	}
	memcpy(w->ans->wire + w->pos, name, prefix_len);
	w->pos += prefix_len;
	if (target != 0) {
		dns_put16(w->ans->wire + w->pos, (uint16_t)(0xC000 | target));
		w->pos += 2;
	} else {
		w->ans->wire[w->pos++] = 0;
	}
	return C2W_OK;
}

int dns_writer_init(struct dns_writer *w, struct dns_answer *ans, const struct dns_query *q,
		    uint16_t rcode, bool aa)
{
	w->ans = ans;
	w->pos = DNS_HEADER_LEN;
	w->count[0] = w->count[1] = w->count[2] = 0;
	w->section = DNS_SECTION_ANSWER;
	w->err = C2W_OK;
	w->min_ttl = UINT32_MAX;
	w->have_ttl = false;
	w->ttl_overflow = false;
	w->comp_count = 0;
	ans->len = 0;
	ans->rcode = (uint8_t)(rcode > 255 ? 255 : rcode);
	ans->secure = false;
	ans->dnssec_records = false;
	ans->do_neutral = false;
	ans->ttl_count = 0;
	ans->min_ttl = 0;
	ans->ede_code = DNS_EDE_NONE;
	ans->ede_text[0] = 0;
	if (ans->cap < DNS_HEADER_LEN)
		return fail(w, C2W_ESPACE);
	uint8_t *h = ans->wire;
	memset(h, 0, DNS_HEADER_LEN);
	h[DNS_HDR_FLAGS1] = DNS_FLAG1_QR | (aa ? DNS_FLAG1_AA : 0);
	h[DNS_HDR_FLAGS2] = (uint8_t)(rcode & 0x0F);
	if (q == NULL || !q->has_question)
		return C2W_OK;
	if (w->pos + q->qname_len + 4u > ans->cap)
		return fail(w, C2W_ESPACE);
	int ret = write_name(w, q->qname, false);
	if (ret != C2W_OK)
		return ret;
	dns_put16(h + w->pos, q->qtype);
	dns_put16(h + w->pos + 2, q->qclass);
	w->pos += 4;
	dns_put16(h + DNS_HDR_QDCOUNT, 1);
	return C2W_OK;
}

/* Copy RDATA per its layout; @names_ptr: names may be compressed against @src. */
static int write_rdata(struct dns_writer *w, uint16_t type, const uint8_t *src, size_t src_len,
		       size_t off, uint16_t rdlen, bool names_ptr)
{
	const uint8_t *lay = dns_rdata_layout(type);
	size_t end = off + rdlen;

	if (end > src_len)
		return fail(w, C2W_EMALF);
	if (lay == NULL) {
		if ((type == DNS_TYPE_A && rdlen != 4) || (type == DNS_TYPE_AAAA && rdlen != 16))
			return fail(w, C2W_EMALF);
		if (w->pos + rdlen > w->ans->cap)
			return fail(w, C2W_ESPACE);
		memcpy(w->ans->wire + w->pos, src + off, rdlen);
		w->pos += rdlen;
		return C2W_OK;
	}
	size_t p = off;
	for (; *lay != DNS_RDF_END; lay++) {
		if (*lay == DNS_RDF_NAME || *lay == DNS_RDF_NAME_C) {
			uint8_t name[DNS_NAME_WIRE_MAX];
			size_t nlen;
			if (names_ptr) {
				if (dns_name_unpack(src, end, &p, name, &nlen) != C2W_OK)
					return fail(w, C2W_EMALF);
			} else {
				int l = dns_name_wire_len(src + p, end - p);
				if (l < 0)
					return fail(w, C2W_EMALF);
				memcpy(name, src + p, (size_t)l);
				p += (size_t)l;
			}
			int ret = write_name(w, name, *lay == DNS_RDF_NAME_C);
			if (ret != C2W_OK)
				return ret;
			continue;
		}
		size_t n = *lay == DNS_RDF_FIX2 ? 2 : *lay == DNS_RDF_FIX6 ? 6 : 20;
		if (p + n > end)
			return fail(w, C2W_EMALF);
		if (w->pos + n > w->ans->cap)
			return fail(w, C2W_ESPACE);
		memcpy(w->ans->wire + w->pos, src + p, n);
		w->pos += n;
		p += n;
	}
	if (p != end)
		return fail(w, C2W_EMALF);
	return C2W_OK;
}

static void note_ttl(struct dns_writer *w, enum dns_section sec, uint16_t type, uint32_t ttl,
		     size_t ttl_at)
{
	struct dns_answer *a = w->ans;

	if (sec == DNS_SECTION_AUTHORITY && type == DNS_TYPE_SOA) {
		/* RFC 2308 5: negative answers live min(SOA TTL, SOA MINIMUM). */
		uint32_t minimum = dns_get32(a->wire + w->pos - 4);
		if (minimum < ttl)
			ttl = minimum;
	}
	if (ttl < w->min_ttl)
		w->min_ttl = ttl;
	w->have_ttl = true;
	if (a->ttl_count >= DNS_ANSWER_TTLS) {
		w->ttl_overflow = true;
		return;
	}
	a->ttl_off[a->ttl_count++] = (uint16_t)ttl_at;
}

static int add_rr(struct dns_writer *w, enum dns_section sec, const uint8_t *owner, uint16_t type,
		  uint16_t rclass, uint32_t ttl, const uint8_t *src, size_t src_len, size_t rd_off,
		  uint16_t rdlen, bool names_ptr)
{
	if (w->err != C2W_OK)
		return w->err;
	if ((int)sec < w->section || sec > DNS_SECTION_ADDITIONAL)
		return fail(w, C2W_EINVAL);
	if (dns_name_wire_len(owner, DNS_NAME_WIRE_MAX) < 0)
		return fail(w, C2W_EMALF);
	if (w->count[sec] == UINT16_MAX)
		return fail(w, C2W_ESPACE);
	w->section = (int)sec;
	int ret = write_name(w, owner, true);
	if (ret != C2W_OK)
		return ret;
	if (w->pos + 10 > w->ans->cap)
		return fail(w, C2W_ESPACE);
	if (ttl > INT32_MAX)
		ttl = 0; /* RFC 2181 8 */
	uint8_t *p = w->ans->wire + w->pos;
	size_t ttl_at = w->pos + 4;
	dns_put16(p, type);
	dns_put16(p + 2, rclass);
	dns_put32(p + 4, ttl);
	w->pos += 10;
	size_t rd_start = w->pos;
	ret = write_rdata(w, type, src, src_len, rd_off, rdlen, names_ptr);
	if (ret != C2W_OK)
		return ret;
	dns_put16(w->ans->wire + rd_start - 2, (uint16_t)(w->pos - rd_start));
	w->count[sec]++;
	note_ttl(w, sec, type, ttl, ttl_at);
	return C2W_OK;
}

int dns_writer_add_rr(struct dns_writer *w, enum dns_section sec, const uint8_t *owner,
		      uint16_t type, uint16_t rclass, uint32_t ttl, const uint8_t *rdata,
		      uint16_t rdlen)
{
	return add_rr(w, sec, owner, type, rclass, ttl, rdata, rdlen, 0, rdlen, false);
}

int dns_writer_copy_rr(struct dns_writer *w, enum dns_section sec, const uint8_t *owner,
		       uint16_t type, uint16_t rclass, uint32_t ttl, const uint8_t *pkt,
		       size_t pkt_len, size_t rd_off, uint16_t rdlen)
{
	return add_rr(w, sec, owner, type, rclass, ttl, pkt, pkt_len, rd_off, rdlen, true);
}

int dns_writer_finish(struct dns_writer *w)
{
	struct dns_answer *a = w->ans;

	if (w->err != C2W_OK)
		return w->err;
	dns_put16(a->wire + DNS_HDR_ANCOUNT, w->count[0]);
	dns_put16(a->wire + DNS_HDR_NSCOUNT, w->count[1]);
	dns_put16(a->wire + DNS_HDR_ARCOUNT, w->count[2]);
	a->len = (uint16_t)w->pos;
	a->min_ttl = w->have_ttl ? w->min_ttl : 0;
	if (w->ttl_overflow) {
		a->ttl_count = 0;
		a->min_ttl = 0;
		return C2W_ESPACE;
	}
	return C2W_OK;
}
