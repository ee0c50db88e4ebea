/* SPDX-License-Identifier: MIT */
/*
 * The zone-cut cache: for names the resolver has asked "NAME NS" about, whether NAME is a zone
 * cut, and then its name servers and their addresses. NSDNAME/NSIP policy triggers are checked
 * against every cut above a query name (BIND's "all delegation points"); this cache makes that
 * cost one look-up per cut and TTL instead of one per query. Fixed size, preallocated, one per
 * worker (no locks); entries expire with the TTL of the records that made them; when a set is
 * full, a "no cut" entry is replaced before a cut. Parsing of
 * the NS and address answers is here too; asking libunbound is the worker's job.
 *
 * Use:
 *   c = resolve_cuts_find(cuts, name, now)        NULL: unknown, ask "NAME NS"
 *   resolve_cuts_learn_ns(cuts, name, rcode, msg, len, now)          with the answer
 *   resolve_cut_wants(c, i, &qtype)               an NS name without known addresses:
 *   resolve_cuts_learn_addr(cuts, name, i, qtype, rcode, msg, len, now)  with the answer
 */
#ifndef C2W_RESOLVE_CUTS_H
#define C2W_RESOLVE_CUTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "dns/name.h"

#define RESOLVE_CUT_NS_MAX    13   /* NS names kept per cut (a root-sized NS set) */
#define RESOLVE_CUT_ADDR_MAX  32   /* addresses kept per cut, all NS names together */
#define RESOLVE_CUT_NAMES_LEN 768  /* packed NS names */
#define RESOLVE_CUT_TTL_MAX   3600 /* an entry is trusted at most this long (seconds) */
#define RESOLVE_CUT_TTL_FAIL  5    /* a failed look-up is remembered this long */
#define RESOLVE_CUTS_DEFAULT  2048 /* entries per worker */

/* ns_known bits: which address types of an NS name are known (found or proved absent). */
#define RESOLVE_CUT_HAVE_A    1u
#define RESOLVE_CUT_HAVE_AAAA 2u

struct resolve_cut_addr {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t ns;     /* index of the NS name it belongs to */
	uint8_t addr[16];
};

/** One entry. Plain data; read it, change it only through the functions below. */
struct resolve_cut {
	uint8_t name[DNS_NAME_WIRE_MAX]; /* canonical wire name; name[0] == 0 and !used: empty */
	bool used;
	bool is_cut;      /* "NAME NS" has an NS RRset owned by NAME */
	bool failed;      /* the look-up failed (SERVFAIL, timeout): treated as no cut, briefly */
	bool trimmed;     /* more NS names or addresses than fit: some were left out */
	uint64_t expires; /* monotonic seconds */
	uint8_t ns_count;
	uint8_t addr_count;
	uint16_t ns_off[RESOLVE_CUT_NS_MAX];
	uint8_t ns_known[RESOLVE_CUT_NS_MAX];
	uint8_t ns_failed[RESOLVE_CUT_NS_MAX]; /* HAVE_ bits whose look-up failed (SERVFAIL...) */
	uint8_t names[RESOLVE_CUT_NAMES_LEN];
	struct resolve_cut_addr addrs[RESOLVE_CUT_ADDR_MAX];
};

struct resolve_cuts;

/** Counters of one cache (per worker). */
struct resolve_cuts_stats {
	uint64_t hits, misses, evictions;
};

/**
 * Make a cache of @entries entries (rounded up to a multiple of 4; 0 = RESOLVE_CUTS_DEFAULT).
 * All memory is taken here. @return the cache, or NULL (out of memory)
 */
struct resolve_cuts *resolve_cuts_new(unsigned entries);

/** Free; NULL does nothing. */
void resolve_cuts_free(struct resolve_cuts *cuts);

/** Forget every entry (the resolver's upstreams changed). */
void resolve_cuts_reset(struct resolve_cuts *cuts);

/** Entries, and the bytes the cache holds. */
unsigned resolve_cuts_capacity(const struct resolve_cuts *cuts);
size_t resolve_cuts_bytes(const struct resolve_cuts *cuts);
const struct resolve_cuts_stats *resolve_cuts_stats(const struct resolve_cuts *cuts);

/**
 * The live entry for @name, or NULL (never asked, expired, or evicted).
 *
 * @param name  canonical (lower-case) wire name
 * @param now   monotonic seconds
 * @return a pointer into the cache, valid until the next learn/put/reset call
 */
const struct resolve_cut *resolve_cuts_find(struct resolve_cuts *cuts, const uint8_t *name,
					    uint64_t now);

/**
 * Record that @name is not a zone cut, for @ttl seconds (capped at RESOLVE_CUT_TTL_MAX).
 */
void resolve_cuts_put_nocut(struct resolve_cuts *cuts, const uint8_t *name, uint32_t ttl,
			    uint64_t now);

/**
 * Learn from the answer to "@name NS": an NS RRset owned by @name makes @name a cut with
 * those NS names (and the addresses the additional section gives for them, marking each
 * such name's A or AAAA set known); an answer without one (NODATA, NXDOMAIN, a CNAME)
 * makes it no cut, and the SOA of a negative answer also proves every name between @name
 * and that zone's apex to be no cut (they are inside that zone). A failure (@rcode not
 * NOERROR/NXDOMAIN, or an unreadable message) is remembered for RESOLVE_CUT_TTL_FAIL s.
 *
 * @param name  canonical wire name that was asked
 * @param msg   libunbound's answer, borrowed for the call; may be NULL when @rcode says why
 * @return the entry for @name (valid as for resolve_cuts_find())
 */
const struct resolve_cut *resolve_cuts_learn_ns(struct resolve_cuts *cuts, const uint8_t *name,
						int rcode, const uint8_t *msg, size_t len,
						uint64_t now);

/**
 * Does NS name @i of @c still need its A (*qtype = 1) or AAAA (*qtype = 28) set looked up?
 * Names in the root zone ("NS .") need nothing (BIND ignores them).
 */
bool resolve_cut_wants(const struct resolve_cut *c, unsigned i, uint16_t *qtype);

/** NS name @i of @c (canonical wire name). */
const uint8_t *resolve_cut_ns(const struct resolve_cut *c, unsigned i);

/**
 * Learn the answer to "NS-name @qtype" for NS name @i of cut @cut_name: the addresses owned by
 * the NS name itself are added (BIND does not follow a CNAME there), and the type is marked
 * known whatever the answer; a failure (@rcode not NOERROR/NXDOMAIN) is also marked in
 * ns_failed, for BIND answers SERVFAIL when it needs such an address (docs/policy.md). The
 * entry's lifetime shrinks to the records' TTL (RESOLVE_CUT_TTL_FAIL after a failure).
 * Nothing happens when the entry is gone (evicted) or @i is out of range.
 */
void resolve_cuts_learn_addr(struct resolve_cuts *cuts, const uint8_t *cut_name, unsigned i,
			     uint16_t qtype, int rcode, const uint8_t *msg, size_t len,
			     uint64_t now);

#endif
