/* SPDX-License-Identifier: MIT */
/*
 * The warning page: templates (operator directory or built-in), operator text, rendering with
 * escaped placeholders. Template language, deliberately tiny: {{name}} inserts an escaped
 * value, {{#name}}...{{/name}} keeps its body when the value is non-empty, {{^name}}...
 * {{/name}} when it is empty. Names: domain family category time known isp steps links optout
 * contact css lang. steps, links and css are HTML built here from escaped parts (css is the
 * operator's file). No I/O after sinkhole_page_new(); server.c sends the bytes.
 */
#ifndef C2W_SINKHOLE_PAGE_H
#define C2W_SINKHOLE_PAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "sinkhole/sinkhole.h"

#define SINKHOLE_TEMPLATE_MAX (64 * 1024) /* one template or style.css, bytes */

struct sinkhole_page;

/** One page to render; strings borrowed for the call. */
struct sinkhole_page_req {
	enum sinkhole_lang lang;
	const char *domain;               /* normalised Host; NULL or "" when none */
	const struct sinkhole_info *info; /* NULL when the name is not known as blocked */
	int64_t time_s;                   /* shown time (DNS hit, else request), unix seconds */
};

/**
 * Load templates and copy operator text.
 *
 * @param dir   directory holding page.ja.html, page.en.html, style.css, text.ja.txt,
 *              text.en.txt (each optional: a missing file takes the built-in one; see
 *              sinkhole/text.h); NULL = all built-in
 * @param text  operator text per language, borrowed; NULL fields take the text file's, then
 *              the built-in text
 * @param out   out: free with sinkhole_page_free()
 * @return C2W_OK; C2W_EIO (a file unreadable, larger than SINKHOLE_TEMPLATE_MAX, an unknown
 *         placeholder, an unclosed section, a bad text file line; logged with file and line);
 * C2W_EINVAL (a link that is not http(s) or points at a download: .exe .msi .apk .zip ...);
 * C2W_ENOMEM
 */
C2W_NODISCARD int sinkhole_page_new(const char *dir, const struct sinkhole_text *text,
				    struct sinkhole_page **out);

void sinkhole_page_free(struct sinkhole_page *pg);

/**
 * Render the page.
 *
 * @param out       buffer of at least sinkhole_page_size_max() bytes for success
 * @return length (> 0, no NUL), or C2W_ESPACE
 */
int sinkhole_page_render(const struct sinkhole_page *pg, const struct sinkhole_page_req *req,
			 char *out, size_t out_size);

/** An upper bound on any rendered page of @pg. */
size_t sinkhole_page_size_max(const struct sinkhole_page *pg);

/**
 * HTML-escape @len bytes of @in (& < > " ' become entities). With @ascii_only, bytes outside
 * 0x20..0x7e are written as %XX too (client-supplied names).
 *
 * @return length written (no NUL), or C2W_ESPACE
 */
int sinkhole_page_escape(const char *in, size_t len, bool ascii_only, char *out, size_t out_size);

#endif
