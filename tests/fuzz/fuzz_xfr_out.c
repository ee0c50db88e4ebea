/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: what the serving side reads from outside. Byte 0 even: the rest is an IXFR
 * journal file as read at start (feed_out_journal_parse, against a small version so that
 * adoption is reachable too). Byte 0 odd: the rest is a transfer request from a client
 * (feed_out_request_parse with a key), answered in full from a version with a journal, so
 * any client serial walks the stream planner.
 */
#include <libknot/libknot.h>
#include <stdint.h>
#include <string.h>

#include "feed/xfr_out.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t origin[] = "\002c2\004fuzz\007example";

static struct feed_out_ver *make(struct feed_out_ver *prev, uint8_t last)
{
	struct feed_rrs rrs = {0};
	uint8_t owner[64] = "\001a";
	memcpy(owner + 2, origin, sizeof(origin));
	uint8_t a[4] = {10, 0, 0, last};
	struct feed_out_soa t = {.ttl = 300, .refresh = 60, .retry = 10, .expire = 600};
	memcpy(t.origin, origin, sizeof(origin));
	t.origin_len = sizeof(origin);
	memcpy(t.mname, "\000", 1);
	t.mname_len = 1;
	memcpy(t.rname, "\000", 1);
	t.rname_len = 1;
	t.feed_serial = last;
	struct feed_out_limits lim = {.versions = 4, .bytes = 1 << 16};
	struct feed_out_ver *v = NULL;
	bool changed;
	if (feed_rrs_add(&rrs, owner, 2 + sizeof(origin), KNOT_RRTYPE_A, 300, a, 4) != C2W_OK ||
	    feed_out_ver_next(prev, 0, &rrs, &t, &lim, &v, &changed) != C2W_OK)
		v = NULL;
	feed_rrs_free(&rrs);
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct feed_out_ver *v1 = make(NULL, 1);
	struct feed_out_ver *v2 = v1 ? make(v1, 2) : NULL;
	if (v2 == NULL)
		goto out;
	if ((data[0] & 1) == 0) {
		uint32_t serial;
		(void)!feed_out_journal_parse(v2, data + 1, size - 1, &serial);
		goto out;
	}
	knot_tsig_key_t key;
	if (knot_tsig_key_init(&key, "hmac-sha256", "xfr-key", "c2VjcmV0c2VjcmV0") != 0)
		goto out;
	struct feed_out_req req;
	if (feed_out_request_parse(data + 1, size - 1, &key, &req) == C2W_OK) {
		static uint8_t buf[65536];
		size_t len;
		(void)feed_out_error(&req, KNOT_RCODE_NOTAUTH, &key, buf, sizeof(buf));
		struct feed_out_stream *st;
		if (feed_out_stream_new(v2, &req, &key, 512, &st) == C2W_OK) {
			for (int i = 0;
			     i < 64 && feed_out_stream_next(st, buf, sizeof(buf), &len) == 1; i++)
				if (len > sizeof(buf))
					__builtin_trap();
			feed_out_stream_free(st);
		}
	}
	knot_tsig_key_deinit(&key);
out:
	feed_out_ver_unref(v2);
	feed_out_ver_unref(v1);
	return 0;
}
