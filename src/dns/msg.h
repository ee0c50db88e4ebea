/* SPDX-License-Identifier: MIT */
/*
 * DNS messages on the wire: parsing a client's query in place, turning an upstream answer
 * into a cacheable answer body, and rendering the client's response (ID, question case,
 * flags, TTL ageing, EDNS OPT with Extended DNS Errors, truncation). No I/O, no allocation.
 * Names are handled by dns/name.h.
 */
#ifndef C2W_DNS_MSG_H
#define C2W_DNS_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "dns/cookie.h"

#define DNS_HEADER_LEN   12
#define DNS_NAME_MAX     255
#define DNS_UDP_MIN      512  /* RFC 1035 limit without EDNS */
#define DNS_EDNS_DEFAULT 1232 /* DNS flag day 2020 */
#define DNS_MSG_MAX      65535
#define DNS_ANSWER_TTLS  128 /* TTL fields tracked per answer body; more: not cacheable */

#define DNS_OPCODE_QUERY    0
#define DNS_OPCODE_NOTIFY   4 /* RFC 1996 */
#define DNS_RCODE_NOERROR   0
#define DNS_RCODE_FORMERR   1
#define DNS_RCODE_SERVFAIL  2
#define DNS_RCODE_NXDOMAIN  3
#define DNS_RCODE_NOTIMP    4
#define DNS_RCODE_REFUSED   5
#define DNS_RCODE_BADVERS   16 /* extended: needs OPT */
#define DNS_RCODE_BADCOOKIE 23 /* extended: needs OPT (RFC 7873 8) */

#define DNS_TYPE_A      1
#define DNS_TYPE_NS     2
#define DNS_TYPE_CNAME  5
#define DNS_TYPE_SOA    6
#define DNS_TYPE_PTR    12
#define DNS_TYPE_HINFO  13
#define DNS_TYPE_MX     15
#define DNS_TYPE_TXT    16
#define DNS_TYPE_AAAA   28
#define DNS_TYPE_DNAME  39
#define DNS_TYPE_OPT    41
#define DNS_TYPE_DS     43
#define DNS_TYPE_RRSIG  46
#define DNS_TYPE_NSEC   47
#define DNS_TYPE_DNSKEY 48
#define DNS_TYPE_NSEC3  50
#define DNS_TYPE_IXFR   251
#define DNS_TYPE_AXFR   252
#define DNS_TYPE_ANY    255
#define DNS_CLASS_IN    1

/* Message sections holding resource records, in wire order. */
enum dns_section {
	DNS_SECTION_ANSWER = 0,
	DNS_SECTION_AUTHORITY = 1,
	DNS_SECTION_ADDITIONAL = 2,
};

/* Extended DNS Error codes (RFC 8914) we emit. */
#define DNS_EDE_NONE              -1
#define DNS_EDE_OTHER             0
#define DNS_EDE_DNSSEC_BOGUS      6
#define DNS_EDE_STALE_ANSWER      3
#define DNS_EDE_BLOCKED           15
#define DNS_EDE_CENSORED          16
#define DNS_EDE_FILTERED          17
#define DNS_EDE_PROHIBITED        18
#define DNS_EDE_NOT_READY         14
#define DNS_EDE_NO_REACHABLE_AUTH 22
#define DNS_EDE_NETWORK_ERROR     23

/** A client's query, parsed in place. Pointers borrow the packet buffer. */
struct dns_query {
	uint16_t id;
	uint8_t opcode;
	bool rd, cd, ad;   /* flags as sent; AD in a query means "I understand AD" (RFC 6840 5.7) */
	bool has_question; /* false when FORMERR came before the question was read */
	uint16_t qtype, qclass;
	uint8_t qname[DNS_NAME_MAX]; /* canonical: lower case, uncompressed wire form */
	uint8_t qname_len;
	const uint8_t *question; /* the question as the client sent it (case kept, 0x20) */
	uint16_t question_len;   /* qname + type + class */
	bool edns;               /* an OPT RR was present */
	uint8_t edns_version;
	bool edns_do;
	uint16_t edns_udp_size;   /* as advertised by the client, >= 512 */
	const uint8_t *edns_opts; /* OPT RDATA (options, validated), borrowed; NULL without OPT */
	uint16_t edns_opts_len;
	/* COOKIE option (RFC 7873 4), copied: the client cookie, then the server cookie when
	 * one was sent. dns_answer_render() sends back exactly these bytes, so the worker
	 * replaces the server part with a fresh one of ours (or sets cookie_len to 0) first. */
	uint8_t cookie[DNS_COOKIE_MAX];
	uint8_t cookie_len;    /* 0: no COOKIE option; else 8 or 16..40 */
	bool cookie_malformed; /* C2W_EMALF came from a COOKIE of bad length (RFC 7873 5.2.2) */
};

/**
 * Parse a query received from a client.
 *
 * @param pkt  the datagram or TCP message (without length prefix), borrowed; @q keeps
 *             pointers into it
 * @param len  its length
 * @param q    out: the query
 * @return C2W_OK: a query (opcode may still be other than QUERY: caller answers NOTIMP);
 *         C2W_EIGNORE: send nothing (shorter than a header, or QR=1, i.e. a response);
 *         C2W_EMALF: answer FORMERR (header fields in @q are valid; QDCOUNT != 1, bad name,
 *         truncated question, bad OPT, trailing records that do not parse, a COOKIE
 *         option shorter than 8 bytes, of 9..15 or over 40: then q->cookie_malformed).
 *         A second COOKIE option is ignored.
 */
