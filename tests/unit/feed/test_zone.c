/* SPDX-License-Identifier: MIT */
/*
 * The transferred zone's undo journal (applying an IXFR in place): adds, replacements (new
 * TTL), deletions and a SOA change after feed_zone_journal_begin() are all taken back by
 * feed_zone_rollback() (same records, same lines, same SOA), kept by feed_zone_commit(); a
 * journal across a table growth; feed_zone_foreach() sees every record but the SOA. Churn
 * (as many records deleted as added, new owners each time) keeps the tables at their size,
 * with or without a journal, and a rolled-back churn leaves the owner counts as they were; a
 * clone finds and deletes every record. Owner counts deferred (a full transfer's copy) are
 * unknown until counted, then exact, clone included, and follow later changes.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feed/zone.h"
#include "test.h"

struct acc {
	char text[1 << 16];
	size_t len;
	unsigned n;
};

static int collect(void *ctx, const char *line)
{
	struct acc *a = ctx;
	a->n++;
	/* order-independent fingerprint: sum of a hash of each line */
	unsigned long h = 5381;
	for (const char *p = line; *p; p++)
		h = h * 33 + (unsigned char)*p;
	unsigned long *sum = (unsigned long *)(void *)a->text;
	*sum += h;
	return 0;
}

static void snapshot(const struct feed_zone *z, unsigned *n, unsigned long *sum, uint32_t *serial)
{
	static struct acc a;
	memset(&a, 0, sizeof(a));
	CHECK_EQ(feed_zone_foreach(z, collect, &a), 0);
	*n = a.n;
	memcpy(sum, a.text, sizeof(*sum));
	struct feed_soa soa = {0};
	CHECK(feed_zone_soa(z, &soa));
	*serial = soa.serial;
}

/* rpz.example. at serial 1 with @n rules n0 .. n(n-1), CNAME .; @deferred: the records per
 * owner not counted as they come (feed_zone_defer_owners(), as a full transfer does) */
static struct feed_zone *zone_of(int n, bool deferred)
{
	struct feed_zone *z = NULL;
	char line[128];
	CHECK_EQ(feed_zone_new("rpz.example.", &z), C2W_OK);
	if (deferred)
		feed_zone_defer_owners(z);
	struct feed_soa soa = {.serial = 1};
	CHECK_EQ(feed_zone_set_soa(z, "rpz.example. 300 IN SOA ns. h. 1 2 3 4 5", &soa), C2W_OK);
	for (int i = 0; i < n; i++) {
		snprintf(line, sizeof(line), "n%d.rpz.example. 300 IN CNAME .", i);
		CHECK_EQ(feed_zone_add(z, line), C2W_OK);
	}
	return z;
}

