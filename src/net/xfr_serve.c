/* SPDX-License-Identifier: MIT */
/*
 * Serving policy zones to secondaries (net/xfr_serve.h). Owners: the zone table and each
 * zone's current version are under x->mu (the main thread replaces them, workers take a
 * reference to a version and a copy of the key for a stream); the NOTIFY jobs belong to the
 * main thread's loop. Versions are immutable, so a stream started before an update finishes
 * with the version it began with. A version after an increment (one layer over the snapshot
 * the last one was made from) comes from the increment alone; any other from the whole zone.
 */
#include "net/xfr_serve.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libknot/libknot.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "dns/msg.h"
#include "feed/tsig_key.h"
#include "feed/xfr_out.h"
#include "policy/export.h"
#include "policy/policy.h"

#define MSG_MAX        16384 /* bytes per transfer message (BIND, Knot use 16-64 KiB) */
#define CLIENTS_MAX    256   /* distinct addresses transferring at once */
#define NOTIFY_TRIES   5
#define NOTIFY_WAIT_MS 1000 /* doubled after each try (RFC 1996 4.3: retry, back off) */

struct xzone {
	char name[KNOT_DNAME_TXT_MAXLEN + 1];
	uint8_t dname[KNOT_DNAME_MAXLEN];
	size_t dname_len;
	struct conf_prefix *allow;
	size_t allow_count;
	struct conf_addr *notify;
	size_t notify_count;
	knot_tsig_key_t key;
	bool has_key;
	char *journal;            /* <policy.state-dir>/<name>journal */
	struct feed_out_ver *ver; /* NULL until the zone is in a snapshot */
	/* The snapshot @ver was made from (compared with the next update's previous snapshot,
	 * never dereferenced), NULL when unknown: the next version then comes from a full
	 * export. */
	const struct policy_snap *seen;
	uint64_t versions, notify_sent, notify_acked, notify_failed;
	uint64_t exports_full, exports_incremental; /* how the versions were made */
	bool last_incremental;
	bool notify_due; /* a new version to announce (the main thread sends the NOTIFYs) */
	char error[256];
};

struct client_slot {
	struct sockaddr_storage addr;
	unsigned n;
};

struct notify_job {
	struct net_xfr *x;
	char zone[KNOT_DNAME_TXT_MAXLEN + 1];
	char target[64];
	int fd;
	struct event *ev;
	uint16_t id;
	unsigned tries;
	uint8_t msg[1024];
	size_t len;
	struct notify_job *next;
};

/* A policy change for the export thread: the served zones of the config then (their config
 * parts; versions and counters are taken from the zones served when it runs), the policy in
 * force and the one it replaced (held), or, for a fold (@same), only the two addresses. */
struct xexport {
	struct xexport *next;
	bool same;
	struct xzone *zones;
	size_t count;
	struct policy_snap *snap, *prev;
	struct feed_out_limits lim;
	unsigned max_total, max_per_client;
};

struct net_xfr {
	pthread_mutex_t mu;
	struct xzone *zones;
	size_t count;
	unsigned max_total, max_per_client, active;
	struct feed_out_limits lim; /* export thread */
	struct client_slot clients[CLIENTS_MAX];
	struct notify_job *jobs; /* main thread */
	struct event_base *base;
	/* The export thread (started at the first update): @queue (x->mu) in order, @busy while
	 * it runs one; @cv wakes it, and net_xfr_settle(); @notify_fd tells the main thread
	 * that versions were made (xzone.notify_due) */
	pthread_t thread;
	bool thread_on, stop, busy;
	pthread_cond_t cv;
	struct xexport *queue, *queue_tail;
	int notify_fd;
	struct event *notify_ev;
};

struct net_xfr_stream {
	struct net_xfr *x;
	struct feed_out_stream *st;
	struct sockaddr_storage peer;
	uint8_t buf[2 + MSG_MAX + 512];
};

/* ---- zone table ------------------------------------------------------------------------ */

static void zone_deinit(struct xzone *z)
{
	if (z->has_key)
		knot_tsig_key_deinit(&z->key);
	feed_out_ver_unref(z->ver);
	free(z->allow);
	free(z->notify);
	free(z->journal);
}

static void zones_free(struct xzone *zones, size_t count)
{
	for (size_t i = 0; i < count; i++)
		zone_deinit(&zones[i]);
	free(zones);
}

static int zone_init(struct xzone *z, const struct c2w_config *cfg,
		     const struct conf_policy_zone *cz)
{
	snprintf(z->name, sizeof(z->name), "%s", cz->name);
	if (knot_dname_from_str(z->dname, cz->name, sizeof(z->dname)) == NULL)
		return C2W_ECONFIG;
	knot_dname_to_lower(z->dname);
	z->dname_len = knot_dname_size(z->dname);
	z->allow = malloc(cz->allow_transfer_count * sizeof(*z->allow));
	z->notify = malloc((cz->notify_count ? cz->notify_count : 1) * sizeof(*z->notify));
	size_t jl = strlen(cfg->policy.state_dir) + strlen(cz->name) + 16;
	z->journal = malloc(jl);
	if (z->allow == NULL || z->notify == NULL || z->journal == NULL)
		return C2W_ENOMEM;
	if (cz->allow_transfer_count > 0)
		memcpy(z->allow, cz->allow_transfer, cz->allow_transfer_count * sizeof(*z->allow));
	z->allow_count = cz->allow_transfer_count;
	if (cz->notify_count > 0) /* a zone served without NOTIFY has no list (NULL) */
		memcpy(z->notify, cz->notify, cz->notify_count * sizeof(*z->notify));
	z->notify_count = cz->notify_count;
	snprintf(z->journal, jl, "%s/%sjournal", cfg->policy.state_dir, cz->name);
	if (cz->transfer_key_file != NULL) {
		char err[512];
		if (feed_tsig_key_load(cz->transfer_key_file, &z->key, err, sizeof(err)) !=
		    C2W_OK) {
			c2w_log_err("xfr-out: zone %s: transfer-key-file %s", cz->name, err);
			return C2W_ECONFIG;
		}
		z->has_key = true;
	}
	return C2W_OK;
}

