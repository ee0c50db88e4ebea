/* SPDX-License-Identifier: MIT */
/*
 * Parsers of the CSV files operators import (outside input: fuzzed by
 * tests/fuzz/fuzz_import.c): subscriber assignments from RADIUS accounting or DHCP leases,
 * and reports of infected addresses from external sinkholes. Pure functions, no I/O; the
 * store (events/store.h) drives them line by line and reports bad rows by line number.
 */
#ifndef C2W_EVENTS_IMPORT_H
#define C2W_EVENTS_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "events/optout.h"

#define EVENTS_IMPORT_LINE_MAX 2048
#define EVENTS_IMPORT_FIELDS   8

/* "subscriber_id,address_or_prefix,start,end" */
struct events_subscriber_row {
	char id[128];
	struct events_prefix prefix;
	int64_t start_s;
	int64_t end_s; /* INT64_MAX when open-ended */
};

/* "timestamp,address,family,source" */
struct events_report_row {
	int64_t time_s;
	struct events_prefix addr; /* full length */
	char family[64];
	char source[128];
};

/**
 * Parse a time: unix seconds ("1718000000"), "YYYY-MM-DD" (00:00 UTC),
 * "YYYY-MM-DD[T ]HH:MM[:SS[.frac]]" with optional "Z" or "+HH:MM"/"-HH:MM" (default UTC).
 *
 * @return C2W_OK or C2W_EMALF
 */
C2W_NODISCARD int events_time_parse(const char *text, int64_t *out);

/** Format @t as RFC 3339 UTC ("2024-06-10T12:00:00Z"); returns @out. */
const char *events_time_format(int64_t t, char *out, size_t cap);

/**
 * Split one CSV line in place (RFC 4180 quoting: "a,b" and "" inside quotes). Fields are
 * trimmed of surrounding blanks; a trailing CR/LF is ignored.
 *
 * @param fields  out: up to @max pointers into @line
 * @return number of fields, or C2W_EMALF (unterminated quote, text after a closing quote,
 *         more than @max fields)
 */
C2W_NODISCARD int events_csv_split(char *line, char **fields, int max);

/**
 * Parse one subscriber line.
 *
 * @param line  the bytes of the line (no NUL needed; NUL bytes are rejected)
 * @param err   out: reason on C2W_EMALF
 * @return C2W_OK, C2W_EIGNORE (blank, '#' comment, header line), C2W_EMALF
 */
C2W_NODISCARD int events_import_subscriber_parse(const char *line, size_t len,
						 struct events_subscriber_row *out, char *err,
						 size_t err_len);

/** Parse one report line; same conventions as events_import_subscriber_parse(). */
C2W_NODISCARD int events_import_report_parse(const char *line, size_t len,
					     struct events_report_row *out, char *err,
					     size_t err_len);

#endif
