/* SPDX-License-Identifier: MIT */
/*
 * The water-torture table: 4-way sets of zone entries, each with a window of miss and outcome
 * counters, a 256-bit sketch of the distinct names missed (linear counting), the fetches in
 * flight and their adaptive cap, and the mitigation deadline. Decisions only; the worker
 * answers, logs and records (net/worker.c).
 */
#include "net/torture.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <xxhash.h>

#include "dns/msg.h"

#define WAYS            4
#define SETS            (NET_TORTURE_ZONES / WAYS)
#define SKETCH_BITS     256
#define MIN_OUTCOMES    8 /* a window needs this many outcomes before its bad ratio counts */
/* Timeouts in a row, without a response between them, that make a zone unresponsive again (as
 * Unbound's TIMEOUT_COUNT_MAX gives up on a server). */
#define UNRESP_TIMEOUTS 3
#define REF_POOL        (1u << 31) /* the fetch counted in the unresponsive pool */
/* A mitigation's end is remembered this long (at least; 4 x hold when longer): one that starts
 * again within it needs twice the previous quiet time to end early. */
#define STRIKE_MEMORY_S 60

struct zone {
	uint64_t hash; /* 0 = empty */
	uint32_t last_s;
	uint32_t win_start;
	uint32_t until;     /* mitigation ends at this second; 0 = none */
	uint32_t since;     /* mitigation started */
	uint32_t outcomes;  /* in the window */
	uint32_t bad;       /* NXDOMAIN, SERVFAIL, timeout or fetch-limited, in the window */
	uint64_t mitigated; /* queries answered by the running mitigation */
	uint32_t ended;     /* when the last mitigation ended; 0 = never */
	uint32_t quiet_s;   /* start of the span net_torture_tick() counts @recent over */
	uint32_t recent;    /* queries missing under the zone since @quiet_s (saturates) */
	uint16_t quiet;     /* quiet seconds in a row while mitigated */
	uint8_t strikes;    /* mitigations in a row, each within STRIKE_MEMORY_S of the last end */
	uint16_t trickled;  /* misses let through the running mitigation in second @trickle_s */
	uint32_t trickle_s;
	uint64_t sketch[SKETCH_BITS / 64];
	uint16_t inflight;
	uint16_t cap;     /* adaptive fetch cap, NET_TORTURE_MIN_CAP .. fetches_per_zone */
	uint8_t timeouts; /* timeouts in a row (saturates) */
	bool responsive;  /* a response came since the last UNRESP_TIMEOUTS timeouts in a row */
	uint8_t name_len;
	uint8_t name[DNS_NAME_MAX];
};

struct net_torture {
	struct conf_ddos cfg;
	unsigned zero_bits_max;  /* sketch zero bits at or below which min_misses is reached */
	unsigned zero_bits_keep; /* ... half of min_misses: enough to keep a running mitigation */
	unsigned lift_rate;      /* misses per second under which a mitigated second is quiet */
	unsigned active;
	unsigned pool_inflight; /* fetches in flight toward unresponsive zones, all together */
	uint64_t seed;          /* of the zone hash: which zones share a set is not predictable */
	struct zone zones[NET_TORTURE_ZONES];
};

/* Linear counting: n distinct names leave about m*exp(-n/m) of m bits zero. */
static unsigned zero_bits_for(unsigned n)
{
	double z = SKETCH_BITS; /* expected zero bits after each insertion: z *= (1 - 1/m) */
	for (unsigned i = 0; i < n; i++)
		z -= z / SKETCH_BITS;
	return z < 1.0 ? 0 : (unsigned)z;
}

void net_torture_set_conf(struct net_torture *t, const struct conf_ddos *cfg)
{
	t->cfg = *cfg;
	t->zero_bits_max = zero_bits_for(cfg->min_misses);
	t->zero_bits_keep = zero_bits_for(cfg->min_misses / 2);
	/* A quarter of the rate that starts a mitigation (min-misses per window), half of the
	 * rate that keeps one: a flood must fall well below both to end it early. */
	t->lift_rate = cfg->min_misses / (4u * (cfg->window_s ? cfg->window_s : 1u));
	if (t->lift_rate == 0)
		t->lift_rate = 1;
	for (unsigned i = 0; i < NET_TORTURE_ZONES; i++) {
		struct zone *z = &t->zones[i];
		if (z->hash != 0 && (z->cap > cfg->fetches_per_zone || z->cap == 0))
			z->cap = (uint16_t)cfg->fetches_per_zone;
	}
}

struct net_torture *net_torture_new(const struct conf_ddos *cfg)
{
	struct net_torture *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	if (getrandom(&t->seed, sizeof(t->seed), GRND_NONBLOCK) != sizeof(t->seed))
		t->seed = (uint64_t)(uintptr_t)t ^ 0x9e3779b97f4a7c15ull;
	net_torture_set_conf(t, cfg);
	return t;
}

