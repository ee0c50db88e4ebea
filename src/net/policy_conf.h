/* SPDX-License-Identifier: MIT */
/*
 * Config -> policy engine: the daemon and the CLI build snapshots from the config's
 * policy zones here, so every command sees the same rules.
 */
#ifndef C2W_NET_POLICY_CONF_H
#define C2W_NET_POLICY_CONF_H

#include <stdbool.h>

#include "conf/config.h"
#include "core/err.h"
#include "policy/policy.h"

/** Fill @spec for zone @z of @cfg (pointers borrow @cfg; sinkhole addresses from @cfg). */
void net_policy_spec_from_conf(const struct c2w_config *cfg, const struct conf_policy_zone *z,
			       struct policy_zone_spec *spec);

/**
 * Build the policy snapshot for @cfg; rejected lines and per-zone counts go to the log. At
 * start (@reload false) a rule that would block a protected name is dropped and reported; at
 * reload such a feed, or one that changes a zone's size by more than policy.max-change
 * against @prev, is refused and the caller keeps its running policy.
 *
 * @param out  out: the snapshot, NULL when the config has no policy zone
 * @return C2W_OK, C2W_ECONFIG (too many zones), or the policy_snap_build() error
 */
C2W_NODISCARD int net_policy_load(const struct c2w_config *cfg, const struct policy_snap *prev,
				  bool reload, struct policy_snap **out);

/**
 * net_policy_load() that also hands back the reason of a failure (the feed's file and line
 * when the engine knows them), for a reload reply.
 *
 * @param err  out: the reason on failure, "" on success
 */
C2W_NODISCARD int net_policy_load_err(const struct c2w_config *cfg, const struct policy_snap *prev,
				      bool reload, struct policy_snap **out, char *err,
				      size_t err_len);

/**
 * net_policy_load() with the feed of each zone chosen by the caller (the transfer machinery:
 * a candidate copy, or nothing for an expired zone).
 *
 * @param files  one per zone of @cfg: the file to read, NULL = leave the zone out; @files
 *               NULL = every zone's own file, a transferred zone with no copy yet left out
 * @param rules  out (may be NULL): rules compiled per zone of @cfg (0 for those left out)
 */
C2W_NODISCARD int net_policy_load_files(const struct c2w_config *cfg, const char *const *files,
					const struct policy_snap *prev, bool reload,
					uint64_t *rules, struct policy_snap **out, char *err,
					size_t err_len);

/**
 * An IXFR of zone @zone of @cfg applied as an increment over @prev (policy_snap_delta()), with
 * the guard rails of a reload (never-block refuses, policy.max-change against @prev).
 *
 * @param files   as for net_policy_load_files(): which zones @prev was built from
 * @param rebase  the records are every owner the increments over the full snapshot @prev
 *                touched, each of which passed max-change as it came: not checked again
 * @param rules   out (may be NULL): rules per zone of @cfg
 * @return C2W_OK; C2W_EINVAL or C2W_EFULL (not applicable: recompile instead); the guard
 *         rails' C2W_EPROTECTED, C2W_ERANGE; C2W_ENOMEM. On failure *out is NULL.
 */
C2W_NODISCARD int net_policy_delta(const struct c2w_config *cfg, const char *const *files,
				   const struct policy_snap *prev, size_t zone, const char *records,
				   size_t len, const char *const *owners, size_t count, bool rebase,
				   uint64_t *rules, struct policy_snap **out, char *err,
				   size_t err_len);

#endif
