/* SPDX-License-Identifier: MIT */
/*
 * Main-thread side of the daemon: listener table, workers, signals and reload. Sockets are
 * owned here (opened before privileges are dropped, kept across reloads when unchanged);
 * workers only poll them.
 */
#include "net/server.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <urcu.h>

#include "control/control.h"
#include "control/http.h"
#include "core/addrcount.h"
#include "core/log.h"
#include "core/sandbox.h"
#include "events/optout.h"
#include "events/pipeline.h"
#include "events/ring.h"
#include "net/feeds.h"
#include "net/history.h"
#include "net/listen.h"
#include "net/metrics.h"
#include "net/policy_conf.h"
#include "net/preflight.h"
#include "net/service.h"
#include "net/sinkhole_glue.h"
#include "net/worker.h"
#include "net/xfr_serve.h"
#include "policy/policy.h"
#include "resolve/resolve.h"

struct srv_sock {
	struct net_sock sock;
	unsigned worker;
};

/* Control requests waiting for one reload's result (each `c2wall reload`, each POST of the
 * HTTP API): beyond this many, the next is refused at once. */
#define RELOAD_WAITERS_MAX 64

/* A reload under way (docs/config.md "Reloading"): the new config, read and checked on the
 * main thread; its policy, compiled on a thread of its own while the main thread goes on
 * answering control, metrics and the sinkhole. */
struct reload_job {
	struct c2w_config *cfg;
	struct policy_snap *from; /* a hold on the running policy (policy.max-change); NULL = none */
	struct policy_snap *snap; /* the compile's result */
	uint64_t rules[POLICY_ZONES_MAX];
	int ret;
	char err[1024];
	int64_t t0_us; /* monotonic: the reload asked */
};

struct reload_waiters {
	struct control_pending *p[RELOAD_WAITERS_MAX];
	size_t count;
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
	struct policy_snap *snap; /* NULL when no policy zone is configured */
	/* Increments over the full compile @snap stands on (feeds' merges, docs/policy.md
	 * "Increments"): that compile's generation (+1 with every full compile), the zones whose
	 * layers it carries (bit per config index), and the touched keys of a rebased layer. */
	uint64_t snap_gen;
	uint64_t layer_zones;
	uint64_t rebased_keys;
	struct events_optout *optout;
	struct events_pipeline *events;
	struct events_ring **rings; /* one per worker */
	struct control_server *control; /* the command registry; a socket when control.socket */
	struct control_http *http;      /* NULL unless control.http */
	uint64_t reloads, reload_failures;
	time_t start_time;
	char *store_path; /* store.sqlite at start (a restart key), for "incidents" */
	struct net_history *history; /* per-minute figures for the dashboard; with control */
	struct net_sinkhole *sinkhole; /* NULL when no sinkhole listener is configured */
	uint8_t cookie_secret[CONF_COOKIE_SECRET_LEN]; /* made at start, used without a file */
	struct c2w_addrcount *tcp_per_addr; /* TCP connections per client prefix, all workers */
	struct net_feeds *feeds;       /* zones followed by zone transfer (may follow none) */
	struct net_service *service;   /* systemd notifications and watchdog (no-ops without) */
	struct net_xfr *xfr;           /* zones served to secondaries (may serve none) */
	bool rcu_registered;           /* the main thread, between _new and _free */
	uid_t run_uid;                 /* server.user when started as root; (uid_t)-1 = no drop */
	gid_t run_gid;
	/* The reload compiling (NULL: none) on @reload_thread, which says it is done through
	 * @reload_fd; the control requests waiting for it, and for the one asked meanwhile
	 * (@reload_again: a SIGHUP or a request came during it: the file may have changed since
	 * it was read). */
	struct reload_job *job;
	pthread_t reload_thread;
	int reload_fd;
	struct event *reload_ev;
	struct reload_waiters waiting, next_waiting;
	bool reload_again;
	int64_t reload_last_us; /* how long the last reload took; -1 = none yet */
};

/* DNS Cookies without cookies.cookie-secret-file: the secret made at start, the same for
 * every reload so that clients' cookies stay valid. */
static void cookie_secret_fill(const struct net_server *srv, struct c2w_config *cfg)
{
	if (cfg->cookies.secret_count > 0)
		return;
	memcpy(cfg->cookies.secret[0], srv->cookie_secret, sizeof(srv->cookie_secret));
	cfg->cookies.secret_count = 1;
}

/* ---- events, opt-out, control ---------------------------------------------------------- */

/* Create the missing parent directories of @path (mkdir -p of its dirname); the ones this
 * call creates go to the run-time user (@uid/@gid; (uid_t)-1 = keep root's). */
static void ensure_parent_dir(const char *path, uid_t uid, gid_t gid)
{
	char buf[4096];
	if (path == NULL || snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return;
	for (char *p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0750) == 0 && uid != (uid_t)-1 &&
		    lchown(buf, uid, (gid_t)gid) != 0)
			c2w_log_warn("server: cannot hand %s to uid %u", buf, (unsigned)uid);
		*p = '/';
	}
}

static int events_setup(struct net_server *srv)
{
	const struct c2w_config *cfg = srv->cfg;
	char err[512] = "";
	ensure_parent_dir(cfg->privacy.optout_file, srv->run_uid, srv->run_gid);
	int ret = events_optout_open(cfg->privacy.optout_file, &srv->optout, err, sizeof(err));
	if (ret != C2W_OK) {
		c2w_log_err("privacy: opt-out registry: %s", err[0] ? err : c2w_strerror(ret));
		return ret;
	}
	bool sinks = cfg->events.jsonl != NULL || cfg->events.dnstap != NULL ||
		     cfg->events.syslog || cfg->store.sqlite != NULL;
	if (!sinks)
		return C2W_OK;
	ensure_parent_dir(cfg->events.jsonl, srv->run_uid, srv->run_gid);
	ensure_parent_dir(cfg->store.sqlite, srv->run_uid, srv->run_gid);
	ensure_parent_dir(cfg->privacy.key_file, srv->run_uid, srv->run_gid);
	struct events_spec spec = {
	    .jsonl = cfg->events.jsonl,
	    .jsonl_rotate_bytes = cfg->events.jsonl_rotate_bytes,
	    .jsonl_rotate_s = cfg->events.jsonl_rotate_s,
	    .dnstap = cfg->events.dnstap,
	    .syslog = cfg->events.syslog,
	    .query_log = cfg->events.query_log,
	    .key_file = cfg->privacy.key_file,
	    .key_rotation_s = cfg->privacy.key_rotation_s,
	    .retention_days = cfg->privacy.retention_days,
	    .notify_window_days = cfg->privacy.notify_window_days,
	    .sqlite = cfg->store.sqlite,
	};
	ret = events_pipeline_new(&spec, srv->optout, &srv->events);
	if (ret != C2W_OK) {
		c2w_log_err("events: cannot start the hit pipeline: %s", c2w_strerror(ret));
		return ret;
	}
	srv->rings = calloc(srv->worker_count, sizeof(*srv->rings));
	if (srv->rings == NULL)
		return C2W_ENOMEM;
	unsigned entries = cfg->events.ring_entries ? cfg->events.ring_entries : 4096;
	for (unsigned i = 0; i < srv->worker_count; i++) {
		ret = events_ring_new(entries, &srv->rings[i]);
		if (ret == C2W_OK)
			ret = events_pipeline_attach_ring(srv->events, srv->rings[i]);
		if (ret != C2W_OK)
			return ret;
	}
	/* The event thread starts after the privilege drop (net_server_new): its first key
	 * rotation already runs as the run-time user. */
	return C2W_OK;
}

