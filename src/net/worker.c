/* SPDX-License-Identifier: MIT */
/*
 * The worker's query path: receive (recvmmsg), parse, ACL, policy, answer from the per-worker
 * cache or ask libunbound, render, send (sendmmsg). A cache hit allocates nothing and takes no
 * lock. Queries in flight live in a preallocated slot pool; each has a deadline that answers
 * SERVFAIL when the upstream does not answer in time (DESIGN: failure behaviour). TCP is in
 * worker_tcp.c, the RPZ glue in worker_policy.c.
 */
#include <assert.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "net/worker_int.h"

#include "net/feeds.h"
#include "policy/export.h"

/* ---- answering ------------------------------------------------------------------------ */

static void count_rcode(struct net_worker *w, const uint8_t *msg, size_t len)
{
	if (len < DNS_HEADER_LEN)
		return;
	CTR_ADD(w->ctr.answers, 1);
	if (msg[2] & 0x02)
		CTR_ADD(w->ctr.truncated, 1);
	switch (msg[3] & 0x0f) {
	case DNS_RCODE_NOERROR:
		CTR_ADD(w->ctr.noerror, 1);
		break;
	case DNS_RCODE_NXDOMAIN:
		CTR_ADD(w->ctr.nxdomain, 1);
		break;
	case DNS_RCODE_SERVFAIL:
		CTR_ADD(w->ctr.servfail, 1);
		break;
	case DNS_RCODE_FORMERR:
		CTR_ADD(w->ctr.formerr, 1);
		break;
	case DNS_RCODE_REFUSED:
		CTR_ADD(w->ctr.refused, 1);
		break;
	case DNS_RCODE_NOTIMP:
		CTR_ADD(w->ctr.notimp, 1);
		break;
	default:
		break;
	}
}

static size_t max_len_for(const struct net_worker *w, const struct dns_query *q, bool tcp)
{
	if (tcp)
		return DNS_MSG_MAX;
	if (!q->edns)
		return DNS_UDP_MIN;
	uint16_t ours =
	    w->cfg->server.edns_udp_size ? w->cfg->server.edns_udp_size : DNS_EDNS_DEFAULT;
	return q->edns_udp_size < ours ? q->edns_udp_size : ours;
}

/* Render @ans for @q into @out; returns the length or 0 when nothing can be sent. */
int net_worker_render(struct net_worker *w, const struct dns_query *q, const struct dns_answer *ans,
		      uint32_t age, bool tcp, uint8_t *out, size_t out_cap)
{
	uint16_t ours =
	    w->cfg->server.edns_udp_size ? w->cfg->server.edns_udp_size : DNS_EDNS_DEFAULT;
	int len = dns_answer_render(q, ans, age, ours, max_len_for(w, q, tcp), out, out_cap);
	if (len <= 0)
		return 0;
	count_rcode(w, out, (size_t)len);
	return len;
}

int net_worker_answer_rcode(struct net_worker *w, const struct dns_query *q, uint8_t rcode, int ede,
			    const char *ede_text, bool tcp, uint8_t *out, size_t out_cap)
{
	struct dns_answer *ans = &w->ans;
	ans->wire = w->ans_buf;
	ans->cap = sizeof(w->ans_buf);
	if (dns_answer_empty(q, rcode, ede, ede_text, ans) != C2W_OK)
		return 0;
	return net_worker_render(w, q, ans, 0, tcp, out, out_cap);
}

bool net_worker_acl_allows(const struct c2w_config *cfg, const struct sockaddr *peer)
{
	for (size_t i = 0; i < cfg->server.allow_count; i++)
		if (conf_prefix_contains(&cfg->server.allow[i], peer))
			return true;
	return false;
}

/* RFC 1996: a NOTIFY for a followed zone from one of its primaries starts a refresh (the
 * transfer thread does it); primaries are not subscribers, so this comes before the ACL.
 * Anyone else is refused: the blocklist's sources are not for the public to poke. */
static int answer_notify(struct net_worker *w, const struct dns_query *q,
			 const struct net_route *rt, uint8_t *out, size_t out_cap)
{
	bool ok = w->feeds != NULL && q->qtype == DNS_TYPE_SOA && q->qclass == DNS_CLASS_IN &&
		  net_feeds_notify(w->feeds, q->qname, q->qname_len, rt->peer);
	if (ok)
		CTR_ADD(w->ctr.notify_accepted, 1);
	else
		CTR_ADD(w->ctr.notify_refused, 1);
	return net_worker_answer_rcode(w, q, ok ? DNS_RCODE_NOERROR : DNS_RCODE_REFUSED,
				       DNS_EDE_NONE, NULL, rt->tcp, out, out_cap);
}

/*
 * A query at or below a policy zone's origin: never resolved (the blocklist is not public).
 * Secondaries in the zone's allow-transfer get SOA, AXFR and IXFR (net/xfr_serve.c); they
 * need not be resolver clients, so this comes before the ACL. Everyone else: REFUSED.
 */
static int answer_xfr(struct net_worker *w, const uint8_t *pkt, size_t len,
		      const struct dns_query *q, const struct net_route *rt, uint8_t *out,
		      size_t out_cap)
{
	if (w->xfr == NULL) {
		CTR_ADD(w->ctr.xfr_out_refused, 1);
		return net_worker_answer_rcode(w, q, DNS_RCODE_REFUSED, DNS_EDE_PROHIBITED, NULL,
					       rt->tcp, out, out_cap);
	}
	struct net_xfr_stream *s;
	enum net_xfr_outcome oc;
	int n = net_xfr_query(w->xfr, pkt, len, rt->peer, rt->tcp, out, out_cap, &s, &oc);
	switch (oc) {
	case NET_XFR_SOA:
		CTR_ADD(w->ctr.xfr_out_soa, 1);
		break;
	case NET_XFR_AXFR:
		CTR_ADD(w->ctr.xfr_out_axfr, 1);
		break;
	case NET_XFR_IXFR:
		CTR_ADD(w->ctr.xfr_out_ixfr, 1);
		break;
	case NET_XFR_IXFR_FULL:
		CTR_ADD(w->ctr.xfr_out_ixfr_full, 1);
		break;
	case NET_XFR_UPTODATE:
		CTR_ADD(w->ctr.xfr_out_uptodate, 1);
		break;
	case NET_XFR_REFUSED_UDP:
		CTR_ADD(w->ctr.xfr_out_refused_udp, 1);
		break;
	case NET_XFR_TSIG_BAD:
		CTR_ADD(w->ctr.xfr_out_tsig_bad, 1);
		break;
	case NET_XFR_LIMITED:
		CTR_ADD(w->ctr.xfr_out_limited, 1);
		break;
	default:
		CTR_ADD(w->ctr.xfr_out_refused, 1);
		break;
	}
	if (s != NULL) {
		if (rt->tcp && rt->conn != NULL)
			net_tcp_stream(rt->conn, s);
		else
			net_xfr_stream_free(s);
	}
	return n;
}

/* RFC 8482 4.2: answer ANY with one synthesized HINFO record instead of everything. */
static int answer_any(struct net_worker *w, const struct dns_query *q, bool tcp, uint8_t *out,
		      size_t out_cap)
{
	static const uint8_t rr[] = {
	    0xc0, 0x0c,           /* owner: the question name */
	    0x00, DNS_TYPE_HINFO, /* type */
	    0x00, DNS_CLASS_IN,   /* class */
	    0x00, 0x00,
	    0x0e, 0x10, /* TTL 3600 */
	    0x00, 0x09, /* rdlength */
	    0x07, 'R',
	    'F',  'C',
	    '8',  '4',
	    '8',  '2',
	    0x00,
	};
	struct dns_answer *ans = &w->ans;
	ans->wire = w->ans_buf;
	ans->cap = sizeof(w->ans_buf);
	if (dns_answer_empty(q, DNS_RCODE_NOERROR, DNS_EDE_NONE, NULL, ans) != C2W_OK ||
	    ans->len + sizeof(rr) > ans->cap)
		return 0;
	memcpy(ans->wire + ans->len, rr, sizeof(rr));
	ans->ttl_off[ans->ttl_count++] = (uint16_t)(ans->len + 6);
	ans->len += sizeof(rr);
	ans->wire[7] = 1; /* ANCOUNT */
	ans->min_ttl = 3600;
	return net_worker_render(w, q, ans, 0, tcp, out, out_cap);
}

static void route_send(struct net_worker *w, const struct net_route *rt, uint8_t *msg, size_t len);
static int defer_query(struct net_worker *w, const struct dns_query *q, const struct net_route *rt,
		       const struct policy_hit *hit, bool policy_off, uint32_t zone_ref,
		       bool popular, uint8_t *out, size_t out_cap);

