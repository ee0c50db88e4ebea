/* SPDX-License-Identifier: MIT */
/* Pseudonyms: HMAC-SHA256 over the address with a rotating secret key kept in a 0600 file. */
#include "events/pseudo.h"

#include <fcntl.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/file.h"
#include "core/log.h"

#define KEY_LEN    32
#define FILE_MAGIC "c2wall-pseudonym-key 1"

struct key {
	uint8_t bytes[KEY_LEN];
	uint64_t created_s;
	char id[EVENTS_KEY_ID_CAP];
};

struct events_pseudo {
	char *path; /* NULL: ephemeral */
	unsigned rotation_s;
	struct key cur;
	struct key prev;
	bool has_prev;
};

static void hex(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

static int unhex(const char *in, uint8_t *out, size_t len)
{
	for (size_t i = 0; i < 2 * len; i++) {
		char c = in[i];
		int v = c >= '0' && c <= '9'   ? c - '0'
			: c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10
					       : -1;
		if (v < 0)
			return C2W_EMALF;
		if (i % 2 == 0)
			out[i / 2] = (uint8_t)(v << 4);
		else
			out[i / 2] |= (uint8_t)v;
	}
	return in[2 * len] == '\0' ? C2W_OK : C2W_EMALF;
}

static void key_set_id(struct key *k)
{
	uint8_t md[SHA256_DIGEST_LENGTH];
	SHA256(k->bytes, KEY_LEN, md);
	char full[2 * SHA256_DIGEST_LENGTH + 1];
	hex(md, sizeof(md), full);
	memcpy(k->id, full, EVENTS_KEY_ID_LEN);
	k->id[EVENTS_KEY_ID_LEN] = '\0';
}

static int key_random(struct key *k, uint64_t now_s)
{
	if (RAND_bytes(k->bytes, KEY_LEN) != 1)
		return C2W_EIO;
	k->created_s = now_s;
	key_set_id(k);
	return C2W_OK;
}

static int save(const struct events_pseudo *ps)
{
	char tmp[4096];
	int fd = c2w_file_tmp_open(ps->path, 0600, tmp, sizeof(tmp));
	if (fd < 0)
		return fd;
	char line[256];
	char kh[2 * KEY_LEN + 1];
	int len = snprintf(line, sizeof(line), "%s\n", FILE_MAGIC);
	const struct key *keys[2] = {ps->has_prev ? &ps->prev : NULL, &ps->cur};
	for (int i = 0; i < 2; i++) {
		if (keys[i] == NULL)
			continue;
		hex(keys[i]->bytes, KEY_LEN, kh);
		len += snprintf(line + len, sizeof(line) - (size_t)len, "%s %llu %s\n", keys[i]->id,
				(unsigned long long)keys[i]->created_s, kh);
	}
	int ret = C2W_OK;
	if (write(fd, line, (size_t)len) != len || fsync(fd) != 0)
		ret = errno ? -errno : C2W_EIO;
	close(fd);
	if (ret == C2W_OK && rename(tmp, ps->path) != 0)
		ret = -errno;
	if (ret != C2W_OK) {
		unlink(tmp);
		return ret;
	}
	char dirbuf[4096];
	snprintf(dirbuf, sizeof(dirbuf), "%s", ps->path);
	int dfd = open(dirname(dirbuf), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	return C2W_OK;
}

static int load(struct events_pseudo *ps, FILE *f)
{
	char line[256];
	if (fgets(line, sizeof(line), f) == NULL || strncmp(line, FILE_MAGIC, strlen(FILE_MAGIC)))
		return C2W_EMALF;
	int n = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		char id[16], kh[80];
		unsigned long long created;
		if (sscanf(line, "%15s %llu %79s", id, &created, kh) != 3)
			return C2W_EMALF;
		struct key k = {.created_s = created};
		if (unhex(kh, k.bytes, KEY_LEN) != C2W_OK)
			return C2W_EMALF;
		key_set_id(&k);
		if (n > 0) {
			ps->prev = ps->cur;
			ps->has_prev = true;
		}
		ps->cur = k;
		n++;
	}
	return n > 0 ? C2W_OK : C2W_EMALF;
}

static uint64_t now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec;
}