static void reload_request(struct net_server *srv, struct control_pending *p);
static void on_reload_done(evutil_socket_t fd, short what, void *arg);
static void reload_stop(struct net_server *srv);

static int on_ctl_reload(void *arg, int argc, char **argv, struct control_reply *reply)
{
	char msg[1024] = "";
	(void)argc;
	(void)argv;
	struct control_pending *p = control_reply_defer(reply);
	if (p != NULL) { /* answered when the reload ends (reload_answer()) */
		reload_request(arg, p);
		return C2W_OK;
	}
	int ret = net_server_reload(arg, msg, sizeof(msg));
	if (ret != C2W_OK)
		control_reply_error(reply, "reload failed: %s; the running configuration stays",
				    msg[0] ? msg : c2w_strerror(ret));
	else
		control_reply_printf(reply, "%s", msg);
	return ret;
}

void net_server_counters(const struct net_server *srv, struct net_counters *sum)
{
	net_worker_counters_sum(srv->workers, srv->worker_count, sum);
}

static int on_ctl_stats(void *arg, int argc, char **argv, struct control_reply *reply)
{
	struct net_server *srv = arg;
	(void)argc;
	(void)argv;
	struct net_counters sum;
	net_server_counters(srv, &sum);
	control_reply_printf(reply, "{\"workers\":%u", srv->worker_count);
#define NET_COUNTER_JSON(name, help)                                                               \
	control_reply_printf(reply, ",\"" #name "\":%llu", (unsigned long long)sum.name);
	NET_COUNTERS(NET_COUNTER_JSON)
#undef NET_COUNTER_JSON
	control_reply_printf(
	    reply, ",\"policy_rules\":%llu",
	    (unsigned long long)(srv->snap ? policy_snap_rule_count(srv->snap) : 0));
	if (srv->sinkhole != NULL) {
		struct sinkhole_stats st;
		net_sinkhole_stats(srv->sinkhole, &st);
		control_reply_printf(
		    reply,
		    ",\"sinkhole\":{\"accepted\":%llu,\"open\":%u,\"refused_cap\":%llu,"
		    "\"refused_addr\":%llu,\"timeouts\":%llu,\"evidence\":%llu,"
		    "\"evidence_limited\":%llu}",
		    (unsigned long long)st.accepted, st.open, (unsigned long long)st.refused_cap,
		    (unsigned long long)st.refused_addr, (unsigned long long)st.timeouts,
		    (unsigned long long)st.evidence, (unsigned long long)st.evidence_limited);
	}
	control_reply_printf(reply, "}");
	return C2W_OK;
}

static void on_metrics(void *arg, struct evbuffer *out)
{
	struct net_server *srv = arg;
	struct net_metrics_src src = {
	    .workers = srv->workers,
	    .worker_count = srv->worker_count,
	    .cfg = srv->cfg,
	    .snap = srv->snap,
	    .sinkhole = srv->sinkhole,
	    .feeds = srv->feeds,
	    .events = srv->events,
	    .optout = srv->optout,
	    .http = srv->http,
	    .reloads = srv->reloads,
	    .reload_failures = srv->reload_failures,
	    .reload_running = srv->job != NULL,
	    .reload_last_seconds = srv->reload_last_us < 0 ? -1.0
							  : (double)srv->reload_last_us / 1e6,
	    .start_time = srv->start_time,
	};
	net_metrics_write(&src, out);
}

/* control.http: bound here, before privileges are dropped; serves the registry's commands. */
static int http_setup(struct net_server *srv)
{
	char err[1024] = "";
	if (srv->cfg->control.http_count == 0)
		return C2W_OK;
	int ret = control_http_new(srv->base, &srv->cfg->control, srv->control, &srv->http, err,
				   sizeof(err));
	if (ret != C2W_OK) {
		c2w_log_err("control: HTTP API: %s", err[0] ? err : c2w_strerror(ret));
		return ret;
	}
	control_http_set_metrics(srv->http, on_metrics, srv);
	return C2W_OK;
}

static int control_setup(struct net_server *srv)
{
	const char *path = srv->cfg->control.socket;
	if (path == NULL && srv->cfg->control.http_count == 0)
		return C2W_OK;
	if (path != NULL)
		ensure_parent_dir(path, srv->run_uid, srv->run_gid);
	int ret = control_server_new(srv->base, path, &srv->control);
	if (ret != C2W_OK) {
		c2w_log_err("control: socket %s: %s", path, c2w_strerror(ret));
		return ret;
	}
	if (ret == C2W_OK)
		ret = control_server_register(srv->control, "reload", on_ctl_reload, srv);
	if (ret == C2W_OK)
		ret = control_server_register(srv->control, "stats", on_ctl_stats, srv);
	if (ret == C2W_OK && srv->optout != NULL)
		ret = control_optout_register(srv->control, srv->optout);
	if (ret == C2W_OK && srv->events != NULL)
		ret = control_events_register(srv->control, srv->events);
	if (ret == C2W_OK)
		ret = net_feeds_control_register(srv->feeds, srv->control);
	if (ret == C2W_OK)
		ret = control_explain_register(srv->control,
					       (const struct policy_snap *const *)&srv->snap);
	if (ret == C2W_OK && srv->events != NULL && srv->cfg->store.sqlite != NULL) {
		srv->store_path = strdup(srv->cfg->store.sqlite);
		ret = srv->store_path == NULL
			  ? C2W_ENOMEM
			  : control_incidents_register(srv->control, srv->store_path);
	}
	if (ret == C2W_OK)
		ret = http_setup(srv);
	if (ret == C2W_OK)
		ret = net_xfr_control_register(srv->xfr, srv->control);
	return ret;
}

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

/* Free a table from socks_build(), closing only the sockets it opened (not those of @old). */
static void socks_drop_new(struct srv_sock *t, size_t count, const struct srv_sock *old,
			   size_t old_count)
{
	for (size_t i = 0; i < count; i++)
		if (find_sock(old, old_count, &t[i].sock.addr, t[i].sock.proto, t[i].worker) ==
		    NULL)
			net_sock_close(&t[i].sock);
	free(t);
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
	socks_drop_new(t, k, old, old_count);
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

/*
 * Started as root, the daemon runs as server.user (default "c2wall"; "none" keeps root, with
 * a warning): look the user up before anything is created, so directories and files made
 * at start can be handed over.
 */
static int resolve_user(struct net_server *srv)
{
	const char *user = srv->cfg->server.user;
	srv->run_uid = (uid_t)-1;
	srv->run_gid = (gid_t)-1;
	if (geteuid() != 0)
		return C2W_OK;
	if (user == NULL) {
		c2w_log_warn("server: running as root (server.user: none): every parser of outside "
			     "input keeps full privileges");
		return C2W_OK;
	}
	struct passwd *pw = getpwnam(user);
	if (pw == NULL) {
		c2w_log_err("server: user '%s' does not exist; create it (useradd --system "
			    "--no-create-home --shell /usr/sbin/nologin %s) or set server.user to "
			    "another user, or to none to stay root (docs/config.md)",
			    user, user);
		return C2W_ECONFIG;
	}
	if (pw->pw_uid == 0) {
		c2w_log_warn("server: server.user '%s' is root", user);
		return C2W_OK;
	}
	srv->run_uid = pw->pw_uid;
	srv->run_gid = pw->pw_gid;
	return C2W_OK;
}

/* Hand a file root created (or an earlier root run left) to the run-time user; files owned
 * by anyone else are left alone. Never through a symlink. */
static void hand_over(const struct net_server *srv, const char *path, const char *suffix)
{
	char buf[4096];
	struct stat st;
	if (path == NULL || snprintf(buf, sizeof(buf), "%s%s", path, suffix) >= (int)sizeof(buf))
		return;
	if (lstat(buf, &st) != 0 || st.st_uid != 0 || !(S_ISREG(st.st_mode) || S_ISSOCK(st.st_mode)))
		return;
	if (lchown(buf, srv->run_uid, srv->run_gid) != 0)
		c2w_log_warn("server: cannot hand %s to uid %u: %s", buf, (unsigned)srv->run_uid,
			     c2w_strerror(-errno));
}

/* After the drop: the run-time user must be able to replace files in these directories
 * (key rotation, opt-out edits, hit log rotation and reopen, store journal), or those would
 * fail later, silently. Refuse to start instead. */
static int check_writable(const char *path, const char *what)
{
	char buf[4096];
	if (path == NULL || snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return C2W_OK;
	char *slash = strrchr(buf, '/');
	if (slash == NULL)
		snprintf(buf, sizeof(buf), ".");
	else if (slash == buf)
		buf[1] = '\0';
	else
		*slash = '\0';
	if (access(buf, W_OK | X_OK) == 0)
		return C2W_OK;
	c2w_log_err("server: user uid %u cannot write directory %s (%s, needed for %s); give it "
		    "to that user (chown) or choose another path",
		    (unsigned)getuid(), buf, c2w_strerror(-errno), what);
	return C2W_EACCES;
}

static int drop_privileges(struct net_server *srv)
{
	const struct c2w_config *cfg = srv->cfg;
	if (srv->run_uid == (uid_t)-1)
		return C2W_OK;
	hand_over(srv, cfg->privacy.key_file, "");
	hand_over(srv, cfg->privacy.optout_file, "");
	hand_over(srv, cfg->events.jsonl, "");
	hand_over(srv, cfg->store.sqlite, "");
	hand_over(srv, cfg->store.sqlite, "-wal");
	hand_over(srv, cfg->store.sqlite, "-shm");
	hand_over(srv, cfg->control.socket, "");
	/* policy.state-dir is c2wall's own (last good copies of transferred zones). */
	struct stat sd;
	if (cfg->policy.state_dir != NULL && lstat(cfg->policy.state_dir, &sd) == 0 &&
	    S_ISDIR(sd.st_mode) && sd.st_uid == 0 &&
	    lchown(cfg->policy.state_dir, srv->run_uid, srv->run_gid) != 0)
		c2w_log_warn("server: cannot hand %s to uid %u", cfg->policy.state_dir,
			     (unsigned)srv->run_uid);
	for (size_t i = 0; i < cfg->policy.zone_count; i++)
		if (cfg->policy.zones[i].primary_count > 0)
			hand_over(srv, cfg->policy.zones[i].file, "");
	if (setgroups(0, NULL) != 0 || setgid(srv->run_gid) != 0 || setuid(srv->run_uid) != 0) {
		int ret = -errno;
		c2w_log_err("server: cannot switch to user '%s': %s", cfg->server.user,
			    c2w_strerror(ret));
		return ret;
	}
	c2w_log_info("server: running as user %s", cfg->server.user);
	int ret = C2W_OK;
	if (srv->events != NULL) {
		if (ret == C2W_OK && cfg->privacy.key_file != NULL)
			ret = check_writable(cfg->privacy.key_file, "pseudonym key rotation");
		if (ret == C2W_OK && cfg->events.jsonl != NULL)
			ret = check_writable(cfg->events.jsonl, "hit log rotation and reopen");
		if (ret == C2W_OK && cfg->store.sqlite != NULL)
			ret = check_writable(cfg->store.sqlite, "the incident store's journal");
	}
	if (ret == C2W_OK && cfg->privacy.optout_file != NULL)
		ret = check_writable(cfg->privacy.optout_file, "opt-out changes");
	for (size_t i = 0; ret == C2W_OK && i < cfg->policy.zone_count; i++)
		if (cfg->policy.zones[i].primary_count > 0)
			ret = check_writable(cfg->policy.zones[i].file, "zone transfer copies");
	return ret;
}

/* Everything that needed a privileged or rare call is done: lock the rest away. */
static int sandbox(const struct c2w_config *cfg)
{
	if (!cfg->server.syscall_filter) {
		c2w_log_warn("server: server.syscall-filter is off: a compromised worker could run "
			     "programs (docs/config.md)");
		return C2W_OK;
	}
	int ret = c2w_sandbox_lock();
	if (ret != C2W_OK) {
		c2w_log_err("server: cannot install the system-call filter: %s (set "
			    "server.syscall-filter: false where seccomp is unavailable)",
			    c2w_strerror(ret));
		return ret;
	}
	c2w_log_info("server: system-call filter on, %u calls denied", c2w_sandbox_denied_count());
	return C2W_OK;
}

static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
	struct net_server *srv = arg;
	(void)what;
	c2w_log_info("server: signal %d, stopping", (int)sig);
	net_service_stopping(srv->service);
	event_base_loopbreak(srv->base);
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct net_server *srv = arg;
	(void)sig;
	(void)what;
	/* logrotate's postrotate sends HUP: reopen the hit log even when the reload fails. */
	if (srv->events != NULL)
		events_pipeline_reopen(srv->events);
	reload_request(srv, NULL);
}

/*
 * Each libunbound port and TCP connection is a file descriptor while in use; the shell's
 * usual soft limit of 1024 is below what the workers' contexts may open under a miss-heavy
 * load (resolve.h). Raise the soft limit (and the hard one when we may) before privileges go.
 */
static void raise_fd_limit(const struct c2w_config *cfg, unsigned workers)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)workers * (resolve_fds_per_worker() + cfg->server.tcp_clients_max) +
		      1024;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need)
		return;
	struct rlimit want = {.rlim_cur = need, .rlim_max = rl.rlim_max};
	if (want.rlim_max != RLIM_INFINITY && want.rlim_max < need)
		want.rlim_max = need; /* granted to root only */
	if (setrlimit(RLIMIT_NOFILE, &want) == 0)
		return;
	want.rlim_max = rl.rlim_max;
	want.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need ? rl.rlim_max : need;
	(void)setrlimit(RLIMIT_NOFILE, &want);
	c2w_log_warn("server: file descriptor limit %llu is below the %llu the resolver may use; "
		     "upstream queries may fail under load (raise LimitNOFILE)",
		     (unsigned long long)want.rlim_cur, (unsigned long long)need);
}

