/* SPDX-License-Identifier: MIT */
/*
 * c2wall sinkhole --config FILE: the sinkhole alone (an ISP may run it on its own box). It
 * reads the sinkhole and policy sections of the config, compiles the policy zones to answer
 * "is this Host blocked, which family", and writes evidence to the incident store and/or a
 * JSON Lines evidence log (pseudonymous). The daemon (`c2wall serve`) wires the same server
 * to its live snapshot and hit pipeline instead.
 */
#include <arpa/inet.h>
#include <event2/event.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <urcu.h>

#include "cli/cli.h"
#include "conf/config.h"
#include "core/log.h"
#include "dns/msg.h"
#include "dns/name.h"
#include "events/optout.h"
#include "events/pseudo.h"
#include "events/store.h"
#include "net/policy_conf.h"
#include "net/sinkhole_glue.h"
#include "policy/policy.h"
#include "sinkhole/evidence.h"
#include "sinkhole/sinkhole.h"

struct sh_ctx {
	struct policy_snap *snap;
	struct events_store *store;
	struct events_pseudo *pseudo;
	struct events_optout *optout; /* opted-out subscribers leave no evidence; may be NULL */
	FILE *evlog;
	uint64_t store_errors;
	uint64_t log_last;
};

static void help(FILE *out)
{
	fprintf(
	    out,
	    "NAME\n    c2wall sinkhole - run the sinkhole and its warning page on its own\n\n"
	    "SYNOPSIS\n    c2wall sinkhole --config FILE [--evidence-log FILE] "
	    "[--read-timeout MS]\n                    [--max-connections N] [--header-max BYTES] "
	    "[--tcp-bytes N]\n\n"
	    "DESCRIPTION\n"
	    "    Listens on the sinkhole.http, sinkhole.tls and sinkhole.tcp addresses of the\n"
	    "    config. HTTP: for any Host and path, the warning page (Japanese, or English when\n"
	    "    Accept-Language prefers it or the query has lang=en) naming the blocked name and\n"
	    "    its malware family from the config's policy zones. TLS: reads the ClientHello,\n"
	    "    records the SNI and closes (no handshake, no certificate). TCP: records the\n"
	    "    first bytes and closes. Every contact is evidence: it goes to the incident store\n"
	    "    (store.sqlite) joined to the client's incident, and with --evidence-log to a\n"
	    "    JSON Lines file that names the client only by its pseudonym (privacy.key-file).\n"
	    "    Templates and operator text: sinkhole.templates (see docs/sinkhole.md).\n"
	    "    Per client: sinkhole.clients-per-address connections and\n"
	    "    sinkhole.evidence-per-minute records (docs/abuse.md).\n\n"
	    "OPTIONS\n"
	    "    -c, --config FILE    c2wall YAML config (required)\n"
	    "    --evidence-log FILE  append evidence as JSON Lines; '-' = stdout\n"
	    "    --read-timeout MS    deadline for a whole request head (default 10000)\n"
	    "    --max-connections N  open connections, all listeners (default 512)\n"
	    "    --header-max BYTES   request line + headers (default 8192; 1024..65536)\n"
	    "    --tcp-bytes N        first bytes kept from TCP ports (default 256; max 4096)\n"
	    "    -h, --help           this manual\n\n"
	    "SIGNALS\n    SIGINT, SIGTERM: stop. SIGHUP: reopen the evidence log (rotation).\n\n"
	    "EXIT STATUS\n    0 stopped by a signal; 1 error; 2 usage.\n");
}

/* ---- lookup: the config's policy zones, QNAME and wildcard rules ---- */

static bool lookup(const char *host, const struct sockaddr *client, struct sinkhole_info *out,
		   void *arg)
{
	struct sh_ctx *ctx = arg;
	return net_sinkhole_lookup(ctx->snap, host, client, out);
}

/* ---- evidence: store and JSON Lines ---- */

