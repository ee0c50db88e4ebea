/* SPDX-License-Identifier: MIT */
/*
 * A worker: one thread with its own event_base, libunbound contexts, answer cache, slot pool
 * for queries in flight and counters. It polls the sockets the main thread gives it; no worker
 * touches another's state. The main thread talks to a worker only through its mailbox.
 */
#ifndef C2W_NET_WORKER_H
#define C2W_NET_WORKER_H

#include <stdatomic.h>
#include <stdint.h>

#include "conf/config.h"
#include "net/listen.h"

struct net_latency;

struct net_worker;
struct policy_snap;
struct events_ring;
struct events_optout;
struct c2w_addrcount;
struct net_feeds;
struct net_xfr;

/*
 * Counters of one worker; written by that worker only, summed by the control thread. One list
 * makes the struct, the sum and the "stats" JSON (net/server.c): add a counter here only.
 * /metrics exports each as c2wall_<name>_total, or as the gauge c2wall_<name> when its help
 * says "gauge" (net/metrics.c).
 * X(name, help)
 */
#define NET_COUNTERS(X)                                                                        \
	X(queries, "queries received")                                                        \
	X(udp_queries, "queries over UDP")                                                    \
	X(tcp_queries, "queries over TCP")                                                    \
	X(cache_hits, "answers from the answer cache")                                        \
	X(cache_misses, "queries that missed the answer cache")                               \
	X(cache_hits_prechecked, "cache hits the policy in force had cleared when storing them")   \
	X(resolver_immediate, "misses libunbound answered during the call (its cache)")        \
	X(answers, "answers sent")                                                            \
	X(noerror, "answers with RCODE NOERROR")                                              \
	X(nxdomain, "answers with RCODE NXDOMAIN")                                            \
	X(servfail, "answers with RCODE SERVFAIL")                                            \
	X(formerr, "answers with RCODE FORMERR")                                              \
	X(refused, "answers with RCODE REFUSED")                                              \
	X(notimp, "answers with RCODE NOTIMP")                                                \
	X(truncated, "answers with TC set")                                                   \
	X(dropped, "packets ignored: QR=1, too short")                                        \
	X(timeouts, "queries answered SERVFAIL after resolver.timeout")                       \
	X(slots_exhausted, "queries refused for want of an in-flight slot")                   \
	X(client_over_limit, "queries over their client's limits.client-inflight-max")        \
	X(inflight, "queries waiting for upstream whose client waits too (gauge)")             \
	X(upstream_orphaned, "queries answered at the timeout with upstream work still on")    \
	X(upstream_orphans, "upstream queries pending after their client's answer (gauge)")    \
	X(upstream_cancelled, "pending upstream queries cancelled at upstream-pending-max")    \
	X(tcp_accepted, "TCP connections accepted")                                           \
	X(tcp_rejected, "TCP connections refused at the cap")                                 \
	X(tcp_acl_refused, "TCP connections from outside server.allow, closed")               \
	X(tcp_addr_limited, "TCP connections over tcp-clients-per-address")                   \
	X(tcp_displaced, "idle TCP connections closed to make room")                          \
	X(tcp_message_timeouts, "TCP closed: message not whole in time")                      \
	X(tcp_idle_timeouts, "TCP closed: idle for tcp-idle-timeout")                         \
	X(tcp_write_timeouts, "TCP closed: answers unread for tcp-idle-timeout")              \
	X(tcp_pipeline_paused, "TCP reads paused at tcp-pipeline-max")                        \
	X(tcp_output_paused, "TCP reads paused over tcp-output-max")                          \
	X(tcp_open, "TCP connections open now (a gauge)")                                     \
	X(send_errors, "answers the kernel did not take")                                     \
	X(udp_defer_flushes, "sendmmsg calls for answers that waited for the resolver")       \
	X(rrl_limited, "UDP responses over a response rate (log-only included)")              \
	X(rrl_slipped, "limited responses sent truncated (TC=1) or as BADCOOKIE")             \
	X(rrl_dropped, "limited responses not sent")                                          \
	X(rrl_exempt, "UDP responses not limited: client in exempt-clients")                  \
	X(rrl_cookie_exempt, "UDP responses not limited: valid server cookie")                \
	X(qlimit_limited, "queries over the client query rate (log-only incl.)")              \
	X(qlimit_dropped, "queries dropped by the query rate limit")                          \
	X(qlimit_refused, "queries answered REFUSED by the query rate limit")                 \
	X(qlimit_cookie_exempt, "queries not rate limited: valid server cookie")              \
	X(cookie_new, "queries with a client cookie only")                                    \
	X(cookie_valid, "queries with a valid server cookie")                                 \
	X(cookie_invalid, "queries with a server cookie not ours/expired")                    \
	X(cookie_malformed, "queries with a malformed COOKIE option (FORMERR)")               \
	X(cookie_badcookie, "BADCOOKIE responses (slipped, to cookie clients)")             \
	X(notify_accepted, "NOTIFY from a listed primary of a followed zone")                 \
	X(notify_refused, "NOTIFY refused: not a followed zone or not from its primary")      \
	X(xfr_out_soa, "SOA queries for a served zone answered")                              \
	X(xfr_out_axfr, "AXFR of a served zone started")                                      \
	X(xfr_out_ixfr, "IXFR of a served zone answered from the journal")                    \
	X(xfr_out_ixfr_full, "IXFR answered with the whole zone (serial not in the journal)") \
	X(xfr_out_uptodate, "IXFR from a client already current: one SOA")                    \
	X(xfr_out_refused, "queries for policy zone names refused (not allowed, not served)") \
	X(xfr_out_refused_udp, "AXFR over UDP refused")                                       \
	X(xfr_out_tsig_bad, "transfer requests unsigned, wrongly signed or with unknown key")  \
	X(xfr_out_limited, "transfers refused at transfers-out-max or -per-client")            \
	X(ddos_mitigations, "random-subdomain mitigations started (ddos)")                   \
	X(ddos_mitigated, "queries answered or dropped by a random-subdomain mitigation")    \
	X(ddos_trickled, "misses under a mitigated zone still resolved (ddos.trickle)")       \
	X(ddos_active, "zones under random-subdomain mitigation now (gauge)")                \
	X(ddos_lifted, "random-subdomain mitigations ended early, flood over (ddos)")        \
	X(fetch_limited, "cache misses answered SERVFAIL at their zone's fetch cap")          \
	X(fetch_unresponsive_limited, "misses refused at ddos.fetches-unresponsive")          \
	X(fetch_unresponsive, "fetches in flight toward unresponsive zones (gauge)")          \
	X(cut_cache_hits, "NSDNAME/NSIP: names found in the zone-cut cache")                   \
	X(cut_lookups, "NSDNAME/NSIP: NAME NS look-ups (zone-cut cache misses)")               \
	X(cut_addr_lookups, "NSIP: A/AAAA look-ups of name-server names")                      \
	X(cut_walks_short, "NSDNAME/NSIP: walks stopped at the look-up cap")                   \
	X(cut_servfail, "NSIP: SERVFAIL, a name server's address look-up failed (as BIND)")   \
	X(cut_lookups_limited, "NSDNAME/NSIP: look-ups refused by fetch caps (SERVFAIL)")      \
	X(cut_lookups_inflight, "NSDNAME/NSIP: look-ups out now, orphans included (gauge)")    \
	X(answer_cache_bytes, "memory of the answer cache, bytes (gauge)")                    \
	X(resolver_cache_bytes, "libunbound message and RRset caches, bytes (gauge)")

