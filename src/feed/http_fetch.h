/* SPDX-License-Identifier: MIT */
/*
 * One download of an HTTP(S) feed with libcurl, blocking, for the transfer thread: a
 * conditional GET (ETag / Last-Modified of the copy held), TLS verified, http and https
 * only, redirects bounded and never from https down to http, caps on size, total time and
 * low speed. The body lands in a file replaced atomically; what it means is the policy
 * engine's business. Also the copy's validators on disk ("<copy>.meta").
 *
 *   feed_http_global_init();                       once, before any thread downloads
 *   ret = feed_http_fetch(url, &lim, &have, cand, &got, &status, err, sizeof(err));
 *   FEED_HTTP_NEW: @cand holds the body; FEED_HTTP_NOT_MODIFIED: 304; < 0: @err says why
 */
#ifndef C2W_FEED_HTTP_FETCH_H
#define C2W_FEED_HTTP_FETCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define FEED_HTTP_MAX_REDIRECTS 5

enum feed_http_result {
	FEED_HTTP_NOT_MODIFIED = 0, /* 304: the copy held is current */
	FEED_HTTP_NEW = 1,          /* 200: a new body was written */
};

struct feed_http_limits {
	uint64_t max_bytes;       /* body cap, after content decoding */
	unsigned timeout_ms;      /* whole download, connection included */
	unsigned low_speed_bytes; /* abort when under this many bytes/s ... */
	unsigned low_speed_s;     /* ... for this many seconds; 0 = no check */
	const char *ca_file;      /* PEM bundle to verify the server; NULL = system store */
	const atomic_bool *stop;  /* set: abort at once; may be NULL */
};

/** Validators of a copy, as the server sent them (printable ASCII only; "" = none). */
struct feed_http_meta {
	int64_t refreshed; /* unix time of the last successful download or 304; 0 = unknown */
	char url[1024];    /* where the copy came from: validators are only sent back there */
	char etag[256];
	char last_modified[128];
};

/** libcurl's global set-up; call from the main thread before any download. */
C2W_NODISCARD int feed_http_global_init(void);
/** Undo one feed_http_global_init() once no download runs. */
void feed_http_global_cleanup(void);

/**
 * GET @url. With @have's validators (and @have->url equal to @url), ask conditionally.
 *
 * @param have    validators of the copy held; NULL = unconditional
 * @param path    where a new body goes (temp file, fsync, rename; mode 0640)
 * @param got     out: the new body's validators (url and refreshed set) on FEED_HTTP_NEW
 * @param status  out: the final HTTP status, 0 when no response came
 * @param err     out: why, on failure ("HTTP 404", libcurl's text, "body over N bytes")
 * @return FEED_HTTP_NEW, FEED_HTTP_NOT_MODIFIED, C2W_EFEED (any download failure),
 *         C2W_EAGAIN (stopped), C2W_ENOMEM, or a negative errno writing @path
 */
C2W_NODISCARD int feed_http_fetch(const char *url, const struct feed_http_limits *lim,
				  const struct feed_http_meta *have, const char *path,
				  struct feed_http_meta *got, long *status, char *err,
				  size_t err_len);

/**
 * Keep @meta beside the copy at @copy_path, as "<copy_path>.meta" (temp, fsync, rename).
 * @return C2W_OK, C2W_EINVAL (path too long) or a negative errno
 */
C2W_NODISCARD int feed_http_meta_write(const char *copy_path, const struct feed_http_meta *meta);

/**
 * Read "<copy_path>.meta". Unknown lines are ignored; values that are not printable ASCII
 * are dropped.
 *
 * @return C2W_OK, C2W_ENOENT, C2W_EMALF (not ours), negative errno
 */
C2W_NODISCARD int feed_http_meta_read(const char *copy_path, struct feed_http_meta *meta);

/**
 * Are the files at @a and @b byte for byte the same (a 200 that repeats the copy in force)?
 * @return false also when either cannot be read
 */
bool feed_http_copy_same(const char *a, const char *b);

/**
 * One response header line as the server sent it (CRLF included, not NUL-terminated): a
 * status line ("HTTP/...") clears @m's validators (a redirect's do not count), "ETag:" and
 * "Last-Modified:" set them when the value is printable ASCII that fits. Others: ignored.
 */
void feed_http_header(struct feed_http_meta *m, const char *line, size_t len);

#endif
