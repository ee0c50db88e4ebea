/* SPDX-License-Identifier: MIT */
/*
 * net/torture.h: a random-subdomain flood with failing outcomes starts a mitigation for its
 * zone only; popular names and other zones pass; the mitigation is extended while the flood
 * goes on and ends after the hold; the adaptive fetch cap shrinks on timeouts and grows back;
 * top-level domains are never mitigated; disabled means PASS; with lift-after a mitigation
 * ends once the flood stops, and a pulsing flood needs ever longer quiet until only the hold
 * ends it, even when many other zones are seen in between.
 */
#include "dns/name.h"
#include "net/torture.h"
#include "test.h"

static struct conf_ddos conf(void)
{
	struct conf_ddos c = {
	    .enabled = true,
	    .window_s = 10,
	    .min_misses = 50,
	    .bad_ratio = 0.8,
	    .hold_s = 30,
	    .action = CONF_DDOS_SERVFAIL,
	    .fetches_per_zone = 100,
	};
	return c;
}

static void wire(const char *text, uint8_t *out)
{
	size_t len = 0;
	CHECK_EQ(dns_name_from_text(text, NULL, out, &len), C2W_OK);
}

/* One miss for @text; resolves it at once with @o when the verdict is PASS. */
static enum net_torture_verdict ask(struct net_torture *t, const char *text, bool popular,
				    uint64_t now, enum net_torture_outcome o)
{
	uint8_t q[DNS_NAME_WIRE_MAX], zone[DNS_NAME_WIRE_MAX];
	uint32_t ref = 0;
	wire(text, q);
	enum net_torture_verdict v = net_torture_miss(t, q, popular, now, &ref, zone);
	if (v == NET_TORTURE_PASS || v == NET_TORTURE_TRICKLE) {
		net_torture_outcome(t, ref, o);
		net_torture_release(t, ref);
	}
	return v;
}

static unsigned ended;

static void on_end(void *arg, const uint8_t *zone, const struct net_torture_stats *st)
{
	char text[DNS_NAME_TEXT_MAX];
	(void)arg;
	CHECK(dns_name_to_text(zone, text, sizeof(text)) > 0);
	CHECK_STREQ(text, "victim.example.");
	CHECK(st->mitigated > 0);
	ended++;
}

static void test_flood_detected_and_expires(void)
{
	struct conf_ddos c = conf();
	struct net_torture *t = net_torture_new(&c);
	char name[64];
	unsigned started = 0, mitigated = 0;
	uint64_t now = 1000;

	/* Benign: many distinct names that exist do not start anything. */
	for (int i = 0; i < 500; i++) {
		snprintf(name, sizeof(name), "h%d.cdn.example.", i);
		CHECK_EQ(ask(t, name, false, now, NET_TORTURE_ANSWER), NET_TORTURE_PASS);
	}
	/* Flood: distinct NXDOMAIN names under victim.example. */
	for (int i = 0; i < 500; i++) {
		snprintf(name, sizeof(name), "r%x.victim.example.", i * 7919);
		enum net_torture_verdict v = ask(t, name, false, now, NET_TORTURE_NXDOMAIN);
		started += v == NET_TORTURE_START;
		mitigated += v == NET_TORTURE_MITIGATE;
	}
	CHECK_EQ(started, 1);
	CHECK(mitigated > 400);
	CHECK_EQ(net_torture_active(t), 1);
	/* Popular names under the victim, deeper names, and other zones pass. */
	CHECK_EQ(ask(t, "www.victim.example.", true, now, NET_TORTURE_ANSWER), NET_TORTURE_PASS);
	CHECK_EQ(ask(t, "x.y.victim.example.", false, now, NET_TORTURE_ANSWER),
		 NET_TORTURE_MITIGATE);
	CHECK_EQ(ask(t, "new.cdn.example.", false, now, NET_TORTURE_ANSWER), NET_TORTURE_PASS);
	/* The flood goes on in the next window: extended past the first hold. */
	for (int i = 0; i < 500; i++) {
		snprintf(name, sizeof(name), "s%x.victim.example.", i * 7919);
		(void)ask(t, name, false, now + 25, NET_TORTURE_NXDOMAIN);
	}
	ended = 0;
	CHECK_EQ(net_torture_tick(t, now + 31, on_end, NULL), 1);
	CHECK_EQ(ended, 0);
	/* Silence: it ends hold seconds after the window that last saw the flood, once. */
	CHECK_EQ(net_torture_tick(t, now + 25 + 10 + 29, on_end, NULL), 1);
	CHECK_EQ(net_torture_tick(t, now + 25 + 10 + 31, on_end, NULL), 0);
	CHECK_EQ(ended, 1);
	CHECK_EQ(net_torture_tick(t, now + 100, on_end, NULL), 0);
	CHECK_EQ(ended, 1);
	CHECK_EQ(ask(t, "after.victim.example.", false, now + 100, NET_TORTURE_ANSWER),
		 NET_TORTURE_PASS);
	net_torture_free(t);
}

