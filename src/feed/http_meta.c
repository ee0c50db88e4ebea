/* SPDX-License-Identifier: MIT */
/*
 * "<copy>.meta": the validators (ETag, Last-Modified) and source of an HTTP feed's last good
 * copy, so a restart asks conditionally and computes expiry from the last contact. The copy
 * itself is the body as served (feed/http_fetch.c writes it); a new body equal to it is found
 * here too.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/file.h"
#include "feed/http_fetch.h"

#define META_MAGIC "c2wall-http v1"

static int meta_path(const char *copy_path, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s.meta", copy_path);
	return n < 0 || (size_t)n >= cap ? C2W_EINVAL : C2W_OK;
}

int feed_http_meta_write(const char *copy_path, const struct feed_http_meta *meta)
{
	char path[4200], tmp[4300];
	int ret = meta_path(copy_path, path, sizeof(path));
	if (ret != C2W_OK)
		return ret;
	int fd = c2w_file_tmp_open(path, 0640, tmp, sizeof(tmp));
	if (fd < 0)
		return fd;
	FILE *f = fdopen(fd, "w");
	if (f == NULL) {
		ret = -errno;
		close(fd);
		unlink(tmp);
		return ret;
	}
	fprintf(f, META_MAGIC "\nrefreshed=%" PRId64 "\nurl=%s\netag=%s\nlast-modified=%s\n",
		meta->refreshed, meta->url, meta->etag, meta->last_modified);
	ret = ferror(f) ? C2W_EIO : C2W_OK;
	if (ret == C2W_OK && (fflush(f) != 0 || fsync(fileno(f)) != 0))
		ret = -errno;
	if (fclose(f) != 0 && ret == C2W_OK)
		ret = -errno;
	if (ret == C2W_OK && rename(tmp, path) != 0)
		ret = -errno;
	if (ret != C2W_OK)
		unlink(tmp);
	return ret;
}

/* Copy @v into @out when it is printable ASCII that fits; else leave @out empty. */
static void put(char *out, size_t cap, const char *v)
{
	size_t n = strlen(v);
	out[0] = '\0';
	if (n >= cap)
		return;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] >= 0x7f)
			return;
	memcpy(out, v, n + 1);
}

static void meta_line(char *line, struct feed_http_meta *meta)
{
	line[strcspn(line, "\r\n")] = '\0';
	char *eq = strchr(line, '=');
	if (eq == NULL)
		return;
	*eq = '\0';
	const char *v = eq + 1;
	if (strcmp(line, "refreshed") == 0) {
		char *end;
		long long t = strtoll(v, &end, 10);
		if (*end == '\0' && t >= 0)
			meta->refreshed = t;
	} else if (strcmp(line, "url") == 0) {
		put(meta->url, sizeof(meta->url), v);
	} else if (strcmp(line, "etag") == 0) {
		put(meta->etag, sizeof(meta->etag), v);
	} else if (strcmp(line, "last-modified") == 0) {
		put(meta->last_modified, sizeof(meta->last_modified), v);
	}
}

int feed_http_meta_read(const char *copy_path, struct feed_http_meta *meta)
{
	char path[4200], line[1200];
	int ret = meta_path(copy_path, path, sizeof(path));
	if (ret != C2W_OK)
		return ret;
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return -errno;
	memset(meta, 0, sizeof(*meta));
	ret = C2W_EMALF;
	if (fgets(line, sizeof(line), f) != NULL && strncmp(line, META_MAGIC, 14) == 0) {
		ret = C2W_OK;
		while (fgets(line, sizeof(line), f) != NULL)
			meta_line(line, meta);
	}
	fclose(f);
	return ret;
}

static bool same_stream(FILE *a, FILE *b)
{
	static const size_t chunk = 65536;
	char *x = malloc(chunk), *y = malloc(chunk);
	bool same = x != NULL && y != NULL;
	while (same) {
		size_t n = fread(x, 1, chunk, a), m = fread(y, 1, chunk, b);
		same = n == m && memcmp(x, y, n) == 0 && !ferror(a) && !ferror(b);
		if (n < chunk)
			break;
	}
	free(x);
	free(y);
	return same;
}

bool feed_http_copy_same(const char *a, const char *b)
{
	FILE *fa = fopen(a, "re"), *fb = fopen(b, "re");
	struct stat sa, sb;
	bool same = fa != NULL && fb != NULL && fstat(fileno(fa), &sa) == 0 &&
		    fstat(fileno(fb), &sb) == 0 && sa.st_size == sb.st_size && same_stream(fa, fb);
	if (fa != NULL)
		fclose(fa);
	if (fb != NULL)
		fclose(fb);
	return same;
}
