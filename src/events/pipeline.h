/* SPDX-License-Identifier: MIT */
/*
 * The event thread: drains the workers' hit rings, drops records of opted-out clients and
 * (unless query_log is on) anything that is not a policy hit, pseudonymises, and writes the
 * sinks (JSON Lines, dnstap, syslog) and the incident store. It owns the sinks and the store;
 * the daemon owns the rings and the opt-out registry and lends them. Counters per policy
 * zone and action are readable from any thread (control socket, metrics).
 *
 * Lifecycle (main thread): _new -> _attach_ring (each worker) -> _start -> [_reopen on
 * SIGHUP] -> _stop (drains every ring, commits the store) -> _free.
 */
#ifndef C2W_EVENTS_PIPELINE_H
#define C2W_EVENTS_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "core/err.h"
#include "events/hit.h"
#include "events/optout.h"
#include "events/ring.h"

/* What the daemon fills from config (events:, privacy:, store:). Strings are copied. */
struct events_spec {
	const char *jsonl;           /* JSON Lines path; NULL = off */
	uint64_t jsonl_rotate_bytes; /* rotate when the file reaches this size; 0 = never */
	unsigned jsonl_rotate_s;     /* rotate when the file is this old; 0 = never */
	const char *dnstap;          /* "unix:/path" or "file:/path"; NULL = off */
	bool syslog;                 /* one syslog line per hit (LOG_DAEMON|LOG_NOTICE) */
	bool query_log;              /* accept EVENTS_KIND_QUERY records; default false */
	const char *key_file;        /* pseudonym key file; NULL = ephemeral key */
	unsigned key_rotation_s;     /* 0 = never */
	unsigned retention_days;     /* 0 = keep forever */
	unsigned notify_window_days; /* 0 = never erase raw addresses */
	const char *sqlite;          /* incident store; NULL = none */
	unsigned flush_ms;           /* store commit interval; 0 = default 1000 */
	const char *identity;        /* dnstap identity; NULL = "c2wall" */
};

/* One counter row: hits written and hits dropped (full ring) for a zone and action. */
struct events_counter {
	char zone[EVENTS_NAME_CAP];
	uint8_t action; /* enum events_action */
	uint64_t hits;
	uint64_t dropped;
};

/* Hits per (category, family): at most EVENTS_FAMILY_ROWS rows; hits of pairs seen after
 * that are counted in one row with family "other", so the set stays bounded. */
#define EVENTS_FAMILY_ROWS 256

struct events_family_counter {
	char category[EVENTS_CATEGORY_CAP];
	char family[EVENTS_FAMILY_CAP]; /* "" when the rule names none; "other" for overflow */
	uint64_t hits;
};

struct events_stats {
	uint64_t hits;           /* policy hits processed (after the opt-out filter) */
	uint64_t queries_logged; /* query records written (events.query-log on) */
	uint64_t dropped;        /* lost to full rings */
	uint64_t optout_skipped; /* records discarded because the client opted out */
	uint64_t query_skipped;  /* query records discarded (query_log off) */
	uint64_t store_lost;     /* hits the store could not keep (disk full, locked...) */
	uint64_t sink_errors;    /* failed writes to JSONL / dnstap / syslog */
	uint64_t jsonl_lost;     /* hit-log lines lost (disk full, file not open): records */
	uint64_t jsonl_rotations;
	uint64_t jsonl_reopen_failures; /* SIGHUP/rotation reopen of the hit log failed */
	uint64_t key_rotations;
	uint64_t key_rotation_failures; /* a due key rotation failed (key file not writable...) */
	uint64_t store_pending;    /* hits added to the incident store, not yet committed */
	uint64_t store_commit_age_ms; /* since the last successful commit (or the store's open) */
	bool store_open;           /* the incident store is open */
};

struct events_pipeline;
struct events_store;

/**
 * Create the pipeline: open the key file, the sinks and the store. A key file or sink that
 * cannot open is an error here (configuration). An incident store that cannot open is not:
 * DNS must not depend on it; the pipeline starts without it, counts every hit as
 * store_lost and the event thread retries the open every 10 s. Failures later are counted
 * and logged once per interval and never stop the thread.
 *
 * @param spec    borrowed for the call
 * @param optout  opt-out registry, borrowed until _free; may be NULL
 * @param out     out: the pipeline
 * @return C2W_OK, C2W_ECONFIG, negative errno
 */
C2W_NODISCARD int events_pipeline_new(const struct events_spec *spec, struct events_optout *optout,
				      struct events_pipeline **out);

/**
 * Add a worker's ring (before _start). Borrowed until _free. @return C2W_OK, C2W_EFULL
 * (more than 256 rings), C2W_EINVAL after start.
 */
C2W_NODISCARD int events_pipeline_attach_ring(struct events_pipeline *p, struct events_ring *ring);

/** Start the event thread. @return C2W_OK or negative errno from pthread_create. */
C2W_NODISCARD int events_pipeline_start(struct events_pipeline *p);

/**
 * Ask the thread to reopen the JSON Lines file at its path (after logrotate moved it) and
 * re-read the key file. Async-signal-safe (sets an atomic flag); effective within ~10 ms.
 */
void events_pipeline_reopen(struct events_pipeline *p);

/**
 * Stop the thread: drain every ring, write the sinks, commit the store. Workers must have
 * stopped pushing. Idempotent.
 */
void events_pipeline_stop(struct events_pipeline *p);

/** Stop (if running), close sinks and store; NULL does nothing. */
void events_pipeline_free(struct events_pipeline *p);

/**
 * Process records synchronously on the calling thread (no thread started): the same path
 * the event thread runs. For tests and offline replays; not with _start.
 */
void events_pipeline_process(struct events_pipeline *p, const struct events_hit *hits,
			     size_t count);

/** Commit the store and flush sinks now (same thread as _process). */
void events_pipeline_flush(struct events_pipeline *p);

/** Totals; any thread. */
void events_pipeline_stats(const struct events_pipeline *p, struct events_stats *out);

/**
 * Hits per category and malware family (bounded: EVENTS_FAMILY_ROWS). Any thread.
 *
 * @param out    out: malloc'd array, caller frees (NULL when @count is 0)
 * @return C2W_OK or C2W_ENOMEM
 */
C2W_NODISCARD int events_pipeline_family_counters(const struct events_pipeline *p,
						  struct events_family_counter **out,
						  size_t *count);

/**
 * Counters per zone and action, including drops from the rings. Any thread.
 *
 * @param out    out: malloc'd array, caller frees
 * @return C2W_OK or C2W_ENOMEM
 */
C2W_NODISCARD int events_pipeline_counters(const struct events_pipeline *p,
					   struct events_counter **out, size_t *count);

/**
 * Write stats and counters as one JSON object on one line (for "stats" on the control
 * socket and the metrics endpoint). @return C2W_OK or C2W_ENOMEM.
 */
C2W_NODISCARD int events_pipeline_stats_json(const struct events_pipeline *p, FILE *out);

/**
 * The store, for events_store_evidence_add() from the sinkhole; NULL when none configured.
 * Lives until _free.
 */
struct events_store *events_pipeline_store(struct events_pipeline *p);

/**
 * Pseudonym and key id for an address with the pipeline's current key (for evidence).
 * Any thread (the key is swapped under a lock).
 */
void events_pipeline_pseudonym(struct events_pipeline *p, const struct sockaddr *sa,
			       char pseudonym[33], char key_id[9]);

#endif
