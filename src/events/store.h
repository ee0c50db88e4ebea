/* SPDX-License-Identifier: MIT */
/*
 * The incident store (SQLite, WAL): incidents aggregated per client, UTC day and family (or
 * the matched rule when the family is unknown), with count, first/last seen, the names asked
 * and evidence; subscriber assignments with time ranges; imported external reports. Hits are
 * added inside a batched transaction that the event thread commits at least once a second
 * (events_store_flush), so a SIGKILL loses at most the hits of the last interval.
 *
 * Thread-safety: one mutex inside; the event thread adds hits and flushes, the sinkhole adds
 * evidence through the daemon, the CLI opens its own connection (SQLite's locking between
 * processes; busy timeout 5 s). Schema in docs/incidents.md.
 */
#ifndef C2W_EVENTS_STORE_H
#define C2W_EVENTS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "core/err.h"
#include "events/hit.h"

struct events_store;
struct events_pseudo;

/**
 * Check the modes of the database file and its -wal, -shm and -journal companions: each
 * that exists must be a regular file (not a symlink) that group and others cannot access.
 * The database file is created 0600 when missing. Logs the reason.
 *
 * @return C2W_OK, C2W_EACCES (group/other access), C2W_EINVAL (not a regular file or a
 *         symlink), C2W_ESTORE (cannot open: missing directory, permissions)
 */
C2W_NODISCARD int events_store_check_modes(const char *path);

/**
 * Open (creating 0600 when missing) the store, switch to WAL, create or check the schema.
 *
 * @param path  database file, copied
 * @param out   out: close with events_store_close() (which commits the open batch)
 * @return C2W_OK, C2W_ESTORE (message logged), or an error of events_store_check_modes()
 */
C2W_NODISCARD int events_store_open(const char *path, struct events_store **out);

/** Commit what is pending and close; NULL does nothing. */
void events_store_close(struct events_store *st);

/**
 * Add a hit to the open batch (begun on demand). Not durable until events_store_flush().
 *
 * @param hit        the record, borrowed
 * @param pseudonym  the client's pseudonym under key @key_id
 * @return C2W_OK or C2W_ESTORE (SQLITE_FULL, I/O error, locked...); the caller counts it
 */
C2W_NODISCARD int events_store_hit_add(struct events_store *st, const struct events_hit *hit,
				       const char *pseudonym, const char *key_id);

/** Commit the open batch, if any. @return C2W_OK or C2W_ESTORE (the batch is lost). */
C2W_NODISCARD int events_store_flush(struct events_store *st);

/**
 * Attach sinkhole evidence (an HTTP/TLS/TCP contact with the sinkhole) to the incident of
 * the same client and UTC day; kept unattached (joined at export) when no incident exists
 * yet. Any thread. Committed at once (evidence is rare and valuable).
 *
 * @param time_ns     realtime ns of the contact
 * @param client      AF_INET/AF_INET6 address of the infected device, borrowed
 * @param pseudonym   the client's pseudonym (current key)
 * @param key_id      id of that key
 * @param host, method, path, user_agent, detail  text, may be NULL
 * @param port        sinkhole port contacted
 * @return C2W_OK, C2W_EINVAL, or C2W_ESTORE
 */
C2W_NODISCARD int events_store_evidence_add(struct events_store *st, uint64_t time_ns,
					    const struct sockaddr *client, const char *pseudonym,
					    const char *key_id, const char *host,
					    const char *method, const char *path,
					    const char *user_agent, uint16_t port,
					    const char *detail);

struct events_retention_result {
	uint64_t incidents_deleted;
	uint64_t addresses_erased;
	uint64_t subscribers_deleted;
};

/**
 * Delete incidents (with their names and evidence) last seen more than @retention_days
 * ago, and subscriber assignments that ended before then; erase the raw address of
 * incidents last seen more than @notify_window_days ago (the pseudonym stays).
 *
 * @param now_s  realtime seconds
 * @return C2W_OK or C2W_ESTORE
 */
C2W_NODISCARD int events_store_retention(struct events_store *st, uint64_t now_s,
					 unsigned retention_days, unsigned notify_window_days,
					 struct events_retention_result *res);

/** Called for each rejected import row; @line is 1-based. */
typedef void (*events_import_report_cb)(void *arg, unsigned line, const char *message);

struct events_import_result {
	unsigned rows_ok;
	unsigned rows_bad;
};

/**
 * Import subscriber assignments: CSV "subscriber_id,address_or_prefix,start,end" (end may
 * be empty = still assigned). Times: RFC 3339, "YYYY-MM-DD[ HH:MM:SS]" (UTC) or unix
 * seconds. An optional header line and '#' comments are skipped. Bad rows are reported by
 * line and skipped; good rows are kept (one transaction). Incidents without a subscriber
 * whose raw address is still known are then joined again.
 *
 * @return C2W_OK (even with bad rows), C2W_ESTORE, or negative errno reading @in
 */
C2W_NODISCARD int events_store_subscribers_import(struct events_store *st, FILE *in,
						  events_import_report_cb report, void *arg,
						  struct events_import_result *res);

/**
 * Import external reports: CSV "timestamp,address,family,source" (reports of infected
 * addresses from external sinkholes or taken-down C&C servers), merged into the same
 * incidents (client, day, family) with their source recorded. Bad rows reported by line.
 *
 * @param ps  pseudonymiser (current key), borrowed
 */
C2W_NODISCARD int events_store_incidents_import(struct events_store *st, FILE *in,
						const struct events_pseudo *ps,
						events_import_report_cb report, void *arg,
						struct events_import_result *res);

enum events_export_format {
	EVENTS_EXPORT_TABLE = 0, /* human-readable list, raw address shown (local use) */
	EVENTS_EXPORT_CSV,       /* leaves the box: pseudonym + subscriber id, no raw address */
	EVENTS_EXPORT_JSON,
};

/**
 * Write incidents last seen at or after @since_s. CSV starts with '#' lines saying what the
 * file contains; JSON is one object {"contains": ..., "incidents": [...]}. Exports carry the
 * pseudonym, key id and subscriber id (the subscriber holding the address at first_seen),
 * never the raw address.
 *
 * @param only_unnotified  skip incidents already marked notified
 * @return number of incidents written (>= 0) or C2W_ESTORE / negative errno on write error
 */
int events_store_incidents_write(struct events_store *st, uint64_t since_s, bool only_unnotified,
				 enum events_export_format fmt, FILE *out);

/**
 * Mark incidents notified: those listed in @ids, or (when @id_count is 0) every incident last
 * seen before @until_s.
 *
 * @return number of incidents changed (>= 0) or C2W_ESTORE
 */
int events_store_mark_notified(struct events_store *st, const int64_t *ids, size_t id_count,
			       uint64_t until_s, uint64_t now_s);

/** Total hits stored (sum of incident counts); for tests and stats. -1 on error. */
int64_t events_store_hit_count(struct events_store *st);

#endif
