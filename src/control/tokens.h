/* SPDX-License-Identifier: MIT */
/*
 * Bearer tokens of the HTTP API (docs/operations.md, "Tokens"). The token file has one token
 * per line, "read TOKEN" or "admin TOKEN"; '#' starts a comment. Only SHA-256 digests of the
 * tokens are kept in memory; a presented token is hashed and compared with every digest in
 * constant time, so neither its length nor its prefix shows in the answer time.
 */
#ifndef C2W_CONTROL_TOKENS_H
#define C2W_CONTROL_TOKENS_H

#include <stddef.h>

#include "core/err.h"

#define CONTROL_TOKENS_MAX    256
#define CONTROL_TOKEN_MIN_LEN 16
#define CONTROL_TOKEN_MAX_LEN 256

enum control_role {
	CONTROL_ROLE_NONE = 0, /* no token or a wrong one */
	CONTROL_ROLE_READ,     /* stats, metrics, feeds, explain, incidents, opt-out list */
	CONTROL_ROLE_ADMIN,    /* everything read may do, plus reload and changes */
};

struct control_tokens;

/**
 * Parse a token file's text. Pure; fuzzed by fuzz_http_auth.c.
 *
 * @param text  file contents (need not be NUL-terminated), borrowed for the call
 * @param line  out: on C2W_EMALF, the 1-based line at fault
 * @param out   out: the token set, freed with control_tokens_free(); untouched on failure
 * @return C2W_OK, C2W_EMALF (unknown role, token shorter than 16 or longer than 256
 *         characters or outside RFC 6750's b64token alphabet), C2W_EFULL (more than 256
 *         tokens), C2W_ENOENT (no token at all), C2W_ENOMEM
 */
C2W_NODISCARD int control_tokens_parse(const char *text, size_t len, unsigned *line,
				       struct control_tokens **out);

/**
 * Read and parse the token file at @path. It must be a regular file that other users cannot
 * read or write (mode o-rwx): the tokens are credentials.
 *
 * @param err  out: "PATH:LINE: reason" on failure
 * @return C2W_OK, C2W_EACCES (mode), C2W_EMALF, C2W_EFULL, C2W_ENOENT, negative errno
 */
C2W_NODISCARD int control_tokens_load(const char *path, struct control_tokens **out, char *err,
				      size_t err_len);

/** Free the set (digests are wiped first); NULL does nothing. */
void control_tokens_free(struct control_tokens *t);

/** Number of tokens in the set. */
size_t control_tokens_count(const struct control_tokens *t);

/**
 * The role an Authorization header value grants. Pure; fuzzed.
 *
 * @param t              the token set; NULL grants nothing
 * @param authorization  the header's value ("Bearer TOKEN", scheme case-insensitive); NULL
 *                       grants nothing
 * @return the role of the matching token, CONTROL_ROLE_NONE when none matches
 */
enum control_role control_tokens_check(const struct control_tokens *t, const char *authorization);

#endif
