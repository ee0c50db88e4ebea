/* SPDX-License-Identifier: MIT */
/*
 * Operator text files of a templates directory, text.ja.txt and text.en.txt: UTF-8 lines
 * "key = value", '#' comments, blank lines ignored. Keys: isp, step (repeatable, in order),
 * link ("label | https://url", repeatable), optout, contact. Plain text, escaped on the page.
 * The daemon's own strings (struct sinkhole_text in the spec) take precedence over the file.
 */
#ifndef C2W_SINKHOLE_TEXT_H
#define C2W_SINKHOLE_TEXT_H

#include <stddef.h>

#include "core/err.h"
#include "sinkhole/sinkhole.h"

#define SINKHOLE_TEXT_ITEMS_MAX 16 /* steps, and links, per language */
#define SINKHOLE_TEXT_FILE_MAX  (32 * 1024)

/** Text parsed from one file; @text points into @buf. */
struct sinkhole_text_file {
	char *buf;
	struct sinkhole_text text;
	const char *steps[SINKHOLE_TEXT_ITEMS_MAX];
	struct sinkhole_link links[SINKHOLE_TEXT_ITEMS_MAX];
};

/**
 * Parse a text file's bytes (copied).
 *
 * @param out   out: release with sinkhole_text_file_deinit(); zeroed on failure
 * @param line  out: 1-based line of the first error
 * @return C2W_OK; C2W_EMALF (a line without " = ", an unknown key, a link without " | ", a
 *         repeated single key, a NUL or other control byte), C2W_ERANGE (more than
 *         SINKHOLE_TEXT_ITEMS_MAX steps or links, or a file over SINKHOLE_TEXT_FILE_MAX),
 *         C2W_ENOMEM
 */
C2W_NODISCARD int sinkhole_text_parse(const char *data, size_t len, struct sinkhole_text_file *out,
				      unsigned *line);

/** Free what sinkhole_text_parse() allocated; a zeroed struct is fine. */
void sinkhole_text_file_deinit(struct sinkhole_text_file *tf);

#endif
