/* SPDX-License-Identifier: MIT */
/* Exclusive, unpredictable temporary files beside a target (core/file.h). */
#include "core/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int c2w_file_tmp_open(const char *path, mode_t mode, char *tmp, size_t cap)
{
	int n = snprintf(tmp, cap, "%s.tmp.XXXXXX", path);
	if (n < 0 || (size_t)n >= cap)
		return C2W_EINVAL;
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, mode) != 0) {
		int e = -errno;
		close(fd);
		unlink(tmp);
		return e;
	}
	return fd;
}
