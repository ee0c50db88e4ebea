/* SPDX-License-Identifier: MIT */
/*
 * Fuzz dns_answer_from_upstream() with arbitrary bytes as the upstream reply, then cache and
 * render the body and check our own parser reads every rendered response back, names in
 * RDATA included. The query is taken from the input's question when it has one.
 */
#include <stdlib.h>
#include <string.h>

#include "dns/iter.h"
#include "dns/msg.h"
#include "dns/name.h"
#include "dns/pcache.h"
#include "dns/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_response(const uint8_t *out, int len, size_t max)
{
	struct dns_iter it;
	struct dns_rr rr;
	uint8_t name[DNS_NAME_WIRE_MAX];
	size_t nlen;
	int ret;

	if (len < 0)
		return;
	if ((size_t)len > max || len < DNS_HEADER_LEN || dns_iter_init(&it, out, (size_t)len) != 0)
		abort();
	while ((ret = dns_iter_next(&it, &rr)) == C2W_OK) {
		/* Names we wrote into RDATA must read back (writer compression is sound). */
		if ((rr.type == DNS_TYPE_CNAME || rr.type == DNS_TYPE_NS ||
		     rr.type == DNS_TYPE_PTR) &&
		    dns_iter_rdata_name(&it, &rr, 0, name, &nlen) != C2W_OK)
			abort();
		if (rr.type == DNS_TYPE_MX &&
		    dns_iter_rdata_name(&it, &rr, 2, name, &nlen) != C2W_OK)
			abort();
	}
	if (ret != C2W_ENOENT || it.pos != (size_t)len)
		abort();
}

/* A query with the input's question, or a fixed one. */
static void make_query(const uint8_t *data, size_t size, struct dns_query *q, uint8_t *pkt)
{
	static const uint8_t fixed[] = {0,   1,   1,   0,   0,    1,   0,   0,    0,   0,   0,
					1,   3,   'w', 'w', 'w',  7,   'e', 'x',  'a', 'm', 'p',
					'l', 'e', 3,   'c', 'o',  'm', 0,   0,    1,   0,   1,
					0,   0,   41,  4,   0xD0, 0,   0,   0x80, 0,   0,   0};
	struct dns_iter it;

	if (size >= DNS_HEADER_LEN && data[4] == 0 && data[5] == 1 &&
	    dns_iter_init(&it, data, size) == C2W_OK && it.pos <= 12 + 255 + 4) {
		memcpy(pkt, data, it.pos);
		pkt[2] &= 0x7F;
		memset(pkt + 6, 0, 6);
		if (dns_query_parse(pkt, it.pos, q) == C2W_OK)
			return;
	}
	if (dns_query_parse(fixed, sizeof(fixed), q) != C2W_OK)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dns_pcache *cache;
	struct dns_query q;
	uint8_t qpkt[300], wire[4096], out[4096];
	struct dns_answer ans = {.wire = wire, .cap = sizeof(wire)}, hit;
	uint32_t age;

	if (cache == NULL && (cache = dns_pcache_new(64, 4096)) == NULL)
		abort();
	make_query(data, size, &q, qpkt);
	for (int keep = 0; keep < 2; keep++) {
		int ret = dns_answer_from_upstream(&q, data, size, keep, keep, &ans);
		if (ret != C2W_OK && !(ret == C2W_ESPACE && ans.len > 0))
			continue;
		if (ans.len > ans.cap || ans.ttl_count > DNS_ANSWER_TTLS)
			abort();
		for (unsigned i = 0; i < ans.ttl_count; i++)
			if (ans.ttl_off[i] + 4u > ans.len)
				abort();
		check_response(wire, ans.len, ans.cap);
		static const size_t limits[] = {12, 100, 512, 1232, 65535};
		for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
			int len =
			    dns_answer_render(&q, &ans, 30, 1232, limits[i], out, sizeof(out));
			check_response(out, len, limits[i]);
		}
		dns_pcache_store(cache, &q, &ans, 100);
		if (dns_pcache_lookup(cache, &q, 101, &hit, &age)) {
			int len = dns_answer_render(&q, &hit, age, 1232, 1232, out, sizeof(out));
			check_response(out, len, 1232);
		}
	}
	return 0;
}