/* What each ddos.action does to a mitigated query: its rcode (for drop, over TCP and in a
 * name-server walk), the hit record's action, and the start log line's words. */
static const struct {
	uint8_t rcode;
	unsigned hit;
	const char *says;
} ddos_action[] = {
    [CONF_DDOS_SERVFAIL] = {DNS_RCODE_SERVFAIL, EVENTS_ACTION_SERVFAIL, "answered SERVFAIL"},
    [CONF_DDOS_NXDOMAIN] = {DNS_RCODE_NXDOMAIN, EVENTS_ACTION_NXDOMAIN, "answered NXDOMAIN"},
    [CONF_DDOS_REFUSED] = {DNS_RCODE_REFUSED, EVENTS_ACTION_REFUSED, "answered REFUSED"},
    [CONF_DDOS_DROP] = {DNS_RCODE_SERVFAIL, EVENTS_ACTION_DROP,
			"dropped over UDP, answered SERVFAIL over TCP"},
};

void net_worker_torture_refusal(struct net_worker *w, const struct dns_query *q,
				const struct net_route *rt, enum net_torture_verdict v,
				const uint8_t *zone, bool can_drop, struct net_torture_answer *a)
{
	if (v == NET_TORTURE_LIMIT_POOL) {
		CTR_ADD(w->ctr.fetch_unresponsive_limited, 1);
		*a = (struct net_torture_answer){DNS_RCODE_SERVFAIL, DNS_EDE_OTHER,
						 "fetch limit for unresponsive servers reached", false};
		return;
	}
	if (v == NET_TORTURE_LIMIT) {
		CTR_ADD(w->ctr.fetch_limited, 1);
		*a = (struct net_torture_answer){DNS_RCODE_SERVFAIL, DNS_EDE_OTHER,
						 "fetch limit for the zone reached", false};
		return;
	}
	int act = w->cfg->ddos.action;
	uint8_t rcode = ddos_action[act].rcode;
	bool drop = can_drop && act == CONF_DDOS_DROP;
	CTR_ADD(w->ctr.ddos_mitigated, 1);
	if (v == NET_TORTURE_START) {
		char text[DNS_NAME_TEXT_MAX];
		if (dns_name_to_text(zone, text, sizeof(text)) < 0)
			text[0] = '\0';
		CTR_ADD(w->ctr.ddos_mitigations, 1);
		CTR_SET(w->ctr.ddos_active, net_torture_active(w->torture));
		c2w_log_warn("worker %u: ddos: random-subdomain flood on %s: mitigation started "
			     "(uncached names %s for at least %us)",
			     w->id, text, ddos_action[act].says, w->cfg->ddos.hold_s);
		/* the query that started it: dropped, or answered (drop over TCP: SERVFAIL) */
		net_wpolicy_ddos_hit(w, q, rt, text,
				     act == CONF_DDOS_DROP && !drop ? EVENTS_ACTION_SERVFAIL
								    : ddos_action[act].hit);
	}
	*a = (struct net_torture_answer){rcode,
					 rcode == DNS_RCODE_REFUSED ? DNS_EDE_PROHIBITED
								    : DNS_EDE_OTHER,
					 "random-subdomain flood mitigation", drop};
}

/*
 * A cache miss: the water-torture table decides (net/torture.h). Names under a zone being
 * flooded with random subdomains are answered here without an upstream query, unless the
 * answer cache knows them as popular; a zone with its fetch cap in flight gets SERVFAIL now.
 */
static int on_miss(struct net_worker *w, const struct dns_query *q, const struct net_route *rt,
		   const struct policy_hit *hit, bool policy_off, uint8_t *out, size_t out_cap)
{
	uint32_t ref = 0;
	uint8_t zone[DNS_NAME_MAX];
	bool popular = dns_pcache_seen(w->cache, q);
	enum net_torture_verdict v = net_torture_miss(w->torture, q->qname, popular, mono_s(), &ref,
						      zone);
	if (v == NET_TORTURE_PASS || v == NET_TORTURE_TRICKLE) {
		if (v == NET_TORTURE_TRICKLE)
			CTR_ADD(w->ctr.ddos_trickled, 1);
		int ret = defer_query(w, q, rt, hit, policy_off, ref, popular, out, out_cap);
		CTR_SET(w->ctr.fetch_unresponsive, net_torture_unresponsive(w->torture));
		return ret;
	}
	struct net_torture_answer a;
	net_worker_torture_refusal(w, q, rt, v, zone, !rt->tcp, &a);
	if (a.drop)
		return 0; /* ddos.action drop: nothing sent, counted in ddos_mitigated */
	return net_worker_answer_rcode(w, q, a.rcode, a.ede, a.text, rt->tcp, out, out_cap);
}

/* Handle one query (see net_worker_handle()); @rt gets the query's cookie state. */
static int handle(struct net_worker *w, const uint8_t *pkt, size_t len, struct net_route *rt,
		  uint8_t *out, size_t out_cap)
{
	struct dns_query q;
	CTR_ADD(w->ctr.queries, 1);
	int ret = dns_query_parse(pkt, len, &q);
	if (ret == C2W_EIGNORE) {
		CTR_ADD(w->ctr.dropped, 1);
		return 0;
	}
	if (ret != C2W_OK) {
		CTR_ADD(w->ctr.cookie_malformed, q.cookie_malformed);
		q.cookie_len = 0; /* never echo what we did not check */
		return net_worker_answer_rcode(w, &q, DNS_RCODE_FORMERR, DNS_EDE_NONE, NULL,
					       rt->tcp, out, out_cap);
	}
	net_wlimit_cookie(w, &q, rt);
	if (q.opcode == DNS_OPCODE_NOTIFY)
		return answer_notify(w, &q, rt, out, out_cap);
	if (q.opcode == DNS_OPCODE_QUERY && w->snap != NULL &&
	    policy_snap_zone_of(w->snap, q.qname, q.qname_len) >= 0)
		return answer_xfr(w, pkt, len, &q, rt, out, out_cap);
	if (!net_worker_acl_allows(w->cfg, rt->peer))
		return net_worker_answer_rcode(w, &q, DNS_RCODE_REFUSED, DNS_EDE_PROHIBITED, NULL,
					       rt->tcp, out, out_cap);
	int qlen;
	if (net_wlimit_query(w, &q, rt, out, out_cap, &qlen))
		return qlen; /* over the client's query rate: nothing resolved */
	if (q.opcode != DNS_OPCODE_QUERY)
		return net_worker_answer_rcode(w, &q, DNS_RCODE_NOTIMP, DNS_EDE_NONE, NULL, rt->tcp,
					       out, out_cap);
	if (q.edns && q.edns_version > 0) {
		/* RFC 6891 6.1.3: we speak EDNS version 0 only. */
		int blen = dns_answer_render_badvers(
		    &q,
		    w->cfg->server.edns_udp_size ? w->cfg->server.edns_udp_size : DNS_EDNS_DEFAULT,
		    out, out_cap);
		return blen > 0 ? blen : 0;
	}
	if (q.qclass != DNS_CLASS_IN || q.qtype == DNS_TYPE_AXFR || q.qtype == DNS_TYPE_IXFR)
		return net_worker_answer_rcode(w, &q, DNS_RCODE_REFUSED, EDE_NOT_SUPPORTED, NULL,
					       rt->tcp, out, out_cap);

	net_wpolicy_query_log(w, &q, rt);
	struct dns_answer cached;
	uint32_t age;
	int looked = 0; /* the answer cache: 1 hit, -1 miss, 0 not asked yet */
	if (w->snap != NULL && q.qtype != DNS_TYPE_ANY) {
		looked = dns_pcache_lookup(w->cache, &q, w->now_s, &cached, &age) ? 1 : -1;
		if (looked > 0 && cached.tag == net_cache_tag(w->snap_gen, true) &&
		    net_wpolicy_client_clear(w, rt)) {
			/* The policy in force checked this body when it was stored, the question's
			 * name against every zone (log-only ones too) and the answer on the response
			 * side, and found nothing; no CLIENT-IP rule names this client: matching the
			 * name again would find nothing again. */
			CTR_ADD(w->ctr.cache_hits, 1);
			CTR_ADD(w->ctr.cache_hits_prechecked, 1);
			return net_worker_render(w, &q, &cached, age, rt->tcp, out, out_cap);
		}
	}
	struct policy_hit hit;
	bool policy_off, handled;
	enum policy_verdict v = net_wpolicy_query(w, &q, rt, &hit, &policy_off);
	bool touched = false; /* PASSTHRU, or TCP-ONLY over TCP: the real answer */
	if (v == POLICY_VERDICT_ACT) {
		/* Blocked without recursion (BIND's qname-wait-recurse no): no upstream traffic
		 * toward the C&C operator's servers. */
		int plen = net_wpolicy_act(w, &q, rt, &hit, NULL, 0, out, out_cap, &handled, NULL);
		if (handled)
			return plen > 0 ? plen : 0;
		policy_off = true;
		touched = true;
		hit.action = POLICY_ACTION_NONE;
	}
	if (q.qtype == DNS_TYPE_ANY && !touched) {
		/* Policy first, as BIND: a pending hit or response-side rules need the real answer
		 * (resolved, never from the cache); RFC 8482's minimal answer goes only to names no
		 * rule touches (net_worker_resolved_finish()). */
		if (policy_off || w->snap == NULL ||
		    (v == POLICY_VERDICT_NONE && !policy_snap_has_response_rules(w->snap)))
			return answer_any(w, &q, rt->tcp, out, out_cap);
		CTR_ADD(w->ctr.cache_misses, 1);
		return on_miss(w, &q, rt, &hit, policy_off, out, out_cap);
	}

	if (looked == 0)
		looked = dns_pcache_lookup(w->cache, &q, w->now_s, &cached, &age) ? 1 : -1;
	if (looked > 0 &&
	    (policy_off || w->snap == NULL || net_cache_tag_gen(cached.tag) == w->snap_gen ||
	     net_wpolicy_cached_ok(w, &q, rt, &cached))) {
		CTR_ADD(w->ctr.cache_hits, 1);
		/* Cached bodies carry no response-side policy match (on_resolved() stores only
		 * those), so a tentative query-time hit stands as it is. */
		if (hit.action != POLICY_ACTION_NONE) {
			int plen =
			    net_wpolicy_act(w, &q, rt, &hit, NULL, 0, out, out_cap, &handled, NULL);
			if (handled)
				return plen > 0 ? plen : 0;
		}
		return net_worker_render(w, &q, &cached, age, rt->tcp, out, out_cap);
	}
	CTR_ADD(w->ctr.cache_misses, 1);
	return on_miss(w, &q, rt, &hit, policy_off, out, out_cap);
}

