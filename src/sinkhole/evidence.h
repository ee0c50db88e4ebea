/* SPDX-License-Identifier: MIT */
/*
 * Evidence as one JSON object (a JSON Lines record) for the evidence log. The client appears
 * only as its pseudonym and key id, as in the hit log (docs/privacy.md); the raw address goes
 * to the incident store alone. Client bytes are escaped so the line is always valid JSON.
 */
#ifndef C2W_SINKHOLE_EVIDENCE_H
#define C2W_SINKHOLE_EVIDENCE_H

#include <stddef.h>

#include "core/err.h"
#include "sinkhole/sinkhole.h"

#define SINKHOLE_EVIDENCE_JSON_MAX 32768 /* enough for any record (strings are bounded) */

/**
 * Format @ev as one line of JSON, newline included.
 *
 * @param pseudonym  the client's pseudonym, or NULL (then no "client" member)
 * @param key_id     its key id, or NULL
 * @param out        SINKHOLE_EVIDENCE_JSON_MAX bytes are always enough
 * @return length (without NUL), or C2W_ESPACE
 */
int sinkhole_evidence_json(const struct sinkhole_evidence *ev, const char *pseudonym,
			   const char *key_id, char *out, size_t cap);

/**
 * The one-line "detail" text stored with evidence in the incident store: protocol, status,
 * whether the host is blocked, the family, and the first raw bytes (hex) as far as @cap allows.
 *
 * @return @out (always NUL-terminated)
 */
char *sinkhole_evidence_detail(const struct sinkhole_evidence *ev, char *out, size_t cap);

/** "http", "tls", "tcp". */
const char *sinkhole_proto_name(enum sinkhole_proto proto);

#endif
