/* SPDX-License-Identifier: MIT */
/*
 * Feed parsers: each turns one feed (an RPZ master file, a hosts file, a domain list) into
 * rules of one zone in a struct policy_rules. Bad lines are reported with file:line and
 * skipped. Per-rule metadata comes from the line's comment: "category=c2 family=emotet
 * first-seen=2026-01-01" (docs/policy.md).
 */
#ifndef C2W_POLICY_FEED_H
#define C2W_POLICY_FEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/rules.h"

struct feed_meta {
	char category[POLICY_TEXT_CATEGORY];
	char family[POLICY_TEXT_FAMILY];
	uint16_t first_seen; /* days since 1970-01-01, 0 = none */
	int64_t expires;     /* unix time after which the entry is not enforced, 0 = never */
};

/**
 * Read "key=value" pairs (category, family, first-seen YYYY-MM-DD, expires RFC 3339) from
 * comment text.
 * Unknown keys and malformed values are ignored. @return true when any key was found
 */
bool policy_feed_meta_parse(const char *text, size_t len, struct feed_meta *out);

/** Parse "YYYY-MM-DD" into days since 1970-01-01. @return true on success */
bool policy_feed_date(const char *text, size_t len, uint16_t *days);

/**
 * Parse an "expires=" value: RFC 3339 "YYYY-MM-DDTHH:MM:SSZ" (or with "+HH:MM"/"-HH:MM"
 * instead of Z; no fractions), or a bare "YYYY-MM-DD" meaning 00:00:00Z that day.
 *
 * @param out  out: unix time (seconds); untouched on failure
 * @return true on success; false for anything else (invalid dates like 02-30 included)
 */
bool policy_feed_time(const char *text, size_t len, int64_t *out);

/**
 * Load an RPZ master file into zone @zone of @r. With @allow_include false a $INCLUDE line is
 * rejected (reported, skipped); with true it may name regular files in the feed's own
 * directory tree only (see policy/zonefile.h).
 * @return C2W_OK (bad lines reported), a negative errno when the file cannot be read, C2W_ENOMEM
 */
C2W_NODISCARD int policy_feed_rpz_load(struct policy_rules *r, unsigned zone, const char *path,
				       bool allow_include);

/** Same from memory; @allow_include false rejects $INCLUDE (fuzzing). */
C2W_NODISCARD int policy_feed_rpz_parse(struct policy_rules *r, unsigned zone, const char *buf,
					size_t len, const char *name, bool allow_include);

/**
 * Hosts file ("ADDR NAME..." per line, '#' comments) or, with @domains, a domain list (one name
 * per line: blocks the name and everything below it; "*.name" only below it).
 */
C2W_NODISCARD int policy_feed_hosts_load(struct policy_rules *r, unsigned zone, const char *path,
					 bool domains);
C2W_NODISCARD int policy_feed_hosts_parse(struct policy_rules *r, unsigned zone, const char *buf,
					  size_t len, const char *name, bool domains);

/** Read a whole file (at most 1 GiB). @return C2W_OK or a negative errno / C2W_EFEED */
C2W_NODISCARD int policy_feed_read(const char *path, char **out, size_t *out_len);

/**
 * Guess a feed's format and zone name for the CLI: RPZ when the file has an SOA or $ORIGIN
 * (zone name from the first $ORIGIN or SOA owner), hosts when the first data line starts
 * with an address, a domain list otherwise; the zone name falls back to the file's base name.
 *
 * @return C2W_OK or a negative errno when the file cannot be read
 */
C2W_NODISCARD int policy_feed_guess(const char *path, enum policy_format *format, char *zone,
				    size_t zone_cap);

#endif