static int prepare_workers(struct net_server *srv, const struct c2w_config *cfg,
			   const struct policy_snap *snap, char *err, size_t err_len);

/* Build the policy of @cfg, transferred zones from their last good copies. */
static int load_policy(struct net_server *srv, const struct c2w_config *cfg, bool reload,
		       struct policy_snap **out, char *err, size_t err_len)
{
	const char *files[POLICY_ZONES_MAX];
	uint64_t rules[POLICY_ZONES_MAX];
	if (cfg->policy.zone_count > POLICY_ZONES_MAX) /* reports the limit */
		return net_policy_load_err(cfg, srv->snap, reload, out, err, err_len);
	if (reload)
		net_feeds_settle(srv->feeds); /* an increment in force is on disk before we read */
	net_feeds_files(srv->feeds, cfg, files);
	int ret = net_policy_load_files(cfg, files, reload ? srv->snap : NULL, reload, rules, out,
					err, err_len);
	if (ret == C2W_OK)
		net_feeds_note_rules(srv->feeds, cfg, rules);
	return ret;
}

/* @snap is now the running policy: a full compile starts a new generation, without layers. */
static void note_snap(struct net_server *srv)
{
	unsigned layers = 0;
	uint64_t keys = 0;
	if (srv->snap != NULL)
		policy_snap_delta_size(srv->snap, &layers, &keys);
	if (layers == 0) {
		srv->snap_gen++;
		srv->layer_zones = 0;
		srv->rebased_keys = 0;
	}
}

