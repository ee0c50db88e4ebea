/* SPDX-License-Identifier: MIT */
/*
 * Pseudonymisation of client addresses: HMAC-SHA256 (OpenSSL) over the address bytes with a
 * secret key from a key file. Same key, same address -> same pseudonym; a new key gives an
 * unrelated one. The key file is created (mode 0600) when missing and rotated on schedule;
 * it keeps the current and the previous key, each with an id (first 8 hex digits of the
 * SHA-256 of the key) that records and exports carry, so they say which key made them.
 *
 * Key file: "c2wall-pseudonym-key 1" then lines "<id> <created unix s> <64 hex digits>",
 * oldest first; the last line is the current key. Written by temp file + fsync + rename.
 */
#ifndef C2W_EVENTS_PSEUDO_H
#define C2W_EVENTS_PSEUDO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define EVENTS_PSEUDO_LEN 32 /* hex chars of a pseudonym (128 bits of the HMAC) */
#define EVENTS_KEY_ID_LEN 8
#define EVENTS_PSEUDO_CAP (EVENTS_PSEUDO_LEN + 1)
#define EVENTS_KEY_ID_CAP (EVENTS_KEY_ID_LEN + 1)

struct events_pseudo;

/**
 * Load the key file, creating it with a fresh random key (mode 0600) when missing.
 *
 * @param path        key file, copied; NULL: an ephemeral random key in memory (tests, or a
 *                    deployment that wants pseudonyms unlinkable across restarts)
 * @param rotation_s  rotate when the current key is this old; 0 = never
 * @param out         out: free with events_pseudo_free()
 * @return C2W_OK, C2W_EMALF (bad file), C2W_EACCES (file readable by others), negative errno
 */
C2W_NODISCARD int events_pseudo_open(const char *path, unsigned rotation_s,
				     struct events_pseudo **out);

void events_pseudo_free(struct events_pseudo *ps);

/**
 * Rotate when the current key is older than the schedule: new random key, previous kept.
 * Single thread (the event thread, or the CLI).
 *
 * @param now_s  realtime seconds
 * @return 1 when rotated, 0 when not due, or a negative error (the old key stays in use)
 */
int events_pseudo_maybe_rotate(struct events_pseudo *ps, uint64_t now_s);

/** Force a rotation now (tests, "c2wall ... rotate"). @return C2W_OK or error. */
C2W_NODISCARD int events_pseudo_rotate(struct events_pseudo *ps, uint64_t now_s);

/**
 * Pseudonym of an address under the current key.
 *
 * @param family  AF_INET (4 bytes of @addr used) or AF_INET6
 * @param out     EVENTS_PSEUDO_CAP bytes: 32 lower-case hex digits + NUL
 */
void events_pseudo_make(const struct events_pseudo *ps, int family, const uint8_t *addr,
			char out[EVENTS_PSEUDO_CAP]);

/** Id of the current key (8 hex digits + NUL); pointer valid until the next rotation. */
const char *events_pseudo_key_id(const struct events_pseudo *ps);

#endif