void net_torture_free(struct net_torture *t)
{
	free(t);
}

/* Wire name length (labels + root byte); the name is canonical and bounded already. */
static size_t wire_len(const uint8_t *n)
{
	size_t i = 0;
	while (n[i] != 0 && i < DNS_NAME_MAX)
		i += (size_t)n[i] + 1;
	return i + 1;
}

static unsigned label_count(const uint8_t *n)
{
	unsigned c = 0;
	for (size_t i = 0; n[i] != 0 && i < DNS_NAME_MAX; i += (size_t)n[i] + 1)
		c++;
	return c;
}

static uint64_t zone_hash(const struct net_torture *t, const uint8_t *name, size_t len)
{
	uint64_t h = XXH3_64bits_withSeed(name, len, t->seed);
	return h + (h == 0); /* 0 marks an empty way */
}

static struct zone *find(struct net_torture *t, const uint8_t *name, size_t len, uint64_t h)
{
	struct zone *set = &t->zones[(h % SETS) * WAYS];
	for (unsigned w = 0; w < WAYS; w++)
		if (set[w].hash == h && set[w].name_len == len &&
		    memcmp(set[w].name, name, len) == 0)
			return &set[w];
	return NULL;
}

static bool busy(const struct zone *z)
{
	return z->inflight != 0 || z->until != 0;
}

static uint32_t strike_memory(const struct net_torture *t);

/* A mitigation of the zone ended within the strike memory: its entry carries what makes the
 * next flood on it end later (start()), so other zones' churn must not push it out first. */
static bool remembers(const struct net_torture *t, const struct zone *z, uint32_t now)
{
	return z->ended != 0 && (uint32_t)(now - z->ended) <= strike_memory(t);
}

/*
 * An empty way, else the least recently used idle one that remembers no recent mitigation,
 * else the least recently used idle one; NULL when all four are busy.
 */
static struct zone *claim(struct net_torture *t, const uint8_t *name, size_t len, uint64_t h,
			  uint32_t now)
{
	struct zone *set = &t->zones[(h % SETS) * WAYS], *victim = NULL;
	bool victim_remembers = false;
	for (unsigned w = 0; w < WAYS; w++) {
		struct zone *z = &set[w];
		if (z->hash == 0) {
			victim = z;
			break;
		}
		if (busy(z))
			continue;
		bool r = remembers(t, z, now);
		if (victim == NULL || (victim_remembers && !r) ||
		    (victim_remembers == r && (int32_t)(z->last_s - victim->last_s) < 0)) {
			victim = z;
			victim_remembers = r;
		}
	}
	if (victim == NULL)
		return NULL;
	memset(victim, 0, offsetof(struct zone, name));
	victim->hash = h;
	victim->win_start = now;
	victim->cap = (uint16_t)t->cfg.fetches_per_zone;
	victim->name_len = (uint8_t)len;
	memcpy(victim->name, name, len);
	return victim;
}

static unsigned sketch_zero_bits(const struct zone *z)
{
	unsigned ones = 0;
	for (unsigned i = 0; i < SKETCH_BITS / 64; i++)
		ones += (unsigned)__builtin_popcountll(z->sketch[i]);
	return SKETCH_BITS - ones;
}

static bool flood_seen(const struct net_torture *t, const struct zone *z)
{
	return sketch_zero_bits(z) <= t->zero_bits_max;
}

/* Hysteresis: a running mitigation goes on while a window sees half of min-misses, so a flood
 * whose rate hovers around the threshold does not start and end it over and over. */
static bool flood_goes_on(const struct net_torture *t, const struct zone *z)
{
	return sketch_zero_bits(z) <= t->zero_bits_keep;
}

static bool failing(const struct net_torture *t, const struct zone *z)
{
	return z->outcomes >= MIN_OUTCOMES &&
	       (double)z->bad >= t->cfg.bad_ratio * (double)z->outcomes;
}

/* A new window: a running mitigation is extended while the flood goes on, to hold seconds
 * past the end of the last window that saw it. */
static void roll_window(struct net_torture *t, struct zone *z, uint32_t now)
{
	uint32_t end = z->win_start + t->cfg.window_s + t->cfg.hold_s;
	if (z->until != 0 && flood_goes_on(t, z) && (int32_t)(end - z->until) > 0)
		z->until = end;
	memset(z->sketch, 0, sizeof(z->sketch));
	z->outcomes = 0;
	z->bad = 0;
	z->win_start = now;
}

