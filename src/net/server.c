/* SPDX-License-Identifier: MIT */
/*
 * Main-thread side of the daemon: listener table, workers, signals and reload. Sockets are
 * owned here (opened before privileges are dropped, kept across reloads when unchanged);
 * workers only poll them.
 */
#include "net/server.h"

#include <event2/event.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "net/listen.h"
#include "net/worker.h"
#include "resolve/resolve.h"

struct srv_sock {
	struct net_sock sock;
	unsigned worker;
};

struct net_server {
	struct c2w_config *cfg;
	struct event_base *base;
	struct net_worker **workers;
	unsigned worker_count;
	struct srv_sock *socks;
	size_t sock_count;
	struct event *ev_term, *ev_int, *ev_hup;
	int exit_code;
};

static unsigned worker_count_for(const struct c2w_config *cfg)
{
	if (cfg->server.workers > 0)
		return cfg->server.workers;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1;
}

static const struct srv_sock *find_sock(const struct srv_sock *socks, size_t count,
					const struct conf_addr *addr, enum net_proto proto,
					unsigned worker)
{
	for (size_t i = 0; i < count; i++)
		if (socks[i].worker == worker && socks[i].sock.proto == proto &&
		    strcmp(socks[i].sock.addr.text, addr->text) == 0)
			return &socks[i];
	return NULL;
}

/**
 * Build the listener table for @cfg, reusing sockets from @old where address, protocol and
 * worker match (so unchanged listeners stay open across a reload).
 */
static int socks_build(const struct c2w_config *cfg, unsigned workers, const struct srv_sock *old,
		       size_t old_count, struct srv_sock **out, size_t *out_count)
{
	size_t n = cfg->server.listen_count * 2 * workers;
	struct srv_sock *t = calloc(n ? n : 1, sizeof(*t));
	if (t == NULL)
		return C2W_ENOMEM;
	size_t k = 0;
	int ret = C2W_OK;
	for (unsigned w = 0; w < workers; w++) {
		for (size_t i = 0; i < cfg->server.listen_count; i++) {
			for (int proto = NET_UDP; proto <= NET_TCP; proto++) {
				const struct conf_addr *a = &cfg->server.listen[i];
				const struct srv_sock *o =
					find_sock(old, old_count, a, (enum net_proto)proto, w);
				t[k].worker = w;
				if (o != NULL) {
					t[k++].sock = o->sock;
					continue;
				}
				ret = net_sock_open(a, (enum net_proto)proto, &t[k].sock);
				if (ret != C2W_OK) {
					c2w_log_err("listen %s/%s: %s", a->text,
						    proto == NET_UDP ? "udp" : "tcp",
						    c2w_strerror(ret));
					goto out_undo;
				}
				k++;
			}
		}
	}
	*out = t;
	*out_count = k;
	return C2W_OK;
out_undo:
	/* Close only what this call opened. */
	for (size_t i = 0; i < k; i++)
		if (find_sock(old, old_count, &t[i].sock.addr, t[i].sock.proto, t[i].worker) ==
		    NULL)
			net_sock_close(&t[i].sock);
	free(t);
	return ret;
}

/* Sockets of one worker, as a plain array for the worker API. */
static size_t socks_for(const struct srv_sock *socks, size_t count, unsigned worker,
			struct net_sock *out)
{
	size_t k = 0;
	for (size_t i = 0; i < count; i++)
		if (socks[i].worker == worker)
			out[k++] = socks[i].sock;
	return k;
}

static int drop_privileges(const char *user)
{
	if (user == NULL || geteuid() != 0)
		return C2W_OK;
	struct passwd *pw = getpwnam(user);
	if (pw == NULL) {
		c2w_log_err("server: user '%s' does not exist", user);
		return C2W_ECONFIG;
	}
	if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
		int ret = -errno;
		c2w_log_err("server: cannot switch to user '%s': %s", user, c2w_strerror(ret));
		return ret;
	}
	c2w_log_info("server: running as user %s", user);
	return C2W_OK;
}

static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
	struct net_server *srv = arg;
	(void)what;
	c2w_log_info("server: signal %d, stopping", (int)sig);
	event_base_loopbreak(srv->base);
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)net_server_reload(arg);
}

static int start_workers(struct net_server *srv)
{
	char err[512] = "";
	struct net_sock *mine = calloc(srv->sock_count ? srv->sock_count : 1, sizeof(*mine));
	if (mine == NULL)
		return C2W_ENOMEM;
	int ret = C2W_OK;
	for (unsigned i = 0; i < srv->worker_count && ret == C2W_OK; i++) {
		ret = net_worker_new(i, srv->cfg, &srv->workers[i], err, sizeof(err));
		if (ret != C2W_OK) {
			c2w_log_err("%s", err[0] ? err : c2w_strerror(ret));
			break;
		}
		size_t n = socks_for(srv->socks, srv->sock_count, i, mine);
		ret = net_worker_start(srv->workers[i], mine, n);
	}
	free(mine);
	return ret;
}

