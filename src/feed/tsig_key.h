/* SPDX-License-Identifier: MIT */
/*
 * TSIG keys in the BIND key-file format that tsig-keygen writes ("key NAME { algorithm ALG;
 * secret "BASE64"; };"). This file only reads the text; the key itself (base64, name, HMAC)
 * is libknot's (knot_tsig_key_init), so no crypto is made here.
 */
#ifndef C2W_FEED_TSIG_KEY_H
#define C2W_FEED_TSIG_KEY_H

#include <libknot/tsig.h>
#include <stddef.h>

#include "core/err.h"

#define FEED_TSIG_TEXT_MAX 512

/** The three fields of one key statement, as text. */
struct feed_tsig_key_text {
	char name[FEED_TSIG_TEXT_MAX];      /* key name, e.g. "feed-key" */
	char algorithm[FEED_TSIG_TEXT_MAX]; /* hmac-sha1, hmac-sha256, hmac-sha384, hmac-sha512 */
	char secret[FEED_TSIG_TEXT_MAX];    /* base64, not decoded */
};

/**
 * Parse the text of a BIND key file: exactly one key statement with an algorithm and a
 * secret; "#", "//" and C comments allowed. Only RFC 8945's HMAC-SHA algorithms are taken.
 *
 * @param text  file contents, borrowed; need not be NUL-terminated
 * @param err   out: "line N: why" on failure
 * @return C2W_OK or C2W_EMALF
 */
C2W_NODISCARD int feed_tsig_key_parse(const char *text, size_t len, struct feed_tsig_key_text *out,
				      char *err, size_t err_len);

/**
 * Read @path and make the libknot key (caller deinitialises it with knot_tsig_key_deinit()).
 *
 * @return C2W_OK, C2W_EMALF (bad file or secret; reason in @err), negative errno from open/read
 */
C2W_NODISCARD int feed_tsig_key_load(const char *path, knot_tsig_key_t *key, char *err,
				     size_t err_len);

#endif
