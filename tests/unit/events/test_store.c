/* SPDX-License-Identifier: MIT */
/*
 * Incident store on real SQLite files: aggregation, subscriber time-ranged join, exports
 * without raw addresses, retention, evidence, imports reporting bad rows by line.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "events/pseudo.h"
#include "events/store.h"
#include "test.h"

static char dir[64];

static struct events_store *open_store(const char *name)
{
	char path[128];
	struct events_store *st = NULL;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (events_store_open(path, &st) != C2W_OK)
		abort();
	return st;
}

static void hit_at(struct events_hit *h, int64_t t, const char *ip, const char *qname,
		   const char *family)
{
	memset(h, 0, sizeof(*h));
	h->time_ns = (uint64_t)t * 1000000000u;
	struct sockaddr_in in = {.sin_family = AF_INET};
	inet_pton(AF_INET, ip, &in.sin_addr);
	events_hit_set_client(h, (struct sockaddr *)&in);
	events_hit_copy(h->qname, sizeof(h->qname), qname);
	events_hit_copy(h->match, sizeof(h->match), qname);
	events_hit_copy(h->zone, sizeof(h->zone), "c2.rpz.");
	events_hit_copy(h->family, sizeof(h->family), family);
	events_hit_copy(h->category, sizeof(h->category), "c2");
	events_hit_copy(h->feed, sizeof(h->feed), "test-feed");
	h->qtype = 1;
	h->action = EVENTS_ACTION_NXDOMAIN;
}

/* Write an export into memory. */
static char *export_str(struct events_store *st, enum events_export_format fmt, int *count)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	*count = events_store_incidents_write(st, 0, false, fmt, f);
	fclose(f);
	return buf;
}