/* Hand every worker @snap (same config, same sockets) and free the old one: prepare all, then
 * commit all, as a reload does; the mailbox round trip is the grace period. @same: @snap
 * answers as the old one (a rebase): the served zones keep their versions. */
static int swap_policy(struct net_server *srv, struct policy_snap *snap, bool same)
{
	char err[512];
	struct net_sock *mine = calloc(srv->sock_count ? srv->sock_count : 1, sizeof(*mine));
	int ret = mine == NULL ? C2W_ENOMEM : prepare_workers(srv, srv->cfg, snap, err, sizeof(err));
	if (ret != C2W_OK) {
		if (mine != NULL)
			c2w_log_err("feeds: %s", err);
		free(mine);
		policy_snap_free(snap);
		return ret;
	}
	for (unsigned i = 0; i < srv->worker_count; i++) {
		size_t n = socks_for(srv->socks, srv->sock_count, i, mine);
		net_worker_reload_commit(srv->workers[i], srv->cfg, snap, mine, n);
	}
	free(mine);
	struct policy_snap *old = srv->snap;
	srv->snap = snap;
	note_snap(srv);
	net_feeds_note_expiry(srv->feeds, policy_snap_next_expiry(snap));
	/* The old snapshot outlives the update: a served zone's next version may come from
	 * the increment between the two. */
	if (same)
		net_xfr_same(srv->xfr, srv->snap, old);
	else
		net_xfr_update(srv->xfr, srv->base, srv->cfg, srv->snap, old);
	policy_snap_free(old);
	return C2W_OK;
}

/* Increments stacked on one full compile before the feeds merge them: this many layers, or
 * this many trigger keys touched since the last merge (plus 1/16 of the rules), whichever
 * first. Lookups probe one small table per layer. A merge folds the layers into one (a
 * rebase: every owner they touched, compiled again over the full image alone, O(touched)
 * memory) while all layers are of one zone and the keys they touched stay within the same
 * bound (the feeds keep those owners' records until a full compile: bounded so); otherwise
 * the layers are flattened into one full image from the images (policy_snap_flatten(); a
 * full compile from the copies only if that fails). docs/policy.md "Increments". */
#define MERGE_LAYERS 16
#define MERGE_KEYS   65536
_Static_assert(POLICY_ZONES_MAX <= 64, "layer_zones has a bit per zone");

static enum net_feeds_merge merge_kind(const struct net_server *srv, size_t zone)
{
	unsigned layers;
	uint64_t keys;
	policy_snap_delta_size(srv->snap, &layers, &keys);
	uint64_t rules = policy_snap_rule_count(srv->snap);
	uint64_t fresh = keys > srv->rebased_keys ? keys - srv->rebased_keys : 0;
	if (layers < MERGE_LAYERS && fresh <= MERGE_KEYS + rules / 16)
		return NET_FEEDS_MERGE_NONE;
	/* keys counts an owner once per layer that touched it: at least the union's size */
	if (layers > 1 && srv->layer_zones == (uint64_t)1 << zone && keys <= MERGE_KEYS + rules / 16)
		return NET_FEEDS_MERGE_REBASE;
	return NET_FEEDS_MERGE_FULL;
}

/* Rules per zone of the running config in @snap, compiled from @files (its zones: the
 * config's that have a file there; NULL: those that have a copy now). */
static void snap_rules(struct net_server *srv, const struct policy_snap *snap, uint64_t *rules,
		       const char *const *files)
{
	const char *now[POLICY_ZONES_MAX];
	if (files == NULL) {
		net_feeds_files(srv->feeds, srv->cfg, now);
		files = now;
	}
	size_t n = 0;
	for (size_t i = 0; i < srv->cfg->policy.zone_count; i++)
		rules[i] = files[i] != NULL && snap != NULL ? policy_snap_zone_rules(snap, n++) : 0;
}

/* A change the transfer thread builds begins: it gets a hold on the running policy, and for a
 * flatten the SOA timers of each zone of it (the layers never carried them), for an increment
 * or a rebase the config and files net_policy_delta() needs. A rebase applies the owners every
 * layer touched over the full compile the layers stand on: only while that is still so. */
