/* SPDX-License-Identifier: MIT */
/*
 * A transferred zone as a set of records in presentation form (one line each, as libknot
 * dumps them), with its SOA timers, and its last good copy on disk. Records are keyed by
 * owner, class, type and data (not TTL), the identity RFC 1995 deletions use. What the
 * records mean is the policy engine's business: the disk copy is an RPZ master file.
 */
#ifndef C2W_FEED_ZONE_H
#define C2W_FEED_ZONE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct feed_zone;

struct feed_soa {
	uint32_t serial, refresh, retry, expire, minimum;
};

/** What the disk copy says besides its records. */
struct feed_zone_meta {
	int64_t refreshed; /* unix time of the last successful refresh; 0 = unknown */
	char primary[64];  /* the primary it came from, "addr@port" */
};

/** An empty zone for @origin (presentation, with the final dot). @return C2W_ENOMEM only */
C2W_NODISCARD int feed_zone_new(const char *origin, struct feed_zone **out);
/** A deep copy of @src. @return C2W_ENOMEM only */
C2W_NODISCARD int feed_zone_clone(const struct feed_zone *src, struct feed_zone **out);
void feed_zone_free(struct feed_zone *z);

/**
 * Add one record line "owner ttl class type data" (copied). The same record again replaces
 * the old line (a new TTL). SOA lines go through feed_zone_set_soa().
 *
 * @return C2W_OK, C2W_EMALF (fewer than five fields), C2W_ENOMEM
 */
C2W_NODISCARD int feed_zone_add(struct feed_zone *z, const char *line);
/** Remove the record of @line (TTL ignored). @return C2W_OK, C2W_ENOENT, C2W_EMALF */
C2W_NODISCARD int feed_zone_del(struct feed_zone *z, const char *line);
/** Set the SOA line (copied) and its timers. @return C2W_OK or C2W_ENOMEM */
C2W_NODISCARD int feed_zone_set_soa(struct feed_zone *z, const char *line,
				    const struct feed_soa *soa);
/** The SOA timers; false when the zone has no SOA yet. */
bool feed_zone_soa(const struct feed_zone *z, struct feed_soa *out);
/** Records besides the SOA. */
size_t feed_zone_count(const struct feed_zone *z);

/**
 * Undo journal, for applying an increment in place: after feed_zone_journal_begin() every
 * change is logged (its old data kept) until feed_zone_commit() drops the log or
 * feed_zone_rollback() restores the zone as it was at the begin. Both always succeed.
 */
void feed_zone_journal_begin(struct feed_zone *z);
void feed_zone_commit(struct feed_zone *z);
void feed_zone_rollback(struct feed_zone *z);

/**
 * Records the zone holds for @owner (the first field of @owner, case-insensitive);
 * UINT64_MAX while the counts are deferred (feed_zone_defer_owners()).
 */
uint64_t feed_zone_owner_count(const struct feed_zone *z, const char *owner);

/**
 * On an empty zone: do not count records per owner as they come (a full transfer, where
 * nothing needs the counts until the next increment); feed_zone_count_owners() counts them
 * all at once, off the path to the policy being in force. A clone keeps the deferral.
 */
void feed_zone_defer_owners(struct feed_zone *z);
/** Count the records per owner now, if deferred. @return C2W_OK or C2W_ENOMEM (still deferred) */
C2W_NODISCARD int feed_zone_count_owners(struct feed_zone *z);

/** Bytes of the zone's record and owner tables (not the record strings). They grow with the
 *  records and owners held, not with the changes made: churn at a constant size keeps them. */
size_t feed_zone_table_bytes(const struct feed_zone *z);

/** The zone's own line for the record of @line (TTL ignored; one pointer per record, valid
 *  until the record changes), or NULL when the zone does not hold it. */
const char *feed_zone_line(const struct feed_zone *z, const char *line);

/**
 * Call @cb for every record line but the SOA, in no particular order, until it returns
 * non-zero. @return that value, or 0
 */
int feed_zone_foreach(const struct feed_zone *z, int (*cb)(void *ctx, const char *line), void *ctx);

/**
 * Write the zone as a master file with a "; c2wall-xfr" header line carrying @meta:
 * temp file in the same directory, fsync, rename, mode 0640; the directory is synced too.
 *
 * @return C2W_OK, C2W_EINVAL (no SOA), negative errno
 */
C2W_NODISCARD int feed_zone_write(const struct feed_zone *z, const char *path,
				  const struct feed_zone_meta *meta);

/**
 * Read a copy written by feed_zone_write() back.
 *
 * @return C2W_OK; C2W_ENOENT (no file); C2W_EMALF (not our format, other origin, no SOA);
 *         C2W_ENOMEM; negative errno
 */
C2W_NODISCARD int feed_zone_read(const char *path, const char *origin, struct feed_zone **out,
				 struct feed_zone_meta *meta);

/** RFC 1982 serial arithmetic: is @a after @b? */
bool feed_serial_gt(uint32_t a, uint32_t b);

#endif
