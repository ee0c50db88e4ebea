/* SPDX-License-Identifier: MIT */
/*
 * Replay a dnsperf -B query file (bench/gen_zipf.py) through the answer cache alone, with no
 * network and no resolver: every miss stores an answer of the size its type would have, and
 * the hit ratio for a given memory budget is printed. Deterministic: it measures the cache's
 * policy, not the machine. Built and run by bench/pcache_replay.sh, which also builds it against
 * an older src/dns/pcache.c (-DPCACHE_SLOTS: the fixed-slot API) for a before/after figure.
 *
 *   pcache_replay FILE MIB [QPS]   (QPS: simulated rate, default 20000, for TTL ageing)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/msg.h"
#include "dns/pcache.h"
#include "dns/writer.h"

static int answer_for(const struct dns_query *q, struct dns_answer *ans)
{
	struct dns_writer w;
	uint8_t rdata[64];
	size_t rlen;

	memset(rdata, 7, sizeof(rdata));
	switch (q->qtype) {
	case 1: rlen = 4; break;   /* A */
	case 28: rlen = 16; break; /* AAAA */
	case 65: rlen = 14; break; /* HTTPS 1 . alpn=h2,h3 */
	case 16: rlen = 12; break; /* TXT */
	case 15: rlen = 22; break; /* MX 10 mx.bench.example. */
	default: rlen = 20; break; /* PTR host.bench.example. */
	}
	if (dns_writer_init(&w, ans, q, 0, false) != C2W_OK ||
	    dns_writer_add_rr(&w, DNS_SECTION_ANSWER, q->qname, q->qtype, 1, 86400, rdata, rlen) !=
		C2W_OK ||
	    dns_writer_finish(&w) != C2W_OK)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: pcache_replay FILE MIB [QPS]\n");
		return 2;
	}
	FILE *f = fopen(argv[1], "rb");
	size_t mib = strtoul(argv[2], NULL, 10);
	unsigned long qps = argc > 3 ? strtoul(argv[3], NULL, 10) : 20000;
	if (f == NULL || mib == 0 || qps == 0) {
		fprintf(stderr, "pcache_replay: bad arguments\n");
		return 2;
	}
#ifdef PCACHE_SLOTS
	/* The fixed-slot cache: slots of about 2 KiB (sizeof(entry) + 1232, rounded to 64). */
	struct dns_pcache *c = dns_pcache_new((unsigned)(mib * 1024 / 2), 1232);
#else
	struct dns_pcache *c = dns_pcache_new(mib << 20, 1232);
#endif
	static uint8_t pkt[65536], buf[1232];
	struct dns_answer ans = {.wire = buf, .cap = sizeof(buf)}, hit;
	struct dns_query q;
	unsigned long n = 0, hits = 0;
	uint32_t age;
	uint8_t lenb[2];

	while (c != NULL && fread(lenb, 1, 2, f) == 2) {
		size_t len = (size_t)lenb[0] << 8 | lenb[1];
		if (fread(pkt, 1, len, f) != len)
			break;
		if (dns_query_parse(pkt, len, &q) != C2W_OK)
			continue;
		uint64_t now = 1000 + n / qps;
		n++;
		if (dns_pcache_lookup(c, &q, now, &hit, &age)) {
			hits++;
			continue;
		}
		if (answer_for(&q, &ans) == 0)
			dns_pcache_store(c, &q, &ans, now);
	}
	fclose(f);
	dns_pcache_free(c);
	printf("%lu queries, %lu hits, hit ratio %.4f\n", n, hits, n ? (double)hits / n : 0.0);
	return 0;
}
