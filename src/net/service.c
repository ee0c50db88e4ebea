/* SPDX-License-Identifier: MIT */
/* systemd notifications and the worker-aware watchdog (service.h). */
#include "net/service.h"

#include <event2/event.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "core/log.h"

/* A worker whose tick has not moved for this long is stuck (its tick is 1 s). */
#define STALL_MIN_MS 3000u

struct net_service {
	bool notify; /* NOTIFY_SOCKET is set */
	uint64_t watchdog_us;
	uint64_t stall_ms;
	net_service_beat_cb beat;
	void *beat_ctx;
	unsigned count;
	bool unhealthy_logged;
	struct event *timer;
	uint64_t *beats;
	struct net_service_beat *state;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

bool net_service_healthy(struct net_service_beat *state, const uint64_t *beats, unsigned count,
			 uint64_t now_ms, uint64_t stall_ms)
{
	bool ok = true;
	for (unsigned i = 0; i < count; i++) {
		if (beats[i] != state[i].beat) {
			state[i].beat = beats[i];
			state[i].changed_ms = now_ms;
		} else if (now_ms - state[i].changed_ms > stall_ms) {
			ok = false;
		}
	}
	return ok;
}

static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	struct net_service *s = arg;
	(void)fd;
	(void)what;
	for (unsigned i = 0; i < s->count; i++)
		s->beats[i] = s->beat(s->beat_ctx, i);
	if (net_service_healthy(s->state, s->beats, s->count, mono_ms(), s->stall_ms)) {
		(void)sd_notify(0, "WATCHDOG=1");
		s->unhealthy_logged = false;
		return;
	}
	if (!s->unhealthy_logged)
		c2w_log_err("service: a worker's event loop has not turned for %llu ms; watchdog "
			    "pings stop, the service manager will restart c2wall",
			    (unsigned long long)s->stall_ms);
	s->unhealthy_logged = true;
}

static int watchdog_start(struct net_service *s, struct event_base *base)
{
	s->beats = calloc(s->count ? s->count : 1, sizeof(*s->beats));
	s->state = calloc(s->count ? s->count : 1, sizeof(*s->state));
	s->timer = event_new(base, -1, EV_PERSIST, on_watchdog, s);
	if (s->beats == NULL || s->state == NULL || s->timer == NULL)
		return C2W_ENOMEM;
	uint64_t now = mono_ms();
	for (unsigned i = 0; i < s->count; i++) {
		s->state[i].beat = s->beat(s->beat_ctx, i);
		s->state[i].changed_ms = now;
	}
	/* Half the interval may pass without a ping before systemd acts; a stuck worker is one
	 * whose tick has not moved for that long, never less than a few ticks. */
	s->stall_ms = s->watchdog_us / 2000u;
	if (s->stall_ms < STALL_MIN_MS)
		s->stall_ms = STALL_MIN_MS;
	uint64_t period_us = s->watchdog_us / 4u;
	if (period_us < 100000u)
		period_us = 100000u;
	struct timeval tv = {.tv_sec = (time_t)(period_us / 1000000u),
			     .tv_usec = (suseconds_t)(period_us % 1000000u)};
	event_add(s->timer, &tv);
	c2w_log_info("service: watchdog every %llu ms (systemd WatchdogSec=%llu ms)",
		     (unsigned long long)(period_us / 1000u),
		     (unsigned long long)(s->watchdog_us / 1000u));
	return C2W_OK;
}

int net_service_new(struct event_base *base, net_service_beat_cb beat, void *ctx,
		    unsigned workers, struct net_service **out)
{
	struct net_service *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return C2W_ENOMEM;
	s->beat = beat;
	s->beat_ctx = ctx;
	s->count = workers;
	s->notify = getenv("NOTIFY_SOCKET") != NULL;
	uint64_t usec = 0;
	if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
		s->watchdog_us = usec;
		int ret = watchdog_start(s, base);
		if (ret != C2W_OK) {
			net_service_free(s);
			return ret;
		}
	}
	*out = s;
	return C2W_OK;
}

void net_service_ready(struct net_service *s, const char *status)
{
	if (s == NULL || !s->notify)
		return;
	(void)sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

void net_service_reloading(struct net_service *s)
{
	if (s == NULL || !s->notify)
		return;
	(void)sd_notify(0, "RELOADING=1\nSTATUS=reloading");
}

void net_service_stopping(struct net_service *s)
{
	if (s == NULL || !s->notify)
		return;
	(void)sd_notify(0, "STOPPING=1\nSTATUS=stopping");
}

bool net_service_watchdog_on(const struct net_service *s)
{
	return s != NULL && s->watchdog_us > 0;
}

void net_service_free(struct net_service *s)
{
	if (s == NULL)
		return;
	if (s->timer != NULL)
		event_free(s->timer);
	free(s->beats);
	free(s->state);
	free(s);
}
