/* SPDX-License-Identifier: MIT */
/*
 * Building answer bodies record by record, with our own name compression (RFC 1035 4.1.4).
 * dns_answer_from_upstream() and dns_answer_empty() use it; the policy engine uses it to
 * synthesize local data (sinkhole A/AAAA, CNAME, NODATA with SOA). The body it produces is a
 * struct dns_answer ready for dns_answer_render() and the answer cache. No allocation: the
 * writer lives on the caller's stack and writes into ans->wire.
 */
#ifndef C2W_DNS_WRITER_H
#define C2W_DNS_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "dns/msg.h"

/* Name suffixes remembered for compression; names beyond that are written in full. */
#define DNS_WRITER_COMP_MAX 64

/** Writer state. Fields are private to writer.c; the caller only provides the storage. */
struct dns_writer {
	struct dns_answer *ans;
	size_t pos;        /* next byte to write in ans->wire */
	uint16_t count[3]; /* records per section */
	int section;       /* last section written to; sections go in order */
	int err;           /* first error, sticky: later calls do nothing */
	uint32_t min_ttl;
	bool have_ttl;
	bool ttl_overflow; /* more records than DNS_ANSWER_TTLS */
	uint16_t comp_count;
	uint16_t comp_off[DNS_WRITER_COMP_MAX];   /* where a name suffix starts in ans->wire */
	uint8_t comp_labels[DNS_WRITER_COMP_MAX]; /* its label count (cheap pre-filter) */
};

/**
 * Start a body: header (QR=1, @rcode, AA when @aa, ID 0) and @q's question in canonical
 * form (omitted, QDCOUNT 0, when @q has none). Resets ans->len, ttl_count, min_ttl, ede_code
 * (DNS_EDE_NONE), secure, dnssec_records and do_neutral.
 *
 * @param w      out: writer, caller's storage
 * @param ans    body to fill; ans->wire and ans->cap set by the caller; kept by @w until
 *               dns_writer_finish()
 * @param q      the query answered, borrowed for the call
 * @param rcode  0..4095; values above 15 (BADVERS) are completed by the OPT at render time
 * @param aa     authoritative answer flag
 * @return C2W_OK or C2W_ESPACE (ans->cap cannot hold header and question)
 */
C2W_NODISCARD int dns_writer_init(struct dns_writer *w, struct dns_answer *ans,
				  const struct dns_query *q, uint16_t rcode, bool aa);

/**
 * Append one record. Sections must be written in order (answer, authority, additional).
 * The owner name and the names inside NS, CNAME, PTR, MX, SOA (and the other RFC 1035 types)
 * RDATA are compressed against what is already in the body; names in RP, AFSDB, RT, PX, KX,
 * SRV and DNAME RDATA are written in full. A TTL with the top bit set counts as 0 (RFC 2181
 * 8). An SOA in the authority section counts toward min_ttl as min(TTL, MINIMUM) (RFC 2308 5).
 *
 * @param owner  uncompressed wire name, borrowed for the call
 * @param rdata  RDATA with uncompressed names, borrowed for the call
 * @return C2W_OK; C2W_ESPACE (body full); C2W_EMALF (bad owner, RDATA does not match
 *         @type's layout, A not 4 or AAAA not 16 bytes); C2W_EINVAL (section out of order).
 *         Any error is sticky: the body is unusable until dns_writer_init() again.
 */
C2W_NODISCARD int dns_writer_add_rr(struct dns_writer *w, enum dns_section sec,
				    const uint8_t *owner, uint16_t type, uint16_t rclass,
				    uint32_t ttl, const uint8_t *rdata, uint16_t rdlen);

/**
 * Like dns_writer_add_rr() but the RDATA sits at @rd_off in another message @pkt and its
 * names may be compressed against @pkt (they are decompressed, then re-compressed here).
 *
 * @param pkt  the source message, borrowed for the call
 * @return as dns_writer_add_rr()
 */
C2W_NODISCARD int dns_writer_copy_rr(struct dns_writer *w, enum dns_section sec,
				     const uint8_t *owner, uint16_t type, uint16_t rclass,
				     uint32_t ttl, const uint8_t *pkt, size_t pkt_len,
				     size_t rd_off, uint16_t rdlen);

/**
 * Finish the body: section counts, ans->len, ans->min_ttl (0 when there are no records,
 * so bodies without records are not cached), ans->ttl_count and ttl_off.
 *
 * @return C2W_OK; the first error any earlier call returned; or C2W_ESPACE when there were
 *         more than DNS_ANSWER_TTLS records: then the body is still complete and can be
 *         rendered with age 0, but ttl_count is 0 and min_ttl 0 so it must not be cached
 */
C2W_NODISCARD int dns_writer_finish(struct dns_writer *w);

#endif
