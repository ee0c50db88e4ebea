/* SPDX-License-Identifier: MIT */
/* Store internals shared by store.c (writes) and export.c (reports). Not for other areas. */
#ifndef C2W_EVENTS_STORE_INT_H
#define C2W_EVENTS_STORE_INT_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>

#include "events/store.h"

struct events_store {
	sqlite3 *db;
	pthread_mutex_t lock;
	sqlite3_stmt *incident_upsert;
	sqlite3_stmt *name_upsert;
	bool in_txn;
	char *path;
	uint64_t last_log_s; /* rate limit of error lines */
	uint64_t errors;     /* SQLite failures since open */
};

/* The subscriber holding an address (?1 BLOB) at a time (?2). */
#define SUBSCRIBER_AT(addr, t)                                                                     \
	"(SELECT s.subscriber_id FROM subscribers s WHERE " addr " IS NOT NULL AND s.lo <= " addr  \
	" AND s.hi >= " addr " AND s.start <= " t " AND s.end > " t                                \
	" ORDER BY s.start DESC LIMIT 1)"

/** Log the SQLite error of @what once; returns C2W_ESTORE. */
int events_store_fail(struct events_store *st, const char *what);

/** Commit the open batch; caller holds @st->lock. */
int events_store_flush_locked(struct events_store *st);

#endif