static void evidence(const struct sinkhole_evidence *ev, void *arg)
{
	struct sh_ctx *ctx = arg;
	if (ctx->optout != NULL && events_optout_contains(ctx->optout, ev->client))
		return; /* opt-out means no record in any sink */
	char pseudonym[EVENTS_PSEUDO_CAP] = "", detail[512];
	const char *key_id = NULL;
	const uint8_t *addr = NULL;
	if (ev->client->sa_family == AF_INET)
		addr = (const uint8_t *)&((const struct sockaddr_in *)(const void *)ev->client)
			   ->sin_addr;
	else if (ev->client->sa_family == AF_INET6)
		addr = (const uint8_t *)&((const struct sockaddr_in6 *)(const void *)ev->client)
			   ->sin6_addr;
	if (ctx->pseudo != NULL && addr != NULL) {
		events_pseudo_make(ctx->pseudo, ev->client->sa_family, addr, pseudonym);
		key_id = events_pseudo_key_id(ctx->pseudo);
	}
	if (ctx->evlog != NULL) {
		char *line = malloc(SINKHOLE_EVIDENCE_JSON_MAX);
		int n = line ? sinkhole_evidence_json(ev, pseudonym[0] ? pseudonym : NULL, key_id,
						      line, SINKHOLE_EVIDENCE_JSON_MAX)
			     : C2W_ENOMEM;
		if (n > 0) {
			fwrite(line, 1, (size_t)n, ctx->evlog);
			fflush(ctx->evlog);
		}
		free(line);
	}
	if (ctx->store == NULL)
		return;
	sinkhole_evidence_detail(ev, detail, sizeof(detail));
	int ret =
	    events_store_evidence_add(ctx->store, (uint64_t)ev->time_ms * 1000000u, ev->client,
				      pseudonym, key_id ? key_id : "", ev->host, ev->method,
				      ev->path, ev->user_agent, ev->local_port, detail);
	if (ret != C2W_OK) {
		ctx->store_errors++;
		if (c2w_log_ratelimit(&ctx->log_last, 60))
			c2w_log_warn("sinkhole: evidence not stored (%s), %llu so far",
				     c2w_strerror(ret), (unsigned long long)ctx->store_errors);
	}
}

/* ---- setup ---- */

static int drop_privileges(const char *user)
{
	if (geteuid() != 0)
		return C2W_OK;
	if (user == NULL) {
		c2w_log_warn("sinkhole: running as root (server.user: none)");
		return C2W_OK;
	}
	struct passwd *pw = getpwnam(user);
	if (pw == NULL) {
		c2w_log_err("sinkhole: user '%s' does not exist; create it (useradd --system %s) "
			    "or set server.user (none = stay root)",
			    user, user);
		return C2W_ECONFIG;
	}
	if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
		int ret = -errno;
		c2w_log_err("sinkhole: cannot switch to user '%s': %s", user, c2w_strerror(ret));
		return ret;
	}
	return C2W_OK;
}

struct opts {
	const char *config, *evlog;
	unsigned read_timeout_ms, conn_max;
	size_t header_max, tcp_bytes;
};

static bool parse_num(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

/* @return -1 to go on, else the exit code */
static int parse_args(int argc, char **argv, struct opts *o)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		unsigned long v;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			help(stdout);
			return 0;
		}
		if (i + 1 >= argc)
			goto usage;
		const char *val = argv[++i];
		if (strcmp(a, "--config") == 0 || strcmp(a, "-c") == 0)
			o->config = val;
		else if (strcmp(a, "--evidence-log") == 0)
			o->evlog = val;
		else if (strcmp(a, "--read-timeout") == 0 && parse_num(val, 100, 600000, &v))
			o->read_timeout_ms = (unsigned)v;
		else if (strcmp(a, "--max-connections") == 0 && parse_num(val, 1, 1000000, &v))
			o->conn_max = (unsigned)v;
		else if (strcmp(a, "--header-max") == 0 && parse_num(val, 1024, 65536, &v))
			o->header_max = v;
		else if (strcmp(a, "--tcp-bytes") == 0 &&
			 parse_num(val, 1, SINKHOLE_TCP_BYTES_MAX, &v))
			o->tcp_bytes = v;
		else
			goto usage;
	}
	if (o->config != NULL)
		return -1;
usage:
	fprintf(stderr, "usage: c2wall sinkhole --config FILE [--evidence-log FILE] "
			"[--read-timeout MS] [--max-connections N] [--header-max BYTES] "
			"[--tcp-bytes N]\n");
	return 2;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct event_base *base = arg;
	(void)what;
	c2w_log_info("sinkhole: signal %d, stopping", (int)sig);
	event_base_loopexit(base, NULL);
}

struct hup_arg {
	struct sh_ctx *ctx;
	const char *path;
};

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct hup_arg *h = arg;
	(void)sig;
	(void)what;
	if (h->ctx->evlog == NULL || h->ctx->evlog == stdout)
		return;
	FILE *f = fopen(h->path, "a");
	if (f == NULL) {
		c2w_log_warn("sinkhole: cannot reopen %s (%s)", h->path, c2w_strerror(-errno));
		return;
	}
	fclose(h->ctx->evlog);
	h->ctx->evlog = f;
}

static int open_sinks(const struct c2w_config *cfg, const struct opts *o, struct sh_ctx *ctx)
{
	int ret =
	    events_pseudo_open(cfg->privacy.key_file, cfg->privacy.key_rotation_s, &ctx->pseudo);
	if (ret != C2W_OK) {
		c2w_log_err("sinkhole: pseudonym key %s: %s",
			    cfg->privacy.key_file ? cfg->privacy.key_file : "(ephemeral)",
			    c2w_strerror(ret));
		return ret;
	}
	if (cfg->privacy.optout_file != NULL) {
		char err[512] = "";
		ret = events_optout_open(cfg->privacy.optout_file, &ctx->optout, err, sizeof(err));
		if (ret != C2W_OK) {
			c2w_log_err("sinkhole: opt-out registry: %s", err[0] ? err : c2w_strerror(ret));
			return ret;
		}
	}
	if (cfg->store.sqlite != NULL) {
		ret = events_store_open(cfg->store.sqlite, &ctx->store);
		if (ret != C2W_OK)
			return ret;
	}
	if (o->evlog != NULL) {
		ctx->evlog = strcmp(o->evlog, "-") == 0 ? stdout : fopen(o->evlog, "a");
		if (ctx->evlog == NULL) {
			ret = -errno;
			c2w_log_err("sinkhole: %s: %s", o->evlog, c2w_strerror(ret));
			return ret;
		}
	}
	return C2W_OK;
}

