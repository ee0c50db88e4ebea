/* SPDX-License-Identifier: MIT */
/*
 * libunbound contexts in event mode. Each worker owns its contexts: libunbound runs its
 * outgoing queries, timers and cache on the worker's event_base, so one loop serves clients
 * and upstreams without threads or locks between them.
 */
#include "resolve/resolve.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unbound-event.h>
#include <unbound.h>

#include "dns/name.h"

/* Per-query trampoline: counts pending queries and adapts libunbound's callback. Kept on a
 * list so that freeing a context with queries in flight frees them too. */
struct resolve_query {
	struct resolve_ctx *ctx;
	resolve_done_cb cb;
	void *arg;
	int async_id;                 /* libunbound's id, for ub_cancel() */
	struct resolve_query **watch; /* cleared when the query stops being pending; may be NULL */
	struct resolve_query *prev, *next;
};

/* Trampolines kept for reuse, at most this many: after warm-up a query allocates none. */
#define SPARE_MAX 4096

struct resolve_ctx {
	struct ub_ctx *ub;
	unsigned pending;
	struct resolve_query *head;
	struct resolve_query *spare; /* free trampolines, linked by next */
	unsigned spare_count;
	bool broken; /* libunbound failed to set itself up: never ub_ctx_delete() it */
};

static void pending_unlink(struct resolve_query *pq)
{
	struct resolve_ctx *ctx = pq->ctx;
	if (pq->watch != NULL)
		*pq->watch = NULL;
	if (pq->prev != NULL)
		pq->prev->next = pq->next;
	else
		ctx->head = pq->next;
	if (pq->next != NULL)
		pq->next->prev = pq->prev;
	ctx->pending--;
}

static struct resolve_query *query_get(struct resolve_ctx *ctx)
{
	struct resolve_query *pq = ctx->spare;
	if (pq == NULL)
		return malloc(sizeof(*pq));
	ctx->spare = pq->next;
	ctx->spare_count--;
	return pq;
}

static void query_put(struct resolve_ctx *ctx, struct resolve_query *pq)
{
	if (ctx->spare_count >= SPARE_MAX) {
		free(pq);
		return;
	}
	pq->next = ctx->spare;
	ctx->spare = pq;
	ctx->spare_count++;
}

static int set_opt(struct ub_ctx *ub, const char *opt, const char *val, char *err, size_t err_len)
{
	int ret = ub_ctx_set_option(ub, opt, val);
	if (ret != 0) {
		snprintf(err, err_len, "resolver: libunbound option %s %s: %s", opt, val,
			 ub_strerror(ret));
		return C2W_ECONFIG;
	}
	return C2W_OK;
}

/* libunbound writes addresses as "addr@port". */
static void addr_to_ub(const struct conf_addr *a, char *out, size_t len)
{
	snprintf(out, len, "%s", a->text);
}

static int apply_upstreams(struct ub_ctx *ub, const struct conf_resolver *rc, char *err,
			   size_t err_len)
{
	char buf[300];
	int ret;
	if (rc->mode == CONF_RESOLVER_FORWARD) {
		for (size_t i = 0; i < rc->forward_count; i++) {
			addr_to_ub(&rc->forward[i], buf, sizeof(buf));
			ret = ub_ctx_set_fwd(ub, buf);
			if (ret != 0) {
				snprintf(err, err_len, "resolver: forwarder %s: %s", buf,
					 ub_strerror(ret));
				return C2W_ECONFIG;
			}
		}
	} else if (rc->root_hints != NULL) {
		ret = set_opt(ub, "root-hints:", rc->root_hints, err, err_len);
		if (ret != C2W_OK)
			return ret;
	}
	/* libunbound answers special-use names (RFC 6761 test., invalid., RFC 6303 private
	 * reverse zones) from built-in empty zones; a zone the operator configures explicitly
	 * must resolve through its upstreams instead. ("nodefault" has no effect through
	 * ub_ctx_set_option in libunbound 1.17; "transparent" does the job.) */
	for (size_t i = 0; i < rc->transparent_zone_count; i++) {
		snprintf(buf, sizeof(buf), "%s transparent", rc->transparent_zones[i]);
		ret = set_opt(ub, "local-zone:", buf, err, err_len);
		if (ret != C2W_OK)
			return ret;
	}
	for (size_t i = 0; i < rc->stub_count; i++) {
		char lz[300];
		snprintf(lz, sizeof(lz), "%s transparent", rc->stub[i].zone);
		ret = set_opt(ub, "local-zone:", lz, err, err_len);
		if (ret != C2W_OK)
			return ret;
		for (size_t j = 0; j < rc->stub[i].addr_count; j++) {
			addr_to_ub(&rc->stub[i].addrs[j], buf, sizeof(buf));
			ret = ub_ctx_set_stub(ub, rc->stub[i].zone, buf, 0);
			if (ret != 0) {
				snprintf(err, err_len, "resolver: stub %s %s: %s", rc->stub[i].zone,
					 buf, ub_strerror(ret));
				return C2W_ECONFIG;
			}
		}
	}
	return C2W_OK;
}

