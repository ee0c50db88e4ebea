/* SPDX-License-Identifier: MIT */
/*
 * The transfer thread and its hand-off to the main thread. Owner of each piece of state:
 * the config copy in struct fzone is immutable while the thread runs; fz->zone (the last good
 * copy in memory) belongs to the transfer thread; struct fzone_state and the request slot are
 * under f->mu (read by the control command, NOTIFY from workers, the main thread).
 */
#include "net/feeds.h"

#include <ctype.h>
#include <event2/event.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libknot/libknot.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "feed/http_fetch.h"
#include "feed/tsig_key.h"
#include "feed/xfr.h"
#include "feed/xfr_io.h"
#include "feed/zone.h"
#include "net/policy_conf.h"
#include "policy/policy.h"

struct fzone_state {
	bool has_copy;
	struct feed_soa soa;
	int64_t last_success; /* unix s; 0 = never */
	int64_t last_attempt;
	int64_t next_refresh; /* unix s, for display */
	char last_error[640];
	/* The copy in force is not in the zone's file (its write failed): a compile from the
	 * files meanwhile lacks it. Retried (SAVE_RETRY_MS); shown as "saved": false. */
	bool save_failed;
	char save_error[320];
	char source[64]; /* primary of the copy in force */
	int64_t next_mono_ms;
	int64_t attempt_mono_ms;
	bool notify_pending;
	bool expired;
	uint64_t rules, records;
	uint64_t transfers, failures, axfr, ixfr, uptodate, notifies;
	/* HTTP feeds */
	struct feed_http_meta http; /* validators of the copy in force */
	long http_status;           /* of the last download */
	uint64_t not_modified;      /* 304 answers */
	uint64_t unchanged;         /* 200 with the body already in force */
	unsigned failures_in_row;   /* retry back-off */
	uint64_t incremental, merges; /* IXFRs applied as increments; their layers made full again */
	uint64_t rebases;             /* layers folded into one after them */
	bool building;                /* the transfer thread builds a policy change of it */
	bool folding;                 /* ... and that change makes the layers one full image */
	const char *last_apply;       /* "incremental", "full" or "" */
	uint64_t last_apply_us;       /* from the transfer's last message to the policy in force */
	int64_t notify_us;            /* monotonic time of the last accepted NOTIFY */
	int64_t refresh_notify_us;    /* the NOTIFY that started the running refresh, 0 = none */
	uint64_t notify_apply_us; /* from the NOTIFY that started the last new copy to in force */
	/* Received messages waiting for the parser (feed/xfr_queue.h), in budgeted bytes. */
	uint64_t queue_peak;       /* high-water mark over every transfer since start */
	uint64_t last_queue_peak;  /* of the last transfer */
	uint64_t queue_full_waits; /* times the reader waited for room (transfer-max-size) */
};

struct fzone {
	size_t index; /* in the running config's zone list */
	char name[KNOT_DNAME_TXT_MAXLEN + 1];
	uint8_t dname[KNOT_DNAME_MAXLEN];
	size_t dname_len;
	char *path; /* last good copy */
	struct conf_addr *primaries;
	size_t primary_count;
	knot_tsig_key_t key;
	bool has_key;
	unsigned refresh_min_s, refresh_max_s, retry_min_s, retry_max_s, notify_interval_s;
	struct feed_xfr_limits lim;
	enum conf_on_expire on_expire;
	/* HTTP feeds (url: instead of primaries): the section "HTTP feeds" below. */
	char *url;
	char *ca_file;
	enum conf_zone_format format;
	unsigned refresh_s;
	struct feed_http_limits http_lim;
	struct feed_zone *zone; /* transfer thread */
	struct fzone_state st;  /* f->mu */
	/* f->mu: a copy of this zone is in force but not yet where net_feeds_files() points
	 * (the disk write or rename after the swap); a reload waits for it (net_feeds_settle()) */
	bool unsaved;
	/* f->mu: a compile from the files ran while st.save_failed: the running policy has an
	 * older copy of this zone than the one in force before it; rebuilt once saved */
	bool policy_behind;
	int64_t save_retry_ms; /* transfer thread: next retry of a failed save (monotonic) */
	/* Transfer thread: every owner the increments over the running full compile touched, with
	 * its records now, for a rebase (docs/policy.md "Increments"); NULL = not known. */
	struct funion *uni;
};

struct net_feeds {
	struct event_base *base;
	const struct c2w_config *cfg;
	net_feeds_delta_cb delta;
	void *ctx;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct fzone *zones;
	size_t count;
	pthread_t thread;
	bool running;
	atomic_bool stop;
	/* A policy change built on the transfer thread (build_change()): @building (f->mu) while
	 * it runs, which net_feeds_settle() waits out (the build reads the config a reload then
	 * frees); @fold_stop, set by a settle or a shutdown, ends a flatten early, so that its
	 * memory is never held beside a full compile's. */
	atomic_bool fold_stop;
	bool building;
	int wake_fd; /* anyone -> transfer thread */
	int req_fd;  /* transfer thread -> main thread */
	struct event *req_ev;
	bool held; /* main thread: requests wait (net_feeds_hold()) */
	struct event *expiry_ev; /* main thread: rebuild when an "expires=" entry runs out */
	int64_t next_expiry;     /* main thread */
	/* An expiry rebuild, which the transfer thread builds (expiry_rebuild()): the second the
	 * entries ran out (f->mu; 0 = none asked), and when to try again after a failure */
	int64_t expiry_due;
	int64_t expiry_retry_ms; /* transfer thread (monotonic) */
	int64_t expiry_done_ms;  /* f->mu: the last expiry rebuild in force (monotonic) */
	int64_t expiry_cost_ms;  /* f->mu: how long its build took */
	bool curl_ready;         /* feed_http_global_init() done */
	/* One request at a time from the transfer thread (f->mu). */
	bool req_pending, req_done;
	size_t req_zone;
	char req_path[4200]; /* "" = rebuild without a candidate */
	struct net_feeds_delta_io req_io;
	int req_result;
	/* Where the time of the last request went (monotonic µs; the main thread sets the last
	 * two while the transfer thread waits): in the "in force" log line. */
	int64_t req_sent_us, req_pick_us, req_done_us;
};

/* One transfer's stage times: monotonic µs, and the transfer thread's CPU time per stage
 * (CPU against wall time tells work from waiting for a core). */
struct xfr_times {
	int64_t end_us;    /* the transfer's last message came in */
	int64_t parsed_us; /* every message parsed */
	int64_t fin_us;    /* the transfer applied to the held copy */
	int64_t rec_us;    /* the changed owners' records collected */
	int64_t in_force_us;
	int64_t rx_cpu_us, copy_cpu_us, rec_cpu_us; /* receive (the whole of it), copy, records */
	/* the increment's build (build_change()): BEGIN sent and taken, built, in force */
	int64_t sent_us, pick_us, built_us, done_us, build_cpu_us;
};

/* An IXFR as the policy applies it: the changed owners (unique, lower case) and every record
 * they have in the new copy. Built on the transfer thread, read by the main thread while the
 * transfer thread waits. */
struct fdelta {
	char **owners;
	size_t count, owner_cap; /* owner_cap: of a growing set (a zone's union), else 0 */
	const char **adds; /* the new copy's lines of the added records, in order: borrowed from
			    * the copy, valid until it changes again */
	size_t add_count;
	size_t set_mask; /* open addressing over owners: index + 1, 0 = empty */
	size_t *set;
	char *records;
	size_t len, cap;
};

/* The owners the increments over one full compile (generation @gen) touched, and each one's
 * records in the held copy now: what a rebase compiles, gathered as the increments come
 * (O(changes)), never by a pass over the zone. */
struct funion {
	struct fdelta set; /* owners (growing) and their hash set */
	char **text;       /* per owner (set.owner_cap of them): its record lines, each ending
			    * in "\n"; NULL = none */
	size_t *text_len;
	uint64_t gen;
};