static int change_begin(struct net_server *srv, size_t zone, uint64_t *rules,
			struct net_feeds_delta_io *io)
{
	if (io->full) {
		/* the feeds filled @io->files; the generation tells a reload meanwhile even when
		 * there is no policy to hold */
		io->cfg = srv->cfg;
		io->gen = srv->snap_gen;
		io->from = srv->snap != NULL ? policy_snap_hold(srv->snap) : NULL;
		snap_rules(srv, srv->snap, rules, NULL); /* as they are */
		return C2W_OK;
	}
	unsigned layers;
	uint64_t keys;
	policy_snap_delta_size(srv->snap, &layers, &keys);
	const char *files[POLICY_ZONES_MAX];
	net_feeds_files(srv->feeds, srv->cfg, files);
	if (io->flatten) {
		if (layers == 0)
			return C2W_ENOENT;
		/* The snapshot's zones are the config's that have a copy, in order. */
		size_t n = 0;
		for (size_t i = 0; i < srv->cfg->policy.zone_count && n < POLICY_ZONES_MAX; i++)
			if (files[i] != NULL) {
				io->soa[n].set = net_feeds_zone_soa(
				    srv->feeds, srv->cfg->policy.zones[i].name, io->soa[n].v);
				n++;
			}
		if (n != policy_snap_zone_count(srv->snap))
			return C2W_EINVAL;
	} else {
		if (io->rebase && (io->gen != srv->snap_gen || layers == 0 ||
				   srv->layer_zones != (uint64_t)1 << zone)) {
			io->gen = srv->snap_gen;
			return C2W_ENOENT; /* folded already by a full compile, or not ours alone */
		}
		memcpy(io->files, files, srv->cfg->policy.zone_count * sizeof(*files));
		io->cfg = srv->cfg;
	}
	snap_rules(srv, srv->snap, rules, NULL); /* as they are */
	io->from = policy_snap_hold(srv->snap);
	return C2W_OK;
}

/* What the transfer thread built, in force, if the running policy is still the one it was
 * built over (a reload or an expiry rebuild meanwhile made a new one: C2W_ENOENT). A rebase or
 * a flatten answers as the layers did: the served zones keep their versions. A flatten starts
 * a new generation (note_snap()). */
static int change_swap(struct net_server *srv, size_t zone, uint64_t *rules,
		       struct net_feeds_delta_io *io)
{
	struct policy_snap *snap = io->built;
	io->built = NULL; /* ours */
	if (snap == NULL && !io->full) /* a full compile of no zone at all is no policy */
		return C2W_EINVAL;
	/* @from is held since BEGIN: no other snapshot can have its address */
	if (srv->snap != io->from || (io->full && srv->snap_gen != io->gen)) {
		policy_snap_free(snap);
		io->gen = srv->snap_gen;
		return C2W_ENOENT;
	}
	if (io->full) {
		/* the files it was built from: a candidate is not yet where the zone's copy goes */
		snap_rules(srv, snap, rules, io->files);
		int ret = swap_policy(srv, snap, false);
		io->gen = srv->snap_gen;
		return ret;
	}
	snap_rules(srv, snap, rules, NULL);
	int ret = swap_policy(srv, snap, io->rebase || io->flatten);
	if (ret != C2W_OK || io->flatten)
		return ret;
	srv->layer_zones |= (uint64_t)1 << zone;
	if (io->rebase) {
		unsigned layers;
		policy_snap_delta_size(srv->snap, &layers, &srv->rebased_keys);
	}
	io->gen = srv->snap_gen;
	io->merge = merge_kind(srv, zone);
	return C2W_OK;
}

/* The feeds' policy changes (an IXFR as an increment, a rebase, a flatten, a full compile of a
 * new copy or for entries that expired): the transfer thread builds them, this thread only
 * begins and swaps; same guard rails as a reload. */
static int apply_delta(void *ctx, size_t zone, uint64_t *rules, struct net_feeds_delta_io *io)
{
	struct net_server *srv = ctx;
	io->merge = NET_FEEDS_MERGE_NONE;
	if ((srv->snap == NULL && !io->full) || srv->cfg->policy.zone_count > POLICY_ZONES_MAX)
		return C2W_EINVAL;
	if (io->step == NET_FEEDS_STEP_BEGIN)
		return change_begin(srv, zone, rules, io);
	if (io->step == NET_FEEDS_STEP_SWAP)
		return change_swap(srv, zone, rules, io);
	return C2W_EINVAL;
}