/* Versions, counters and the error of each zone in @old carried over to the zone of the same
 * name in @zones (which has none yet). */
static void carry(struct xzone *zones, size_t count, const struct xzone *old, size_t old_count)
{
	for (size_t i = 0; i < count; i++) {
		struct xzone *z = &zones[i];
		for (size_t j = 0; j < old_count; j++) {
			if (old[j].dname_len != z->dname_len ||
			    memcmp(old[j].dname, z->dname, z->dname_len) != 0)
				continue;
			if (old[j].ver != NULL)
				z->ver = feed_out_ver_ref(old[j].ver);
			z->versions = old[j].versions;
			z->notify_sent = old[j].notify_sent;
			z->notify_acked = old[j].notify_acked;
			z->notify_failed = old[j].notify_failed;
			z->seen = old[j].seen;
			z->exports_full = old[j].exports_full;
			z->exports_incremental = old[j].exports_incremental;
			z->notify_due = old[j].notify_due;
			memcpy(z->error, old[j].error, sizeof(z->error));
		}
	}
}

/* The served zones of @cfg; versions carried over from @old by name. */
static int zones_build(const struct c2w_config *cfg, struct xzone *old, size_t old_count,
		       struct xzone **out, size_t *out_count)
{
	size_t n = 0;
	for (size_t i = 0; i < cfg->policy.zone_count; i++)
		n += cfg->policy.zones[i].allow_transfer_count > 0;
	struct xzone *zones = calloc(n ? n : 1, sizeof(*zones));
	if (zones == NULL)
		return C2W_ENOMEM;
	size_t k = 0;
	for (size_t i = 0; i < cfg->policy.zone_count; i++) {
		const struct conf_policy_zone *cz = &cfg->policy.zones[i];
		if (cz->allow_transfer_count == 0)
			continue;
		int ret = zone_init(&zones[k], cfg, cz);
		k++;
		if (ret != C2W_OK) {
			zones_free(zones, k);
			return ret;
		}
	}
	carry(zones, k, old, old_count);
	*out = zones;
	*out_count = k;
	return C2W_OK;
}

int net_xfr_new(const struct c2w_config *cfg, struct net_xfr **out)
{
	struct net_xfr *x = calloc(1, sizeof(*x));
	if (x == NULL)
		return C2W_ENOMEM;
	pthread_mutex_init(&x->mu, NULL);
	pthread_cond_init(&x->cv, NULL);
	x->notify_fd = -1;
	int ret = zones_build(cfg, NULL, 0, &x->zones, &x->count);
	if (ret != C2W_OK) {
		pthread_mutex_destroy(&x->mu);
		pthread_cond_destroy(&x->cv);
		free(x);
		return ret;
	}
	*out = x;
	return C2W_OK;
}

/* ---- NOTIFY out (main thread) ------------------------------------------------------------ */

static void job_free(struct notify_job *j)
{
	struct net_xfr *x = j->x;
	for (struct notify_job **pp = &x->jobs; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	}
	if (j->ev != NULL)
		event_free(j->ev);
	if (j->fd >= 0)
		close(j->fd);
	free(j);
}

static void note_notify(struct net_xfr *x, const char *zone, bool acked)
{
	pthread_mutex_lock(&x->mu);
	for (size_t i = 0; i < x->count; i++) {
		if (strcmp(x->zones[i].name, zone) != 0)
			continue;
		if (acked)
			x->zones[i].notify_acked++;
		else
			x->zones[i].notify_failed++;
	}
	pthread_mutex_unlock(&x->mu);
}

static void job_send(struct notify_job *j)
{
	struct timeval tv = {.tv_sec = 0, .tv_usec = 0};
	unsigned ms = NOTIFY_WAIT_MS << j->tries;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	j->tries++;
	(void)!send(j->fd, j->msg, j->len, 0);
	event_add(j->ev, &tv);
}

