/* SPDX-License-Identifier: MIT */
/*
 * The worker's RPZ glue: opt-out, query-time and response-time matching, acting on a hit
 * (rewrite, drop, TC), and hit records handed to the event thread through the worker's ring.
 */
#include "dns/iter.h"
#include "dns/writer.h"
#include "net/worker_int.h"

/* ---- policy ---------------------------------------------------------------------------- */

static uint8_t events_trigger_of(uint8_t t)
{
	switch (t) {
	case POLICY_TRIGGER_CLIENT_IP:
		return EVENTS_TRIGGER_CLIENT_IP;
	case POLICY_TRIGGER_RESPONSE_IP:
		return EVENTS_TRIGGER_RESPONSE_IP;
	case POLICY_TRIGGER_NSDNAME:
		return EVENTS_TRIGGER_NSDNAME;
	case POLICY_TRIGGER_NSIP:
		return EVENTS_TRIGGER_NSIP;
	default:
		return EVENTS_TRIGGER_QNAME;
	}
}

static uint8_t events_action_of(const struct policy_hit *hit)
{
	if (hit->shadow)
		return EVENTS_ACTION_LOG;
	switch (hit->action) {
	case POLICY_ACTION_NXDOMAIN:
		return EVENTS_ACTION_NXDOMAIN;
	case POLICY_ACTION_NODATA:
		return EVENTS_ACTION_NODATA;
	case POLICY_ACTION_PASSTHRU:
		return EVENTS_ACTION_PASSTHRU;
	case POLICY_ACTION_DROP:
		return EVENTS_ACTION_DROP;
	case POLICY_ACTION_TCP_ONLY:
		return EVENTS_ACTION_TCP_ONLY;
	case POLICY_ACTION_CNAME:
	case POLICY_ACTION_CNAME_WILD:
		return EVENTS_ACTION_CNAME;
	case POLICY_ACTION_SINKHOLE:
		return EVENTS_ACTION_SINKHOLE;
	default:
		return EVENTS_ACTION_LOCAL_DATA;
	}
}

/* One line saying what the client got, for the hit record. */
static void answer_summary(const uint8_t *msg, int len, char *out, size_t cap)
{
	static const char *const rcodes[] = {"NOERROR",  "FORMERR", "SERVFAIL",
					     "NXDOMAIN", "NOTIMP",  "REFUSED"};
	if (len < DNS_HEADER_LEN) {
		snprintf(out, cap, "no answer (dropped)");
		return;
	}
	unsigned rc = msg[3] & 0x0f;
	unsigned an = ((unsigned)msg[6] << 8) | msg[7];
	snprintf(out, cap, "%s%s, %u answer record(s)", rc < 6 ? rcodes[rc] : "RCODE",
		 (msg[2] & 0x02) ? " TC" : "", an);
}

/* Hand a hit to the event thread; never blocks (a full ring drops and counts). */
static void record_hit_as(struct net_worker *w, const struct dns_query *q,
			  const struct net_route *rt, const struct policy_hit *hit, uint8_t action,
			  const char *answer)
{
	const struct sockaddr *peer = rt->peer;
	if (w->ring == NULL)
		return;
	struct events_hit rec;
	memset(&rec, 0, offsetof(struct events_hit, qname));
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	rec.time_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	(void)events_hit_set_client(&rec, peer);
	rec.kind = EVENTS_KIND_HIT;
	rec.tcp = rt->tcp;
	rec.trigger = events_trigger_of(hit->trigger);
	rec.action = action;
	rec.qtype = q->qtype;
	rec.worker = (uint16_t)w->id;
	/* A name whose escaped form outgrows the field is cut with a marker, never dropped. */
	if (dns_name_to_text_trunc(q->qname, rec.qname, sizeof(rec.qname)) < 0)
		rec.qname[0] = '\0';
	events_hit_copy(rec.match, sizeof(rec.match), hit->match);
	events_hit_copy(rec.zone, sizeof(rec.zone), hit->zone_name);
	events_hit_copy(rec.category, sizeof(rec.category), hit->category);
	events_hit_copy(rec.family, sizeof(rec.family), hit->family);
	events_hit_copy(rec.feed, sizeof(rec.feed), hit->feed);
	events_hit_copy(rec.answer, sizeof(rec.answer), answer);
	(void)events_ring_push(w->ring, &rec);
}

static void record_hit(struct net_worker *w, const struct dns_query *q, const struct net_route *rt,
		       const struct policy_hit *hit, const char *answer)
{
	record_hit_as(w, q, rt, hit, events_action_of(hit), answer);
}