/**
 * Handle one query. Returns the length of an immediate answer written to @out, or 0 when
 * nothing is to be sent now (ignored, dropped by a rate limit, or answered later by the
 * resolver callback).
 */
int net_worker_handle(struct net_worker *w, const uint8_t *pkt, size_t len,
		      const struct net_route *rt, uint8_t *out, size_t out_cap)
{
	struct net_route r = *rt; /* handle() notes the query's cookie state in it */
	int n = handle(w, pkt, len, &r, out, out_cap);
	if (n > 0 && !r.tcp && w->rrl != NULL)
		n = (int)net_wlimit_rrl(w, &r, out, (size_t)n);
	return n;
}

/* ---- queries in flight ---------------------------------------------------------------- */

static struct net_slot *slot_get(struct net_worker *w)
{
	struct net_slot *s = w->free_slots;
	/* Orphans have their own budget: they never take the slots of waiting clients. */
	if (w->active >= SLOT_COUNT)
		return NULL;
	if (s != NULL) {
		w->free_slots = s->next_free;
	} else if (w->slot_fresh < w->slot_total) {
		/* First use of this slot: its page becomes resident now (slots_init()). */
		s = &w->slots[w->slot_fresh++];
		s->w = w;
	} else {
		return NULL;
	}
	s->in_use = true;
	s->timed_out = false;
	s->orphan = false;
	s->counted = false;
	s->rq = NULL;
	w->active++;
	CTR_SET(w->ctr.inflight, w->active);
	return s;
}

/* Let go of the client side of a slot: TCP connection reference, its client's unit. */
static void slot_detach(struct net_worker *w, struct net_slot *s)
{
	if (s->rt.tcp && s->rt.conn != NULL) {
		struct tcp_conn *c = s->rt.conn;
		s->rt.conn = NULL;
		net_tcp_release(c);
	}
	if (s->counted) {
		s->counted = false;
		net_client_table_put(w->clients, &s->ckey);
	}
}

static void orphan_unlink(struct net_worker *w, struct net_slot *s)
{
	if (s->oprev != NULL)
		s->oprev->onext = s->onext;
	else
		w->orphan_head = s->onext;
	if (s->onext != NULL)
		s->onext->oprev = s->oprev;
	else
		w->orphan_tail = s->oprev;
	s->oprev = s->onext = NULL;
	s->orphan = false;
	w->orphans--;
	CTR_SET(w->ctr.upstream_orphans, w->orphans);
}

static void slot_put(struct net_worker *w, struct net_slot *s)
{
	net_deadline_del(&w->deadlines, &s->dl);
	net_torture_release(w->torture, s->zone_ref);
	CTR_SET(w->ctr.fetch_unresponsive, net_torture_unresponsive(w->torture));
	s->zone_ref = 0;
	if (s->ns_out) {
		/* An orphan cancelled while its name-server look-up was out. */
		s->ns_out = false;
		CTR_ADD(w->ctr.cut_lookups_inflight, -1);
	}
	slot_detach(w, s);
	if (s->orphan) {
		orphan_unlink(w, s);
	} else {
		w->active--;
		CTR_SET(w->ctr.inflight, w->active);
	}
	free(s->saved);
	s->saved = NULL;
	s->stage = NET_STAGE_MAIN;
	s->rq = NULL;
	s->in_use = false;
	s->next_free = w->free_slots;
	w->free_slots = s;
}

/* Drop the oldest orphan: libunbound will not call back for it (resolve_query_cancel()). */
static void orphan_cancel_oldest(struct net_worker *w)
{
	struct net_slot *o = w->orphan_head;
	resolve_query_cancel(o->rq);
	CTR_ADD(w->ctr.upstream_cancelled, 1);
	slot_put(w, o);
}

/*
 * The client of @s has its answer (a timeout) but libunbound still works on the question:
 * keep the slot as an orphan, so the late answer still fills the cache, within the budget
 * limits.upstream-pending-max; past it the oldest orphan is cancelled.
 */
static void slot_orphan(struct net_worker *w, struct net_slot *s)
{
	unsigned budget = w->cfg->limits.upstream_pending_max;
	if (budget > w->orphan_cap)
		budget = w->orphan_cap; /* the pool was sized at start (a restart key) */
	CTR_ADD(w->ctr.upstream_orphaned, 1);
	if (s->rq == NULL) {
		/* Not waiting for libunbound (no path leaves a slot so): nothing to keep. */
		slot_put(w, s);
		return;
	}
	if (budget == 0) {
		resolve_query_cancel(s->rq);
		CTR_ADD(w->ctr.upstream_cancelled, 1);
		slot_put(w, s);
		return;
	}
	while (w->orphans >= budget)
		orphan_cancel_oldest(w);
	w->active--;
	CTR_SET(w->ctr.inflight, w->active);
	s->orphan = true;
	s->onext = NULL;
	s->oprev = w->orphan_tail;
	if (w->orphan_tail != NULL)
		w->orphan_tail->onext = s;
	else
		w->orphan_head = s;
	w->orphan_tail = s;
	w->orphans++;
	CTR_SET(w->ctr.upstream_orphans, w->orphans);
}

static void slot_deliver(struct net_worker *w, struct net_slot *s, const struct dns_answer *ans)
{
	bool tcp = s->rt.tcp;
	uint8_t *out = w->out_buf + 2;
	int len = net_worker_render(w, &s->q, ans, 0, tcp, out, sizeof(w->out_buf) - 2);
	if (len > 0)
		route_send(w, &s->rt, out, (size_t)len);
}

