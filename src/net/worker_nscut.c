/* SPDX-License-Identifier: MIT */
/*
 * NSDNAME/NSIP triggers at every delegation point, as BIND checks them (lib/ns/query.c,
 * rpz_rewrite, run again at each name of a CNAME/DNAME chain): the query name, then each
 * chain name, and each one's ancestors with more than policy.min-ns-dots labels,
 * for those that are zone cuts their NS names and the names' A and AAAA addresses. The facts
 * come from the worker's zone-cut cache (resolve/cuts.h); a miss asks libunbound, one look-up
 * at a time from the query's slot, and the walk starts over with the answer in the cache.
 * Matching itself is policy_match_ns_all(); the answer being checked waits in s->saved.
 */
#include "dns/iter.h"
#include "net/worker_int.h"

/* Look-ups one query may make; a walk that needs more (the cache thrashing under a flood of
 * distinct cuts) is matched with what it has and counted. */
#define NS_STEPS_MAX 48

#define TYPE_DNAME 39 /* RFC 6672 */

/* Names of a CNAME/DNAME chain walked (BIND restarts at each); past it, no name-server walk. */
#define CHAIN_MAX 17

/* The query name and the CNAME targets the answer follows, in order: chain positions as
 * policy_match_response() counts them (a DNAME's synthesized CNAME is one link). */
struct chain {
	unsigned count;
	uint8_t names[CHAIN_MAX][DNS_NAME_MAX];
};

static const struct dns_answer *cur_answer(const struct net_worker *w, const struct net_slot *s)
{
	return s->saved != NULL ? s->saved : &w->ans;
}

static void chain_read(const struct net_slot *s, const struct dns_answer *ans, struct chain *ch)
{
	struct dns_iter it;
	struct dns_rr rr;
	memcpy(ch->names[0], s->q.qname, s->q.qname_len);
	ch->count = 1;
	/* A CNAME or ANY question is answered at its own name (BIND does not follow it). */
	if (s->q.qtype == DNS_TYPE_CNAME || s->q.qtype == DNS_TYPE_ANY ||
	    dns_iter_init(&it, ans->wire, ans->len) != C2W_OK)
		return;
	while (ch->count < CHAIN_MAX && dns_iter_next(&it, &rr) == C2W_OK &&
	       rr.section == DNS_SECTION_ANSWER) {
		if (rr.type != DNS_TYPE_CNAME || !dns_name_equal(rr.owner, ch->names[ch->count - 1]))
			continue;
		size_t pos = rr.rdata_off, nl;
		if (dns_name_unpack(ans->wire, ans->len, &pos, ch->names[ch->count], &nl) != C2W_OK)
			return;
		dns_name_lower(ch->names[ch->count]);
		ch->count++;
	}
}

/* Among chain name @k and its ancestors with more than min-ns-dots labels (BIND's walk), the
 * names that the answer already shows not to be cuts. */
static bool skip_name(const struct net_slot *s, const struct chain *ch, unsigned k,
		      const uint8_t *p)
{
	/* A CNAME owner holds no NS RRset (RFC 1034 3.6.2). */
	if (p == ch->names[k] && (k + 1 < ch->count || (k == 0 && s->q_alias)))
		return true;
	/* Names strictly below the zone a negative answer named (for the chain's last name) are
	 * inside it: no cut. */
	return k + 1 == ch->count && s->zone_known &&
	       dns_name_subdomain(ch->names[k], s->zone) >= 0 && dns_name_subdomain(p, s->zone) > 0;
}

/* The next look-up chain name @k needs, in slot fields; false when the cache holds all. */
static bool next_lookup(struct net_worker *w, struct net_slot *s, const struct chain *ch,
			unsigned k, bool want_addrs)
{
	const uint8_t *p = ch->names[k];
	unsigned labels = dns_name_label_count(p);
	unsigned min = w->cfg->policy.min_ns_dots;
	for (; labels > min; labels--, p += p[0] + 1) {
		if (skip_name(s, ch, k, p))
			continue;
		const struct resolve_cut *c = resolve_cuts_find(w->cuts, p, w->now_s);
		int len = dns_name_wire_len(p, DNS_NAME_WIRE_MAX);
		if (c == NULL) {
			memcpy(s->ns_ask, p, (size_t)len);
			s->ns_qtype = DNS_TYPE_NS;
			return true;
		}
		CTR_ADD(w->ctr.cut_cache_hits, 1);
		if (!c->is_cut || !want_addrs)
			continue;
		for (unsigned i = 0; i < c->ns_count; i++) {
			if (resolve_cut_wants(c, i, &s->ns_qtype)) {
				memcpy(s->ns_ask, p, (size_t)len);
				s->ns_idx = (uint8_t)i;
				return true;
			}
		}
	}
	return false;
}

