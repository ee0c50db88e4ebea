/* SPDX-License-Identifier: MIT */
/*
 * Worker internals shared by worker.c (query path, UDP, lifecycle), worker_tcp.c (TCP
 * connections) and worker_policy.c (RPZ glue and hit records). Not for other areas: the
 * worker's public API is worker.h. Everything here belongs to the worker's own thread.
 */
#ifndef C2W_NET_WORKER_INT_H
#define C2W_NET_WORKER_INT_H

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <urcu.h>

#include "core/addrcount.h"
#include "core/log.h"
#include "dns/msg.h"
#include "dns/name.h"
#include "dns/pcache.h"
#include "events/hit.h"
#include "events/optout.h"
#include "events/ring.h"
#include "net/client_table.h"
#include "net/deadline.h"
#include "net/torture.h"
#include "net/latency.h"
#include "net/worker.h"
#include "net/xfr_serve.h"
#include "policy/policy.h"
#include "resolve/cuts.h"
#include "resolve/resolve.h"

#define UDP_BATCH         32
#define UDP_RX_SIZE       4096
#define UDP_TX_SIZE       4096
#define UDP_ROUNDS        8 /* batches per wake-up before yielding to other events */
#define UDP_DEFER         32 /* resolver answers held for one sendmmsg (udp_defer()) */
#define SLOT_COUNT        4096 /* queries in flight whose client still waits, per worker */
#define MAX_POLLED        64
#define CTRL_SIZE         64 /* room for one in_pktinfo / in6_pktinfo cmsg */
#define PCACHE_BODY_MAX   1232
#define EDE_NOT_SUPPORTED 21 /* RFC 8914 4.22 */

struct net_worker;
struct tcp_conn;
struct net_rrl;
struct net_qrate;

/* What a query's COOKIE option proved (net_wlimit_cookie()). */
enum net_cookie_state {
	NET_COOKIE_NONE = 0, /* no cookie (or cookies off) */
	NET_COOKIE_CLIENT,   /* a client cookie, but no valid server cookie of ours */
	NET_COOKIE_VALID,    /* our server cookie, made for this address: not spoofed */
};

/* Where an answer goes: a UDP peer (with our own address for wildcard sockets) or a TCP
 * connection. Borrowed pointers on the fast path; copied into a slot when deferred. */
struct net_route {
	bool tcp;
	int fd;
	const struct sockaddr *peer;
	socklen_t peer_len;
	int local_family; /* 0: none, AF_INET or AF_INET6: reply from this address */
	union {
		struct in_pktinfo v4;
		struct in6_pktinfo v6;
	} local;
	struct tcp_conn *conn;
	uint8_t cookie; /* enum net_cookie_state of the query */
	uint64_t start_us; /* when the query was received (mono_us()); 0: not timed */
};