void net_wpolicy_ddos_hit(struct net_worker *w, const struct dns_query *q,
			  const struct net_route *rt, const char *zone, unsigned action)
{
	struct policy_hit hit;
	memset(&hit, 0, sizeof(hit));
	snprintf(hit.match, sizeof(hit.match), "*.%s", zone);
	hit.trigger = POLICY_TRIGGER_QNAME;
	events_hit_copy(hit.zone_name, sizeof(hit.zone_name), "water-torture");
	events_hit_copy(hit.category, sizeof(hit.category), "ddos");
	events_hit_copy(hit.feed, sizeof(hit.feed), "water-torture");
	record_hit_as(w, q, rt, &hit, action, "random-subdomain mitigation started");
}

/*
 * The operator's explicit query log (events.query-log, off by default): one
 * EVENTS_KIND_QUERY record per answered query. Off, this costs one branch; opted-out
 * clients are never recorded.
 */
void net_wpolicy_query_log(struct net_worker *w, const struct dns_query *q,
			   const struct net_route *rt)
{
	const struct sockaddr *peer = rt->peer;
	if (w->ring == NULL || !w->cfg->events.query_log)
		return;
	if (w->optout != NULL && events_optout_contains(w->optout, peer))
		return;
	struct events_hit rec;
	memset(&rec, 0, sizeof(rec));
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	rec.time_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	(void)events_hit_set_client(&rec, peer);
	rec.kind = EVENTS_KIND_QUERY;
	rec.tcp = rt->tcp;
	rec.qtype = q->qtype;
	rec.worker = (uint16_t)w->id;
	/* A name whose escaped form outgrows the field is cut with a marker, never dropped. */
	if (dns_name_to_text_trunc(q->qname, rec.qname, sizeof(rec.qname)) < 0)
		rec.qname[0] = '\0';
	(void)events_ring_push(w->ring, &rec);
}

/* ---- follow-up queries: CNAME targets, name servers ---------------------------------- */

/* Keep a copy of @ans in the slot (the worker's answer buffers are shared by all queries). */
bool net_wpolicy_slot_save(struct net_slot *s, const struct dns_answer *ans)
{
	struct dns_answer *sv = malloc(sizeof(*sv) + ans->len);
	if (sv == NULL)
		return false;
	*sv = *ans;
	sv->wire = (uint8_t *)(sv + 1);
	sv->cap = ans->len;
	memcpy(sv->wire, ans->wire, ans->len);
	free(s->saved);
	s->saved = sv;
	return true;
}

/* Put the saved body back into w->ans and let go of the copy. */
void net_wpolicy_slot_restore(struct net_worker *w, struct net_slot *s)
{
	struct dns_answer *sv = s->saved;
	w->ans = *sv;
	w->ans.wire = w->ans_buf;
	w->ans.cap = sizeof(w->ans_buf);
	memcpy(w->ans_buf, sv->wire, sv->len);
	free(sv);
	s->saved = NULL;
	s->stage = NET_STAGE_MAIN;
}

static bool dnssec_type(uint16_t t)
{
	return t == DNS_TYPE_RRSIG || t == DNS_TYPE_NSEC || t == DNS_TYPE_NSEC3;
}

/* Copy the records of @sec from @msg into @wr (DNSSEC records only for DO clients). */
static int copy_section(struct dns_writer *wr, const struct dns_query *q, const uint8_t *msg,
			size_t len, enum dns_section sec)
{
	struct dns_iter it;
	struct dns_rr rr;
	int ret = dns_iter_init(&it, msg, len);
	if (ret != C2W_OK)
		return ret;
	while ((ret = dns_iter_next(&it, &rr)) == C2W_OK) {
		if (rr.section != sec || rr.type == DNS_TYPE_OPT)
			continue;
		if (dnssec_type(rr.type) && !q->edns_do && rr.type != q->qtype)
			continue;
		ret = dns_writer_copy_rr(wr, sec, rr.owner, rr.type, rr.rclass, rr.ttl, msg, len,
					 rr.rdata_off, rr.rdlen);
		if (ret != C2W_OK)
			return ret;
	}
	return ret == C2W_ENOENT ? C2W_OK : ret;
}

/*
 * The rewrite (CNAME to the target, policy SOA in additional) plus the target's answer, as
 * BIND gives it: the CNAME, then the target's records (its own CNAME chain included), RCODE
 * NXDOMAIN when the target does not exist. The target is not checked against policy.
 */
