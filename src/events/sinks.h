/* SPDX-License-Identifier: MIT */
/*
 * The hit sinks the event thread writes: JSON Lines (rotation by size and age, reopen for
 * logrotate), dnstap (Frame Streams through libfstrm's own I/O thread, unix socket or file)
 * and syslog. Every sink writes the pseudonym, never the raw address. Event thread only.
 */
#ifndef C2W_EVENTS_SINKS_H
#define C2W_EVENTS_SINKS_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "events/hit.h"

struct events_jsonl;
struct events_dnstap;

/**
 * Format one JSON object (no newline) for @hit into @buf.
 *
 * @return length written (< @cap) or C2W_ESPACE
 */
int events_jsonl_format(const struct events_hit *hit, const char *pseudonym, const char *key_id,
			char *buf, size_t cap);

/**
 * Open (append, mode 0640, never through a symlink, regular files only) @path.
 * @return C2W_OK, C2W_EINVAL (not a regular file) or negative errno.
 */
C2W_NODISCARD int events_jsonl_open(const char *path, uint64_t rotate_bytes, unsigned rotate_s,
				    struct events_jsonl **out);

/**
 * Append one line; rotates first when the file reached its size or age (renamed to
 * "<path>.<UTC yyyymmddThhmmssZ>[.N]"). Lines reach the file whole or not at all: a short
 * write (disk full) is cut back to the last whole line and the lines that did not make it
 * are counted (events_jsonl_lost()). @return C2W_OK, 1 when a rotation happened, or an
 * error (rotation, reopen or an earlier buffered flush failed).
 */
int events_jsonl_write(struct events_jsonl *j, const struct events_hit *hit, const char *pseudonym,
		       const char *key_id);

/** Push buffered lines to the kernel. @return C2W_OK or negative errno. */
int events_jsonl_flush(struct events_jsonl *j);

/** Lines lost so far (write errors, no file open). Any thread. */
uint64_t events_jsonl_lost(const struct events_jsonl *j);

/** Close and reopen at the same path (after logrotate renamed the file). */
int events_jsonl_reopen(struct events_jsonl *j);

void events_jsonl_close(struct events_jsonl *j);

/**
 * Open a dnstap output: "unix:/path" (connects, reconnects in the background) or
 * "file:/path". Content type "protobuf:dnstap.Dnstap".
 *
 * @return C2W_OK, C2W_ECONFIG (bad spec), C2W_EIO (libfstrm failed)
 */
C2W_NODISCARD int events_dnstap_open(const char *spec, const char *identity,
				     struct events_dnstap **out);

/**
 * Queue one hit as a dnstap CLIENT_RESPONSE message with the Policy fields filled in.
 * Never blocks: a full queue drops the frame. @return C2W_OK, C2W_EFULL, C2W_ENOMEM.
 */
int events_dnstap_write(struct events_dnstap *d, const struct events_hit *hit,
			const char *pseudonym, const char *key_id);

/** Flush queued frames and close (blocks until libfstrm's thread finished). */
void events_dnstap_close(struct events_dnstap *d);

/** One syslog line (LOG_DAEMON | LOG_NOTICE) per hit, key=value fields. */
void events_syslog_write(const struct events_hit *hit, const char *pseudonym, const char *key_id);

/** DNS type mnemonic ("A", "AAAA", ...) or "TYPE<n>" into @buf; returns @buf. */
const char *events_qtype_name(uint16_t qtype, char *buf, size_t cap);

#endif