/* @count distinct flood names under victim.example. at @now, prefix @tag. */
static void flood(struct net_torture *t, const char *tag, int count, uint64_t now)
{
	char name[64];
	for (int i = 0; i < count; i++) {
		snprintf(name, sizeof(name), "%s%x.victim.example.", tag, i * 7919);
		(void)ask(t, name, false, now, NET_TORTURE_NXDOMAIN);
	}
}

/* A running mitigation goes on while a window sees half of min-misses (50 here), not less. */
static void test_hysteresis(void)
{
	struct conf_ddos c = conf();
	for (int keep = 0; keep < 2; keep++) {
		struct net_torture *t = net_torture_new(&c);
		flood(t, "a", 500, 1000); /* starts; the window [1000, 1010) extends to 1040 */
		CHECK_EQ(net_torture_active(t), 1);
		flood(t, "b", keep ? 40 : 10, 1010); /* 40 >= 25 keeps it going, 10 does not */
		flood(t, "c", 1, 1020);              /* rolls the window [1010, 1020) */
		ended = 0;
		CHECK_EQ(net_torture_tick(t, 1039, on_end, NULL), 1);
		CHECK_EQ(net_torture_tick(t, 1041, on_end, NULL), keep ? 1u : 0u);
		CHECK_EQ(net_torture_tick(t, 1049, on_end, NULL), keep ? 1u : 0u);
		CHECK_EQ(net_torture_tick(t, 1051, on_end, NULL), 0);
		CHECK_EQ(ended, 1);
		net_torture_free(t);
	}
}

/* Settings for lift-after: quiet below 100 / 2 / 4 = 12 misses a second. */
static struct conf_ddos conf_lift(void)
{
	struct conf_ddos c = conf();
	c.window_s = 2;
	c.min_misses = 100;
	c.hold_s = 8;
	c.lift_after_s = 1;
	return c;
}

/* Ticks once a second from @from to @to; the first second with no mitigation left, or 0. */
static uint64_t tick_until_idle(struct net_torture *t, uint64_t from, uint64_t to)
{
	for (uint64_t s = from; s <= to; s++)
		if (net_torture_tick(t, s, on_end, NULL) == 0)
			return s;
	return 0;
}

/* Misses under the victim in a pulse that passed to the servers (the leak). */
static unsigned pulse(struct net_torture *t, const char *tag, int count, uint64_t now,
		      unsigned *started)
{
	char name[64];
	unsigned passed = 0;
	for (int i = 0; i < count; i++) {
		snprintf(name, sizeof(name), "%s%x.victim.example.", tag, i * 7919);
		enum net_torture_verdict v = ask(t, name, false, now, NET_TORTURE_NXDOMAIN);
		passed += v == NET_TORTURE_PASS;
		*started += v == NET_TORTURE_START;
	}
	return passed;
}

/* The flood stops: the mitigation ends one quiet second later, long before the hold, and a
 * trickle of benign misses under the victim (5 a second) does not keep it; a flood that slows
 * to 40 a second (above the quiet rate, below the keep rate) is ended by the hold only. */