struct net_slot {
	struct net_worker *w;
	struct net_slot *next_free;
	struct net_deadline_node dl; /* resolver.timeout for the client (w->deadlines) */
	bool in_use;
	bool timed_out;
	bool orphan;                /* client answered (timeout); upstream still pending */
	bool counted;               /* holds a unit of @ckey in w->clients */
	struct net_client_key ckey; /* the client, as counted when the slot was taken */
	struct resolve_query *rq;   /* the libunbound query the slot waits for; NULL: none */
	struct net_slot *oprev, *onext; /* orphan list, oldest first */
	struct dns_query q;
	uint8_t question[DNS_NAME_MAX + 4];
	struct net_route rt;
	struct sockaddr_storage peer;
	bool policy_off;       /* opted out, or PASSTHRU at query time: answer as resolved */
	struct policy_hit hit; /* tentative hit (RECURSE), action NONE when there is none */
	/* Follow-up queries of the policy glue (worker_policy.c), one at a time: */
	uint8_t stage;              /* enum net_slot_stage */
	bool had_hit;               /* a query-time hit existed before the answer came */
	struct dns_answer *saved;   /* malloc'd body kept across the follow-up (wire after it) */
	uint8_t zone[DNS_NAME_MAX]; /* NS stage: the query name's zone, when the answer says */
	uint8_t ns_ask[DNS_NAME_MAX]; /* NS stage: the cut asked about (or whose NS name is) */
	uint16_t ns_qtype;          /* NS stage: NS, or A/AAAA of NS name ns_idx of ns_ask */
	uint8_t ns_idx;
	uint8_t ns_steps;           /* look-ups made for this query */
	uint8_t ns_pos;             /* NS stage: the chain position being walked */
	bool ns_shadowed;           /* NS stage: a log-only zone's hit was recorded */
	bool zone_known;            /* @zone holds the query name's zone */
	bool q_alias;               /* the query name is a CNAME: not a zone cut */
	unsigned snap_gen;          /* w->snap_gen when the query came: hit is from that one */
	/* net_torture reference of the fetch out now (the main query, or in the NS stage the
	 * name-server look-up; between look-ups 0); 0 = none. Released with the slot. */
	uint32_t zone_ref;
	bool popular; /* the answer cache knew the question as asked for (dns_pcache_seen()) */
	bool ns_out;  /* an NS-stage look-up is out (counted in cut_lookups_inflight) */
	uint8_t ns_fail; /* enum net_ns_fail: why the walk ends in SERVFAIL */
	uint8_t ns_rcode;   /* NET_NS_FAIL_LIMITED: the answer the refused look-up had */
	int16_t ns_ede;
	const char *ns_text; /* static */
};

/* Why a name-server walk answers SERVFAIL (worker_nscut.c). */
enum net_ns_fail {
	NET_NS_FAIL_NONE = 0,
	NET_NS_FAIL_ADDR,    /* an NS address set BIND would need failed to resolve */
	NET_NS_FAIL_LIMITED, /* a look-up refused by the fetch caps or a mitigation */
};

/* What a query refused by the water-torture table (net_torture_miss()) is answered. */
struct net_torture_answer {
	uint8_t rcode;
	int ede;
	const char *text; /* static */
	bool drop;        /* ddos.action drop, over UDP: no answer at all */
};

/* What a slot waits for. */
enum net_slot_stage {
	NET_STAGE_MAIN = 0, /* the client's question */
	NET_STAGE_CHASE,    /* the target of a policy CNAME; saved = the rewrite so far */
	NET_STAGE_NS,       /* a cut's NS set or an NS name's addresses; saved = the answer */
};

struct tcp_conn {
	struct net_worker *w;
	struct bufferevent *bev;
	struct event *deadline; /* server.tcp-message-timeout for the message being received */
	struct event *resume;   /* handles buffered messages once reading may go on */
	struct sockaddr_storage peer;
	socklen_t peer_len;
	unsigned pending;    /* queries in flight for this connection */
	bool closed;         /* socket gone; freed once pending reaches 0 */
	bool eof;            /* client closed its side: close once answers are written */
	bool counted;        /* holds a place in the per-address table */
	bool paused;         /* we stopped reading: pipeline or output cap */
	bool deadline_armed; /* a message has started and is not whole yet */
	struct net_xfr_stream *xfr; /* a zone transfer being written; reading waits for it */
	struct tcp_conn *prev, *next; /* most recently active first */
};

struct polled {
	struct net_worker *w;
	struct net_sock sock;
	struct event *ev;           /* UDP */
	struct evconnlistener *lev; /* TCP */
};

enum mbox_type {
	MBOX_NONE = 0,
	MBOX_PREPARE, /* build what the new config needs; switch nothing */
	MBOX_COMMIT,  /* switch to the prepared state; cannot fail */
	MBOX_ABORT,   /* drop the prepared state; keep running as before */
	MBOX_STOP,
	MBOX_SYNC, /* nothing: answered once the loop runs, so after the start-up set-up */
};

struct mbox {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	enum mbox_type type;
	const struct c2w_config *cfg;
	const struct policy_snap *snap;
	const struct net_sock *socks;
	size_t sock_count;
	int result;
	char err[256];
	bool done;
};