static void on_notify_event(evutil_socket_t fd, short what, void *arg)
{
	struct notify_job *j = arg;
	if (what & EV_READ) {
		uint8_t buf[4096];
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		/* RFC 1996 4.7: the answer has our ID, QR and opcode NOTIFY. */
		if (n >= 12 && buf[0] == (uint8_t)(j->id >> 8) && buf[1] == (uint8_t)j->id &&
		    (buf[2] & 0x80) && ((buf[2] >> 3) & 0x0f) == KNOT_OPCODE_NOTIFY) {
			if ((buf[3] & 0x0f) != 0)
				c2w_log_warn("xfr-out: zone %s: NOTIFY to %s answered rcode %u",
					     j->zone, j->target, buf[3] & 0x0f);
			note_notify(j->x, j->zone, (buf[3] & 0x0f) == 0);
			job_free(j);
			return;
		}
		/* Not ours, or an ICMP error (the secondary is not up yet): the retries go
		 * by the timer alone, so a refused port does not use them up at once. */
		return;
	}
	if (j->tries >= NOTIFY_TRIES) {
		c2w_log_warn("xfr-out: zone %s: NOTIFY to %s: no answer after %u tries", j->zone,
			     j->target, j->tries);
		note_notify(j->x, j->zone, false);
		job_free(j);
		return;
	}
	job_send(j);
}