static void build_answer(struct net_worker *w, const struct dns_query *q, int rcode,
			 const uint8_t *pkt, size_t len, enum resolve_sec sec, const char *why)
{
	struct dns_answer *ans = &w->ans;
	ans->wire = w->ans_buf;
	ans->cap = sizeof(w->ans_buf);
	if (sec == RESOLVE_SEC_BOGUS && !q->cd) {
		/* RFC 8914 4.7: tell the client validation failed, with libunbound's reason. */
		char text[sizeof(ans->ede_text)];
		snprintf(text, sizeof(text), "%s", why != NULL ? why : "validation failed");
		(void)dns_answer_empty(q, DNS_RCODE_SERVFAIL, DNS_EDE_DNSSEC_BOGUS, text, ans);
		return;
	}
	if (pkt == NULL || len < DNS_HEADER_LEN) {
		uint8_t rc = rcode > 0 && rcode < 16 ? (uint8_t)rcode : DNS_RCODE_SERVFAIL;
		(void)dns_answer_empty(q, rc, DNS_EDE_NONE, NULL, ans);
		return;
	}
	int ret = dns_answer_from_upstream(q, pkt, len, sec == RESOLVE_SEC_SECURE, q->edns_do, ans);
	if (ret == C2W_ESPACE && ans->len > 0) {
		/* More records than TTL slots: complete, sendable, but not cacheable. */
		ans->min_ttl = 0;
		ret = C2W_OK;
	}
	if (ret != C2W_OK && rcode == DNS_RCODE_SERVFAIL) {
		/* libunbound's own SERVFAIL comes with a body our parser may refuse; the failure
		 * is upstream's, say so rather than blame the body. */
		(void)dns_answer_empty(q, DNS_RCODE_SERVFAIL, DNS_EDE_NO_REACHABLE_AUTH,
				       "no usable answer from upstream", ans);
		return;
	}
	if (ret != C2W_OK) {
		(void)dns_answer_empty(q, DNS_RCODE_SERVFAIL, DNS_EDE_OTHER,
				       "upstream answer unusable", ans);
		return;
	}
	/* libunbound reports failures with rcode and an answer that has no records. */
	if (rcode == DNS_RCODE_SERVFAIL && ans->ede_code == DNS_EDE_NONE) {
		ans->ede_code = DNS_EDE_NO_REACHABLE_AUTH;
		snprintf(ans->ede_text, sizeof(ans->ede_text), "no usable answer from upstream");
	}
}

static void on_resolved(void *arg, int rcode, const uint8_t *pkt, size_t len, enum resolve_sec sec,
			const char *why)
{
	struct net_slot *s = arg;
	struct net_worker *w = s->w;
	build_answer(w, &s->q, rcode, pkt, len, sec, why);
	if (!s->timed_out && s->zone_ref != 0 && s->stage == NET_STAGE_MAIN)
		net_torture_outcome(w->torture, s->zone_ref,
				    w->ans.rcode == DNS_RCODE_NXDOMAIN   ? NET_TORTURE_NXDOMAIN
				    : w->ans.rcode == DNS_RCODE_SERVFAIL ? NET_TORTURE_SERVFAIL
									 : NET_TORTURE_ANSWER);
	s->had_hit = s->hit.action != POLICY_ACTION_NONE;
	if (!s->policy_off && w->snap != NULL && w->ans.rcode != DNS_RCODE_SERVFAIL) {
		net_wpolicy_response(w, s);
		/* NSDNAME/NSIP: look up the answering zone's name servers first. */
		if (net_wpolicy_ns_start(w, s))
			return;
	}
	net_worker_resolved_finish(w, s);
}

void net_worker_resolved_finish(struct net_worker *w, struct net_slot *s)
{
	if (s->snap_gen != w->snap_gen) {
		/* The policy was reloaded while this query was out: its hit belongs to the old
		 * snapshot (freed by now). Match again, against the new one. */
		net_wpolicy_rematch(w, s);
	}
	/* Cache only bodies no policy rule touched: cache hits then need no response check. */
	if (!s->had_hit && s->hit.action == POLICY_ACTION_NONE &&
	    w->ans.rcode != DNS_RCODE_SERVFAIL) {
		/* The tag says which policy checked the body; 0: none did (opted-out client or
		 * PASSTHRU), so a later client's hit checks it first. */
		w->ans.tag = s->policy_off ? 0
					   : net_cache_tag(w->snap_gen, net_wpolicy_name_clean(w, &s->q));
		dns_pcache_store(w->cache, &s->q, &w->ans, mono_s());
	}
	if (!s->timed_out) {
		bool handled = false;
		if (s->hit.action != POLICY_ACTION_NONE) {
			uint8_t *out = w->out_buf + 2;
			int olen =
			    net_wpolicy_act(w, &s->q, &s->rt, &s->hit, w->ans.wire, w->ans.len, out,
					    sizeof(w->out_buf) - 2, &handled, s);
			if (olen < 0)
				return; /* the slot now waits for the CNAME target */
			if (handled && olen > 0)
				route_send(w, &s->rt, out, (size_t)olen);
		}
		if (!handled && s->q.qtype == DNS_TYPE_ANY && !s->policy_off &&
		    s->hit.action == POLICY_ACTION_NONE) {
			/* Resolved only to check the policy, which did not touch it: RFC 8482. */
			uint8_t *out = w->out_buf + 2;
			int olen = answer_any(w, &s->q, s->rt.tcp, out, sizeof(w->out_buf) - 2);
			if (olen > 0)
				route_send(w, &s->rt, out, (size_t)olen);
			handled = true;
		}
		if (!handled)
			slot_deliver(w, s, &w->ans);
	}
	slot_put(w, s);
}

struct net_slot *net_worker_slot_new(struct net_worker *w, const struct dns_query *q,
				     const struct net_route *rt, const struct policy_hit *hit,
				     bool policy_off, int *why)
{
	const struct conf_limits *lim = &w->cfg->limits;
	struct net_client_key ck;
	net_client_key_make(rt->peer, lim->client_prefix_v4, lim->client_prefix_v6, &ck);
	int ret = net_client_table_take(w->clients, &ck, lim->client_inflight_max);
	if (ret != C2W_OK) {
		/* C2W_EFULL cannot happen while the table holds SLOT_COUNT clients; if it did,
		 * refusing is the bounded answer. */
		CTR_ADD(w->ctr.client_over_limit, 1);
		if (why != NULL)
			*why = C2W_ERANGE;
		return NULL;
	}
	struct net_slot *s = slot_get(w);
	if (s == NULL) {
		net_client_table_put(w->clients, &ck);
		CTR_ADD(w->ctr.slots_exhausted, 1);
		if (why != NULL)
			*why = C2W_EFULL;
		return NULL;
	}
	s->counted = true;
	s->ckey = ck;
	s->q = *q;
	memcpy(s->question, q->question, q->question_len);
	s->q.question = s->question;
	s->rt = *rt;
	memcpy(&s->peer, rt->peer, rt->peer_len);
	s->rt.peer = (const struct sockaddr *)&s->peer;
	s->policy_off = policy_off;
	s->snap_gen = w->snap_gen;
	s->stage = NET_STAGE_MAIN;
	s->had_hit = false;
	s->saved = NULL;
	s->zone_ref = 0;
	s->popular = false;
	s->ns_out = false;
	if (hit != NULL && hit->action != POLICY_ACTION_NONE)
		s->hit = *hit;
	else
		memset(&s->hit, 0, sizeof(s->hit));
	if (rt->tcp)
		rt->conn->pending++;
	unsigned ms = w->cfg->resolver.timeout_ms ? w->cfg->resolver.timeout_ms : 5000;
	net_deadline_add(&w->deadlines, &s->dl, ms);
	return s;
}

int net_worker_slot_resolve(struct net_worker *w, struct net_slot *s, const uint8_t *qname,
			    uint16_t qtype, uint16_t qclass, resolve_done_cb cb)
{
	return resolve_ctx_query(net_worker_rctx(w, &s->q), qname, qtype, qclass, cb, s, &s->rq);
}

void net_worker_slot_put(struct net_worker *w, struct net_slot *s)
{
	slot_put(w, s);
}

void net_worker_route_send(struct net_worker *w, const struct net_route *rt, uint8_t *msg,
			   size_t len)
{
	route_send(w, rt, msg, len);
}

struct resolve_ctx *net_worker_rctx(struct net_worker *w, const struct dns_query *q)
{
	return q->cd && w->rctx_cd != NULL ? w->rctx_cd : w->rctx;
}

static void on_slot_timeout(void *arg, struct net_deadline_node *n)
{
	struct net_worker *w = arg;
	struct net_slot *s = (struct net_slot *)(void *)((char *)n - offsetof(struct net_slot, dl));
	/* The upstream did not answer in time: SERVFAIL now (DESIGN: SERVFAIL within a bound).
	 * The client side is released at once; the upstream work goes on as an orphan. */
	s->timed_out = true;
	CTR_ADD(w->ctr.timeouts, 1);
	if (s->stage == NET_STAGE_MAIN || s->stage == NET_STAGE_NS)
		net_torture_outcome(w->torture, s->zone_ref, NET_TORTURE_TIMEOUT);
	struct dns_answer *ans = &w->ans;
	ans->wire = w->ans_buf;
	ans->cap = sizeof(w->ans_buf);
	if (dns_answer_empty(&s->q, DNS_RCODE_SERVFAIL, DNS_EDE_NO_REACHABLE_AUTH,
			     "upstream did not answer in time", ans) == C2W_OK)
		slot_deliver(w, s, ans);
	slot_detach(w, s);
	slot_orphan(w, s);
}