/* NS name @i of cut @c as BIND takes it (rpz_rewrite(), rpz_rewrite_ip_rrsets()): its NSDNAME
 * rules, then its IPv4 and its IPv6 addresses while an NSIP rule of that family could still
 * win. An address set whose look-up failed then makes the answer SERVFAIL: false. */
static bool match_ns(struct net_worker *w, struct net_slot *s, const struct resolve_cut *c,
		     unsigned i, unsigned pos, struct policy_hit *shadow)
{
	static const int fams[2] = {AF_INET, AF_INET6};
	static const uint8_t bits[2] = {RESOLVE_CUT_HAVE_A, RESOLVE_CUT_HAVE_AAAA};
	const uint8_t *name = resolve_cut_ns(c, i);
	struct policy_ns_addr addrs[RESOLVE_CUT_ADDR_MAX];
	(void)policy_match_ns_all(w->snap, &s->q, pos, &name, 1, NULL, 0, &s->hit, shadow);
	for (unsigned f = 0; f < 2; f++) {
		if (name[0] == 0 || !policy_nsip_wanted(w->snap, &s->hit, pos, fams[f]))
			continue;
		if (c->ns_failed[i] & bits[f])
			return false;
		size_t na = 0;
		for (unsigned k = 0; k < c->addr_count; k++) {
			if (c->addrs[k].ns != i || c->addrs[k].family != fams[f])
				continue;
			addrs[na].family = fams[f];
			memcpy(addrs[na].addr, c->addrs[k].addr, 16);
			na++;
		}
		(void)policy_match_ns_all(w->snap, &s->q, pos, NULL, 0, addrs, na, &s->hit,
					  shadow);
	}
	return true;
}

/* Every cut from chain name @k up, in BIND's order; false: SERVFAIL (see match_ns()). */
static bool ns_match(struct net_worker *w, struct net_slot *s, const struct chain *ch, unsigned k)
{
	struct policy_hit shadow;
	const uint8_t *p = ch->names[k];
	unsigned labels = dns_name_label_count(p);
	unsigned min = w->cfg->policy.min_ns_dots;
	bool ok = true;
	memset(&shadow, 0, offsetof(struct policy_hit, match));
	for (; labels > min && ok; labels--, p += p[0] + 1) {
		if (skip_name(s, ch, k, p))
			continue;
		const struct resolve_cut *c = resolve_cuts_find(w->cuts, p, w->now_s);
		if (c == NULL || !c->is_cut)
			continue;
		for (unsigned i = 0; i < c->ns_count && ok; i++)
			ok = match_ns(w, s, c, i, k, &shadow);
	}
	if (shadow.action != POLICY_ACTION_NONE && !s->ns_shadowed) {
		s->ns_shadowed = true;
		net_wpolicy_record_shadow(w, s, &shadow);
	}
	return ok;
}

/*
 * Is chain name @k still to be walked? BIND restarts at each name of the chain and stops at
 * the first that has a hit: a hit at an earlier name ends the walk, and at the hit's own
 * name zone 0's CLIENT-IP/QNAME/RESPONSE-IP rules beat every name-server rule.
 */
static bool pos_open(const struct net_slot *s, const struct chain *ch, unsigned k)
{
	const struct policy_hit *h = &s->hit;
	if (k >= ch->count)
		return false;
	if (h->action == POLICY_ACTION_NONE || h->chain_pos > k)
		return true;
	return h->chain_pos == k && !(h->zone == 0 && h->trigger < POLICY_TRIGGER_NSDNAME);
}

/*
 * Walk on from chain position s->ns_pos: match every name whose cuts the cache holds, stop at
 * the first look-up needed (in slot fields, true) or at the end (false; s->ns_fail says
 * whether it ends in SERVFAIL). With @partial (the look-up budget spent) nothing is asked:
 * every open name is matched with what the cache holds.
 */
static bool walk(struct net_worker *w, struct net_slot *s, bool partial)
{
	struct chain ch;
	bool want_addrs = policy_snap_has_nsip_rules(w->snap);
	chain_read(s, cur_answer(w, s), &ch);
	for (; pos_open(s, &ch, s->ns_pos); s->ns_pos++) {
		if (!partial && next_lookup(w, s, &ch, s->ns_pos, want_addrs))
			return true;
		if (!ns_match(w, s, &ch, s->ns_pos)) {
			s->ns_fail = NET_NS_FAIL_ADDR;
			return false;
		}
	}
	return false;
}