static void notify_one(struct net_xfr *x, struct event_base *base, const struct xzone *z,
		       const struct conf_addr *to)
{
	struct notify_job *j = calloc(1, sizeof(*j));
	if (j == NULL)
		return;
	j->x = x;
	j->fd = -1;
	snprintf(j->zone, sizeof(j->zone), "%s", z->name);
	snprintf(j->target, sizeof(j->target), "%s", to->text);
	if (getrandom(&j->id, sizeof(j->id), 0) != (ssize_t)sizeof(j->id))
		j->id = (uint16_t)(uintptr_t)j;
	j->len =
	    feed_out_notify(z->ver, j->id, z->has_key ? &z->key : NULL, j->msg, sizeof(j->msg));
	j->fd = socket(to->ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (j->len == 0 || j->fd < 0 ||
	    connect(j->fd, (const struct sockaddr *)&to->ss, to->ss_len) != 0 ||
	    (j->ev = event_new(base, j->fd, EV_READ | EV_PERSIST, on_notify_event, j)) == NULL) {
		c2w_log_warn("xfr-out: zone %s: cannot send NOTIFY to %s", z->name, to->text);
		if (j->ev != NULL)
			event_free(j->ev);
		if (j->fd >= 0)
			close(j->fd);
		free(j);
		return;
	}
	j->next = x->jobs;
	x->jobs = j;
	job_send(j);
}

/* ---- versions from the snapshot (main thread) -------------------------------------------- */

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

static int add_rr(void *ctx, const uint8_t *owner, size_t owner_len, uint16_t type, uint32_t ttl,
		  const uint8_t *rdata, uint16_t rdlen)
{
	return feed_rrs_add(ctx, owner, owner_len, type, ttl, rdata, rdlen);
}

static bool soa_template(const struct policy_snap *snap, unsigned zi, const struct xzone *z,
			 struct feed_out_soa *t)
{
	const uint8_t *rd;
	uint16_t rdlen;
	uint32_t ttl;
	bool own = policy_snap_zone_soa(snap, zi, &rd, &rdlen, &ttl);
	memset(t, 0, sizeof(*t));
	memcpy(t->origin, z->dname, z->dname_len);
	t->origin_len = z->dname_len;
	size_t m = knot_dname_size(rd);
	if (m == 0 || m >= rdlen)
		return false;
	size_t r = knot_dname_size(rd + m);
	if (r == 0 || m + r + 20 != rdlen)
		return false;
	memcpy(t->mname, rd, m);
	t->mname_len = m;
	memcpy(t->rname, rd + m, r);
	t->rname_len = r;
	const uint8_t *p = rd + m + r;
	uint32_t v[5];
	for (int i = 0; i < 5; i++)
		v[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	t->feed_serial = own ? v[0] : 0;
	t->refresh = v[1];
	t->retry = v[2];
	t->expire = v[3];
	t->minimum = v[4];
	t->ttl = ttl;
	return true;
}

/* The records of zone @zi of @snap as served, with the apex NS secondaries need to load it. */
static int export(const struct policy_snap *snap, unsigned zi, const struct feed_out_soa *t,
		  struct feed_rrs *rrs)
{
	/* "@ NS localhost.", as RPZ zones have it: secondaries need an NS to load the zone,
	 * and nothing should ever resolve through it. */
	static const uint8_t localhost[] = "\011localhost";
	int ret = feed_rrs_add(rrs, t->origin, t->origin_len, KNOT_RRTYPE_NS, t->ttl, localhost,
			       sizeof(localhost));
	if (ret == C2W_OK)
		ret = policy_export_zone(snap, zi, add_rr, rrs);
	return ret;
}

struct delta_out {
	struct feed_rrs owners, add;
};

static int delta_owner(void *ctx, const uint8_t *owner, size_t owner_len)
{
	static const uint8_t none[1];
	return feed_rrs_add(&((struct delta_out *)ctx)->owners, owner, owner_len, 0, 0, none, 0);
}

static int delta_rr(void *ctx, const uint8_t *owner, size_t owner_len, uint16_t type, uint32_t ttl,
		    const uint8_t *rdata, uint16_t rdlen)
{
	return feed_rrs_add(&((struct delta_out *)ctx)->add, owner, owner_len, type, ttl, rdata,
			    rdlen);
}

/* The next version from the change alone, when @snap is @prev plus one increment and @z's
 * version was made from @prev: O(change), not O(zone). C2W_EINVAL: not applicable. */
static int refresh_delta(struct net_xfr *x, struct xzone *z, const struct policy_snap *snap,
			 const struct policy_snap *prev, unsigned zi, const struct feed_out_soa *t,
			 struct feed_out_ver **v, bool *changed)
{
	if (prev == NULL || z->ver == NULL || z->seen != prev)
		return C2W_EINVAL;
	struct delta_out d = {0};
	int ret = policy_export_delta(snap, prev, zi, delta_owner, delta_rr, &d);
	if (ret == C2W_OK)
		return feed_out_ver_apply(z->ver, &d.owners, &d.add, t, &x->lim, v, changed);
	feed_rrs_free(&d.owners);
	feed_rrs_free(&d.add);
	return ret;
}

/* The next version of @z from a full export of @snap. */
static int refresh_full(struct net_xfr *x, struct xzone *z, const struct policy_snap *snap,
			unsigned zi, const struct feed_out_soa *t, struct feed_out_ver **v,
			bool *changed, uint32_t *js)
{
	struct feed_rrs rrs = {0};
	int ret = export(snap, zi, t, &rrs);
	if (ret == C2W_OK && z->ver == NULL) {
		/* Only the serial matters here: a new run's versions follow the last one's. */
		int jr = feed_out_journal_read(NULL, z->journal, js);
		(void)jr;
	}
	if (ret == C2W_OK)
		ret = feed_out_ver_next(z->ver, *js, &rrs, t, &x->lim, v, changed);
	feed_rrs_free(&rrs);
	return ret;
}

/* A new version of @z from @snap (@prev: the snapshot it replaced, may be NULL); NULL when
 * nothing changed or it failed (z->error). */
static struct feed_out_ver *zone_refresh(struct net_xfr *x, struct xzone *z,
					 const struct policy_snap *snap,
					 const struct policy_snap *prev)
{
	int zi = policy_snap_zone_of(snap, z->dname, z->dname_len);
	const uint8_t *origin = zi >= 0 ? policy_snap_zone_origin(snap, (unsigned)zi) : NULL;
	if (origin == NULL || knot_dname_size(origin) != z->dname_len ||
	    memcmp(origin, z->dname, z->dname_len) != 0) {
		snprintf(z->error, sizeof(z->error), "not in the policy in force (no copy yet?)");
		z->seen = NULL;
		return NULL;
	}
	struct feed_out_soa t;
	struct feed_out_ver *v = NULL;
	bool changed = false, incremental = true;
	uint32_t js = 0;
	if (!soa_template(snap, (unsigned)zi, z, &t)) {
		snprintf(z->error, sizeof(z->error), "bad SOA in the policy");
		z->seen = NULL;
		return NULL;
	}
	int ret = refresh_delta(x, z, snap, prev, (unsigned)zi, &t, &v, &changed);
	z->seen = NULL; /* until this version is made */
	if (ret == C2W_EINVAL) {
		incremental = false;
		ret = refresh_full(x, z, snap, (unsigned)zi, &t, &v, &changed, &js);
	}
	if (ret != C2W_OK) {
		snprintf(z->error, sizeof(z->error), "export failed: %s", c2w_strerror(ret));
		return NULL;
	}
	z->seen = snap;
	if (!changed) {
		feed_out_ver_unref(v);
		return NULL;
	}
	z->last_incremental = incremental;
	if (incremental)
		z->exports_incremental++;
	else
		z->exports_full++;
	if (z->ver == NULL && js != 0) {
		/* A restart: the journal continues when it was written for these records. */
		uint32_t s2;
		if (feed_out_journal_read(v, z->journal, &s2) == C2W_OK)
			c2w_log_info("xfr-out: zone %s: journal %s taken up at serial %u", z->name,
				     z->journal, s2);
	}
	mkdir_parent(z->journal);
	ret = feed_out_journal_write(v, z->journal);
	if (ret != C2W_OK)
		c2w_log_warn("xfr-out: zone %s: cannot save the journal %s: %s (IXFR after a "
			     "restart falls back to AXFR)",
			     z->name, z->journal, c2w_strerror(ret));
	z->error[0] = '\0';
	return v;
}

static void export_free(struct xexport *e)
{
	if (e == NULL)
		return;
	zones_free(e->zones, e->count);
	policy_snap_free(e->snap);
	policy_snap_free(e->prev);
	free(e);
}

/* Export thread: the next version of every served zone from @e, then the zone table swapped
 * in (workers serve the new versions from then on) and the main thread asked to announce
 * them. */
static void run_update(struct net_xfr *x, struct xexport *e)
{
	pthread_mutex_lock(&x->mu);
	carry(e->zones, e->count, x->zones, x->count); /* as the export before this one left them */
	pthread_mutex_unlock(&x->mu);
	x->lim = e->lim;
	size_t count = e->count < POLICY_ZONES_MAX ? e->count : POLICY_ZONES_MAX;
	bool fresh = false;
	for (size_t i = 0; i < count; i++) {
		struct xzone *z = &e->zones[i];
		struct feed_out_ver *v = e->snap != NULL ? zone_refresh(x, z, e->snap, e->prev) : NULL;
		if (v == NULL)
			continue;
		feed_out_ver_unref(z->ver);
		z->ver = v;
		z->versions++;
		z->notify_due = z->notify_count > 0;
		fresh = fresh || z->notify_due;
		uint64_t jb;
		size_t je = feed_out_ver_journal(v, &jb);
		c2w_log_info("xfr-out: zone %s: serial %u, %zu records, journal %zu entries (%s)",
			     z->name, feed_out_ver_serial(v), feed_out_ver_count(v), je,
			     z->last_incremental ? "from the increment" : "full export");
	}
	pthread_mutex_lock(&x->mu);
	struct xzone *old = x->zones;
	size_t old_count = x->count;
	/* NOTIFYs sent and answered during the export went to the table served meanwhile */
	for (size_t i = 0; i < count; i++)
		for (size_t j = 0; j < old_count; j++) {
			struct xzone *z = &e->zones[i];
			if (old[j].dname_len != z->dname_len ||
			    memcmp(old[j].dname, z->dname, z->dname_len) != 0)
				continue;
			z->notify_sent = old[j].notify_sent;
			z->notify_acked = old[j].notify_acked;
			z->notify_failed = old[j].notify_failed;
			z->notify_due = z->notify_due || old[j].notify_due;
		}
	x->zones = e->zones;
	x->count = count;
	x->max_total = e->max_total;
	x->max_per_client = e->max_per_client;
	e->zones = old; /* freed with @e */
	e->count = old_count;
	pthread_mutex_unlock(&x->mu);
	/* RFC 1996 3.5: tell the secondaries, now that the version is served. */
	if (fresh && x->notify_fd >= 0) {
		uint64_t one = 1;
		(void)!write(x->notify_fd, &one, sizeof(one));
	}
}

/* Export thread: a fold: a version made from @prev counts as made from @snap. */
static void run_same(struct net_xfr *x, const struct xexport *e)
{
	pthread_mutex_lock(&x->mu);
	for (size_t i = 0; i < x->count; i++)
		if (e->prev != NULL && x->zones[i].seen == e->prev)
			x->zones[i].seen = e->snap;
	pthread_mutex_unlock(&x->mu);
}

static void *export_main(void *arg)
{
	struct net_xfr *x = arg;
	pthread_mutex_lock(&x->mu);
	for (;;) {
		while (x->queue == NULL && !x->stop)
			pthread_cond_wait(&x->cv, &x->mu);
		if (x->stop)
			break;
		struct xexport *e = x->queue;
		x->queue = e->next;
		if (x->queue == NULL)
			x->queue_tail = NULL;
		x->busy = true;
		pthread_mutex_unlock(&x->mu);
		if (e->same)
			run_same(x, e);
		else
			run_update(x, e);
		/* a fold's addresses were never held */
		if (e->same)
			e->snap = e->prev = NULL;
		export_free(e);
		pthread_mutex_lock(&x->mu);
		x->busy = false;
		pthread_cond_broadcast(&x->cv);
	}
	pthread_mutex_unlock(&x->mu);
	return NULL;
}

/* Main thread: versions were made; their NOTIFYs go from this loop. */
static void on_notify_due(evutil_socket_t fd, short what, void *arg)
{
	struct net_xfr *x = arg;
	uint64_t v;
	(void)what;
	(void)!read(fd, &v, sizeof(v));
	pthread_mutex_lock(&x->mu);
	for (size_t i = 0; i < x->count; i++) {
		struct xzone *z = &x->zones[i];
		if (!z->notify_due || z->ver == NULL)
			continue;
		z->notify_due = false;
		for (size_t k = 0; k < z->notify_count; k++) {
			notify_one(x, x->base, z, &z->notify[k]);
			z->notify_sent++;
		}
	}
	pthread_mutex_unlock(&x->mu);
}

/* Main thread: the export thread and the main thread's NOTIFY event, at the first update. */
static int export_start(struct net_xfr *x, struct event_base *base)
{
	if (x->thread_on)
		return C2W_OK;
	x->base = base;
	if (x->notify_fd < 0)
		x->notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (x->notify_fd < 0)
		return -errno;
	if (x->notify_ev == NULL)
		x->notify_ev = event_new(base, x->notify_fd, EV_READ | EV_PERSIST, on_notify_due, x);
	if (x->notify_ev == NULL || event_add(x->notify_ev, NULL) != 0)
		return C2W_ENOMEM;
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old); /* signals stay with the main loop */
	int ret = pthread_create(&x->thread, NULL, export_main, x);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret != 0)
		return -ret;
	x->thread_on = true;
	return C2W_OK;
}

