/* SPDX-License-Identifier: MIT */
/*
 * Filesystem helpers for the paths the config names: the daemon creates the parent
 * directories of its data files so the sample config runs without root setup.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "conf/config.h"
#include "core/err.h"

int conf_path_mkparents(const char *path)
{
	char buf[4096];
	size_t len = strlen(path);
	if (len >= sizeof(buf))
		return C2W_ERANGE;
	memcpy(buf, path, len + 1);
	/* Every '/' after the first character ends a parent directory. */
	for (size_t i = 1; i < len; i++) {
		if (buf[i] != '/')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0750) != 0 && errno != EEXIST) {
			int ret = -errno;
			buf[i] = '/';
			return ret;
		}
		buf[i] = '/';
	}
	return C2W_OK;
}
