/* SPDX-License-Identifier: MIT */
/*
 * The event thread. Polls the rings (a push costs the worker no system call, so there is no
 * wake-up; an idle pass sleeps 5 ms), filters, pseudonymises, writes sinks and store,
 * commits the store every flush_ms, runs retention and key rotation every minute.
 */
#include "events/pipeline.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <urcu.h>

#include "core/log.h"
#include "events/pseudo.h"
#include "events/sinks.h"
#include "events/store.h"

#define RINGS_MAX        256
#define BATCH            256
#define HOUSEKEEP_S      60
#define STORE_RETRY_MS   10000 /* reopen attempts for a store that could not be opened */
#define STORE_BACKOFF_MS 5000  /* after a failed insert or commit, skip the store this long */

struct counter {
	char zone[EVENTS_NAME_CAP];
	uint8_t action;
	uint64_t hits;
};

struct events_pipeline {
	struct events_spec spec; /* strings owned (strdup) */
	struct events_optout *optout;
	struct events_ring *rings[RINGS_MAX];
	size_t ring_count;

	pthread_mutex_t key_lock; /* guards @ps (rotation vs. evidence pseudonyms) */
	struct events_pseudo *ps;
	struct events_jsonl *jsonl;
	struct events_dnstap *dnstap;
	/* NULL until the store opens: set by _new or later by the event thread (retry), read by
	 * the sinkhole through events_pipeline_store(), hence atomic. */
	struct events_store *_Atomic store;
	uint64_t store_try_ms;  /* last open attempt (event thread) */
	uint64_t store_skip_ms; /* skip the store until then after a failure; 0 = no skip */

	pthread_t thread;
	bool started;
	atomic_bool running;
	atomic_bool reopen;

	pthread_mutex_t count_lock; /* guards @counters */
	struct counter *counters;
	size_t counter_count, counter_cap;
	size_t counter_last; /* cache: index of the last zone/action seen */
	struct events_family_counter *families; /* guarded by @count_lock; EVENTS_FAMILY_ROWS */
	size_t family_count;

	_Atomic uint64_t hits, queries_logged, optout_skipped, query_skipped, store_lost,
	    sink_errors, jsonl_rotations, key_rotations, jsonl_reopen_failures,
	    key_rotation_failures;
	uint64_t batch; /* hits added to the store since the last commit */
	_Atomic uint64_t pending;   /* @batch, for other threads */
	_Atomic uint64_t commit_ms; /* mono_ms() of the last successful commit or open */
	_Atomic bool store_up;      /* @store is open */
	uint64_t last_flush_ms;
	uint64_t last_housekeep_s;
	uint64_t sink_log_s; /* rate limit for sink errors */
};

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t real_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec;
}

static int dup_str(const char **dst, const char *src)
{
	*dst = NULL;
	if (src == NULL)
		return C2W_OK;
	*dst = strdup(src);
	return *dst ? C2W_OK : C2W_ENOMEM;
}

static void spec_free(struct events_spec *s)
{
	free((void *)(uintptr_t)s->jsonl);
	free((void *)(uintptr_t)s->dnstap);
	free((void *)(uintptr_t)s->key_file);
	free((void *)(uintptr_t)s->sqlite);
	free((void *)(uintptr_t)s->identity);
}

static int spec_copy(struct events_spec *dst, const struct events_spec *src)
{
	*dst = *src;
	dst->jsonl = dst->dnstap = dst->key_file = dst->sqlite = dst->identity = NULL;
	if (dup_str(&dst->jsonl, src->jsonl) || dup_str(&dst->dnstap, src->dnstap) ||
	    dup_str(&dst->key_file, src->key_file) || dup_str(&dst->sqlite, src->sqlite) ||
	    dup_str(&dst->identity, src->identity))
		return C2W_ENOMEM;
	if (dst->flush_ms == 0)
		dst->flush_ms = 1000;
	return C2W_OK;
}

