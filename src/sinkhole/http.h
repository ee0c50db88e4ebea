/* SPDX-License-Identifier: MIT */
/*
 * HTTP/1.x request head parser for the sinkhole (RFC 9112): strict, in place, no allocation.
 * It reads the request line and header fields and keeps the few fields the sinkhole needs;
 * bodies are not read (the server answers and closes). Accept-Language selection lives here
 * too. The connection handling is in server.c.
 */
#ifndef C2W_SINKHOLE_HTTP_H
#define C2W_SINKHOLE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "sinkhole/sinkhole.h"

#define SINKHOLE_HTTP_TARGET_MAX 2048 /* longer request-target: 414 */
#define SINKHOLE_HTTP_HOST_MAX   255  /* normalised host, without NUL */

/** A slice of the input buffer. */
struct sinkhole_slice {
	const char *p;
	size_t len;
};

struct sinkhole_http_req {
	size_t consumed; /* bytes of the head including the empty line (and leading CRLFs) */
	struct sinkhole_slice method;
	struct sinkhole_slice target;
	uint8_t version_minor;      /* HTTP/1.<minor>: 0 or 1 */
	struct sinkhole_slice host; /* Host field, or the authority of an absolute-form target */
	struct sinkhole_slice user_agent;
	struct sinkhole_slice accept_language;
	bool has_host;
	bool has_user_agent;
	bool has_body; /* Content-Length > 0 or Transfer-Encoding present */
	bool close;    /* "Connection: close", or HTTP/1.0 without "keep-alive" */
	unsigned field_count;
};

struct sinkhole_http_limits {
	size_t header_max;     /* request line + fields + empty line */
	unsigned header_count; /* fields */
};

/**
 * Parse one request head from the start of @buf. Pipelined requests: call again at
 * @buf + req->consumed.
 *
 * @param buf     received bytes, borrowed; @req points into it
 * @param len     how many
 * @param lim     limits
 * @param req     out: valid on C2W_OK
 * @return C2W_OK (head complete), C2W_EAGAIN (need more bytes, still within limits),
 *         C2W_EMALF (400: bad syntax, bare CR, obs-fold, space before colon, duplicate or
 *         missing Host in HTTP/1.1, bad Content-Length, control bytes),
 *         C2W_ESPACE (414: request-target longer than SINKHOLE_HTTP_TARGET_MAX),
 *         C2W_ERANGE (431: head larger than header_max or more than header_count fields),
 *         C2W_EVERSION (505: HTTP/2 preface or a version other than 1.0 and 1.1)
 */
C2W_NODISCARD int sinkhole_http_parse(const char *buf, size_t len,
				      const struct sinkhole_http_limits *lim,
				      struct sinkhole_http_req *req);

/**
 * Normalise a Host value for lookup and display: strip the port (and IPv6 brackets' port),
 * lower-case ASCII, drop one trailing dot.
 *
 * @param out  out: NUL-terminated, at least SINKHOLE_HTTP_HOST_MAX + 1 bytes
 * @return length (>= 0), or C2W_EMALF when empty or longer than SINKHOLE_HTTP_HOST_MAX
 */
int sinkhole_http_host_normalise(struct sinkhole_slice host, char *out);

/**
 * Pick the page language from an Accept-Language value (RFC 9110 12.5.4, 12.4.2): the range
 * with the highest q among "ja", "ja-*", "en", "en-*" and "*" wins; equal q: the first listed;
 * q=0 excludes; "*" stands for Japanese unless English is named with a higher q. Anything
 * malformed is skipped element by element. Nothing usable: Japanese.
 */
enum sinkhole_lang sinkhole_http_lang_pick(struct sinkhole_slice accept_language);

/**
 * Language forced by the query string ("?lang=en" / "?lang=ja", also among other params).
 *
 * @return C2W_OK with @out set, or C2W_ENOENT when the target has no valid lang parameter
 */
int sinkhole_http_lang_query(struct sinkhole_slice target, enum sinkhole_lang *out);

#endif
