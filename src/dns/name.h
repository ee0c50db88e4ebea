/* SPDX-License-Identifier: MIT */
/*
 * Domain names: wire form (RFC 1035 3.1), decompression with loop and bound checks,
 * presentation form with RFC 1035 5.1 escapes, canonical (lower-case) form. No allocation.
 * A "wire name" here is always uncompressed: labels ending with the root label.
 */
#ifndef C2W_DNS_NAME_H
#define C2W_DNS_NAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define DNS_LABEL_MAX     63
#define DNS_NAME_WIRE_MAX 255
#define DNS_NAME_TEXT_MAX 1024 /* worst case: every byte escaped as \DDD */

/**
 * Read a possibly compressed name from a message.
 *
 * @param pkt      whole message, borrowed
 * @param pkt_len  its length
 * @param pos      in: offset of the name; out: offset just after it (after the first pointer)
 * @param out      out: uncompressed wire name, DNS_NAME_WIRE_MAX bytes
 * @param out_len  out: its length (1 for the root)
 * @return C2W_OK, C2W_ESHORT (runs past the end), C2W_ELOOP (pointer loop or forward chain
 *         too long), C2W_ELABEL (label type 0x40/0x80 or > 63), C2W_ENAME (> 255 octets)
 */
C2W_NODISCARD int dns_name_unpack(const uint8_t *pkt, size_t pkt_len, size_t *pos, uint8_t *out,
				  size_t *out_len);

/**
 * Length of an uncompressed wire name, checked against @max.
 *
 * @return length (>= 1), or C2W_EMALF when it is not a valid name within @max bytes
 */
int dns_name_wire_len(const uint8_t *name, size_t max);

/** Lower-case ASCII letters in place (canonical form, RFC 4034 6.2). */
void dns_name_lower(uint8_t *name);

/** Compare two wire names case-insensitively. @return true when equal */
bool dns_name_equal(const uint8_t *a, const uint8_t *b);

/** Number of labels, not counting the root. */
unsigned dns_name_label_count(const uint8_t *name);

/**
 * Presentation form → wire form.
 *
 * @param text       "www.example.com." or relative "www" (then @origin is appended); "@" is
 *                   @origin; escapes \X and \DDD; a trailing dot makes it absolute
 * @param origin     wire name appended to relative names; NULL: every name is absolute
 * @param out        out: wire name, DNS_NAME_WIRE_MAX bytes
 * @param out_len    out: its length
 * @return C2W_OK, C2W_EMALF (empty label, bad escape), C2W_ELABEL, C2W_ENAME
 */
C2W_NODISCARD int dns_name_from_text(const char *text, const uint8_t *origin, uint8_t *out,
				     size_t *out_len);

/**
 * dns_name_from_text() of the @len bytes at @text (not NUL-terminated), lower-cased as by
 * dns_name_lower(): the same result and errors as copying, converting and lowering, in one
 * pass over names without escapes (the zone-file reader's hot path). A NUL byte ends the name
 * there, as in a C string.
 */
C2W_NODISCARD int dns_name_from_text_lower(const char *text, size_t len, const uint8_t *origin,
					   uint8_t *out, size_t *out_len);

/**
 * Wire form → presentation form, absolute with trailing dot, special bytes escaped.
 *
 * @return length written (without NUL), or C2W_ESPACE / C2W_EMALF
 */
int dns_name_to_text(const uint8_t *name, char *out, size_t out_cap);

/* Appended to a name cut by dns_name_to_text_trunc(); never part of a real name ("..." would
 * be empty labels). */
#define DNS_NAME_TRUNC_MARK "..."

/**
 * dns_name_to_text() into a fixed field that may be too short (hit records): a name whose
 * presentation form does not fit is cut on a character (never inside a \DDD escape) and
 * ends with DNS_NAME_TRUNC_MARK. No allocation.
 *
 * @param out_cap  at least 8
 * @return length written (without NUL), or C2W_EMALF / C2W_ESPACE (@out_cap < 8)
 */
int dns_name_to_text_trunc(const uint8_t *name, char *out, size_t out_cap);

/**
 * Is @name equal to or below @zone? @return the number of labels @name has in front of
 * @zone (0 when equal), or -1 when it is not a subdomain. Case-insensitive.
 */
int dns_name_subdomain(const uint8_t *name, const uint8_t *zone);

#endif