int net_server_new(struct c2w_config *cfg, struct net_server **out)
{
	struct net_server *srv = calloc(1, sizeof(*srv));
	if (srv == NULL) {
		conf_free(cfg);
		return C2W_ENOMEM;
	}
	srv->cfg = cfg;
	srv->worker_count = worker_count_for(cfg);
	srv->workers = calloc(srv->worker_count, sizeof(*srv->workers));
	srv->base = event_base_new();
	int ret = C2W_ENOMEM;
	if (srv->workers == NULL || srv->base == NULL)
		goto out_free;
	ret = socks_build(cfg, srv->worker_count, NULL, 0, &srv->socks, &srv->sock_count);
	if (ret != C2W_OK)
		goto out_free;
	ret = drop_privileges(cfg->server.user);
	if (ret != C2W_OK)
		goto out_free;
	/* Workers must not take the process's signals: the main loop handles them. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	ret = start_workers(srv);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret != C2W_OK)
		goto out_free;
	*out = srv;
	return C2W_OK;
out_free:
	net_server_free(srv);
	return ret;
}

int net_server_run(struct net_server *srv)
{
	signal(SIGPIPE, SIG_IGN);
	srv->ev_term = evsignal_new(srv->base, SIGTERM, on_stop_signal, srv);
	srv->ev_int = evsignal_new(srv->base, SIGINT, on_stop_signal, srv);
	srv->ev_hup = evsignal_new(srv->base, SIGHUP, on_hup, srv);
	if (srv->ev_term == NULL || srv->ev_int == NULL || srv->ev_hup == NULL)
		return C2W_ENOMEM;
	evsignal_add(srv->ev_term, NULL);
	evsignal_add(srv->ev_int, NULL);
	evsignal_add(srv->ev_hup, NULL);
	c2w_log_info("server: %u worker(s), %zu listener(s), ready", srv->worker_count,
		     srv->cfg->server.listen_count);
	event_base_dispatch(srv->base);
	return srv->exit_code;
}

/* Try the new resolver settings once on the main thread before any worker switches, so a
 * bad option fails the reload as a whole instead of leaving workers split. */
static int validate_resolver(struct net_server *srv, const struct c2w_config *cfg)
{
	char err[512] = "";
	struct resolve_ctx *ctx = NULL;
	int ret = resolve_ctx_new(srv->base, &cfg->resolver, true, &ctx, err, sizeof(err));
	if (ret != C2W_OK)
		c2w_log_err("reload: %s; keeping the running configuration", err);
	resolve_ctx_free(ctx);
	return ret;
}

int net_server_reload(struct net_server *srv)
{
	char err[1024];
	struct c2w_config *cfg = NULL;
	int ret = conf_load(srv->cfg->path, &cfg, err, sizeof(err));
	if (ret != C2W_OK) {
		c2w_log_err("reload: %s; keeping the running configuration", err);
		return ret;
	}
	if (worker_count_for(cfg) != srv->worker_count)
		c2w_log_warn("reload: a new worker count takes effect at restart; keeping %u",
			     srv->worker_count);
	ret = validate_resolver(srv, cfg);
	if (ret != C2W_OK)
		goto out_free_cfg;
	struct srv_sock *socks;
	size_t count;
	ret = socks_build(cfg, srv->worker_count, srv->socks, srv->sock_count, &socks, &count);
	if (ret != C2W_OK) {
		c2w_log_err("reload: listeners failed; keeping the running configuration");
		goto out_free_cfg;
	}
	struct net_sock *mine = calloc(count ? count : 1, sizeof(*mine));
	if (mine == NULL) {
		ret = C2W_ENOMEM;
		free(socks);
		goto out_free_cfg;
	}
	for (unsigned i = 0; i < srv->worker_count; i++) {
		size_t n = socks_for(socks, count, i, mine);
		if (net_worker_reload(srv->workers[i], cfg, mine, n, err, sizeof(err)) != C2W_OK)
			c2w_log_err("reload: worker %u: %s", i, err);
	}
	free(mine);
	/* Every worker now polls the new set: close what is no longer listed. */
	for (size_t i = 0; i < srv->sock_count; i++)
		if (find_sock(socks, count, &srv->socks[i].sock.addr, srv->socks[i].sock.proto,
			      srv->socks[i].worker) == NULL)
			net_sock_close(&srv->socks[i].sock);
	free(srv->socks);
	srv->socks = socks;
	srv->sock_count = count;
	conf_free(srv->cfg);
	srv->cfg = cfg;
	c2w_log_info("reload: configuration %s loaded", cfg->path);
	return C2W_OK;
out_free_cfg:
	conf_free(cfg);
	return ret;
}

void net_server_free(struct net_server *srv)
{
	if (srv == NULL)
		return;
	for (unsigned i = 0; srv->workers != NULL && i < srv->worker_count; i++)
		net_worker_stop(srv->workers[i]);
	for (unsigned i = 0; srv->workers != NULL && i < srv->worker_count; i++)
		net_worker_free(srv->workers[i]);
	free(srv->workers);
	for (size_t i = 0; i < srv->sock_count; i++)
		net_sock_close(&srv->socks[i].sock);
	free(srv->socks);
	if (srv->ev_term != NULL)
		event_free(srv->ev_term);
	if (srv->ev_int != NULL)
		event_free(srv->ev_int);
	if (srv->ev_hup != NULL)
		event_free(srv->ev_hup);
	if (srv->base != NULL)
		event_base_free(srv->base);
	conf_free(srv->cfg);
	free(srv);
}
