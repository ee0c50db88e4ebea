/* SPDX-License-Identifier: MIT */
/*
 * Ties the sinkhole (src/sinkhole) to the rest of the daemon: which Host names are blocked
 * comes from the policy snapshot, and each contact becomes evidence on the incident of that
 * client (pseudonymised with the hit log's key). Used by `c2wall serve` and `c2wall sinkhole`.
 */
#ifndef C2W_NET_SINKHOLE_GLUE_H
#define C2W_NET_SINKHOLE_GLUE_H

#include <stdbool.h>
#include <sys/socket.h>

#include "conf/config.h"
#include "core/err.h"
#include "sinkhole/sinkhole.h"

struct event_base;
struct events_pipeline;
struct policy_snap;
struct net_sinkhole;
struct events_optout;

/**
 * Is @host blocked by @snap (QNAME and CLIENT-IP triggers, as an A query from @client)?
 *
 * @param snap  pinned snapshot, borrowed; NULL: nothing is blocked
 * @param out   out: family, category, zone and feed of the rule when blocked
 * @return true when a rule other than PASSTHRU acts on the name
 */
bool net_sinkhole_lookup(const struct policy_snap *snap, const char *host,
			 const struct sockaddr *client, struct sinkhole_info *out);

/**
 * Copy the config's listener addresses into a sinkhole spec (addresses are allocated: free
 * them with net_sinkhole_spec_deinit()).
 *
 * @return C2W_OK or C2W_ENOMEM
 */
C2W_NODISCARD int net_sinkhole_spec_init(const struct c2w_config *cfg, struct sinkhole_spec *spec);
void net_sinkhole_spec_deinit(struct sinkhole_spec *spec);

/**
 * Start the sinkhole listeners of @cfg on @base (the daemon's main loop). Nothing is started
 * when the config has no sinkhole listener (*out is then NULL).
 *
 * @param snap    where the daemon keeps its current snapshot; read on each request, so a
 *                reload takes effect at once (main thread only)
 * @param events  the hit pipeline whose store and pseudonym key evidence uses; may be NULL
 * @param optout  opt-out registry, borrowed until _free; may be NULL. Contacts from an
 *                opted-out subscriber leave no evidence (the calling thread must be
 *                registered with liburcu)
 * @return C2W_OK, or the error from binding a listener
 */
C2W_NODISCARD int net_sinkhole_start(struct event_base *base, const struct c2w_config *cfg,
				     struct policy_snap *const *snap,
				     struct events_pipeline *events, struct events_optout *optout,
				     struct net_sinkhole **out);

void net_sinkhole_free(struct net_sinkhole *sh);

/** Copy the sinkhole's counters (the loop thread's; the control socket runs on it too). */
void net_sinkhole_stats(const struct net_sinkhole *sh, struct sinkhole_stats *out);

#endif
