/* SPDX-License-Identifier: MIT */
/* The process-wide log sink: stderr with timestamps, or syslog. */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>
#include <time.h>

static enum c2w_log_level g_level = C2W_LOG_INFO;
static bool g_syslog;

void c2w_log_setup(enum c2w_log_level level, bool use_syslog)
{
	g_level = level;
	if (use_syslog && !g_syslog)
		openlog("c2wall", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	g_syslog = use_syslog;
}

enum c2w_log_level c2w_log_level_get(void)
{
	return g_level;
}

static const char *level_name(enum c2w_log_level level)
{
	switch (level) {
	case C2W_LOG_ERR:
		return "error";
	case C2W_LOG_WARN:
		return "warning";
	case C2W_LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

void c2w_log_write(enum c2w_log_level level, const char *fmt, ...)
{
	if (level > g_level)
		return;
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (g_syslog) {
		syslog((int)level, "%s", line);
		return;
	}
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	/* One fprintf per line keeps lines from different threads whole. */
	fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02dZ c2wall %s: %s\n", tm.tm_year + 1900,
		tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, level_name(level),
		line);
}

bool c2w_log_ratelimit(uint64_t *last_s, uint64_t interval_s)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t now = (uint64_t)ts.tv_sec;
	if (*last_s != 0 && now - *last_s < interval_s)
		return false;
	*last_s = now;
	return true;
}
