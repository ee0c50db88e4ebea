/* SPDX-License-Identifier: MIT */
/*
 * A compiled policy zone written back as RPZ records (draft-vixie-dnsop-dns-rpz-00): what
 * c2wall serves to its secondaries by AXFR/IXFR. The records come from the snapshot in force,
 * so they say what c2wall enforces: hosts and domain lists as their RPZ actions, the zone's
 * policy override applied, rules dropped by the never-block list absent, and every never-block
 * name added as rpz-passthru. No SOA or NS: the serving side adds its own (net/xfr_serve.c).
 */
#ifndef C2W_POLICY_EXPORT_H
#define C2W_POLICY_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "policy/policy.h"

/**
 * One record of the export, all borrowed for the call.
 *
 * @param owner  absolute wire name, lower case (trigger + origin)
 * @return C2W_OK to go on; anything else stops the export and is returned
 */
typedef int (*policy_export_cb)(void *ctx, const uint8_t *owner, size_t owner_len, uint16_t type,
				uint32_t ttl, const uint8_t *rdata, uint16_t rdlen);

/**
 * Every rule of zone @zone of @snap as RPZ records, in no particular order; for a snapshot
 * with increments (policy_snap_delta()), the rules in force: a key an increment touched comes
 * from the newest increment that touched it. O(zone).
 *
 * @param snap  borrowed for the call (any thread that keeps it alive)
 * @return C2W_OK, C2W_EINVAL (no such zone), or what @cb returned
 */
C2W_NODISCARD int policy_export_zone(const struct policy_snap *snap, unsigned zone,
				     policy_export_cb cb, void *ctx);

/**
 * An owner name whose served records an increment replaces, borrowed for the call.
 *
 * @return C2W_OK to go on; anything else stops the export and is returned
 */
typedef int (*policy_export_owner_cb)(void *ctx, const uint8_t *owner, size_t owner_len);

/**
 * What the newest layer of @snap changed in zone @zone, when @snap is @prev plus exactly that
 * layer (policy_snap_delta() on @prev): @owner_cb for every owner name whose records the
 * layer replaces (its touched trigger keys), then @cb for every record those owners have now
 * (the same records policy_export_zone() gives them). Costs O(layer), not O(zone): a served
 * zone's next version comes from the change alone. An owner that is also a never-block name
 * is not handled here (its passthru and its rule would mix): C2W_EINVAL, export in full.
 *
 * @param prev  the snapshot exported last, borrowed; may be NULL
 * @return C2W_OK, C2W_EINVAL (@snap is not @prev plus one layer, or the case above: use
 *         policy_export_zone()), or what a callback returned
 */
C2W_NODISCARD int policy_export_delta(const struct policy_snap *snap,
				      const struct policy_snap *prev, unsigned zone,
				      policy_export_owner_cb owner_cb, policy_export_cb cb,
				      void *ctx);

/**
 * The zone of @snap whose origin is @name or an ancestor of it.
 *
 * @param name  canonical (lower case) absolute wire name
 * @return the zone index, or -1. Allocation-free, lock-free (worker path).
 */
int policy_snap_zone_of(const struct policy_snap *snap, const uint8_t *name, size_t name_len);

/** Origin of zone @zone in wire form (borrowed from @snap); NULL when there is no such zone. */
const uint8_t *policy_snap_zone_origin(const struct policy_snap *snap, unsigned zone);

/**
 * The SOA the zone's feed gave (an RPZ file's own SOA), as rdata in wire form.
 *
 * @return false when the feed had none (hosts, domain lists, RPZ files without one)
 */
bool policy_snap_zone_soa(const struct policy_snap *snap, unsigned zone, const uint8_t **rdata,
			  uint16_t *rdlen, uint32_t *ttl);

#endif