int events_pseudo_open(const char *path, unsigned rotation_s, struct events_pseudo **out)
{
	struct events_pseudo *ps = calloc(1, sizeof(*ps));
	int ret;
	if (ps == NULL)
		return C2W_ENOMEM;
	ps->rotation_s = rotation_s;
	if (path == NULL) {
		ret = key_random(&ps->cur, now_s());
		if (ret != C2W_OK)
			goto out_free;
		*out = ps;
		return C2W_OK;
	}
	ret = C2W_ENOMEM;
	if ((ps->path = strdup(path)) == NULL)
		goto out_free;
	int kfd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	FILE *f = kfd >= 0 ? fdopen(kfd, "r") : NULL;
	if (f == NULL && kfd >= 0)
		close(kfd);
	if (f == NULL && errno == ENOENT) {
		ret = key_random(&ps->cur, now_s());
		if (ret == C2W_OK)
			ret = save(ps);
		if (ret != C2W_OK) {
			c2w_log_err("events: cannot create key file %s: %s", path,
				    c2w_strerror(ret));
			goto out_free;
		}
		c2w_log_info("events: created pseudonym key %s (id %s)", path, ps->cur.id);
		*out = ps;
		return C2W_OK;
	}
	if (f == NULL) {
		ret = -errno;
		goto out_free;
	}
	struct stat st;
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077) != 0) {
		c2w_log_err("events: key file %s is accessible by group or others (chmod 600)",
			    path);
		fclose(f);
		ret = C2W_EACCES;
		goto out_free;
	}
	ret = load(ps, f);
	fclose(f);
	if (ret != C2W_OK) {
		c2w_log_err("events: key file %s is malformed", path);
		goto out_free;
	}
	*out = ps;
	return C2W_OK;
out_free:
	events_pseudo_free(ps);
	return ret;
}

void events_pseudo_free(struct events_pseudo *ps)
{
	if (ps == NULL)
		return;
	free(ps->path);
	OPENSSL_cleanse(ps, sizeof(*ps));
	free(ps);
}

int events_pseudo_rotate(struct events_pseudo *ps, uint64_t now)
{
	struct events_pseudo next = *ps;
	int ret = key_random(&next.cur, now);
	if (ret != C2W_OK)
		return ret;
	next.prev = ps->cur;
	next.has_prev = true;
	if (ps->path != NULL && (ret = save(&next)) != C2W_OK)
		return ret;
	*ps = next;
	OPENSSL_cleanse(&next, sizeof(next));
	c2w_log_info("events: pseudonym key rotated (id %s, previous %s)", ps->cur.id, ps->prev.id);
	return C2W_OK;
}

int events_pseudo_maybe_rotate(struct events_pseudo *ps, uint64_t now)
{
	if (ps->rotation_s == 0 || now < ps->cur.created_s + ps->rotation_s)
		return 0;
	int ret = events_pseudo_rotate(ps, now);
	return ret == C2W_OK ? 1 : ret;
}

void events_pseudo_make(const struct events_pseudo *ps, int family, const uint8_t *addr,
			char out[EVENTS_PSEUDO_CAP])
{
	uint8_t data[17];
	size_t len = family == AF_INET ? 4 : 16;
	data[0] = family == AF_INET ? 4 : 6;
	memcpy(data + 1, addr, len);
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned md_len = 0;
	HMAC(EVP_sha256(), ps->cur.bytes, KEY_LEN, data, len + 1, md, &md_len);
	hex(md, EVENTS_PSEUDO_LEN / 2, out);
}

const char *events_pseudo_key_id(const struct events_pseudo *ps)
{
	return ps->cur.id;
}
