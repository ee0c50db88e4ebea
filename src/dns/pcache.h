/* SPDX-License-Identifier: MIT */
/*
 * The per-worker answer cache: rendered answer bodies keyed by (qname, qtype, qclass, DO, CD),
 * in one preallocated memory budget. A body marked DO-neutral (dns_answer.do_neutral: not
 * secure, no DNSSEC records) is kept once and serves clients with and without DO. Each entry
 * takes the bytes its answer needs (a 32-byte header, TTL offsets, the body with its question),
 * not a fixed slot. Owned by one worker thread: no locks; lookups and stores allocate nothing.
 * Entries expire by their smallest TTL. Eviction is CLOCK-like: the oldest entry goes unless it
 * served a hit; then it gets a second chance (moved to the newest end), so the hot head stays
 * and a flood of one-off names cannot push out popular ones. Hit counts age (halve) only when
 * the cache holds nothing else (see pcache.c).
 */
#ifndef C2W_DNS_PCACHE_H
#define C2W_DNS_PCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/msg.h"

struct dns_pcache;

/**
 * @param bytes    memory budget (index and entries together; at least 64 KiB is used)
 * @param max_body largest answer body stored (e.g. 1232); larger ones are skipped
 * @return the cache, or NULL on ENOMEM
 */
struct dns_pcache *dns_pcache_new(size_t bytes, uint16_t max_body);
void dns_pcache_free(struct dns_pcache *c);

/**
 * Find a fresh body for @q.
 *
 * @param now_s  monotonic seconds
 * @param ans    out: ans->wire points into the cache (valid until the next store on this
 *               cache); other fields copied
 * @param age_s  out: seconds since stored, for dns_answer_render()
 * @return true on a hit
 */
bool dns_pcache_lookup(struct dns_pcache *c, const struct dns_query *q, uint64_t now_s,
		       struct dns_answer *ans, uint32_t *age_s);

/**
 * Store @ans for @q (copied). Bodies with min_ttl 0, too large, or whose question is not @q's
 * (canonical qname, qtype, qclass) are skipped. A DO-neutral body replaces the copies of both
 * DO variants; any other replaces the copy of @q's DO only.
 */
void dns_pcache_store(struct dns_pcache *c, const struct dns_query *q, const struct dns_answer *ans,
		      uint64_t now_s);

/**
 * Was @q's answer stored here and asked for again since (even if it has expired by now)?
 * The water-torture defence lets such names through to the resolver: they are popular, not
 * random. Allocates nothing.
 */
bool dns_pcache_seen(const struct dns_pcache *c, const struct dns_query *q);

/** Bytes of memory the cache may use: its index and its entries (the budget it got). */
size_t dns_pcache_capacity(const struct dns_pcache *c);

/** Bytes of live and not yet reclaimed entries (for tests and stats). */
size_t dns_pcache_used(const struct dns_pcache *c);

/** Bytes of index in use: it grows with the entries, up to its share of the capacity. */
size_t dns_pcache_index_bytes(const struct dns_pcache *c);

/** Drop everything (after a policy or config change). */
void dns_pcache_clear(struct dns_pcache *c);

#endif
