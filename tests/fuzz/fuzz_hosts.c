/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: hosts files and domain lists (the first input byte picks the format), then
 * compile and query the result.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/name.h"
#include "policy/feed.h"
#include "policy/image.h"
#include "policy/rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy_zone_spec spec = {.name = "hosts.", .file = "fuzz"};
	uint8_t *img = NULL;
	size_t img_len;
	bool domains = size > 0 && (data[0] & 1);

	if (size > 0) {
		data++;
		size--;
	}
	struct policy_rules *r = policy_rules_new(NULL);
	if (r == NULL)
		return 0;
	/* expires= is compared with a fixed time, so an input behaves the same on every run. */
	policy_rules_set_now(r, 1796299200); /* 2026-12-03T12:00:00Z */
	if (policy_rules_zone_add(r, &spec) != 0 ||
	    policy_feed_hosts_parse(r, 0, (const char *)data, size, "fuzz", domains) != C2W_OK ||
	    policy_rules_compile(r, false, &img, &img_len) != C2W_OK)
		goto out;
	struct policy_snap s;
	memset(&s, 0, sizeof(s));
	if (policy_img_attach(&s, img, img_len, NULL, 0) == C2W_OK) {
		struct dns_query q;
		struct policy_hit h;
		size_t len;
		memset(&q, 0, sizeof(q));
		if (dns_name_from_text("a.b.example.", NULL, q.qname, &len) == C2W_OK) {
			q.qname_len = (uint8_t)len;
			q.qtype = DNS_TYPE_A;
			q.has_question = true;
			(void)policy_match_query(&s, &q, NULL, &h, NULL);
		}
		free(s.filter); /* built by attach; the image itself is freed below */
	}
out:
	free(img);
	policy_rules_free(r);
	return 0;
}