/* A query over its client's cap: answered at once without a slot, or not at all (UDP). */
static int over_limit(struct net_worker *w, const struct dns_query *q, const struct net_route *rt,
		      uint8_t *out, size_t out_cap)
{
	if (w->cfg->limits.over_limit == CONF_OVER_LIMIT_DROP && !rt->tcp)
		return 0;
	return net_worker_answer_rcode(w, q, DNS_RCODE_SERVFAIL, DNS_EDE_OTHER,
				       "too many queries in flight from this client", rt->tcp, out,
				       out_cap);
}

static int defer_query(struct net_worker *w, const struct dns_query *q, const struct net_route *rt,
		       const struct policy_hit *hit, bool policy_off, uint32_t zone_ref,
		       bool popular, uint8_t *out, size_t out_cap)
{
	int why = C2W_OK;
	struct net_slot *s = net_worker_slot_new(w, q, rt, hit, policy_off, &why);
	if (s != NULL) {
		s->zone_ref = zone_ref; /* released with the slot */
		s->popular = popular;
	}
	else
		net_torture_release(w->torture, zone_ref);
	if (s == NULL && why == C2W_ERANGE)
		return over_limit(w, q, rt, out, out_cap);
	if (s == NULL)
		return net_worker_answer_rcode(w, q, DNS_RCODE_SERVFAIL, DNS_EDE_OTHER,
					       "resolver overloaded", rt->tcp, out, out_cap);
	/* libunbound answers from its own cache during the call: let that answer join the
	 * batch like a cache hit of ours (UDP; TCP answers are queued on the connection anyway). */
	w->inline_len = 0;
	if (!rt->tcp) {
		w->inline_rt = &s->rt;
		w->inline_out = out;
		w->inline_cap = out_cap;
	}
	int ret = net_worker_slot_resolve(w, s, q->qname, q->qtype, q->qclass, on_resolved);
	size_t ilen = w->inline_len;
	w->inline_rt = NULL;
	if (ret != C2W_OK) {
		slot_put(w, s);
		return net_worker_answer_rcode(w, q, DNS_RCODE_SERVFAIL, DNS_EDE_OTHER,
					       "resolver error", rt->tcp, out, out_cap);
	}
	if (ilen > 0)
		CTR_ADD(w->ctr.resolver_immediate, 1);
	return (int)ilen;
}

/* ---- UDP ------------------------------------------------------------------------------ */

static void read_pktinfo(struct msghdr *mh, struct net_route *rt)
{
	rt->local_family = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			memcpy(&rt->local.v4, CMSG_DATA(c), sizeof(rt->local.v4));
			rt->local.v4.ipi_spec_dst = rt->local.v4.ipi_addr;
			rt->local.v4.ipi_ifindex = 0;
			rt->local_family = AF_INET;
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
			memcpy(&rt->local.v6, CMSG_DATA(c), sizeof(rt->local.v6));
			rt->local_family = AF_INET6;
		}
	}
}

static void write_pktinfo(const struct net_route *rt, struct msghdr *mh, uint8_t *buf)
{
	mh->msg_control = NULL;
	mh->msg_controllen = 0;
	if (rt->local_family == 0)
		return;
	size_t dlen = rt->local_family == AF_INET ? sizeof(rt->local.v4) : sizeof(rt->local.v6);
	mh->msg_control = buf;
	mh->msg_controllen = CMSG_SPACE(dlen);
	struct cmsghdr *c = CMSG_FIRSTHDR(mh);
	c->cmsg_level = rt->local_family == AF_INET ? IPPROTO_IP : IPPROTO_IPV6;
	c->cmsg_type = rt->local_family == AF_INET ? IP_PKTINFO : IPV6_PKTINFO;
	c->cmsg_len = CMSG_LEN(dlen);
	memcpy(CMSG_DATA(c), &rt->local, dlen);
}

static void udp_send_one(struct net_worker *w, const struct net_route *rt, uint8_t *msg, size_t len)
{
	uint8_t ctrl[CTRL_SIZE];
	struct iovec iov = {.iov_base = msg, .iov_len = len};
	struct msghdr mh = {
	    .msg_name = (void *)(uintptr_t)rt->peer,
	    .msg_namelen = rt->peer_len,
	    .msg_iov = &iov,
	    .msg_iovlen = 1,
	};
	write_pktinfo(rt, &mh, ctrl);
	if (sendmsg(rt->fd, &mh, MSG_DONTWAIT) < 0)
		CTR_ADD(w->ctr.send_errors, 1);
}

static void send_batch(struct net_worker *w, int fd, struct mmsghdr *msgs, unsigned count)
{
	unsigned sent = 0;
	while (sent < count) {
		int n = sendmmsg(fd, msgs + sent, count - sent, MSG_DONTWAIT);
		if (n <= 0) {
			/* Drop the rest of the batch rather than block the worker. */
			CTR_ADD(w->ctr.send_errors, count - sent);
			return;
		}
		sent += (unsigned)n;
	}
}

static void udp_flush(struct net_worker *w, int fd, unsigned count)
{
	send_batch(w, fd, w->smsg, count);
}

static void defer_flush(struct net_worker *w)
{
	if (w->defer_count == 0)
		return;
	send_batch(w, w->defer_fd, w->dmsg, w->defer_count);
	CTR_ADD(w->ctr.udp_defer_flushes, 1);
	w->defer_count = 0;
}

static void on_defer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	defer_flush(arg);
}

/*
 * Send @msg to @rt's client when the event loop has run the callbacks that were ready with
 * this one: libunbound delivers each upstream reply from its own socket's callback, and one
 * sendmmsg for the answers of a loop pass wakes the client's reader once instead of once per
 * answer (the kernel wake-up was the largest cost of a miss the client side paid for). The
 * event made active here is queued behind the callbacks already active, so it runs after them
 * in the same pass. Falls back to a plain send when the answer does not fit a slot.
 */
static void udp_defer(struct net_worker *w, const struct net_route *rt, const uint8_t *msg,
		      size_t len)
{
	if (w->defer_ev == NULL || len > UDP_TX_SIZE || rt->peer_len > sizeof(w->dname[0])) {
		udp_send_one(w, rt, (uint8_t *)(uintptr_t)msg, len);
		return;
	}
	if (w->defer_count > 0 && (w->defer_fd != rt->fd || w->defer_count == UDP_DEFER))
		defer_flush(w);
	unsigned i = w->defer_count++;
	struct msghdr *mh = &w->dmsg[i].msg_hdr;
	memcpy(w->dtx[i], msg, len);
	w->diov[i].iov_base = w->dtx[i];
	w->diov[i].iov_len = len;
	memcpy(&w->dname[i], rt->peer, rt->peer_len);
	mh->msg_name = &w->dname[i];
	mh->msg_namelen = rt->peer_len;
	mh->msg_iov = &w->diov[i];
	mh->msg_iovlen = 1;
	mh->msg_flags = 0;
	write_pktinfo(rt, mh, w->dctrl[i]);
	w->defer_fd = rt->fd;
	if (i == 0)
		event_active(w->defer_ev, EV_TIMEOUT, 1);
}