struct retired_ctx {
	struct resolve_ctx *ctx;
	struct retired_ctx *next;
};

/*
 * A worker's counters are written by that worker only and read by the stats thread
 * (net_worker_counters()): every access is a relaxed atomic one, so the reads are not data
 * races. On x86-64 and arm64 these are plain loads and stores, no locked instruction.
 */
#define CTR_ADD(c, n)                                                                      \
	__atomic_store_n(&(c), __atomic_load_n(&(c), __ATOMIC_RELAXED) + (uint64_t)(n),       \
			 __ATOMIC_RELAXED)
#define CTR_SET(c, v) __atomic_store_n(&(c), (uint64_t)(v), __ATOMIC_RELAXED)

/*
 * The label an answer-cache body carries (dns_answer.tag): the policy generation that checked
 * it (0: none did: an opted-out client or PASSTHRU) shifted left by one; the low bit says that
 * generation has no rule at all for the question's name (QNAME triggers, log-only zones
 * included), so a hit needs at most the CLIENT-IP rules matched (net_worker_handle()).
 */
static inline uint32_t net_cache_tag(unsigned gen, bool clean)
{
	return (uint32_t)(gen & 0x7fffffffu) << 1 | (clean ? 1u : 0u);
}

static inline unsigned net_cache_tag_gen(uint32_t tag)
{
	return tag >> 1;
}

struct net_worker {
	struct net_counters ctr; /* first: cache-line aligned */
	unsigned id;
	pthread_t thread;
	bool started;
	struct event_base *base;
	const struct c2w_config *cfg;
	const struct policy_snap *snap; /* swapped only through the mailbox; NULL = no policy */
	unsigned snap_gen;              /* bumped at every swap of @snap; 1..2^31-1 */
	bool snap_client_rules;         /* @snap has CLIENT-IP rules (answers vary by client) */
	struct events_ring *ring;       /* hit records to the event thread; NULL = none */
	struct events_optout *optout;   /* subscribers who declined the service; NULL = none */
	struct net_feeds *feeds;        /* followed zones, for NOTIFY; NULL = none */
	struct net_xfr *xfr;            /* served zones (AXFR/IXFR/SOA); NULL = none */
	struct resolve_ctx *rctx;       /* validating (when a trust anchor is set) */
	struct resolve_ctx *rctx_cd;    /* non-validating, for CD=1 queries */
	struct retired_ctx *retired;    /* replaced by a reload, freed when idle */
	/* Between MBOX_PREPARE and MBOX_COMMIT/ABORT: the contexts for the new config, or
	 * next_keep when the running ones serve it unchanged. Unused by queries. */
	bool next_ready, next_keep;
	struct resolve_ctx *next_rctx, *next_rctx_cd;
	struct dns_pcache *cache;
	struct resolve_cuts *cuts;   /* zone cuts for NSDNAME/NSIP triggers (worker_nscut.c) */
	struct net_torture *torture; /* water-torture detection, per-zone fetch caps */
	uint64_t beat; /* bumped by every tick (atomic): the service watchdog's heartbeat */
	struct net_latency lat; /* answer latency (latency.h) */
	struct net_slot *slots;
	struct net_slot *free_slots;
	struct net_deadline_q deadlines; /* the slots' client deadlines, one timer */
	/* While defer_query() waits in resolve_ctx_query(): an answer libunbound gives during
	 * the call (its cache, local data) for route @inline_rt goes into @inline_out, to leave
	 * with the batch being handled, instead of a sendmsg of its own. */
	const struct net_route *inline_rt;
	uint8_t *inline_out;
	size_t inline_cap;
	size_t inline_len;
	unsigned slot_total;    /* SLOT_COUNT + orphan_cap */
	unsigned slot_fresh;    /* slots[slot_fresh..] never used yet (untouched pages) */
	unsigned orphan_cap;    /* limits.upstream-pending-max when the pool was made */
	unsigned active;        /* slots whose client waits (<= SLOT_COUNT) */
	unsigned orphans;       /* slots on the orphan list */
	struct net_slot *orphan_head, *orphan_tail;
	struct net_client_table *clients; /* queries in flight per client prefix */
	struct polled *polled[MAX_POLLED];
	size_t polled_count;
	unsigned tcp_count;
	struct tcp_conn *conns;              /* most recently active first */
	struct tcp_conn *conns_tail;         /* least recently active */
	struct c2w_addrcount *tcp_per_addr; /* shared by all workers; NULL = no cap */
	struct event *mbox_ev; /* reads @mbox_fd */
	int mbox_fd;           /* eventfd: other threads wake the worker for its mailbox */
	struct event *tick_ev;
	struct mbox mbox;
	uint64_t now_s;          /* monotonic seconds, refreshed per batch */
	struct net_rrl *rrl;     /* response rate limiting; NULL when off */
	struct net_qrate *qrate; /* per-client query rate limit; NULL when off */
	/* Tables a prepared reload needs (larger or newly on), swapped in at commit. */
	struct net_rrl *next_rrl;
	struct net_qrate *next_qrate;
	unsigned peers;          /* workers sharing the configured rates (>= 1) */

