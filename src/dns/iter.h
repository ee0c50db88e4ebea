/* SPDX-License-Identifier: MIT */
/*
 * Reading the records of a message one by one: for the policy engine (CNAME chain names,
 * A/AAAA addresses, NS names of an answer) and for dns_answer_from_upstream(). Works on any
 * message: an upstream reply or one of our answer bodies. Parses in place, allocates nothing.
 */
#ifndef C2W_DNS_ITER_H
#define C2W_DNS_ITER_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "dns/msg.h"
#include "dns/name.h"

/** One record as read by dns_iter_next(). Offsets are into the iterated message. */
struct dns_rr {
	enum dns_section section;
	uint8_t owner[DNS_NAME_WIRE_MAX]; /* decompressed, case as on the wire */
	uint8_t owner_len;
	uint16_t type, rclass;
	uint32_t ttl;
	uint16_t ttl_off;   /* offset of the 32-bit TTL field */
	uint16_t rdata_off; /* offset of the RDATA */
	uint16_t rdlen;
};

/** Iterator state; fields private to iter.c. */
struct dns_iter {
	const uint8_t *pkt;
	size_t len;
	size_t pos;
	uint16_t left[3]; /* records still to read per section */
	int section;
};

/**
 * Start reading @pkt: check the header and skip the question section.
 *
 * @param it   out: iterator, caller's storage
 * @param pkt  message, borrowed; must outlive @it and every dns_rr read from it
 * @return C2W_OK or C2W_EMALF (shorter than a header, bad or truncated question)
 */
C2W_NODISCARD int dns_iter_init(struct dns_iter *it, const uint8_t *pkt, size_t len);

/**
 * Read the next record (answer, then authority, then additional; OPT included, type 41).
 * The RDATA bounds are checked against the message; its contents are not (A may be 3 bytes
 * in a hostile upstream reply: check rr->rdlen before reading addresses).
 *
 * @param rr  out: the record
 * @return C2W_OK, C2W_ENOENT after the last record, C2W_EMALF (bad owner name, record runs
 *         past the end); after C2W_EMALF every later call returns C2W_EMALF
 */
C2W_NODISCARD int dns_iter_next(struct dns_iter *it, struct dns_rr *rr);

/**
 * Read the (possibly compressed) name at @skip bytes into @rr's RDATA: CNAME, NS, PTR and
 * DNAME targets at 0, MX exchange at 2, SRV target at 6. The name must start inside the RDATA.
 *
 * @param out      out: uncompressed wire name, DNS_NAME_WIRE_MAX bytes, case as on the wire
 * @param out_len  out: its length
 * @return C2W_OK or C2W_EMALF
 */
C2W_NODISCARD int dns_iter_rdata_name(const struct dns_iter *it, const struct dns_rr *rr,
				      size_t skip, uint8_t *out, size_t *out_len);

#endif