static int chase_build(const struct net_slot *s, int rcode, const uint8_t *pkt, size_t len,
		       struct dns_answer *ans)
{
	const struct dns_answer *sv = s->saved;
	struct dns_writer wr;
	if (pkt == NULL || len < DNS_HEADER_LEN || rcode != DNS_RCODE_NOERROR)
		return C2W_EUPSTREAM;
	/* libunbound reports errors in @rcode; an answer's own RCODE (NXDOMAIN) is in it. */
	rcode = pkt[3] & 0x0f;
	if (rcode != DNS_RCODE_NOERROR && rcode != DNS_RCODE_NXDOMAIN)
		return C2W_EUPSTREAM;
	int ret = dns_writer_init(&wr, ans, &s->q, (uint16_t)rcode, false);
	if (ret == C2W_OK)
		ret = copy_section(&wr, &s->q, sv->wire, sv->len, DNS_SECTION_ANSWER);
	if (ret == C2W_OK)
		ret = copy_section(&wr, &s->q, pkt, len, DNS_SECTION_ANSWER);
	if (ret == C2W_OK)
		ret = copy_section(&wr, &s->q, sv->wire, sv->len, DNS_SECTION_ADDITIONAL);
	if (ret == C2W_OK)
		ret = dns_writer_finish(&wr);
	if (ret != C2W_OK)
		return ret;
	ans->secure = false;
	ans->ede_code = sv->ede_code;
	memcpy(ans->ede_text, sv->ede_text, sizeof(ans->ede_text));
	return C2W_OK;
}

static void on_chase(void *arg, int rcode, const uint8_t *pkt, size_t len, enum resolve_sec sec,
		     const char *why)
{
	struct net_slot *s = arg;
	struct net_worker *w = s->w;
	(void)sec;
	(void)why;
	if (!s->timed_out) {
		struct dns_answer *ans = &w->pans;
		ans->wire = w->pans_buf;
		ans->cap = sizeof(w->pans_buf);
		/* The target could not be resolved: the CNAME alone, the client may follow it. */
		const struct dns_answer *body = s->saved;
		if (chase_build(s, rcode, pkt, len, ans) == C2W_OK)
			body = ans;
		uint8_t *out = w->out_buf + 2;
		int olen =
		    net_worker_render(w, &s->q, body, 0, s->rt.tcp, out, sizeof(w->out_buf) - 2);
		if (olen > 0)
			net_worker_route_send(w, &s->rt, out, (size_t)olen);
	}
	net_worker_slot_put(w, s);
}

/* The target of the last CNAME in the answer section of @ans, canonical. */
static bool cname_target_of(const struct dns_answer *ans, uint8_t *target)
{
	struct dns_iter it;
	struct dns_rr rr;
	size_t tl = 0;
	bool found = false;
	if (dns_iter_init(&it, ans->wire, ans->len) != C2W_OK)
		return false;
	while (dns_iter_next(&it, &rr) == C2W_OK && rr.section == DNS_SECTION_ANSWER) {
		if (rr.type == DNS_TYPE_CNAME &&
		    dns_iter_rdata_name(&it, &rr, 0, target, &tl) == C2W_OK)
			found = true;
	}
	if (found)
		dns_name_lower(target);
	return found;
}

/*
 * A CNAME rewrite is followed, as BIND does: resolve the target from the same slot (a new one
 * when the hit came at query time) and answer with the CNAME plus the target's records.
 * Returns true when the slot now waits for the target; false: send the CNAME alone.
 */
static bool chase_start(struct net_worker *w, const struct dns_query *q, const struct net_route *rt,
			const struct policy_hit *hit, const struct dns_answer *ans,
			struct net_slot *slot)
{
	uint8_t target[DNS_NAME_WIRE_MAX];
	/* BIND answers CNAME and ANY queries with a rule's own CNAME record, but restarts at
	 * the target of "CNAME *.suffix" and of a zone's `policy cname` for every type. */
	if (((q->qtype == DNS_TYPE_CNAME || q->qtype == DNS_TYPE_ANY) && !hit->restart) ||
	    ans->rcode != DNS_RCODE_NOERROR || !cname_target_of(ans, target))
		return false;
	struct net_slot *s = slot != NULL ? slot : net_worker_slot_new(w, q, rt, hit, false, NULL);
	if (s == NULL)
		return false;
	if (!net_wpolicy_slot_save(s, ans))
		goto out_fail;
	s->stage = NET_STAGE_CHASE;
	if (net_worker_slot_resolve(w, s, target, q->qtype, q->qclass, on_chase) == C2W_OK)
		return true;
	free(s->saved);
	s->saved = NULL;
	s->stage = NET_STAGE_MAIN;
out_fail:
	if (slot == NULL)
		net_worker_slot_put(w, s);
	return false;
}

