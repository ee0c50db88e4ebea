/* SPDX-License-Identifier: MIT */
/*
 * Bearer tokens: parse the token file, keep SHA-256 digests, check an Authorization header in
 * constant time over the whole set. The HTTP server (http.c) decides what a role may do.
 */
#include "control/tokens.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TOKEN_FILE_MAX (1u << 20)

struct token {
	unsigned char digest[SHA256_DIGEST_LENGTH];
	enum control_role role;
};

struct control_tokens {
	size_t count;
	struct token tok[CONTROL_TOKENS_MAX];
};

/* RFC 6750 section 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" )
 * *"=" (we accept '=' anywhere; it only narrows nothing). */
static bool b64token_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' || c == '=';
}

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* One line without its LF: "" / comment -> 0 tokens, "ROLE TOKEN" -> 1, else C2W_EMALF. */
static int parse_line(const char *s, size_t n, struct token *out)
{
	size_t i = 0;
	while (i < n && blank(s[i]))
		i++;
	if (i == n || s[i] == '#')
		return 0;
	size_t role_at = i;
	while (i < n && !blank(s[i]))
		i++;
	size_t role_len = i - role_at;
	if (role_len == 4 && memcmp(s + role_at, "read", 4) == 0)
		out->role = CONTROL_ROLE_READ;
	else if (role_len == 5 && memcmp(s + role_at, "admin", 5) == 0)
		out->role = CONTROL_ROLE_ADMIN;
	else
		return C2W_EMALF;
	while (i < n && blank(s[i]))
		i++;
	size_t tok_at = i;
	while (i < n && b64token_char((unsigned char)s[i]))
		i++;
	size_t tok_len = i - tok_at;
	while (i < n && blank(s[i]))
		i++;
	if (i != n || tok_len < CONTROL_TOKEN_MIN_LEN || tok_len > CONTROL_TOKEN_MAX_LEN)
		return C2W_EMALF;
	SHA256((const unsigned char *)s + tok_at, tok_len, out->digest);
	return 1;
}

int control_tokens_parse(const char *text, size_t len, unsigned *line, struct control_tokens **out)
{
	struct control_tokens *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return C2W_ENOMEM;
	int ret = C2W_OK;
	unsigned no = 0;
	for (size_t at = 0; at < len;) {
		const char *nl = memchr(text + at, '\n', len - at);
		size_t n = nl ? (size_t)(nl - (text + at)) : len - at;
		no++;
		struct token tok;
		int got = parse_line(text + at, n, &tok);
		if (got < 0 || (got == 1 && t->count == CONTROL_TOKENS_MAX)) {
			ret = got < 0 ? got : C2W_EFULL;
			break;
		}
		if (got == 1)
			t->tok[t->count++] = tok;
		at += n + 1;
	}
	if (ret == C2W_OK && t->count == 0)
		ret = C2W_ENOENT;
	if (ret != C2W_OK) {
		if (line != NULL)
			*line = no;
		control_tokens_free(t);
		return ret;
	}
	*out = t;
	return C2W_OK;
}

static int read_file(const char *path, char **buf, size_t *len, char *err, size_t err_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		int ret = -errno;
		snprintf(err, err_len, "%s: %s", path, c2w_strerror(ret));
		return ret;
	}
	struct stat st;
	int ret = C2W_OK;
	if (fstat(fd, &st) != 0) {
		ret = -errno;
	} else if (!S_ISREG(st.st_mode) || st.st_size > TOKEN_FILE_MAX) {
		ret = C2W_EINVAL;
		snprintf(err, err_len, "%s: not a regular file of at most 1 MiB", path);
	} else if (st.st_mode & S_IRWXO) {
		ret = C2W_EACCES;
		snprintf(err, err_len,
			 "%s: other users may access it (mode %03o); the tokens are credentials: "
			 "chmod o-rwx",
			 path, (unsigned)(st.st_mode & 0777));
	}
	char *b = ret == C2W_OK ? malloc((size_t)st.st_size + 1) : NULL;
	if (ret == C2W_OK && b == NULL)
		ret = C2W_ENOMEM;
	ssize_t got = ret == C2W_OK ? read(fd, b, (size_t)st.st_size) : 0;
	if (ret == C2W_OK && got < 0)
		ret = -errno;
	close(fd);
	if (ret != C2W_OK) {
		if (err[0] == '\0')
			snprintf(err, err_len, "%s: %s", path, c2w_strerror(ret));
		free(b);
		return ret;
	}
	*buf = b;
	*len = (size_t)got;
	return C2W_OK;
}

int control_tokens_load(const char *path, struct control_tokens **out, char *err, size_t err_len)
{
	char *buf = NULL;
	size_t len = 0;
	if (err_len > 0)
		err[0] = '\0';
	int ret = read_file(path, &buf, &len, err, err_len);
	if (ret != C2W_OK)
		return ret;
	unsigned line = 0;
	ret = control_tokens_parse(buf, len, &line, out);
	OPENSSL_cleanse(buf, len);
	free(buf);
	if (ret == C2W_ENOENT)
		snprintf(err, err_len, "%s: no token (lines \"read TOKEN\" or \"admin TOKEN\")",
			 path);
	else if (ret == C2W_EFULL)
		snprintf(err, err_len, "%s:%u: more than %d tokens", path, line,
			 CONTROL_TOKENS_MAX);
	else if (ret != C2W_OK)
		snprintf(err, err_len,
			 "%s:%u: expected \"read TOKEN\" or \"admin TOKEN\", the token %d to %d "
			 "characters of A-Z a-z 0-9 - . _ ~ + / =",
			 path, line, CONTROL_TOKEN_MIN_LEN, CONTROL_TOKEN_MAX_LEN);
	return ret;
}

void control_tokens_free(struct control_tokens *t)
{
	if (t == NULL)
		return;
	OPENSSL_cleanse(t, sizeof(*t));
	free(t);
}

size_t control_tokens_count(const struct control_tokens *t)
{
	return t ? t->count : 0;
}

enum control_role control_tokens_check(const struct control_tokens *t, const char *authorization)
{
	if (t == NULL || authorization == NULL)
		return CONTROL_ROLE_NONE;
	const char *s = authorization;
	if (strncasecmp(s, "Bearer", 6) != 0 || (s[6] != ' ' && s[6] != '\t'))
		return CONTROL_ROLE_NONE;
	s += 6;
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = 0;
	while (b64token_char((unsigned char)s[n]))
		n++;
	for (size_t i = n; s[i] != '\0'; i++)
		if (s[i] != ' ' && s[i] != '\t')
			return CONTROL_ROLE_NONE;
	if (n == 0 || n > CONTROL_TOKEN_MAX_LEN)
		return CONTROL_ROLE_NONE;
	unsigned char d[SHA256_DIGEST_LENGTH];
	SHA256((const unsigned char *)s, n, d);
	/* Every digest is compared, whatever matched before: the time depends on the set's
	 * size only. */
	int role = CONTROL_ROLE_NONE;
	for (size_t i = 0; i < t->count; i++) {
		int eq = CRYPTO_memcmp(d, t->tok[i].digest, sizeof(d)) == 0;
		int mask = -eq;
		role = (role & ~mask) | ((int)t->tok[i].role & mask);
	}
	OPENSSL_cleanse(d, sizeof(d));
	return (enum control_role)role;
}