/* ---- loopback upstreams ------------------------------------------------------------------
 * libunbound's do-not-query list applies to every server address, stub and forward ones too,
 * and has no exceptions. So instead of do-not-query-localhost we list 127.0.0.0/8 minus the
 * loopback addresses the operator configured (as the fewest prefixes), plus ::1 unless
 * configured, v4-mapped loopback and 0.0.0.0/8: a delegation from outside can then never
 * send queries to this box, while configured stubs and forwarders on loopback still work. */

#define LOOP_MAX 64 /* configured IPv4 loopback upstreams considered */

struct loop_set {
	uint32_t v4[LOOP_MAX];
	size_t v4_count;
	bool v6; /* ::1 configured */
};

static void loop_add(struct loop_set *ls, const struct conf_addr *a)
{
	if (a->ss.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&a->ss;
		uint32_t ip = ntohl(sin->sin_addr.s_addr);
		if ((ip >> 24) == 127 && ls->v4_count < LOOP_MAX)
			ls->v4[ls->v4_count++] = ip;
	} else if (a->ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&a->ss;
		if (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
			ls->v6 = true;
	}
}

static bool loop_in(const struct loop_set *ls, uint32_t net, unsigned bits)
{
	uint32_t mask = bits == 0 ? 0 : ~(uint32_t)0 << (32 - bits);
	for (size_t i = 0; i < ls->v4_count; i++)
		if ((ls->v4[i] & mask) == net)
			return true;
	return false;
}

/* Deny @net/@bits except the configured addresses in it, recursively halving. */
static int deny_v4(struct ub_ctx *ub, const struct loop_set *ls, uint32_t net, unsigned bits,
		   char *err, size_t err_len)
{
	if (!loop_in(ls, net, bits)) {
		char buf[32];
		snprintf(buf, sizeof(buf), "%u.%u.%u.%u/%u", net >> 24, (net >> 16) & 255,
			 (net >> 8) & 255, net & 255, bits);
		return set_opt(ub, "do-not-query-address:", buf, err, err_len);
	}
	if (bits == 32)
		return C2W_OK; /* configured by the operator */
	int ret = deny_v4(ub, ls, net, bits + 1, err, err_len);
	if (ret == C2W_OK)
		ret = deny_v4(ub, ls, net | (uint32_t)1 << (31 - bits), bits + 1, err, err_len);
	return ret;
}

static int apply_loopback(struct ub_ctx *ub, const struct conf_resolver *rc, char *err,
			  size_t err_len)
{
	int ret = set_opt(ub, "do-not-query-localhost:", "no", err, err_len);
	if (ret != C2W_OK || rc->loopback_delegations)
		return ret; /* lab worlds recurse from root hints on loopback */
	struct loop_set ls = {.v4_count = 0};
	if (rc->mode == CONF_RESOLVER_FORWARD)
		for (size_t i = 0; i < rc->forward_count; i++)
			loop_add(&ls, &rc->forward[i]);
	for (size_t i = 0; i < rc->stub_count; i++)
		for (size_t j = 0; j < rc->stub[i].addr_count; j++)
			loop_add(&ls, &rc->stub[i].addrs[j]);
	ret = deny_v4(ub, &ls, 127u << 24, 8, err, err_len);
	if (ret == C2W_OK)
		ret = set_opt(ub, "do-not-query-address:", "0.0.0.0/8", err, err_len);
	if (ret == C2W_OK)
		ret = set_opt(ub, "do-not-query-address:", "::ffff:127.0.0.0/104", err, err_len);
	if (ret == C2W_OK && !ls.v6)
		ret = set_opt(ub, "do-not-query-address:", "::1", err, err_len);
	return ret;
}

static int apply_options(struct ub_ctx *ub, const struct conf_resolver *rc, bool validate,
			 char *err, size_t err_len)
{
	char size[32];
	unsigned mb = rc->cache_mb ? rc->cache_mb : CONF_RESOLVER_CACHE_MB_DEFAULT;
	int ret = 0;
	char rate[32];
	ret |= apply_loopback(ub, rc, err, err_len);
	/* RFC 8198: NXDOMAIN for names a validated NSEC/NSEC3 range already covers, from cache;
	 * the cheapest defence against random subdomains of signed zones. */
	ret |= set_opt(ub, "aggressive-nsec:", rc->aggressive_nsec ? "yes" : "no", err, err_len);
	if (rc->ratelimit != 0) {
		snprintf(rate, sizeof(rate), "%u", rc->ratelimit);
		ret |= set_opt(ub, "ratelimit:", rate, err, err_len);
	}
	/* Our clients send their own EDNS; upstream we keep the flag-day size. */
	ret |= set_opt(ub, "edns-buffer-size:", "1232", err, err_len);
	ret |= set_opt(ub, "qname-minimisation:", "yes", err, err_len);
	ret |= set_opt(ub, "harden-glue:", "yes", err, err_len);
	/* See RESOLVE_PORTS: libunbound's library default of 16 ports is what collapses. */
	snprintf(size, sizeof(size), "%u", validate ? RESOLVE_PORTS : RESOLVE_PORTS_CD);
	ret |= set_opt(ub, "outgoing-range:", size, err, err_len);
	snprintf(size, sizeof(size), "%u", validate ? RESOLVE_TCP : RESOLVE_TCP_CD);
	ret |= set_opt(ub, "outgoing-num-tcp:", size, err, err_len);
	/* resolver.cache-size is the two caches together, split as Unbound advises (RRsets
	 * twice the messages); the CD=1 context gets an eighth of that on top (2 MiB at least). */
	unsigned total_mb = validate ? mb : (mb / 8 < 2 ? 2 : mb / 8);
	unsigned msg_mb = total_mb / 3, rrset_mb = total_mb - total_mb / 3;
	snprintf(size, sizeof(size), "%um", rrset_mb ? rrset_mb : 1);
	ret |= set_opt(ub, "rrset-cache-size:", size, err, err_len);
	snprintf(size, sizeof(size), "%um", msg_mb ? msg_mb : 1);
	ret |= set_opt(ub, "msg-cache-size:", size, err, err_len);
	/* Answer sections only (plus the SOA of negative answers), as Unbound's daemon does by
	 * default; the library's default encodes the zone's NS set and glue into every answer,
	 * which we then parse and copy for nothing. NSDNAME/NSIP rules turn it off again
	 * (resolve_ctx_want_ns()). */
	ret |= set_opt(ub, "minimal-responses:", "yes", err, err_len);
	if (rc->serve_stale) {
		ret |= set_opt(ub, "serve-expired:", "yes", err, err_len);
		ret |= set_opt(ub, "serve-expired-client-timeout:", "1800", err, err_len);
	}
	if (ret != 0)
		return C2W_ECONFIG;
	if (!validate || rc->trust_anchor == NULL)
		return set_opt(ub, "module-config:", "iterator", err, err_len);
	ret = ub_ctx_add_ta_file(ub, rc->trust_anchor);
	if (ret != 0) {
		snprintf(err, err_len, "resolver: trust-anchor %s: %s", rc->trust_anchor,
			 ub_strerror(ret));
		return C2W_ECONFIG;
	}
	return C2W_OK;
}

int resolve_ctx_new(struct event_base *base, const struct conf_resolver *rc, bool validate,
		    struct resolve_ctx **out, char *err, size_t err_len)
{
	struct resolve_ctx *ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL)
		return C2W_ENOMEM;
	ctx->ub = ub_ctx_create_event(base);
	if (ctx->ub == NULL) {
		free(ctx);
		snprintf(err, err_len, "resolver: cannot create libunbound context");
		return C2W_ENOMEM;
	}
	int ret = apply_options(ctx->ub, rc, validate, err, err_len);
	if (ret == C2W_OK)
		ret = apply_upstreams(ctx->ub, rc, err, err_len);
	if (ret != C2W_OK) {
		ub_ctx_delete(ctx->ub);
		free(ctx);
		return ret;
	}
	*out = ctx;
	return C2W_OK;
}

