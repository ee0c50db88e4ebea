/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: an RPZ master file (zone-file syntax + RPZ trigger/action decoding), then
 * the compiled snapshot is queried for a few names so the compiler and matcher run on whatever
 * the parser accepted. $INCLUDE is rejected (no file system access from fuzz input).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/name.h"
#include "policy/feed.h"
#include "policy/image.h"
#include "policy/rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void query(struct policy_snap *s, const char *name)
{
	struct dns_query q;
	struct policy_hit h, sh;
	size_t len;
	memset(&q, 0, sizeof(q));
	if (dns_name_from_text(name, NULL, q.qname, &len) != C2W_OK)
		return;
	q.qname_len = (uint8_t)len;
	q.qtype = DNS_TYPE_A;
	q.has_question = true;
	if (policy_match_query(s, &q, NULL, &h, &sh) != POLICY_VERDICT_NONE) {
		uint8_t buf[1232];
		struct dns_answer ans = {.wire = buf, .cap = sizeof(buf)};
		if (policy_answer_build(s, &q, &h, NULL, 0, &ans) == C2W_OK && ans.len < 12)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy_zone_spec spec = {.name = "rpz.example.", .file = "fuzz"};
	struct policy_rules *r = policy_rules_new(NULL);
	uint8_t *img = NULL;
	size_t img_len;

	if (r == NULL)
		return 0;
	/* expires= is compared with a fixed time, so an input behaves the same on every run. */
	policy_rules_set_now(r, 1796299200); /* 2026-12-03T12:00:00Z */
	if (policy_rules_zone_add(r, &spec) != 0)
		goto out;
	if (policy_feed_rpz_parse(r, 0, (const char *)data, size, "fuzz", false) != C2W_OK)
		goto out;
	if (policy_rules_compile(r, false, &img, &img_len) != C2W_OK)
		goto out;
	struct policy_snap s;
	memset(&s, 0, sizeof(s));
	if (policy_img_attach(&s, img, img_len, NULL, 0) == C2W_OK) {
		query(&s, "a.example.");
		query(&s, "x.y.example.");
		query(&s, "rpz.example.");
		free(s.filter); /* built by attach; the image itself is freed below */
	}
out:
	free(img);
	policy_rules_free(r);
	return 0;
}
