/* SPDX-License-Identifier: MIT */
/*
 * Random-subdomain ("water torture") detection and per-zone fetch limits: one fixed-size table
 * per worker, keyed by the zone of a cache-missing query (its parent domain), counting distinct
 * misses and bad outcomes (NXDOMAIN, SERVFAIL, timeout) over a window, capping the fetches in
 * flight per zone (adaptive: timeouts shrink the cap, answers grow it back), capping the fetches
 * toward zones whose servers have not shown they answer (none yet, or 3 timeouts in a row):
 * beyond NET_TORTURE_MIN_CAP each, they share one pool, the nearest c2wall gets to a per-server
 * cap as it does not see the servers libunbound picks; and holding an expiring mitigation for
 * a zone found under a flood. Nothing here allocates after
 * net_torture_new() or does I/O: the worker acts on the verdicts (answer, log, count, record).
 *
 * Usage, on the worker's thread:
 *   on a cache miss:     v = net_torture_miss(t, qname, popular, now, &ref, zone_out)
 *                        NET_TORTURE_PASS, _TRICKLE: resolve, keep @ref in the slot;
 *                        _START/_MITIGATE: answer without upstream; _LIMIT: fetch cap reached
 *   when it resolves:    net_torture_outcome(t, ref, outcome) (once; timeout or answer)
 *   when the slot frees: net_torture_release(t, ref)
 *   once a second:       net_torture_tick(t, now, cb, arg) ends expired mitigations
 */
#ifndef C2W_NET_TORTURE_H
#define C2W_NET_TORTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "conf/config.h"

#define NET_TORTURE_ZONES   1024 /* tracked zones per worker (256 sets of 4) */
#define NET_TORTURE_MIN_CAP 4    /* adaptive fetch cap never goes below this */

struct net_torture;

enum net_torture_verdict {
	NET_TORTURE_PASS = 0,   /* resolve it */
	NET_TORTURE_START,      /* a mitigation starts for this zone now (and covers this query) */
	NET_TORTURE_MITIGATE,   /* the zone is under mitigation: answer per ddos.action */
	NET_TORTURE_LIMIT,      /* the zone has its fetch cap in flight: answer SERVFAIL now */
	NET_TORTURE_LIMIT_POOL, /* an unresponsive zone, and the pool they share is in flight */
	NET_TORTURE_TRICKLE,    /* under a mitigation, but within ddos.trickle: resolve it */
};

enum net_torture_outcome {
	NET_TORTURE_ANSWER = 0, /* an answer in time that says the name exists (or NODATA) */
	NET_TORTURE_NXDOMAIN,
	NET_TORTURE_SERVFAIL,
	NET_TORTURE_TIMEOUT,
};

/* What a mitigation did, for the log line at its end. */
struct net_torture_stats {
	uint64_t mitigated; /* queries answered by the mitigation */
	uint32_t seconds;   /* how long it lasted */
	bool early;         /* ended by ddos.lift-after (the flood stopped), not by the hold */
};

/** Called by net_torture_tick() for each mitigation that ends; @zone is a wire name. */
typedef void (*net_torture_end_cb)(void *arg, const uint8_t *zone,
				   const struct net_torture_stats *st);

/**
 * @param cfg  the ddos section, read during the call (net_torture_set_conf() for reloads)
 * @return the table, or NULL on ENOMEM
 */
struct net_torture *net_torture_new(const struct conf_ddos *cfg);
void net_torture_free(struct net_torture *t);

/** Take new settings (a reload); tracked zones and running mitigations stay. */
void net_torture_set_conf(struct net_torture *t, const struct conf_ddos *cfg);

/**
 * Account a cache miss for @qname and decide what to do with it.
 *
 * @param qname    canonical wire name of the query
 * @param popular  the name is known to be asked for (dns_pcache_seen()): never mitigated
 * @param now_s    monotonic seconds
 * @param ref      out: the zone's reference for outcome/release; 0 when the zone is not
 *                 tracked (root or top-level names, table set full of busy zones)
 * @param zone     out, may be NULL: the victim zone's wire name (DNS_NAME_MAX bytes) on
 *                 START and MITIGATE
 * @return a verdict; PASS whenever ddos.enabled is false; TRICKLE (resolve it, as PASS) for
 *         the first ddos.trickle misses of each second under a mitigated zone. A PASS or
 *         TRICKLE @ref may carry the pool bit: hand it back unchanged.
 */
enum net_torture_verdict net_torture_miss(struct net_torture *t, const uint8_t *qname, bool popular,
					  uint64_t now_s, uint32_t *ref, uint8_t *zone);

/** The query counted under @ref (0: nothing) ended with @o; once per PASS verdict. */
void net_torture_outcome(struct net_torture *t, uint32_t ref, enum net_torture_outcome o);

/** The fetch counted under @ref (0: nothing) is no longer in flight; once per PASS verdict. */
void net_torture_release(struct net_torture *t, uint32_t ref);

/**
 * End mitigations whose hold has run out, and, with ddos.lift-after, those whose zone saw
 * fewer than a quarter of the starting rate (min-misses / window per second) for lift-after
 * seconds in a row; a mitigation starting again within max(60 s, 4 x hold) of the previous
 * one's end needs twice the previous quiet time (no early end once that reaches the hold).
 * Calls @cb for each ended mitigation; returns how many remain. Call it once a second.
 */
unsigned net_torture_tick(struct net_torture *t, uint64_t now_s, net_torture_end_cb cb, void *arg);

/** Zones under mitigation now. */
unsigned net_torture_active(const struct net_torture *t);

/** Fetches in flight now toward unresponsive zones (the pool of ddos.fetches-unresponsive). */
unsigned net_torture_unresponsive(const struct net_torture *t);

#endif
