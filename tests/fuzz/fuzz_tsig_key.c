/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the BIND key-file reader (feed_tsig_key_parse), then libknot's key set-up
 * on what it accepted, as feed_tsig_key_load() does.
 */
#include <libknot/tsig.h>
#include <stdint.h>
#include <string.h>

#include "feed/tsig_key.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct feed_tsig_key_text kt;
	char err[128];
	if (feed_tsig_key_parse((const char *)data, size, &kt, err, sizeof(err)) != C2W_OK)
		return 0;
	/* Accepted fields are NUL-terminated and fit. */
	if (strlen(kt.name) >= sizeof(kt.name) || strlen(kt.secret) >= sizeof(kt.secret))
		__builtin_trap();
	knot_tsig_key_t key;
	memset(&key, 0, sizeof(key));
	if (knot_tsig_key_init(&key, kt.algorithm, kt.name, kt.secret) == 0)
		knot_tsig_key_deinit(&key);
	return 0;
}