static void test_journal_rollback_and_commit(void)
{
	struct feed_zone *z = zone_of(40, false);
	char line[128];
	unsigned n0, n1;
	unsigned long s0, s1;
	uint32_t ser0, ser1;
	snapshot(z, &n0, &s0, &ser0);
	CHECK_EQ(n0, 40);

	feed_zone_journal_begin(z);
	/* enough additions to grow the table under the journal */
	for (int i = 0; i < 200; i++) {
		snprintf(line, sizeof(line), "a%d.rpz.example. 300 IN A 10.0.0.%d", i, i % 250);
		CHECK_EQ(feed_zone_add(z, line), C2W_OK);
	}
	CHECK_EQ(feed_zone_del(z, "n1.rpz.example. 999 IN CNAME ."), C2W_OK);
	CHECK_EQ(feed_zone_del(z, "n2.rpz.example. 300 IN CNAME ."), C2W_OK);
	CHECK_EQ(feed_zone_add(z, "n3.rpz.example. 60 IN CNAME ."), C2W_OK); /* new TTL */
	CHECK_EQ(feed_zone_add(z, "n2.rpz.example. 77 IN CNAME ."), C2W_OK); /* deleted, re-added */
	CHECK_EQ(feed_zone_del(z, "a5.rpz.example. 300 IN A 10.0.0.5"), C2W_OK);
	/* added, replaced (new TTL), deleted, added again: one key changes hands three times */
	CHECK_EQ(feed_zone_add(z, "a7.rpz.example. 1 IN A 10.0.0.7"), C2W_OK);
	CHECK_EQ(feed_zone_del(z, "a7.rpz.example. 300 IN A 10.0.0.7"), C2W_OK);
	CHECK_EQ(feed_zone_add(z, "a7.rpz.example. 2 IN A 10.0.0.7"), C2W_OK);
	CHECK_EQ(feed_zone_add(z, "b1.rpz.example. 300 IN CNAME ."), C2W_OK);
	CHECK_EQ(feed_zone_add(z, "b1.rpz.example. 9 IN CNAME ."), C2W_OK);
	CHECK_EQ(feed_zone_del(z, "b1.rpz.example. 300 IN CNAME ."), C2W_OK);
	struct feed_soa soa2 = {.serial = 2};
	CHECK_EQ(feed_zone_set_soa(z, "rpz.example. 300 IN SOA ns. h. 9 2 3 4 5",
				   &(struct feed_soa){.serial = 9}),
		 C2W_OK);
	CHECK_EQ(feed_zone_set_soa(z, "rpz.example. 300 IN SOA ns. h. 2 2 3 4 5", &soa2), C2W_OK);
	CHECK_EQ(feed_zone_del(z, "nothere.rpz.example. 300 IN CNAME ."), C2W_ENOENT);
	snapshot(z, &n1, &s1, &ser1);
	CHECK_EQ(n1, 40 + 200 - 1 - 1);
	CHECK_EQ(ser1, 2);
	CHECK_EQ(feed_zone_owner_count(z, "b1.rpz.example."), 0);
	CHECK_STREQ(feed_zone_line(z, "a7.rpz.example. 5 IN A 10.0.0.7"),
		    "a7.rpz.example. 2 IN A 10.0.0.7");
	feed_zone_rollback(z);
	snapshot(z, &n1, &s1, &ser1);
	CHECK_EQ(n1, n0);
	CHECK(s1 == s0);
	CHECK_EQ(ser1, 1);
	CHECK_EQ(feed_zone_count(z), 40);
	CHECK(feed_zone_line(z, "a7.rpz.example. 2 IN A 10.0.0.7") == NULL);
	CHECK_EQ(feed_zone_owner_count(z, "a7.rpz.example."), 0);
	CHECK_EQ(feed_zone_owner_count(z, "n2.rpz.example."), 1);

	/* the same again, kept */
	feed_zone_journal_begin(z);
	CHECK_EQ(feed_zone_del(z, "n1.rpz.example. 300 IN CNAME ."), C2W_OK);
	CHECK_EQ(feed_zone_add(z, "new.rpz.example. 300 IN CNAME ."), C2W_OK);
	CHECK_EQ(feed_zone_set_soa(z, "rpz.example. 300 IN SOA ns. h. 3 2 3 4 5",
				   &(struct feed_soa){.serial = 3}),
		 C2W_OK);
	feed_zone_commit(z);
	snapshot(z, &n1, &s1, &ser1);
	CHECK_EQ(n1, 40);
	CHECK(s1 != s0);
	CHECK_EQ(ser1, 3);
	CHECK_EQ(feed_zone_del(z, "n1.rpz.example. 300 IN CNAME ."), C2W_ENOENT);
	/* a journal left open is freed with the zone */
	feed_zone_journal_begin(z);
	CHECK_EQ(feed_zone_add(z, "x.rpz.example. 300 IN CNAME ."), C2W_OK);
	feed_zone_free(z);
}

/* Issue 9: with tombstones, deleted records and owners kept their slots until a rehash, so
 * an increment that deleted k records and added k new owners grew both tables (a 1M-record
 * zone doubled 64 MiB of tables during a 100,000-change IXFR). */
static void test_churn_keeps_tables(void)
{
	enum { N = 1000, K = 100, ROUNDS = 60 };
	struct feed_zone *z = zone_of(N, false);
	char line[128];
	size_t bytes = feed_zone_table_bytes(z);
	for (int r = 0; r < ROUNDS; r++) {
		bool journal = r % 3 == 1, undo = r % 3 == 2;
		if (journal || undo)
			feed_zone_journal_begin(z);
		for (int i = r * K; i < (r + 1) * K; i++) {
			snprintf(line, sizeof(line), "n%d.rpz.example. 300 IN CNAME .", i);
			CHECK_EQ(feed_zone_del(z, line), C2W_OK);
			snprintf(line, sizeof(line), "n%d.rpz.example. 300 IN CNAME .", i + N);
			CHECK_EQ(feed_zone_add(z, line), C2W_OK);
		}
		CHECK_EQ(feed_zone_count(z), N);
		CHECK_EQ(feed_zone_table_bytes(z), bytes);
		if (undo) {
			feed_zone_rollback(z);
			/* the same records back: redo the round without a journal */
			for (int i = r * K; i < (r + 1) * K; i++) {
				snprintf(line, sizeof(line), "n%d.rpz.example. 1 IN CNAME .", i);
				CHECK_EQ(feed_zone_owner_count(z, line), 1);
				CHECK(feed_zone_line(z, line) != NULL);
				snprintf(line, sizeof(line), "n%d.rpz.example.", i + N);
				CHECK_EQ(feed_zone_owner_count(z, line), 0);
				snprintf(line, sizeof(line), "n%d.rpz.example. 300 IN CNAME .", i);
				CHECK_EQ(feed_zone_del(z, line), C2W_OK);
				snprintf(line, sizeof(line), "n%d.rpz.example. 300 IN CNAME .",
					 i + N);
				CHECK_EQ(feed_zone_add(z, line), C2W_OK);
			}
		} else if (journal) {
			feed_zone_commit(z);
		}
		CHECK_EQ(feed_zone_table_bytes(z), bytes);
	}
	/* every record still found, every deleted one gone, owner counts exact */
	for (int i = 0; i < ROUNDS * K + N; i++) {
		snprintf(line, sizeof(line), "n%d.rpz.example. 300 IN CNAME .", i);
		bool live = i >= ROUNDS * K;
		CHECK_EQ(feed_zone_line(z, line) != NULL, live);
		CHECK_EQ(feed_zone_owner_count(z, line), live ? 1u : 0u);
	}
	/* a clone keeps every slot and its tag: each record found there, and deleted */
	struct feed_zone *c = NULL;
	CHECK_EQ(feed_zone_clone(z, &c), C2W_OK);
	CHECK_EQ(feed_zone_table_bytes(c), bytes);
	for (int i = ROUNDS * K; i < ROUNDS * K + N; i++) {
		snprintf(line, sizeof(line), "n%d.rpz.example. 300 IN CNAME .", i);
		CHECK(feed_zone_line(c, line) != NULL);
		CHECK_EQ(feed_zone_del(c, line), C2W_OK);
	}
	CHECK_EQ(feed_zone_count(c), 0u);
	CHECK_EQ(feed_zone_count(z), N);
	feed_zone_free(c);
	feed_zone_free(z);
}