/* A mitigation on an ancestor of @qname's zone (a.b.victim. under victim.). */
static struct zone *mitigating_ancestor(struct net_torture *t, const uint8_t *zone)
{
	const uint8_t *n = zone;
	while (n[0] != 0) {
		n += n[0] + 1;
		if (label_count(n) < 2)
			return NULL;
		size_t len = wire_len(n);
		struct zone *z = find(t, n, len, zone_hash(t, n, len));
		if (z != NULL && z->until != 0)
			return z;
	}
	return NULL;
}

static void count_recent(struct zone *z)
{
	if (z->recent != UINT32_MAX)
		z->recent++;
}

static enum net_torture_verdict mitigate(struct zone *z, uint8_t *zone_out,
					 enum net_torture_verdict v)
{
	z->mitigated++;
	if (zone_out != NULL)
		memcpy(zone_out, z->name, z->name_len);
	return v;
}

/* ddos.trickle: the first few misses of each second under a mitigated zone still go upstream,
 * so names that exist there keep resolving at a trickle and at once when the flood stops. */
static bool trickle(const struct net_torture *t, struct zone *z, uint32_t now)
{
	if (t->cfg.trickle == 0)
		return false;
	if (z->trickle_s != now) {
		z->trickle_s = now;
		z->trickled = 0;
	}
	if (z->trickled >= t->cfg.trickle)
		return false;
	z->trickled++;
	return true;
}

static uint32_t strike_memory(const struct net_torture *t)
{
	uint32_t m = 4 * t->cfg.hold_s;
	return m > STRIKE_MEMORY_S ? m : STRIKE_MEMORY_S;
}

/* A mitigation starts. Hysteresis against a pulsing flood: one that starts soon after the
 * previous one ended needs twice the quiet time to end early (lift_need()). */
static void start(struct net_torture *t, struct zone *z, uint32_t now)
{
	if (z->ended != 0 && (uint32_t)(now - z->ended) <= strike_memory(t)) {
		if (z->strikes < 16)
			z->strikes++;
	} else {
		z->strikes = 0;
	}
	z->until = now + t->cfg.hold_s;
	z->since = now;
	z->mitigated = 0;
	z->quiet = 0;
	z->quiet_s = now;
	z->recent = 0;
	t->active++;
}

/* Quiet seconds in a row that end a mitigation early: lift-after, doubled per strike; 0 when
 * it no longer comes before the hold (the hold alone ends it then). */
static uint32_t lift_need(const struct net_torture *t, const struct zone *z)
{
	uint64_t need = (uint64_t)t->cfg.lift_after_s << z->strikes;
	return need == 0 || need >= t->cfg.hold_s ? 0 : (uint32_t)need;
}

/* Once a second per running mitigation: were the seconds since the last call quiet? */
static bool quiet_enough(const struct net_torture *t, struct zone *z, uint32_t now)
{
	uint32_t span = now - z->quiet_s;
	if (span == 0)
		return false;
	if ((uint64_t)z->recent < (uint64_t)t->lift_rate * span)
		z->quiet = (uint16_t)(z->quiet + span > UINT16_MAX ? UINT16_MAX : z->quiet + span);
	else
		z->quiet = 0;
	z->recent = 0;
	z->quiet_s = now;
	uint32_t need = lift_need(t, z);
	return need != 0 && z->quiet >= need;
}

