/* SPDX-License-Identifier: MIT */
/*
 * The RPZ policy engine as the rest of c2wall sees it: build a snapshot from feeds (RPZ master
 * files, hosts files, domain lists), map a compiled snapshot, match queries and answers against
 * it, and build the rewritten answer. The model is draft-vixie-dnsop-dns-rpz-00 as BIND 9
 * implements it; docs/policy.md lists every choice. No I/O on the matching path, no allocation
 * after a snapshot is built. The daemon owns the RCU swap; this header knows nothing of conf/.
 *
 * Per query, a worker does:
 *
 *   v = policy_match_query(snap, q, client, &hit, &shadow);
 *   POLICY_VERDICT_NONE    resolve; then policy_match_response(.., &hit, ..) on the answer
 *   POLICY_VERDICT_ACT     act on hit.action now, without recursion (qname-wait-recurse no)
 *   POLICY_VERDICT_RECURSE resolve first; policy_match_response() may replace @hit by an
 *                          earlier zone's RESPONSE-IP / NSDNAME / NSIP rule; then act on @hit
 *
 * and "act" means, by hit.action: DROP: send nothing; TCP_ONLY: over UDP answer TC=1 with no
 * records, over TCP resolve normally; PASSTHRU or NONE: answer normally (a PASSTHRU hit is still
 * recorded); anything else: policy_answer_build() then dns_answer_render(). A hit in a zone with
 * the LOG override never acts: it comes back in @shadow to be recorded, and matching goes on.
 */
#ifndef C2W_POLICY_POLICY_H
#define C2W_POLICY_POLICY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/err.h"
#include "dns/msg.h"

struct policy_snap;

#define POLICY_ZONES_MAX      64  /* policy zones per snapshot */
#define POLICY_TEXT_NAME      256 /* presentation names in hit records (truncated with "...") */
#define POLICY_TEXT_CATEGORY  32
#define POLICY_TEXT_FAMILY    48
#define POLICY_TEXT_FEED      64

enum policy_format {
	POLICY_FORMAT_RPZ = 0, /* RPZ master file (RFC 1035 zone-file syntax) */
	POLICY_FORMAT_HOSTS,   /* "0.0.0.0 name..." */
	POLICY_FORMAT_DOMAINS, /* one name per line: blocks the name and every name below it */
};

/* Per-zone override, the "policy:" key. GIVEN applies the feed's own actions. */
enum policy_override {
	POLICY_OVERRIDE_GIVEN = 0,
	POLICY_OVERRIDE_NXDOMAIN,
	POLICY_OVERRIDE_NODATA,
	POLICY_OVERRIDE_PASSTHRU,
	POLICY_OVERRIDE_DROP,
	POLICY_OVERRIDE_TCP_ONLY,
	POLICY_OVERRIDE_CNAME,    /* zone_spec.cname_target */
	POLICY_OVERRIDE_LOG,      /* shadow mode: hits are recorded, answers untouched */
	POLICY_OVERRIDE_SINKHOLE, /* A/AAAA with zone_spec.sinkhole4/6, NODATA for other types */
};

/* Trigger types in RPZ precedence order within one zone (draft section 5, BIND 9). */
enum policy_trigger {
	POLICY_TRIGGER_CLIENT_IP = 0, /* rpz-client-ip */
	POLICY_TRIGGER_QNAME,         /* owner name, exact or "*." wildcard */
	POLICY_TRIGGER_RESPONSE_IP,   /* rpz-ip */
	POLICY_TRIGGER_NSDNAME,       /* rpz-nsdname */
	POLICY_TRIGGER_NSIP,          /* rpz-nsip */
	POLICY_TRIGGER_COUNT,
};

enum policy_action {
	POLICY_ACTION_NONE = 0,   /* no rule */
	POLICY_ACTION_NXDOMAIN,   /* CNAME . */
	POLICY_ACTION_NODATA,     /* CNAME *. */
	POLICY_ACTION_PASSTHRU,   /* CNAME rpz-passthru. (or the trigger name itself) */
	POLICY_ACTION_DROP,       /* CNAME rpz-drop. */
	POLICY_ACTION_TCP_ONLY,   /* CNAME rpz-tcp-only. */
	POLICY_ACTION_CNAME,      /* CNAME target.; the worker must resolve the target */
	POLICY_ACTION_CNAME_WILD, /* CNAME *.garden.: target = qname + "garden."; resolve it */
	POLICY_ACTION_LOCAL_DATA, /* the rule's own records, per type; NODATA for other types */
	POLICY_ACTION_SINKHOLE,   /* zone override: sinkhole A/AAAA */
	POLICY_ACTION_COUNT,
};