/* Aligned to a cache line: a worker's counters never share one with another's. */
struct net_counters {
#define NET_COUNTER_FIELD(name, help) uint64_t name;
	NET_COUNTERS(NET_COUNTER_FIELD)
#undef NET_COUNTER_FIELD
} __attribute__((aligned(64)));

/**
 * Create a worker (not started).
 *
 * @param id    worker number, for logs
 * @param cfg   configuration, borrowed until replaced by net_worker_reload_commit()
 * @param out   out: the worker
 * @param err   out: message on failure
 * @return C2W_OK, C2W_ECONFIG (resolver set-up; message in @err), C2W_ENOMEM
 */
C2W_NODISCARD int net_worker_new(unsigned id, const struct c2w_config *cfg, struct net_worker **out,
				 char *err, size_t err_len);

/**
 * Give the worker its policy snapshot, hit ring and opt-out registry (all borrowed; any may be
 * NULL). Before net_worker_start() only; later snapshots come through net_worker_reload_commit().
 */
void net_worker_attach(struct net_worker *w, const struct policy_snap *snap,
		       struct events_ring *ring, struct events_optout *optout);

/**
 * Give the worker the per-address TCP connection table (server.tcp-clients-per-address),
 * shared by every worker and locked inside; borrowed, must outlive the worker. NULL: no
 * per-address cap. Before net_worker_start() only.
 */