int events_pipeline_new(const struct events_spec *spec, struct events_optout *optout,
			struct events_pipeline **out)
{
	struct events_pipeline *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return C2W_ENOMEM;
	pthread_mutex_init(&p->key_lock, NULL);
	pthread_mutex_init(&p->count_lock, NULL);
	p->optout = optout;
	int ret = spec_copy(&p->spec, spec);
	p->families = calloc(EVENTS_FAMILY_ROWS, sizeof(*p->families));
	if (ret == C2W_OK && p->families == NULL)
		ret = C2W_ENOMEM;
	if (ret != C2W_OK)
		goto out_free;
	ret = events_pseudo_open(p->spec.key_file, p->spec.key_rotation_s, &p->ps);
	if (ret != C2W_OK) {
		c2w_log_err("events: pseudonym key %s: %s",
			    p->spec.key_file ? p->spec.key_file : "(ephemeral)", c2w_strerror(ret));
		goto out_free;
	}
	if (p->spec.jsonl &&
	    (ret = events_jsonl_open(p->spec.jsonl, p->spec.jsonl_rotate_bytes,
				     p->spec.jsonl_rotate_s, &p->jsonl)) != C2W_OK) {
		c2w_log_err("events: cannot open hit log %s: %s", p->spec.jsonl, c2w_strerror(ret));
		goto out_free;
	}
	if (p->spec.dnstap &&
	    (ret = events_dnstap_open(p->spec.dnstap, p->spec.identity, &p->dnstap)) != C2W_OK) {
		c2w_log_err("events: cannot set up dnstap %s: %s", p->spec.dnstap,
			    c2w_strerror(ret));
		goto out_free;
	}
	p->last_flush_ms = p->store_try_ms = mono_ms();
	atomic_store(&p->commit_ms, p->last_flush_ms);
	if (p->spec.sqlite) {
		/* An incident store that cannot open (disk, permissions, a path that is not a
		 * directory) must not take DNS down: hits still reach the other sinks, are
		 * counted as store_lost, and the event thread retries every 10 s. */
		struct events_store *st = NULL;
		ret = events_store_open(p->spec.sqlite, &st);
		if (ret == C2W_EACCES || ret == C2W_EINVAL) {
			/* Raw addresses readable by others, or a symlink: the operator must fix
			 * the files (logged); do not start. */
			ret = C2W_ECONFIG;
			goto out_free;
		}
		ret = C2W_OK;
		if (st != NULL)
			atomic_store(&p->store, st);
		else
			c2w_log_err("events: incident store %s unavailable; hits are counted as "
				    "lost until it opens (retry every %d s)",
				    p->spec.sqlite, STORE_RETRY_MS / 1000);
	}
	*out = p;
	return C2W_OK;
out_free:
	events_pipeline_free(p);
	return ret;
}

int events_pipeline_attach_ring(struct events_pipeline *p, struct events_ring *ring)
{
	if (p->started)
		return C2W_EINVAL;
	if (p->ring_count == RINGS_MAX)
		return C2W_EFULL;
	p->rings[p->ring_count++] = ring;
	return C2W_OK;
}

/* Caller holds count_lock. The last row is kept for the overflow ("other"). */
static void count_family(struct events_pipeline *p, const struct events_hit *hit)
{
	if (p->families == NULL)
		return;
	size_t i;
	for (i = 0; i < p->family_count; i++)
		if (strcmp(p->families[i].family, hit->family) == 0 &&
		    strcmp(p->families[i].category, hit->category) == 0)
			break;
	if (i == p->family_count) {
		if (p->family_count < EVENTS_FAMILY_ROWS - 1) {
			p->family_count++;
			events_hit_copy(p->families[i].category, EVENTS_CATEGORY_CAP, hit->category);
			events_hit_copy(p->families[i].family, EVENTS_FAMILY_CAP, hit->family);
		} else {
			i = EVENTS_FAMILY_ROWS - 1;
			snprintf(p->families[i].category, EVENTS_CATEGORY_CAP, "other");
			snprintf(p->families[i].family, EVENTS_FAMILY_CAP, "other");
		}
	}
	p->families[i].hits++;
}

