/* SPDX-License-Identifier: MIT */
/*
 * Operator-facing log lines to stderr or syslog. Hit events are product data and go through
 * src/events, never here. The hot path counts instead of logging; use c2w_log_ratelimit().
 */
#ifndef C2W_CORE_LOG_H
#define C2W_CORE_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"

enum c2w_log_level {
	C2W_LOG_ERR = 3,
	C2W_LOG_WARN = 4,
	C2W_LOG_INFO = 6,
	C2W_LOG_DEBUG = 7,
};

/**
 * Configure the process-wide log sink (one of the two allowed globals).
 *
 * @param level      lines above this level are dropped
 * @param use_syslog true: syslog(3) with ident "c2wall"; false: stderr with a timestamp
 */
void c2w_log_setup(enum c2w_log_level level, bool use_syslog);

/** Current threshold; lines with a larger level are not written. */
enum c2w_log_level c2w_log_level_get(void);

void c2w_log_write(enum c2w_log_level level, const char *fmt, ...) C2W_PRINTF(2, 3);

#define c2w_log_err(...)   c2w_log_write(C2W_LOG_ERR, __VA_ARGS__)
#define c2w_log_warn(...)  c2w_log_write(C2W_LOG_WARN, __VA_ARGS__)
#define c2w_log_info(...)  c2w_log_write(C2W_LOG_INFO, __VA_ARGS__)
#define c2w_log_debug(...) c2w_log_write(C2W_LOG_DEBUG, __VA_ARGS__)

/**
 * Rate limiter for warnings from hot or repetitive paths: at most one line per @interval_s.
 *
 * @param last_s  caller-owned timestamp of the last allowed line (monotonic seconds)
 * @return true when the caller may log now (and @last_s was updated)
 */
bool c2w_log_ratelimit(uint64_t *last_s, uint64_t interval_s);

#endif
