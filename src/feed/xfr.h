/* SPDX-License-Identifier: MIT */
/*
 * One zone transfer as a sequence of DNS messages, without I/O: build the (TSIG-signed)
 * AXFR or IXFR query, then feed each response message in order. Every message is parsed and,
 * with a key, TSIG-verified by libknot (RFC 8945 5.3.1: each message signed, MACs chained,
 * time checked). The records run through the RFC 5936 / RFC 1995 state machine: AXFR = SOA,
 * records, SOA; IXFR = SOA(new), then (SOA(old) deletions SOA(next) additions)*, SOA(new);
 * an IXFR answered AXFR-style is taken as AXFR. Nothing is applied to the caller's zone: the
 * result is a new zone, so a broken transfer leaves the last good copy alone.
 *
 *   feed_xfr_new(origin, FEED_XFR_IXFR, current, key, &x);
 *   feed_xfr_query(x, id, buf, sizeof(buf), &len);   send it
 *   while ((r = feed_xfr_input(x, msg, msg_len)) == 0) read the next message
 *   r == 1: feed_xfr_finish(x, current, &zone, &kind); r < 0: feed_xfr_error(x) says why
 */
#ifndef C2W_FEED_XFR_H
#define C2W_FEED_XFR_H

#include <libknot/tsig.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "feed/zone.h"

struct feed_xfr;

enum feed_xfr_type {
	FEED_XFR_AXFR = 0,
	FEED_XFR_IXFR,
};

/** What a finished transfer turned out to be. */
enum feed_xfr_kind {
	FEED_XFR_UPTODATE = 0, /* the primary has our serial: nothing to do */
	FEED_XFR_FULL,         /* a whole zone (AXFR, or IXFR answered AXFR-style) */
	FEED_XFR_INCREMENT,    /* IXFR deltas applied to a copy of the current zone */
};

/**
 * Start a transfer of @origin.
 *
 * @param origin   zone name, presentation form with the final dot
 * @param type     IXFR needs @current (its SOA goes into the query)
 * @param current  the zone we hold, borrowed until feed_xfr_finish(); NULL = none
 * @param key      TSIG key, borrowed for the life of @out; NULL = unsigned transfer
 * @return C2W_OK, C2W_EINVAL (IXFR without a current zone, bad origin), C2W_ENOMEM
 */
C2W_NODISCARD int feed_xfr_new(const char *origin, enum feed_xfr_type type,
			       const struct feed_zone *current, const knot_tsig_key_t *key,
			       struct feed_xfr **out);
void feed_xfr_free(struct feed_xfr *x);

/**
 * Write the query (signed when a key was given) into @buf.
 *
 * @return C2W_OK, C2W_ESPACE, C2W_ETSIG (signing failed)
 */
C2W_NODISCARD int feed_xfr_query(struct feed_xfr *x, uint16_t id, uint8_t *buf, size_t cap,
				 size_t *len);

/**
 * Take the next response message (borrowed for the call).
 *
 * @return 0 more messages expected; 1 the transfer is complete; C2W_ETSIG (unsigned, bad MAC,
 *         wrong key, time skew), C2W_ESERIAL (serial backwards), C2W_EXFR (error RCODE,
 *         truncated, wrong ID or question, broken record sequence), C2W_EMALF, C2W_ENOMEM.
 *         After an error every further call fails; feed_xfr_error() says why.
 */
C2W_NODISCARD int feed_xfr_input(struct feed_xfr *x, const uint8_t *msg, size_t len);

/** The reason of the last failure, "" when none. Valid until the next call on @x. */
const char *feed_xfr_error(const struct feed_xfr *x);

/** True when the primary answered in a way that calls for an AXFR instead (IXFR refused,
 *  not implemented, or its deletions do not fit our copy). */
bool feed_xfr_wants_axfr(const struct feed_xfr *x);

/** Messages and records seen so far. */
void feed_xfr_counts(const struct feed_xfr *x, uint64_t *messages, uint64_t *records);

/**
 * The record changes of a complete incremental transfer, in order (what the policy applies as
 * an increment): @return their count; feed_xfr_change() gives the i-th record line and
 * whether it is added (else deleted), NULL for a version's SOA.
 */
size_t feed_xfr_change_count(const struct feed_xfr *x);
const char *feed_xfr_change(const struct feed_xfr *x, size_t i, bool *add);

/**
 * The result of a complete transfer (feed_xfr_input() returned 1).
 *
 * @param current  the same zone given to feed_xfr_new()
 * @param out      out: the new zone (caller frees); NULL when @kind is UPTODATE
 * @return C2W_OK, C2W_EXFR (an IXFR deletion of a record we do not hold: ask for AXFR),
 *         C2W_ENOMEM
 */
C2W_NODISCARD int feed_xfr_finish(struct feed_xfr *x, const struct feed_zone *current,
				  struct feed_zone **out, enum feed_xfr_kind *kind);

/**
 * feed_xfr_finish() that applies an increment to @current itself instead of a copy (O(changes)
 * instead of O(zone) time and memory), with @current's undo journal on: the caller then keeps
 * the change with feed_zone_commit() or takes it back with feed_zone_rollback(). For an
 * increment *@out is NULL; a full zone and UPTODATE come back as from feed_xfr_finish().
 * On failure @current is as it was.
 */
C2W_NODISCARD int feed_xfr_finish_in_place(struct feed_xfr *x, struct feed_zone *current,
					   struct feed_zone **out, enum feed_xfr_kind *kind);

#endif