static int64_t scalar(const char *name, const char *sql)
{
	char path[128];
	sqlite3 *db;
	sqlite3_stmt *s;
	int64_t v = -1;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	sqlite3_open(path, &db);
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

static const int64_t day0 = 1717977600; /* 2024-06-10T00:00:00Z */

static void test_aggregate_and_export(void)
{
	struct events_store *st = open_store("agg.db");
	struct events_hit h;
	const char *ps = "0123456789abcdef0123456789abcdef", *kid = "abcd1234";
	hit_at(&h, day0 + 100, "192.0.2.17", "a.c2.example.", "emotet");
	CHECK_EQ(events_store_hit_add(st, &h, ps, kid), C2W_OK);
	hit_at(&h, day0 + 200, "192.0.2.17", "b.c2.example.", "emotet");
	CHECK_EQ(events_store_hit_add(st, &h, ps, kid), C2W_OK);
	hit_at(&h, day0 + 300, "192.0.2.17", "a.c2.example.", "emotet");
	CHECK_EQ(events_store_hit_add(st, &h, ps, kid), C2W_OK);
	hit_at(&h, day0 + 400, "192.0.2.17", "x.bad.example.", ""); /* no family: by rule */
	CHECK_EQ(events_store_hit_add(st, &h, ps, kid), C2W_OK);
	hit_at(&h, day0 + 86400 + 5, "192.0.2.17", "a.c2.example.", "emotet"); /* next day */
	CHECK_EQ(events_store_hit_add(st, &h, ps, kid), C2W_OK);
	hit_at(&h, day0 + 500, "198.51.100.4", "a.c2.example.", "emotet"); /* other client */
	CHECK_EQ(events_store_hit_add(st, &h, "ffffffffffffffffffffffffffffffff", kid), C2W_OK);
	CHECK_EQ(events_store_flush(st), C2W_OK);
	CHECK_EQ(events_store_hit_count(st), 6);
	CHECK_EQ(scalar("agg.db", "SELECT count(*) FROM incidents"), 4);
	CHECK_EQ(scalar("agg.db", "SELECT count FROM incidents WHERE label='emotet' AND"
				  " day='2024-06-10' AND client_ip='192.0.2.17'"),
		 3);
	CHECK_EQ(scalar("agg.db",
			"SELECT last_seen - first_seen FROM incidents WHERE"
			" label='emotet' AND day='2024-06-10' AND client_ip='192.0.2.17'"),
		 200);
	CHECK_EQ(scalar("agg.db",
			"SELECT count(*) FROM incident_names n JOIN incidents i ON"
			" i.id=n.incident_id WHERE i.label='emotet' AND i.day='2024-06-10'"
			" AND i.client_ip='192.0.2.17'"),
		 2);

	/* Subscribers: the address changed hands at noon on day 0. */
	char path[128];
	snprintf(path, sizeof(path), "%s/subs.csv", dir);
	FILE *f = fopen(path, "w");
	fputs("subscriber_id,address,start,end\n"
	      "cust-A,192.0.2.0/28,2024-06-09T00:00:00Z,2024-06-10T12:00:00Z\n"
	      "cust-B,192.0.2.16/28,2024-06-10T12:00:00Z,\n"
	      "cust-C,192.0.2.16/28,2024-06-09T00:00:00Z,2024-06-10T12:00:00Z\n"
	      "broken line\n"
	      "cust-D,198.51.100.0/24,2024-06-01,\n",
	      f);
	fclose(f);
	f = fopen(path, "r");
	struct events_import_result res;
	CHECK_EQ(events_store_subscribers_import(st, f, NULL, NULL, &res), C2W_OK);
	fclose(f);
	CHECK_EQ(res.rows_ok, 4);
	CHECK_EQ(res.rows_bad, 1);
	/* 192.0.2.17 at 00:01:40 on day 0 was cust-C's; next day cust-B's. */
	CHECK_EQ(scalar("agg.db", "SELECT count(*) FROM incidents WHERE subscriber_id='cust-C'"),
		 2);
	CHECK_EQ(scalar("agg.db", "SELECT count(*) FROM incidents WHERE subscriber_id='cust-B'"),
		 1);
	CHECK_EQ(scalar("agg.db", "SELECT count(*) FROM incidents WHERE subscriber_id='cust-D'"),
		 1);

	int n;
	char *csv = export_str(st, EVENTS_EXPORT_CSV, &n);
	CHECK_EQ(n, 4);
	CHECK(csv && strncmp(csv, "# c2wall incidents", 18) == 0);
	CHECK(csv && strstr(csv, "No raw IP addresses") != NULL);
	CHECK(csv && strstr(csv, "192.0.2.17") == NULL);
	CHECK(csv && strstr(csv, "198.51.100.4") == NULL);
	CHECK(csv && strstr(csv, "cust-C") != NULL);
	CHECK(csv && strstr(csv, ps) != NULL);
	CHECK(csv && strstr(csv, "a.c2.example.(2)") != NULL);
	free(csv);
	char *json = export_str(st, EVENTS_EXPORT_JSON, &n);
	CHECK_EQ(n, 4);
	CHECK(json && strncmp(json, "{\"contains\":", 12) == 0);
	CHECK(json && strstr(json, "192.0.2.17") == NULL);
	CHECK(json && strstr(json, "\"subscriber_id\":\"cust-B\"") != NULL);
	CHECK(json && strstr(json, "\"qname\":\"b.c2.example.\"") != NULL);
	free(json);
	char *table = export_str(st, EVENTS_EXPORT_TABLE, &n);
	CHECK(table && strstr(table, "192.0.2.17") != NULL); /* local view */
	free(table);

	/* Mark notified, then only unnotified are exported. */
	int64_t id = scalar("agg.db", "SELECT min(id) FROM incidents");
	CHECK_EQ(events_store_mark_notified(st, &id, 1, 0, (uint64_t)day0 + 90000), 1);
	char *buf = NULL;
	size_t len = 0;
	f = open_memstream(&buf, &len);
	CHECK_EQ(events_store_incidents_write(st, 0, true, EVENTS_EXPORT_CSV, f), 3);
	fclose(f);
	free(buf);
	CHECK_EQ(events_store_mark_notified(st, NULL, 0, (uint64_t)day0 + 86400, 1), 2);
	events_store_close(st);

	sqlite3 *db;
	snprintf(path, sizeof(path), "%s/agg.db", dir);
	sqlite3_open(path, &db);
	sqlite3_stmt *s;
	sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL);
	CHECK(sqlite3_step(s) == SQLITE_ROW);
	CHECK_STREQ((const char *)sqlite3_column_text(s, 0), "wal");
	sqlite3_finalize(s);
	sqlite3_close(db);
}

