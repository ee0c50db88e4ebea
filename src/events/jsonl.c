/* SPDX-License-Identifier: MIT */
/* JSON Lines hit log: formatting, size/age rotation, reopen for logrotate. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "events/sinks.h"

#define JSONL_BUF (64 * 1024) /* lines are at most 4 KiB */

struct events_jsonl {
	char *path;
	int fd; /* -1 when closed */
	char *buf;
	size_t len;
	uint64_t size;
	uint64_t opened_s;
	uint64_t rotate_bytes;
	unsigned rotate_s;
	bool torn; /* the file may end inside a line we could not cut off: start a new one */
	_Atomic uint64_t lost; /* whole lines that never reached the file */
};

const char *events_qtype_name(uint16_t qtype, char *buf, size_t cap)
{
	static const struct {
		uint16_t code;
		const char *name;
	} types[] = {{1, "A"},   {2, "NS"},      {5, "CNAME"}, {6, "SOA"},    {12, "PTR"},
		     {15, "MX"}, {16, "TXT"},    {28, "AAAA"}, {33, "SRV"},   {35, "NAPTR"},
		     {43, "DS"}, {48, "DNSKEY"}, {64, "SVCB"}, {65, "HTTPS"}, {255, "ANY"}};
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (types[i].code == qtype) {
			snprintf(buf, cap, "%s", types[i].name);
			return buf;
		}
	snprintf(buf, cap, "TYPE%u", qtype);
	return buf;
}

/* Append a JSON string with escapes; bytes >= 0x80 become \u00XX so output stays ASCII. */
static size_t put_str(char *buf, size_t pos, size_t cap, const char *s)
{
	static const char hexd[] = "0123456789abcdef";
	if (pos < cap)
		buf[pos] = '"';
	pos++;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char esc[7];
		size_t n;
		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			n = 2;
		} else if (*p < 0x20 || *p >= 0x7f) {
			memcpy(esc, "\\u00", 4);
			esc[4] = hexd[*p >> 4];
			esc[5] = hexd[*p & 15];
			n = 6;
		} else {
			esc[0] = (char)*p;
			n = 1;
		}
		for (size_t i = 0; i < n; i++, pos++)
			if (pos < cap)
				buf[pos] = esc[i];
	}
	if (pos < cap)
		buf[pos] = '"';
	return pos + 1;
}

static size_t put_raw(char *buf, size_t pos, size_t cap, const char *s)
{
	size_t n = strlen(s);
	if (pos < cap)
		memcpy(buf + pos, s, pos + n <= cap ? n : cap - pos);
	return pos + n;
}

static size_t put_field(char *buf, size_t pos, size_t cap, const char *key, const char *val)
{
	pos = put_raw(buf, pos, cap, ",\"");
	pos = put_raw(buf, pos, cap, key);
	pos = put_raw(buf, pos, cap, "\":");
	return put_str(buf, pos, cap, val);
}

int events_jsonl_format(const struct events_hit *hit, const char *pseudonym, const char *key_id,
			char *buf, size_t cap)
{
	char ts[48], tbuf[16], num[32];
	time_t sec = (time_t)(hit->time_ns / 1000000000u);
	struct tm tm;
	gmtime_r(&sec, &tm);
	size_t n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + n, sizeof(ts) - n, ".%06uZ", (unsigned)(hit->time_ns % 1000000000u / 1000));
	size_t pos = put_raw(buf, 0, cap, "{\"ts\":");
	pos = put_str(buf, pos, cap, ts);
	pos = put_field(buf, pos, cap, "client", pseudonym);
	pos = put_field(buf, pos, cap, "key_id", key_id);
	pos = put_field(buf, pos, cap, "qname", hit->qname);
	pos = put_field(buf, pos, cap, "qtype", events_qtype_name(hit->qtype, tbuf, sizeof(tbuf)));
	if (hit->kind == EVENTS_KIND_QUERY) {
		pos = put_field(buf, pos, cap, "kind", "query");
	} else {
		pos = put_field(buf, pos, cap, "trigger", events_trigger_name(hit->trigger));
		pos = put_field(buf, pos, cap, "match", hit->match);
		pos = put_field(buf, pos, cap, "zone", hit->zone);
		pos = put_field(buf, pos, cap, "action", events_action_name(hit->action));
		pos = put_field(buf, pos, cap, "category", hit->category);
		pos = put_field(buf, pos, cap, "family", hit->family);
		pos = put_field(buf, pos, cap, "feed", hit->feed);
	}
	pos = put_field(buf, pos, cap, "answer", hit->answer);
	snprintf(num, sizeof(num), ",\"worker\":%u}", hit->worker);
	pos = put_raw(buf, pos, cap, num);
	if (pos >= cap) {
		if (cap)
			buf[0] = '\0';
		return C2W_ESPACE;
	}
	buf[pos] = '\0';
	return (int)pos;
}

static uint64_t now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec;
}

static uint64_t count_lines(const char *buf, size_t len)
{
	uint64_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += buf[i] == '\n';
	return n;
}

/*
 * Lines collect in our own buffer and reach the file only whole (write(2) of complete
 * lines, O_APPEND), so a log shipper tailing the file never reads half a line, even when
 * the event thread is held up between flushes. When a write stops short (disk full, file
 * size limit), the file is cut back to the end of the last whole line written, so the next
 * record never lands on a torn one; if even that fails, the next flush starts with a
 * newline. Lines that did not make it are counted in @lost.
 */
