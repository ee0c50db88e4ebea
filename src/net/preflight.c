/* SPDX-License-Identifier: MIT */
/*
 * Start-up checks of the file system and the system (see preflight.h). Each check reports
 * "key: path: reason" so the operator knows which line of the config to look at.
 */
#include "net/preflight.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct sink {
	net_preflight_cb cb;
	void *ctx;
	unsigned count;
};

static void report(struct sink *s, const char *key, const char *path, const char *why)
{
	char msg[PATH_MAX + 256];
	snprintf(msg, sizeof(msg), "%s: %s: %s", key, path, why);
	s->count++;
	s->cb(s->ctx, msg);
}

/* A file the daemon opens for reading: it must be a readable regular file. */
static void need_file(struct sink *s, const char *key, const char *path)
{
	struct stat st;
	if (path == NULL)
		return;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		report(s, key, path, c2w_strerror(-errno));
		return;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		report(s, key, path, "not a regular file");
	close(fd);
}

static void need_dir(struct sink *s, const char *key, const char *path)
{
	struct stat st;
	if (path == NULL)
		return;
	if (stat(path, &st) != 0)
		report(s, key, path, c2w_strerror(-errno));
	else if (!S_ISDIR(st.st_mode))
		report(s, key, path, "not a directory");
	else if (access(path, R_OK | X_OK) != 0)
		report(s, key, path, c2w_strerror(-errno));
}

/* A path the daemon writes: the file itself, or the nearest existing ancestor directory. */
static void need_writable(struct sink *s, const char *key, const char *path)
{
	char buf[PATH_MAX];
	struct stat st;
	if (path == NULL)
		return;
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
		report(s, key, path, "path too long");
		return;
	}
	if (stat(buf, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			report(s, key, path, "is a directory");
		else if (access(buf, W_OK) != 0)
			report(s, key, path, c2w_strerror(-errno));
		return;
	}
	for (;;) {
		char *slash = strrchr(buf, '/');
		if (slash == NULL)
			return; /* relative paths were made absolute by the loader */
		if (slash == buf)
			slash[1] = '\0';
		else
			*slash = '\0';
		if (stat(buf, &st) == 0)
			break;
		if (errno != ENOENT) {
			report(s, key, path, c2w_strerror(-errno));
			return;
		}
	}
	char why[PATH_MAX + 64];
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, sizeof(why), "cannot be created: %s is not a directory", buf);
		report(s, key, path, why);
	} else if (access(buf, W_OK | X_OK) != 0) {
		snprintf(why, sizeof(why), "cannot be created in %s: %s", buf,
			 c2w_strerror(-errno));
		report(s, key, path, why);
	}
}

struct first {
	char *buf;
	size_t len;
};

static void collect_first(void *ctx, const char *msg)
{
	struct first *f = ctx;
	if (f->len > 0 && f->buf[0] == '\0')
		snprintf(f->buf, f->len, "%s", msg);
}

static void check_resolver(struct sink *s, const struct c2w_config *cfg)
{
	if (cfg->resolver.mode == CONF_RESOLVER_RECURSIVE)
		need_file(s, "resolver.root-hints", cfg->resolver.root_hints);
	need_file(s, "resolver.trust-anchor", cfg->resolver.trust_anchor);
}

int net_preflight_resolver(const struct c2w_config *cfg, char *err, size_t err_len)
{
	struct first f = {.buf = err, .len = err_len};
	struct sink s = {.cb = collect_first, .ctx = &f};
	if (err_len > 0)
		err[0] = '\0';
	check_resolver(&s, cfg);
	return s.count == 0 ? C2W_OK : C2W_ECONFIG;
}

unsigned net_preflight_all(const struct c2w_config *cfg, net_preflight_cb cb, void *ctx)
{
	struct sink s = {.cb = cb, .ctx = ctx};
	char key[64];
	check_resolver(&s, cfg);
	for (size_t i = 0; i < cfg->policy.zone_count; i++) {
		const struct conf_policy_zone *z = &cfg->policy.zones[i];
		snprintf(key, sizeof(key), "policy.zones[%zu].file", i);
		/* A transferred zone's copy may not exist yet: its place must be writable. */
		if (z->primary_count > 0) {
			need_writable(&s, key, z->file);
			snprintf(key, sizeof(key), "policy.zones[%zu].tsig-key-file", i);
			need_file(&s, key, z->tsig_key_file);
		} else {
			need_file(&s, key, z->file);
		}
	}
	need_file(&s, "policy.never-block-file", cfg->policy.never_block_file);
	need_dir(&s, "sinkhole.templates", cfg->sinkhole.templates);
	/* server.user matters only when started as root (net/server.c). */
	if (geteuid() == 0 && cfg->server.user != NULL && getpwnam(cfg->server.user) == NULL)
		report(&s, "server.user", cfg->server.user, "no such user");
	/* The key is used only when some sink records hits (events_setup() in server.c). */
	if (cfg->events.jsonl != NULL || cfg->events.dnstap != NULL || cfg->events.syslog ||
	    cfg->store.sqlite != NULL)
		need_writable(&s, "privacy.key-file", cfg->privacy.key_file);
	need_writable(&s, "privacy.optout-file", cfg->privacy.optout_file);
	need_writable(&s, "store.sqlite", cfg->store.sqlite);
	need_writable(&s, "events.jsonl", cfg->events.jsonl);
	if (cfg->events.dnstap != NULL && strncmp(cfg->events.dnstap, "file:", 5) == 0)
		need_writable(&s, "events.dnstap", cfg->events.dnstap + 5);
	need_writable(&s, "control.socket", cfg->control.socket);
	return s.count;
}