/* BIND answers SERVFAIL when an NS address it needs cannot be looked up; a look-up refused
 * by the fetch caps gets the answer the refused query itself would have had. */
static void cut_servfail(struct net_worker *w, struct net_slot *s)
{
	memset(&s->hit, 0, sizeof(s->hit));
	s->had_hit = true; /* not for the answer cache */
	if (s->ns_fail == NET_NS_FAIL_LIMITED) {
		(void)dns_answer_empty(&s->q, s->ns_rcode, s->ns_ede, s->ns_text, &w->ans);
		return;
	}
	CTR_ADD(w->ctr.cut_servfail, 1);
	(void)dns_answer_empty(&s->q, DNS_RCODE_SERVFAIL, DNS_EDE_OTHER,
			       "name-server address look-up failed (NSIP)", &w->ans);
}

static void on_ns(void *arg, int rcode, const uint8_t *pkt, size_t len, enum resolve_sec sec,
		  const char *why);

/*
 * Put the look-up of @name under the same fetch caps as a cache miss (net/torture.h: the
 * zone's cap, the pool of unresponsive zones, a running mitigation): an attacker's random
 * names would otherwise send NS and address queries that no cap counts. False: refused, the
 * walk ends in the answer the refused query would have had (s->ns_fail).
 */
static bool admit(struct net_worker *w, struct net_slot *s, const uint8_t *name)
{
	uint8_t zone[DNS_NAME_MAX];
	uint32_t ref = 0;
	enum net_torture_verdict v =
	    net_torture_miss(w->torture, name, s->popular, w->now_s, &ref, zone);
	if (v == NET_TORTURE_PASS || v == NET_TORTURE_TRICKLE) {
		if (v == NET_TORTURE_TRICKLE)
			CTR_ADD(w->ctr.ddos_trickled, 1);
		s->zone_ref = ref;
		CTR_SET(w->ctr.fetch_unresponsive, net_torture_unresponsive(w->torture));
		return true;
	}
	struct net_torture_answer a;
	/* the walk ends in an answer to the client: a mitigation's drop is SERVFAIL here */
	net_worker_torture_refusal(w, &s->q, &s->rt, v, zone, false, &a);
	CTR_ADD(w->ctr.cut_lookups_limited, 1);
	s->ns_fail = NET_NS_FAIL_LIMITED;
	s->ns_rcode = a.rcode;
	s->ns_ede = (int16_t)a.ede;
	s->ns_text = a.text;
	return false;
}

/* The look-up of @s ended (answer, failure, or the slot's end): free its fetch. */
static void lookup_done(struct net_worker *w, struct net_slot *s, int rcode)
{
	if (!s->timed_out && s->zone_ref != 0)
		net_torture_outcome(w->torture, s->zone_ref,
				    rcode == DNS_RCODE_NXDOMAIN   ? NET_TORTURE_NXDOMAIN
				    : rcode == DNS_RCODE_SERVFAIL ? NET_TORTURE_SERVFAIL
								  : NET_TORTURE_ANSWER);
	net_torture_release(w->torture, s->zone_ref);
	s->zone_ref = 0;
	CTR_SET(w->ctr.fetch_unresponsive, net_torture_unresponsive(w->torture));
	if (s->ns_out) {
		s->ns_out = false;
		CTR_ADD(w->ctr.cut_lookups_inflight, -1);
	}
}

/* Ask for what the walk lacks (@walked: walk() already found it, in slot fields); true when
 * a look-up is under way (the slot waits). */
static bool step(struct net_worker *w, struct net_slot *s, bool walked)
{
	if (!walked && !walk(w, s, false))
		return false;
	if (s->ns_steps >= NS_STEPS_MAX) {
		CTR_ADD(w->ctr.cut_walks_short, 1);
		(void)walk(w, s, true);
		return false;
	}
	s->ns_steps++;
	const uint8_t *name = s->ns_ask;
	uint8_t ns[DNS_NAME_WIRE_MAX];
	if (s->ns_qtype != DNS_TYPE_NS) {
		/* The entry may go before the answer comes: ask with a copy of the NS name. */
		const struct resolve_cut *c = resolve_cuts_find(w->cuts, s->ns_ask, w->now_s);
		const uint8_t *n = resolve_cut_ns(c, s->ns_idx);
		memcpy(ns, n, (size_t)dns_name_wire_len(n, DNS_NAME_WIRE_MAX));
		name = ns;
	}
	if (!admit(w, s, name))
		return false;
	if (s->ns_qtype == DNS_TYPE_NS)
		CTR_ADD(w->ctr.cut_lookups, 1);
	else
		CTR_ADD(w->ctr.cut_addr_lookups, 1);
	s->stage = NET_STAGE_NS;
	/* Set before the call: the answer may come during it (resolve.h). */
	s->ns_out = true;
	CTR_ADD(w->ctr.cut_lookups_inflight, 1);
	if (net_worker_slot_resolve(w, s, name, s->ns_qtype, DNS_CLASS_IN, on_ns) == C2W_OK)
		return true;
	lookup_done(w, s, DNS_RCODE_SERVFAIL);
	return false;
}

