/* SPDX-License-Identifier: MIT */
/*
 * Replay a dnsperf -B query file (bench/gen_zipf.py) through the answer cache alone, with no
 * network and no resolver: every miss stores an answer of the size its type would have, and
 * the hit ratio for a given memory budget is printed. Deterministic: it measures the cache's
 * policy, not the machine. Built and run by bench/pcache_replay.sh, which also builds it against
 * an older src/dns/pcache.c (-DPCACHE_SLOTS: the fixed-slot API; -DPCACHE_NO_DO_NEUTRAL: before
 * dns_answer.do_neutral) for a before/after figure.
 *
 *   pcache_replay FILE MIB [QPS [PASSES]]
 *
 * QPS: simulated rate, default 20000, for TTL ageing. PASSES: times the file is replayed
 * (default 1), as dnsperf loops over it; the hit ratio of the last pass is printed too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/msg.h"
#include "dns/pcache.h"
#include "dns/writer.h"

/* An answer of the size and form its type has in the benchmark's zone (bench/gen_zipf.py):
 * names in RDATA must be real names, or the writer refuses the record. */
/* The zones are unsigned: dns_answer_from_upstream() marks such answers DO-neutral. A tree
 * before that flag existed is built with -DPCACHE_NO_DO_NEUTRAL. */
#ifdef PCACHE_NO_DO_NEUTRAL
#define MARK_DO_NEUTRAL(ans) ((void)(ans))
#else
#define MARK_DO_NEUTRAL(ans) ((ans)->do_neutral = true)
#endif

static int answer_for(const struct dns_query *q, struct dns_answer *ans)
{
	static const uint8_t a[4] = {203, 0, 113, 7}, aaaa[16] = {0x20, 0x01, 0x0d, 0xb8, 7},
			     https[14] = {0, 1, 0, 0, 1, 0, 6, 2, 'h', '2', 2, 'h', '3', 0},
			     txt[12] = {11, 'v', '=', 's', 'p', 'f', '1', ' ', '-', 'a', 'l', 'l'},
			     mx[20] = {0,   10, 2,   'm', 'x', 5,   'b', 'e', 'n', 'c',
				       'h', 7,  'e', 'x', 'a', 'm', 'p', 'l', 'e', 0},
			     ptr[20] = {4,   'h', 'o', 's', 't', 5,   'b', 'e', 'n', 'c',
					'h', 7,   'e', 'x', 'a', 'm', 'p', 'l', 'e', 0};
	/* ID.nxK.bench.example.: NXDOMAIN with the zone's SOA (compressed against the question) */
	static const uint8_t soa_owner[] = {5,   'b', 'e', 'n', 'c', 'h', 7, 'e',
					    'x', 'a', 'm', 'p', 'l', 'e', 0},
			     soa[] = {2, 'n', 's', 0xc0, 0,  2,   'h', 'm', 0xc0, 0,
				      0, 0,   0,   1,    0,  0,   14,  16,  0,    0,
				      7, 8,   0,   9,    58, 128, 0,   0,   1,    44};
	const uint8_t *rdata;
	size_t rlen;
	struct dns_writer w;
	size_t l2 = (size_t)q->qname[0] + 1;

	if (l2 + 3 < q->qname_len && q->qname[l2] >= 3 && q->qname[l2 + 1] == 'n' &&
	    q->qname[l2 + 2] == 'x') {
		/* The writer lays SOA RDATA out by name, so give it uncompressed names. */
		static uint8_t soa_rd[64];
		size_t k = 0;
		memcpy(soa_rd + k, "\x02ns", 3), k += 3;
		memcpy(soa_rd + k, soa_owner, sizeof(soa_owner)), k += sizeof(soa_owner);
		memcpy(soa_rd + k, "\x02hm", 3), k += 3;
		memcpy(soa_rd + k, soa_owner, sizeof(soa_owner)), k += sizeof(soa_owner);
		memcpy(soa_rd + k, soa + 10, 20), k += 20;
		if (dns_writer_init(&w, ans, q, 3, false) != C2W_OK ||
		    dns_writer_add_rr(&w, DNS_SECTION_AUTHORITY, soa_owner, 6, 1, 3600, soa_rd,
				      k) != C2W_OK ||
		    dns_writer_finish(&w) != C2W_OK)
			return -1;
		MARK_DO_NEUTRAL(ans);
		return 0;
	}
	const struct {
		uint16_t type, len;
		const uint8_t *rdata;
	} by_type[] = {{1, sizeof(a), a},
		       {28, sizeof(aaaa), aaaa},
		       {65, sizeof(https), https},
		       {16, sizeof(txt), txt},
		       {15, sizeof(mx), mx}};
	rdata = ptr, rlen = sizeof(ptr); /* PTR, and any other type */
	for (size_t i = 0; i < sizeof(by_type) / sizeof(by_type[0]); i++)
		if (by_type[i].type == q->qtype)
			rdata = by_type[i].rdata, rlen = by_type[i].len;
	if (dns_writer_init(&w, ans, q, 0, false) != C2W_OK ||
	    dns_writer_add_rr(&w, DNS_SECTION_ANSWER, q->qname, q->qtype, 1, 86400, rdata, rlen) !=
		C2W_OK ||
	    dns_writer_finish(&w) != C2W_OK)
		return -1;
	MARK_DO_NEUTRAL(ans);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: pcache_replay FILE MIB [QPS [PASSES]]\n");
		return 2;
	}
	FILE *f = fopen(argv[1], "rb");
	size_t mib = strtoul(argv[2], NULL, 10);
	unsigned long qps = argc > 3 ? strtoul(argv[3], NULL, 10) : 20000;
	unsigned long passes = argc > 4 ? strtoul(argv[4], NULL, 10) : 1;
	if (f == NULL || mib == 0 || qps == 0 || passes == 0) {
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
	unsigned long n = 0, hits = 0, last_n = 0, last_hits = 0, unanswered = 0;
	uint32_t age;
	uint8_t lenb[2];

	for (unsigned long pass = 0; c != NULL && pass < passes; pass++) {
		last_n = last_hits = 0;
		rewind(f);
		while (fread(lenb, 1, 2, f) == 2) {
			size_t len = (size_t)lenb[0] << 8 | lenb[1];
			if (fread(pkt, 1, len, f) != len)
				break;
			if (dns_query_parse(pkt, len, &q) != C2W_OK)
				continue;
			uint64_t now = 1000 + n / qps;
			n++;
			last_n++;
			if (dns_pcache_lookup(c, &q, now, &hit, &age)) {
				hits++;
				last_hits++;
				continue;
			}
			if (answer_for(&q, &ans) == 0)
				dns_pcache_store(c, &q, &ans, now);
		}
	}
	fclose(f);
	dns_pcache_free(c);
	printf("%lu queries, %lu hits, hit ratio %.4f", n, hits, n ? (double)hits / n : 0.0);
	if (unanswered > 0)
		printf(" (%lu misses had no answer to store)", unanswered);
	if (passes > 1)
		printf("; last pass %.4f", last_n ? (double)last_hits / last_n : 0.0);
	printf("\n");
	return 0;
}