static void on_udp(evutil_socket_t fd, short what, void *arg)
{
	struct polled *p = arg;
	struct net_worker *w = p->w;
	(void)what;
	for (int round = 0; round < UDP_ROUNDS; round++) {
		for (unsigned i = 0; i < UDP_BATCH; i++) {
			w->rmsg[i].msg_hdr.msg_namelen = sizeof(w->rname[i]);
			w->rmsg[i].msg_hdr.msg_controllen = p->sock.wildcard ? CTRL_SIZE : 0;
		}
		int n = recvmmsg(fd, w->rmsg, UDP_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		w->now_s = mono_s();
		uint64_t t0 = mono_us();
		unsigned nsend = 0;
		for (int i = 0; i < n; i++) {
			struct msghdr *mh = &w->rmsg[i].msg_hdr;
			struct net_route rt = {
			    .tcp = false,
			    .fd = fd,
			    .peer = (const struct sockaddr *)&w->rname[i],
			    .peer_len = mh->msg_namelen,
			    .start_us = t0,
			};
			if (p->sock.wildcard)
				read_pktinfo(mh, &rt);
			else
				rt.local_family = 0;
			CTR_ADD(w->ctr.udp_queries, 1);
			int len = net_worker_handle(w, w->rx[i], w->rmsg[i].msg_len, &rt,
						    w->tx[nsend], UDP_TX_SIZE);
			if (len <= 0)
				continue;
			struct msghdr *sh = &w->smsg[nsend].msg_hdr;
			w->siov[nsend].iov_len = (size_t)len;
			sh->msg_name = &w->rname[i];
			sh->msg_namelen = mh->msg_namelen;
			write_pktinfo(&rt, sh, w->sctrl[nsend]);
			nsend++;
		}
		if (nsend > 0) {
			udp_flush(w, fd, nsend);
			net_latency_observe(&w->lat, mono_us() - t0, nsend);
		}
		if (n < UDP_BATCH)
			return;
	}
}

static void udp_buffers_init(struct net_worker *w)
{
	for (unsigned i = 0; i < UDP_BATCH; i++) {
		w->riov[i].iov_base = w->rx[i];
		w->riov[i].iov_len = UDP_RX_SIZE;
		w->rmsg[i].msg_hdr.msg_iov = &w->riov[i];
		w->rmsg[i].msg_hdr.msg_iovlen = 1;
		w->rmsg[i].msg_hdr.msg_name = &w->rname[i];
		w->rmsg[i].msg_hdr.msg_control = w->rctrl[i];
		w->siov[i].iov_base = w->tx[i];
		w->smsg[i].msg_hdr.msg_iov = &w->siov[i];
		w->smsg[i].msg_hdr.msg_iovlen = 1;
	}
}

static void route_send(struct net_worker *w, const struct net_route *rt, uint8_t *msg, size_t len)
{
	if (rt == w->inline_rt && w->inline_len == 0 && len <= w->inline_cap) {
		/* net_worker_handle()'s caller sends it (and applies RRL to it). */
		memcpy(w->inline_out, msg, len);
		w->inline_len = len;
		return;
	}
	/* An answer that waited for the resolver (answers made within the receive batch are
	 * timed by their batch). */
	if (rt->start_us != 0)
		net_latency_observe(&w->lat, mono_us() - rt->start_us, 1);
	if (rt->tcp) {
		if (rt->conn != NULL)
			net_tcp_send(rt->conn, msg, len);
		return;
	}
	if (w->rrl != NULL && (len = net_wlimit_rrl(w, rt, msg, len)) == 0)
		return;
	udp_defer(w, rt, msg, len);
}

/* ---- sockets, mailbox, lifecycle ------------------------------------------------------ */

static int poll_add(struct net_worker *w, const struct net_sock *s)
{
	if (w->polled_count >= MAX_POLLED)
		return C2W_EFULL;
	struct polled *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return C2W_ENOMEM;
	p->w = w;
	p->sock = *s;
	if (s->proto == NET_UDP) {
		p->ev = event_new(w->base, s->fd, EV_READ | EV_PERSIST, on_udp, p);
		if (p->ev == NULL || event_add(p->ev, NULL) != 0)
			goto out_fail;
	} else {
		p->lev = evconnlistener_new(w->base, net_tcp_accept, p, 0, -1, s->fd);
		if (p->lev == NULL)
			goto out_fail;
	}
	w->polled[w->polled_count++] = p;
	return C2W_OK;
out_fail:
	if (p->ev != NULL)
		event_free(p->ev);
	free(p);
	return C2W_ENOMEM;
}

/* Stop polling entry @i; the socket itself belongs to the main thread. */
static void poll_remove(struct net_worker *w, size_t i)
{
	struct polled *p = w->polled[i];
	if (p->ev != NULL)
		event_free(p->ev);
	if (p->lev != NULL)
		evconnlistener_free(p->lev);
	free(p);
	w->polled[i] = w->polled[--w->polled_count];
}

/* Make the polled set equal to @socks (matched by file descriptor). */
static void poll_sync(struct net_worker *w, const struct net_sock *socks, size_t count)
{
	for (size_t i = 0; i < w->polled_count;) {
		bool keep = false;
		for (size_t j = 0; j < count; j++)
			keep |= socks[j].fd == w->polled[i]->sock.fd;
		if (keep)
			i++;
		else
			poll_remove(w, i);
	}
	for (size_t j = 0; j < count; j++) {
		bool have = false;
		for (size_t i = 0; i < w->polled_count; i++)
			have |= socks[j].fd == w->polled[i]->sock.fd;
		if (!have && poll_add(w, &socks[j]) != C2W_OK)
			c2w_log_err("worker %u: cannot poll %s", w->id, socks[j].addr.text);
	}
}

/* Worker threads the server runs for @cfg (workers 0 = one per online core, as the server
 * counts them). The memory budgets are for all of them together. */
static size_t worker_count(const struct c2w_config *cfg)
{
	long n = cfg->server.workers ? (long)cfg->server.workers : sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : (size_t)n;
}

/* The gauge of the libunbound cache memory the worker's contexts in use were given. */
static void count_resolver_cache(struct net_worker *w)
{
	CTR_SET(w->ctr.resolver_cache_bytes,
		resolve_ctx_cache_bytes(w->rctx) + resolve_ctx_cache_bytes(w->rctx_cd));
}

static int make_resolvers(struct net_worker *w, const struct c2w_config *cfg,
			  struct resolve_ctx **rctx, struct resolve_ctx **rctx_cd, char *err,
			  size_t err_len)
{
	*rctx = NULL;
	*rctx_cd = NULL;
	/* resolver.cache-size is for all workers together, like server.cache-memory: each
	 * worker's libunbound contexts get an equal share (at least 1 MiB). */
	struct conf_resolver rc = cfg->resolver;
	unsigned total = rc.cache_mb ? rc.cache_mb : CONF_RESOLVER_CACHE_MB_DEFAULT;
	size_t share = total / worker_count(cfg);
	rc.cache_mb = share < 1 ? 1 : (unsigned)share;
	int ret = resolve_ctx_new(w->base, &rc, true, rctx, err, err_len);
	if (ret != C2W_OK)
		return ret;
	if (cfg->resolver.trust_anchor == NULL)
		return C2W_OK;
	ret = resolve_ctx_new(w->base, &rc, false, rctx_cd, err, err_len);
	if (ret != C2W_OK) {
		resolve_ctx_free(*rctx);
		*rctx = NULL;
	}
	return ret;
}

/* NSDNAME/NSIP rules match on the NS records of zone cuts and their addresses; "NAME NS"
 * answers carry the addresses only with minimal-responses off. Before the first query. */
static void resolvers_for_policy(struct net_worker *w, const struct policy_snap *snap)
{
	if (snap == NULL || !policy_snap_has_ns_rules(snap))
		return;
	if (resolve_ctx_want_ns(w->rctx) != C2W_OK || resolve_ctx_want_ns(w->rctx_cd) != C2W_OK)
		c2w_log_err("worker %u: cannot ask libunbound for NS records: NSDNAME/NSIP rules "
			    "will not match",
			    w->id);
}

/* libunbound sets a context up at its first query (3-12 ms of this thread): at start, do it on
 * the worker's thread before it reads a query. Not on the thread that made the contexts: set up
 * there, the miss-heavy run of test_abuse_inflight got 2-4 times the SERVFAILs. (Contexts made
 * again by a reload are set up at their first query, as before: the worker's own time either
 * way, and libunbound 1.17's set-up is not safe against a failed allocation, which
 * test_server_reload injects at every point of a reload.) */
static void resolvers_warm(const struct net_worker *w)
{
	int ret = resolve_ctx_warm(w->rctx);
	if (ret == C2W_OK)
		ret = resolve_ctx_warm(w->rctx_cd);
	if (ret != C2W_OK)
		c2w_log_err("worker %u: libunbound could not set up its resolver (%s); it tries "
			    "again at the first query",
			    w->id, c2w_strerror(ret));
}

static void retire(struct net_worker *w, struct resolve_ctx *ctx)
{
	if (ctx == NULL)
		return;
	if (resolve_ctx_pending(ctx) == 0) {
		resolve_ctx_free(ctx);
		return;
	}
	struct retired_ctx *r = malloc(sizeof(*r));
	if (r == NULL) {
		/* Cannot wait for its queries: cancel them (their clients time out). */
		resolve_ctx_free(ctx);
		return;
	}
	r->ctx = ctx;
	r->next = w->retired;
	w->retired = r;
}

static void on_torture_end(void *arg, const uint8_t *zone, const struct net_torture_stats *st)
{
	struct net_worker *w = arg;
	char text[DNS_NAME_TEXT_MAX];
	if (dns_name_to_text(zone, text, sizeof(text)) < 0)
		text[0] = '\0';
	if (st->early)
		CTR_ADD(w->ctr.ddos_lifted, 1);
	c2w_log_warn("worker %u: ddos: mitigation for %s ended after %us (%llu queries answered)%s",
		     w->id, text, st->seconds, (unsigned long long)st->mitigated,
		     st->early ? ": the flood stopped" : "");
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct net_worker *w = arg;
	(void)fd;
	(void)what;
	__atomic_add_fetch(&w->beat, 1, __ATOMIC_RELAXED);
	CTR_SET(w->ctr.ddos_active, net_torture_tick(w->torture, mono_s(), on_torture_end, w));
	CTR_SET(w->ctr.fetch_unresponsive, net_torture_unresponsive(w->torture));
	/* Contexts replaced by a reload go once their last query has called back; freeing them
	 * here, outside libunbound's callbacks, is safe. */
	for (struct retired_ctx **pr = &w->retired; *pr != NULL;) {
		struct retired_ctx *r = *pr;
		if (resolve_ctx_pending(r->ctx) == 0) {
			*pr = r->next;
			resolve_ctx_free(r->ctx);
			free(r);
		} else {
			pr = &r->next;
		}
	}
}

static bool str_eq(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool addrs_eq(const struct conf_addr *a, size_t na, const struct conf_addr *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i].text, b[i].text) != 0)
			return false;
	return true;
}

