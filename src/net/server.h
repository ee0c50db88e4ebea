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
 * Reload the config from its file: on any error the old config, policy and listeners stay
 * and the error is logged with file and line.
 *
 * @return C2W_OK or the error
 */
int net_server_reload(struct net_server *srv);

void net_server_free(struct net_server *srv);

#endif
