/* SPDX-License-Identifier: MIT */
/*
 * BIND key-file reader: a small tokenizer (words, quoted strings, braces, semicolons,
 * comments) and the one statement we accept. Decoding and HMAC belong to libknot.
 */
#include "feed/tsig_key.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define KEY_FILE_MAX 8192 /* a key file is a few lines */

enum tok_kind { TOK_END, TOK_WORD, TOK_STRING, TOK_OPEN, TOK_CLOSE, TOK_SEMI, TOK_BAD };

struct lexer {
	const char *p, *end;
	unsigned line;
	char text[FEED_TSIG_TEXT_MAX];
};

/* Skip blanks and the three comment styles BIND's parser knows. */
static bool skip_space(struct lexer *lx)
{
	while (lx->p < lx->end) {
		char c = *lx->p;
		if (c == '\n') {
			lx->line++;
			lx->p++;
		} else if (c == ' ' || c == '\t' || c == '\r') {
			lx->p++;
		} else if (c == '#' || (c == '/' && lx->p + 1 < lx->end && lx->p[1] == '/')) {
			while (lx->p < lx->end && *lx->p != '\n')
				lx->p++;
		} else if (c == '/' && lx->p + 1 < lx->end && lx->p[1] == '*') {
			lx->p += 2;
			while (lx->p + 1 < lx->end && !(lx->p[0] == '*' && lx->p[1] == '/')) {
				if (*lx->p == '\n')
					lx->line++;
				lx->p++;
			}
			if (lx->p + 1 >= lx->end)
				return false; /* unterminated comment */
			lx->p += 2;
		} else {
			break;
		}
	}
	return true;
}

static enum tok_kind lex_string(struct lexer *lx)
{
	size_t n = 0;
	lx->p++;
	while (lx->p < lx->end && *lx->p != '"') {
		if (*lx->p == '\n' || n + 1 >= sizeof(lx->text))
			return TOK_BAD;
		lx->text[n++] = *lx->p++;
	}
	if (lx->p >= lx->end)
		return TOK_BAD;
	lx->p++;
	lx->text[n] = '\0';
	return TOK_STRING;
}

static enum tok_kind lex(struct lexer *lx)
{
	if (!skip_space(lx))
		return TOK_BAD;
	if (lx->p >= lx->end)
		return TOK_END;
	char c = *lx->p;
	if (c == '{' || c == '}' || c == ';') {
		lx->p++;
		return c == '{' ? TOK_OPEN : c == '}' ? TOK_CLOSE : TOK_SEMI;
	}
	if (c == '"')
		return lex_string(lx);
	size_t n = 0;
	while (lx->p < lx->end && strchr(" \t\r\n{};\"#", *lx->p) == NULL) {
		if ((unsigned char)*lx->p < 0x20 || n + 1 >= sizeof(lx->text))
			return TOK_BAD;
		lx->text[n++] = *lx->p++;
	}
	if (n == 0)
		return TOK_BAD;
	lx->text[n] = '\0';
	return TOK_WORD;
}

static int bad(struct lexer *lx, char *err, size_t err_len, const char *why)
{
	if (err != NULL && err_len > 0)
		snprintf(err, err_len, "line %u: %s", lx->line, why);
	return C2W_EMALF;
}

static bool algorithm_ok(const char *alg)
{
	static const char *const ok[] = {"hmac-sha1", "hmac-sha256", "hmac-sha384", "hmac-sha512"};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strcasecmp(alg, ok[i]) == 0)
			return true;
	return false;
}

/* One "algorithm X;" or "secret "X";" inside the braces. */
static int parse_field(struct lexer *lx, struct feed_tsig_key_text *out, char *err,
		       size_t err_len)
{
	char *dst;
	if (strcasecmp(lx->text, "algorithm") == 0)
		dst = out->algorithm;
	else if (strcasecmp(lx->text, "secret") == 0)
		dst = out->secret;
	else
		return bad(lx, err, err_len, "expected 'algorithm' or 'secret'");
	if (dst[0] != '\0')
		return bad(lx, err, err_len, "field given twice");
	enum tok_kind t = lex(lx);
	if ((t != TOK_WORD && t != TOK_STRING) || lx->text[0] == '\0')
		return bad(lx, err, err_len, "missing value");
	memcpy(dst, lx->text, strlen(lx->text) + 1);
	if (lex(lx) != TOK_SEMI)
		return bad(lx, err, err_len, "expected ';'");
	return C2W_OK;
}

int feed_tsig_key_parse(const char *text, size_t len, struct feed_tsig_key_text *out, char *err,
			size_t err_len)
{
	struct lexer lx = {.p = text, .end = text + len, .line = 1};
	memset(out, 0, sizeof(*out));
	if (lex(&lx) != TOK_WORD || strcasecmp(lx.text, "key") != 0)
		return bad(&lx, err, err_len, "expected 'key'");
	enum tok_kind t = lex(&lx);
	if ((t != TOK_WORD && t != TOK_STRING) || lx.text[0] == '\0')
		return bad(&lx, err, err_len, "expected the key name");
	memcpy(out->name, lx.text, strlen(lx.text) + 1);
	if (lex(&lx) != TOK_OPEN)
		return bad(&lx, err, err_len, "expected '{'");
	while ((t = lex(&lx)) == TOK_WORD) {
		int ret = parse_field(&lx, out, err, err_len);
		if (ret != C2W_OK)
			return ret;
	}
	if (t != TOK_CLOSE || lex(&lx) != TOK_SEMI)
		return bad(&lx, err, err_len, "expected '};'");
	if (lex(&lx) != TOK_END)
		return bad(&lx, err, err_len, "one key statement per file");
	if (out->algorithm[0] == '\0' || out->secret[0] == '\0')
		return bad(&lx, err, err_len, "a key needs an algorithm and a secret");
	if (!algorithm_ok(out->algorithm))
		return bad(&lx, err, err_len,
			   "algorithm must be hmac-sha1, hmac-sha256, hmac-sha384 or hmac-sha512");
	return C2W_OK;
}

static int read_small(const char *path, char *buf, size_t cap, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t n = 0;
	ssize_t r = 0;
	while (n < cap && (r = read(fd, buf + n, cap - n)) > 0)
		n += (size_t)r;
	int ret = (r < 0) ? -errno : C2W_OK;
	close(fd);
	if (ret == C2W_OK && n == cap)
		ret = C2W_ERANGE;
	*len = n;
	return ret;
}

int feed_tsig_key_load(const char *path, knot_tsig_key_t *key, char *err, size_t err_len)
{
	char buf[KEY_FILE_MAX];
	size_t len = 0;
	int ret = read_small(path, buf, sizeof(buf), &len);
	if (ret != C2W_OK) {
		snprintf(err, err_len, "%s: %s", path, c2w_strerror(ret));
		return ret;
	}
	struct feed_tsig_key_text kt;
	char why[256] = "";
	ret = feed_tsig_key_parse(buf, len, &kt, why, sizeof(why));
	if (ret != C2W_OK) {
		snprintf(err, err_len, "%s: %s", path, why);
		return ret;
	}
	memset(key, 0, sizeof(*key));
	if (knot_tsig_key_init(key, kt.algorithm, kt.name, kt.secret) != 0) {
		snprintf(err, err_len, "%s: bad key name or base64 secret", path);
		return C2W_EMALF;
	}
	explicit_bzero(&kt, sizeof(kt));
	explicit_bzero(buf, sizeof(buf));
	return C2W_OK;
}