C2W_NODISCARD int dns_query_parse(const uint8_t *pkt, size_t len, struct dns_query *q);

/**
 * An answer body: the response as it will be sent, minus the things that depend on the client
 * (ID, RD/CD/AD flags, question case, OPT). The header in wire[0..11] carries RCODE, AA and
 * the section counts; the question follows in canonical form. Built once per upstream answer
 * or policy rewrite, kept in the answer cache, rendered for each client.
 */
struct dns_answer {
	uint8_t *wire; /* caller-owned buffer */
	uint16_t cap;  /* its size */
	uint16_t len;
	uint8_t rcode;
	bool secure;         /* DNSSEC validated: AD may be set */
	bool dnssec_records; /* body kept RRSIG/NSEC/NSEC3 (for DO clients) */
	bool do_neutral;     /* the body is the same for clients with and without DO: not
				secure, and the upstream reply had no DNSSEC record to keep or
				strip (dns_answer_from_upstream); the answer cache then keeps one
				copy for both */
	uint16_t ttl_count;
	uint16_t ttl_off[DNS_ANSWER_TTLS]; /* offsets of the 32-bit TTL fields in @wire */
	uint32_t min_ttl; /* smallest TTL (negative answers: per RFC 2308 SOA rule) */
	int ede_code;     /* DNS_EDE_NONE or the EDE to attach */
	char ede_text[64];
	uint32_t tag; /* caller's label, kept by the answer cache (the worker stores the policy
			 generation the body was checked against) */
};

/**
 * Turn an upstream answer (libunbound's wire reply to our question) into an answer body for
 * @q: decompress and re-compress every record, drop the upstream OPT, and when @keep_dnssec is
 * false drop RRSIG/NSEC/NSEC3 records not asked for (RFC 4035 3.2.1).
 * ans->do_neutral is set when the body is the same for either DO: not @secure, and no
 * RRSIG/NSEC/NSEC3 record (other than of the type asked for) was in the reply.
 *
 * @param q          the client's query (question, qtype)
 * @param up         upstream reply, borrowed for the call
 * @param up_len     its length
 * @param secure     libunbound said the answer validated
 * @param keep_dnssec client set DO
 * @param ans        out: body written to ans->wire (ans->cap bytes available)
 * @return C2W_OK, C2W_EMALF (upstream reply does not parse, or its question is not @q's),
 *         C2W_ESPACE (too large: ans->len is 0; or more than DNS_ANSWER_TTLS records: then
 *         ans->len > 0, the body is complete and may be rendered with age 0 but must not be
 *         cached; ttl_count and min_ttl are 0), C2W_EINVAL (@q has no question).
 *         min_ttl is the smallest TTL; an SOA in the authority section counts as
 *         min(TTL, MINIMUM) (RFC 2308 5); 0 when there are no records.
 */
C2W_NODISCARD int dns_answer_from_upstream(const struct dns_query *q, const uint8_t *up,
					   size_t up_len, bool secure, bool keep_dnssec,
					   struct dns_answer *ans);

/**
 * Render the response for @q from @ans: ID, QR, opcode, RD and CD echoed, RA set, AD only when
 * @ans is secure and the client set DO or AD, the question as the client wrote it, TTLs aged
 * by @age_s (floored at 0), an OPT RR (advertising @udp_size, DO echoed, EDE from @ans, COOKIE
 * from q->cookie when cookie_len > 0) when the client sent one. When the result exceeds @max_len it
 * is truncated: TC=1, no records, OPT kept (RFC 6891 7, RFC 2181 9).
 *
 * @param max_len  UDP: min(client's EDNS size, @udp_size) or 512 without EDNS; TCP: 65535
 * @return length written (> 0), or C2W_ESPACE when @out_cap cannot hold even a header
 */
int dns_answer_render(const struct dns_query *q, const struct dns_answer *ans, uint32_t age_s,
		      uint16_t udp_size, size_t max_len, uint8_t *out, size_t out_cap);

/**
 * Render the BADVERS response (RFC 6891 6.1.3) for a query whose q->edns_version is above 0,
 * the only version we implement: RCODE 16 split between the header (0) and the OPT's
 * extended RCODE (1), OPT version 0, the question echoed, no records. The worker calls this
 * instead of resolving when dns_query_parse() returned C2W_OK with edns_version != 0.
 *
 * @param q         parsed query, q->edns must be true
 * @param udp_size  our advertised UDP payload size
 * @return length written, C2W_EINVAL (no OPT in @q) or C2W_ESPACE
 */
int dns_answer_render_badvers(const struct dns_query *q, uint16_t udp_size, uint8_t *out,
			      size_t out_cap);

/**
 * Build a body with no records: @rcode, the question (when @q has one), and an optional EDE.
 * Used for REFUSED, SERVFAIL, NOTIMP, FORMERR and minimal answers.
 *
 * @return C2W_OK or C2W_ESPACE
 */
int dns_answer_empty(const struct dns_query *q, uint8_t rcode, int ede_code, const char *ede_text,
		     struct dns_answer *ans);

#endif
