/* SPDX-License-Identifier: MIT */
/*
 * The worker's RPZ glue: opt-out, query-time and response-time matching, acting on a hit
 * (rewrite, drop, TC), and hit records handed to the event thread through the worker's ring.
 */
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
static void record_hit(struct net_worker *w, const struct dns_query *q, const struct sockaddr *peer,
		       const struct policy_hit *hit, const char *answer)
{
	if (w->ring == NULL)
		return;
	struct events_hit rec;
	memset(&rec, 0, offsetof(struct events_hit, qname));
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	rec.time_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	(void)events_hit_set_client(&rec, peer);
	rec.kind = EVENTS_KIND_HIT;
	rec.trigger = events_trigger_of(hit->trigger);
	rec.action = events_action_of(hit);
	rec.qtype = q->qtype;
	rec.worker = (uint16_t)w->id;
	if (dns_name_to_text(q->qname, rec.qname, sizeof(rec.qname)) < 0)
		rec.qname[0] = '\0';
	events_hit_copy(rec.match, sizeof(rec.match), hit->match);
	events_hit_copy(rec.zone, sizeof(rec.zone), hit->zone_name);
	events_hit_copy(rec.category, sizeof(rec.category), hit->category);
	events_hit_copy(rec.family, sizeof(rec.family), hit->family);
	events_hit_copy(rec.feed, sizeof(rec.feed), hit->feed);
	events_hit_copy(rec.answer, sizeof(rec.answer), answer);
	(void)events_ring_push(w->ring, &rec);
}

/*
 * The operator's explicit query log (events.query-log, off by default): one
 * EVENTS_KIND_QUERY record per answered query. Off, this costs one branch; opted-out
 * clients are never recorded.
 */
void net_wpolicy_query_log(struct net_worker *w, const struct dns_query *q,
			   const struct sockaddr *peer)
{
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
	rec.qtype = q->qtype;
	rec.worker = (uint16_t)w->id;
	if (dns_name_to_text(q->qname, rec.qname, sizeof(rec.qname)) < 0)
		rec.qname[0] = '\0';
	(void)events_ring_push(w->ring, &rec);
}

/**
 * Act on a policy hit. Sets *handled when the client's answer is decided here (written to
 * @out, or deliberately nothing for DROP); otherwise the query goes on as if unmatched
 * (PASSTHRU, TCP-ONLY over TCP, or a rewrite that could not be built).
 *
 * @param up   the answer the hit was found in (chain_pos > 0), or NULL
 */
int net_wpolicy_act(struct net_worker *w, const struct dns_query *q, const struct net_route *rt,
		    const struct policy_hit *hit, const uint8_t *up, size_t up_len, uint8_t *out,
		    size_t out_cap, bool *handled)
{
	char summary[EVENTS_ANSWER_CAP];
	int len = 0;
	*handled = false;
	switch (hit->action) {
	case POLICY_ACTION_NONE:
		return 0;
	case POLICY_ACTION_PASSTHRU:
		record_hit(w, q, rt->peer, hit, "passthru: answered as resolved");
		return 0;
	case POLICY_ACTION_DROP:
		w->ctr.dropped++;
		record_hit(w, q, rt->peer, hit, "dropped");
		*handled = true;
		return 0;
	case POLICY_ACTION_TCP_ONLY:
		if (rt->tcp)
			return 0; /* over TCP the query is answered normally */
		len = net_worker_answer_rcode(w, q, DNS_RCODE_NOERROR, DNS_EDE_NONE, NULL, false,
					      out, out_cap);
		if (len > 0) {
			out[2] |= 0x02; /* TC: retry over TCP */
			w->ctr.truncated++;
		}
		record_hit(w, q, rt->peer, hit, "TC=1: retry over TCP");
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
	len = net_worker_render(w, q, ans, 0, rt->tcp, out, out_cap);
	answer_summary(out, len, summary, sizeof(summary));
	record_hit(w, q, rt->peer, hit, summary);
	*handled = true;
	return len;
}

/* Query-time policy: opt-out, CLIENT-IP and QNAME triggers. */
enum policy_verdict net_wpolicy_query(struct net_worker *w, const struct dns_query *q,
				      const struct sockaddr *peer, struct policy_hit *hit,
				      bool *policy_off)
{
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
		record_hit(w, q, peer, &shadow, "shadow: answered normally");
	if (v == POLICY_VERDICT_NONE)
		hit->action = POLICY_ACTION_NONE;
	return v;
}

void net_wpolicy_response(struct net_worker *w, struct net_slot *s)
{
	/* Response triggers: CNAME chain names, answer IPs, NS names and addresses. */
	struct policy_hit shadow;
	memset(&shadow, 0, offsetof(struct policy_hit, match));
	(void)policy_match_response(w->snap, &s->q, s->rt.peer, w->ans.wire, w->ans.len, &s->hit,
				    &shadow);
	if (shadow.action != POLICY_ACTION_NONE)
		record_hit(w, &s->q, s->rt.peer, &shadow, "shadow: answered normally");
}