static int start_workers(struct net_server *srv)
{
	char err[512] = "";
	struct net_sock *mine = calloc(srv->sock_count ? srv->sock_count : 1, sizeof(*mine));
	if (mine == NULL)
		return C2W_ENOMEM;
	/* One table for every worker: SO_REUSEPORT spreads one client's connections over all
	 * of them, and the cap is per client. Sized for every connection the workers may hold
	 * (each distinct address holds at least one). */
	size_t cap = (size_t)srv->worker_count * srv->cfg->server.tcp_clients_max;
	srv->tcp_per_addr = c2w_addrcount_new(cap > 4096 ? (unsigned)cap : 4096,
					      C2W_ADDRCOUNT_V4_BITS, C2W_ADDRCOUNT_V6_BITS, true);
	if (srv->tcp_per_addr == NULL) {
		free(mine);
		return C2W_ENOMEM;
	}
	int ret = C2W_OK;
	for (unsigned i = 0; i < srv->worker_count && ret == C2W_OK; i++) {
		ret = net_worker_new(i, srv->cfg, &srv->workers[i], err, sizeof(err));
		if (ret != C2W_OK) {
			c2w_log_err("%s", err[0] ? err : c2w_strerror(ret));
			break;
		}
		net_worker_set_peers(srv->workers[i], srv->worker_count);
		net_worker_attach(srv->workers[i], srv->snap,
				  srv->rings != NULL ? srv->rings[i] : NULL, srv->optout);
		net_worker_attach_tcp(srv->workers[i], srv->tcp_per_addr);
		net_worker_set_feeds(srv->workers[i], srv->feeds);
		net_worker_set_xfr(srv->workers[i], srv->xfr);
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
	srv->reload_fd = -1;
	srv->reload_last_us = -1;
	srv->start_time = time(NULL);
	/* libunbound reads these only at the first query: refuse now, not then. */
	char err[1024];
	if (net_preflight_resolver(cfg, err, sizeof(err)) != C2W_OK) {
		c2w_log_err("%s", err);
		conf_free(cfg);
		free(srv);
		return C2W_ECONFIG;
	}
	if (getrandom(srv->cookie_secret, sizeof(srv->cookie_secret), 0) !=
	    (ssize_t)sizeof(srv->cookie_secret)) {
		c2w_log_err("server: no random bytes for the DNS Cookie secret");
		free(srv);
		conf_free(cfg);
		return C2W_EIO;
	}
	cookie_secret_fill(srv, cfg);
	/* The main thread reads the opt-out registry (sinkhole evidence): an RCU reader. */
	rcu_register_thread();
	srv->rcu_registered = true;
	srv->worker_count = worker_count_for(cfg);
	srv->workers = calloc(srv->worker_count, sizeof(*srv->workers));
	srv->base = event_base_new();
	int ret = C2W_ENOMEM;
	if (srv->workers == NULL || srv->base == NULL)
		goto out_free;
	srv->reload_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	srv->reload_ev = srv->reload_fd < 0 ? NULL
					    : event_new(srv->base, srv->reload_fd,
							EV_READ | EV_PERSIST, on_reload_done, srv);
	if (srv->reload_ev == NULL || event_add(srv->reload_ev, NULL) != 0)
		goto out_free;
	ret = socks_build(cfg, srv->worker_count, NULL, 0, &srv->socks, &srv->sock_count);
	if (ret != C2W_OK)
		goto out_free;
	ret = resolve_user(srv);
	if (ret == C2W_OK)
		ret = net_feeds_new(srv->base, cfg, apply_delta, srv, &srv->feeds);
	if (ret == C2W_OK)
		ret = net_xfr_new(cfg, &srv->xfr);
	if (ret != C2W_OK)
		goto out_free;
	ret = load_policy(srv, cfg, false, &srv->snap, NULL, 0);
	if (ret != C2W_OK)
		goto out_free;
	note_snap(srv);
	net_feeds_note_expiry(srv->feeds, policy_snap_next_expiry(srv->snap));
	ret = events_setup(srv);
	if (ret == C2W_OK)
		ret = control_setup(srv);
	/* Bound before privileges are dropped (ports 80/443). */
	if (ret == C2W_OK)
		ret = net_sinkhole_start(srv->base, cfg, &srv->snap, srv->events, srv->optout,
					 &srv->sinkhole);
	if (ret != C2W_OK)
		goto out_free;
	raise_fd_limit(cfg, srv->worker_count);
	ret = drop_privileges(srv);
	/* Served zones' first versions: after the privilege drop (the journals belong to the
	 * run-time user), before the workers (a secondary asking at once finds them). */
	if (ret == C2W_OK) {
		net_xfr_update(srv->xfr, srv->base, srv->cfg, srv->snap, NULL);
		net_xfr_settle(srv->xfr);
	}
	if (ret == C2W_OK && srv->events != NULL)
		ret = events_pipeline_start(srv->events);
	if (ret == C2W_OK)
		ret = sandbox(cfg);
	if (ret != C2W_OK)
		goto out_free;
	/* Workers must not take the process's signals: the main loop handles them. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	ret = start_workers(srv);
	if (ret == C2W_OK && srv->control != NULL) {
		struct net_history_src hs = {.workers = srv->workers,
					     .worker_count = srv->worker_count,
					     .cfg = (struct c2w_config *const *)&srv->cfg,
					     .events = srv->events};
		ret = net_history_new(srv->base, &hs, &srv->history);
		if (ret == C2W_OK)
			ret = net_history_control_register(srv->history, srv->control);
	}
	/* The transfer thread, too, leaves signals to the main loop. */
	if (ret == C2W_OK)
		ret = net_feeds_start(srv->feeds);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret != C2W_OK)
		goto out_free;
	*out = srv;
	return C2W_OK;
out_free:
	net_server_free(srv);
	return ret;
}

static uint64_t worker_beat(void *ctx, unsigned i)
{
	const struct net_server *srv = ctx;
	return net_worker_heartbeat(srv->workers[i]);
}

int net_server_run(struct net_server *srv)
{
	signal(SIGPIPE, SIG_IGN);
	int ret = net_service_new(srv->base, worker_beat, srv, srv->worker_count, &srv->service);
	if (ret != C2W_OK)
		return ret;
	srv->ev_term = evsignal_new(srv->base, SIGTERM, on_stop_signal, srv);
	srv->ev_int = evsignal_new(srv->base, SIGINT, on_stop_signal, srv);
	srv->ev_hup = evsignal_new(srv->base, SIGHUP, on_hup, srv);
	if (srv->ev_term == NULL || srv->ev_int == NULL || srv->ev_hup == NULL)
		return C2W_ENOMEM;
	evsignal_add(srv->ev_term, NULL);
	evsignal_add(srv->ev_int, NULL);
	evsignal_add(srv->ev_hup, NULL);
	/* Handled from now on: a SIGHUP held since start-up (cli_serve_main()) comes in now. */
	sigset_t hup;
	sigemptyset(&hup);
	sigaddset(&hup, SIGHUP);
	pthread_sigmask(SIG_UNBLOCK, &hup, NULL);
	c2w_log_info("server: %u worker(s), %zu listener(s), ready", srv->worker_count,
		     srv->cfg->server.listen_count);
	net_service_ready(srv->service, "serving");
	event_base_dispatch(srv->base);
	return srv->exit_code;
}

static void say(char *msg, size_t msg_len, const char *fmt, ...) C2W_PRINTF(3, 4);

static void say(char *msg, size_t msg_len, const char *fmt, ...)
{
	if (msg == NULL || msg_len == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, msg_len, fmt, ap);
	va_end(ap);
}

/* Try the new resolver settings once on the main thread before any worker prepares, so a
 * bad option is reported once, with its text. */
static int validate_resolver(struct net_server *srv, const struct c2w_config *cfg, char *err,
			     size_t err_len)
{
	struct resolve_ctx *ctx = NULL;
	int ret = net_preflight_resolver(cfg, err, err_len);
	if (ret != C2W_OK)
		return ret;
	ret = resolve_ctx_new(srv->base, &cfg->resolver, true, &ctx, err, err_len);
	resolve_ctx_free(ctx);
	return ret;
}

/*
 * Phase one on every worker; on the first failure abort those already prepared, so either
 * every worker switches or none does (and the old config and snapshot stay owned here).
 */
static int prepare_workers(struct net_server *srv, const struct c2w_config *cfg,
			   const struct policy_snap *snap, char *err, size_t err_len)
{
	char werr[512] = "";
	for (unsigned i = 0; i < srv->worker_count; i++) {
		int ret = net_worker_reload_prepare(srv->workers[i], cfg, snap, werr, sizeof(werr));
		if (ret == C2W_OK)
			continue;
		for (unsigned j = 0; j < i; j++)
			net_worker_reload_abort(srv->workers[j]);
		snprintf(err, err_len, "worker %u: %s", i, werr[0] ? werr : c2w_strerror(ret));
		return ret;
	}
	return C2W_OK;
}