static void enqueue(struct net_xfr *x, struct xexport *e)
{
	struct xexport *dropped = NULL;
	struct policy_snap *dropped_prev = NULL;
	pthread_mutex_lock(&x->mu);
	/* An update still waiting behind the running one is replaced by this one: its policy is
	 * no longer in force, and the queue holds one policy at most. This one is then a full
	 * export (its increment is over the policy of the one dropped). */
	if (!e->same && x->queue_tail != NULL && !x->queue_tail->same) {
		dropped = x->queue_tail;
		struct xexport **pp = &x->queue;
		while (*pp != dropped)
			pp = &(*pp)->next;
		*pp = NULL;
		x->queue_tail = NULL;
		for (struct xexport *q = x->queue; q != NULL; q = q->next)
			x->queue_tail = q;
		dropped_prev = e->prev;
		e->prev = NULL;
	}
	if (x->queue_tail != NULL)
		x->queue_tail->next = e;
	else
		x->queue = e;
	x->queue_tail = e;
	pthread_cond_broadcast(&x->cv);
	pthread_mutex_unlock(&x->mu);
	export_free(dropped);
	policy_snap_free(dropped_prev);
}

void net_xfr_update(struct net_xfr *x, struct event_base *base, const struct c2w_config *cfg,
		    const struct policy_snap *snap, const struct policy_snap *prev)
{
	struct xexport *e = calloc(1, sizeof(*e));
	int ret = e == NULL ? C2W_ENOMEM : zones_build(cfg, NULL, 0, &e->zones, &e->count);
	if (ret == C2W_OK)
		ret = export_start(x, base);
	if (ret != C2W_OK) {
		c2w_log_err("xfr-out: zones not updated (%s); serving the old versions",
			    c2w_strerror(ret));
		export_free(e);
		return;
	}
	e->lim.versions = cfg->policy.journal_versions;
	e->lim.bytes = cfg->policy.journal_max_bytes;
	e->max_total = cfg->policy.transfers_out_max;
	e->max_per_client = cfg->policy.transfers_out_per_client;
	e->snap = snap != NULL ? policy_snap_hold(snap) : NULL;
	/* The policy replaced matters only for a version from an increment over it: held then
	 * (it shares the full image), never when a full compile replaced it (its memory goes
	 * now, not after the export). */
	unsigned layers = 0;
	uint64_t keys;
	if (snap != NULL)
		policy_snap_delta_size(snap, &layers, &keys);
	e->prev = prev != NULL && layers > 0 ? policy_snap_hold(prev) : NULL;
	enqueue(x, e);
}

