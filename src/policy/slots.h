/* SPDX-License-Identifier: MIT */
/*
 * Filling the snapshot's slot table (Robin Hood, image.h) at compile time: the entries are
 * ordered by home slot first, so the insertions walk the table front to back instead of
 * touching a random cache line per rule. What goes into a slot is the compiler's business
 * (rules.c); how lookups probe it is snap.c's.
 */
#ifndef C2W_POLICY_SLOTS_H
#define C2W_POLICY_SLOTS_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "policy/image.h"

/* One entry to file: its slot hash (img_slot_hash()) and the slot as it will be stored (tag
 * and distance are set by policy_slots_fill()). */
struct slot_ent {
	uint64_t sh;
	struct img_slot s;
};

/**
 * Put @n entries into the empty table @slots of @count slots (count > n).
 *
 * @param ents   entries, reordered in place (by home slot)
 * @param tmp    scratch room for @n entries (memory the caller is done with and has already
 *               touched: it saves first-touching a fresh array), or NULL to allocate it
 * @param flags  out: IMG_F_DIST_SATURATED is or-ed in when a probe distance saturates
 * @return C2W_OK, or C2W_ENOMEM (the table is then untouched)
 */
C2W_NODISCARD int policy_slots_fill(struct img_slot *slots, uint64_t count, struct slot_ent *ents,
				    size_t n, struct slot_ent *tmp, uint32_t *flags);

/** One entry into @slots (count > entries held): Robin Hood insertion, any order. */
void policy_slots_put(struct img_slot *slots, uint64_t count, const struct slot_ent *e,
		      uint32_t *flags);

#endif