static int run(const struct c2w_config *cfg, const struct opts *o, struct sh_ctx *ctx)
{
	struct sinkhole_spec spec;
	struct event_base *base = event_base_new();
	struct sinkhole_server *srv = NULL;
	struct event *sigs[3] = {NULL};
	struct hup_arg hup = {ctx, o->evlog};
	int ret = C2W_ENOMEM;
	if (net_sinkhole_spec_init(cfg, &spec) != C2W_OK)
		goto out;
	spec.read_timeout_ms = o->read_timeout_ms;
	spec.conn_max = o->conn_max;
	spec.header_max = o->header_max;
	spec.tcp_bytes = o->tcp_bytes;
	if (base == NULL)
		goto out;
	ret = sinkhole_server_new(base, &spec, lookup, evidence, ctx, &srv);
	if (ret != C2W_OK) {
		c2w_log_err("sinkhole: cannot start (%s)", c2w_strerror(ret));
		goto out;
	}
	ret = drop_privileges(cfg->server.user);
	if (ret != C2W_OK)
		goto out;
	sigs[0] = evsignal_new(base, SIGINT, on_signal, base);
	sigs[1] = evsignal_new(base, SIGTERM, on_signal, base);
	sigs[2] = evsignal_new(base, SIGHUP, on_hup, &hup);
	for (int i = 0; i < 3; i++)
		if (sigs[i] == NULL || event_add(sigs[i], NULL) != 0)
			goto out;
	signal(SIGPIPE, SIG_IGN);
	c2w_log_info("sinkhole: serving %zu http, %zu tls, %zu tcp listeners", spec.http_count,
		     spec.tls_count, spec.tcp_count);
	event_base_dispatch(base);
	struct sinkhole_stats st;
	sinkhole_server_stats(srv, &st);
	c2w_log_info("sinkhole: %llu connections, %llu pages, %llu errors, %llu timeouts, "
		     "%llu over the cap, %llu over the per-address cap, %llu hellos, %llu tcp, "
		     "%llu evidence records, %llu over the evidence rate",
		     (unsigned long long)st.accepted, (unsigned long long)st.http_pages,
		     (unsigned long long)st.http_errors, (unsigned long long)st.timeouts,
		     (unsigned long long)st.refused_cap, (unsigned long long)st.refused_addr,
		     (unsigned long long)st.tls_hellos, (unsigned long long)st.tcp_records,
		     (unsigned long long)st.evidence, (unsigned long long)st.evidence_limited);
	ret = C2W_OK;
out:
	for (int i = 0; i < 3; i++)
		if (sigs[i])
			event_free(sigs[i]);
	sinkhole_server_free(srv);
	if (base)
		event_base_free(base);
	net_sinkhole_spec_deinit(&spec);
	return ret;
}

int cli_sinkhole_main(int argc, char **argv)
{
	struct opts o = {0};
	int code = parse_args(argc, argv, &o);
	if (code >= 0)
		return code;
	struct c2w_config *cfg;
	char err[512];
	int ret = conf_load(o.config, &cfg, err, sizeof(err));
	if (ret != C2W_OK) {
		fprintf(stderr, "c2wall sinkhole: %s\n", err);
		return 1;
	}
	c2w_log_setup((enum c2w_log_level)cfg->log.level, cfg->log.syslog);
	if (cfg->sinkhole.http_count + cfg->sinkhole.tls_count + cfg->sinkhole.tcp_count == 0) {
		fprintf(stderr, "c2wall sinkhole: %s: no sinkhole.http, .tls or .tcp listener\n",
			o.config);
		conf_free(cfg);
		return 1;
	}
	struct sh_ctx ctx = {0};
	rcu_register_thread(); /* reads the opt-out registry */
	ret = net_policy_load(cfg, NULL, false, &ctx.snap);
	if (ret == C2W_OK)
		ret = open_sinks(cfg, &o, &ctx);
	if (ret == C2W_OK)
		ret = run(cfg, &o, &ctx);
	if (ctx.evlog != NULL && ctx.evlog != stdout)
		fclose(ctx.evlog);
	events_store_close(ctx.store);
	events_pseudo_free(ctx.pseudo);
	events_optout_free(ctx.optout);
	rcu_unregister_thread();
	policy_snap_free(ctx.snap);
	conf_free(cfg);
	return ret == C2W_OK ? 0 : 1;
}