void net_wpolicy_record_shadow(struct net_worker *w, struct net_slot *s,
				const struct policy_hit *shadow)
{
	record_hit(w, &s->q, &s->rt, shadow, "shadow: answered normally");
}

void net_wpolicy_rematch(struct net_worker *w, struct net_slot *s)
{
	struct policy_hit hit;
	bool off;
	s->snap_gen = w->snap_gen;
	s->had_hit = true; /* do not cache: the body may have been checked by the old policy */
	enum policy_verdict v = net_wpolicy_query(w, &s->q, &s->rt, &hit, &off);
	if (v == POLICY_VERDICT_ACT && (hit.action == POLICY_ACTION_PASSTHRU ||
					(hit.action == POLICY_ACTION_TCP_ONLY && s->rt.tcp))) {
		off = true;
		hit.action = POLICY_ACTION_NONE;
	}
	s->policy_off = off;
	if (v != POLICY_VERDICT_NONE && !off)
		s->hit = hit;
	else
		memset(&s->hit, 0, sizeof(s->hit));
	if (!off && w->snap != NULL && w->ans.rcode != DNS_RCODE_SERVFAIL)
		net_wpolicy_response(w, s);
}

/* ---- acting on a hit ------------------------------------------------------------------ */

/*
 * Does @msg say that the name at chain position @pos (0: the question name, n: the n-th
 * CNAME target) does not exist? Only the last name of an NXDOMAIN chain does not.
 */
static bool name_absent(const uint8_t *msg, size_t len, unsigned pos)
{
	struct dns_iter it;
	struct dns_rr rr;
	unsigned cnames = 0;
	if (msg == NULL || len < DNS_HEADER_LEN || (msg[3] & 0x0f) != DNS_RCODE_NXDOMAIN ||
	    dns_iter_init(&it, msg, len) != C2W_OK)
		return false;
	while (dns_iter_next(&it, &rr) == C2W_OK && rr.section == DNS_SECTION_ANSWER)
		cnames += rr.type == DNS_TYPE_CNAME;
	return cnames == pos;
}

/*
 * The RCODE of a TC=1 answer for TCP-ONLY over UDP. BIND keeps NXDOMAIN when its lookup of
 * the name found that it does not exist: from the answer in hand (a hit at response time),
 * else from what is cached for the question (qname-wait-recurse no: nothing is resolved).
 */
static uint8_t tcp_only_rcode(struct net_worker *w, const struct dns_query *q,
			      const struct policy_hit *hit, const uint8_t *up, size_t up_len)
{
	struct dns_answer cached;
	uint32_t age;
	if (up != NULL)
		return name_absent(up, up_len, hit->chain_pos) ? DNS_RCODE_NXDOMAIN
							       : DNS_RCODE_NOERROR;
	if (dns_pcache_lookup(w->cache, q, w->now_s, &cached, &age) &&
	    name_absent(cached.wire, cached.len, 0))
		return DNS_RCODE_NXDOMAIN;
	return DNS_RCODE_NOERROR;
}

/**
 * Act on a policy hit. Sets *handled when the client's answer is decided here (written to
 * @out, or deliberately nothing for DROP); otherwise the query goes on as if unmatched
 * (PASSTHRU, TCP-ONLY over TCP, or a rewrite that could not be built).
 *
 * @param up    the answer the hit was found in (chain_pos > 0), or NULL
 * @param slot  the query's slot when it has one (response time), or NULL
 * @return the length written to @out; -1 (with *handled) when a CNAME rewrite is being
 *         followed: @slot, or a new slot, answers later
 */
