/* SPDX-License-Identifier: MIT */
/*
 * Safe creation of the files the daemon replaces atomically (key file, opt-out registry,
 * compiled snapshots): an unpredictable temporary name beside the target, created
 * exclusively (never through a symlink someone planted), its mode set before any content.
 * Renaming into place and fsync stay with the caller.
 */
#ifndef C2W_CORE_FILE_H
#define C2W_CORE_FILE_H

#include <stddef.h>
#include <sys/types.h>

#include "core/err.h"

/**
 * Create "<path>.tmp.XXXXXX" (mkostemp: O_CREAT|O_EXCL, so an existing name or a symlink is
 * never opened) and fchmod it to @mode before anything is written.
 *
 * @param path  the file the temporary will replace, borrowed
 * @param mode  final permission bits, e.g. 0600
 * @param tmp   out: the temporary's name (for rename or unlink)
 * @param cap   size of @tmp
 * @return an open O_RDWR|O_CLOEXEC descriptor (>= 0), C2W_EINVAL (path too long) or a
 *         negative errno
 */
C2W_NODISCARD int c2w_file_tmp_open(const char *path, mode_t mode, char *tmp, size_t cap);

#endif