static void test_deferred_owner_counts(void)
{
	enum { N = 3000 };
	struct feed_zone *z = zone_of(N, true);
	/* one owner with three records, one of them deleted before the count */
	CHECK_EQ(feed_zone_add(z, "m.rpz.example. 300 IN A 192.0.2.1"), C2W_OK);
	CHECK_EQ(feed_zone_add(z, "M.rpz.example. 300 IN A 192.0.2.2"), C2W_OK);
	CHECK_EQ(feed_zone_add(z, "m.rpz.example. 300 IN TXT \"x\""), C2W_OK);
	CHECK_EQ(feed_zone_del(z, "m.rpz.example. 300 IN TXT \"x\""), C2W_OK);
	CHECK_EQ(feed_zone_owner_count(z, "m.rpz.example."), UINT64_MAX);
	CHECK_EQ(feed_zone_owner_count(z, "n1.rpz.example."), UINT64_MAX);

	struct feed_zone *c = NULL;
	CHECK_EQ(feed_zone_clone(z, &c), C2W_OK);
	CHECK_EQ(feed_zone_owner_count(c, "m.rpz.example."), UINT64_MAX);

	CHECK_EQ(feed_zone_count_owners(z), C2W_OK);
	CHECK_EQ(feed_zone_count_owners(z), C2W_OK); /* once counted, a no-op */
	CHECK_EQ(feed_zone_owner_count(z, "m.rpz.example."), 2u);
	CHECK_EQ(feed_zone_owner_count(z, "N2999.rpz.example."), 1u);
	CHECK_EQ(feed_zone_owner_count(z, "n3000.rpz.example."), 0u);
	/* changes after the count are counted as they come, journal or not */
	CHECK_EQ(feed_zone_del(z, "n7.rpz.example. 300 IN CNAME ."), C2W_OK);
	CHECK_EQ(feed_zone_owner_count(z, "n7.rpz.example."), 0u);
	feed_zone_journal_begin(z);
	CHECK_EQ(feed_zone_add(z, "m.rpz.example. 300 IN A 192.0.2.3"), C2W_OK);
	CHECK_EQ(feed_zone_del(z, "n8.rpz.example. 300 IN CNAME ."), C2W_OK);
	CHECK_EQ(feed_zone_owner_count(z, "m.rpz.example."), 3u);
	CHECK_EQ(feed_zone_owner_count(z, "n8.rpz.example."), 0u);
	feed_zone_rollback(z);
	CHECK_EQ(feed_zone_owner_count(z, "m.rpz.example."), 2u);
	CHECK_EQ(feed_zone_owner_count(z, "n8.rpz.example."), 1u);

	/* the clone, counted on its own, agrees */
	CHECK_EQ(feed_zone_count_owners(c), C2W_OK);
	CHECK_EQ(feed_zone_owner_count(c, "m.rpz.example."), 2u);
	CHECK_EQ(feed_zone_owner_count(c, "n7.rpz.example."), 1u);
	CHECK_EQ(feed_zone_count(c), (size_t)N + 2);
	/* deferral is for an empty zone only */
	feed_zone_defer_owners(c);
	CHECK_EQ(feed_zone_owner_count(c, "m.rpz.example."), 2u);
	feed_zone_free(c);
	feed_zone_free(z);
}

TEST_MAIN(TEST(test_journal_rollback_and_commit), TEST(test_churn_keeps_tables),
	  TEST(test_deferred_owner_counts))
