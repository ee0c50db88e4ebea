/* SPDX-License-Identifier: MIT */
/*
 * Rewritten answers, as BIND 9 gives them for RPZ: NXDOMAIN/NODATA with no records, CNAME
 * rewrites, local data per type, sinkhole addresses, and the policy zone's SOA in the
 * additional section (BIND's add-soa). Never AD; EDE 15/17 naming the zone (RFC 8914).
 */
#include <stdio.h>
#include <string.h>

#include "dns/name.h"
#include "dns/writer.h"
#include "policy/match_int.h"

static uint32_t soa_neg_ttl(const struct img_zone *z, const uint8_t *soa)
{
	uint32_t min = z->soa_ttl;
	if (z->soa_len >= 20) {
		const uint8_t *p = soa + z->soa_len - 4;
		uint32_t m = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
		if (m < min)
			min = m;
	}
	return min;
}

/* Copy the CNAME records of @up leading from the query name to chain position @pos. */
static int copy_chain(struct dns_writer *w, const struct dns_query *q, const uint8_t *up,
		      size_t up_len, unsigned pos, uint8_t *owner)
{
	size_t p = DNS_HEADER_LEN, nl;
	uint8_t name[DNS_NAME_WIRE_MAX];
	unsigned done = 0;

	memcpy(owner, q->qname, q->qname_len);
	if (up == NULL || up_len < DNS_HEADER_LEN)
		return C2W_EINVAL;
	unsigned qd = (unsigned)(up[4] << 8 | up[5]), an = (unsigned)(up[6] << 8 | up[7]);
	for (unsigned i = 0; i < qd; i++) {
		if (dns_name_unpack(up, up_len, &p, name, &nl) != C2W_OK || p + 4 > up_len)
			return C2W_EMALF;
		p += 4;
	}
	for (unsigned i = 0; i < an && done < pos; i++) {
		if (dns_name_unpack(up, up_len, &p, name, &nl) != C2W_OK || p + 10 > up_len)
			return C2W_EMALF;
		uint16_t type = (uint16_t)(up[p] << 8 | up[p + 1]);
		uint32_t ttl = (uint32_t)up[p + 4] << 24 | (uint32_t)up[p + 5] << 16 |
			       (uint32_t)up[p + 6] << 8 | up[p + 7];
		uint16_t rdlen = (uint16_t)(up[p + 8] << 8 | up[p + 9]);
		size_t rd = p + 10;
		if (rd + rdlen > up_len)
			return C2W_EMALF;
		p = rd + rdlen;
		dns_name_lower(name);
		if (type == DNS_TYPE_DNAME && dns_name_subdomain(owner, name) > 0) {
			/* A DNAME stays with the CNAME synthesized from it (RFC 6672 5.2). */
			int ret = dns_writer_copy_rr(w, DNS_SECTION_ANSWER, name, DNS_TYPE_DNAME,
						     DNS_CLASS_IN, ttl, up, up_len, rd, rdlen);
			if (ret != C2W_OK)
				return ret;
			continue;
		}
		if (type != DNS_TYPE_CNAME || !dns_name_equal(name, owner))
			continue;
		int ret = dns_writer_copy_rr(w, DNS_SECTION_ANSWER, owner, DNS_TYPE_CNAME,
					     DNS_CLASS_IN, ttl, up, up_len, rd, rdlen);
		if (ret != C2W_OK)
			return ret;
		size_t t = rd;
		if (dns_name_unpack(up, up_len, &t, owner, &nl) != C2W_OK)
			return C2W_EMALF;
		dns_name_lower(owner);
		done++;
	}
	return done == pos ? C2W_OK : C2W_EMALF;
}

/* Local data of the query type (ANY: all). @return records written, or an error. */
static int local_data(struct dns_writer *w, const struct dns_query *q, const uint8_t *owner,
		      const struct img_data *d)
{
	const uint8_t *p = (const uint8_t *)(d + 1);
	int written = 0;

	for (unsigned i = 0; i < d->rr_count; i++) {
		uint16_t type, rdlen;
		memcpy(&type, p, 2);
		memcpy(&rdlen, p + 2, 2);
		const uint8_t *rdata = p + 4;
		p += 4 + rdlen;
		if (type != q->qtype && q->qtype != DNS_TYPE_ANY)
			continue;
		int ret = dns_writer_add_rr(w, DNS_SECTION_ANSWER, owner, type, DNS_CLASS_IN,
					    d->ttl, rdata, rdlen);
		if (ret != C2W_OK)
			return ret;
		written++;
	}
	return written;
}

