/* SPDX-License-Identifier: MIT */
/*
 * Slot table fill: an LSD radix sort of the entries on the top bits of their slot hash (the
 * home slot is a monotonic function of it, img_slot_index()), then Robin Hood insertion in
 * that order. In home order an entry rarely displaces another, and the table, the largest
 * array of the compile, is written nearly sequentially. Any insertion order yields a valid
 * Robin Hood table with the same lookup results; this one is just cache-friendly.
 */
#include "policy/slots.h"

#include <stdlib.h>
#include <string.h>


#define DIGIT_BITS 11
#define DIGITS     2 /* the top 22 bits: about 3 slots per bucket at 12M slots */

void policy_slots_put(struct img_slot *slots, uint64_t count, const struct slot_ent *e,
		      uint32_t *flags)
{
	uint64_t i = img_slot_index(e->sh, count);
	struct img_slot cur = e->s;

	cur.tag = img_tag(e->sh);
	for (;;) {
		if (slots[i].key_off == 0) {
			slots[i] = cur;
			return;
		}
		if ((slots[i].tag & 0xff) < (cur.tag & 0xff)) {
			struct img_slot t = slots[i];
			slots[i] = cur;
			cur = t;
		}
		i = i + 1 == count ? 0 : i + 1;
		if ((cur.tag & 0xff) == 0xff)
			*flags |= IMG_F_DIST_SATURATED;
		else
			cur.tag++;
	}
}

/* One stable counting-sort pass on the digit at @shift, from @src into @dst. */
static void radix_pass(const struct slot_ent *src, struct slot_ent *dst, size_t n, unsigned shift)
{
	size_t pos[1u << DIGIT_BITS] = {0};
	const uint64_t mask = (1u << DIGIT_BITS) - 1;

	for (size_t i = 0; i < n; i++)
		pos[(src[i].sh >> shift) & mask]++;
	size_t sum = 0;
	for (size_t d = 0; d <= mask; d++) {
		size_t c = pos[d];
		pos[d] = sum;
		sum += c;
	}
	for (size_t i = 0; i < n; i++)
		dst[pos[(src[i].sh >> shift) & mask]++] = src[i];
}

int policy_slots_fill(struct img_slot *slots, uint64_t count, struct slot_ent *ents, size_t n,
		      struct slot_ent *tmp, uint32_t *flags)
{
	/* Small tables fit in the cache: sorting would only cost. */
	if (n >= 4096) {
		struct slot_ent *own = NULL;
		if (tmp == NULL && (tmp = own = malloc(n * sizeof(*tmp))) == NULL)
			return C2W_ENOMEM;
		struct slot_ent *a = ents, *b = tmp;
		for (unsigned d = 0; d < DIGITS; d++) {
			radix_pass(a, b, n, 64 - DIGIT_BITS * (DIGITS - d));
			struct slot_ent *t = a;
			a = b;
			b = t;
		}
		if (a != ents)
			memcpy(ents, a, n * sizeof(*ents));
		free(own);
	}
	for (size_t i = 0; i < n; i++)
		policy_slots_put(slots, count, &ents[i], flags);
	return C2W_OK;
}
