/* SPDX-License-Identifier: MIT */
/*
 * c2wall as primary of its policy zones (docs/policy.md "c2wall as primary"): after every
 * policy swap an export thread writes each served zone (allow-transfer set) out of the new
 * snapshot as RPZ records, makes a new version when they changed (serial, journal entry, the
 * journal saved under policy.state-dir), and the main thread sends NOTIFY to the zone's
 * `notify` list. Workers
 * hand every query at or below a policy zone's origin to net_xfr_query(): SOA, AXFR and IXFR
 * from allowed (and, with a key, signed) clients are answered, all else is REFUSED. A TCP
 * transfer is a stream the worker pumps as its output drains (net_xfr_stream_pump()), from
 * the prepared version, so a transfer never holds the worker's loop for more than a chunk.
 *
 *   net_xfr_new(cfg, &x)                   main thread; loads keys and journals' serials
 *   net_xfr_update(x, base, cfg, snap, prev)  after every swap (start, reload, transfer)
 *   net_xfr_query(...) / _stream_pump()    workers
 */
#ifndef C2W_NET_XFR_SERVE_H
#define C2W_NET_XFR_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "conf/config.h"
#include "control/control.h"
#include "core/err.h"

struct net_xfr;
struct net_xfr_stream;
struct policy_snap;
struct event_base;
struct evbuffer;

/** What became of one query, for the worker's counters. */
enum net_xfr_outcome {
	NET_XFR_SOA = 0,     /* SOA answered */
	NET_XFR_AXFR,        /* AXFR stream started */
	NET_XFR_IXFR,        /* IXFR from the journal */
	NET_XFR_IXFR_FULL,   /* IXFR answered with the whole zone */
	NET_XFR_UPTODATE,    /* IXFR from a current client: one SOA */
	NET_XFR_REFUSED,     /* not in allow-transfer, not served, other type */
	NET_XFR_REFUSED_UDP, /* AXFR/IXFR over UDP */
	NET_XFR_TSIG_BAD,    /* unsigned where a key is needed, bad MAC, wrong key, time */
	NET_XFR_LIMITED,     /* over transfers-out-max or -per-client */
	NET_XFR_FORMERR,
};

/** @return C2W_OK, C2W_ECONFIG (a transfer-key-file does not load; logged), C2W_ENOMEM */
C2W_NODISCARD int net_xfr_new(const struct c2w_config *cfg, struct net_xfr **out);

/**
 * Main thread, after @snap went in force with @cfg (both borrowed for the call): new versions
 * for the served zones whose records changed, journals saved, NOTIFY sent from @base's loop.
 * The export runs on a thread of its own (started at the first call), in order of the calls;
 * an update still waiting when the next comes is dropped for it. Until it is done the zones
 * are served at their previous versions.
 * Zones no longer served stop being served. A zone that fails to export keeps its version.
 * When @snap is @prev plus one increment (a transfer applied as a layer) and a zone's version
 * was made from @prev, its next version comes from the increment alone (O(change)); else
 * from a full export of the zone.
 *
 * @param prev  the snapshot @snap replaced, still alive for the call; NULL = unknown (start,
 *              reload): full exports
 */
void net_xfr_update(struct net_xfr *x, struct event_base *base, const struct c2w_config *cfg,
		    const struct policy_snap *snap, const struct policy_snap *prev);

/** Main thread: wait until every update asked so far is served (at start, before the
 *  workers, so a secondary asking at once finds the first versions). */
void net_xfr_settle(struct net_xfr *x);

/**
 * Main thread, instead of net_xfr_update() when @snap answers exactly as @prev did (the
 * layers of increments folded into one, docs/policy.md "Increments"): the served versions
 * stay, no export, no NOTIFY; a version made from @prev counts as made from @snap, so the
 * next increment still makes the next version from the change alone.
 */
void net_xfr_same(struct net_xfr *x, const struct policy_snap *snap,
		  const struct policy_snap *prev);

/** May @peer open a TCP connection although outside server.allow (a secondary)? Any thread. */
bool net_xfr_may_connect(struct net_xfr *x, const struct sockaddr *peer);

/**
 * A query whose name is at or below a policy zone's origin; worker thread.
 *
 * @param tcp     over TCP: AXFR/IXFR may start a stream in *@stream
 * @param out     an immediate answer (SOA, REFUSED, one SOA for IXFR) is written here
 * @return the length of the answer in @out, 0 when a stream was started or nothing is sent
 */
int net_xfr_query(struct net_xfr *x, const uint8_t *pkt, size_t len, const struct sockaddr *peer,
		  bool tcp, uint8_t *out, size_t out_cap, struct net_xfr_stream **stream,
		  enum net_xfr_outcome *outcome);

/**
 * Write messages of @s (two-byte length prefixed) into @buf until about @budget bytes went
 * out or the transfer is complete.
 *
 * @return 1 more to come, 0 complete, negative on failure (close the connection)
 */
int net_xfr_stream_pump(struct net_xfr_stream *s, struct evbuffer *buf, size_t budget);

/** Release a stream (complete or not) and its place in the caps. */
void net_xfr_stream_free(struct net_xfr_stream *s);

/** Register the "xfr-out" control command (served zones: serial, journal, NOTIFY state). */
C2W_NODISCARD int net_xfr_control_register(struct net_xfr *x, struct control_server *ctl);

void net_xfr_free(struct net_xfr *x);

#endif