static void test_lift_after(void)
{
	struct conf_ddos c = conf_lift();
	unsigned started = 0;
	for (int slow = 0; slow < 2; slow++) {
		struct net_torture *t = net_torture_new(&c);
		(void)pulse(t, "a", 500, 1000, &started);
		CHECK_EQ(net_torture_active(t), 1);
		ended = 0;
		CHECK_EQ(net_torture_tick(t, 1001, on_end, NULL), 1); /* the flood's second */
		uint64_t end = 0;
		for (uint64_t s = 1002; s <= 1030 && end == 0; s++) {
			(void)pulse(t, "b", slow ? 40 : 5, s, &started);
			if (net_torture_tick(t, s, on_end, NULL) == 0)
				end = s;
		}
		if (slow)
			CHECK(end >= 1000 + c.hold_s); /* 40 distinct a window: the hold ends it */
		else
			CHECK_EQ(end, 1002);
		CHECK_EQ(ended, 1);
		net_torture_free(t);
	}
	/* lift-after 0: the hold alone, as before. */
	c.lift_after_s = 0;
	struct net_torture *t = net_torture_new(&c);
	(void)pulse(t, "a", 500, 1000, &started);
	CHECK_EQ(tick_until_idle(t, 1001, 1030), 1000 + c.window_s + c.hold_s);
	net_torture_free(t);
}

/* A pulsing flood: 500 names every few seconds. The first pulses end early after 1, 2, 4
 * quiet seconds (each start leaks the names it took to detect it), the fourth needs 8 = hold:
 * from then on the mitigation never ends between pulses and nothing passes. After 60 s of
 * peace a new flood gets the short quiet time again. */
static void test_lift_after_pulsing(void)
{
	struct conf_ddos c = conf_lift();
	struct net_torture *t = net_torture_new(&c);
	unsigned started = 0, passed = 0;
	uint64_t now = 1000;
	uint64_t want_quiet[] = {1, 2, 4};
	for (int i = 0; i < 3; i++) {
		passed += pulse(t, "p", 500, now, &started);
		CHECK_EQ(started, (unsigned)i + 1);
		uint64_t end = tick_until_idle(t, now + 1, now + 30);
		CHECK_EQ(end, now + 1 + want_quiet[i]);
		now = end + 2;
	}
	CHECK(passed < 3 * 150);
	/* From the fourth start on, pulses 3 s apart never see the mitigation end. */
	unsigned late = 0;
	late += pulse(t, "q", 500, now, &started);
	CHECK_EQ(started, 4);
	for (int i = 1; i < 10; i++) {
		for (uint64_t s = now + 1; s < now + 3; s++)
			CHECK_EQ(net_torture_tick(t, s, on_end, NULL), 1);
		now += 3;
		late += pulse(t, "q", 500, now, &started);
	}
	CHECK_EQ(started, 4);
	CHECK(late < 150); /* only the fourth start's detection */
	/* The pulses stop: the hold ends it; 60 s later a new flood lifts after 1 s again. */
	uint64_t end = tick_until_idle(t, now + 1, now + 30);
	CHECK(end > now + c.hold_s);
	now = end + 61;
	(void)pulse(t, "r", 500, now, &started);
	CHECK_EQ(started, 5);
	CHECK_EQ(tick_until_idle(t, now + 1, now + 30), now + 2);
	net_torture_free(t);
}

/* Hold one fetch for @text; returns the verdict, the ref in *ref. */
static enum net_torture_verdict hold(struct net_torture *t, const char *text, uint64_t now,
				     uint32_t *ref)
{
	uint8_t q[DNS_NAME_WIRE_MAX];
	wire(text, q);
	*ref = 0;
	return net_torture_miss(t, q, false, now, ref, NULL);
}

/* Zones whose servers have not shown they answer get NET_TORTURE_MIN_CAP (4) fetches each;
 * beyond that they share one pool (fetches-unresponsive), so many zones on one dead server
 * hold 4 each plus the pool, not their whole caps. A response takes a zone out; three
 * timeouts in a row put it back. */