/* Would a libunbound context built from @b differ from one built from @a? */
static bool resolver_conf_eq(const struct conf_resolver *a, const struct conf_resolver *b)
{
	if (a->mode != b->mode || !str_eq(a->root_hints, b->root_hints) ||
	    !str_eq(a->trust_anchor, b->trust_anchor) || a->serve_stale != b->serve_stale ||
	    a->cache_mb != b->cache_mb || a->stub_count != b->stub_count ||
	    a->ratelimit != b->ratelimit || a->aggressive_nsec != b->aggressive_nsec ||
	    a->loopback_delegations != b->loopback_delegations ||
	    a->transparent_zone_count != b->transparent_zone_count ||
	    !addrs_eq(a->forward, a->forward_count, b->forward, b->forward_count))
		return false;
	for (size_t i = 0; i < a->stub_count; i++)
		if (!str_eq(a->stub[i].zone, b->stub[i].zone) ||
		    !addrs_eq(a->stub[i].addrs, a->stub[i].addr_count, b->stub[i].addrs,
			      b->stub[i].addr_count))
			return false;
	for (size_t i = 0; i < a->transparent_zone_count; i++)
		if (!str_eq(a->transparent_zones[i], b->transparent_zones[i]))
			return false;
	return true;
}

static bool wants_ns(const struct policy_snap *snap)
{
	return snap != NULL && policy_snap_has_ns_rules(snap);
}

/* Phase one of a reload: build the new contexts beside the running ones. Nothing the
 * queries use changes, so a failure here (out of memory, a resolver option) leaves the worker
 * exactly as it was, and the server can abort every worker alike. */
static void mbox_prepare(struct net_worker *w, struct mbox *m)
{
	/* A feed update must not throw away libunbound's cache: keep the contexts unless the
	 * resolver settings (or the need for NS records) changed. */
	bool keep = resolver_conf_eq(&w->cfg->resolver, &m->cfg->resolver) &&
		    wants_ns(w->snap) == wants_ns(m->snap);
	assert(!w->next_ready);
	m->result = C2W_OK;
	if (!keep) {
		m->result =
		    make_resolvers(w, m->cfg, &w->next_rctx, &w->next_rctx_cd, m->err, sizeof(m->err));
		if (m->result != C2W_OK)
			return;
	}
	/* Rate-limit tables that grow or come on: allocated now, so commit cannot fail. */
	m->result = net_wlimit_prepare(w, m->cfg);
	if (m->result != C2W_OK) {
		snprintf(m->err, sizeof(m->err), "worker %u: no memory for the rate-limit tables",
			 w->id);
		resolve_ctx_free(w->next_rctx);
		resolve_ctx_free(w->next_rctx_cd);
		w->next_rctx = NULL;
		w->next_rctx_cd = NULL;
		return;
	}
	w->next_keep = keep;
	w->next_ready = true;
}

static void mbox_abort(struct net_worker *w)
{
	if (!w->next_ready)
		return;
	resolve_ctx_free(w->next_rctx);
	resolve_ctx_free(w->next_rctx_cd);
	w->next_rctx = NULL;
	w->next_rctx_cd = NULL;
	net_wlimit_abort(w);
	w->next_ready = false;
}

/* Phase two: every worker has prepared; switch. Allocates nothing that can fail the switch. */
static void mbox_commit(struct net_worker *w, struct mbox *m)
{
	assert(w->next_ready);
	bool keep = w->next_keep;
	if (!keep) {
		retire(w, w->rctx);
		retire(w, w->rctx_cd);
		w->rctx = w->next_rctx;
		w->rctx_cd = w->next_rctx_cd;
		count_resolver_cache(w);
		w->next_rctx = NULL;
		w->next_rctx_cd = NULL;
	}
	w->next_ready = false;
	net_wlimit_commit(w, m->cfg);
	w->cfg = m->cfg;
	net_torture_set_conf(w->torture, &m->cfg->ddos);
	w->snap = m->snap;
	w->snap_client_rules = m->snap != NULL && policy_snap_has_client_rules(m->snap);
	w->snap_gen = (w->snap_gen + 1) & 0x7fffffffu; /* net_cache_tag() keeps 31 bits */
	if (w->snap_gen == 0)
		w->snap_gen = 1; /* 0 tags bodies no policy checked */
	if (!keep) {
		resolvers_for_policy(w, w->snap);
		resolve_cuts_reset(w->cuts); /* new upstreams: the cuts they show may differ */
	}
	poll_sync(w, m->socks, m->sock_count);
	/* New upstreams may answer differently: start from a clean cache. A new policy alone
	 * keeps it: bodies carry the generation that checked them, and a hit on an older one
	 * is checked against the new policy first (net_wpolicy_cached_ok()). */
	if (!keep)
		dns_pcache_clear(w->cache);
}

static void on_mbox(evutil_socket_t fd, short what, void *arg)
{
	struct net_worker *w = arg;
	struct mbox *m = &w->mbox;
	(void)what;
	uint64_t wakeups;
	ssize_t n = read(fd, &wakeups, sizeof(wakeups)); /* drain the eventfd */
	(void)n;
	pthread_mutex_lock(&m->mu);
	if (m->type == MBOX_PREPARE)
		mbox_prepare(w, m);
	else if (m->type == MBOX_COMMIT)
		mbox_commit(w, m);
	else if (m->type == MBOX_ABORT)
		mbox_abort(w);
	else if (m->type == MBOX_STOP)
		event_base_loopbreak(w->base);
	m->type = MBOX_NONE;
	m->done = true;
	pthread_cond_signal(&m->cv);
	pthread_mutex_unlock(&m->mu);
}

static int mbox_call(struct net_worker *w, enum mbox_type type, const struct c2w_config *cfg,
		     const struct policy_snap *snap, const struct net_sock *socks, size_t count,
		     char *err, size_t err_len)
{
	struct mbox *m = &w->mbox;
	pthread_mutex_lock(&m->mu);
	m->type = type;
	m->cfg = cfg;
	m->snap = snap;
	m->socks = socks;
	m->sock_count = count;
	m->result = C2W_OK;
	m->err[0] = '\0';
	m->done = false;
	uint64_t one = 1;
	ssize_t n = write(w->mbox_fd, &one, sizeof(one)); /* fails only if 2^64-2 are unread */
	(void)n;
	while (!m->done)
		pthread_cond_wait(&m->cv, &m->mu);
	int ret = m->result;
	if (ret != C2W_OK && err != NULL)
		snprintf(err, err_len, "%s", m->err);
	pthread_mutex_unlock(&m->mu);
	return ret;
}

static pthread_once_t evthread_once = PTHREAD_ONCE_INIT;

static void evthread_setup(void)
{
	/* Workers' own bases are made without locks (their mailbox is an eventfd); the
	 * other bases of the process keep libevent's locking, as they always had. */
	evthread_use_pthreads();
}

static int slots_init(struct net_worker *w, const struct c2w_config *cfg)
{
	w->orphan_cap = cfg->limits.upstream_pending_max;
	w->slot_total = SLOT_COUNT + w->orphan_cap;
	w->clients = net_client_table_new(SLOT_COUNT);
	/* The whole pool is allocated now (the bound never needs memory later), but not
	 * written: slot_get() takes never-used slots in order once the free list (the slots
	 * used before, most recent first) is empty, so only as many slots as were ever in
	 * flight at once become resident (about 2.4 KB each; 5,120 slots, 12.4 MB, with the
	 * defaults). */
	w->slots = calloc(w->slot_total, sizeof(*w->slots));
	if (w->slots == NULL || w->clients == NULL)
		return C2W_ENOMEM;
	w->free_slots = NULL;
	w->slot_fresh = 0;
	return C2W_OK;
}