enum policy_verdict {
	POLICY_VERDICT_NONE = 0, /* nothing yet: resolve, then check the answer */
	POLICY_VERDICT_ACT,      /* act on hit.action now; no recursion needed */
	POLICY_VERDICT_RECURSE,  /* tentative hit: resolve, check the answer, then act */
};

/** One policy zone as the daemon (or the CLI) configures it; all pointers borrowed. */
struct policy_zone_spec {
	const char *name; /* zone origin, presentation form ("c2.rpz.example."); required */
	const char *file; /* feed path; required */
	enum policy_format format;
	enum policy_override override;
	const char *cname_target; /* POLICY_OVERRIDE_CNAME: presentation name, "*.x." allowed */
	const char *category;     /* default category; NULL = "c2" */
	const char *family;       /* default malware family; NULL = none */
	const char *feed;         /* feed name for hit records; NULL = the zone name */
	bool ede_filtered;        /* EDE 17 Filtered instead of 15 Blocked */
	bool allow_include;       /* RPZ $INCLUDE: off by default; when on, regular files in the
				     feed's directory only, at most 64 MiB each */
	bool has_sinkhole4, has_sinkhole6;
	uint8_t sinkhole4[4]; /* network byte order */
	uint8_t sinkhole6[16];
	uint32_t ttl; /* TTL of hosts/domains rules and synthesized SOA; 0 = 300 */
};

enum policy_protect_mode {
	POLICY_PROTECT_DROP = 0, /* drop every rule that would block a protected name, report it */
	POLICY_PROTECT_REFUSE,   /* refuse the whole build with C2W_EPROTECTED (reloads) */
};

struct policy_build_opts {
	/* Never-block names, presentation form; "*.isp.example." protects everything below. At
	 * match time a protected QNAME (or CNAME-chain name) is never rewritten by any rule. */
	const char *const *never_block;
	size_t never_block_count;
	const char *never_block_file; /* one name per line, '#' comments; NULL = none */
	enum policy_protect_mode protect_mode;
	/* Refuse (C2W_ERANGE) when a zone's rule count changes by more than this fraction against
	 * the zone of the same name in @previous. 0 or @previous NULL = no limit. */
	double max_change;
	const struct policy_snap *previous; /* borrowed for the call */
	/* Write the compiled snapshot here (atomically: temp file + rename) and map it; NULL =
	 * keep it in anonymous memory. */
	const char *out_path;
	/* Entries whose "expires=" is at or before this unix time are left out (and counted);
	 * 0 = the current time. max_change counts them as still there, so expiry alone never
	 * trips it. */
	int64_t now;
};

/** A rejected or notable feed line; @file/@reason valid for the call only. */
typedef void (*policy_diag_cb)(void *ctx, const char *file, unsigned line, const char *reason);

struct policy_zone_report {
	char name[POLICY_TEXT_NAME];
	uint64_t rules;                           /* rules compiled (after duplicates) */
	uint64_t by_trigger[POLICY_TRIGGER_COUNT];
	uint64_t by_action[POLICY_ACTION_COUNT];
	uint64_t wildcards;
	uint64_t rejected;   /* lines skipped as malformed */
	uint64_t duplicates; /* same trigger again; first one kept */
	uint64_t conflicts;  /* same trigger, incompatible data; first one kept */
	uint64_t protected_dropped; /* rules dropped by the never-block list */
	uint64_t expired;           /* entries skipped: their "expires=" had passed (opts->now) */
};

