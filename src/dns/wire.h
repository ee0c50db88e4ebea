/* SPDX-License-Identifier: MIT */
/*
 * Internal to src/dns: big-endian loads and stores, header field offsets, the ASCII
 * lower-case table, and the RDATA layout table that says where names sit inside RDATA
 * (used by the writer to decompress and re-compress them, RFC 3597 4).
 */
#ifndef C2W_DNS_WIRE_H
#define C2W_DNS_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Header byte offsets and flag bits (RFC 1035 4.1.1). */
#define DNS_HDR_ID        0
#define DNS_HDR_FLAGS1    2
#define DNS_HDR_FLAGS2    3
#define DNS_HDR_QDCOUNT   4
#define DNS_HDR_ANCOUNT   6
#define DNS_HDR_NSCOUNT   8
#define DNS_HDR_ARCOUNT   10
#define DNS_FLAG1_QR      0x80
#define DNS_FLAG1_AA      0x04
#define DNS_FLAG1_TC      0x02
#define DNS_FLAG1_RD      0x01
#define DNS_FLAG2_RA      0x80
#define DNS_FLAG2_AD      0x20
#define DNS_FLAG2_CD      0x10
#define DNS_EDNS_DO       0x8000
#define DNS_OPT_EDE       15 /* RFC 8914 option code */
#define DNS_OPT_COOKIE    10 /* RFC 7873 option code */
#define DNS_OPT_FIXED_LEN 11 /* root owner + type + class + ttl + rdlen */

static inline uint16_t dns_get16(const uint8_t *p)
{
	return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline uint32_t dns_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void dns_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void dns_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* 'A'..'Z' -> 'a'..'z', every other byte unchanged. Defined in name.c. */
extern const uint8_t dns_lower_table[256];

/*
 * RDATA layout: a short program of fields. NAME fields are decompressed on input; NAME_C
 * ones may also be compressed on output (only the RFC 1035 types, RFC 3597 4). Types not in
 * the table are opaque and copied as they are.
 */
enum dns_rdf {
	DNS_RDF_END = 0,
	DNS_RDF_NAME_C, /* domain name, compressible on output */
	DNS_RDF_NAME,   /* domain name, written uncompressed */
	DNS_RDF_FIX2,   /* 2 bytes */
	DNS_RDF_FIX6,   /* 6 bytes (SRV priority, weight, port) */
	DNS_RDF_FIX20,  /* 20 bytes (SOA serial..minimum) */
};

/**
 * The layout of @type's RDATA.
 *
 * @return a DNS_RDF_END-terminated program, or NULL for opaque RDATA
 */
const uint8_t *dns_rdata_layout(uint16_t type);

#endif