int net_worker_new(unsigned id, const struct c2w_config *cfg, struct net_worker **out, char *err,
		   size_t err_len)
{
	pthread_once(&evthread_once, evthread_setup);
	struct net_worker *w = calloc(1, sizeof(*w));
	if (w == NULL)
		return C2W_ENOMEM;
	w->id = id;
	w->cfg = cfg;
	w->snap_gen = 1; /* cached bodies tagged 0 were checked by no policy */
	w->peers = 1;
	pthread_mutex_init(&w->mbox.mu, NULL);
	pthread_cond_init(&w->mbox.cv, NULL);
	udp_buffers_init(w);
	int ret = C2W_ENOMEM;
	w->mbox_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	struct event_config *ec = event_config_new();
	if (ec == NULL || w->mbox_fd < 0)
		goto out_free_ec;
	/* Only this thread touches its base (the mailbox wakes it through an eventfd), so
	 * libevent's lock around every event_add/event_del and callback would be pure cost; the
	 * miss path makes several per query. */
	event_config_set_flag(ec, EVENT_BASE_FLAG_NOLOCK);
	w->base = event_base_new_with_config(ec);
	event_config_free(ec);
	if (w->base == NULL)
		goto out_free;
	/* server.cache-memory is for all workers together: an equal share each. */
	size_t cache_mb =
	    cfg->server.cache_memory_mb ? cfg->server.cache_memory_mb : CONF_CACHE_MEMORY_MB_DEFAULT;
	w->cache = dns_pcache_new(cache_mb * 1024 * 1024 / worker_count(cfg), PCACHE_BODY_MAX);
	w->torture = net_torture_new(&cfg->ddos);
	if (net_deadline_init(&w->deadlines, w->base, on_slot_timeout, w) != C2W_OK)
		goto out_free;
	w->mbox_ev = event_new(w->base, w->mbox_fd, EV_READ | EV_PERSIST, on_mbox, w);
	w->tick_ev = event_new(w->base, -1, EV_PERSIST, on_tick, w);
	w->defer_ev = event_new(w->base, -1, 0, on_defer, w);
	if (w->cache == NULL || w->torture == NULL || w->mbox_ev == NULL || w->tick_ev == NULL ||
	    w->defer_ev == NULL)
		goto out_free;
	struct timeval one = {.tv_sec = 1};
	event_add(w->tick_ev, &one);
	event_add(w->mbox_ev, NULL);
	if (slots_init(w, cfg) != C2W_OK || net_wlimit_sync(w, cfg) != C2W_OK ||
	    net_wnscut_init(w) != C2W_OK)
		goto out_free;
	ret = make_resolvers(w, cfg, &w->rctx, &w->rctx_cd, err, err_len);
	if (ret != C2W_OK)
		goto out_free;
	count_resolver_cache(w);
	CTR_SET(w->ctr.answer_cache_bytes, dns_pcache_capacity(w->cache));
	*out = w;
	return C2W_OK;
out_free_ec:
	if (ec != NULL)
		event_config_free(ec);
out_free:
	net_worker_free(w);
	return ret;
}

static void *worker_main(void *arg)
{
	struct net_worker *w = arg;
	/* The opt-out registry is read under liburcu's read-side lock. */
	rcu_register_thread();
	resolvers_warm(w);
	event_base_dispatch(w->base);
	rcu_unregister_thread();
	return NULL;
}

int net_worker_start(struct net_worker *w, const struct net_sock *socks, size_t sock_count)
{
	for (size_t i = 0; i < sock_count; i++) {
		int ret = poll_add(w, &socks[i]);
		if (ret != C2W_OK)
			return ret;
	}
	/* A mailbox write before the loop runs stays in the eventfd until it does. */
	int ret = pthread_create(&w->thread, NULL, worker_main, w);
	if (ret != 0)
		return -ret;
	w->started = true;
	/* Return once the worker has set its resolver up (worker_main does it before its loop,
	 * which answers this): the start is then complete, and a test that fails allocations on
	 * purpose right after it cannot fail that set-up by chance (test_server_reload did). */
	(void)mbox_call(w, MBOX_SYNC, NULL, NULL, NULL, 0, NULL, 0);
	return C2W_OK;
}

void net_worker_attach(struct net_worker *w, const struct policy_snap *snap,
		       struct events_ring *ring, struct events_optout *optout)
{
	w->snap = snap;
	w->snap_client_rules = snap != NULL && policy_snap_has_client_rules(snap);
	w->ring = ring;
	w->optout = optout;
	resolvers_for_policy(w, snap);
}

void net_worker_set_xfr(struct net_worker *w, struct net_xfr *xfr)
{
	w->xfr = xfr;
}

void net_worker_set_feeds(struct net_worker *w, struct net_feeds *feeds)
{
	w->feeds = feeds;
}

void net_worker_attach_tcp(struct net_worker *w, struct c2w_addrcount *per_addr)
{
	w->tcp_per_addr = per_addr;
}

int net_worker_reload_prepare(struct net_worker *w, const struct c2w_config *cfg,
			      const struct policy_snap *snap, char *err, size_t err_len)
{
	return mbox_call(w, MBOX_PREPARE, cfg, snap, NULL, 0, err, err_len);
}

void net_worker_reload_commit(struct net_worker *w, const struct c2w_config *cfg,
			      const struct policy_snap *snap, const struct net_sock *socks,
			      size_t sock_count)
{
	(void)mbox_call(w, MBOX_COMMIT, cfg, snap, socks, sock_count, NULL, 0);
}

void net_worker_reload_abort(struct net_worker *w)
{
	(void)mbox_call(w, MBOX_ABORT, NULL, NULL, NULL, 0, NULL, 0);
}

const struct c2w_config *net_worker_config(const struct net_worker *w)
{
	return w->cfg;
}

const struct policy_snap *net_worker_snap(const struct net_worker *w)
{
	return w->snap;
}

void net_worker_set_peers(struct net_worker *w, unsigned count)
{
	w->peers = count > 0 ? count : 1;
}

void net_worker_stop(struct net_worker *w)
{
	if (w == NULL || !w->started)
		return;
	(void)mbox_call(w, MBOX_STOP, NULL, NULL, NULL, 0, NULL, 0);
	pthread_join(w->thread, NULL);
	w->started = false;
}

void net_worker_free(struct net_worker *w)
{
	if (w == NULL)
		return;
	while (w->polled_count > 0)
		poll_remove(w, w->polled_count - 1);
	net_tcp_free_all(w);
	resolve_ctx_free(w->rctx);
	resolve_ctx_free(w->rctx_cd);
	resolve_ctx_free(w->next_rctx);
	resolve_ctx_free(w->next_rctx_cd);
	while (w->retired != NULL) {
		struct retired_ctx *r = w->retired;
		w->retired = r->next;
		resolve_ctx_free(r->ctx);
		free(r);
	}
	free(w->slots);
	net_deadline_deinit(&w->deadlines);
	if (w->mbox_ev != NULL)
		event_free(w->mbox_ev);
	if (w->mbox_fd >= 0)
		close(w->mbox_fd);
	if (w->tick_ev != NULL)
		event_free(w->tick_ev);
	dns_pcache_free(w->cache);
	net_wlimit_free(w);
	net_client_table_free(w->clients);
	net_torture_free(w->torture);
	resolve_cuts_free(w->cuts);
	/* Answers still held are dropped: the listening sockets may be gone by now. */
	if (w->defer_ev != NULL) {
		event_free(w->defer_ev);
		w->defer_ev = NULL;
	}
	if (w->base != NULL)
		event_base_free(w->base);
	pthread_mutex_destroy(&w->mbox.mu);
	pthread_cond_destroy(&w->mbox.cv);
	free(w);
}

uint64_t net_worker_heartbeat(const struct net_worker *w)
{
	return __atomic_load_n(&w->beat, __ATOMIC_RELAXED);
}

void net_worker_latency(const struct net_worker *w, struct net_latency *out)
{
	net_latency_copy(out, &w->lat);
}

void net_worker_counters(const struct net_worker *w, struct net_counters *out)
{
	/* Field by field, each a relaxed atomic load: the worker writes them meanwhile. */
#define NET_COUNTER_LOAD(name, help) out->name = __atomic_load_n(&w->ctr.name, __ATOMIC_RELAXED);
	NET_COUNTERS(NET_COUNTER_LOAD)
#undef NET_COUNTER_LOAD
}

void net_worker_counters_sum(struct net_worker *const *workers, unsigned n,
			     struct net_counters *sum)
{
	struct net_counters c;
	memset(sum, 0, sizeof(*sum));
	for (unsigned i = 0; i < n; i++) {
		net_worker_counters(workers[i], &c);
#define NET_COUNTER_SUM(name, help) sum->name += c.name;
		NET_COUNTERS(NET_COUNTER_SUM)
#undef NET_COUNTER_SUM
	}
}
