/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the zone-transfer message sequence (feed/xfr.c). Byte 0 picks AXFR or
 * IXFR (against a held copy of serial 5) and whether a TSIG key is expected; the rest is a TCP
 * stream of length-prefixed messages answering query ID 0x1234 for "c2.fuzz.example.".
 */
#include <libknot/tsig.h>
#include <stdint.h>
#include <string.h>

#include "feed/xfr.h"
#include "feed/zone.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct feed_zone *held(void)
{
	struct feed_zone *z;
	struct feed_soa soa = {.serial = 5, .refresh = 60, .retry = 10, .expire = 600};
	if (feed_zone_new("c2.fuzz.example.", &z) != C2W_OK)
		return NULL;
	if (feed_zone_set_soa(z, "c2.fuzz.example. 300 IN SOA ns. host. 5 60 10 600 300", &soa) !=
		C2W_OK ||
	    feed_zone_add(z, "a.c2.fuzz.example. 300 IN A 10.0.0.1") != C2W_OK) {
		feed_zone_free(z);
		return NULL;
	}
	return z;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	bool ixfr = data[0] & 1, signed_ = data[0] & 2;
	data++;
	size--;
	knot_tsig_key_t key;
	memset(&key, 0, sizeof(key));
	if (signed_ && knot_tsig_key_init(&key, "hmac-sha256", "fuzz-key",
					  "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0") != 0)
		return 0;
	struct feed_zone *cur = held(), *out = NULL;
	struct feed_xfr *x = NULL;
	if (cur == NULL ||
	    feed_xfr_new("c2.fuzz.example.", ixfr ? FEED_XFR_IXFR : FEED_XFR_AXFR, cur,
			 signed_ ? &key : NULL, &x) != C2W_OK)
		goto out;
	uint8_t q[512];
	size_t qlen;
	if (feed_xfr_query(x, 0x1234, q, sizeof(q), &qlen) != C2W_OK)
		goto out;
	int ret = 0;
	while (ret == 0 && size >= 2) {
		size_t len = (size_t)data[0] << 8 | data[1];
		if (len > size - 2)
			len = size - 2;
		ret = feed_xfr_input(x, data + 2, len);
		data += 2 + len;
		size -= 2 + len;
	}
	enum feed_xfr_kind kind;
	if (ret == 1 && feed_xfr_finish(x, cur, &out, &kind) == C2W_OK && out != NULL)
		(void)feed_zone_count(out);
out:
	feed_zone_free(out);
	feed_xfr_free(x);
	feed_zone_free(cur);
	if (signed_)
		knot_tsig_key_deinit(&key);
	return 0;
}