/* CNAME target: rule data (or the zone override), with the "*." form expanded. */
static int cname_target(const struct policy_snap *s, const struct img_zone *z,
			const struct img_data *d, const struct policy_hit *hit,
			const uint8_t *owner, uint8_t *out, size_t *out_len)
{
	const uint8_t *t;
	size_t tl;

	if (z->override == POLICY_OVERRIDE_CNAME) {
		t = (const uint8_t *)img_str(s, z->cname_off);
		if (hit->action == POLICY_ACTION_CNAME_WILD)
			t += 2; /* skip the "*" label */
	} else if (d->rr_count > 0) {
		t = (const uint8_t *)(d + 1) + 4;
	} else {
		return C2W_EINVAL;
	}
	tl = (size_t)dns_name_wire_len(t, DNS_NAME_WIRE_MAX);
	if (hit->action != POLICY_ACTION_CNAME_WILD) {
		memcpy(out, t, tl);
		*out_len = tl;
		return C2W_OK;
	}
	int ol = dns_name_wire_len(owner, DNS_NAME_WIRE_MAX);
	if (ol < 1 || (size_t)ol - 1 + tl > DNS_NAME_WIRE_MAX)
		return C2W_ENAME;
	memcpy(out, owner, (size_t)ol - 1);
	memcpy(out + ol - 1, t, tl);
	*out_len = (size_t)ol - 1 + tl;
	return C2W_OK;
}

int policy_answer_build(const struct policy_snap *s, const struct dns_query *q,
			const struct policy_hit *hit, const uint8_t *up, size_t up_len,
			struct dns_answer *ans)
{
	struct dns_writer w;
	uint8_t owner[DNS_NAME_WIRE_MAX], target[DNS_NAME_WIRE_MAX];
	size_t tl;
	int ret;

	switch (hit->action) {
	case POLICY_ACTION_NONE:
	case POLICY_ACTION_PASSTHRU:
	case POLICY_ACTION_DROP:
	case POLICY_ACTION_TCP_ONLY: return C2W_EINVAL;
	default: break;
	}
	const struct policy_snap *src;
	const struct img_slot *sl = policy_img_rule_slot(s, hit->rule, &src);
	if (hit->zone >= s->hdr->zone_count || sl == NULL)
		return C2W_EINVAL;
	const struct img_zone *z = &s->zones[hit->zone];
	const struct img_data *d = img_data_at(src, sl->data_off);
	uint16_t rcode = hit->action == POLICY_ACTION_NXDOMAIN ? DNS_RCODE_NXDOMAIN
							       : DNS_RCODE_NOERROR;
	ret = dns_writer_init(&w, ans, q, rcode, false);
	if (ret != C2W_OK)
		return ret;
	memcpy(owner, q->qname, q->qname_len);
	if (hit->chain_pos > 0) {
		ret = copy_chain(&w, q, up, up_len, hit->chain_pos, owner);
		if (ret != C2W_OK)
			return ret == C2W_ESPACE ? ret : C2W_EINVAL;
	}
	switch (hit->action) {
	case POLICY_ACTION_CNAME:
	case POLICY_ACTION_CNAME_WILD:
		ret = cname_target(s, z, d, hit, owner, target, &tl);
		if (ret == C2W_ENAME) {
			/* BIND answers YXDOMAIN-like failures as NXDOMAIN; the name cannot exist. */
			ans->wire[3] = (uint8_t)((ans->wire[3] & 0xf0) | DNS_RCODE_NXDOMAIN);
			break;
		}
		if (ret != C2W_OK)
			return ret;
		ret = dns_writer_add_rr(&w, DNS_SECTION_ANSWER, owner, DNS_TYPE_CNAME, DNS_CLASS_IN,
					hit->ttl, target, (uint16_t)tl);
		if (ret != C2W_OK)
			return ret;
		break;
	case POLICY_ACTION_LOCAL_DATA:
		ret = local_data(&w, q, owner, d);
		if (ret < 0)
			return ret;
		break;
	case POLICY_ACTION_SINKHOLE:
		if (q->qtype == DNS_TYPE_A && z->has4)
			ret = dns_writer_add_rr(&w, DNS_SECTION_ANSWER, owner, DNS_TYPE_A,
						DNS_CLASS_IN, hit->ttl, z->s4, 4);
		else if (q->qtype == DNS_TYPE_AAAA && z->has6)
			ret = dns_writer_add_rr(&w, DNS_SECTION_ANSWER, owner, DNS_TYPE_AAAA,
						DNS_CLASS_IN, hit->ttl, z->s6, 16);
		if (ret != C2W_OK)
			return ret;
		break;
	default: /* NXDOMAIN, NODATA: no records */
		break;
	}
	const uint8_t *soa = (const uint8_t *)img_str(s, z->soa_off);
	const uint8_t *origin = (const uint8_t *)img_str(s, z->origin_off);
	ret = dns_writer_add_rr(&w, DNS_SECTION_ADDITIONAL, origin, DNS_TYPE_SOA, DNS_CLASS_IN,
				soa_neg_ttl(z, soa), soa, (uint16_t)z->soa_len);
	if (ret != C2W_OK)
		return ret;
	ret = dns_writer_finish(&w);
	if (ret != C2W_OK)
		return ret;
	ans->secure = false;
	ans->ede_code = hit->ede_code;
	snprintf(ans->ede_text, sizeof(ans->ede_text), "blocked by policy zone %s",
		 img_str(s, z->name_off));
	return C2W_OK;
}