	/* UDP batch buffers. */
	struct mmsghdr rmsg[UDP_BATCH];
	struct mmsghdr smsg[UDP_BATCH];
	struct iovec riov[UDP_BATCH];
	struct iovec siov[UDP_BATCH];
	struct sockaddr_storage rname[UDP_BATCH];
	uint8_t rctrl[UDP_BATCH][CTRL_SIZE];
	uint8_t sctrl[UDP_BATCH][CTRL_SIZE];
	uint8_t rx[UDP_BATCH][UDP_RX_SIZE];
	uint8_t tx[UDP_BATCH][UDP_TX_SIZE];

	/* Answers that waited for the resolver, held until the event loop has run every
	 * callback that was ready with them, then sent with one sendmmsg (udp_defer()). */
	struct event *defer_ev; /* active while @defer_count > 0 */
	int defer_fd;
	unsigned defer_count;
	struct mmsghdr dmsg[UDP_DEFER];
	struct iovec diov[UDP_DEFER];
	struct sockaddr_storage dname[UDP_DEFER];
	uint8_t dctrl[UDP_DEFER][CTRL_SIZE];
	uint8_t dtx[UDP_DEFER][UDP_TX_SIZE];

	/* Answer bodies and TCP messages (up to 64 KiB each). */
	struct dns_answer ans;
	uint8_t ans_buf[DNS_MSG_MAX];
	struct dns_answer pans; /* policy rewrites, built from @ans */
	uint8_t pans_buf[DNS_MSG_MAX];
	uint8_t out_buf[DNS_MSG_MAX + 2];
	uint8_t tcp_in[DNS_MSG_MAX];
};

static inline uint64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static inline uint64_t mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec;
}

/* worker.c */

/** Is @peer in server.allow? */
bool net_worker_acl_allows(const struct c2w_config *cfg, const struct sockaddr *peer);
/** Handle one query; returns the length of an immediate answer in @out, or 0. */
int net_worker_handle(struct net_worker *w, const uint8_t *pkt, size_t len,
		      const struct net_route *rt, uint8_t *out, size_t out_cap);
/** Render @ans for @q (counts the answer); 0 when nothing can be sent. */
int net_worker_render(struct net_worker *w, const struct dns_query *q, const struct dns_answer *ans,
		      uint32_t age, bool tcp, uint8_t *out, size_t out_cap);
/**
 * Take a slot for @q from @rt (copies the route, holds a TCP connection, counts the query
 * against its client's limits.client-inflight-max). NULL when refused; then *why (may be NULL)
 * is C2W_ERANGE (the client is at its cap) or C2W_EFULL (no slot free).
 */
struct net_slot *net_worker_slot_new(struct net_worker *w, const struct dns_query *q,
				     const struct net_route *rt, const struct policy_hit *hit,
				     bool policy_off, int *why);