enum net_torture_verdict net_torture_miss(struct net_torture *t, const uint8_t *qname, bool popular,
					  uint64_t now_s, uint32_t *ref, uint8_t *zone_out)
{
	uint32_t now = (uint32_t)now_s;
	*ref = 0;
	if (!t->cfg.enabled || qname[0] == 0)
		return NET_TORTURE_PASS;
	/* The zone is approximated by the parent domain; top-level domains are never a victim
	 * (a mitigation there would take a whole TLD). */
	const uint8_t *zone = qname + qname[0] + 1;
	if (label_count(zone) < 2)
		return NET_TORTURE_PASS;
	size_t len = wire_len(zone);
	uint64_t h = zone_hash(t, zone, len);
	struct zone *z = find(t, zone, len, h);
	if (z == NULL && (z = claim(t, zone, len, h, now)) == NULL) {
		struct zone *a = t->active != 0 ? mitigating_ancestor(t, zone) : NULL;
		if (a == NULL || popular)
			return NET_TORTURE_PASS;
		count_recent(a);
		return trickle(t, a, now) ? NET_TORTURE_TRICKLE
					  : mitigate(a, zone_out, NET_TORTURE_MITIGATE);
	}
	z->last_s = now;
	count_recent(z);
	if ((uint32_t)(now - z->win_start) >= t->cfg.window_s)
		roll_window(t, z, now);
	uint64_t nh = XXH3_64bits_withSeed(qname, wire_len(qname), 0x7e57);
	z->sketch[(nh >> 6) & 3] |= 1ull << (nh & 63);
	bool trickled = false;
	if (!popular) {
		struct zone *m = z->until != 0 ? z
				 : t->active != 0 ? mitigating_ancestor(t, zone)
						  : NULL;
		if (m != NULL) {
			if (m != z)
				count_recent(m);
			if (!trickle(t, m, now))
				return mitigate(m, zone_out, NET_TORTURE_MITIGATE);
			trickled = true; /* on to the fetch caps, as any miss */
		} else if (flood_seen(t, z) && failing(t, z)) {
			start(t, z, now);
			return mitigate(z, zone_out, NET_TORTURE_START);
		}
	}
	/* A zone whose servers have not shown they answer has NET_TORTURE_MIN_CAP fetches of its
	 * own; more come from the pool all such zones share (ddos.fetches-unresponsive). */
	bool pooled = !z->responsive && z->inflight >= NET_TORTURE_MIN_CAP &&
		      t->cfg.fetches_unresponsive != 0;
	if (t->cfg.fetches_per_zone != 0 && z->inflight >= z->cap) {
		/* Refused for want of capacity: counts as a failure of the zone. */
		z->outcomes++;
		z->bad++;
		return NET_TORTURE_LIMIT;
	}
	if (pooled && t->pool_inflight >= t->cfg.fetches_unresponsive) {
		z->outcomes++;
		z->bad++;
		return NET_TORTURE_LIMIT_POOL;
	}
	z->inflight++;
	*ref = (uint32_t)(z - t->zones) + 1;
	if (pooled) {
		t->pool_inflight++;
		*ref |= REF_POOL;
	}
	return trickled ? NET_TORTURE_TRICKLE : NET_TORTURE_PASS;
}

void net_torture_outcome(struct net_torture *t, uint32_t ref, enum net_torture_outcome o)
{
	ref &= ~REF_POOL;
	if (ref == 0 || ref > NET_TORTURE_ZONES)
		return;
	struct zone *z = &t->zones[ref - 1];
	z->outcomes++;
	if (o != NET_TORTURE_ANSWER)
		z->bad++;
	/* A response of any kind says the servers are there; SERVFAIL says nothing. */
	if (o == NET_TORTURE_TIMEOUT && z->timeouts < UINT8_MAX) {
		if (++z->timeouts >= UNRESP_TIMEOUTS)
			z->responsive = false;
	} else if (o == NET_TORTURE_ANSWER || o == NET_TORTURE_NXDOMAIN) {
		z->timeouts = 0;
		z->responsive = true;
	}
	/* Adaptive cap, like BIND's fetch quotas: a timeout takes away an eighth, an answer in
	 * time gives one back; SERVFAIL says nothing about the servers' capacity. */
	if (o == NET_TORTURE_TIMEOUT) {
		unsigned cap = z->cap - z->cap / 8u - 1u;
		z->cap = (uint16_t)(cap < NET_TORTURE_MIN_CAP ? NET_TORTURE_MIN_CAP : cap);
	} else if (o != NET_TORTURE_SERVFAIL && z->cap < t->cfg.fetches_per_zone) {
		z->cap++;
	}
}

void net_torture_release(struct net_torture *t, uint32_t ref)
{
	if ((ref & REF_POOL) != 0 && t->pool_inflight > 0)
		t->pool_inflight--;
	ref &= ~REF_POOL;
	if (ref == 0 || ref > NET_TORTURE_ZONES)
		return;
	struct zone *z = &t->zones[ref - 1];
	if (z->inflight > 0)
		z->inflight--;
}

unsigned net_torture_tick(struct net_torture *t, uint64_t now_s, net_torture_end_cb cb, void *arg)
{
	uint32_t now = (uint32_t)now_s;
	if (t->active == 0)
		return 0;
	for (unsigned i = 0; i < NET_TORTURE_ZONES; i++) {
		struct zone *z = &t->zones[i];
		if (z->until == 0)
			continue;
		/* Queries keep extending it only at a window's end: roll a stale window here. */
		if ((uint32_t)(now - z->win_start) >= t->cfg.window_s)
			roll_window(t, z, now);
		bool early = quiet_enough(t, z, now);
		if (!early && (int32_t)(z->until - now) > 0)
			continue;
		struct net_torture_stats st = {
		    .mitigated = z->mitigated, .seconds = now - z->since, .early = early};
		z->until = 0;
		z->ended = now != 0 ? now : 1;
		t->active--;
		if (cb != NULL)
			cb(arg, z->name, &st);
	}
	return t->active;
}

unsigned net_torture_active(const struct net_torture *t)
{
	return t->active;
}

unsigned net_torture_unresponsive(const struct net_torture *t)
{
	return t->pool_inflight;
}
