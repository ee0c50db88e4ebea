/* SPDX-License-Identifier: MIT */
/*
 * policy/slots.h, and the compiler around it: the sorted fill makes a valid Robin Hood table
 * holding the same entries as inserting in feed order; a generated feed compiles to the same
 * answers whatever the order of its lines.
 */
#include <stdint.h>

#include "policy/image.h"
#include "policy/slots.h"
#include "test.h"
#include "util.h"

static uint64_t rng = 88172645463325252ull;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* The lookup's walk (snap.c): from home, until the key, an empty slot, or (Robin Hood) a
 * slot closer to its home than we are to ours. @return the slot index or -1. */
static long probe(const struct img_slot *t, uint64_t count, uint64_t sh, uint32_t key_off)
{
	uint64_t i = img_slot_index(sh, count);

	for (unsigned d = 0; d < 255; d++, i = i + 1 == count ? 0 : i + 1) {
		if (t[i].key_off == 0 || (t[i].tag & 0xff) < d)
			return -1;
		if ((t[i].tag & ~0xffu) == img_tag(sh) && t[i].key_off == key_off)
			return (long)i;
	}
	return -1;
}

/* Every slot's distance byte is its real distance from home. */
static bool distances_ok(const struct img_slot *t, uint64_t count, const struct slot_ent *e,
			 size_t n)
{
	for (size_t k = 0; k < n; k++) {
		long i = probe(t, count, e[k].sh, e[k].s.key_off);
		if (i < 0)
			return false;
		uint64_t home = img_slot_index(e[k].sh, count);
		uint64_t dist =
		    (uint64_t)i >= home ? (uint64_t)i - home : (uint64_t)i + count - home;
		if ((t[i].tag & 0xff) != dist)
			return false;
	}
	return true;
}

static void test_fill_orders(void)
{
	const size_t n = 60000; /* over the sort threshold */
	const uint64_t count = n * IMG_LOAD_DEN / IMG_LOAD_NUM + 1;
	struct slot_ent *e = calloc(n, sizeof(*e)), *orig = calloc(n, sizeof(*e));
	struct img_slot *a = calloc(count, sizeof(*a)), *b = calloc(count, sizeof(*b));
	uint32_t fa = 0, fb = 0;

	uint64_t group = 0;
	for (size_t k = 0; k < n; k++) {
		/* Runs of six entries with one home (the top bits) among the random ones. */
		if (k % 50 == 0)
			group = next() & ~0xffffffull;
		e[k].sh = k % 50 < 6 ? group | (next() & 0xffffffull) : next();
		e[k].s.key_off = (uint32_t)k + 1;
		e[k].s.data_off = (uint32_t)k * 3;
	}
	/* The last homes wrap around the end of the table. */
	for (size_t k = 0; k < 50; k++)
		e[k].sh = UINT64_MAX - k;
	memcpy(orig, e, n * sizeof(*e));
	/* The sort in the caller's scratch room (garbage in it, as in a spent array) and in
	 * its own: the same table. */
	struct slot_ent *scratch = malloc(n * sizeof(*scratch));
	struct img_slot *c = calloc(count, sizeof(*c));
	uint32_t fc = 0;
	memset(scratch, 0xa5, n * sizeof(*scratch));
	CHECK_EQ(policy_slots_fill(a, count, e, n, scratch, &fa), C2W_OK);
	memcpy(e, orig, n * sizeof(*e));
	CHECK_EQ(policy_slots_fill(c, count, e, n, NULL, &fc), C2W_OK);
	CHECK(memcmp(a, c, count * sizeof(*a)) == 0);
	CHECK_EQ(fa, fc);
	free(scratch);
	free(c);
	for (size_t k = 0; k < n; k++) /* one at a time, in the given order: no sort */
		CHECK_EQ(policy_slots_fill(b, count, &orig[k], 1, NULL, &fb), C2W_OK);
	CHECK(distances_ok(a, count, orig, n));
	CHECK(distances_ok(b, count, orig, n));
	size_t used_a = 0, used_b = 0;
	for (uint64_t i = 0; i < count; i++) {
		used_a += a[i].key_off != 0;
		used_b += b[i].key_off != 0;
	}
	CHECK_EQ(used_a, n);
	CHECK_EQ(used_b, n);
	for (size_t k = 0; k < n; k++) {
		long i = probe(a, count, orig[k].sh, orig[k].s.key_off);
		CHECK(i >= 0 && a[i].data_off == orig[k].s.data_off);
		/* An absent key is not found. */
		CHECK(probe(a, count, orig[k].sh, (uint32_t)n + 1 + (uint32_t)k) < 0);
	}
	CHECK_EQ(fa, fb);
	free(e);
	free(orig);
	free(a);
	free(b);
}