static void test_retention_and_evidence(void)
{
	struct events_store *st = open_store("ret.db");
	struct events_hit h;
	int64_t now = day0 + 40 * 86400;
	const char *kid = "abcd1234";
	hit_at(&h, now - 35 * 86400, "192.0.2.1", "old.example.", "f"); /* past retention */
	CHECK_EQ(events_store_hit_add(st, &h, "11111111111111111111111111111111", kid), C2W_OK);
	hit_at(&h, now - 20 * 86400, "192.0.2.2", "mid.example.", "f"); /* past notify window */
	CHECK_EQ(events_store_hit_add(st, &h, "22222222222222222222222222222222", kid), C2W_OK);
	hit_at(&h, now - 3600, "192.0.2.3", "new.example.", "f"); /* fresh */
	CHECK_EQ(events_store_hit_add(st, &h, "33333333333333333333333333333333", kid), C2W_OK);
	CHECK_EQ(events_store_flush(st), C2W_OK);
	/* Evidence for the fresh one (same day) and an unattached one. */
	struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(40000)};
	inet_pton(AF_INET, "192.0.2.3", &in.sin_addr);
	CHECK_EQ(events_store_evidence_add(st, (uint64_t)(now - 1800) * 1000000000u,
					   (struct sockaddr *)&in,
					   "33333333333333333333333333333333", kid, "new.example.",
					   "GET", "/gate.php", "Mozilla/4.0 bot", 80, "http"),
		 C2W_OK);
	CHECK_EQ(scalar("ret.db", "SELECT count(*) FROM evidence WHERE incident_id IS NOT NULL"),
		 1);
	struct events_retention_result res;
	CHECK_EQ(events_store_retention(st, (uint64_t)now, 30, 14, &res), C2W_OK);
	CHECK_EQ(res.incidents_deleted, 1);
	CHECK_EQ(res.addresses_erased, 1);
	CHECK_EQ(scalar("ret.db", "SELECT count(*) FROM incidents"), 2);
	CHECK_EQ(scalar("ret.db", "SELECT count(*) FROM incidents WHERE client_ip IS NULL AND"
				  " client_bin IS NULL AND pseudonym LIKE '2222%'"),
		 1);
	CHECK_EQ(scalar("ret.db", "SELECT count(*) FROM incidents WHERE client_ip='192.0.2.3'"), 1);
	CHECK_EQ(scalar("ret.db", "SELECT count(*) FROM incident_names"), 2); /* cascade */
	int n;
	char *json = export_str(st, EVENTS_EXPORT_JSON, &n);
	CHECK_EQ(n, 2);
	CHECK(json && strstr(json, "/gate.php") != NULL);
	CHECK(json && strstr(json, "Mozilla/4.0 bot") != NULL);
	free(json);
	events_store_close(st);
}

static unsigned bad_lines[16], bad_count;

static void report(void *arg, unsigned line, const char *msg)
{
	(void)arg;
	(void)msg;
	if (bad_count < 16)
		bad_lines[bad_count++] = line;
}

static void test_import_reports(void)
{
	struct events_store *st = open_store("imp.db");
	struct events_pseudo *ps = NULL;
	CHECK_EQ(events_pseudo_open(NULL, 0, &ps), C2W_OK);
	struct events_hit h;
	char pseudo[EVENTS_PSEUDO_CAP];
	hit_at(&h, day0 + 10, "192.0.2.50", "a.c2.example.", "emotet");
	events_pseudo_make(ps, AF_INET, h.client_addr, pseudo);
	CHECK_EQ(events_store_hit_add(st, &h, pseudo, events_pseudo_key_id(ps)), C2W_OK);
	CHECK_EQ(events_store_flush(st), C2W_OK);
	char path[128];
	snprintf(path, sizeof(path), "%s/reports.csv", dir);
	FILE *f = fopen(path, "w");
	fputs("timestamp,address,family,source\n"                     /* 1 header */
	      "2024-06-10T05:00:00Z,192.0.2.50,emotet,shadowserver\n" /* 2 merges */
	      "2024-06-10T06:00:00Z,192.0.2.51,qakbot,jpcert\n"       /* 3 new */
	      "2024-06-10T06:00:00Z,not-an-ip,qakbot,jpcert\n"        /* 4 bad */
	      "\n"                                                    /* 5 blank */
	      "2024-99-10T06:00:00Z,192.0.2.52,qakbot,jpcert\n"       /* 6 bad */
	      "2024-06-10T06:00:00Z,192.0.2.52,qakbot\n"              /* 7 bad */
	      "\"unterminated,192.0.2.52,qakbot,x\n"                  /* 8 bad */
	      "2024-06-10T07:00:00Z,2001:db8::9,,takedown-1\n",       /* 9 ok */
	      f);
	fclose(f);
	f = fopen(path, "r");
	struct events_import_result res;
	bad_count = 0;
	CHECK_EQ(events_store_incidents_import(st, f, ps, report, NULL, &res), C2W_OK);
	fclose(f);
	CHECK_EQ(res.rows_ok, 3);
	CHECK_EQ(res.rows_bad, 4);
	CHECK_EQ(bad_count, 4);
	CHECK_EQ(bad_lines[0], 4);
	CHECK_EQ(bad_lines[1], 6);
	CHECK_EQ(bad_lines[2], 7);
	CHECK_EQ(bad_lines[3], 8);
	CHECK_EQ(scalar("imp.db", "SELECT count(*) FROM incidents"), 3);
	CHECK_EQ(scalar("imp.db", "SELECT count FROM incidents WHERE client_ip='192.0.2.50'"), 2);
	CHECK_EQ(scalar("imp.db", "SELECT count(*) FROM incidents WHERE client_ip='192.0.2.50'"
				  " AND sources='dns,import:shadowserver'"),
		 1);
	CHECK_EQ(scalar("imp.db", "SELECT first_seen FROM incidents WHERE"
				  " client_ip='192.0.2.50'"),
		 day0 + 10);
	events_pseudo_free(ps);
	events_store_close(st);
}