static int flush_buf(struct events_jsonl *j)
{
	size_t off = 0;
	int ret = C2W_OK;
	if (j->len == 0)
		return C2W_OK;
	if (j->fd < 0) {
		atomic_fetch_add(&j->lost, count_lines(j->buf, j->len));
		j->len = 0;
		return C2W_EIO;
	}
	off_t start = lseek(j->fd, 0, SEEK_END);
	if (j->torn && start > 0) {
		if (write(j->fd, "\n", 1) == 1)
			start++;
		else
			start = -1;
	}
	if (start >= 0)
		j->torn = false;
	while (off < j->len) {
		ssize_t w = write(j->fd, j->buf + off, j->len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			ret = w < 0 ? -errno : C2W_EIO;
			break;
		}
		off += (size_t)w;
	}
	if (ret != C2W_OK) {
		size_t keep = off;
		while (keep > 0 && j->buf[keep - 1] != '\n')
			keep--;
		if (keep < off && (start < 0 || ftruncate(j->fd, start + (off_t)keep) != 0))
			j->torn = true;
		atomic_fetch_add(&j->lost, count_lines(j->buf + keep, j->len - keep));
		if (j->size >= j->len - keep)
			j->size -= j->len - keep;
	}
	j->len = 0;
	return ret;
}

uint64_t events_jsonl_lost(const struct events_jsonl *j)
{
	return atomic_load(&((struct events_jsonl *)(uintptr_t)j)->lost);
}

static int open_file(struct events_jsonl *j)
{
	/* Never through a symlink: whoever can write the directory must not redirect it. */
	int fd = open(j->path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		int e = S_ISREG(st.st_mode) ? -errno : C2W_EINVAL;
		close(fd);
		return e;
	}
	j->fd = fd;
	j->size = (uint64_t)st.st_size;
	/* Age counts from the file's creation as far as we can tell (its first open by us). */
	j->opened_s = now_s();
	return C2W_OK;
}

/* Write what is buffered and close; @return the flush result. */
static int close_file(struct events_jsonl *j)
{
	int ret = flush_buf(j);
	if (j->fd >= 0)
		close(j->fd);
	j->fd = -1;
	return ret;
}

int events_jsonl_open(const char *path, uint64_t rotate_bytes, unsigned rotate_s,
		      struct events_jsonl **out)
{
	struct events_jsonl *j = calloc(1, sizeof(*j));
	if (j == NULL)
		return C2W_ENOMEM;
	j->fd = -1;
	j->path = strdup(path);
	j->buf = malloc(JSONL_BUF);
	j->rotate_bytes = rotate_bytes;
	j->rotate_s = rotate_s;
	int ret = j->path && j->buf ? open_file(j) : C2W_ENOMEM;
	if (ret != C2W_OK) {
		free(j->buf);
		free(j->path);
		free(j);
		return ret;
	}
	*out = j;
	return C2W_OK;
}

static int rotate(struct events_jsonl *j)
{
	char stamp[32], dst[4096];
	time_t t = (time_t)now_s();
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	(void)close_file(j);
	for (unsigned i = 0; i < 1000; i++) {
		if (i == 0)
			snprintf(dst, sizeof(dst), "%s.%s", j->path, stamp);
		else
			snprintf(dst, sizeof(dst), "%s.%s.%u", j->path, stamp, i);
		if (access(dst, F_OK) != 0)
			break;
	}
	if (rename(j->path, dst) != 0 && errno != ENOENT) {
		int e = -errno;
		(void)open_file(j);
		return e;
	}
	return open_file(j);
}

int events_jsonl_write(struct events_jsonl *j, const struct events_hit *hit, const char *pseudonym,
		       const char *key_id)
{
	char line[4096];
	int rotated = 0, ret = C2W_OK;
	int n = events_jsonl_format(hit, pseudonym, key_id, line, sizeof(line) - 1);
	if (n < 0) {
		atomic_fetch_add(&j->lost, 1);
		return n;
	}
	line[n++] = '\n';
	if (j->fd >= 0 && j->size > 0 &&
	    ((j->rotate_bytes && j->size + (uint64_t)n > j->rotate_bytes) ||
	     (j->rotate_s && now_s() >= j->opened_s + j->rotate_s))) {
		ret = rotate(j);
		if (ret == C2W_OK)
			rotated = 1;
	}
	if (j->fd < 0 && (ret = open_file(j)) != C2W_OK) {
		atomic_fetch_add(&j->lost, 1);
		return ret;
	}
	/* A failed flush loses (and counts) the older lines; this one still gets its chance. */
	if (j->len + (size_t)n > JSONL_BUF)
		ret = flush_buf(j);
	memcpy(j->buf + j->len, line, (size_t)n);
	j->len += (size_t)n;
	j->size += (uint64_t)n;
	return ret != C2W_OK ? ret : rotated;
}

int events_jsonl_flush(struct events_jsonl *j)
{
	return flush_buf(j);
}

int events_jsonl_reopen(struct events_jsonl *j)
{
	(void)close_file(j);
	return open_file(j);
}

void events_jsonl_close(struct events_jsonl *j)
{
	if (j == NULL)
		return;
	(void)close_file(j);
	free(j->buf);
	free(j->path);
	free(j);
}