static int64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* CPU time of the calling thread. */
static int64_t cpu_us(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static double ms_between(int64_t from_us, int64_t to_us)
{
	return to_us > from_us ? (double)(to_us - from_us) / 1000.0 : 0.0;
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static unsigned clamp(unsigned v, unsigned lo, unsigned hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static void wake(struct net_feeds *f)
{
	uint64_t one = 1;
	(void)!write(f->wake_fd, &one, sizeof(one));
}

/* ---- zone set-up ------------------------------------------------------------------------- */

static void mkdir_parent(const char *path)
{
	char buf[4096];
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return;
	for (char *p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		(void)mkdir(buf, 0750);
		*p = '/';
	}
}

static bool expired_at(const struct fzone *fz, int64_t now)
{
	return fz->st.has_copy && fz->st.last_success > 0 &&
	       now >= fz->st.last_success + (int64_t)fz->st.soa.expire;
}

static void log_expired(const struct fzone *fz)
{
	c2w_log_err("feeds: zone %s EXPIRED: no successful refresh since %" PRId64
		    " (SOA expire %u s); %s",
		    fz->name, fz->st.last_success, fz->st.soa.expire,
		    fz->on_expire == CONF_ON_EXPIRE_KEEP ? "still enforced (on-expire: keep)"
							 : "no longer enforced");
}

static void http_read_copy(struct fzone *fz);

/* The last good copy from disk, when there is one of ours. */
static void read_copy(struct fzone *fz)
{
	if (fz->url != NULL) {
		http_read_copy(fz);
		return;
	}
	struct feed_zone_meta meta;
	int ret = feed_zone_read(fz->path, fz->name, &fz->zone, &meta);
	if (ret == C2W_ENOENT)
		return;
	if (ret != C2W_OK) {
		c2w_log_warn("feeds: zone %s: copy %s not usable (%s); a full transfer follows",
			     fz->name, fz->path, c2w_strerror(ret));
		fz->zone = NULL;
		return;
	}
	fz->st.has_copy = true;
	(void)feed_zone_soa(fz->zone, &fz->st.soa);
	fz->st.last_success = meta.refreshed;
	fz->st.records = feed_zone_count(fz->zone);
	snprintf(fz->st.source, sizeof(fz->st.source), "%s", meta.primary);
	c2w_log_info("feeds: zone %s: last good copy serial %u from %s (%zu records)", fz->name,
		     fz->st.soa.serial, fz->path, feed_zone_count(fz->zone));
	if (expired_at(fz, time(NULL))) {
		fz->st.expired = true;
		log_expired(fz);
	}
}

static int http_init(struct fzone *fz, const struct conf_policy_zone *z);

static int fzone_init(struct fzone *fz, size_t index, const struct conf_policy_zone *z)
{
	fz->index = index;
	snprintf(fz->name, sizeof(fz->name), "%s", z->name);
	if (knot_dname_from_str(fz->dname, z->name, sizeof(fz->dname)) == NULL)
		return C2W_ECONFIG;
	knot_dname_to_lower(fz->dname);
	fz->dname_len = knot_dname_size(fz->dname);
	fz->path = strdup(z->file);
	fz->primaries = malloc((z->primary_count ? z->primary_count : 1) * sizeof(*fz->primaries));
	if (fz->path == NULL || fz->primaries == NULL)
		return C2W_ENOMEM;
	if (z->url != NULL && http_init(fz, z) != C2W_OK)
		return C2W_ENOMEM;
	if (z->primary_count > 0) /* an HTTP feed has none (and a NULL list) */
		memcpy(fz->primaries, z->primaries, z->primary_count * sizeof(*fz->primaries));
	fz->primary_count = z->primary_count;
	fz->refresh_min_s = z->refresh_min_s;
	fz->refresh_max_s = z->refresh_max_s;
	fz->retry_min_s = z->retry_min_s;
	fz->retry_max_s = z->retry_max_s;
	fz->notify_interval_s = z->notify_interval_s;
	fz->lim.timeout_ms = z->xfr_timeout_ms;
	fz->lim.max_bytes = z->xfr_max_bytes;
	fz->on_expire = z->on_expire;
	if (z->tsig_key_file != NULL) {
		char err[512];
		if (feed_tsig_key_load(z->tsig_key_file, &fz->key, err, sizeof(err)) != C2W_OK) {
			c2w_log_err("feeds: zone %s: tsig-key-file %s", z->name, err);
			return C2W_ECONFIG;
		}
		fz->has_key = true;
	}
	mkdir_parent(fz->path);
	return C2W_OK;
}

static void uni_drop(struct fzone *fz);

static void fzone_deinit(struct fzone *fz)
{
	if (fz->has_key)
		knot_tsig_key_deinit(&fz->key);
	feed_zone_free(fz->zone);
	uni_drop(fz);
	free(fz->primaries);
	free(fz->path);
	free(fz->url);
	free(fz->ca_file);
}

static void zones_free(struct fzone *zones, size_t count)
{
	for (size_t i = 0; i < count; i++)
		fzone_deinit(&zones[i]);
	free(zones);
}

static struct fzone *find_zone(struct fzone *zones, size_t count, const char *name)
{
	for (size_t i = 0; i < count; i++)
		if (strcasecmp(zones[i].name, name) == 0)
			return &zones[i];
	return NULL;
}

/* Zones of @cfg with primaries; state taken over from @old (same name) or read from disk. */
static int zones_build(const struct c2w_config *cfg, struct fzone *old, size_t old_count,
		       struct fzone **out, size_t *out_count)
{
	size_t n = 0;
	for (size_t i = 0; i < cfg->policy.zone_count; i++)
		n += cfg->policy.zones[i].primary_count > 0 || cfg->policy.zones[i].url != NULL;
	struct fzone *zones = calloc(n ? n : 1, sizeof(*zones));
	if (zones == NULL)
		return C2W_ENOMEM;
	size_t k = 0;
	int ret = C2W_OK;
	for (size_t i = 0; i < cfg->policy.zone_count && ret == C2W_OK; i++) {
		const struct conf_policy_zone *z = &cfg->policy.zones[i];
		if (z->primary_count == 0 && z->url == NULL)
			continue;
		ret = fzone_init(&zones[k], i, z);
		if (ret != C2W_OK)
			break;
		struct fzone *o = find_zone(old, old_count, z->name);
		if (o != NULL && (o->url != NULL) != (z->url != NULL))
			o = NULL; /* a transferred zone became an HTTP feed or back: start afresh */
		if (o != NULL) {
			zones[k].zone = o->zone;
			o->zone = NULL;
			zones[k].st = o->st;
			zones[k].policy_behind = o->policy_behind; /* this reload compiled it older */
			zones[k].st.next_mono_ms = 0; /* new settings: refresh now */
			if (z->url != NULL)
				zones[k].st.soa.expire = z->expire_s;
		} else {
			read_copy(&zones[k]);
		}
		k++;
	}
	if (ret != C2W_OK) {
		zones_free(zones, k + 1);
		return ret;
	}
	*out = zones;
	*out_count = k;
	return C2W_OK;
}

/* ---- the main thread's side ---------------------------------------------------------------- */

/* How long a reload waits for a copy in force to be saved (net_feeds_settle()): the write of a
 * 10M-rule copy took 3.5 s on the benchmark machine (docs/BENCHMARKS.md); a disk that stalls
 * longer than this must not hold the reload for ever. */
#define SETTLE_MAX_S 60

void net_feeds_files(struct net_feeds *f, const struct c2w_config *cfg, const char **files)
{
	pthread_mutex_lock(&f->mu);
	for (size_t i = 0; i < cfg->policy.zone_count; i++) {
		const struct conf_policy_zone *z = &cfg->policy.zones[i];
		files[i] = z->file;
		if (z->primary_count == 0 && z->url == NULL)
			continue;
		const struct fzone *fz = find_zone(f->zones, f->count, z->name);
		bool dropped = fz != NULL && fz->st.expired && z->on_expire == CONF_ON_EXPIRE_DROP;
		if (dropped || access(z->file, R_OK) != 0)
			files[i] = NULL;
	}
	pthread_mutex_unlock(&f->mu);
}

/* f->mu held; a compile from the files is about to run (all zones but @except, which it takes
 * from a candidate; SIZE_MAX = none): zones whose copy in force is not saved (its write failed,
 * or is still running after net_feeds_settle() gave up waiting) get the older copy from their
 * file. Logged; rebuilt once saved (note_saved()). */
static void mark_behind(struct net_feeds *f, size_t except)
{
	for (size_t i = 0; i < f->count; i++) {
		struct fzone *fz = &f->zones[i];
		if (i == except || (!fz->st.save_failed && !fz->unsaved))
			continue;
		if (!fz->policy_behind)
			c2w_log_err("feeds: zone %s: compiling from %s, older than the copy in force "
				    "(%s); the copy in force comes back once it is saved",
				    fz->name, fz->path,
				    fz->unsaved ? "its write is still running" : fz->st.save_error);
		fz->policy_behind = true;
	}
}

void net_feeds_settle(struct net_feeds *f)
{
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += SETTLE_MAX_S;
	int64_t t0 = mono_us();
	bool logged = false;
	pthread_mutex_lock(&f->mu);
	/* A flatten stops within 65,536 slots (milliseconds); an increment's build is waited for
	 * (O(changes): 1.5 s for 400,000 at 10M rules). */
	atomic_store(&f->fold_stop, true);
	while (f->building)
		pthread_cond_wait(&f->cv, &f->mu);
	for (;;) {
		const struct fzone *fz = NULL;
		for (size_t i = 0; i < f->count && fz == NULL; i++)
			if (f->zones[i].unsaved)
				fz = &f->zones[i];
		if (fz == NULL)
			break;
		if (!logged)
			c2w_log_info("feeds: zone %s: waiting for the copy in force to reach %s "
				     "before compiling from it",
				     fz->name, fz->path);
		logged = true;
		if (pthread_cond_timedwait(&f->cv, &f->mu, &until) == ETIMEDOUT) {
			c2w_log_err("feeds: zone %s: the copy in force is still not saved to %s "
				    "after %d s; not waiting longer",
				    fz->name, fz->path, SETTLE_MAX_S);
			break;
		}
	}
	mark_behind(f, SIZE_MAX);
	pthread_mutex_unlock(&f->mu);
	if (logged)
		c2w_log_info("feeds: waited %lld ms for copies to be saved",
			     (long long)((mono_us() - t0) / 1000));
}

void net_feeds_hold(struct net_feeds *f, bool hold)
{
	f->held = hold;
	if (!hold && f->req_fd >= 0) {
		uint64_t one = 1; /* a request that came meanwhile: on_request() takes it now */
		(void)!write(f->req_fd, &one, sizeof(one));
	}
}

void net_feeds_note_rules(struct net_feeds *f, const struct c2w_config *cfg,
			  const uint64_t *rules)
{
	pthread_mutex_lock(&f->mu);
	for (size_t i = 0; i < cfg->policy.zone_count; i++) {
		struct fzone *fz = find_zone(f->zones, f->count, cfg->policy.zones[i].name);
		if (fz != NULL)
			fz->st.rules = rules[i];
	}
	pthread_mutex_unlock(&f->mu);
}

/* A request from the transfer thread: compile with the candidate copy, swap, answer. */
static void on_request(evutil_socket_t fd, short what, void *arg)
{
	struct net_feeds *f = arg;
	uint64_t v;
	(void)what;
	(void)!read(fd, &v, sizeof(v));
	if (f->held)
		return; /* taken when the hold ends */
	uint64_t rules[POLICY_ZONES_MAX];
	int64_t pick_us = mono_us();
	pthread_mutex_lock(&f->mu);
	bool pending = f->req_pending && !f->req_done;
	size_t zi = f->req_zone;
	char path[sizeof(f->req_path)];
	memcpy(path, f->req_path, sizeof(path));
	if (pending)
		f->req_pick_us = pick_us;
	pthread_mutex_unlock(&f->mu);
	if (!pending || f->cfg->policy.zone_count > POLICY_ZONES_MAX)
		return;
	/* SIZE_MAX: an expiry rebuild, of no zone in particular (a full compile) */
	size_t ci = zi < f->count ? f->zones[zi].index : SIZE_MAX;
	int ret;
	pthread_mutex_lock(&f->mu);
	struct net_feeds_delta_io io = f->req_io;
	pthread_mutex_unlock(&f->mu);
	if (io.full && io.step == NET_FEEDS_STEP_BEGIN) {
		/* what a compile from the files takes, handed to the transfer thread */
		pthread_mutex_lock(&f->mu);
		mark_behind(f, path[0] != '\0' ? zi : SIZE_MAX);
		pthread_mutex_unlock(&f->mu);
		net_feeds_files(f, f->cfg, io.files); /* the candidate: the transfer thread's */
	}
	ret = f->delta(f->ctx, ci, rules, &io);
	pthread_mutex_lock(&f->mu);
	if (io.step == NET_FEEDS_STEP_BEGIN && ret == C2W_OK) {
		/* Building from now on: a reload's net_feeds_settle() waits for the build, which
		 * reads the config the reload frees. Unless the transfer thread gave up waiting
		 * (it stops): then nothing is built, and the hold goes here. */
		if (f->req_pending) {
			f->building = true;
			if (zi < f->count)
				f->zones[zi].st.building = true;
		} else {
			policy_snap_free(io.from);
			io.from = NULL;
		}
	}
	bool in_force = ret == C2W_OK && io.step == NET_FEEDS_STEP_SWAP;
	for (size_t i = 0; i < f->count && ret == C2W_OK; i++)
		f->zones[i].st.rules = rules[f->zones[i].index];
	/* A candidate copy or an increment is in force, its disk copy still to come: set here,
	 * on the main thread, so a reload after this swap always sees it. */
	if (in_force && zi < f->count &&
	    (path[0] != '\0' || (!io.rebase && !io.flatten && !io.full)))
		f->zones[zi].unsaved = true;
	if (in_force && zi < f->count && path[0] != '\0')
		f->zones[zi].policy_behind = false; /* compiled from its newest copy */
	f->req_result = ret;
	f->req_io = io;
	f->req_done_us = mono_us();
	f->req_done = true;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

/* Transfer thread: ask the main thread for a step of a change of zone @zi (SIZE_MAX: an expiry
 * rebuild), with @candidate for a full compile's new copy (@io in and out), and wait. */
static int ask_main_req(struct net_feeds *f, size_t zi, const char *candidate,
			struct net_feeds_delta_io *io)
{
	pthread_mutex_lock(&f->mu);
	f->req_pending = true;
	f->req_done = false;
	f->req_zone = zi;
	f->req_io = *io;
	snprintf(f->req_path, sizeof(f->req_path), "%s", candidate ? candidate : "");
	f->req_sent_us = mono_us();
	pthread_mutex_unlock(&f->mu);
	uint64_t one = 1;
	(void)!write(f->req_fd, &one, sizeof(one));
	pthread_mutex_lock(&f->mu);
	while (!f->req_done && !atomic_load(&f->stop))
		pthread_cond_wait(&f->cv, &f->mu);
	int ret = f->req_done ? f->req_result : C2W_EAGAIN;
	if (f->req_done)
		*io = f->req_io;
	f->req_pending = false;
	pthread_mutex_unlock(&f->mu);
	return ret;
}

static int build_change(struct net_feeds *f, struct fzone *fz, size_t zi, const struct fdelta *d,
			const char *candidate, struct net_feeds_delta_io *io, struct xfr_times *t);

/* Transfer thread: a full compile from the copies (with @candidate for zone @zi), built here
 * and put in force by the main thread (build_change()). */
static int ask_main(struct net_feeds *f, size_t zi, const char *candidate)
{
	struct net_feeds_delta_io io = {.full = true};
	return build_change(f, &f->zones[zi], zi, NULL, candidate, &io, NULL);
}

/* How often the transfer thread tries again to save a copy in force whose write failed. */
#define SAVE_RETRY_MS 5000

/* The copy in force is now on disk where net_feeds_files() points (@ret C2W_OK), or its write
 * failed (logged, shown in the state, retried): either way a reload waiting in
 * net_feeds_settle() may go on. Once saved, a policy compiled meanwhile from the older file is
 * rebuilt from the files. */
static void note_saved(struct net_feeds *f, struct fzone *fz, size_t zi, int ret)
{
	pthread_mutex_lock(&f->mu);
	fz->unsaved = false;
	bool rebuild = false;
	if (ret == C2W_OK) {
		if (fz->st.save_failed)
			c2w_log_info("feeds: zone %s: the copy in force is saved to %s now", fz->name,
				     fz->path);
		fz->st.save_failed = false;
		fz->st.save_error[0] = '\0';
		rebuild = fz->policy_behind;
		fz->policy_behind = false;
	} else {
		fz->st.save_failed = true;
		snprintf(fz->st.save_error, sizeof(fz->st.save_error),
			 "in force but not saved to %s: %s; retrying every %d s", fz->path,
			 c2w_strerror(ret), SAVE_RETRY_MS / 1000);
		fz->save_retry_ms = mono_ms() + SAVE_RETRY_MS;
	}
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	if (!rebuild)
		return;
	c2w_log_info("feeds: zone %s: the policy was compiled from the older copy meanwhile; "
		     "rebuilding it from the copy saved now",
		     fz->name);
	int bret = ask_main(f, zi, NULL);
	if (bret != C2W_OK) {
		if (bret != C2W_EAGAIN) /* EAGAIN: the thread is stopping (a reload); retried after */
			c2w_log_err("feeds: zone %s: rebuild refused (%s); trying again in %d s",
				    fz->name, c2w_strerror(bret), SAVE_RETRY_MS / 1000);
		pthread_mutex_lock(&f->mu);
		fz->policy_behind = true;
		fz->save_retry_ms = mono_ms() + SAVE_RETRY_MS;
		pthread_mutex_unlock(&f->mu);
	}
}

/* ---- increments ------------------------------------------------------------------------------ */

static uint64_t owner_hash(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)tolower((unsigned char)s[i])) * 0x100000001b3ull;
	return h;
}

static size_t owner_len(const char *line)
{
	size_t n = 0;
	while (line[n] != '\0' && line[n] != ' ' && line[n] != '\t')
		n++;
	return n;
}

/* Is owner @o (@n bytes) in the set? *@slot is its slot, or where it goes. */
static bool owner_find(const struct fdelta *d, const char *o, size_t n, size_t *slot)
{
	for (size_t i = owner_hash(o, n) & d->set_mask;; i = (i + 1) & d->set_mask) {
		size_t v = d->set[i];
		*slot = i;
		if (v == 0)
			return false;
		const char *e = d->owners[v - 1];
		if (strlen(e) == n && strncasecmp(e, o, n) == 0)
			return true;
	}
}

static void fdelta_free(struct fdelta *d)
{
	for (size_t i = 0; i < d->count; i++)
		free(d->owners[i]);
	free(d->owners);
	free(d->adds);
	free(d->set);
	free(d->records);
	memset(d, 0, sizeof(*d));
}

/* ---- a zone's union of changed owners (for a rebase) ---- */

static void uni_drop(struct fzone *fz)
{
	struct funion *u = fz->uni;
	if (u == NULL)
		return;
	for (size_t i = 0; i < u->set.count; i++)
		free(u->text[i]);
	free(u->text);
	free(u->text_len);
	fdelta_free(&u->set);
	free(u);
	fz->uni = NULL;
}

static int uni_rehash(struct fdelta *u, size_t cap)
{
	size_t *set = calloc(cap, sizeof(*set));
	if (set == NULL)
		return C2W_ENOMEM;
	for (size_t k = 0; k < u->count; k++) {
		size_t i = owner_hash(u->owners[k], strlen(u->owners[k])) & (cap - 1);
		while (set[i] != 0)
			i = (i + 1) & (cap - 1);
		set[i] = k + 1;
	}
	free(u->set);
	u->set = set;
	u->set_mask = cap - 1;
	return C2W_OK;
}

/* Owner @o (lower case, as fdelta_owners() makes them) in union @u, added when new, its
 * records emptied: the increment that names it gives all it has now. */
static int uni_owner(struct funion *u, const char *o)
{
	struct fdelta *d = &u->set;
	size_t slot, n = strlen(o);
	if (d->set == NULL || 2 * (d->count + 1) > d->set_mask + 1) {
		int ret = uni_rehash(d, d->set == NULL ? 64 : 2 * (d->set_mask + 1));
		if (ret != C2W_OK)
			return ret;
	}
	if (owner_find(d, o, n, &slot)) {
		size_t i = d->set[slot] - 1;
		free(u->text[i]);
		u->text[i] = NULL;
		u->text_len[i] = 0;
		return C2W_OK;
	}
	if (d->count == d->owner_cap) {
		size_t cap = d->owner_cap ? 2 * d->owner_cap : 64;
		char **p = realloc(d->owners, cap * sizeof(*p));
		if (p == NULL)
			return C2W_ENOMEM;
		d->owners = p;
		char **t = realloc(u->text, cap * sizeof(*t));
		if (t == NULL)
			return C2W_ENOMEM;
		u->text = t;
		size_t *tl = realloc(u->text_len, cap * sizeof(*tl));
		if (tl == NULL)
			return C2W_ENOMEM;
		u->text_len = tl;
		d->owner_cap = cap;
	}
	char *dup = strdup(o);
	if (dup == NULL)
		return C2W_ENOMEM;
	u->text[d->count] = NULL;
	u->text_len[d->count] = 0;
	d->owners[d->count++] = dup;
	d->set[slot] = d->count;
	return C2W_OK;
}

/* One record line of an increment's records, to its owner's text in @u. */
static int uni_line(struct funion *u, const char *line, size_t len)
{
	size_t slot, ol = owner_len(line);
	if (ol == 0 || ol > len || !owner_find(&u->set, line, ol, &slot))
		return C2W_OK; /* "$ORIGIN", or (never) a line of an owner the increment did not name */
	size_t i = u->set.set[slot] - 1;
	char *t = realloc(u->text[i], u->text_len[i] + len + 1);
	if (t == NULL)
		return C2W_ENOMEM;
	memcpy(t + u->text_len[i], line, len);
	t[u->text_len[i] + len] = '\n';
	u->text[i] = t;
	u->text_len[i] += len + 1;
	return C2W_OK;
}

/* Increment @d is in force over the full compile of generation @gen: its owners and their
 * records now go into the union (a new one after another full compile). Out of memory: no
 * union, and the next merge recompiles in full. */
static void uni_note(struct fzone *fz, const struct fdelta *d, uint64_t gen)
{
	if (fz->uni != NULL && fz->uni->gen != gen)
		uni_drop(fz);
	if (fz->uni == NULL) {
		fz->uni = calloc(1, sizeof(*fz->uni));
		if (fz->uni == NULL)
			return;
		fz->uni->gen = gen;
	}
	int ret = C2W_OK;
	for (size_t i = 0; i < d->count && ret == C2W_OK; i++)
		ret = uni_owner(fz->uni, d->owners[i]);
	for (size_t p = 0; p < d->len && ret == C2W_OK;) {
		const char *nl = memchr(d->records + p, '\n', d->len - p);
		size_t n = nl != NULL ? (size_t)(nl - (d->records + p)) : d->len - p;
		if (n > 0 && d->records[p] != '$')
			ret = uni_line(fz->uni, d->records + p, n);
		p += n + 1;
	}
	if (ret != C2W_OK)
		uni_drop(fz);
}

/* The changed owners of a finished IXFR applied to @nz, and the lines @nz has for its
 * additions (an addition a later version deleted has none). O(changes). */
static int fdelta_owners(struct fdelta *d, const struct feed_xfr *x, const struct feed_zone *nz)
{
	size_t n = feed_xfr_change_count(x), cap = 4;
	while (cap < 2 * n + 2)
		cap *= 2;
	d->owners = calloc(n ? n : 1, sizeof(*d->owners));
	d->adds = calloc(n ? n : 1, sizeof(*d->adds));
	d->set = calloc(cap, sizeof(*d->set));
	d->set_mask = cap - 1;
	if (d->owners == NULL || d->adds == NULL || d->set == NULL)
		return C2W_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		bool add = false;
		const char *line = feed_xfr_change(x, i, &add);
		size_t slot, ol = line != NULL ? owner_len(line) : 0;
		if (ol > 0 && add && (d->adds[d->add_count] = feed_zone_line(nz, line)) != NULL)
			d->add_count++;
		if (ol == 0 || owner_find(d, line, ol, &slot))
			continue;
		char *o = strndup(line, ol);
		if (o == NULL)
			return C2W_ENOMEM;
		for (char *p = o; *p != '\0'; p++)
			*p = (char)tolower((unsigned char)*p);
		d->owners[d->count++] = o;
		d->set[slot] = d->count;
	}
	return C2W_OK;
}

static int fdelta_put(struct fdelta *d, const char *text, size_t n)
{
	if (d->len + n + 1 > d->cap) {
		size_t cap = d->cap ? d->cap : 4096;
		while (d->len + n + 1 > cap)
			cap *= 2;
		char *p = realloc(d->records, cap);
		if (p == NULL)
			return C2W_ENOMEM;
		d->records = p;
		d->cap = cap;
	}
	memcpy(d->records + d->len, text, n);
	d->len += n;
	d->records[d->len] = '\0';
	return C2W_OK;
}

static int fdelta_line(void *ctx, const char *line)
{
	struct fdelta *d = ctx;
	size_t slot;
	if (!owner_find(d, line, owner_len(line), &slot))
		return 0;
	int ret = fdelta_put(d, line, strlen(line));
	return ret != C2W_OK ? ret : fdelta_put(d, "\n", 1);
}

/* The fast way, O(changes): when every record a changed owner has in @nz is one the IXFR
 * added (the usual RPZ case: one record per owner), the added lines are the answer. The zone's
 * own line pointer identifies a record (an add repeated across versions counts once).
 * @return C2W_OK, C2W_EAGAIN (some owner kept records the IXFR did not touch), C2W_ENOMEM */
static int fdelta_records_fast(struct fdelta *d, const struct feed_zone *nz)
{
	size_t cap = 4;
	while (cap < 2 * d->add_count + 2)
		cap *= 2;
	const char **seen = calloc(cap, sizeof(*seen));
	uint64_t *have = calloc(d->count ? d->count : 1, sizeof(*have));
	int ret = seen == NULL || have == NULL ? C2W_ENOMEM : C2W_OK;
	for (size_t i = 0; i < d->add_count && ret == C2W_OK; i++) {
		const char *cur = d->adds[i];
		size_t slot;
		if (!owner_find(d, cur, owner_len(cur), &slot))
			continue; /* defensive: its owner is always a changed one */
		size_t j = (size_t)(((uint64_t)(uintptr_t)cur >> 4) * 0x9e3779b97f4a7c15ull >> 20) &
			   (cap - 1);
		while (seen[j] != NULL && seen[j] != cur)
			j = (j + 1) & (cap - 1);
		if (seen[j] == cur)
			continue;
		seen[j] = cur;
		have[d->set[slot] - 1]++;
		ret = fdelta_put(d, cur, strlen(cur));
		if (ret == C2W_OK)
			ret = fdelta_put(d, "\n", 1);
	}
	for (size_t o = 0; o < d->count && ret == C2W_OK; o++)
		if (have[o] != feed_zone_owner_count(nz, d->owners[o]))
			ret = C2W_EAGAIN;
	free(seen);
	free(have);
	return ret;
}

/* Every record the changed owners have in @nz: from the IXFR's own additions when they are
 * all there is (O(changes)), else by one pass over the copy (O(zone) string work, on the
 * transfer thread). The policy side is O(changes) either way. */
static int fdelta_records(struct fdelta *d, const struct fzone *fz, const struct feed_zone *nz)
{
	char origin[sizeof(fz->name) + 16];
	int n = snprintf(origin, sizeof(origin), "$ORIGIN %s\n", fz->name);
	int ret = fdelta_put(d, origin, (size_t)n);
	if (ret != C2W_OK)
		return ret;
	ret = fdelta_records_fast(d, nz);
	if (ret != C2W_EAGAIN)
		return ret;
	d->len = (size_t)n; /* start over: a whole pass */
	return feed_zone_foreach(nz, fdelta_line, d);
}

/* ---- one refresh --------------------------------------------------------------------------- */

/* The received-message queue of one transfer, into the zone state (f->mu). */
static void note_queue(struct net_feeds *f, struct fzone *fz, const struct feed_xfr_queue_stats *qs)
{
	pthread_mutex_lock(&f->mu);
	fz->st.last_queue_peak = qs->peak_bytes;
	if (qs->peak_bytes > fz->st.queue_peak)
		fz->st.queue_peak = qs->peak_bytes;
	fz->st.queue_full_waits += qs->full_waits;
	pthread_mutex_unlock(&f->mu);
}

static int transfer(struct net_feeds *f, struct fzone *fz, const struct conf_addr *pri,
		    enum feed_xfr_type type, struct feed_zone **out, enum feed_xfr_kind *kind,
		    bool *wants_axfr, struct fdelta *d, struct xfr_times *t, char *err,
		    size_t err_len)
{
	struct feed_xfr *x;
	*wants_axfr = false;
	int ret = feed_xfr_new(fz->name, type, fz->zone, fz->has_key ? &fz->key : NULL, &x);
	if (ret != C2W_OK) {
		snprintf(err, err_len, "%s", c2w_strerror(ret));
		return ret;
	}
	struct feed_xfr_limits lim = fz->lim;
	lim.stop = &f->stop;
	struct feed_xfr_queue_stats qs;
	int64_t cpu0 = cpu_us();
	ret = feed_xfr_fetch(x, (const struct sockaddr *)&pri->ss, pri->ss_len, &lim, err,
			     err_len, &qs);
	note_queue(f, fz, &qs);
	if (ret == 1) {
		/* The transfer ends with its last message in; parsing the queue after it counts. */
		t->parsed_us = mono_us();
		int64_t cpu1 = cpu_us();
		t->rx_cpu_us = cpu1 - cpu0;
		t->end_us = qs.last_push_us != 0 && qs.last_push_us <= t->parsed_us
				? qs.last_push_us
				: t->parsed_us;
		/* With increments, the held copy is changed in place (undo journal on): no O(zone)
		 * clone; the caller commits or rolls it back. */
		ret = d != NULL ? feed_xfr_finish_in_place(x, fz->zone, out, kind)
				: feed_xfr_finish(x, fz->zone, out, kind);
		if (ret != C2W_OK)
			snprintf(err, err_len, "%s", feed_xfr_error(x));
		else if (*kind == FEED_XFR_INCREMENT && d != NULL &&
			 (ret = fdelta_owners(d, x, *out != NULL ? *out : fz->zone)) != C2W_OK &&
			 *out == NULL)
			feed_zone_rollback(fz->zone); /* applied in place: take it back */
		t->fin_us = mono_us();
		t->copy_cpu_us = cpu_us() - cpu1;
	}
	*wants_axfr = feed_xfr_wants_axfr(x);
	feed_xfr_free(x);
	return ret;
}

static void sync_parent(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	if (slash == NULL || slash == path || (size_t)(slash - path) >= sizeof(dir))
		return;
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

/* A new copy: compile it through the main thread; only a copy in force replaces the old.
 * @nz NULL: the held copy was changed in place (journal on): kept or rolled back here. */
static int commit(struct net_feeds *f, struct fzone *fz, size_t zi, struct feed_zone *nz,
		  const struct conf_addr *pri, char *err, size_t err_len)
{
	if (nz == NULL) {
		int ret = commit(f, fz, zi, fz->zone, pri, err, err_len);
		if (ret == C2W_OK)
			feed_zone_commit(fz->zone);
		else
			feed_zone_rollback(fz->zone);
		return ret;
	}
	char cand[4200];
	snprintf(cand, sizeof(cand), "%s.candidate", fz->path);
	struct feed_zone_meta meta = {.refreshed = time(NULL)};
	snprintf(meta.primary, sizeof(meta.primary), "%s", pri->text);
	int ret = feed_zone_write(nz, cand, &meta);
	if (ret != C2W_OK) {
		c2w_log_err("feeds: zone %s: cannot write %s: %s", fz->name, cand,
			    c2w_strerror(ret));
		snprintf(err, err_len, "cannot write the new copy: %s", c2w_strerror(ret));
		return ret;
	}
	ret = ask_main(f, zi, cand);
	if (ret != C2W_OK) {
		unlink(cand);
		snprintf(err, err_len, "new copy not put in force (%s); see the policy log lines",
			 c2w_strerror(ret));
		return ret;
	}
	if (rename(cand, fz->path) != 0) {
		ret = -errno;
		c2w_log_err("feeds: zone %s: in force but not saved to %s: %s", fz->name, fz->path,
			    c2w_strerror(ret));
	}
	sync_parent(fz->path);
	if (fz->zone != nz) {
		feed_zone_free(fz->zone);
		fz->zone = nz;
	}
	note_saved(f, fz, zi, ret); /* after the swap: a retry writes the held copy */
	uni_drop(fz); /* a full compile: no layers of this zone left */
	return C2W_OK;
}

static void note_success(struct net_feeds *f, struct fzone *fz, const struct conf_addr *pri,
			 enum feed_xfr_kind kind, enum feed_xfr_type type)
{
	pthread_mutex_lock(&f->mu);
	struct fzone_state *st = &fz->st;
	st->has_copy = true;
	(void)feed_zone_soa(fz->zone, &st->soa);
	st->last_success = time(NULL);
	st->last_error[0] = '\0';
	st->records = feed_zone_count(fz->zone);
	snprintf(st->source, sizeof(st->source), "%s", pri->text);
	st->transfers++;
	if (kind == FEED_XFR_UPTODATE)
		st->uptodate++;
	else if (kind == FEED_XFR_INCREMENT || type == FEED_XFR_IXFR)
		st->ixfr++;
	else
		st->axfr++;
	pthread_mutex_unlock(&f->mu);
}

/* Up to date: the copy is good for another refresh interval; keep that on disk too, so a
 * restart computes expiry from the last contact. @return true when the zone had expired. */
static bool still_good(struct net_feeds *f, struct fzone *fz, const struct conf_addr *pri)
{
	struct feed_zone_meta meta = {.refreshed = time(NULL)};
	snprintf(meta.primary, sizeof(meta.primary), "%s", pri->text);
	int ret = feed_zone_write(fz->zone, fz->path, &meta);
	if (ret != C2W_OK)
		c2w_log_warn("feeds: zone %s: cannot update %s: %s", fz->name, fz->path,
			     c2w_strerror(ret));
	pthread_mutex_lock(&f->mu);
	bool was = fz->st.expired;
	fz->st.expired = false;
	pthread_mutex_unlock(&f->mu);
	return was;
}

/* An increment of at least this many changed owners (or a full compile) is followed by
 * c2w_mem_release(), and the increment's build and a merge are preceded by one: the
 * transfer's and the compile's temporaries, freed into the allocator's
 * arenas, would stay resident for a while (with glibc's malloc, after a 100,000-change IXFR at
 * 1M rules, 26 MiB that malloc_trim() returned in about 16 ms; issue 9). It walks every arena,
 * so small increments, which free little, skip it. */
#define TRIM_OWNERS 10000

/* A policy change built on this thread over the running policy: BEGIN (the main thread holds
 * that policy for us and says what the build needs), the build here, SWAP (the main thread
 * puts the result in force unless the policy changed meanwhile: an increment is then built
 * again over the new one, a full compile again from the files). The main thread keeps
 * answering control requests, metrics scrapes and the sinkhole during the build, which takes
 * seconds at millions of rules; net_feeds_settle() waits for it (a flatten it stops early:
 * C2W_EAGAIN). @d: the increment, or the rebase's owners and records; NULL for a flatten or a
 * full compile. @candidate: a full compile's new copy of zone @zi, or NULL (its file).
 * @io in: rebase, flatten, full, gen; out: gen, merge.
 * @t: NULL, or the increment's stage times (BEGIN sent and taken, built, in force).
 * @return as net_feeds_delta_cb's SWAP, or C2W_EAGAIN (stopped) */
static int build_change(struct net_feeds *f, struct fzone *fz, size_t zi, const struct fdelta *d,
			const char *candidate, struct net_feeds_delta_io *io, struct xfr_times *t)
{
	struct policy_soa_timers soa[POLICY_ZONES_MAX];
	const char *files[POLICY_ZONES_MAX];
	int ret;
	for (int tries = 0;; tries++) {
		struct net_feeds_delta_io b = *io;
		b.step = NET_FEEDS_STEP_BEGIN;
		b.soa = soa;
		b.files = files;
		if (io->flatten)
			atomic_store(&f->fold_stop, false); /* a settle from now on stops it */
		ret = ask_main_req(f, zi, candidate, &b);
		pthread_mutex_lock(&f->mu);
		if (t != NULL) {
			t->sent_us = f->req_sent_us;
			t->pick_us = f->req_pick_us;
		}
		io->gen = b.gen;
		if (ret != C2W_OK) {
			pthread_mutex_unlock(&f->mu);
			return ret;
		}
		/* f->building was set with the BEGIN (on_request()) */
		if (fz != NULL)
			fz->st.folding = io->flatten;
		pthread_mutex_unlock(&f->mu);
		struct policy_snap *built = NULL;
		int64_t t0 = mono_us(), cpu0 = cpu_us();
		if (io->full) {
			char err[512];
			if (candidate != NULL && fz != NULL)
				files[fz->index] = candidate;
			ret = net_policy_load_files(b.cfg, files, b.from, true, NULL, &built, err,
						    sizeof(err));
			if (ret != C2W_OK)
				c2w_log_err("%s: new policy refused (%s); the running policy stays",
					    fz != NULL ? "feeds" : "policy", err);
			else if (fz != NULL)
				c2w_log_info("feeds: zone %s: full compile built on the transfer "
					     "thread in %.1f ms",
					     fz->name, ms_between(t0, mono_us()));
		} else if (io->flatten) {
			unsigned layers;
			uint64_t keys;
			policy_snap_delta_size(b.from, &layers, &keys);
			c2w_log_info("feeds: zone %s: folding %u layers (%" PRIu64 " rules) into the "
				     "full image on the transfer thread",
				     fz->name, layers, policy_snap_rule_count(b.from));
			ret = policy_snap_flatten(b.from, soa, &f->fold_stop, &built);
		} else {
			char err[512];
			const struct policy_snap *over =
			    io->rebase ? policy_snap_base(b.from) : b.from;
			ret = net_policy_delta(b.cfg, files, over, fz->index, d->records, d->len,
					       (const char *const *)d->owners, d->count, io->rebase,
					       NULL, &built, err, sizeof(err));
			if (ret != C2W_OK && ret != C2W_EFULL && ret != C2W_EINVAL)
				c2w_log_err("feeds: %s refused (%s); the running policy stays",
					    io->rebase ? "rebase" : "increment", err);
		}
		int64_t built_us = mono_us(), build_cpu = cpu_us() - cpu0;
		pthread_mutex_lock(&f->mu);
		f->building = false;
		if (fz != NULL) {
			fz->st.building = false;
			fz->st.folding = false;
		} else if (ret == C2W_OK) {
			/* an expiry rebuild: its cost spaces the next (net_feeds_note_expiry(), which
			 * the swap calls) */
			f->expiry_done_ms = built_us / 1000;
			f->expiry_cost_ms = (built_us - t0) / 1000;
		}
		if (ret == C2W_OK && io->flatten && atomic_load(&f->fold_stop)) {
			policy_snap_free(built); /* it finished as a settle began */
			built = NULL;
			ret = C2W_EAGAIN;
		}
		pthread_cond_broadcast(&f->cv);
		pthread_mutex_unlock(&f->mu);
		if (ret == C2W_OK) {
			struct net_feeds_delta_io sw = *io;
			sw.step = NET_FEEDS_STEP_SWAP;
			sw.from = b.from;
			sw.built = built;
			sw.files = files; /* a full compile's, with the candidate */
			ret = ask_main_req(f, zi, candidate, &sw);
			policy_snap_free(sw.built); /* NULL once taken; ours if the thread stops */
			if (ret == C2W_OK || ret == C2W_ENOENT) {
				io->gen = sw.gen;
				io->merge = sw.merge;
			}
			pthread_mutex_lock(&f->mu);
			if (t != NULL) {
				t->built_us = built_us;
				t->done_us = f->req_done_us;
				t->build_cpu_us = build_cpu;
			}
			pthread_mutex_unlock(&f->mu);
		}
		policy_snap_free(b.from); /* the old policy goes here if the new one took its place */
		/* A reload or an expiry rebuild came between BEGIN and SWAP: the increment goes over
		 * the policy it made, a full compile is made again from the files as they are now
		 * (a rebase or a flatten has nothing left to do). */
		if (ret == C2W_ENOENT && !io->rebase && !io->flatten && tries < 2)
			continue;
		return ret;
	}
}

/* Fold the running policy's layers into one: every owner of the zone's union, with its records
 * now (kept as the increments came), compiled over the full image alone on this thread.
 * Memory and time follow the union, not the zone.
 * @return C2W_OK, C2W_ENOENT (a full compile came first: nothing to fold), or a failure */
static int rebase(struct net_feeds *f, struct fzone *fz, size_t zi)
{
	struct funion *u = fz->uni;
	if (u == NULL)
		return C2W_ENOMEM; /* the union was lost to a failed allocation */
	struct fdelta r = {.owners = u->set.owners, .count = u->set.count}; /* borrowed */
	char origin[sizeof(fz->name) + 16];
	int n = snprintf(origin, sizeof(origin), "$ORIGIN %s\n", fz->name);
	int ret = fdelta_put(&r, origin, (size_t)n);
	for (size_t i = 0; i < u->set.count && ret == C2W_OK; i++)
		if (u->text_len[i] > 0)
			ret = fdelta_put(&r, u->text[i], u->text_len[i]);
	int64_t t0 = mono_us();
	struct net_feeds_delta_io io = {.rebase = true, .gen = u->gen};
	if (ret == C2W_OK)
		ret = build_change(f, fz, zi, &r, NULL, &io, NULL);
	if (ret == C2W_OK)
		c2w_log_info("feeds: zone %s: increments folded into one layer: %zu owners, %zu "
			     "bytes of records, %.1f ms",
			     fz->name, u->set.count, r.len, ms_between(t0, mono_us()));
	free(r.records);
	return ret;
}

/* After an increment: what the main thread found its layers need (net_feeds_delta_io). */
static void merge(struct net_feeds *f, struct fzone *fz, size_t zi, enum net_feeds_merge kind)
{
	if (kind == NET_FEEDS_MERGE_NONE)
		return;
	c2w_mem_release(); /* the increment's temporaries, before the merge's own */
	if (kind == NET_FEEDS_MERGE_REBASE) {
		int ret = rebase(f, fz, zi);
		if (ret == C2W_OK) {
			pthread_mutex_lock(&f->mu);
			fz->st.rebases++;
			pthread_mutex_unlock(&f->mu);
			return;
		}
		if (ret == C2W_ENOENT)
			return;
		c2w_log_warn("feeds: zone %s: increments not folded (%s); compiling in full",
			     fz->name, c2w_strerror(ret));
	}
	/* One full image from the images first: the memory of the new image, where a compile
	 * from the copies holds its builders beside the running policy (docs/policy.md). */
	uni_drop(fz); /* not needed by either, and its memory goes first */
	c2w_mem_release();
	int64_t t0 = mono_us();
	struct net_feeds_delta_io fio = {.flatten = true};
	int mret = build_change(f, fz, zi, NULL, NULL, &fio, NULL);
	if (mret == C2W_ENOENT)
		return; /* a full compile came first */
	if (mret == C2W_EAGAIN) {
		/* the layers stay until the compile that stopped it replaces them (or the next
		 * increment's merge, should that compile fail) */
		c2w_log_info("feeds: zone %s: folding the increments given up for a reload, an "
			     "expiry rebuild or a shutdown",
			     fz->name);
		return;
	}
	if (mret == C2W_OK) {
		c2w_log_info("feeds: zone %s: increments folded into the full image, %.1f ms (on the "
			     "transfer thread)",
			     fz->name, ms_between(t0, mono_us()));
	} else {
		c2w_log_warn("feeds: zone %s: increments not folded into the full image (%s); "
			     "compiling in full",
			     fz->name, c2w_strerror(mret));
		mret = ask_main(f, zi, NULL);
		c2w_log_info("feeds: zone %s: increments merged into a full compile: %s", fz->name,
			     mret == C2W_OK ? "done" : c2w_strerror(mret));
	}
	pthread_mutex_lock(&f->mu);
	fz->st.merges += mret == C2W_OK;
	pthread_mutex_unlock(&f->mu);
	if (mret == C2W_OK)
		uni_drop(fz);
}

/* An IXFR as an increment: in force first (@t->in_force_us says when), then the new copy
 * replaces the last good one on disk (an O(zone) write, on this thread, off the workers), then
 * a merge of the layers when the increments stacked past the bound (merge()).
 * @return C2W_EFULL or C2W_EINVAL: nothing changed, take the full path */
static int commit_delta(struct net_feeds *f, struct fzone *fz, size_t zi, struct feed_zone *nz,
			struct fdelta *d, const struct conf_addr *pri, struct xfr_times *t,
			char *err, size_t err_len)
{
	const struct feed_zone *z = nz != NULL ? nz : fz->zone;
	int64_t cpu0 = cpu_us();
	int ret = fdelta_records(d, fz, z);
	t->rec_us = mono_us();
	t->rec_cpu_us = cpu_us() - cpu0;
	if (ret != C2W_OK) {
		if (nz == NULL)
			feed_zone_rollback(fz->zone);
		return ret;
	}
	if (d->count >= TRIM_OWNERS)
		c2w_mem_release(); /* the transfer's temporaries, before the build's own */
	struct net_feeds_delta_io io = {0};
	ret = build_change(f, fz, zi, d, NULL, &io, t);
	if (ret == C2W_EFULL || ret == C2W_EINVAL)
		return ret;
	if (ret != C2W_OK) {
		if (nz == NULL)
			feed_zone_rollback(fz->zone); /* the old serial stays, in memory too */
		snprintf(err, err_len, "increment not put in force (%s); see the policy log lines",
			 c2w_strerror(ret));
		return ret;
	}
	t->in_force_us = mono_us();
	if (nz == NULL) {
		feed_zone_commit(fz->zone);
		nz = fz->zone;
	}
	pthread_mutex_lock(&f->mu);
	(void)feed_zone_soa(nz, &fz->st.soa); /* the serial in force, before the disk write */
	pthread_mutex_unlock(&f->mu);
	struct feed_zone_meta meta = {.refreshed = time(NULL)};
	snprintf(meta.primary, sizeof(meta.primary), "%s", pri->text);
	int wret = feed_zone_write(nz, fz->path, &meta);
	if (wret != C2W_OK)
		c2w_log_err("feeds: zone %s: in force but not saved to %s: %s", fz->name, fz->path,
			    c2w_strerror(wret));
	if (fz->zone != nz) {
		feed_zone_free(fz->zone);
		fz->zone = nz;
	}
	note_saved(f, fz, zi, wret);
	uni_note(fz, d, io.gen);
	if (io.merge != NET_FEEDS_MERGE_NONE)
		fdelta_free(d); /* the union has its owners: the merge's memory comes first */
	merge(f, fz, zi, io.merge);
	return C2W_OK;
}

/* A full transfer's copy counts its records per owner after it is in force (an increment
 * needs the counts, the policy does not); until then an increment takes the slow way to its
 * changed owners' records (fdelta_records()). */
static void count_owners(struct fzone *fz)
{
	if (fz->zone != NULL && feed_zone_count_owners(fz->zone) != C2W_OK)
		c2w_log_warn("feeds: zone %s: out of memory counting records per owner; the next "
			     "increment reads the whole copy",
			     fz->name);
}

static int try_primary(struct net_feeds *f, struct fzone *fz, size_t zi,
		       const struct conf_addr *pri, char *err, size_t err_len)
{
	enum feed_xfr_type type = fz->zone != NULL ? FEED_XFR_IXFR : FEED_XFR_AXFR;
	struct feed_zone *nz = NULL;
	enum feed_xfr_kind kind;
	bool wants_axfr;
	struct fdelta d = {0};
	struct xfr_times t = {0};
	count_owners(fz); /* normally done after the last full transfer already */
	int ret = transfer(f, fz, pri, type, &nz, &kind, &wants_axfr,
			   f->delta != NULL ? &d : NULL, &t, err, err_len);
	if (ret != C2W_OK && type == FEED_XFR_IXFR && wants_axfr) {
		c2w_log_info("feeds: zone %s: %s: %s; trying AXFR", fz->name, pri->text, err);
		fdelta_free(&d);
		type = FEED_XFR_AXFR;
		t = (struct xfr_times){0};
		ret = transfer(f, fz, pri, type, &nz, &kind, &wants_axfr, NULL, &t, err,
			       err_len);
	}
	if (ret != C2W_OK) {
		fdelta_free(&d);
		feed_zone_free(nz);
		return ret;
	}
	if (kind == FEED_XFR_UPTODATE) {
		bool was_expired = still_good(f, fz, pri);
		note_success(f, fz, pri, kind, type);
		if (was_expired && fz->on_expire == CONF_ON_EXPIRE_DROP)
			(void)ask_main(f, zi, NULL);
		return C2W_OK;
	}
	bool incremental = false;
	ret = C2W_EFULL;
	size_t owners = d.count; /* commit_delta() may free @d before a merge */
	if (kind == FEED_XFR_INCREMENT && f->delta != NULL) {
		ret = commit_delta(f, fz, zi, nz, &d, pri, &t, err, err_len);
		incremental = ret == C2W_OK;
		if (ret == C2W_EFULL || ret == C2W_EINVAL)
			c2w_log_info("feeds: zone %s: IXFR not applicable as an increment (%s); "
				     "compiling in full",
				     fz->name, c2w_strerror(ret));
		else if (ret != C2W_OK) {
			fdelta_free(&d);
			feed_zone_free(nz);
			return ret; /* refused: the old serial stays */
		}
	}
	bool big = !incremental || owners >= TRIM_OWNERS;
	fdelta_free(&d);
	if (!incremental) {
		ret = commit(f, fz, zi, nz, pri, err, err_len);
		if (ret != C2W_OK) {
			feed_zone_free(nz);
			return ret;
		}
		t.in_force_us = mono_us();
	}
	pthread_mutex_lock(&f->mu);
	fz->st.expired = false;
	fz->st.last_apply = incremental ? "incremental" : "full";
	fz->st.last_apply_us = (uint64_t)(t.in_force_us - t.end_us);
	fz->st.notify_apply_us = fz->st.refresh_notify_us != 0
				     ? (uint64_t)(t.in_force_us - fz->st.refresh_notify_us)
				     : 0;
	fz->st.incremental += incremental;
	pthread_mutex_unlock(&f->mu);
	note_success(f, fz, pri, kind, type);
	struct feed_soa soa;
	(void)feed_zone_soa(fz->zone, &soa);
	char stages[320] = "";
	if (incremental) {
		int64_t sent = t.sent_us, pick = t.pick_us, built = t.built_us, done = t.done_us,
			build_cpu = t.build_cpu_us;
		if (built < pick || done < built)
			built = done; /* not reported: all of it counts as the build */
		snprintf(stages, sizeof(stages),
			 ": %.1f ms parse, %.1f ms copy, %.1f ms records, %.1f ms wait, %.1f ms "
			 "build, %.1f ms swap; CPU: %.1f ms receive, %.1f ms copy, %.1f ms records, "
			 "%.1f ms build",
			 ms_between(t.end_us, t.parsed_us), ms_between(t.parsed_us, t.fin_us),
			 ms_between(t.fin_us, t.rec_us), ms_between(sent, pick),
			 ms_between(pick, built), ms_between(built, done),
			 ms_between(0, t.rx_cpu_us), ms_between(0, t.copy_cpu_us),
			 ms_between(0, t.rec_cpu_us), ms_between(0, build_cpu));
	}
	c2w_log_info("feeds: zone %s: serial %u from %s by %s, %zu records, in force (%s, %.1f ms "
		     "after the transfer%s)",
		     fz->name, soa.serial, pri->text,
		     kind == FEED_XFR_INCREMENT ? "IXFR"
		     : type == FEED_XFR_IXFR    ? "IXFR (full)"
						: "AXFR",
		     feed_zone_count(fz->zone), incremental ? "incremental" : "full compile",
		     (double)(t.in_force_us - t.end_us) / 1000.0, stages);
	if (!incremental)
		count_owners(fz); /* what the next increment needs, now that the copy is in force */
	if (big)
		c2w_mem_release();
	return C2W_OK;
}

static void schedule(struct net_feeds *f, struct fzone *fz, bool ok)
{
	pthread_mutex_lock(&f->mu);
	struct fzone_state *st = &fz->st;
	unsigned delay;
	if (ok)
		delay = clamp(st->has_copy ? st->soa.refresh : 0, fz->refresh_min_s,
			      fz->refresh_max_s);
	else
		delay = clamp(st->has_copy ? st->soa.retry : 0, fz->retry_min_s, fz->retry_max_s);
	st->next_mono_ms = mono_ms() + (int64_t)delay * 1000;
	st->next_refresh = time(NULL) + delay;
	pthread_mutex_unlock(&f->mu);
}

static void http_refresh(struct net_feeds *f, size_t zi);

static void refresh(struct net_feeds *f, size_t zi)
{
	struct fzone *fz = &f->zones[zi];
	pthread_mutex_lock(&f->mu);
	fz->st.last_attempt = time(NULL);
	fz->st.attempt_mono_ms = mono_ms();
	fz->st.refresh_notify_us = fz->st.notify_pending ? fz->st.notify_us : 0;
	fz->st.notify_pending = false;
	pthread_mutex_unlock(&f->mu);
	if (fz->url != NULL) {
		http_refresh(f, zi);
		return;
	}
	char err[512] = "", first[600] = "";
	int ret = C2W_EXFR;
	for (size_t p = 0; p < fz->primary_count && !atomic_load(&f->stop); p++) {
		ret = try_primary(f, fz, zi, &fz->primaries[p], err, sizeof(err));
		if (ret == C2W_OK)
			break;
		c2w_log_warn("feeds: zone %s: primary %s: %s", fz->name, fz->primaries[p].text,
			     err);
		if (first[0] == '\0')
			snprintf(first, sizeof(first), "%s: %s", fz->primaries[p].text, err);
	}
	if (atomic_load(&f->stop))
		return;
	if (ret != C2W_OK) {
		pthread_mutex_lock(&f->mu);
		fz->st.failures++;
		/* The first primary's reason: it is the one that should have answered. */
		snprintf(fz->st.last_error, sizeof(fz->st.last_error), "%s", first);
		pthread_mutex_unlock(&f->mu);
		c2w_log_err("feeds: zone %s: refresh failed on every primary; the last good copy "
			    "stays",
			    fz->name);
	}
	schedule(f, fz, ret == C2W_OK);
}

static void check_expiry(struct net_feeds *f, size_t zi)
{
	struct fzone *fz = &f->zones[zi];
	pthread_mutex_lock(&f->mu);
	bool now_expired = !fz->st.expired && expired_at(fz, time(NULL));
	if (now_expired) {
		fz->st.expired = true;
		log_expired(fz);
	}
	pthread_mutex_unlock(&f->mu);
	if (now_expired && fz->on_expire == CONF_ON_EXPIRE_DROP)
		(void)ask_main(f, zi, NULL);
}

/* Is zone @zi due now? Else lower *@wait_ms to when it will be. */
static bool due(struct net_feeds *f, size_t zi, int64_t now, int64_t *wait_ms)
{
	struct fzone *fz = &f->zones[zi];
	pthread_mutex_lock(&f->mu);
	int64_t at = fz->st.next_mono_ms;
	if (fz->st.notify_pending) {
		/* NOTIFY storms cost at most one refresh per notify-interval. */
		int64_t n = fz->st.attempt_mono_ms + (int64_t)fz->notify_interval_s * 1000;
		if (n < at)
			at = n;
	}
	pthread_mutex_unlock(&f->mu);
	if (now >= at)
		return true;
	if (at - now < *wait_ms)
		*wait_ms = at - now;
	return false;
}

/* A copy in force whose save failed: write the held copy again (a transferred zone; an HTTP
 * feed's next download does it, http_commit()), or rebuild a policy still behind it. */
static void retry_save(struct net_feeds *f, size_t zi, int64_t now, int64_t *wait_ms)
{
	struct fzone *fz = &f->zones[zi];
	pthread_mutex_lock(&f->mu);
	bool failed = fz->st.save_failed, behind = fz->policy_behind;
	int64_t at = fz->save_retry_ms;
	struct feed_zone_meta meta = {.refreshed = fz->st.last_success};
	snprintf(meta.primary, sizeof(meta.primary), "%s", fz->st.source);
	pthread_mutex_unlock(&f->mu);
	if ((!failed && !behind) || (failed && fz->zone == NULL))
		return;
	if (now < at) {
		if (at - now < *wait_ms)
			*wait_ms = at - now;
		return;
	}
	note_saved(f, fz, zi, failed ? feed_zone_write(fz->zone, fz->path, &meta) : C2W_OK);
}

/* Entries with an "expires=" time ran out (on_expiry() asked): the policy compiled again from
 * the same copies and files, without them, on this thread; the main thread swaps it in. */
static void expiry_rebuild(struct net_feeds *f, int64_t *wait_ms)
{
	pthread_mutex_lock(&f->mu);
	int64_t due_at = f->expiry_due;
	pthread_mutex_unlock(&f->mu);
	if (due_at == 0)
		return;
	int64_t now = mono_ms();
	if (now < f->expiry_retry_ms) {
		if (f->expiry_retry_ms - now < *wait_ms)
			*wait_ms = f->expiry_retry_ms - now;
		return;
	}
	struct net_feeds_delta_io io = {.full = true};
	int ret = build_change(f, NULL, SIZE_MAX, NULL, NULL, &io, NULL);
	if (ret == C2W_EAGAIN)
		return; /* stopping: a reload compiles anyway, or the daemon ends */
	pthread_mutex_lock(&f->mu);
	if (ret == C2W_OK && f->expiry_due == due_at)
		f->expiry_due = 0; /* not one that came meanwhile */
	int64_t cost = f->expiry_cost_ms;
	pthread_mutex_unlock(&f->mu);
	if (ret == C2W_OK) {
		c2w_log_info("policy: entries expired at %lld no longer enforced (rebuilt in %lld "
			     "ms, on the transfer thread)",
			     (long long)due_at, (long long)cost);
		return;
	}
	c2w_log_err("policy: rebuild for entries expired at %lld refused (%s); retrying in 30 s",
		    (long long)due_at, c2w_strerror(ret));
	f->expiry_retry_ms = mono_ms() + 30000;
}

static void *run(void *arg)
{
	struct net_feeds *f = arg;
	while (!atomic_load(&f->stop)) {
		int64_t wait_ms = 1000;
		for (size_t i = 0; i < f->count && !atomic_load(&f->stop); i++) {
			if (due(f, i, mono_ms(), &wait_ms))
				refresh(f, i);
			check_expiry(f, i);
			retry_save(f, i, mono_ms(), &wait_ms);
		}
		if (!atomic_load(&f->stop))
			expiry_rebuild(f, &wait_ms);
		if (atomic_load(&f->stop))
			break;
		struct pollfd p = {.fd = f->wake_fd, .events = POLLIN};
		if (wait_ms > 0 && poll(&p, 1, (int)wait_ms) > 0) {
			uint64_t v;
			(void)!read(f->wake_fd, &v, sizeof(v));
		}
	}
	return NULL;
}

static void on_expiry(evutil_socket_t fd, short what, void *arg);

/* ---- lifecycle ------------------------------------------------------------------------------ */

int net_feeds_new(struct event_base *base, const struct c2w_config *cfg,
		  net_feeds_delta_cb delta, void *ctx, struct net_feeds **out)
{
	struct net_feeds *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return C2W_ENOMEM;
	f->base = base;
	f->cfg = cfg;
	f->delta = delta;
	f->ctx = ctx;
	f->wake_fd = f->req_fd = -1;
	pthread_mutex_init(&f->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* net_feeds_settle()'s deadline */
	pthread_cond_init(&f->cv, &ca);
	pthread_condattr_destroy(&ca);
	int ret = C2W_ENOMEM;
	f->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	f->req_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (f->wake_fd < 0 || f->req_fd < 0) {
		ret = -errno;
		goto out_free;
	}
	f->req_ev = event_new(base, f->req_fd, EV_READ | EV_PERSIST, on_request, f);
	if (f->req_ev == NULL || event_add(f->req_ev, NULL) != 0)
		goto out_free;
	f->expiry_ev = evtimer_new(base, on_expiry, f);
	if (f->expiry_ev == NULL || feed_http_global_init() != C2W_OK)
		goto out_free;
	f->curl_ready = true;
	ret = zones_build(cfg, NULL, 0, &f->zones, &f->count);
	if (ret != C2W_OK)
		goto out_free;
	*out = f;
	return C2W_OK;
out_free:
	net_feeds_free(f);
	return ret;
}

int net_feeds_start(struct net_feeds *f)
{
	/* Also without zones to follow: expiry rebuilds run on this thread. */
	if (f->running)
		return C2W_OK;
	atomic_store(&f->stop, false);
	int ret = pthread_create(&f->thread, NULL, run, f);
	if (ret != 0)
		return -ret;
	f->running = true;
	return C2W_OK;
}

static void stop_thread(struct net_feeds *f)
{
	if (!f->running)
		return;
	pthread_mutex_lock(&f->mu);
	atomic_store(&f->stop, true);
	atomic_store(&f->fold_stop, true);
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	wake(f);
	pthread_join(f->thread, NULL);
	f->running = false;
	f->req_pending = false;
}

int net_feeds_reconfigure(struct net_feeds *f, const struct c2w_config *cfg)
{
	stop_thread(f);
	struct fzone *zones = NULL;
	size_t count = 0;
	pthread_mutex_lock(&f->mu);
	int ret = zones_build(cfg, f->zones, f->count, &zones, &count);
	zones_free(f->zones, f->count);
	/* The old config is gone: on failure follow nothing rather than read freed zones. */
	f->zones = ret == C2W_OK ? zones : NULL;
	f->count = ret == C2W_OK ? count : 0;
	f->cfg = cfg;
	pthread_mutex_unlock(&f->mu);
	int sret = net_feeds_start(f);
	return ret != C2W_OK ? ret : sret;
}

void net_feeds_free(struct net_feeds *f)
{
	if (f == NULL)
		return;
	stop_thread(f);
	zones_free(f->zones, f->count);
	if (f->req_ev != NULL)
		event_free(f->req_ev);
	if (f->expiry_ev != NULL)
		event_free(f->expiry_ev);
	if (f->curl_ready)
		feed_http_global_cleanup();
	if (f->wake_fd >= 0)
		close(f->wake_fd);
	if (f->req_fd >= 0)
		close(f->req_fd);
	pthread_mutex_destroy(&f->mu);
	pthread_cond_destroy(&f->cv);
	free(f);
}

/* ---- NOTIFY and the control command --------------------------------------------------------- */

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr *b)
{
	if (a->ss_family != b->sa_family)
		return false;
	if (b->sa_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
			      &((const struct sockaddr_in *)b)->sin_addr, 4) == 0;
	if (b->sa_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			      &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
	return false;
}

bool net_feeds_notify(struct net_feeds *f, const uint8_t *qname, size_t qname_len,
		      const struct sockaddr *peer)
{
	bool ok = false;
	pthread_mutex_lock(&f->mu);
	for (size_t i = 0; i < f->count && !ok; i++) {
		struct fzone *fz = &f->zones[i];
		if (fz->dname_len != qname_len || memcmp(fz->dname, qname, qname_len) != 0)
			continue;
		for (size_t p = 0; p < fz->primary_count && !ok; p++)
			ok = same_addr(&fz->primaries[p].ss, peer);
		if (ok) {
			fz->st.notify_pending = true;
			fz->st.notifies++;
			fz->st.notify_us = mono_us();
		}
	}
	pthread_mutex_unlock(&f->mu);
	if (ok)
		wake(f);
	return ok;
}

/* Error texts come from primaries and libraries: keep them valid JSON strings. */
static void json_safe(char *s)
{
	for (; *s != '\0'; s++)
		if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = '?';
}

static void http_json(const struct fzone *fz, const struct fzone_state *st,
		      struct control_reply *reply);

static void zone_json(const struct fzone *fz, struct control_reply *reply, bool first)
{
	struct fzone_state st = fz->st;
	json_safe(st.last_error);
	json_safe(st.save_error);
	json_safe(st.source);
	bool enforced = st.has_copy && !(st.expired && fz->on_expire == CONF_ON_EXPIRE_DROP);
	control_reply_printf(
	    reply,
	    "%s{\"name\":\"%s\",\"has_copy\":%s,\"serial\":%" PRIu32 ",\"last_success\":%" PRId64
	    ",\"last_attempt\":%" PRId64 ",\"last_error\":\"%s\",\"next_refresh\":%" PRId64
	    ",\"rules\":%" PRIu64 ",\"records\":%" PRIu64 ",\"source\":\"%s\",\"expired\":%s"
	    ",\"enforced\":%s,\"on_expire\":\"%s\",\"transfers\":%" PRIu64 ",\"failures\":%" PRIu64
	    ",\"axfr\":%" PRIu64 ",\"ixfr\":%" PRIu64 ",\"uptodate\":%" PRIu64
	    ",\"notifies\":%" PRIu64 ",\"tsig\":%s,\"incremental\":%" PRIu64
	    ",\"merges\":%" PRIu64 ",\"rebases\":%" PRIu64 ",\"building\":%s,\"folding\":%s"
	    ",\"last_apply\":\"%s\",\"last_apply_us\":%" PRIu64
	    ",\"notify_apply_us\":%" PRIu64 ",\"queue_peak_bytes\":%" PRIu64
	    ",\"last_queue_peak_bytes\":%" PRIu64 ",\"queue_full_waits\":%" PRIu64
	    ",\"saved\":%s,\"save_error\":\"%s\"",
	    first ? "" : ",", fz->name, st.has_copy ? "true" : "false",
	    st.has_copy ? st.soa.serial : 0, st.last_success, st.last_attempt, st.last_error,
	    st.next_refresh, st.rules, st.records, st.source, st.expired ? "true" : "false",
	    enforced ? "true" : "false", fz->on_expire == CONF_ON_EXPIRE_KEEP ? "keep" : "drop",
	    st.transfers, st.failures, st.axfr, st.ixfr, st.uptodate, st.notifies,
	    fz->has_key ? "true" : "false", st.incremental, st.merges, st.rebases,
	    st.building ? "true" : "false", st.folding ? "true" : "false",
	    st.last_apply ? st.last_apply : "", st.last_apply_us, st.notify_apply_us, st.queue_peak,
	    st.last_queue_peak, st.queue_full_waits, st.save_failed ? "false" : "true",
	    st.save_error);
	if (fz->url != NULL)
		http_json(fz, &st, reply);
	control_reply_printf(reply, "}");
}

static int on_ctl_feeds(void *arg, int argc, char **argv, struct control_reply *reply)
{
	struct net_feeds *f = arg;
	(void)argc;
	(void)argv;
	control_reply_printf(reply, "{\"zones\":[");
	pthread_mutex_lock(&f->mu);
	for (size_t i = 0; i < f->count; i++)
		zone_json(&f->zones[i], reply, i == 0);
	pthread_mutex_unlock(&f->mu);
	control_reply_printf(reply, "]}");
	return C2W_OK;
}

int net_feeds_control_register(struct net_feeds *f, struct control_server *ctl)
{
	return control_server_register(ctl, "feeds", on_ctl_feeds, f);
}

/* ---- HTTP feeds (url: instead of primaries) -------------------------------------------------- */

static int http_init(struct fzone *fz, const struct conf_policy_zone *z)
{
	fz->url = strdup(z->url);
	fz->ca_file = z->ca_file != NULL ? strdup(z->ca_file) : NULL;
	if (fz->url == NULL || (z->ca_file != NULL && fz->ca_file == NULL))
		return C2W_ENOMEM;
	fz->format = z->format;
	fz->refresh_s = z->refresh_s;
	fz->http_lim = (struct feed_http_limits){
	    .max_bytes = z->xfr_max_bytes,
	    .timeout_ms = z->xfr_timeout_ms,
	    .low_speed_bytes = (unsigned)z->low_speed_bytes,
	    .low_speed_s = z->low_speed_s,
	    .ca_file = fz->ca_file,
	};
	/* expired_at() reads the expiry from the SOA timers: an HTTP feed has the key instead. */
	fz->st.soa.expire = z->expire_s;
	return C2W_OK;
}

static void http_read_copy(struct fzone *fz)
{
	struct stat sb;
	if (stat(fz->path, &sb) != 0 || !S_ISREG(sb.st_mode))
		return;
	struct feed_http_meta meta;
	if (feed_http_meta_read(fz->path, &meta) != C2W_OK) {
		/* A copy without its validators: used, refreshed unconditionally. */
		memset(&meta, 0, sizeof(meta));
		meta.refreshed = (int64_t)sb.st_mtime;
	}
	fz->st.has_copy = true;
	fz->st.http = meta;
	fz->st.last_success = meta.refreshed;
	snprintf(fz->st.source, sizeof(fz->st.source), "%s", "disk copy");
	c2w_log_info("feeds: zone %s: last good copy %s (%lld bytes, from %s)", fz->name, fz->path,
		     (long long)sb.st_size, meta.url[0] ? meta.url : "?");
	if (expired_at(fz, time(NULL))) {
		fz->st.expired = true;
		log_expired(fz);
	}
}

/* A downloaded body must make rules: an HTML error page served with 200, or a truncated or
 * foreign file, is refused here (off the main thread) instead of emptying the zone. */
static int http_check_body(const struct fzone *fz, const char *cand, char *err, size_t err_len)
{
	struct policy_zone_spec spec = {
	    .name = fz->name,
	    .file = cand,
	    .format = fz->format == CONF_ZONE_HOSTS     ? POLICY_FORMAT_HOSTS
		      : fz->format == CONF_ZONE_DOMAINS ? POLICY_FORMAT_DOMAINS
							: POLICY_FORMAT_RPZ,
	};
	struct policy_report *rep = calloc(1, sizeof(*rep));
	struct policy_snap *snap = NULL;
	if (rep == NULL)
		return C2W_ENOMEM;
	int ret = policy_snap_build(&spec, 1, NULL, rep, &snap);
	policy_snap_free(snap);
	if (ret != C2W_OK) {
		snprintf(err, err_len, "body not usable: %.400s", rep->error);
	} else {
		const struct policy_zone_report *z = &rep->zones[0];
		uint64_t good = z->rules + z->expired + z->duplicates + z->conflicts;
		if (good == 0 || z->rejected > good) {
			snprintf(
			    err, err_len,
			    "body does not parse as a %s feed: %llu lines rejected, %llu rules",
			    fz->format == CONF_ZONE_HOSTS     ? "hosts"
			    : fz->format == CONF_ZONE_DOMAINS ? "domains"
							      : "rpz",
			    (unsigned long long)z->rejected, (unsigned long long)z->rules);
			ret = C2W_EFEED;
		}
	}
	free(rep);
	return ret;
}

static const char *apply_error(int ret)
{
	switch (ret) {
	case C2W_ERANGE:
		return "max-change exceeded";
	case C2W_EPROTECTED:
		return "it would block a never-block name";
	default:
		return c2w_strerror(ret);
	}
}

/* A new body in @cand: check it, compile it through the main thread, then keep it. */
static int http_commit(struct net_feeds *f, struct fzone *fz, size_t zi, const char *cand,
		       struct feed_http_meta *got, char *err, size_t err_len)
{
	int ret = http_check_body(fz, cand, err, err_len);
	if (ret != C2W_OK)
		return ret;
	ret = ask_main(f, zi, cand);
	if (ret != C2W_OK) {
		snprintf(err, err_len, "new copy not put in force: %s; see the policy log lines",
			 apply_error(ret));
		return ret;
	}
	int sret = C2W_OK;
	if (rename(cand, fz->path) != 0) {
		sret = -errno;
		c2w_log_err("feeds: zone %s: in force but not saved to %s: %s", fz->name, fz->path,
			    c2w_strerror(sret));
		/* no held copy to write again: the next download is unconditional, and differs
		 * from the older file, so it is committed (and renamed) again */
		got->etag[0] = got->last_modified[0] = '\0';
	}
	sync_parent(fz->path);
	note_saved(f, fz, zi, sret);
	got->refreshed = time(NULL);
	if ((ret = feed_http_meta_write(fz->path, got)) != C2W_OK)
		c2w_log_warn("feeds: zone %s: validators not saved: %s", fz->name,
			     c2w_strerror(ret));
	return C2W_OK;
}

/* 200 with the very body in force: no rebuild, counted apart from 304s. */
#define HTTP_UNCHANGED 2

/* 304 (or the same body again, with @fresh validators): the copy is good for another interval;
 * say so on disk for the expiry after a restart. */
static void http_still_good(struct net_feeds *f, struct fzone *fz, size_t zi,
			    const struct feed_http_meta *fresh)
{
	pthread_mutex_lock(&f->mu);
	struct feed_http_meta meta = fresh != NULL ? *fresh : fz->st.http;
	pthread_mutex_unlock(&f->mu);
	meta.refreshed = time(NULL);
	int ret = feed_http_meta_write(fz->path, &meta);
	if (ret != C2W_OK)
		c2w_log_warn("feeds: zone %s: validators not saved: %s", fz->name,
			     c2w_strerror(ret));
	pthread_mutex_lock(&f->mu);
	bool was = fz->st.expired;
	fz->st.expired = false;
	fz->st.http = meta;
	pthread_mutex_unlock(&f->mu);
	if (was && fz->on_expire == CONF_ON_EXPIRE_DROP)
		(void)ask_main(f, zi, NULL);
}

static void http_note(struct net_feeds *f, struct fzone *fz, int ret, long status,
		      const struct feed_http_meta *got, const char *err)
{
	pthread_mutex_lock(&f->mu);
	struct fzone_state *st = &fz->st;
	st->http_status = status;
	if (ret == FEED_HTTP_NEW || ret == FEED_HTTP_NOT_MODIFIED || ret == HTTP_UNCHANGED) {
		st->has_copy = true;
		st->expired = false;
		st->last_success = time(NULL);
		st->last_error[0] = '\0';
		st->transfers++;
		st->failures_in_row = 0;
		if (ret == FEED_HTTP_NEW)
			st->http = *got;
		else if (ret == HTTP_UNCHANGED)
			st->unchanged++;
		else
			st->not_modified++;
		snprintf(st->source, sizeof(st->source), "%s", "http");
	} else {
		st->failures++;
		st->failures_in_row++;
		snprintf(st->last_error, sizeof(st->last_error), "%s", err);
	}
	/* Refresh interval after a success; after failures retry-min, doubling up to retry-max,
	 * never later than the refresh interval. */
	unsigned delay = fz->refresh_s;
	if (st->failures_in_row > 0) {
		unsigned shift = st->failures_in_row - 1 < 16 ? st->failures_in_row - 1 : 16;
		uint64_t back = (uint64_t)fz->retry_min_s << shift;
		back = back > fz->retry_max_s ? fz->retry_max_s : back;
		delay = back < delay ? (unsigned)back : delay;
	}
	st->next_mono_ms = mono_ms() + (int64_t)delay * 1000;
	st->next_refresh = time(NULL) + delay;
	pthread_mutex_unlock(&f->mu);
}

static void http_refresh(struct net_feeds *f, size_t zi)
{
	struct fzone *fz = &f->zones[zi];
	char cand[4200], err[512] = "";
	struct feed_http_meta have, got;
	long status = 0;
	snprintf(cand, sizeof(cand), "%s.candidate", fz->path);
	pthread_mutex_lock(&f->mu);
	have = fz->st.http;
	bool conditional = fz->st.has_copy && access(fz->path, R_OK) == 0;
	pthread_mutex_unlock(&f->mu);
	struct feed_http_limits lim = fz->http_lim;
	lim.stop = &f->stop;
	int ret = feed_http_fetch(fz->url, &lim, conditional ? &have : NULL, cand, &got, &status,
				  err, sizeof(err));
	if (atomic_load(&f->stop)) {
		unlink(cand);
		return;
	}
	if (ret == FEED_HTTP_NEW && conditional && feed_http_copy_same(cand, fz->path)) {
		/* A server without validators (or ignoring them): nothing to rebuild. */
		unlink(cand);
		http_still_good(f, fz, zi, &got);
		ret = HTTP_UNCHANGED;
	} else if (ret == FEED_HTTP_NEW) {
		int c = http_commit(f, fz, zi, cand, &got, err, sizeof(err));
		unlink(cand); /* gone after a commit; a refused body is not kept */
		if (c != C2W_OK)
			ret = c;
	} else if (ret == FEED_HTTP_NOT_MODIFIED) {
		http_still_good(f, fz, zi, NULL);
	}
	if (ret == FEED_HTTP_NEW)
		c2w_log_info("feeds: zone %s: new copy from %s in force", fz->name, fz->url);
	else if (ret != FEED_HTTP_NOT_MODIFIED && ret != HTTP_UNCHANGED)
		c2w_log_err("feeds: zone %s: %s: %s; the last good copy stays", fz->name, fz->url,
			    err);
	http_note(f, fz, ret, status, &got, err);
}

/* JSON string with escapes (URLs and validators come from config and servers). */
static void json_str(struct control_reply *reply, const char *key, const char *v)
{
	char buf[2200];
	size_t n = 0;
	for (; *v != '\0' && n + 8 < sizeof(buf); v++) {
		unsigned char c = (unsigned char)*v;
		if (c == '"' || c == '\\') {
			buf[n++] = '\\';
			buf[n++] = (char)c;
		} else if (c < 0x20 || c >= 0x7f) {
			buf[n++] = '?';
		} else {
			buf[n++] = (char)c;
		}
	}
	buf[n] = '\0';
	control_reply_printf(reply, ",\"%s\":\"%s\"", key, buf);
}

static void http_json(const struct fzone *fz, const struct fzone_state *st,
		      struct control_reply *reply)
{
	json_str(reply, "url", fz->url);
	json_str(reply, "etag", st->http.etag);
	json_str(reply, "last_modified", st->http.last_modified);
	control_reply_printf(
	    reply,
	    ",\"http_status\":%ld,\"not_modified\":%" PRIu64 ",\"unchanged\":%" PRIu64
	    ",\"refresh\":%u,\"expire\":%u",
	    st->http_status, st->not_modified, st->unchanged, fz->refresh_s, st->soa.expire);
}

/* ---- per-entry lifetimes ("expires=") ---------------------------------------------------------
 */

/* Main thread: the policy in force has an entry that runs out: rebuild at that second. */
static void on_expiry(evutil_socket_t fd, short what, void *arg)
{
	struct net_feeds *f = arg;
	(void)fd;
	(void)what;
	if (f->next_expiry == 0)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	if ((int64_t)ts.tv_sec < f->next_expiry) {
		net_feeds_note_expiry(f, f->next_expiry); /* woke early (clock change): re-arm */
		return;
	}
	/* The transfer thread compiles (expiry_rebuild()), this thread swaps the result in: the
	 * swap arms the timer again. */
	pthread_mutex_lock(&f->mu);
	f->expiry_due = f->next_expiry;
	pthread_mutex_unlock(&f->mu);
	f->next_expiry = 0;
	wake(f);
}

void net_feeds_note_expiry(struct net_feeds *f, int64_t next_expiry)
{
	if (f == NULL || f->expiry_ev == NULL)
		return;
	evtimer_del(f->expiry_ev);
	f->next_expiry = next_expiry;
	if (next_expiry == 0)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t ms = next_expiry * 1000 - ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	/* Entries that run out second after second (each with its own expiry) must not keep the
	 * transfer thread compiling: leave at least 4 times the last rebuild's cost between two,
	 * so expiry rebuilds take at most a fifth of its time. */
	pthread_mutex_lock(&f->mu);
	int64_t done = f->expiry_done_ms, gap = done + 4 * f->expiry_cost_ms - mono_ms();
	pthread_mutex_unlock(&f->mu);
	if (done > 0 && gap > ms)
		ms = gap;
	if (ms < 0)
		ms = 0;
	if (ms > 300000)
		ms = 300000; /* re-check the wall clock at least every 5 minutes */
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
	evtimer_add(f->expiry_ev, &tv);
}

bool net_feeds_zone_soa(struct net_feeds *f, const char *name, uint32_t timers[5])
{
	bool ok = false;
	if (f == NULL)
		return false;
	pthread_mutex_lock(&f->mu);
	const struct fzone *fz = find_zone(f->zones, f->count, name);
	if (fz != NULL && fz->url == NULL && fz->st.has_copy) {
		const struct feed_soa *s = &fz->st.soa;
		timers[0] = s->serial;
		timers[1] = s->refresh;
		timers[2] = s->retry;
		timers[3] = s->expire;
		timers[4] = s->minimum;
		ok = true;
	}
	pthread_mutex_unlock(&f->mu);
	return ok;
}

size_t net_feeds_state(struct net_feeds *f, struct net_feed_state *out, size_t cap)
{
	size_t n = 0;
	if (f == NULL)
		return 0;
	pthread_mutex_lock(&f->mu);
	for (size_t i = 0; i < f->count && n < cap; i++, n++) {
		const struct fzone *fz = &f->zones[i];
		struct net_feed_state *o = &out[n];
		snprintf(o->name, sizeof(o->name), "%s", fz->name);
		o->has_copy = fz->st.has_copy;
		o->expired = fz->st.expired;
		o->error = fz->st.last_error[0] != '\0' || fz->st.save_failed;
		o->serial = fz->st.has_copy ? fz->st.soa.serial : 0;
		o->last_success = fz->st.last_success;
		o->rules = fz->st.rules;
		o->transfers = fz->st.transfers;
		o->failures = fz->st.failures;
	}
	pthread_mutex_unlock(&f->mu);
	return n;
}