static void test_unresponsive_pool(void)
{
	struct conf_ddos c = conf();
	c.min_misses = 1000; /* no mitigation in this test */
	c.fetches_unresponsive = 10;
	struct net_torture *t = net_torture_new(&c);
	uint32_t refs[64], ref;
	unsigned n = 0, passed = 0, pooled_limited = 0;
	char name[64];

	/* Eight new zones, six fetches each held: 4 own each, then 10 from the pool. */
	for (int z = 0; z < 8; z++)
		for (int i = 0; i < 6; i++) {
			snprintf(name, sizeof(name), "h%d.dead%d.example.", i, z);
			enum net_torture_verdict v = hold(t, name, 2, &ref);
			if (v == NET_TORTURE_PASS) {
				passed++;
				refs[n++] = ref;
			}
			pooled_limited += v == NET_TORTURE_LIMIT_POOL;
		}
	CHECK_EQ(passed, 42);
	CHECK_EQ(pooled_limited, 6);
	CHECK_EQ(net_torture_unresponsive(t), 10);
	/* A zone that answers is not in the pool: www.alive answers, then holds six. */
	CHECK_EQ(ask(t, "www.alive.example.", false, 2, NET_TORTURE_ANSWER), NET_TORTURE_PASS);
	for (int i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "h%d.alive.example.", i);
		CHECK_EQ(hold(t, name, 2, &ref), NET_TORTURE_PASS);
		refs[n++] = ref;
	}
	CHECK_EQ(net_torture_unresponsive(t), 10);
	/* Fetches end: the pool empties. */
	for (unsigned k = 0; k < n; k++) {
		net_torture_outcome(t, refs[k], NET_TORTURE_TIMEOUT);
		net_torture_release(t, refs[k]);
	}
	CHECK_EQ(net_torture_unresponsive(t), 0);
	/* alive.example had six timeouts in a row: it is unresponsive again, its fifth fetch
	 * comes from the pool. */
	n = 0;
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "g%d.alive.example.", i);
		CHECK_EQ(hold(t, name, 3, &ref), NET_TORTURE_PASS);
		refs[n++] = ref;
	}
	CHECK_EQ(net_torture_unresponsive(t), 1);
	for (unsigned k = 0; k < n; k++)
		net_torture_release(t, refs[k]);
	CHECK_EQ(net_torture_unresponsive(t), 0);
	/* 0 = no pool cap. */
	c.fetches_unresponsive = 0;
	net_torture_set_conf(t, &c);
	passed = 0;
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "u%d.dead1.example.", i);
		passed += hold(t, name, 4, &ref) == NET_TORTURE_PASS;
	}
	CHECK_EQ(passed, 20);
	net_torture_free(t);
}

static void test_tld_and_disabled(void)
{
	struct conf_ddos c = conf();
	struct net_torture *t = net_torture_new(&c);
	char name[64];
	unsigned not_pass = 0;
	for (int i = 0; i < 500; i++) {
		snprintf(name, sizeof(name), "r%x.example.", i * 7919);
		not_pass += ask(t, name, false, 5, NET_TORTURE_NXDOMAIN) != NET_TORTURE_PASS;
	}
	CHECK_EQ(not_pass, 0); /* example. is a TLD here: never a victim */
	c.enabled = false;
	net_torture_set_conf(t, &c);
	for (int i = 0; i < 500; i++) {
		snprintf(name, sizeof(name), "r%x.victim.example.", i * 7919);
		not_pass += ask(t, name, false, 5, NET_TORTURE_NXDOMAIN) != NET_TORTURE_PASS;
	}
	CHECK_EQ(not_pass, 0);
	net_torture_free(t);
}

static void test_adaptive_fetch_cap(void)
{
	struct conf_ddos c = conf();
	c.min_misses = 1000; /* no mitigation in this test */
	struct net_torture *t = net_torture_new(&c);
	uint8_t q[DNS_NAME_WIRE_MAX];
	uint32_t refs[200];
	unsigned passed = 0, limited = 0;
	char name[64];

	/* A black hole: 100 fetches go out, the 101st is refused. */
	for (int i = 0; i < 101; i++) {
		snprintf(name, sizeof(name), "b%d.dead.example.", i);
		wire(name, q);
		enum net_torture_verdict v = net_torture_miss(t, q, false, 1, &refs[i], NULL);
		passed += v == NET_TORTURE_PASS;
		limited += v == NET_TORTURE_LIMIT;
	}
	CHECK_EQ(passed, 100);
	CHECK_EQ(limited, 1);
	/* They all time out: the cap falls to its floor. */
	for (int i = 0; i < 100; i++) {
		net_torture_outcome(t, refs[i], NET_TORTURE_TIMEOUT);
		net_torture_release(t, refs[i]);
	}
	passed = 0;
	for (int i = 0; i < 50; i++) {
		snprintf(name, sizeof(name), "c%d.dead.example.", i);
		wire(name, q);
		passed += net_torture_miss(t, q, false, 2, &refs[i], NULL) == NET_TORTURE_PASS;
	}
	CHECK_EQ(passed, NET_TORTURE_MIN_CAP);
	/* The servers come back: each answer in time gives one fetch back. */
	for (unsigned i = 0; i < passed; i++) {
		net_torture_outcome(t, refs[i], NET_TORTURE_ANSWER);
		net_torture_release(t, refs[i]);
	}
	passed = 0;
	for (int i = 0; i < 50; i++) {
		snprintf(name, sizeof(name), "d%d.dead.example.", i);
		wire(name, q);
		passed += net_torture_miss(t, q, false, 3, &refs[i], NULL) == NET_TORTURE_PASS;
	}
	CHECK_EQ(passed, NET_TORTURE_MIN_CAP * 2);
	net_torture_free(t);
}