/** Ask libunbound for @qname on behalf of slot @s; @cb gets @s. See resolve_ctx_query(). */
C2W_NODISCARD int net_worker_slot_resolve(struct net_worker *w, struct net_slot *s,
					  const uint8_t *qname, uint16_t qtype, uint16_t qclass,
					  resolve_done_cb cb);
/** Give back a slot (timer, TCP connection reference). */
void net_worker_slot_put(struct net_worker *w, struct net_slot *s);
/** Send @msg to where the slot's query came from. */
void net_worker_route_send(struct net_worker *w, const struct net_route *rt, uint8_t *msg,
			   size_t len);
/** The resolver context for @q (non-validating for CD=1). */
struct resolve_ctx *net_worker_rctx(struct net_worker *w, const struct dns_query *q);
/** The rest of an answer's path once every policy check is done: cache, act, send, put. */
void net_worker_resolved_finish(struct net_worker *w, struct net_slot *s);
/** Render an answer with no records and @rcode. */
int net_worker_answer_rcode(struct net_worker *w, const struct dns_query *q, uint8_t rcode, int ede,
			    const char *ede_text, bool tcp, uint8_t *out, size_t out_cap);

/* worker_limit.c */

/**
 * DNS Cookies of a parsed query: check a returned server cookie, count, and put the cookie to
 * send back (client cookie + a fresh server cookie) in q->cookie, or clear it when cookies
 * are off. Sets rt->cookie.
 */
void net_wlimit_cookie(struct net_worker *w, struct dns_query *q, struct net_route *rt);
/**
 * The per-client query rate limit. True when the query stops here; *len is then the length of
 * a REFUSED answer in @out, or 0 (dropped).
 */
bool net_wlimit_query(struct net_worker *w, const struct dns_query *q, const struct net_route *rt,
		      uint8_t *out, size_t out_cap, int *len);
/**
 * Response rate limiting of a UDP response about to be sent to @rt (TCP passes untouched).
 * Returns the length to send: @len, a shorter slipped reply (rewritten in @msg), or 0: drop.
 */
size_t net_wlimit_rrl(struct net_worker *w, const struct net_route *rt, uint8_t *msg, size_t len);
/** Make the worker's tables match @cfg (worker start; allocates). */
int net_wlimit_sync(struct net_worker *w, const struct c2w_config *cfg);

/* A reload in two phases (worker.c): prepare allocates the tables @cfg needs beside the
 * running ones (C2W_ENOMEM leaves nothing prepared), commit swaps them in and frees what @cfg
 * turns off without allocating, abort frees what prepare made. */
int net_wlimit_prepare(struct net_worker *w, const struct c2w_config *cfg);
void net_wlimit_commit(struct net_worker *w, const struct c2w_config *cfg);
void net_wlimit_abort(struct net_worker *w);
/** Free the tables. */
void net_wlimit_free(struct net_worker *w);

/* worker_tcp.c */

void net_tcp_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa, int salen,
		    void *arg);
/** Write one message; room for the 2-byte length prefix must precede @msg. */
/** Hand @s (a zone transfer, owned from now on) to connection @c: written as the output
 *  drains; the connection reads nothing more until it is complete. */
void net_tcp_stream(struct tcp_conn *c, struct net_xfr_stream *s);
void net_tcp_send(struct tcp_conn *c, uint8_t *msg, size_t len);
/** A query of @c finished (answered or abandoned). */
void net_tcp_release(struct tcp_conn *c);
/** Close and free every connection (worker shutdown). */
void net_tcp_free_all(struct net_worker *w);

/**
 * Count a net_torture_miss() verdict other than PASS for query @q, log and record a mitigation
 * that starts (@zone, its wire name), and say how to answer it in @a. @can_drop: the query
 * came over UDP and its answer would go straight back (ddos.action drop may leave it out).
 */