static size_t option_bytes(struct ub_ctx *ub, const char *name)
{
	char *val = NULL;
	size_t bytes = 0;

	if (ub_ctx_get_option(ub, name, &val) == 0 && val != NULL) {
		char *end = NULL;
		unsigned long long v = strtoull(val, &end, 10);
		if (end != val && *end == 0)
			bytes = (size_t)v;
	}
	free(val);
	return bytes;
}

size_t resolve_ctx_cache_bytes(const struct resolve_ctx *ctx)
{
	if (ctx == NULL)
		return 0;
	return option_bytes(ctx->ub, "msg-cache-size") + option_bytes(ctx->ub, "rrset-cache-size");
}

static void on_done(void *mydata, int rcode, void *packet, int packet_len, int sec, char *why_bogus,
		    int was_ratelimited)
{
	struct resolve_query *pq = mydata;
	(void)was_ratelimited;
	pending_unlink(pq);
	enum resolve_sec s = sec == 2   ? RESOLVE_SEC_SECURE
			     : sec == 1 ? RESOLVE_SEC_BOGUS
					: RESOLVE_SEC_INSECURE;
	/* libunbound: "do not inspect if rcode != 0" for errors; a SERVFAIL for bogus data
	 * still reports sec = bogus, which is what the caller needs for the EDE. */
	const uint8_t *pkt = packet_len > 0 ? packet : NULL;
	struct resolve_ctx *ctx = pq->ctx;
	resolve_done_cb cb = pq->cb;
	void *arg = pq->arg;
	query_put(ctx, pq);
	cb(arg, rcode, pkt, packet_len > 0 ? (size_t)packet_len : 0, s, why_bogus);
}