struct policy_report {
	policy_diag_cb diag; /* in: called for every rejected line and dropped rule; may be NULL */
	void *diag_ctx;
	size_t zone_count; /* out */
	struct policy_zone_report zones[POLICY_ZONES_MAX];
	uint64_t rules;           /* out: total */
	uint64_t snapshot_bytes;  /* out: size of the compiled image */
	int64_t next_expiry;      /* out: earliest "expires=" still ahead (unix s); 0 = none */
	char error[512];          /* out: why a build was refused or failed, "" when it worked */
};

/**
 * A match result, self-contained: fixed-size text, no pointers, so it can be copied into a hit
 * ring and read by another thread after the snapshot is gone. The rule/zone indices are only
 * meaningful with the snapshot that produced them (policy_answer_build()).
 */
struct policy_hit {
	uint8_t action;  /* enum policy_action, after the zone override */
	uint8_t given;   /* enum policy_action the feed gave */
	uint8_t trigger; /* enum policy_trigger */
	bool wildcard;   /* QNAME/NSDNAME matched a "*." rule */
	bool shadow;     /* the zone is in LOG mode: record only */
	bool restart;    /* CNAME rewrite followed for every query type, CNAME and ANY too
			  * (a "*." target or the zone's `policy cname`), as BIND does */
	uint8_t prefix_bits; /* IP triggers: prefix length of the rule */
	uint8_t chain_pos;   /* 0: the query name; n: n-th CNAME target in the answer */
	uint8_t zone;        /* zone index, 0 = highest precedence */
	int ede_code;        /* DNS_EDE_BLOCKED or DNS_EDE_FILTERED */
	uint32_t rule;       /* internal rule index in the snapshot */
	uint32_t ttl;        /* TTL of the rewritten records */
	int64_t first_seen;  /* unix time (day resolution) from the feed; 0 = unknown */
	char match[POLICY_TEXT_NAME];     /* "*.evil.example." / "192.0.2.0/24" (trigger, w/o zone) */
	char matched[POLICY_TEXT_NAME];   /* the name or address in the traffic that matched */
	char zone_name[POLICY_TEXT_NAME]; /* "c2.rpz.example." */
	char category[POLICY_TEXT_CATEGORY];
	char family[POLICY_TEXT_FAMILY];
	char feed[POLICY_TEXT_FEED];
};

/**
 * Parse every feed, compile, and (with opts->out_path) write and map the snapshot. Malformed
 * lines are skipped and reported through rep->diag; duplicates and conflicts resolve by
 * precedence (first in file order within a zone). A feed that cannot be opened fails the build.
 *
 * @param specs  zones in precedence order, borrowed for the call
 * @param count  1..POLICY_ZONES_MAX
 * @param opts   may be NULL (no never-block list, no change limit, in memory)
 * @param rep    out: counts and diagnostics; rep->error says why on failure; may be NULL
 * @param out    out: the snapshot, free with policy_snap_free()
 * @return C2W_OK; C2W_EFEED (a feed could not be read), C2W_EPROTECTED (opts->protect_mode
 *         REFUSE and a rule would block a protected name), C2W_ERANGE (max_change exceeded),
 *         C2W_EINVAL (bad spec), C2W_ENOMEM, or a negative errno from writing out_path.
 *         On failure *out is untouched, so the caller keeps its old policy.
 */
C2W_NODISCARD int policy_snap_build(const struct policy_zone_spec *specs, size_t count,
				    const struct policy_build_opts *opts,
				    struct policy_report *rep, struct policy_snap **out);

/**
 * Map a compiled snapshot read-only and verify its header and checksum.
 *
 * @param err      out: a human-readable reason on failure; may be NULL
 * @return C2W_OK, C2W_EVERSION (other format version), C2W_ECHECKSUM (corrupted),
 *         C2W_EMALF (truncated or inconsistent), or a negative errno from open/mmap
 */
C2W_NODISCARD int policy_snap_open(const char *path, struct policy_snap **out, char *err,
				   size_t err_len);