void net_worker_torture_refusal(struct net_worker *w, const struct dns_query *q,
				const struct net_route *rt, enum net_torture_verdict v,
				const uint8_t *zone, bool can_drop, struct net_torture_answer *a);

/* worker_policy.c */

/** Query-time policy: opt-out, CLIENT-IP and QNAME triggers. */
enum policy_verdict net_wpolicy_query(struct net_worker *w, const struct dns_query *q,
				      const struct net_route *rt, struct policy_hit *hit,
				      bool *policy_off);
/** Act on a hit; *handled when the answer (or deliberate silence) is decided here. */
int net_wpolicy_act(struct net_worker *w, const struct dns_query *q, const struct net_route *rt,
		    const struct policy_hit *hit, const uint8_t *up, size_t up_len, uint8_t *out,
		    size_t out_cap, bool *handled, struct net_slot *slot);
/**
 * A random-subdomain mitigation started on @zone (text) at query @q: one hit record, category
 * "ddos", carrying what any hit carries (the client is pseudonymised by the event thread).
 */
void net_wpolicy_ddos_hit(struct net_worker *w, const struct dns_query *q,
			  const struct net_route *rt, const char *zone, unsigned action);
/** Explicit query log (events.query-log): one EVENTS_KIND_QUERY record; no-op when off. */
void net_wpolicy_query_log(struct net_worker *w, const struct dns_query *q,
			   const struct net_route *rt);
/**
 * Does the policy in force have no rule for @q's name (QNAME triggers of every zone, log-only
 * ones included; a never-block name counts as none)? The answer cache labels what it stores
 * with this (net_cache_tag()): a hit on such a body under the same generation needs only
 * net_wpolicy_client_clear(). One query-side match without the client; false without a policy.
 */
bool net_wpolicy_name_clean(struct net_worker *w, const struct dns_query *q);
/**
 * Does no CLIENT-IP rule of the policy in force match the client of @rt (log-only zones
 * included; an opted-out client counts as clear)? True at once when the policy has none.
 */
bool net_wpolicy_client_clear(struct net_worker *w, const struct net_route *rt);
/**
 * May a cached body checked by an older policy (or by none) be served under the current one?
 * Runs the response-side triggers (CNAME chain names, answer IPs) on it; false when one matches
 * or when the policy has NSDNAME/NSIP rules (they need lookups: the query is resolved again).
 */
bool net_wpolicy_cached_ok(struct net_worker *w, const struct dns_query *q,
			   const struct net_route *rt, const struct dns_answer *cached);
/** Response-time triggers on the answer body in w->ans for slot @s (updates s->hit). */
void net_wpolicy_response(struct net_worker *w, struct net_slot *s);
/**
 * NSDNAME/NSIP (worker_nscut.c): when the snapshot has such rules, match the name servers of
 * every zone cut above the query name (BIND's delegation points, min-ns-dots), taken from the
 * worker's cut cache, asking libunbound only for cuts and addresses it does not hold. Returns
 * true when a look-up is under way (the slot then finishes through
 * net_worker_resolved_finish()); false: matched already, or nothing to do.
 */
bool net_wpolicy_ns_start(struct net_worker *w, struct net_slot *s);
/** Make the worker's zone-cut cache (worker_nscut.c). C2W_OK or C2W_ENOMEM. */
int net_wnscut_init(struct net_worker *w);
/** Keep a copy of @ans in @s->saved (false: out of memory, nothing kept). worker_policy.c */
bool net_wpolicy_slot_save(struct net_slot *s, const struct dns_answer *ans);
/** Put @s->saved back into w->ans, free the copy, stage back to NET_STAGE_MAIN. */
void net_wpolicy_slot_restore(struct net_worker *w, struct net_slot *s);
/** Record a log-only (shadow) zone's hit for @s. */
void net_wpolicy_record_shadow(struct net_worker *w, struct net_slot *s,
				const struct policy_hit *shadow);
/** After a policy swap: redo the query- and response-time match of @s against w->snap. */
void net_wpolicy_rematch(struct net_worker *w, struct net_slot *s);

#endif
