/* SPDX-License-Identifier: MIT */
/*
 * The service manager's side of the daemon (systemd, sd_notify(3)): READY=1 once the
 * listeners are open and privileges dropped, RELOADING=1 ... READY=1 around a reload,
 * STOPPING=1 at a stop, STATUS= lines, and a watchdog that pings WATCHDOG=1 only while every
 * worker's event loop is turning (each worker's 1 s tick bumps a heartbeat): a worker stuck in
 * a loop or a deadlock stops the pings and systemd restarts the service. Without
 * NOTIFY_SOCKET every call is a no-op, so the daemon runs the same by hand.
 *
 *   net_service_new(base, beat, ctx, workers, &s);   after the listeners and the drop
 *   net_service_ready(s, "...");                      then event_base_dispatch()
 *   net_service_reloading(s) / _ready(s, ...)         around a reload
 *   net_service_stopping(s); net_service_free(s);
 */
#ifndef C2W_NET_SERVICE_H
#define C2W_NET_SERVICE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"

struct event_base;
struct net_service;

/** Worker @i's heartbeat (a counter its loop bumps every second). */
typedef uint64_t (*net_service_beat_cb)(void *ctx, unsigned i);

/** The watchdog's view of one worker: its last heartbeat and when that last changed. */
struct net_service_beat {
	uint64_t beat;
	uint64_t changed_ms; /* monotonic */
};

/**
 * Set up the notifications and, when systemd asked for a watchdog (WATCHDOG_USEC for this
 * PID), a timer on @base every quarter of its interval.
 *
 * @param beat     heartbeat reader, called on the main thread (workers' counters are atomic)
 * @param workers  number of workers, fixed for the process
 * @return C2W_OK or C2W_ENOMEM
 */
C2W_NODISCARD int net_service_new(struct event_base *base, net_service_beat_cb beat, void *ctx,
				  unsigned workers, struct net_service **out);

/** READY=1 with a STATUS= line (printf-free: @status is sent as it is). */
void net_service_ready(struct net_service *s, const char *status);

/** RELOADING=1: a reload has started; net_service_ready() ends it. */
void net_service_reloading(struct net_service *s);

/** STOPPING=1. */
void net_service_stopping(struct net_service *s);

/** Whether the service manager asked for a watchdog (for logs and tests). */
bool net_service_watchdog_on(const struct net_service *s);

/**
 * The watchdog's decision, for one check at @now_ms: update @state[i] from @beats[i] and
 * return true when every worker's heartbeat changed within the last @stall_ms.
 */
bool net_service_healthy(struct net_service_beat *state, const uint64_t *beats, unsigned count,
			 uint64_t now_ms, uint64_t stall_ms);

void net_service_free(struct net_service *s);

#endif