/**
 * Apply an increment of policy zone @zone (an RPZ zone) to @cur without recompiling it: the
 * trigger keys of the changed owner names are compiled into a small layer (a table of touched
 * keys and one of their new rules) that lookups consult before the layers under it and the
 * full snapshot; the result shares @cur's image and layers (reference counted), so the cost
 * is O(changes). Guard rails as in policy_snap_build(): opts->never_block* and protect_mode,
 * opts->max_change against @cur's rule count of the zone (opts->previous is ignored).
 *
 * @param specs    the zones @cur was built from, in the same order (names checked)
 * @param records  RPZ master-file text: every record the changed owners have in the new
 *                 version (absolute owner names); may be empty
 * @param owners   the changed owner names, absolute presentation form: each owner's old rule
 *                 is replaced by what @records give it, or deleted when they give none
 * @param out      out: the new snapshot; free with policy_snap_free() (after @cur is fine)
 * @return C2W_OK; C2W_EPROTECTED, C2W_ERANGE (guard rails: keep @cur); C2W_EFULL (past
 *         POLICY_DELTA_LAYERS_MAX layers or 2^32 rule indices: recompile instead),
 *         C2W_EINVAL (@specs do not match @cur), C2W_EFEED (never-block file), C2W_ENOMEM.
 *         On failure *out is untouched.
 */
C2W_NODISCARD int policy_snap_delta(const struct policy_snap *cur,
				    const struct policy_zone_spec *specs, size_t count,
				    unsigned zone, const char *records, size_t records_len,
				    const char *const *owners, size_t owner_count,
				    const struct policy_build_opts *opts, struct policy_report *rep,
				    struct policy_snap **out);

#define POLICY_DELTA_LAYERS_MAX 64 /* increments stacked on one full snapshot, at most */

/**
 * Increments stacked on the full snapshot under @snap, and the trigger keys they touched in
 * all, counted once per layer (0, 0 for a full snapshot). The daemon merges past its bound.
 */
void policy_snap_delta_size(const struct policy_snap *snap, unsigned *layers, uint64_t *keys);

/**
 * The full snapshot under @snap's increments (@snap itself when it has none), borrowed: alive
 * as long as @snap is. policy_snap_delta() on it with every owner the increments touched and
 * their records now gives one layer with the answers of @snap (a rebase).
 */
const struct policy_snap *policy_snap_base(const struct policy_snap *snap);

/* A policy zone's SOA timers now, for policy_snap_flatten(): serial, refresh, retry, expire,
 * minimum. */
struct policy_soa_timers {
	bool set;
	uint32_t v[5];
};

/**
 * @snap with its increments folded into one full image, built from the images themselves (no
 * feed is read, no rule set built): memory is the new image plus indexes of the data entries
 * and wildcard nodes, where a full compile holds about three times the image beside @snap.
 * Answers, counts and served records are those of a full compile of the same records
 * (wildcard nodes included). The lifetimes ("expires=") carry over as they are.
 *
 * Reads @snap only: it may run on any thread while others look up in @snap (hold it with
 * policy_snap_hold() for that time).
 *
 * @param soa     NULL, or one entry per zone of @snap: the SOA timers its rewritten answers
 *                and served copy then carry (the names in the SOA stay as they were)
 * @param cancel  NULL, or a flag another thread may set: the work stops within 65,536 slots
 * @return C2W_OK (*out: a full snapshot, no layers), C2W_ENOMEM, C2W_ERANGE (too large for
 *         the format: recompile instead), C2W_EFULL (more layers than it folds),
 *         C2W_EAGAIN (@cancel was set; nothing made)
 */
C2W_NODISCARD int policy_snap_flatten(const struct policy_snap *snap,
				      const struct policy_soa_timers *soa,
				      const atomic_bool *cancel, struct policy_snap **out);

/** One more holder of @snap, from any thread: policy_snap_free() lets go of it. @return @snap */
struct policy_snap *policy_snap_hold(const struct policy_snap *snap);

/** Rules of zone @zone of @snap (after increments). */
uint64_t policy_snap_zone_rules(const struct policy_snap *snap, size_t zone);

/** Write @snap to @path (temp file + rename). @return C2W_OK or a negative errno. */
C2W_NODISCARD int policy_snap_write(const struct policy_snap *snap, const char *path);

/** Unmap/free a snapshot. NULL does nothing. Callers free only after an RCU grace period. */
void policy_snap_free(struct policy_snap *snap);

/**
 * The earliest "expires=" of a rule in @snap still ahead when it was built (unix s), 0 =
 * none: the daemon rebuilds then, so the entry stops being enforced without a new feed.
 */