void net_worker_attach_tcp(struct net_worker *w, struct c2w_addrcount *per_addr);

/**
 * Give the worker the transfer machinery that NOTIFY messages are handed to (borrowed for the
 * worker's life; NULL = every NOTIFY is refused). Before net_worker_start() only.
 */
void net_worker_set_feeds(struct net_worker *w, struct net_feeds *feeds);

/**
 * Give the worker the zone-serving machinery (borrowed for the worker's life; NULL = every
 * query for a policy zone's names is REFUSED). Before net_worker_start() only.
 */
void net_worker_set_xfr(struct net_worker *w, struct net_xfr *xfr);

/**
 * Start the worker's thread polling @socks (borrowed; the main thread keeps them open until
 * the worker no longer polls them).
 */
C2W_NODISCARD int net_worker_start(struct net_worker *w, const struct net_sock *socks,
				   size_t sock_count);

/*
 * A reload is two-phase so that it is all-or-nothing across workers: the server asks every
 * worker to prepare; if one fails it aborts them all (each keeps its config, snapshot and
 * contexts, which the server keeps owning); only when all have prepared does it commit each.
 */

/**
 * Phase one: build, on the worker's thread, what @cfg needs (new resolver contexts when the
 * resolver settings or the need for NS records differ). The worker keeps serving with its
 * running state. Each successful prepare must be followed by commit or abort.
 *
 * @param cfg   new configuration, borrowed for the call
 * @param snap  new policy snapshot (NULL: none), borrowed for the call
 * @param err   out: message on failure
 * @return C2W_OK, C2W_ECONFIG (resolver set-up; message in @err) or C2W_ENOMEM; on failure
 *         nothing is prepared and the worker is unchanged
 */
C2W_NODISCARD int net_worker_reload_prepare(struct net_worker *w, const struct c2w_config *cfg,
					    const struct policy_snap *snap, char *err,
					    size_t err_len);

/**
 * Phase two: switch to @cfg, @snap (the ones given to prepare) and the socket set @socks
 * (borrowed). Returns once the worker has switched, so the caller may then free the old config
 * and snapshot and close sockets no longer listed: the mailbox round trip is the grace period
 * (no query of this worker can still hold the old snapshot, since a query pins it only within
 * one loop callback). Cannot fail.
 *
 * @param cfg   borrowed until replaced by the next commit
 * @param snap  borrowed until replaced by the next commit
 */
void net_worker_reload_commit(struct net_worker *w, const struct c2w_config *cfg,
			      const struct policy_snap *snap, const struct net_sock *socks,
			      size_t sock_count);

/** Drop what prepare built (no-op when nothing is prepared); the worker runs on unchanged. */
void net_worker_reload_abort(struct net_worker *w);

/** The config the worker runs with (for the server's invariants and tests). */
const struct c2w_config *net_worker_config(const struct net_worker *w);

/** The policy snapshot the worker runs with, NULL when none. */
const struct policy_snap *net_worker_snap(const struct net_worker *w);

/**
 * Tell the worker how many workers share the configured rates (rate-limit: each enforces
 * ceil(rate / @count)). Before net_worker_start(); default 1.
 */
void net_worker_set_peers(struct net_worker *w, unsigned count);

/** Stop the thread (answers in flight are abandoned) and join it. */
void net_worker_stop(struct net_worker *w);

/** Free a stopped (or never started) worker; NULL does nothing. */
void net_worker_free(struct net_worker *w);

/** The worker's heartbeat: bumped by its loop's 1 s tick; any thread may read it. */
uint64_t net_worker_heartbeat(const struct net_worker *w);

/** Copy the worker's answer-latency histogram (relaxed reads, as the counters). */
void net_worker_latency(const struct net_worker *w, struct net_latency *out);

/** Copy the worker's counters (relaxed reads; values may be a moment old). */
void net_worker_counters(const struct net_worker *w, struct net_counters *out);

/** The counters of @n workers summed (gauges too); from any thread, as net_worker_counters(). */
void net_worker_counters_sum(struct net_worker *const *workers, unsigned n,
			     struct net_counters *sum);

#endif
