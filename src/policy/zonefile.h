/* SPDX-License-Identifier: MIT */
/*
 * RFC 1035 master-file reader for RPZ feeds: $ORIGIN, $TTL, $INCLUDE, relative names, "@",
 * owner inheritance, parentheses, comments, quoted strings, \X and \DDD escapes, TTL units,
 * RFC 3597 generic types. Produces one record at a time in wire form; what the records mean
 * (triggers, actions) is feed_rpz.c's business. A bad entry is reported with file:line and
 * skipped; parsing goes on.
 */
#ifndef C2W_POLICY_ZONEFILE_H
#define C2W_POLICY_ZONEFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "dns/name.h"

#define ZF_RDATA_MAX        65535
#define ZF_INCLUDE_FILE_MAX (64u << 20)

struct zf_record {
	const char *file; /* file the record came from */
	unsigned line;    /* line where its entry starts */
	uint8_t owner[DNS_NAME_WIRE_MAX]; /* lower case */
	size_t owner_len;
	uint32_t ttl;
	uint16_t type;
	uint16_t rclass;
	uint16_t rdlen;
	const uint8_t *rdata; /* wire form, names uncompressed and lower case */
	const char *comment;  /* text after the last ';' of the entry (no ';'), or NULL */
	size_t comment_len;
};

/** Called per record; a non-zero return stops parsing and is returned by the parse call. */
typedef int (*zf_record_cb)(void *ctx, const struct zf_record *rr);
/** Called per rejected entry. */
typedef void (*zf_error_cb)(void *ctx, const char *file, unsigned line, const char *reason);

struct zf_opts {
	const uint8_t *origin; /* initial $ORIGIN (wire); required */
	uint32_t default_ttl;  /* TTL before any $TTL or explicit TTL */
	/* false: $INCLUDE is rejected (the default for feeds: a third party's file must not make
	 * the daemon read other paths). true: the included path, after resolving symlinks, must
	 * lie in the directory of the top-level file and be a regular file of at most
	 * ZF_INCLUDE_FILE_MAX bytes (opened non-blocking: a FIFO never stalls the reader). */
	bool allow_include;
	zf_record_cb on_record;
	zf_error_cb on_error; /* may be NULL */
	void *ctx;
};

/**
 * Parse a master file.
 *
 * @return C2W_OK (bad entries were reported and skipped), a negative errno when @path cannot
 *         be read, or the first non-zero value on_record returned
 */
C2W_NODISCARD int policy_zonefile_parse_file(const char *path, const struct zf_opts *opts);

/**
 * Parse master-file text in memory; @name is used in reports and to resolve relative
 * $INCLUDE paths. @buf need not be NUL-terminated.
 */
C2W_NODISCARD int policy_zonefile_parse_buf(const char *buf, size_t len, const char *name,
					    const struct zf_opts *opts);

/**
 * Parse a TTL: decimal seconds, or BIND units "1w2d3h4m5s" (case-insensitive).
 *
 * @return true and *ttl on success
 */
bool policy_zonefile_ttl(const char *text, size_t len, uint32_t *ttl);

/** Type mnemonic ("A", "TYPE65534") to number; 0 when unknown. */
uint16_t policy_zonefile_type(const char *text, size_t len);

/** Type number to mnemonic; writes "TYPEnnn" for types without one. */
void policy_zonefile_type_name(uint16_t type, char *out, size_t cap);

#endif