int64_t policy_snap_next_expiry(const struct policy_snap *snap);

/** Number of rules, and of zones, in @snap. */
uint64_t policy_snap_rule_count(const struct policy_snap *snap);
size_t policy_snap_zone_count(const struct policy_snap *snap);

/** Size in bytes of the compiled image (what is mapped). */
uint64_t policy_snap_size(const struct policy_snap *snap);

/**
 * Does any zone have RESPONSE-IP, NSDNAME or NSIP rules? When false the worker may skip
 * policy_match_response() for answers that carry no CNAME (it still checks chain names).
 */
bool policy_snap_has_response_rules(const struct policy_snap *snap);

/**
 * Does any zone (shadow zones included) have NSDNAME or NSIP rules? Then the resolver must
 * hand back the answering zone's NS records and their addresses (libunbound
 * minimal-responses: no) for policy_match_response() to see them.
 */
bool policy_snap_has_ns_rules(const struct policy_snap *snap);

/**
 * Does any zone (shadow zones included) have CLIENT-IP rules? When false, the query-side
 * verdict depends on the question alone (policy_match_query() gives the same for every client).
 */
bool policy_snap_has_client_rules(const struct policy_snap *snap);

/** Does any zone (shadow zones included) have NSIP rules? Then NS names need addresses. */
bool policy_snap_has_nsip_rules(const struct policy_snap *snap);

/**
 * CLIENT-IP and QNAME triggers for a query, before any recursion.
 *
 * @param snap    pinned snapshot, borrowed; any thread
 * @param q       the parsed query; q->qname canonical
 * @param client  client address (AF_INET/AF_INET6; v4-mapped v6 counts as v4); NULL = skip
 *                CLIENT-IP triggers
 * @param hit     out: the winning rule when the verdict is ACT or RECURSE; zeroed otherwise
 * @param shadow  out (may be NULL): the best hit of a LOG-mode zone, shadow->action NONE when
 *                there was none. Only zones ahead of the acting hit are reported.
 * @return enum policy_verdict. Never allocates. Protected (never-block) names give NONE.
 */
enum policy_verdict policy_match_query(const struct policy_snap *snap, const struct dns_query *q,
				       const struct sockaddr *client, struct policy_hit *hit,
				       struct policy_hit *shadow);

/**
 * CLIENT-IP triggers alone: what policy_match_query() gives for a question no QNAME rule of
 * any zone matches (log-only zones included). Same arguments (@shadow required), never
 * allocates.
 */
enum policy_verdict policy_match_client(const struct policy_snap *snap,
					const struct sockaddr *client, struct policy_hit *hit,
					struct policy_hit *shadow);

/**
 * Response-side triggers on an answer: QNAME triggers of every CNAME target in the chain
 * (checked name by name; synthetic data from a rule is never re-checked), RESPONSE-IP triggers
 * of A/AAAA records in the answer section, NSDNAME triggers of NS records in the authority
 * section and NSIP triggers of their A/AAAA glue in the additional section. Only rules that
 * take precedence over a hit already in @hit (action != NONE) can replace it.
 *
 * @param msg      DNS message (the upstream reply, or dns_answer.wire), borrowed for the call
 * @param msg_len  its length
 * @param hit      in/out: the pending hit from policy_match_query() or zeroed
 * @param shadow   in/out (may be NULL): as in policy_match_query()
 * @return true when @hit changed; the worker then acts on hit->action. A message that does not
 *         parse is left alone (false).
 */
bool policy_match_response(const struct policy_snap *snap, const struct dns_query *q,
			   const struct sockaddr *client, const uint8_t *msg, size_t msg_len,
			   struct policy_hit *hit, struct policy_hit *shadow);

/**
 * NSDNAME/NSIP triggers for one name server of the zone cut the resolver used: the worker
 * feeds it what it learns (either or both of @ns_name and @ns_addr).
 *
 * @param ns_name  canonical wire name, or NULL
 * @param ns_addr  AF_INET/AF_INET6 address, or NULL
 * @return true when @hit changed (same rules as policy_match_response())
 */
bool policy_match_ns(const struct policy_snap *snap, const struct dns_query *q,
		     const uint8_t *ns_name, const struct sockaddr *ns_addr, struct policy_hit *hit,
		     struct policy_hit *shadow);

