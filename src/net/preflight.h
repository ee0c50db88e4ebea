/* SPDX-License-Identifier: MIT */
/*
 * What the daemon needs from the file system and the system before it starts: files it reads
 * (feeds, root hints, trust anchor, templates), the user it switches to, and the paths it
 * writes (key, store, hit log, dnstap file, control socket, opt-out file). `serve --check`
 * runs all of it; `serve` and a reload run the resolver part, so a missing root-hints file
 * stops the start instead of failing the first query. The policy build itself is in
 * policy_conf.c.
 */
#ifndef C2W_NET_PREFLIGHT_H
#define C2W_NET_PREFLIGHT_H

#include <stddef.h>

#include "conf/config.h"
#include "core/err.h"

/** One problem, as "key: path: reason"; @msg is valid for the call. */
typedef void (*net_preflight_cb)(void *ctx, const char *msg);

/**
 * Check the files the resolver reads: resolver.root-hints (recursive mode) and
 * resolver.trust-anchor (when set) must be readable regular files.
 *
 * @param err  out: the first problem, "resolver.root-hints: PATH: reason"
 * @return C2W_OK or C2W_ECONFIG
 */
C2W_NODISCARD int net_preflight_resolver(const struct c2w_config *cfg, char *err, size_t err_len);

/**
 * Check everything `serve` would refuse or silently miss at start, except the policy build:
 * the resolver files, every policy feed and policy.never-block-file (readable regular files),
 * sinkhole.templates (a readable directory), server.user (exists), and the paths the daemon
 * writes (privacy.key-file, privacy.optout-file, store.sqlite, events.jsonl, a file: dnstap,
 * control.socket): an existing file must be writable, a missing one needs its nearest existing
 * ancestor to be a writable directory (the daemon creates the parents). Checked as the
 * calling user.
 *
 * @param cb   called for each problem
 * @return the number of problems (0: nothing found)
 */
unsigned net_preflight_all(const struct c2w_config *cfg, net_preflight_cb cb, void *ctx);

#endif