void net_xfr_same(struct net_xfr *x, const struct policy_snap *snap,
		  const struct policy_snap *prev)
{
	if (!x->thread_on) {
		run_same(x, &(struct xexport){.snap = (struct policy_snap *)(uintptr_t)snap,
					      .prev = (struct policy_snap *)(uintptr_t)prev});
		return;
	}
	struct xexport *e = calloc(1, sizeof(*e));
	if (e == NULL)
		return; /* the next version comes from a full export */
	e->same = true;
	e->snap = (struct policy_snap *)(uintptr_t)snap; /* compared, never dereferenced */
	e->prev = (struct policy_snap *)(uintptr_t)prev;
	enqueue(x, e);
}

void net_xfr_settle(struct net_xfr *x)
{
	pthread_mutex_lock(&x->mu);
	while (x->thread_on && (x->queue != NULL || x->busy))
		pthread_cond_wait(&x->cv, &x->mu);
	pthread_mutex_unlock(&x->mu);
}

/* ---- queries (worker threads) ------------------------------------------------------------ */

static bool allowed(const struct xzone *z, const struct sockaddr *peer)
{
	for (size_t i = 0; i < z->allow_count; i++)
		if (conf_prefix_contains(&z->allow[i], peer))
			return true;
	return false;
}

bool net_xfr_may_connect(struct net_xfr *x, const struct sockaddr *peer)
{
	bool ok = false;
	pthread_mutex_lock(&x->mu);
	for (size_t i = 0; i < x->count && !ok; i++)
		ok = allowed(&x->zones[i], peer);
	pthread_mutex_unlock(&x->mu);
	return ok;
}

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr *b)
{
	if (a->ss_family != b->sa_family)
		return false;
	if (b->sa_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
			      &((const struct sockaddr_in *)b)->sin_addr, 4) == 0;
	return b->sa_family == AF_INET6 &&
	       memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		      &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
}

/* x->mu held: a place for one more transfer to @peer, within both caps. */
static bool slot_take(struct net_xfr *x, const struct sockaddr *peer)
{
	if (x->active >= x->max_total)
		return false;
	struct client_slot *free_slot = NULL;
	for (size_t i = 0; i < CLIENTS_MAX; i++) {
		struct client_slot *c = &x->clients[i];
		if (c->n > 0 && same_addr(&c->addr, peer)) {
			if (c->n >= x->max_per_client)
				return false;
			c->n++;
			x->active++;
			return true;
		}
		if (c->n == 0 && free_slot == NULL)
			free_slot = c;
	}
	if (free_slot == NULL)
		return false;
	memset(&free_slot->addr, 0, sizeof(free_slot->addr));
	memcpy(&free_slot->addr, peer,
	       peer->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					   : sizeof(struct sockaddr_in));
	free_slot->n = 1;
	x->active++;
	return true;
}

static void slot_put(struct net_xfr *x, const struct sockaddr *peer)
{
	pthread_mutex_lock(&x->mu);
	for (size_t i = 0; i < CLIENTS_MAX; i++) {
		struct client_slot *c = &x->clients[i];
		if (c->n > 0 && same_addr(&c->addr, peer)) {
			c->n--;
			x->active--;
			break;
		}
	}
	pthread_mutex_unlock(&x->mu);
}