/* An address of a name server, for policy_match_ns_all(). */
struct policy_ns_addr {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
};

/**
 * NSDNAME and NSIP triggers over the name servers of every zone cut checked for @q (the
 * worker gathers them, see docs/policy.md): every name in @names as NSDNAME ("NS ." is
 * skipped, as BIND does), every address in @addrs as NSIP. Ranked with the pending @hit as
 * policy_match_response() ranks; among one zone's NSDNAME rules the rule owner name last in
 * DNSSEC canonical order wins (BIND). Allocation-free.
 *
 * @param chain  the chain position of the name whose zone cuts these servers are (0: the
 *               query name; n: the n-th CNAME target, as BIND restarts there)
 * @param names  canonical wire names, borrowed for the call
 * @param addrs  borrowed for the call
 * @param hit    in: the pending hit (action NONE when none); out: replaced when a rule here
 *               takes precedence
 * @param shadow out, may be NULL: the first hit in a log-only zone
 * @return true when @hit was replaced
 */
bool policy_match_ns_all(const struct policy_snap *snap, const struct dns_query *q, unsigned chain,
			 const uint8_t *const *names, size_t name_count,
			 const struct policy_ns_addr *addrs, size_t addr_count,
			 struct policy_hit *hit, struct policy_hit *shadow);

/**
 * Would BIND still look at NS addresses of @family (AF_INET, AF_INET6) with @hit pending
 * (rpz_get_zbits() for NSIP)? True when some zone with NSIP rules of that family comes before
 * the zone of @hit, or is that zone and @hit is itself an NSIP hit, or there is no hit for
 * chain name @chain (0: the query name; a hit at a later chain name does not count).
 */
bool policy_nsip_wanted(const struct policy_snap *snap, const struct policy_hit *hit,
			unsigned chain, int family);

/**
 * Build the rewritten answer body for @hit, BIND style: RCODE NXDOMAIN or NOERROR, AA clear, the
 * rule's records with the rule's TTL (local data of the query type, or NODATA; CNAME to the
 * target; for CNAME_WILD the target is the query name prepended to the rule's suffix; sinkhole
 * A/AAAA), and the SOA of the policy zone that acted in the additional section (BIND add-soa,
 * TTL min(SOA TTL, SOA MINIMUM)). ans->secure is false (never AD); ans->ede_code/ede_text carry
 * EDE 15/17 with "blocked by policy zone ZONE". For a hit at chain_pos > 0, the CNAME records of
 * @up leading to the matched name come first, as BIND gives them.
 *
 * For CNAME and CNAME_WILD the body ends at the CNAME: the worker may resolve the target and
 * append its answer (the target is not re-checked against policy).
 *
 * @param up      the upstream reply for chain_pos > 0, else NULL
 * @param ans     out: ans->wire/ans->cap provided by the caller
 * @return C2W_OK, C2W_EINVAL (action is NONE/PASSTHRU/DROP/TCP_ONLY: nothing to build),
 *         C2W_ESPACE
 */
C2W_NODISCARD int policy_answer_build(const struct policy_snap *snap, const struct dns_query *q,
				      const struct policy_hit *hit, const uint8_t *up,
				      size_t up_len, struct dns_answer *ans);

/** Names for logs and the CLI ("qname", "nxdomain", ...). Never NULL. */
const char *policy_trigger_name(enum policy_trigger t);
const char *policy_action_name(enum policy_action a);

/** One candidate rule found by policy_explain(); the text fields as in struct policy_hit. */
typedef void (*policy_explain_cb)(void *ctx, const struct policy_hit *candidate, bool wins,
				  const char *why);

/**
 * Every rule that matches @q from @client, in precedence order, each with whether it wins and
 * why (zone order, trigger order, exact over wildcard, longer wildcard, protected name, shadow).
 * Only query-time triggers (CLIENT-IP, QNAME). For `c2wall explain`.
 *
 * @return the verdict policy_match_query() gives
 */
enum policy_verdict policy_explain(const struct policy_snap *snap, const struct dns_query *q,
				   const struct sockaddr *client, policy_explain_cb cb, void *ctx);

#endif