/* A mixed feed of @n rules, its lines in order or reversed. */
static char *gen_feed(unsigned n, bool reverse)
{
	size_t cap = (size_t)n * 64 + 128, len = 0;
	char *text = malloc(cap);

	len += (size_t)snprintf(text, cap, "$TTL 300\n@ SOA ns. h. 1 2 3 4 5\n");
	for (unsigned k = 0; k < n; k++) {
		unsigned i = reverse ? n - 1 - k : k;
		if (i % 10 == 0)
			len += (size_t)snprintf(text + len, cap - len,
						"*.w%u.c2-%u.example CNAME .\n", i, i % 97);
		else if (i % 17 == 0)
			len += (size_t)snprintf(text + len, cap - len,
						"32.%u.%u.%u.10.rpz-ip CNAME .\n", i & 255,
						(i >> 8) & 255, (i >> 16) & 255);
		else if (i % 5 == 0)
			len += (size_t)snprintf(text + len, cap - len,
						"h%u.c2-%u.example A 10.0.0.%u\n", i, i % 97,
						i % 200 + 1);
		else if (i % 3 == 0)
			len += (size_t)snprintf(text + len, cap - len,
						"h%u.c2-%u.example CNAME rpz-drop.\n", i, i % 97);
		else
			len += (size_t)snprintf(text + len, cap - len,
						"h%u.c2-%u.example CNAME .\n", i, i % 97);
	}
	return text;
}

static enum policy_verdict ask(const struct policy_snap *s, const char *name, struct policy_hit *h)
{
	struct dns_query q = mkq(name, DNS_TYPE_A);
	memset(h, 0, sizeof(*h));
	return policy_match_query(s, &q, NULL, h, NULL);
}

static void test_compile_orders(void)
{
	const unsigned n = 30000;
	char *fwd = gen_feed(n, false), *rev = gen_feed(n, true);
	struct policy_zone_spec za, zb;
	struct policy_report ra, rb;
	struct policy_snap *a = NULL, *b = NULL;
	char name[96];

	memset(&za, 0, sizeof(za));
	za.name = "gen.rpz.";
	za.file = tmp_feed(fwd);
	zb = za;
	zb.file = tmp_feed(rev);
	memset(&ra, 0, sizeof(ra));
	memset(&rb, 0, sizeof(rb));
	CHECK_EQ(policy_snap_build(&za, 1, NULL, &ra, &a), C2W_OK);
	CHECK_EQ(policy_snap_build(&zb, 1, NULL, &rb, &b), C2W_OK);
	CHECK_EQ(ra.rules, n);
	CHECK_EQ(rb.rules, n);
	CHECK_EQ(ra.snapshot_bytes, rb.snapshot_bytes);
	for (unsigned i = 0; i < n; i++) {
		struct policy_hit ha, hb;
		if (i % 17 == 0 && i % 10 != 0)
			continue; /* IP triggers: answers, not queries */
		if (i % 10 == 0)
			snprintf(name, sizeof(name), "x.w%u.c2-%u.example.", i, i % 97);
		else
			snprintf(name, sizeof(name), "h%u.c2-%u.example.", i, i % 97);
		enum policy_verdict va = ask(a, name, &ha), vb = ask(b, name, &hb);
		CHECK_EQ(va, POLICY_VERDICT_ACT);
		CHECK_EQ(vb, va);
		CHECK_EQ(hb.action, ha.action);
		CHECK_EQ(hb.wildcard, ha.wildcard);
		CHECK_EQ(ha.action, i % 10 == 0  ? POLICY_ACTION_NXDOMAIN
				    : i % 5 == 0 ? POLICY_ACTION_LOCAL_DATA
				    : i % 3 == 0 ? POLICY_ACTION_DROP
						 : POLICY_ACTION_NXDOMAIN);
		CHECK(strcmp(ha.match, hb.match) == 0);
		/* Names no rule has: a sibling, and a child of an exact trigger. */
		snprintf(name, sizeof(name), "h%u.c2-%u.example.", i, (i + 1) % 97);
		CHECK_EQ(ask(a, name, &ha), POLICY_VERDICT_NONE);
		CHECK_EQ(ask(b, name, &hb), POLICY_VERDICT_NONE);
	}
	policy_snap_free(a);
	policy_snap_free(b);
	free(fwd);
	free(rev);
}

TEST_MAIN(TEST(test_fill_orders), TEST(test_compile_orders))