/* Every worker has prepared: switch each (cannot fail), then retire what none uses. */
static void commit_reload(struct net_server *srv, struct c2w_config *cfg, struct policy_snap *snap,
			  struct srv_sock *socks, size_t count, struct net_sock *mine)
{
	char err[512];
	for (unsigned i = 0; i < srv->worker_count; i++) {
		size_t n = socks_for(socks, count, i, mine);
		net_worker_reload_commit(srv->workers[i], cfg, snap, mine, n);
	}
	/* Every worker has switched (mailbox round trip): the old snapshot is unreachable. */
	policy_snap_free(srv->snap);
	srv->snap = snap;
	note_snap(srv);
	net_feeds_note_expiry(srv->feeds, policy_snap_next_expiry(snap));
	if (srv->optout != NULL && events_optout_reload(srv->optout, err, sizeof(err)) != C2W_OK)
		c2w_log_err("reload: opt-out registry: %s; keeping the loaded list", err);
	if (srv->events != NULL)
		events_pipeline_reopen(srv->events);
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
}

static int64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void job_free(struct reload_job *job)
{
	if (job == NULL)
		return;
	policy_snap_free(job->from);
	policy_snap_free(job->snap);
	conf_free(job->cfg);
	free(job);
}

/* A reload's first part, on the main thread: the configuration read and checked, a hold on
 * the running policy for the compile. @return C2W_OK with *@out, or the error in @err */
static int reload_begin(struct net_server *srv, struct reload_job **out, char *err,
			size_t err_len)
{
	struct reload_job *job = calloc(1, sizeof(*job));
	if (job == NULL)
		return C2W_ENOMEM;
	job->t0_us = mono_us();
	int ret = conf_load(srv->cfg->path, &job->cfg, err, err_len);
	if (ret == C2W_OK) {
		cookie_secret_fill(srv, job->cfg);
		ret = validate_resolver(srv, job->cfg, err, err_len);
	}
	if (ret == C2W_OK && job->cfg->policy.zone_count > POLICY_ZONES_MAX) {
		struct policy_snap *none = NULL; /* reports the limit */
		ret = net_policy_load_err(job->cfg, srv->snap, true, &none, err, err_len);
		policy_snap_free(none);
		if (ret == C2W_OK)
			ret = C2W_EINVAL;
	}
	if (ret != C2W_OK) {
		job_free(job);
		return ret;
	}
	job->from = srv->snap != NULL ? policy_snap_hold(srv->snap) : NULL;
	*out = job;
	return C2W_OK;
}

/* The compile, from the files as they are once every copy in force is saved; any thread (the
 * reload's own, or the main thread for net_server_reload()). Nothing goes in force meanwhile:
 * the feeds' requests wait (net_feeds_hold()) or, on the main thread, are not read. */
static void reload_compile(struct net_server *srv, struct reload_job *job)
{
	const char *files[POLICY_ZONES_MAX];
	net_feeds_settle(srv->feeds); /* an increment in force is on disk before we read */
	net_feeds_files(srv->feeds, job->cfg, files);
	job->ret = net_policy_load_files(job->cfg, files, job->from, true, job->rules, &job->snap,
					 job->err, sizeof(job->err));
}

/* A reload refused: counted, logged, told. */
static int reload_failed(struct net_server *srv, int ret, const char *err, char *msg,
			 size_t msg_len)
{
	srv->reload_failures++;
	c2w_log_err("reload: %s; keeping the running configuration",
		    err[0] ? err : c2w_strerror(ret));
	say(msg, msg_len, "%s", err[0] ? err : c2w_strerror(ret));
	net_service_ready(srv->service, "serving; last reload failed, see the log");
	return ret;
}

/* The rest, on the main thread: listeners, every worker prepared, then all switched, or none.
 * Takes @job. @return C2W_OK or the error (logged, in @msg) */
static int reload_apply(struct net_server *srv, struct reload_job *job, char *msg, size_t msg_len)
{
	char err[1024] = "", restart[512] = "";
	struct srv_sock *socks = NULL;
	struct net_sock *mine = NULL;
	size_t count = 0;
	int ret = job->ret;
	if (ret != C2W_OK) {
		snprintf(err, sizeof(err), "%s", job->err);
		goto out_fail;
	}
	net_feeds_note_rules(srv->feeds, job->cfg, job->rules);
	ret = socks_build(job->cfg, srv->worker_count, srv->socks, srv->sock_count, &socks, &count);
	if (ret != C2W_OK) {
		snprintf(err, sizeof(err), "server.listen: cannot open a listener (%s)",
			 c2w_strerror(ret));
		goto out_fail;
	}
	mine = calloc(count ? count : 1, sizeof(*mine));
	if (mine == NULL) {
		ret = C2W_ENOMEM;
		goto out_fail;
	}
	if ((ret = prepare_workers(srv, job->cfg, job->snap, err, sizeof(err))) != C2W_OK)
		goto out_fail;
	unsigned restart_count = conf_diff_restart(srv->cfg, job->cfg, restart, sizeof(restart));
	commit_reload(srv, job->cfg, job->snap, socks, count, mine);
	job->cfg = NULL; /* the server's now */
	job->snap = NULL;
	free(mine);
	srv->reload_last_us = mono_us() - job->t0_us;
	double ms = (double)srv->reload_last_us / 1000.0;
	if (restart_count > 0) {
		c2w_log_warn("reload: configuration %s loaded in %.1f ms; a restart is needed for: "
			     "%s (they keep their running values)",
			     srv->cfg->path, ms, restart);
		say(msg, msg_len, "ok; restart needed for: %s", restart);
	} else {
		c2w_log_info("reload: configuration %s loaded in %.1f ms", srv->cfg->path, ms);
		say(msg, msg_len, "ok");
	}
	job_free(job);
	net_xfr_update(srv->xfr, srv->base, srv->cfg, srv->snap, NULL);
	if (net_feeds_reconfigure(srv->feeds, srv->cfg) != C2W_OK)
		c2w_log_err("reload: zone transfers: see above; zones not followed until fixed");
	/* New tokens (added, revoked) take effect at reload; a bad file keeps the old set. */
	if (srv->http != NULL && srv->cfg->control.http_tokens != NULL &&
	    control_http_reload_tokens(srv->http, srv->cfg->control.http_tokens, err,
				       sizeof(err)) != C2W_OK)
		c2w_log_err("reload: %s; the loaded HTTP tokens stay in force", err);
	srv->reloads++;
	net_service_ready(srv->service, "serving; last reload ok");
	return C2W_OK;
out_fail:
	free(mine);
	if (socks != NULL)
		socks_drop_new(socks, count, srv->socks, srv->sock_count);
	srv->reload_last_us = mono_us() - job->t0_us;
	job_free(job);
	return reload_failed(srv, ret, err, msg, msg_len);
}

int net_server_reload(struct net_server *srv, char *msg, size_t msg_len)
{
	char err[1024] = "";
	struct reload_job *job = NULL;
	if (srv->job != NULL)
		return reload_failed(srv, C2W_EAGAIN, "a reload is already running", msg, msg_len);
	net_service_reloading(srv->service);
	int ret = reload_begin(srv, &job, err, sizeof(err));
	if (ret != C2W_OK)
		return reload_failed(srv, ret, err, msg, msg_len);
	reload_compile(srv, job);
	return reload_apply(srv, job, msg, msg_len);
}

