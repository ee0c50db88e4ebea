/* SPDX-License-Identifier: MIT */
/* The sinkhole's lookup (policy snapshot) and evidence (incident store) for the daemon. */
#include "net/sinkhole_glue.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "dns/msg.h"
#include "dns/name.h"
#include "events/optout.h"
#include "events/pipeline.h"
#include "events/store.h"
#include "policy/policy.h"
#include "sinkhole/evidence.h"

struct net_sinkhole {
	struct sinkhole_server *srv;
	struct sinkhole_spec spec;
	struct policy_snap *const *snap;
	struct events_pipeline *events;
	struct events_optout *optout;
	uint64_t store_errors;
	uint64_t log_last;
};

bool net_sinkhole_lookup(const struct policy_snap *snap, const char *host,
			 const struct sockaddr *client, struct sinkhole_info *out)
{
	struct dns_query q;
	size_t len;
	if (snap == NULL)
		return false;
	memset(&q, 0, sizeof(q));
	if (dns_name_from_text(host, NULL, q.qname, &len) != C2W_OK)
		return false;
	dns_name_lower(q.qname);
	q.qname_len = (uint8_t)len;
	/* The page is where an A/AAAA answer pointing at the sinkhole leads. */
	q.qtype = DNS_TYPE_A;
	q.qclass = DNS_CLASS_IN;
	q.has_question = true;
	struct policy_hit hit;
	enum policy_verdict v = policy_match_query(snap, &q, client, &hit, NULL);
	if (v == POLICY_VERDICT_NONE || hit.action == POLICY_ACTION_NONE ||
	    hit.action == POLICY_ACTION_PASSTHRU)
		return false;
	snprintf(out->family, sizeof(out->family), "%s", hit.family);
	snprintf(out->category, sizeof(out->category), "%s", hit.category);
	snprintf(out->zone, sizeof(out->zone), "%s", hit.zone_name);
	snprintf(out->feed, sizeof(out->feed), "%s", hit.feed);
	return true;
}

static int copy_addrs(const struct conf_addr *in, size_t n, const struct sinkhole_addr **out)
{
	struct sinkhole_addr *a = calloc(n ? n : 1, sizeof(*a));
	if (a == NULL)
		return C2W_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		a[i].ss = in[i].ss;
		a[i].len = in[i].ss_len;
	}
	*out = a;
	return C2W_OK;
}

int net_sinkhole_spec_init(const struct c2w_config *cfg, struct sinkhole_spec *spec)
{
	memset(spec, 0, sizeof(*spec));
	spec->templates = cfg->sinkhole.templates;
	spec->http_count = cfg->sinkhole.http_count;
	spec->tls_count = cfg->sinkhole.tls_count;
	spec->tcp_count = cfg->sinkhole.tcp_count;
	spec->conn_per_addr = cfg->sinkhole.clients_per_address;
	spec->evidence_per_minute = cfg->sinkhole.evidence_per_minute;
	if (copy_addrs(cfg->sinkhole.http, spec->http_count, &spec->http) != C2W_OK ||
	    copy_addrs(cfg->sinkhole.tls, spec->tls_count, &spec->tls) != C2W_OK ||
	    copy_addrs(cfg->sinkhole.tcp, spec->tcp_count, &spec->tcp) != C2W_OK) {
		net_sinkhole_spec_deinit(spec);
		return C2W_ENOMEM;
	}
	return C2W_OK;
}

void net_sinkhole_spec_deinit(struct sinkhole_spec *spec)
{
	free((void *)(uintptr_t)spec->http);
	free((void *)(uintptr_t)spec->tls);
	free((void *)(uintptr_t)spec->tcp);
	spec->http = spec->tls = spec->tcp = NULL;
}

static bool on_lookup(const char *host, const struct sockaddr *client, struct sinkhole_info *out,
		      void *arg)
{
	struct net_sinkhole *sh = arg;
	return net_sinkhole_lookup(*sh->snap, host, client, out);
}

static void on_evidence(const struct sinkhole_evidence *ev, void *arg)
{
	struct net_sinkhole *sh = arg;
	struct events_store *store = sh->events ? events_pipeline_store(sh->events) : NULL;
	if (store == NULL)
		return;
	/* Opt-out means no record in any sink: not even the visit to the warning page. */
	if (sh->optout != NULL && events_optout_contains(sh->optout, ev->client))
		return;
	char pseudonym[33] = "", key_id[9] = "", detail[512];
	events_pipeline_pseudonym(sh->events, ev->client, pseudonym, key_id);
	sinkhole_evidence_detail(ev, detail, sizeof(detail));
	int ret = events_store_evidence_add(store, (uint64_t)ev->time_ms * 1000000u, ev->client,
					    pseudonym, key_id, ev->host, ev->method, ev->path,
					    ev->user_agent, ev->local_port, detail);
	if (ret != C2W_OK) {
		sh->store_errors++;
		if (c2w_log_ratelimit(&sh->log_last, 60))
			c2w_log_warn("sinkhole: evidence not stored (%s), %llu so far",
				     c2w_strerror(ret), (unsigned long long)sh->store_errors);
	}
}

int net_sinkhole_start(struct event_base *base, const struct c2w_config *cfg,
		       struct policy_snap *const *snap, struct events_pipeline *events,
		       struct events_optout *optout, struct net_sinkhole **out)
{
	*out = NULL;
	if (cfg->sinkhole.http_count + cfg->sinkhole.tls_count + cfg->sinkhole.tcp_count == 0)
		return C2W_OK;
	struct net_sinkhole *sh = calloc(1, sizeof(*sh));
	if (sh == NULL)
		return C2W_ENOMEM;
	sh->snap = snap;
	sh->events = events;
	sh->optout = optout;
	int ret = net_sinkhole_spec_init(cfg, &sh->spec);
	if (ret == C2W_OK)
		ret = sinkhole_server_new(base, &sh->spec, on_lookup, on_evidence, sh, &sh->srv);
	if (ret != C2W_OK) {
		c2w_log_err("sinkhole: cannot start (%s)", c2w_strerror(ret));
		net_sinkhole_free(sh);
		return ret;
	}
	c2w_log_info("sinkhole: %zu http, %zu tls, %zu tcp listener(s)", sh->spec.http_count,
		     sh->spec.tls_count, sh->spec.tcp_count);
	*out = sh;
	return C2W_OK;
}

void net_sinkhole_free(struct net_sinkhole *sh)
{
	if (sh == NULL)
		return;
	sinkhole_server_free(sh->srv);
	net_sinkhole_spec_deinit(&sh->spec);
	free(sh);
}

void net_sinkhole_stats(const struct net_sinkhole *sh, struct sinkhole_stats *out)
{
	sinkhole_server_stats(sh->srv, out);
}