/* The served zone at or above @qname; x->mu held. */
static struct xzone *zone_for(struct net_xfr *x, const uint8_t *qname, size_t qlen)
{
	for (size_t i = 0; i < x->count; i++) {
		struct xzone *z = &x->zones[i];
		if (z->dname_len > qlen)
			continue;
		size_t p = 0;
		while (p < qlen - z->dname_len && qname[p] != 0)
			p += (size_t)qname[p] + 1;
		if (p == qlen - z->dname_len && memcmp(qname + p, z->dname, z->dname_len) == 0)
			return z;
	}
	return NULL;
}

static int refuse(const struct feed_out_req *req, uint8_t rcode, uint8_t *out, size_t cap,
		  enum net_xfr_outcome *outcome, enum net_xfr_outcome why)
{
	*outcome = why;
	return (int)feed_out_error(req, rcode, NULL, out, cap);
}

/* One message answer (SOA, or IXFR up to date / over UDP) written into @out. */
static int single(struct feed_out_ver *v, const struct feed_out_req *req,
		  const knot_tsig_key_t *key, uint8_t *out, size_t cap)
{
	struct feed_out_req r = *req;
	struct feed_out_stream *st;
	size_t len = 0;
	/* Over UDP an IXFR gets our SOA alone: the client comes back over TCP (RFC 1995 2). */
	if (r.qtype == KNOT_RRTYPE_IXFR) {
		r.has_serial = true;
		r.serial = feed_out_ver_serial(v);
	}
	if (feed_out_stream_new(v, &r, key, cap, &st) != C2W_OK)
		return 0;
	int ret = feed_out_stream_next(st, out, cap, &len);
	feed_out_stream_free(st);
	return ret == 1 ? (int)len : 0;
}

int net_xfr_query(struct net_xfr *x, const uint8_t *pkt, size_t len, const struct sockaddr *peer,
		  bool tcp, uint8_t *out, size_t out_cap, struct net_xfr_stream **stream,
		  enum net_xfr_outcome *outcome)
{
	struct feed_out_req req;
	*stream = NULL;
	if (feed_out_request_parse(pkt, len, NULL, &req) != C2W_OK) {
		*outcome = NET_XFR_FORMERR;
		if (len < 12 || out_cap < 12)
			return 0;
		memcpy(out, pkt, 12);
		out[2] = 0x80 | (pkt[2] & 0x78);
		out[3] = DNS_RCODE_FORMERR;
		memset(out + 4, 0, 8);
		return 12;
	}
	pthread_mutex_lock(&x->mu);
	struct xzone *z = zone_for(x, req.qname, req.qname_len);
	bool is_xfr = req.qtype == KNOT_RRTYPE_AXFR || req.qtype == KNOT_RRTYPE_IXFR;
	bool ok_type = is_xfr || req.qtype == KNOT_RRTYPE_SOA;
	/* The blocklist is not public: outsiders learn nothing, not even whether it exists. */
	if (z == NULL || req.qname_len != z->dname_len || !ok_type || req.qclass != KNOT_CLASS_IN ||
	    !allowed(z, peer)) {
		pthread_mutex_unlock(&x->mu);
		return refuse(&req, DNS_RCODE_REFUSED, out, out_cap, outcome, NET_XFR_REFUSED);
	}
	/* What this query needs of the zone, taken under the lock: an update may replace the
	 * zone table as soon as it is released. */
	knot_tsig_key_t key;
	bool needs_key = z->has_key;
	bool has_key = needs_key && knot_tsig_key_copy(&key, &z->key) == KNOT_EOK;
	struct feed_out_ver *v = z->ver != NULL ? feed_out_ver_ref(z->ver) : NULL;
	z = NULL;
	pthread_mutex_unlock(&x->mu);
	int ret = 0;
	if (needs_key && !has_key) {
		ret = refuse(&req, DNS_RCODE_SERVFAIL, out, out_cap, outcome, NET_XFR_REFUSED);
		goto out_unref;
	}
	if (req.tsig || has_key) {
		/* With a key every request must be signed by it (RFC 8945 5.2); a signed request
		 * for a zone without one names a key we do not have (BADKEY). */
		if (feed_out_request_parse(pkt, len, has_key ? &key : NULL, &req) != C2W_OK ||
		    !req.tsig || req.tsig_error != 0) {
			*outcome = NET_XFR_TSIG_BAD;
			/* BADTIME is signed with the key (RFC 8945 5.2.3); the others are not. */
			ret = (int)feed_out_error(&req,
						  req.tsig ? KNOT_RCODE_NOTAUTH : DNS_RCODE_REFUSED,
						  has_key ? &key : NULL, out, out_cap);
			goto out_unref;
		}
	}
	if (v == NULL) {
		ret = refuse(&req, DNS_RCODE_SERVFAIL, out, out_cap, outcome, NET_XFR_REFUSED);
		goto out_unref;
	}
	if (is_xfr && !tcp && req.qtype == KNOT_RRTYPE_AXFR) {
		/* RFC 5936 4.2: AXFR is TCP only. */
		ret = refuse(&req, DNS_RCODE_REFUSED, out, out_cap, outcome, NET_XFR_REFUSED_UDP);
		goto out_unref;
	}
	if (!is_xfr || !tcp || (req.has_serial && (req.serial == feed_out_ver_serial(v)))) {
		*outcome = req.qtype == KNOT_RRTYPE_SOA ? NET_XFR_SOA : NET_XFR_UPTODATE;
		ret = single(v, &req, has_key ? &key : NULL, out, out_cap);
		goto out_unref;
	}
	pthread_mutex_lock(&x->mu);
	bool room = slot_take(x, peer);
	pthread_mutex_unlock(&x->mu);
	if (!room) {
		c2w_log_debug("xfr-out: transfer refused: transfers-out caps reached");
		ret = refuse(&req, DNS_RCODE_REFUSED, out, out_cap, outcome, NET_XFR_LIMITED);
		goto out_unref;
	}
	struct net_xfr_stream *s = calloc(1, sizeof(*s));
	if (s == NULL ||
	    feed_out_stream_new(v, &req, has_key ? &key : NULL, MSG_MAX, &s->st) != C2W_OK) {
		free(s);
		slot_put(x, peer);
		ret = refuse(&req, DNS_RCODE_SERVFAIL, out, out_cap, outcome, NET_XFR_REFUSED);
		goto out_unref;
	}
	s->x = x;
	memcpy(&s->peer, peer,
	       peer->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					   : sizeof(struct sockaddr_in));
	enum feed_out_kind k = feed_out_stream_kind(s->st);
	*outcome = k == FEED_OUT_AXFR        ? NET_XFR_AXFR
		   : k == FEED_OUT_IXFR      ? NET_XFR_IXFR
		   : k == FEED_OUT_IXFR_FULL ? NET_XFR_IXFR_FULL
					     : NET_XFR_UPTODATE;
	*stream = s;
out_unref:
	feed_out_ver_unref(v);
	if (has_key)
		knot_tsig_key_deinit(&key);
	return ret;
}

