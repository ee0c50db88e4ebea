/* SPDX-License-Identifier: MIT */
/*
 * Glue to libunbound in event mode: one context per worker, on the worker's own event_base,
 * doing recursion from root hints (or forwarding, plus stub zones) and DNSSEC validation.
 * This is the only file that includes <unbound.h>. Timeouts and the client side live in
 * src/net; this file only asks and hands back the wire answer.
 */
#ifndef C2W_RESOLVE_RESOLVE_H
#define C2W_RESOLVE_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/config.h"
#include "core/err.h"

struct event_base;
struct resolve_ctx;
struct resolve_query;

/*
 * libunbound's library defaults (util/config_file.c, config_create_forlib()) allow 16 UDP
 * ports and 2 TCP connections per context, and a query that finds no free port waits in an
 * unbounded FIFO with no timer (services/outside_network.c, pending_udp_query()). Sixteen
 * queries to servers that never answer then stall every other upstream query (docs/abuse.md).
 * These are the per-context sizes we set instead; each port is a file descriptor while a
 * query uses it, so the daemon raises RLIMIT_NOFILE to fit (resolve_fds_per_worker()).
 */
#define RESOLVE_PORTS     4096 /* outgoing-range of the main (validating) context */
#define RESOLVE_PORTS_CD  256  /* outgoing-range of the CD=1 (non-validating) context */
#define RESOLVE_TCP       64   /* outgoing-num-tcp of the main context */
#define RESOLVE_TCP_CD    8

/** File descriptors one worker's contexts may hold at most. */
static inline unsigned resolve_fds_per_worker(void)
{
	return RESOLVE_PORTS + RESOLVE_PORTS_CD + RESOLVE_TCP + RESOLVE_TCP_CD;
}

/* DNSSEC outcome, as libunbound reports it. */
enum resolve_sec {
	RESOLVE_SEC_INSECURE = 0,
	RESOLVE_SEC_BOGUS = 1,
	RESOLVE_SEC_SECURE = 2,
};

/**
 * Called once per query, possibly before resolve_ctx_query() returns (local data).
 *
 * @param arg        the caller's argument
 * @param rcode      DNS rcode from libunbound; when not 0 @pkt may be NULL
 * @param pkt        wire answer, borrowed: copy before returning
 * @param len        its length
 * @param sec        DNSSEC outcome
 * @param why_bogus  libunbound's reason text for bogus answers, or NULL; borrowed
 */
typedef void (*resolve_done_cb)(void *arg, int rcode, const uint8_t *pkt, size_t len,
				enum resolve_sec sec, const char *why_bogus);

/**
 * Create a resolver context on @base from the resolver section of the config.
 *
 * @param base      the worker's event_base; the context lives on it
 * @param rc        resolver config, read during the call only
 * @param validate  false: no DNSSEC validation (used for CD=1 queries)
 * @param out       out: the context
 * @param err       out: a message naming the option that failed
 * @return C2W_OK, C2W_ECONFIG (message in @err), C2W_ENOMEM
 */
C2W_NODISCARD int resolve_ctx_new(struct event_base *base, const struct conf_resolver *rc,
				  bool validate, struct resolve_ctx **out, char *err,
				  size_t err_len);

/**
 * Ask for @qname/@qtype/@qclass. On C2W_OK @cb is called exactly once, later or during the
 * call, unless the query is cancelled first; on error never.
 *
 * @param qname   canonical wire name (dns/name.h)
 * @param handle  out, may be NULL: the pending query, for resolve_query_cancel(); set to NULL
 *                when the answer came during the call, and again just before @cb runs, so a
 *                non-NULL *handle always names a query still pending
 * @return C2W_OK, C2W_EUPSTREAM (libunbound refused the query), C2W_EMALF (name), C2W_ENOMEM
 */
C2W_NODISCARD int resolve_ctx_query(struct resolve_ctx *ctx, const uint8_t *qname, uint16_t qtype,
				    uint16_t qclass, resolve_done_cb cb, void *arg,
				    struct resolve_query **handle);

/**
 * Cancel a pending query: its callback will never run and its handle is freed (the handle
 * pointer given to resolve_ctx_query() is set to NULL).
 *
 * What this does NOT do: in event mode libunbound's ub_cancel() only marks the query
 * cancelled (libunbound/libunbound.c: the "dothread" branch); the resolution itself (mesh
 * state, outgoing queries) runs on until the iterator finishes or gives up, and its answer
 * still fills libunbound's cache. Bounding that work is up to libunbound's own limits.
 *
 * @param rq  a handle from resolve_ctx_query() that is still pending; NULL does nothing
 */
void resolve_query_cancel(struct resolve_query *rq);

/**
 * Ask for full responses (libunbound minimal-responses: no): answers to "NAME NS" then carry
 * the name servers' addresses (glue) in the additional section, which saves the zone-cut cache
 * address look-ups for NSIP triggers (src/net/worker_nscut.c). Positive answers to other
 * questions still come without the zone's NS RRset: libunbound's iter-scrub-promiscuous
 * removes it (Debian 1.17.1-2+deb12u4). Call before the first query (libunbound freezes its
 * options then).
 *
 * @return C2W_OK, C2W_ECONFIG (libunbound refused: the context was already used)
 */
C2W_NODISCARD int resolve_ctx_want_ns(struct resolve_ctx *ctx);

/**
 * Set the context up now instead of at its first query: libunbound builds its caches, local
 * zones, modules and outgoing-port tables on the first ub_resolve_event(), 3–12 ms on the
 * thread that asks (more on a busy machine), during which that worker answers nobody. Asks
 * "localhost. A", which libunbound answers from its built-in local zone without a packet
 * (should it not, the query is cancelled: at most one upstream query, never a callback).
 * Freezes the options like a first query: after resolve_ctx_want_ns(). Call on the thread that
 * runs the context's event base, which asks its queries: set up on the thread that made it
 * before that one started, the context answered a miss-heavy load with 2-4 times the SERVFAILs
 * (test_abuse_inflight). NULL does nothing.
 *
 * @return C2W_OK, C2W_ENOMEM, C2W_EUPSTREAM (libunbound could not set up; its next query tries
 *         again. resolve_ctx_free() then leaks libunbound's part of the context, which
 *         libunbound 1.17 cannot delete safely after a failed set-up)
 */
C2W_NODISCARD int resolve_ctx_warm(struct resolve_ctx *ctx);

/** Queries asked and not yet called back. */
unsigned resolve_ctx_pending(const struct resolve_ctx *ctx);

/**
 * Free the context. Queries still pending are cancelled: their callbacks never run, so the
 * caller frees them when resolve_ctx_pending() is not 0. NULL does nothing.
 */
void resolve_ctx_free(struct resolve_ctx *ctx);

/**
 * Bytes of libunbound message and RRset cache this context was given (its options as
 * libunbound reports them). 0 for NULL.
 */
size_t resolve_ctx_cache_bytes(const struct resolve_ctx *ctx);

#endif