int events_pipeline_family_counters(const struct events_pipeline *p,
				    struct events_family_counter **out, size_t *count)
{
	struct events_pipeline *m = (struct events_pipeline *)(uintptr_t)p;
	*out = NULL;
	*count = 0;
	pthread_mutex_lock(&m->count_lock);
	size_t n = m->family_count;
	bool overflow = m->families != NULL && m->families[EVENTS_FAMILY_ROWS - 1].hits > 0;
	size_t total = n + (overflow ? 1 : 0);
	struct events_family_counter *arr = total ? malloc(total * sizeof(*arr)) : NULL;
	if (total > 0 && arr == NULL) {
		pthread_mutex_unlock(&m->count_lock);
		return C2W_ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		arr[i] = m->families[i];
	if (overflow)
		arr[n] = m->families[EVENTS_FAMILY_ROWS - 1];
	pthread_mutex_unlock(&m->count_lock);
	*out = arr;
	*count = total;
	return C2W_OK;
}

static void count_hit(struct events_pipeline *p, const struct events_hit *hit)
{
	pthread_mutex_lock(&p->count_lock);
	size_t i = p->counter_last;
	if (i >= p->counter_count || p->counters[i].action != hit->action ||
	    strcmp(p->counters[i].zone, hit->zone) != 0) {
		for (i = 0; i < p->counter_count; i++)
			if (p->counters[i].action == hit->action &&
			    strcmp(p->counters[i].zone, hit->zone) == 0)
				break;
		if (i == p->counter_count) {
			if (p->counter_count == p->counter_cap) {
				size_t ncap = p->counter_cap ? p->counter_cap * 2 : 16;
				struct counter *nc = realloc(p->counters, ncap * sizeof(*nc));
				if (nc == NULL)
					goto out_unlock;
				p->counters = nc;
				p->counter_cap = ncap;
			}
			memset(&p->counters[i], 0, sizeof(p->counters[i]));
			events_hit_copy(p->counters[i].zone, EVENTS_NAME_CAP, hit->zone);
			p->counters[i].action = hit->action;
			p->counter_count++;
		}
		p->counter_last = i;
	}
	p->counters[i].hits++;
out_unlock:
	count_family(p, hit);
	pthread_mutex_unlock(&p->count_lock);
}

static void sink_error(struct events_pipeline *p, const char *sink, int err)
{
	atomic_fetch_add(&p->sink_errors, 1);
	if (c2w_log_ratelimit(&p->sink_log_s, 10))
		c2w_log_warn("events: %s sink: %s (%llu sink errors so far)", sink,
			     c2w_strerror(err), (unsigned long long)atomic_load(&p->sink_errors));
}

/* A failing store (locked: each attempt waits out the 2 s busy timeout; disk full) must not
 * hold up the other sinks: after a failure it is skipped for STORE_BACKOFF_MS, its hits
 * counted as lost. */
static void store_backoff(struct events_pipeline *p)
{
	p->store_skip_ms = mono_ms() + STORE_BACKOFF_MS;
}

static void store_add(struct events_pipeline *p, const struct events_hit *hit,
		      const char *pseudonym, const char *key_id)
{
	if (p->store_skip_ms != 0) {
		if (mono_ms() < p->store_skip_ms) {
			atomic_fetch_add(&p->store_lost, 1);
			return;
		}
		p->store_skip_ms = 0;
	}
	if (events_store_hit_add(p->store, hit, pseudonym, key_id) == C2W_OK) {
		p->batch++;
		atomic_store(&p->pending, p->batch);
		return;
	}
	/* The open batch was rolled back with this hit. */
	atomic_fetch_add(&p->store_lost, p->batch + 1);
	p->batch = 0;
	store_backoff(p);
}

/*
 * A CLIENT-IP rule's prefix is subscriber data (for a /32 or /128 rule it is the client's
 * own address): it leaves the box like the client field, as "<pseudonym>/<length>" under the
 * current key, or empty when it is not a prefix we can read. Caller holds key_lock.
 */
static void pseudonymise_match(const struct events_pipeline *p, struct events_hit *hit)
{
	char text[EVENTS_NAME_CAP], pseudonym[EVENTS_PSEUDO_CAP];
	uint8_t addr[16] = {0};
	events_hit_copy(text, sizeof(text), hit->match);
	hit->match[0] = '\0';
	char *slash = strchr(text, '/');
	if (slash == NULL)
		return;
	*slash = '\0';
	unsigned long bits = strtoul(slash + 1, NULL, 10);
	int family = strchr(text, ':') != NULL ? AF_INET6 : AF_INET;
	if (inet_pton(family, text, addr) != 1 || bits > (family == AF_INET ? 32u : 128u))
		return;
	events_pseudo_make(p->ps, family, addr, pseudonym);
	snprintf(hit->match, sizeof(hit->match), "%s/%lu", pseudonym, bits);
}

static void process_one(struct events_pipeline *p, const struct events_hit *in)
{
	const struct events_hit *hit = in;
	struct events_hit masked;
	if (hit->kind != EVENTS_KIND_HIT && !p->spec.query_log) {
		atomic_fetch_add(&p->query_skipped, 1);
		return;
	}
	if (p->optout != NULL &&
	    events_optout_contains_raw(p->optout, hit->client_family, hit->client_addr)) {
		atomic_fetch_add(&p->optout_skipped, 1);
		return;
	}
	char pseudonym[EVENTS_PSEUDO_CAP], key_id[EVENTS_KEY_ID_CAP];
	pthread_mutex_lock(&p->key_lock);
	events_pseudo_make(p->ps, hit->client_family, hit->client_addr, pseudonym);
	memcpy(key_id, events_pseudo_key_id(p->ps), sizeof(key_id));
	if (hit->kind == EVENTS_KIND_HIT && hit->trigger == EVENTS_TRIGGER_CLIENT_IP) {
		masked = *in;
		pseudonymise_match(p, &masked);
		hit = &masked;
	}
	pthread_mutex_unlock(&p->key_lock);
	atomic_fetch_add(hit->kind == EVENTS_KIND_HIT ? &p->hits : &p->queries_logged, 1);
	if (p->jsonl) {
		int r = events_jsonl_write(p->jsonl, hit, pseudonym, key_id);
		if (r < 0)
			sink_error(p, "jsonl", r);
		else if (r == 1)
			atomic_fetch_add(&p->jsonl_rotations, 1);
	}
	if (p->dnstap) {
		int r = events_dnstap_write(p->dnstap, hit, pseudonym, key_id);
		if (r < 0)
			sink_error(p, "dnstap", r);
	}
	if (p->spec.syslog)
		events_syslog_write(hit, pseudonym, key_id);
	if (hit->kind == EVENTS_KIND_HIT) {
		count_hit(p, hit);
		if (p->store == NULL && p->spec.sqlite) {
			atomic_fetch_add(&p->store_lost, 1);
		} else if (p->store) {
			store_add(p, hit, pseudonym, key_id);
		}
	}
}

void events_pipeline_process(struct events_pipeline *p, const struct events_hit *hits, size_t count)
{
	for (size_t i = 0; i < count; i++)
		process_one(p, &hits[i]);
}

void events_pipeline_flush(struct events_pipeline *p)
{
	if (p->store) {
		if (events_store_flush(p->store) != C2W_OK) {
			atomic_fetch_add(&p->store_lost, p->batch);
			store_backoff(p);
		} else {
			atomic_store(&p->commit_ms, mono_ms());
		}
		p->batch = 0;
		atomic_store(&p->pending, 0);
	}
	if (p->jsonl) {
		int r = events_jsonl_flush(p->jsonl);
		if (r != C2W_OK)
			sink_error(p, "jsonl", r);
	}
	p->last_flush_ms = mono_ms();
}

static void housekeep(struct events_pipeline *p)
{
	uint64_t now = real_s();
	pthread_mutex_lock(&p->key_lock);
	int r = events_pseudo_maybe_rotate(p->ps, now);
	pthread_mutex_unlock(&p->key_lock);
	if (r == 1) {
		atomic_fetch_add(&p->key_rotations, 1);
	} else if (r < 0) {
		/* Pseudonyms keep the old key until this succeeds: say so every time (once a
		 * minute), the counter tells monitoring. */
		atomic_fetch_add(&p->key_rotation_failures, 1);
		c2w_log_err("events: pseudonym key rotation of %s failed: %s; the old key stays "
			    "in use (%llu failures)",
			    p->spec.key_file ? p->spec.key_file : "(ephemeral)", c2w_strerror(r),
			    (unsigned long long)atomic_load(&p->key_rotation_failures));
	}
	if (p->store && (p->spec.retention_days || p->spec.notify_window_days)) {
		struct events_retention_result res;
		events_pipeline_flush(p);
		if (events_store_retention(p->store, now, p->spec.retention_days,
					   p->spec.notify_window_days, &res) == C2W_OK &&
		    (res.incidents_deleted || res.addresses_erased))
			c2w_log_info("events: retention deleted %llu incidents, erased %llu "
				     "addresses",
				     (unsigned long long)res.incidents_deleted,
				     (unsigned long long)res.addresses_erased);
	}
	p->last_housekeep_s = now;
}

/* Event thread: try again to open a store that was unavailable. */
static void store_retry(struct events_pipeline *p)
{
	if (p->store != NULL || p->spec.sqlite == NULL ||
	    mono_ms() - p->store_try_ms < STORE_RETRY_MS)
		return;
	p->store_try_ms = mono_ms();
	struct events_store *st = NULL;
	if (events_store_open(p->spec.sqlite, &st) != C2W_OK)
		return; /* logged by the store, once per attempt */
	atomic_store(&p->store, st);
	p->batch = 0;
	atomic_store(&p->pending, 0);
	atomic_store(&p->commit_ms, mono_ms());
	c2w_log_info("events: incident store %s opened; %llu hits were lost before", p->spec.sqlite,
		     (unsigned long long)atomic_load(&p->store_lost));
}

static size_t drain(struct events_pipeline *p, struct events_hit *buf)
{
	size_t total = 0;
	for (size_t i = 0; i < p->ring_count; i++) {
		size_t n = events_ring_pop(p->rings[i], buf, BATCH);
		events_pipeline_process(p, buf, n);
		total += n;
	}
	return total;
}

static void *thread_main(void *arg)
{
	struct events_pipeline *p = arg;
	struct events_hit *buf = malloc(BATCH * sizeof(*buf));
	if (buf == NULL) {
		c2w_log_err("events: event thread out of memory; hits will be dropped");
		return NULL;
	}
	rcu_register_thread();
	housekeep(p);
	while (atomic_load(&p->running)) {
		size_t n = drain(p, buf);
		if (atomic_exchange(&p->reopen, false) && p->jsonl) {
			int r = events_jsonl_reopen(p->jsonl);
			if (r != C2W_OK) {
				atomic_fetch_add(&p->jsonl_reopen_failures, 1);
				c2w_log_err("events: cannot reopen hit log %s: %s; hits are lost "
					    "until it opens",
					    p->spec.jsonl, c2w_strerror(r));
			}
		}
		if (mono_ms() - p->last_flush_ms >= p->spec.flush_ms)
			events_pipeline_flush(p);
		store_retry(p);
		if (real_s() - p->last_housekeep_s >= HOUSEKEEP_S)
			housekeep(p);
		if (n == 0) {
			struct timespec ts = {0, 5 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
	}
	while (drain(p, buf) > 0)
		;
	events_pipeline_flush(p);
	rcu_unregister_thread();
	free(buf);
	return NULL;
}

int events_pipeline_start(struct events_pipeline *p)
{
	if (p->started)
		return C2W_EINVAL;
	atomic_store(&p->running, true);
	int r = pthread_create(&p->thread, NULL, thread_main, p);
	if (r != 0) {
		atomic_store(&p->running, false);
		return -r;
	}
	p->started = true;
	return C2W_OK;
}

void events_pipeline_reopen(struct events_pipeline *p)
{
	atomic_store(&p->reopen, true);
}

void events_pipeline_stop(struct events_pipeline *p)
{
	if (!p->started)
		return;
	atomic_store(&p->running, false);
	pthread_join(p->thread, NULL);
	p->started = false;
}

void events_pipeline_free(struct events_pipeline *p)
{
	if (p == NULL)
		return;
	events_pipeline_stop(p);
	if (p->store) {
		if (events_store_flush(p->store) != C2W_OK)
			atomic_fetch_add(&p->store_lost, p->batch);
		events_store_close(p->store);
	}
	if (p->jsonl) {
		(void)events_jsonl_flush(p->jsonl);
		events_jsonl_close(p->jsonl);
	}
	events_dnstap_close(p->dnstap);
	events_pseudo_free(p->ps);
	spec_free(&p->spec);
	free(p->counters);
	free(p->families);
	pthread_mutex_destroy(&p->key_lock);
	pthread_mutex_destroy(&p->count_lock);
	free(p);
}

void events_pipeline_stats(const struct events_pipeline *p, struct events_stats *out)
{
	struct events_pipeline *m = (struct events_pipeline *)(uintptr_t)p;
	memset(out, 0, sizeof(*out));
	out->hits = atomic_load(&m->hits);
	out->queries_logged = atomic_load(&m->queries_logged);
	out->optout_skipped = atomic_load(&m->optout_skipped);
	out->query_skipped = atomic_load(&m->query_skipped);
	out->store_lost = atomic_load(&m->store_lost);
	out->store_pending = atomic_load(&m->pending);
	out->store_open = atomic_load(&m->store) != NULL;
	uint64_t now = mono_ms(), commit = atomic_load(&m->commit_ms);
	out->store_commit_age_ms = now > commit ? now - commit : 0;
	out->sink_errors = atomic_load(&m->sink_errors);
	out->jsonl_rotations = atomic_load(&m->jsonl_rotations);
	out->key_rotations = atomic_load(&m->key_rotations);
	out->jsonl_reopen_failures = atomic_load(&m->jsonl_reopen_failures);
	out->key_rotation_failures = atomic_load(&m->key_rotation_failures);
	out->jsonl_lost = m->jsonl ? events_jsonl_lost(m->jsonl) : 0;
	for (size_t i = 0; i < p->ring_count; i++)
		out->dropped += events_ring_dropped(p->rings[i]);
}

static struct events_counter *find_or_add(struct events_counter **arr, size_t *count, size_t *cap,
					  const char *zone, unsigned action)
{
	for (size_t i = 0; i < *count; i++)
		if ((*arr)[i].action == action && strcmp((*arr)[i].zone, zone) == 0)
			return &(*arr)[i];
	if (*count == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		struct events_counter *n = realloc(*arr, ncap * sizeof(*n));
		if (n == NULL)
			return NULL;
		*arr = n;
		*cap = ncap;
	}
	struct events_counter *c = &(*arr)[(*count)++];
	memset(c, 0, sizeof(*c));
	events_hit_copy(c->zone, sizeof(c->zone), zone);
	c->action = (uint8_t)action;
	return c;
}

int events_pipeline_counters(const struct events_pipeline *p, struct events_counter **out,
			     size_t *count)
{
	struct events_pipeline *m = (struct events_pipeline *)(uintptr_t)p;
	struct events_counter *arr = NULL;
	size_t n = 0, cap = 0;
	int ret = C2W_OK;
	pthread_mutex_lock(&m->count_lock);
	for (size_t i = 0; i < m->counter_count && ret == C2W_OK; i++) {
		struct events_counter *c =
		    find_or_add(&arr, &n, &cap, m->counters[i].zone, m->counters[i].action);
		if (c == NULL)
			ret = C2W_ENOMEM;
		else
			c->hits = m->counters[i].hits;
	}
	pthread_mutex_unlock(&m->count_lock);
	struct events_ring_drops drops[EVENTS_RING_DROP_ZONES + 1];
	for (size_t r = 0; r < p->ring_count && ret == C2W_OK; r++) {
		size_t dn = events_ring_drops(p->rings[r], drops, EVENTS_RING_DROP_ZONES + 1);
		for (size_t d = 0; d < dn && ret == C2W_OK; d++)
			for (unsigned a = 0; a < EVENTS_ACTION_COUNT_; a++) {
				if (drops[d].by_action[a] == 0)
					continue;
				struct events_counter *c =
				    find_or_add(&arr, &n, &cap, drops[d].zone, a);
				if (c == NULL) {
					ret = C2W_ENOMEM;
					break;
				}
				c->dropped += drops[d].by_action[a];
			}
	}
	if (ret != C2W_OK) {
		free(arr);
		return ret;
	}
	*out = arr;
	*count = n;
	return C2W_OK;
}

int events_pipeline_stats_json(const struct events_pipeline *p, FILE *out)
{
	struct events_stats st;
	struct events_counter *c = NULL;
	size_t n = 0;
	events_pipeline_stats(p, &st);
	int ret = events_pipeline_counters(p, &c, &n);
	if (ret != C2W_OK)
		return ret;
	fprintf(out,
		"{\"hits\":%llu,\"queries_logged\":%llu,\"dropped\":%llu,\"optout_skipped\":%llu,"
		"\"query_skipped\":%llu,\"store_lost\":%llu,\"sink_errors\":%llu,"
		"\"jsonl_rotations\":%llu,\"key_rotations\":%llu,\"jsonl_lost\":%llu,"
		"\"jsonl_reopen_failures\":%llu,\"key_rotation_failures\":%llu,\"zones\":[",
		(unsigned long long)st.hits, (unsigned long long)st.queries_logged,
		(unsigned long long)st.dropped, (unsigned long long)st.optout_skipped,
		(unsigned long long)st.query_skipped, (unsigned long long)st.store_lost,
		(unsigned long long)st.sink_errors, (unsigned long long)st.jsonl_rotations,
		(unsigned long long)st.key_rotations, (unsigned long long)st.jsonl_lost,
		(unsigned long long)st.jsonl_reopen_failures,
		(unsigned long long)st.key_rotation_failures);
	for (size_t i = 0; i < n; i++) {
		/* Zone names are DNS presentation names: escape the JSON specials anyway. */
		fprintf(out, "%s{\"zone\":\"", i ? "," : "");
		for (const char *z = c[i].zone; *z; z++) {
			unsigned char ch = (unsigned char)*z;
			if (ch == '"' || ch == '\\')
				fprintf(out, "\\%c", ch);
			else if (ch < 0x20 || ch >= 0x7f)
				fprintf(out, "\\u%04x", ch);
			else
				fputc(ch, out);
		}
		fprintf(out, "\",\"action\":\"%s\",\"hits\":%llu,\"dropped\":%llu}",
			events_action_name(c[i].action), (unsigned long long)c[i].hits,
			(unsigned long long)c[i].dropped);
	}
	fputs("]}", out);
	free(c);
	return C2W_OK;
}

struct events_store *events_pipeline_store(struct events_pipeline *p)
{
	return p->store;
}

void events_pipeline_pseudonym(struct events_pipeline *p, const struct sockaddr *sa,
			       char pseudonym[33], char key_id[9])
{
	struct events_hit tmp;
	memset(&tmp, 0, sizeof(tmp));
	(void)events_hit_set_client(&tmp, sa);
	pthread_mutex_lock(&p->key_lock);
	events_pseudo_make(p->ps, tmp.client_family == AF_INET6 ? AF_INET6 : AF_INET,
			   tmp.client_addr, pseudonym);
	memcpy(key_id, events_pseudo_key_id(p->ps), EVENTS_KEY_ID_CAP);
	pthread_mutex_unlock(&p->key_lock);
}