/* ---- reloads on their own thread ------------------------------------------------------------ */

static void *reload_main(void *arg)
{
	struct net_server *srv = arg;
	reload_compile(srv, srv->job);
	uint64_t one = 1;
	(void)!write(srv->reload_fd, &one, sizeof(one));
	return NULL;
}

/* Tell every waiting control request the result. */
static void reload_answer(struct reload_waiters *w, int ret, const char *msg)
{
	char text[1200];
	if (ret != C2W_OK)
		snprintf(text, sizeof(text), "reload failed: %s; the running configuration stays",
			 msg[0] ? msg : c2w_strerror(ret));
	else
		snprintf(text, sizeof(text), "%s", msg);
	for (size_t i = 0; i < w->count; i++)
		control_pending_finish(w->p[i], ret, text);
	w->count = 0;
}

static void reload_start(struct net_server *srv);

/* The compile ended (reload_main() said so): switch, answer, and start the reload asked
 * meanwhile, if any. */
static void on_reload_done(evutil_socket_t fd, short what, void *arg)
{
	struct net_server *srv = arg;
	uint64_t v;
	(void)what;
	(void)!read(fd, &v, sizeof(v));
	if (srv->job == NULL)
		return;
	pthread_join(srv->reload_thread, NULL);
	struct reload_job *job = srv->job;
	srv->job = NULL;
	char msg[1024] = "";
	int ret = reload_apply(srv, job, msg, sizeof(msg));
	/* After the switch: a change the feeds held is built again over the new policy (or its
	 * thread was restarted with the new config and asks again). */
	net_feeds_hold(srv->feeds, false);
	reload_answer(&srv->waiting, ret, msg);
	if (srv->reload_again) {
		srv->reload_again = false;
		srv->waiting = srv->next_waiting;
		srv->next_waiting.count = 0;
		reload_start(srv);
	}
}

/* Start a reload for the requests in srv->waiting: the config read and checked here, the
 * compile on its own thread (on_reload_done() goes on). */
static void reload_start(struct net_server *srv)
{
	char err[1024] = "";
	struct reload_job *job = NULL;
	net_service_reloading(srv->service);
	c2w_log_info("reload: reading %s", srv->cfg->path);
	int ret = reload_begin(srv, &job, err, sizeof(err));
	if (ret != C2W_OK) {
		char msg[1024] = "";
		reload_failed(srv, ret, err, msg, sizeof(msg));
		reload_answer(&srv->waiting, ret, msg);
		return;
	}
	srv->job = job;
	net_feeds_hold(srv->feeds, true);
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old); /* signals stay with the main loop */
	int pret = srv->reload_ev != NULL ? pthread_create(&srv->reload_thread, NULL, reload_main,
							    srv)
					  : EAGAIN;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pret == 0)
		return;
	/* No thread: compile here, as before there was one. */
	c2w_log_warn("reload: no thread for the compile (%s); compiling on the main thread",
		     c2w_strerror(-pret));
	reload_compile(srv, job);
	srv->job = NULL;
	char msg[1024] = "";
	ret = reload_apply(srv, job, msg, sizeof(msg));
	net_feeds_hold(srv->feeds, false);
	reload_answer(&srv->waiting, ret, msg);
}

/* A SIGHUP (@p NULL) or a control request: a reload now, or after the one running (which may
 * have read the file before it changed). */
static void reload_request(struct net_server *srv, struct control_pending *p)
{
	struct reload_waiters *w = srv->job != NULL ? &srv->next_waiting : &srv->waiting;
	if (p != NULL && w->count == RELOAD_WAITERS_MAX) {
		control_pending_finish(p, C2W_EAGAIN,
				       "reload failed: too many reload requests waiting; try again");
		p = NULL;
	}
	if (p != NULL)
		w->p[w->count++] = p;
	if (srv->job != NULL) {
		if (!srv->reload_again)
			c2w_log_info("reload: asked while one is compiling; it runs next");
		srv->reload_again = true;
		return;
	}
	reload_start(srv);
}

/* Stopping: a compile under way ends first (it reads the feeds' files); nobody waits for
 * its result. */
static void reload_stop(struct net_server *srv)
{
	if (srv->job != NULL) {
		c2w_log_info("server: waiting for the reload's compile to end");
		pthread_join(srv->reload_thread, NULL);
		job_free(srv->job);
		srv->job = NULL;
	}
	reload_answer(&srv->waiting, C2W_EAGAIN, "the daemon is stopping");
	reload_answer(&srv->next_waiting, C2W_EAGAIN, "the daemon is stopping");
}

void net_server_free(struct net_server *srv)
{
	if (srv == NULL)
		return;
	reload_stop(srv);
	if (srv->reload_ev != NULL)
		event_free(srv->reload_ev);
	if (srv->reload_fd >= 0)
		close(srv->reload_fd);
	net_service_free(srv->service);
	/* The transfer thread may wait on the main thread: stop it first. */
	net_feeds_free(srv->feeds);
	srv->feeds = NULL;
	for (unsigned i = 0; srv->workers != NULL && i < srv->worker_count; i++)
		net_worker_stop(srv->workers[i]);
	for (unsigned i = 0; srv->workers != NULL && i < srv->worker_count; i++)
		net_worker_free(srv->workers[i]);
	free(srv->workers);
	c2w_addrcount_free(srv->tcp_per_addr);
	net_sinkhole_free(srv->sinkhole);
	control_http_free(srv->http);
	control_server_free(srv->control);
	net_history_free(srv->history);
	free(srv->store_path);
	net_xfr_free(srv->xfr);
	if (srv->events != NULL) {
		events_pipeline_stop(srv->events);
		events_pipeline_free(srv->events);
	}
	for (unsigned i = 0; srv->rings != NULL && i < srv->worker_count; i++)
		events_ring_free(srv->rings[i]);
	free(srv->rings);
	events_optout_free(srv->optout);
	policy_snap_free(srv->snap);
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
	explicit_bzero(srv->cookie_secret, sizeof(srv->cookie_secret));
	if (srv->rcu_registered)
		rcu_unregister_thread();
	free(srv);
}

const struct c2w_config *net_server_config(const struct net_server *srv)
{
	return srv->cfg;
}

void net_server_worker_state(const struct net_server *srv, unsigned i,
			     const struct c2w_config **cfg, const void **snap)
{
	*cfg = net_worker_config(srv->workers[i]);
	*snap = net_worker_snap(srv->workers[i]);
}

const void *net_server_snap(const struct net_server *srv)
{
	return srv->snap;
}

unsigned net_server_worker_count(const struct net_server *srv)
{
	return srv->worker_count;
}