int net_wpolicy_act(struct net_worker *w, const struct dns_query *q, const struct net_route *rt,
		    const struct policy_hit *hit, const uint8_t *up, size_t up_len, uint8_t *out,
		    size_t out_cap, bool *handled, struct net_slot *slot)
{
	char summary[EVENTS_ANSWER_CAP];
	int len = 0;
	*handled = false;
	switch (hit->action) {
	case POLICY_ACTION_NONE:
		return 0;
	case POLICY_ACTION_PASSTHRU:
		record_hit(w, q, rt, hit, "passthru: answered as resolved");
		return 0;
	case POLICY_ACTION_DROP:
		CTR_ADD(w->ctr.dropped, 1);
		record_hit(w, q, rt, hit, "dropped");
		*handled = true;
		return 0;
	case POLICY_ACTION_TCP_ONLY:
		if (rt->tcp)
			return 0; /* over TCP the query is answered normally */
		len = net_worker_answer_rcode(w, q, tcp_only_rcode(w, q, hit, up, up_len),
					      DNS_EDE_NONE, NULL, false, out, out_cap);
		if (len > 0) {
			out[2] |= 0x02; /* TC: retry over TCP */
			CTR_ADD(w->ctr.truncated, 1);
		}
		record_hit(w, q, rt, hit, "TC=1: retry over TCP");
		*handled = true;
		return len;
	default:
		break;
	}
	struct dns_answer *ans = &w->pans;
	ans->wire = w->pans_buf;
	ans->cap = sizeof(w->pans_buf);
	if (policy_answer_build(w->snap, q, hit, up, up_len, ans) != C2W_OK)
		return 0;
	if ((hit->action == POLICY_ACTION_CNAME || hit->action == POLICY_ACTION_CNAME_WILD) &&
	    chase_start(w, q, rt, hit, ans, slot)) {
		record_hit(w, q, rt, hit, "CNAME, target followed");
		*handled = true;
		return -1;
	}
	len = net_worker_render(w, q, ans, 0, rt->tcp, out, out_cap);
	answer_summary(out, len, summary, sizeof(summary));
	record_hit(w, q, rt, hit, summary);
	*handled = true;
	return len;
}

/* Query-time policy: opt-out, CLIENT-IP and QNAME triggers. */
enum policy_verdict net_wpolicy_query(struct net_worker *w, const struct dns_query *q,
				      const struct net_route *rt, struct policy_hit *hit,
				      bool *policy_off)
{
	const struct sockaddr *peer = rt->peer;
	*policy_off = true;
	hit->action = POLICY_ACTION_NONE;
	if (w->snap == NULL)
		return POLICY_VERDICT_NONE;
	/* Subscribers who declined the service: real answers, no record at all. */
	if (w->optout != NULL && events_optout_contains(w->optout, peer))
		return POLICY_VERDICT_NONE;
	*policy_off = false;
	struct policy_hit shadow;
	enum policy_verdict v = policy_match_query(w->snap, q, peer, hit, &shadow);
	if (shadow.action != POLICY_ACTION_NONE)
		record_hit(w, q, rt, &shadow, "shadow: answered normally");
	if (v == POLICY_VERDICT_NONE)
		hit->action = POLICY_ACTION_NONE;
	return v;
}

bool net_wpolicy_name_clean(struct net_worker *w, const struct dns_query *q)
{
	if (w->snap == NULL)
		return false;
	struct policy_hit hit, shadow;
	return policy_match_query(w->snap, q, NULL, &hit, &shadow) == POLICY_VERDICT_NONE &&
	       shadow.action == POLICY_ACTION_NONE;
}

bool net_wpolicy_client_clear(struct net_worker *w, const struct net_route *rt)
{
	if (!w->snap_client_rules)
		return true;
	if (w->optout != NULL && events_optout_contains(w->optout, rt->peer))
		return true; /* no policy for this client: the real answer */
	struct policy_hit hit, shadow;
	return policy_match_client(w->snap, rt->peer, &hit, &shadow) == POLICY_VERDICT_NONE &&
	       shadow.action == POLICY_ACTION_NONE;
}

bool net_wpolicy_cached_ok(struct net_worker *w, const struct dns_query *q,
			   const struct net_route *rt, const struct dns_answer *cached)
{
	if (policy_snap_has_ns_rules(w->snap))
		return false;
	struct policy_hit hit;
	memset(&hit, 0, sizeof(hit));
	(void)policy_match_response(w->snap, q, rt->peer, cached->wire, cached->len, &hit, NULL);
	return hit.action == POLICY_ACTION_NONE;
}

void net_wpolicy_response(struct net_worker *w, struct net_slot *s)
{
	/* Response triggers: CNAME chain names, answer IPs, NS names and addresses. */
	struct policy_hit shadow;
	memset(&shadow, 0, offsetof(struct policy_hit, match));
	(void)policy_match_response(w->snap, &s->q, s->rt.peer, w->ans.wire, w->ans.len, &s->hit,
				    &shadow);
	if (shadow.action != POLICY_ACTION_NONE)
		record_hit(w, &s->q, &s->rt, &shadow, "shadow: answered normally");
}
