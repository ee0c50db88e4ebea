/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the zone-cut cache's readers of upstream answers (src/resolve/cuts.c): arbitrary bytes
 * as the answer to "NAME NS" and to the address look-ups of its NS names, with the rcode taken
 * from the input. Every entry read back must stay within its bounds.
 */
#include <stdlib.h>
#include <string.h>

#include "dns/msg.h"
#include "resolve/cuts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct resolve_cuts *cuts;
	/* "b.a.tld." and the name asked when the input's question is longer. */
	static const uint8_t name[] = {1, 'b', 1, 'a', 3, 't', 'l', 'd', 0};
	if (cuts == NULL && (cuts = resolve_cuts_new(16)) == NULL)
		abort();
	int rcode = size > 3 ? data[3] & 0x0f : 0;
	const struct resolve_cut *c = resolve_cuts_learn_ns(cuts, name, rcode, data, size, 1);
	if (c == NULL || c->ns_count > RESOLVE_CUT_NS_MAX || c->addr_count > RESOLVE_CUT_ADDR_MAX)
		abort();
	for (unsigned i = 0; i < c->ns_count; i++) {
		uint16_t qt;
		if (dns_name_wire_len(resolve_cut_ns(c, i), DNS_NAME_WIRE_MAX) < 1)
			abort();
		if (resolve_cut_wants(c, i, &qt))
			resolve_cuts_learn_addr(cuts, name, i, qt, rcode, data, size, 1);
	}
	c = resolve_cuts_find(cuts, name, 1);
	if (c != NULL)
		for (unsigned i = 0; i < c->addr_count; i++)
			if (c->addrs[i].ns >= c->ns_count)
				abort();
	return 0;
}
