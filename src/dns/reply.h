/* SPDX-License-Identifier: MIT */
/*
 * Reading back a response we are about to send, for response rate limiting: what kind of
 * answer it is and which name it is about (BIND's RRL "response identity"), and turning it
 * into the short reply a limited client gets instead (TC=1, or BADCOOKIE). The limits
 * themselves live in net/rrl.c; no I/O, no allocation.
 */
#ifndef C2W_DNS_REPLY_H
#define C2W_DNS_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "dns/name.h"

enum dns_reply_kind {
	DNS_REPLY_ANSWER = 0, /* NOERROR with records (or truncated): keyed by qname and qtype */
	DNS_REPLY_NODATA,     /* NOERROR, no answer records: keyed by the domain */
	DNS_REPLY_NXDOMAIN,   /* keyed by the domain */
	DNS_REPLY_ERROR,      /* any other RCODE (REFUSED, SERVFAIL, FORMERR, BADVERS...) */
};

/** What a response is, for rate limiting. */
struct dns_reply_info {
	enum dns_reply_kind kind;
	uint16_t qtype; /* 0 when the response has no question */
	/* ANSWER: the qname; NODATA, NXDOMAIN: the owner of the SOA in the authority section
	 * (the zone), or the qname minus its first label when there is none; ERROR: the root.
	 * Lower case, uncompressed wire form. */
	uint8_t name[DNS_NAME_WIRE_MAX];
	uint8_t name_len;
};

/**
 * Classify a response (header, question, and for negative answers the authority section).
 *
 * @param msg  the response, borrowed
 * @param len  its length
 * @param out  out: kind, qtype and name
 * @return C2W_OK or C2W_EMALF (not a response we could have made)
 */
C2W_NODISCARD int dns_reply_classify(const uint8_t *msg, size_t len, struct dns_reply_info *out);

/**
 * Cut a response down to the "slipped" reply of RRL, in place: header and question, the OPT
 * RR kept as it was (with its COOKIE option), no other records. TC=1 tells a real client to
 * retry over TCP. With @badcookie (and an OPT present) RCODE becomes BADCOOKIE (RFC 7873 5.4)
 * instead: the client learns our server cookie and retries over UDP with it.
 *
 * @param msg  the response, modified
 * @param len  its length
 * @return the new length (<= @len), or C2W_EMALF
 */
C2W_NODISCARD int dns_reply_slip(uint8_t *msg, size_t len, bool badcookie);

#endif