int resolve_ctx_query(struct resolve_ctx *ctx, const uint8_t *qname, uint16_t qtype,
		      uint16_t qclass, resolve_done_cb cb, void *arg, struct resolve_query **handle)
{
	char name[DNS_NAME_TEXT_MAX];
	if (handle != NULL)
		*handle = NULL;
	if (dns_name_to_text(qname, name, sizeof(name)) < 0)
		return C2W_EMALF;
	struct resolve_query *pq = query_get(ctx);
	if (pq == NULL)
		return C2W_ENOMEM;
	pq->ctx = ctx;
	pq->cb = cb;
	pq->arg = arg;
	pq->async_id = 0;
	pq->prev = NULL;
	pq->next = ctx->head;
	if (ctx->head != NULL)
		ctx->head->prev = pq;
	ctx->head = pq;
	ctx->pending++;
	/* The answer may come during ub_resolve_event() (local data, libunbound's cache): @live
	 * tells afterwards whether @pq still exists. */
	struct resolve_query *live = pq;
	pq->watch = &live;
	int async_id = 0;
	int ret = ub_resolve_event(ctx->ub, name, qtype, qclass, pq, on_done, &async_id);
	if (ret != 0) {
		/* The callback has not run: libunbound returns errors before attaching. */
		pending_unlink(pq);
		query_put(ctx, pq);
		return C2W_EUPSTREAM;
	}
	if (live != NULL) {
		pq->async_id = async_id;
		pq->watch = handle;
		if (handle != NULL)
			*handle = pq;
	}
	return C2W_OK;
}

void resolve_query_cancel(struct resolve_query *rq)
{
	if (rq == NULL)
		return;
	/* Event mode: only suppresses the callback (see the header); never fails for a query
	 * that has not called back, which a live handle guarantees. */
	(void)ub_cancel(rq->ctx->ub, rq->async_id);
	pending_unlink(rq);
	query_put(rq->ctx, rq);
}

int resolve_ctx_want_ns(struct resolve_ctx *ctx)
{
	if (ctx == NULL)
		return C2W_OK;
	char err[128];
	return set_opt(ctx->ub, "minimal-responses:", "no", err, sizeof(err));
}

static void on_warm(void *mydata, int rcode, void *packet, int packet_len, int sec, char *why_bogus,
		    int was_ratelimited)
{
	(void)rcode;
	(void)packet;
	(void)packet_len;
	(void)sec;
	(void)why_bogus;
	(void)was_ratelimited;
	*(bool *)mydata = true;
}

int resolve_ctx_warm(struct resolve_ctx *ctx)
{
	if (ctx == NULL)
		return C2W_OK;
	bool answered = false;
	int async_id = 0;
	int ret = ub_resolve_event(ctx->ub, "localhost.", 1 /* A */, 1 /* IN */, &answered,
				   on_warm, &async_id);
	if (ret != 0) {
		/* libunbound 1.17 (Debian 12) leaves a context whose set-up ran out of memory in a
		 * state its ub_ctx_delete() crashes on (test_server_reload, which fails every
		 * allocation point in turn): give up on it and leak it rather than delete it. */
		ctx->broken = true;
		return ret == UB_NOMEM ? C2W_ENOMEM : C2W_EUPSTREAM;
	}
	if (!answered)
		(void)ub_cancel(ctx->ub, async_id); /* no callback into this stack frame later */
	return C2W_OK;
}

unsigned resolve_ctx_pending(const struct resolve_ctx *ctx)
{
	return ctx->pending;
}

void resolve_ctx_free(struct resolve_ctx *ctx)
{
	if (ctx == NULL)
		return;
	if (!ctx->broken)
		ub_ctx_delete(ctx->ub);
	while (ctx->head != NULL) {
		struct resolve_query *pq = ctx->head;
		pending_unlink(pq);
		free(pq);
	}
	while (ctx->spare != NULL) {
		struct resolve_query *pq = ctx->spare;
		ctx->spare = pq->next;
		free(pq);
	}
	free(ctx);
}