/* The memory of a recent mitigation is not pushed out by other zones: after 8,192 other zones
 * (eight times the table) each missed once, a new flood on the victim within the strike memory
 * still needs twice the quiet time (2 s) to end early, not the first flood's 1 s. */
static void test_strikes_survive_zone_churn(void)
{
	struct conf_ddos c = conf_lift();
	struct net_torture *t = net_torture_new(&c);
	unsigned started = 0;
	char name[64];
	(void)pulse(t, "p", 500, 1000, &started);
	CHECK_EQ(started, 1);
	uint64_t end = tick_until_idle(t, 1001, 1030);
	CHECK_EQ(end, 1002);
	for (int i = 0; i < 8 * NET_TORTURE_ZONES; i++) {
		snprintf(name, sizeof(name), "www.z%d.example.", i);
		CHECK_EQ(ask(t, name, false, end + 1 + (uint64_t)(i & 1), NET_TORTURE_ANSWER),
			 NET_TORTURE_PASS);
	}
	uint64_t now = end + 3;
	(void)pulse(t, "q", 500, now, &started);
	CHECK_EQ(started, 2);
	CHECK_EQ(tick_until_idle(t, now + 1, now + 30), now + 3);
	net_torture_free(t);
}

/* ddos.trickle: the first N misses of each second under a mitigated zone (or below it) are
 * still resolved; popular names pass as always; 0 turns it off. */
static void test_trickle(void)
{
	struct conf_ddos c = conf();
	c.trickle = 3;
	struct net_torture *t = net_torture_new(&c);
	char name[64];
	unsigned started = 0, trickled = 0, mitigated = 0;
	uint64_t now = 1000;
	for (int i = 0; i < 500; i++) {
		snprintf(name, sizeof(name), "r%x.victim.example.", i * 7919);
		enum net_torture_verdict v = ask(t, name, false, now, NET_TORTURE_NXDOMAIN);
		started += v == NET_TORTURE_START;
		trickled += v == NET_TORTURE_TRICKLE;
		mitigated += v == NET_TORTURE_MITIGATE;
	}
	CHECK_EQ(started, 1);
	CHECK_EQ(trickled, 3); /* in the second the mitigation started */
	CHECK(mitigated > 400);
	for (uint64_t s = now + 1; s <= now + 3; s++) {
		trickled = 0;
		for (int i = 0; i < 40; i++) {
			/* Names in a zone below the victim share the victim's trickle. */
			snprintf(name, sizeof(name), i & 1 ? "x%d.victim.example." : "x%d.sub.victim.example.",
				 i + (int)s * 100);
			enum net_torture_verdict v = ask(t, name, false, s, NET_TORTURE_ANSWER);
			CHECK(v == NET_TORTURE_TRICKLE || v == NET_TORTURE_MITIGATE);
			trickled += v == NET_TORTURE_TRICKLE;
		}
		CHECK_EQ(trickled, 3);
		CHECK_EQ(ask(t, "www.victim.example.", true, s, NET_TORTURE_ANSWER), NET_TORTURE_PASS);
	}
	c.trickle = 0;
	net_torture_set_conf(t, &c);
	CHECK_EQ(ask(t, "y1.victim.example.", false, now + 4, NET_TORTURE_ANSWER),
		 NET_TORTURE_MITIGATE);
	net_torture_free(t);
}

TEST_MAIN(TEST(test_flood_detected_and_expires), TEST(test_hysteresis), TEST(test_lift_after),
	  TEST(test_lift_after_pulsing), TEST(test_unresponsive_pool), TEST(test_tld_and_disabled),
	  TEST(test_adaptive_fetch_cap), TEST(test_strikes_survive_zone_churn), TEST(test_trickle))