int net_xfr_stream_pump(struct net_xfr_stream *s, struct evbuffer *buf, size_t budget)
{
	size_t sent = 0;
	while (sent < budget) {
		size_t len;
		int ret = feed_out_stream_next(s->st, s->buf + 2, sizeof(s->buf) - 2, &len);
		if (ret <= 0)
			return ret;
		s->buf[0] = (uint8_t)(len >> 8);
		s->buf[1] = (uint8_t)len;
		if (evbuffer_add(buf, s->buf, len + 2) != 0)
			return C2W_ENOMEM;
		sent += len + 2;
	}
	return 1;
}

void net_xfr_stream_free(struct net_xfr_stream *s)
{
	if (s == NULL)
		return;
	slot_put(s->x, (const struct sockaddr *)&s->peer);
	feed_out_stream_free(s->st);
	free(s);
}

/* ---- control, lifecycle ------------------------------------------------------------------ */

static int on_ctl(void *arg, int argc, char **argv, struct control_reply *reply)
{
	struct net_xfr *x = arg;
	(void)argc;
	(void)argv;
	control_reply_printf(reply, "{\"zones\":[");
	pthread_mutex_lock(&x->mu);
	for (size_t i = 0; i < x->count; i++) {
		const struct xzone *z = &x->zones[i];
		uint64_t jb = 0;
		size_t je = z->ver ? feed_out_ver_journal(z->ver, &jb) : 0;
		control_reply_printf(
		    reply,
		    "%s{\"name\":\"%s\",\"served\":%s,\"serial\":%" PRIu32 ",\"records\":%zu"
		    ",\"journal_entries\":%zu,\"journal_bytes\":%" PRIu64 ",\"versions\":%" PRIu64
		    ",\"notify_sent\":%" PRIu64 ",\"notify_acked\":%" PRIu64
		    ",\"notify_failed\":%" PRIu64 ",\"exports_full\":%" PRIu64
		    ",\"exports_incremental\":%" PRIu64 ",\"tsig\":%s,\"error\":\"%s\"}",
		    i ? "," : "", z->name, z->ver ? "true" : "false",
		    z->ver ? feed_out_ver_serial(z->ver) : 0,
		    z->ver ? feed_out_ver_count(z->ver) : 0, je, jb, z->versions, z->notify_sent,
		    z->notify_acked, z->notify_failed, z->exports_full, z->exports_incremental,
		    z->has_key ? "true" : "false", z->error);
	}
	control_reply_printf(reply, "],\"active\":%u}", x->active);
	pthread_mutex_unlock(&x->mu);
	return C2W_OK;
}

int net_xfr_control_register(struct net_xfr *x, struct control_server *ctl)
{
	return control_server_register(ctl, "xfr-out", on_ctl, x);
}

void net_xfr_free(struct net_xfr *x)
{
	if (x == NULL)
		return;
	if (x->thread_on) {
		/* the export running ends (seconds at millions of rules); those queued are not run */
		pthread_mutex_lock(&x->mu);
		x->stop = true;
		pthread_cond_broadcast(&x->cv);
		pthread_mutex_unlock(&x->mu);
		pthread_join(x->thread, NULL);
		while (x->queue != NULL) {
			struct xexport *e = x->queue;
			x->queue = e->next;
			if (e->same)
				e->snap = e->prev = NULL;
			export_free(e);
		}
	}
	if (x->notify_ev != NULL)
		event_free(x->notify_ev);
	if (x->notify_fd >= 0)
		close(x->notify_fd);
	pthread_cond_destroy(&x->cv);
	while (x->jobs != NULL)
		job_free(x->jobs);
	zones_free(x->zones, x->count);
	pthread_mutex_destroy(&x->mu);
	free(x);
}