static void test_store_unavailable(void)
{
	struct events_store *st = NULL;
	CHECK_EQ(events_store_open("/nonexistent-dir/x/incidents.db", &st), C2W_ESTORE);
	/* Read-only database file: hits fail with C2W_ESTORE, never crash or block. */
	struct events_store *rw = open_store("ro.db");
	events_store_close(rw);
	char path[128];
	snprintf(path, sizeof(path), "%s/ro.db", dir);
	sqlite3 *db;
	CHECK_EQ(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_close(db);
	if (getuid() != 0) { /* root ignores file modes */
		chmod(path, 0400);
		if (events_store_open(path, &st) == C2W_OK) {
			struct events_hit h;
			hit_at(&h, day0, "192.0.2.1", "a.example.", "f");
			CHECK_EQ(events_store_hit_add(st, &h, "00", "00"), C2W_ESTORE);
			events_store_close(st);
		}
	}
}

/* issue 12: the store (raw addresses) and its -wal/-shm are 0600; a store that group or
 * others can read, or a symlink, is refused. */
static void test_modes(void)
{
	char path[128], side[160];
	mode_t old = umask(022);
	struct events_store *st = open_store("modes.db");
	struct events_hit h;
	hit_at(&h, day0 + 100, "192.0.2.17", "a.c2.example.", "emotet");
	CHECK_EQ(events_store_hit_add(st, &h, "p", "k"), C2W_OK);
	CHECK_EQ(events_store_flush(st), C2W_OK);
	snprintf(path, sizeof(path), "%s/modes.db", dir);
	static const char *const sfx[] = {"", "-wal", "-shm"};
	for (int i = 0; i < 3; i++) {
		struct stat sb;
		snprintf(side, sizeof(side), "%s%s", path, sfx[i]);
		CHECK_EQ(stat(side, &sb), 0);
		CHECK_EQ(sb.st_mode & 0777, 0600);
	}
	events_store_close(st);
	umask(old);
	st = NULL;
	CHECK_EQ(chmod(path, 0644), 0);
	CHECK_EQ(events_store_open(path, &st), C2W_EACCES);
	CHECK_EQ(chmod(path, 0600), 0);
	snprintf(side, sizeof(side), "%s-wal", path);
	FILE *f = fopen(side, "a"); /* a leftover WAL others can read */
	if (f)
		fclose(f);
	CHECK_EQ(chmod(side, 0640), 0);
	CHECK_EQ(events_store_open(path, &st), C2W_EACCES);
	unlink(side);
	snprintf(side, sizeof(side), "%s/link.db", dir);
	CHECK_EQ(symlink(path, side), 0);
	CHECK_EQ(events_store_open(side, &st), C2W_EINVAL);
	CHECK(st == NULL);
}

/* issue 12: CSV cells a spreadsheet would run as a formula are neutralised (OWASP). */
static void test_csv_formula(void)
{
	struct events_store *st = open_store("csv.db");
	struct events_hit h;
	hit_at(&h, day0 + 100, "192.0.2.17", "=cmd|' /C calc'!A0.example.", "+family");
	events_hit_copy(h.match, sizeof(h.match), "-rule");
	events_hit_copy(h.feed, sizeof(h.feed), "@feed");
	events_hit_copy(h.zone, sizeof(h.zone), "\tzone");
	CHECK_EQ(events_store_hit_add(st, &h, "p", "k"), C2W_OK);
	int count = 0;
	char *csv = export_str(st, EVENTS_EXPORT_CSV, &count);
	CHECK_EQ(count, 1);
	CHECK(csv != NULL);
	if (csv != NULL) {
		CHECK(strstr(csv, ",\"'+family\",") != NULL);
		CHECK(strstr(csv, ",\"'-rule\",") != NULL);
		CHECK(strstr(csv, ",\"'\tzone\",") != NULL);
		CHECK(strstr(csv, "\"'=cmd|' /C calc'!A0.example.(1)\"") != NULL);
		/* No cell starts with a formula character. */
		for (const char *c = csv; *c; c++)
			if (c == csv || c[-1] == ',' || c[-1] == '\n')
				CHECK(strchr("=+-@\t\r", *c) == NULL || *c == '\0');
	}
	free(csv);
	events_store_close(st);
}

int main(void)
{
	static const struct test_case cases[] = {
	    TEST(test_aggregate_and_export), TEST(test_retention_and_evidence),
	    TEST(test_import_reports), TEST(test_store_unavailable), TEST(test_modes),
	    TEST(test_csv_formula)};
	snprintf(dir, sizeof(dir), "/tmp/c2w-store-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	int ret = test_run(cases, sizeof(cases) / sizeof(cases[0]));
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		ret = 1;
	return ret;
}