static void finish(struct net_worker *w, struct net_slot *s)
{
	bool ok = s->timed_out || w->snap == NULL || s->ns_fail == NET_NS_FAIL_NONE;
	net_wpolicy_slot_restore(w, s);
	if (!ok)
		cut_servfail(w, s);
	net_worker_resolved_finish(w, s);
}

static void on_ns(void *arg, int rcode, const uint8_t *pkt, size_t len, enum resolve_sec sec,
		  const char *why)
{
	struct net_slot *s = arg;
	struct net_worker *w = s->w;
	(void)sec;
	(void)why;
	w->now_s = mono_s();
	lookup_done(w, s, rcode);
	if (s->ns_qtype == DNS_TYPE_NS)
		(void)resolve_cuts_learn_ns(w->cuts, s->ns_ask, rcode, pkt, len, w->now_s);
	else
		resolve_cuts_learn_addr(w->cuts, s->ns_ask, s->ns_idx, s->ns_qtype, rcode, pkt, len,
					w->now_s);
	if (!s->timed_out && w->snap != NULL && step(w, s, false))
		return;
	finish(w, s);
}

/* What the answer itself says: a CNAME at the query name (no cut there), or the zone a
 * negative answer names in its SOA (no cut between the query name and that apex). */
static void read_answer(struct net_slot *s, const struct dns_answer *ans)
{
	struct dns_iter it;
	struct dns_rr rr;
	bool chain = false, soa = false;
	s->zone_known = s->q_alias = false;
	if (dns_iter_init(&it, ans->wire, ans->len) != C2W_OK)
		return;
	while (dns_iter_next(&it, &rr) == C2W_OK) {
		if (rr.section == DNS_SECTION_ANSWER) {
			if (rr.type == DNS_TYPE_CNAME || rr.type == TYPE_DNAME)
				chain = true;
			if (rr.type == DNS_TYPE_CNAME && dns_name_equal(rr.owner, s->q.qname))
				s->q_alias = true;
			continue;
		}
		if (rr.section == DNS_SECTION_AUTHORITY && rr.type == DNS_TYPE_SOA && !soa) {
			memcpy(s->zone, rr.owner, rr.owner_len);
			dns_name_lower(s->zone);
			soa = true;
		}
	}
	/* Past a CNAME the SOA is the last target's zone (skip_name() checks that name). */
	s->zone_known = soa && (chain || dns_name_subdomain(s->q.qname, s->zone) >= 0);
}

bool net_wpolicy_ns_start(struct net_worker *w, struct net_slot *s)
{
	if (s->timed_out || w->snap == NULL || w->cuts == NULL ||
	    !policy_snap_has_ns_rules(w->snap))
		return false;
	if (w->ans.rcode != DNS_RCODE_NOERROR && w->ans.rcode != DNS_RCODE_NXDOMAIN)
		return false;
	read_answer(s, &w->ans);
	s->ns_steps = 0;
	s->ns_pos = 0;
	s->ns_fail = NET_NS_FAIL_NONE;
	s->ns_shadowed = false;
	w->now_s = mono_s();
	if (!walk(w, s, false)) {
		/* Everything cached: no copy of the answer needed. */
		if (s->ns_fail != NET_NS_FAIL_NONE)
			cut_servfail(w, s);
		return false;
	}
	if (!net_wpolicy_slot_save(s, &w->ans))
		return false;
	/* The main fetch is over: its place under the zone's cap goes; each look-up takes one. */
	net_torture_release(w->torture, s->zone_ref);
	s->zone_ref = 0;
	if (step(w, s, true))
		return true;
	finish(w, s);
	return true;
}

int net_wnscut_init(struct net_worker *w)
{
	w->cuts = resolve_cuts_new(RESOLVE_CUTS_DEFAULT);
	return w->cuts != NULL ? C2W_OK : C2W_ENOMEM;
}
