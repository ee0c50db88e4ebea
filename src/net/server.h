/* SPDX-License-Identifier: MIT */
/*
 * The daemon: loads the config, opens the listeners, drops privileges, runs one worker per
 * core, and on the main thread handles signals (SIGTERM/SIGINT stop, SIGHUP reload) and the
 * edges (control socket, sinkhole). A reload that fails leaves the running state untouched.
 */
#ifndef C2W_NET_SERVER_H
#define C2W_NET_SERVER_H

#include "conf/config.h"
#include "core/err.h"

struct net_server;

/**
 * Build a server from a loaded config (takes ownership of @cfg) and open its listeners.
 *
 * @return C2W_OK, C2W_ECONFIG (message logged), negative errno from bind
 */
C2W_NODISCARD int net_server_new(struct c2w_config *cfg, struct net_server **out);

/** Run until SIGTERM/SIGINT. @return C2W_OK on a clean stop */
int net_server_run(struct net_server *srv);

/**
 * Reload the config from its file, all or nothing: on any error (config, resolver, policy,
 * listeners, or one worker that cannot build its new resolver) the old config, policy and
 * listeners stay in every worker and the error is logged with file and line. Settings that
 * take effect only at restart (conf_diff_restart()) keep their running values; the log and
 * @msg name them.
 *
 * @param msg      out (may be NULL): on failure the reason ("file:line: message" when the
 *                 config or a feed is at fault); on success "ok", or
 *                 "ok; restart needed for: KEYS" when such settings changed
 * @param msg_len  size of @msg
 * @return C2W_OK or the error
 */
int net_server_reload(struct net_server *srv, char *msg, size_t msg_len);

/** The config the server runs with (borrowed; replaced by a successful reload). */
const struct c2w_config *net_server_config(const struct net_server *srv);

/** Worker @i's config and snapshot, for tests of the reload's all-or-nothing promise. */
void net_server_worker_state(const struct net_server *srv, unsigned i,
			     const struct c2w_config **cfg, const void **snap);

/** The policy snapshot the server owns (NULL: none), as an opaque pointer for comparisons. */
const void *net_server_snap(const struct net_server *srv);

/** Number of workers. */
unsigned net_server_worker_count(const struct net_server *srv);

struct net_counters;

/** Every worker's counters summed (gauges too); callable from any thread while they run. */
void net_server_counters(const struct net_server *srv, struct net_counters *sum);

void net_server_free(struct net_server *srv);

#endif
