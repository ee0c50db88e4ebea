/* SPDX-License-Identifier: MIT */
/*
 * The worker's defences against reflection and floods: DNS Cookies on the way in (RFC 7873,
 * RFC 9018), the per-client query rate limit before any resolution work, and response rate
 * limiting on every UDP response on the way out. Tables are per worker (net/rrl.c); rates are
 * the configured ones divided among the workers (docs/abuse.md says why).
 */
#include "dns/cookie.h"
#include "dns/reply.h"
#include "net/rrl.h"
#include "net/worker_int.h"

/* This worker's share of a server-wide rate: SO_REUSEPORT spreads a client's source ports
 * evenly over the workers, so each enforces ceil(rate / workers). */
static uint32_t share(const struct net_worker *w, uint32_t rate)
{
	unsigned n = w->peers ? w->peers : 1;
	return rate == 0 ? 0 : (rate + n - 1) / n;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The client's address bytes as a cookie covers them (v4-mapped IPv6 as IPv4); 0: none. */
static size_t peer_ip(const struct sockaddr *sa, const uint8_t **ip)
{
	if (sa->sa_family == AF_INET) {
		*ip = (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
		return 4;
	}
	if (sa->sa_family != AF_INET6)
		return 0;
	const struct in6_addr *a6 = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	*ip = a6->s6_addr;
	if (IN6_IS_ADDR_V4MAPPED(a6)) {
		*ip += 12;
		return 4;
	}
	return 16;
}

static bool exempt(const struct conf_rate_limit *rl, const struct sockaddr *peer)
{
	for (size_t i = 0; i < rl->exempt_client_count; i++)
		if (conf_prefix_contains(&rl->exempt_clients[i], peer))
			return true;
	return false;
}

void net_wlimit_cookie(struct net_worker *w, struct dns_query *q, struct net_route *rt)
{
	const struct conf_cookies *c = &w->cfg->cookies;
	const uint8_t *ip = NULL;
	size_t ip_len;

	rt->cookie = NET_COOKIE_NONE;
	if (q->cookie_len == 0)
		return;
	if (!c->enable || c->secret_count == 0 || (ip_len = peer_ip(rt->peer, &ip)) == 0) {
		q->cookie_len = 0; /* RFC 7873 5.2.1: as if there were no COOKIE option */
		return;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	uint32_t now = (uint32_t)ts.tv_sec;
	rt->cookie = NET_COOKIE_CLIENT;
	if (q->cookie_len == DNS_COOKIE_CLIENT_LEN) {
		CTR_ADD(w->ctr.cookie_new, 1); /* RFC 7873 5.2.3 */
	} else {
		int ret = C2W_ECHECKSUM;
		for (unsigned i = 0; i < c->secret_count && ret != C2W_OK; i++)
			ret = dns_cookie_server_check(c->secret[i], q->cookie, q->cookie_len, ip,
						      ip_len, now);
		if (ret == C2W_OK) {
			rt->cookie = NET_COOKIE_VALID;
			CTR_ADD(w->ctr.cookie_valid, 1);
		} else {
			/* RFC 7873 5.2.4: treated as client-only */
			CTR_ADD(w->ctr.cookie_invalid, 1);
		}
	}
	/* Always a fresh server cookie (RFC 9018 4.3 allows it; it keeps the age short). */
	dns_cookie_server_make(c->secret[0], q->cookie, ip, ip_len, now,
			       q->cookie + DNS_COOKIE_CLIENT_LEN);
	q->cookie_len = DNS_COOKIE_CLIENT_LEN + DNS_COOKIE_SERVER_LEN;
}

bool net_wlimit_query(struct net_worker *w, const struct dns_query *q, const struct net_route *rt,
		      uint8_t *out, size_t out_cap, int *len)
{
	const struct conf_rate_limit *rl = &w->cfg->rate_limit;

	*len = 0;
	if (w->qrate == NULL || rl->queries_per_second == 0 || exempt(rl, rt->peer))
		return false;
	if (rl->query_cookie_exempt && rt->cookie == NET_COOKIE_VALID) {
		CTR_ADD(w->ctr.qlimit_cookie_exempt, 1);
		return false;
	}
	uint64_t key = net_rrl_key(rt->peer, rl->query_ipv4_prefix_length,
				   rl->query_ipv6_prefix_length, 0, 0, NULL, 0);
	if (net_qrate_take(w->qrate, key, share(w, rl->queries_per_second),
			   share(w, rl->query_burst), mono_ms()))
		return false;
	CTR_ADD(w->ctr.qlimit_limited, 1);
	if (rl->log_only)
		return false;
	if (rl->query_action == CONF_QUERY_REFUSE) {
		CTR_ADD(w->ctr.qlimit_refused, 1);
		*len = net_worker_answer_rcode(w, q, DNS_RCODE_REFUSED, DNS_EDE_OTHER,
					       "query rate limit", rt->tcp, out, out_cap);
		return true;
	}
	CTR_ADD(w->ctr.qlimit_dropped, 1);
	return true;
}

static uint32_t rate_for(const struct conf_rate_limit *rl, enum dns_reply_kind kind)
{
	switch (kind) {
	case DNS_REPLY_ANSWER:
		return rl->responses_per_second;
	case DNS_REPLY_NODATA:
		return rl->nodata_per_second;
	case DNS_REPLY_NXDOMAIN:
		return rl->nxdomains_per_second;
	default:
		return rl->errors_per_second;
	}
}

size_t net_wlimit_rrl(struct net_worker *w, const struct net_route *rt, uint8_t *msg, size_t len)
{
	const struct conf_rate_limit *rl = &w->cfg->rate_limit;
	struct dns_reply_info info;

	if (w->rrl == NULL || rt->tcp) /* TCP answers cannot be reflected */
		return len;
	if (rt->cookie == NET_COOKIE_VALID) {
		CTR_ADD(w->ctr.rrl_cookie_exempt, 1); /* the source address is proven */
		return len;
	}
	if (exempt(rl, rt->peer)) {
		CTR_ADD(w->ctr.rrl_exempt, 1);
		return len;
	}
	if (dns_reply_classify(msg, len, &info) != C2W_OK)
		return len;
	uint32_t rate = share(w, rate_for(rl, info.kind));
	if (rate == 0)
		return len;
	bool named = info.kind != DNS_REPLY_ERROR;
	uint64_t key =
	    net_rrl_key(rt->peer, rl->ipv4_prefix_length, rl->ipv6_prefix_length,
			1 + (unsigned)info.kind, info.kind == DNS_REPLY_ANSWER ? info.qtype : 0,
			named ? info.name : NULL, named ? info.name_len : 0);
	enum net_rrl_verdict v =
	    net_rrl_account(w->rrl, key, rate, rl->window_s, rl->slip, mono_s());
	if (v == NET_RRL_PASS)
		return len;
	CTR_ADD(w->ctr.rrl_limited, 1);
	if (rl->log_only)
		return len;
	if (v == NET_RRL_SLIP) {
		/* A client that sent a cookie learns ours from BADCOOKIE and comes back with
		 * it, exempt; others get TC=1 and retry over TCP. */
		bool badcookie = rt->cookie == NET_COOKIE_CLIENT;
		int n = dns_reply_slip(msg, len, badcookie);
		if (n > 0) {
			CTR_ADD(w->ctr.rrl_slipped, 1);
			if (badcookie)
				CTR_ADD(w->ctr.cookie_badcookie, 1);
			return (size_t)n;
		}
	}
	CTR_ADD(w->ctr.rrl_dropped, 1);
	return 0;
}

static bool rrl_on(const struct conf_rate_limit *rl)
{
	return rl->responses_per_second || rl->nxdomains_per_second || rl->nodata_per_second ||
	       rl->errors_per_second;
}

int net_wlimit_sync(struct net_worker *w, const struct c2w_config *cfg)
{
	const struct conf_rate_limit *rl = &cfg->rate_limit;
	size_t want = rl->table_size;

	if (!rrl_on(rl) || (w->rrl != NULL && net_rrl_size(w->rrl) < want)) {
		net_rrl_free(w->rrl);
		w->rrl = NULL;
	}
	if (rrl_on(rl) && w->rrl == NULL && net_rrl_new(want, &w->rrl) != C2W_OK)
		return C2W_ENOMEM;
	if (rl->queries_per_second == 0 || (w->qrate != NULL && net_qrate_size(w->qrate) < want)) {
		net_qrate_free(w->qrate);
		w->qrate = NULL;
	}
	if (rl->queries_per_second > 0 && w->qrate == NULL &&
	    net_qrate_new(want, &w->qrate) != C2W_OK)
		return C2W_ENOMEM;
	return C2W_OK;
}

int net_wlimit_prepare(struct net_worker *w, const struct c2w_config *cfg)
{
	const struct conf_rate_limit *rl = &cfg->rate_limit;
	size_t want = rl->table_size;

	if (rrl_on(rl) && (w->rrl == NULL || net_rrl_size(w->rrl) < want) &&
	    net_rrl_new(want, &w->next_rrl) != C2W_OK)
		goto out_nomem;
	if (rl->queries_per_second > 0 && (w->qrate == NULL || net_qrate_size(w->qrate) < want) &&
	    net_qrate_new(want, &w->next_qrate) != C2W_OK)
		goto out_nomem;
	return C2W_OK;
out_nomem:
	net_wlimit_abort(w);
	return C2W_ENOMEM;
}

void net_wlimit_commit(struct net_worker *w, const struct c2w_config *cfg)
{
	const struct conf_rate_limit *rl = &cfg->rate_limit;
	/* Same outcome as net_wlimit_sync(): a table that is big enough stays (with its state). */
	if (!rrl_on(rl) || w->next_rrl != NULL) {
		net_rrl_free(w->rrl);
		w->rrl = w->next_rrl;
		w->next_rrl = NULL;
	}
	if (rl->queries_per_second == 0 || w->next_qrate != NULL) {
		net_qrate_free(w->qrate);
		w->qrate = w->next_qrate;
		w->next_qrate = NULL;
	}
}

void net_wlimit_abort(struct net_worker *w)
{
	net_rrl_free(w->next_rrl);
	net_qrate_free(w->next_qrate);
	w->next_rrl = NULL;
	w->next_qrate = NULL;
}

void net_wlimit_free(struct net_worker *w)
{
	net_wlimit_abort(w);
	net_rrl_free(w->rrl);
	net_qrate_free(w->qrate);
	w->rrl = NULL;
	w->qrate = NULL;
}
