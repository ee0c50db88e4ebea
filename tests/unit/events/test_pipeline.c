/* SPDX-License-Identifier: MIT */
/*
 * The event thread end to end on real files: hits reach the JSONL log, dnstap (decoded by
 * Debian's dnstap-ldns) and the SQLite store with the right fields and pseudonyms only;
 * opted-out clients and query records leave nothing; reopen and rotation; counters; and the
 * SIGKILL bound (a child writing hits is killed, the store lost at most ~1 s of them).
 */
#include <arpa/inet.h>
#include <fstrm.h>
#include <netinet/in.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <urcu.h>

#include "events/dnstap.pb-c.h"
#include "events/pipeline.h"
#include "events/store.h"
#include "test.h"

static char dir[64];

static void path_of(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", dir, name);
}

static void make_hit(struct events_hit *h, const char *ip, const char *qname, unsigned action)
{
	memset(h, 0, sizeof(*h));
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	h->time_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	if (strchr(ip, ':')) {
		struct sockaddr_in6 in = {.sin6_family = AF_INET6, .sin6_port = htons(5353)};
		inet_pton(AF_INET6, ip, &in.sin6_addr);
		events_hit_set_client(h, (struct sockaddr *)&in);
	} else {
		struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(5353)};
		inet_pton(AF_INET, ip, &in.sin_addr);
		events_hit_set_client(h, (struct sockaddr *)&in);
	}
	events_hit_copy(h->qname, sizeof(h->qname), qname);
	events_hit_copy(h->match, sizeof(h->match), "*.c2.example.");
	events_hit_copy(h->zone, sizeof(h->zone), "c2.rpz.example.");
	events_hit_copy(h->category, sizeof(h->category), "c2");
	events_hit_copy(h->family, sizeof(h->family), "emotet");
	events_hit_copy(h->feed, sizeof(h->feed), "abuse.ch");
	events_hit_copy(h->answer, sizeof(h->answer),
			action == EVENTS_ACTION_NXDOMAIN ? "NXDOMAIN" : "A 127.0.0.2");
	h->qtype = 1;
	h->trigger = EVENTS_TRIGGER_QNAME;
	h->action = (uint8_t)action;
	h->worker = 3;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return NULL;
	char *buf = calloc(1, 1 << 20);
	size_t n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int64_t scalar(const char *db_path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	int64_t v = -1;
	if (sqlite3_open(db_path, &db) != SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

/* Decode our own frames too: dnstap-ldns 0.2 does not print the Policy message. */
static void check_policy_fields(const char *tap)
{
	struct fstrm_file_options *fo = fstrm_file_options_init();
	fstrm_file_options_set_file_path(fo, tap);
	struct fstrm_reader *r = fstrm_file_reader_init(fo, NULL);
	fstrm_file_options_destroy(&fo);
	CHECK(r != NULL && fstrm_reader_open(r) == fstrm_res_success);
	const uint8_t *data;
	size_t len;
	int frames = 0, policy_ok = 0;
	while (r && fstrm_reader_read(r, &data, &len) == fstrm_res_success) {
		Dnstap__Dnstap *d = dnstap__dnstap__unpack(NULL, len, data);
		frames++;
		if (d && d->message && d->message->policy) {
			Dnstap__Policy *pol = d->message->policy;
			if (pol->has_match && pol->match == DNSTAP__POLICY__MATCH__QNAME &&
			    pol->has_action && pol->has_rule && pol->rule.len > 1 && pol->type &&
			    strcmp(pol->type, "RPZ") == 0 && pol->has_value &&
			    pol->value.len == strlen("*.c2.example.") &&
			    !d->message->has_query_address && d->has_extra &&
			    memmem(d->extra.data, d->extra.len, "client=", 7) != NULL)
				policy_ok++;
			if (pol->action == DNSTAP__POLICY__ACTION__LOCAL_DATA)
				policy_ok += 100;
		}
		dnstap__dnstap__free_unpacked(d, NULL);
	}
	CHECK_EQ(frames, 3);
	CHECK_EQ(policy_ok, 103); /* all three with policy, one sinkhole = LOCAL_DATA */
	fstrm_reader_destroy(&r);
}

static void test_all_sinks(void)
{
	char jsonl[128], tap[128], db[128], key[128], optf[128], err[256];
	path_of(jsonl, sizeof(jsonl), "hits.jsonl");
	path_of(tap, sizeof(tap), "hits.dnstap");
	path_of(db, sizeof(db), "incidents.db");
	path_of(key, sizeof(key), "pseudonym.key");
	path_of(optf, sizeof(optf), "optout.txt");
	char tapspec[140];
	snprintf(tapspec, sizeof(tapspec), "file:%s", tap);
	struct events_optout *opt = NULL;
	CHECK_EQ(events_optout_open(optf, &opt, err, sizeof(err)), C2W_OK);
	CHECK_EQ(events_optout_add(opt, "203.0.113.0/24"), C2W_OK);
	struct events_spec spec = {.jsonl = jsonl,
				   .dnstap = tapspec,
				   .syslog = true,
				   .key_file = key,
				   .key_rotation_s = 86400,
				   .retention_days = 30,
				   .notify_window_days = 14,
				   .sqlite = db};
	struct events_pipeline *p = NULL;
	CHECK_EQ(events_pipeline_new(&spec, opt, &p), C2W_OK);
	if (p == NULL)
		return;
	struct events_hit h[5];
	make_hit(&h[0], "192.0.2.17", "a.c2.example.", EVENTS_ACTION_NXDOMAIN);
	make_hit(&h[1], "2001:db8::17", "b.c2.example.", EVENTS_ACTION_SINKHOLE);
	make_hit(&h[2], "203.0.113.9", "c.c2.example.", EVENTS_ACTION_NXDOMAIN); /* opted out */
	make_hit(&h[3], "192.0.2.17", "www.example.com.", EVENTS_ACTION_PASSTHRU);
	h[3].kind = EVENTS_KIND_QUERY; /* query record; query_log is off */
	make_hit(&h[4], "::ffff:192.0.2.17", "d.c2.example.", EVENTS_ACTION_NXDOMAIN);
	events_pipeline_process(p, h, 5);
	events_pipeline_flush(p);
	struct events_stats st;
	events_pipeline_stats(p, &st);
	CHECK_EQ(st.hits, 3);
	CHECK_EQ(st.optout_skipped, 1);
	CHECK_EQ(st.query_skipped, 1);
	CHECK_EQ(st.sink_errors, 0);
	struct events_counter *c = NULL;
	size_t n = 0;
	CHECK_EQ(events_pipeline_counters(p, &c, &n), C2W_OK);
	CHECK_EQ(n, 2);
	for (size_t i = 0; i < n; i++) {
		CHECK_STREQ(c[i].zone, "c2.rpz.example.");
		CHECK_EQ(c[i].hits, c[i].action == EVENTS_ACTION_NXDOMAIN ? 2 : 1);
	}
	free(c);
	events_pipeline_free(p);
	events_optout_free(opt);

	char *log = slurp(jsonl);
	CHECK(log != NULL);
	if (log) {
		int lines = 0;
		for (char *q = log; (q = strchr(q, '\n')) != NULL; q++)
			lines++;
		CHECK_EQ(lines, 3);
		CHECK(strstr(log, "\"qname\":\"a.c2.example.\"") != NULL);
		CHECK(strstr(log, "\"qtype\":\"A\"") != NULL);
		CHECK(strstr(log, "\"trigger\":\"qname\"") != NULL);
		CHECK(strstr(log, "\"match\":\"*.c2.example.\"") != NULL);
		CHECK(strstr(log, "\"zone\":\"c2.rpz.example.\"") != NULL);
		CHECK(strstr(log, "\"action\":\"sinkhole\"") != NULL);
		CHECK(strstr(log, "\"category\":\"c2\"") != NULL);
		CHECK(strstr(log, "\"family\":\"emotet\"") != NULL);
		CHECK(strstr(log, "\"feed\":\"abuse.ch\"") != NULL);
		CHECK(strstr(log, "\"answer\":\"A 127.0.0.2\"") != NULL);
		CHECK(strncmp(log, "{\"ts\":\"20", 9) == 0);
		CHECK(strstr(log, "Z\",\"client\":\"") != NULL);
		/* Nothing raw, nothing opted out, no query record. */
		CHECK(strstr(log, "192.0.2.17") == NULL);
		CHECK(strstr(log, "2001:db8") == NULL);
		CHECK(strstr(log, "c.c2.example.") == NULL);
		CHECK(strstr(log, "www.example.com") == NULL);
		/* v4-mapped and plain v4 of one client: one pseudonym. */
		char *c1 = strstr(log, "\"client\":\"");
		char *c3 = strstr(strstr(log, "d.c2.example.") - 200 > log
				      ? strstr(log, "d.c2.example.") - 200
				      : log,
				  "\"client\":\"");
		(void)c3;
		char first[40] = "";
		if (c1)
			snprintf(first, sizeof(first), "%.32s", c1 + 10);
		int same = 0;
		for (char *q = log; (q = strstr(q, first)) != NULL; q++)
			same++;
		CHECK_EQ(same, 2);
	}
	free(log);

	/* Store: 2 incidents (v4 client with two names, v6 client), none for the opted-out. */
	CHECK_EQ(scalar(db, "SELECT count(*) FROM incidents"), 2);
	CHECK_EQ(scalar(db, "SELECT sum(count) FROM incidents"), 3);
	CHECK_EQ(scalar(db, "SELECT count(*) FROM incidents WHERE client_ip='203.0.113.9'"), 0);
	CHECK_EQ(scalar(db, "SELECT count(*) FROM incident_names WHERE qname LIKE 'c.c2%'"), 0);

	/* dnstap: Debian's dnstap-ldns decodes it. */
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "dnstap-ldns -y -r %s 2>&1", tap);
	FILE *pp = popen(cmd, "r");
	char *out = calloc(1, 65536);
	size_t got = pp ? fread(out, 1, 65535, pp) : 0;
	int status = pp ? pclose(pp) : -1;
	out[got] = '\0';
	CHECK_EQ(status, 0);
	CHECK(strstr(out, "CLIENT_RESPONSE") != NULL);
	CHECK(strstr(out, "a.c2.example.") != NULL);
	CHECK(strstr(out, "b.c2.example.") != NULL);
	CHECK(strstr(out, "NXDOMAIN") != NULL);
	CHECK(strstr(out, "c.c2.example.") == NULL);
	CHECK(strstr(out, "192.0.2.17") == NULL);
	check_policy_fields(tap);
	if (test_failures_)
		fprintf(stderr, "dnstap-ldns output:\n%s\n", out);
	free(out);
}

static void test_reopen_and_rotation(void)
{
	char jsonl[128], moved[140];
	path_of(jsonl, sizeof(jsonl), "rot.jsonl");
	snprintf(moved, sizeof(moved), "%s.1", jsonl);
	struct events_spec spec = {.jsonl = jsonl, .flush_ms = 20};
	struct events_pipeline *p = NULL;
	struct events_ring *ring = NULL;
	CHECK_EQ(events_ring_new(64, &ring), C2W_OK);
	CHECK_EQ(events_pipeline_new(&spec, NULL, &p), C2W_OK);
	if (p == NULL)
		return;
	CHECK_EQ(events_pipeline_attach_ring(p, ring), C2W_OK);
	CHECK_EQ(events_pipeline_start(p), C2W_OK);
	struct events_hit h;
	make_hit(&h, "192.0.2.1", "one.c2.example.", EVENTS_ACTION_NXDOMAIN);
	CHECK(events_ring_push(ring, &h));
	struct timespec ts = {0, 200 * 1000 * 1000};
	nanosleep(&ts, NULL);
	CHECK_EQ(rename(jsonl, moved), 0); /* logrotate */
	events_pipeline_reopen(p);
	nanosleep(&ts, NULL);
	make_hit(&h, "192.0.2.1", "two.c2.example.", EVENTS_ACTION_NXDOMAIN);
	CHECK(events_ring_push(ring, &h));
	events_pipeline_stop(p);
	events_pipeline_free(p);
	events_ring_free(ring);
	char *a = slurp(moved), *b = slurp(jsonl);
	CHECK(a && strstr(a, "one.c2.example.") && !strstr(a, "two.c2.example."));
	CHECK(b && strstr(b, "two.c2.example.") && !strstr(b, "one.c2.example."));
	free(a);
	free(b);

	/* Size rotation: 300-byte limit, every line roughly that size. */
	char sz[128];
	path_of(sz, sizeof(sz), "size.jsonl");
	struct events_spec s2 = {.jsonl = sz, .jsonl_rotate_bytes = 600};
	CHECK_EQ(events_pipeline_new(&s2, NULL, &p), C2W_OK);
	if (p == NULL)
		return;
	struct events_hit hs[6];
	for (int i = 0; i < 6; i++)
		make_hit(&hs[i], "192.0.2.1", "r.c2.example.", EVENTS_ACTION_NXDOMAIN);
	events_pipeline_process(p, hs, 6);
	events_pipeline_flush(p);
	struct events_stats st;
	events_pipeline_stats(p, &st);
	CHECK(st.jsonl_rotations >= 2);
	events_pipeline_free(p);
	struct stat sb;
	CHECK_EQ(stat(sz, &sb), 0);
	CHECK(sb.st_size <= 600);
}

static void test_ring_drops_counted(void)
{
	struct events_spec spec = {0};
	struct events_pipeline *p = NULL;
	struct events_ring *ring = NULL;
	CHECK_EQ(events_ring_new(4, &ring), C2W_OK);
	CHECK_EQ(events_pipeline_new(&spec, NULL, &p), C2W_OK);
	if (p == NULL)
		return;
	CHECK_EQ(events_pipeline_attach_ring(p, ring), C2W_OK);
	struct events_hit h;
	make_hit(&h, "192.0.2.1", "x.c2.example.", EVENTS_ACTION_DROP);
	for (int i = 0; i < 10; i++)
		(void)events_ring_push(ring, &h);
	struct events_stats st;
	events_pipeline_stats(p, &st);
	CHECK_EQ(st.dropped, 6);
	struct events_counter *c = NULL;
	size_t n = 0;
	CHECK_EQ(events_pipeline_counters(p, &c, &n), C2W_OK);
	CHECK_EQ(n, 1);
	if (n == 1) {
		CHECK_EQ(c[0].dropped, 6);
		CHECK_EQ(c[0].action, EVENTS_ACTION_DROP);
	}
	free(c);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	CHECK_EQ(events_pipeline_stats_json(p, f), C2W_OK);
	fclose(f);
	CHECK(buf && strstr(buf, "\"dropped\":6") != NULL);
	CHECK(buf && strstr(buf, "\"action\":\"drop\"") != NULL);
	free(buf);
	events_pipeline_free(p);
	events_ring_free(ring);
}

/* SIGKILL bound: a child pushes ~1000 hits/s through a ring into the event thread, which
 * commits every 1000 ms; after 2.5 s the parent kills it. Every hit missing from the store
 * must have been pushed less than flush interval + slack before the kill. */
#define KILL_MAX 20000
struct shared {
	_Atomic uint32_t pushed;
	uint64_t push_ms[KILL_MAX];
};

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void child_main(struct shared *sh, const char *db)
{
	struct events_spec spec = {.sqlite = db, .flush_ms = 1000};
	struct events_pipeline *p = NULL;
	struct events_ring *ring = NULL;
	if (events_ring_new(8192, &ring) != C2W_OK || events_pipeline_new(&spec, NULL, &p) ||
	    events_pipeline_attach_ring(p, ring) || events_pipeline_start(p))
		_exit(3);
	struct events_hit h;
	for (uint32_t i = 0; i < KILL_MAX; i++) {
		char name[64];
		snprintf(name, sizeof(name), "n%u.c2.example.", i % 50);
		make_hit(&h, "192.0.2.77", name, EVENTS_ACTION_NXDOMAIN);
		if (!events_ring_push(ring, &h))
			_exit(4); /* would break the arithmetic below */
		sh->push_ms[i] = mono_ms();
		atomic_store(&sh->pushed, i + 1);
		struct timespec ts = {0, 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	_exit(5); /* should have been killed before */
}

static void test_sigkill_bound(void)
{
	char db[128];
	path_of(db, sizeof(db), "kill.db");
	struct shared *sh =
	    mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(sh != MAP_FAILED);
	if (sh == MAP_FAILED)
		return;
	pid_t pid = fork();
	if (pid == 0)
		child_main(sh, db);
	CHECK(pid > 0);
	struct timespec ts = {2, 500 * 1000 * 1000};
	nanosleep(&ts, NULL);
	uint64_t kill_ms = mono_ms();
	kill(pid, SIGKILL);
	int status = 0;
	waitpid(pid, &status, 0);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	uint32_t pushed = atomic_load(&sh->pushed);
	int64_t stored = scalar(db, "SELECT coalesce(sum(count),0) FROM incidents");
	fprintf(stderr, "sigkill: pushed %u, stored %lld\n", pushed, (long long)stored);
	CHECK(pushed > 1000);
	CHECK(stored > 0);
	CHECK(stored <= (int64_t)pushed);
	if (stored >= 0 && stored < (int64_t)pushed) {
		uint64_t oldest_lost = sh->push_ms[stored];
		fprintf(stderr, "sigkill: oldest lost hit pushed %llu ms before the kill\n",
			(unsigned long long)(kill_ms - oldest_lost));
		/* 1000 ms commit interval + a drain pass + scheduling slack. */
		CHECK(kill_ms - oldest_lost <= 1300);
	}
	munmap(sh, sizeof(*sh));
}

/* A store that cannot open does not fail the pipeline: hits still reach the hit log, whole
 * lines only, and are counted as lost by the store. */
static void test_store_unavailable(void)
{
	char jsonl[128], blocker[128], db[160];
	path_of(jsonl, sizeof(jsonl), "nostore.jsonl");
	path_of(blocker, sizeof(blocker), "not-a-dir");
	snprintf(db, sizeof(db), "%s/inc.db", blocker);
	FILE *f = fopen(blocker, "w");
	CHECK(f != NULL);
	if (f != NULL)
		fclose(f);
	struct events_spec spec = {.jsonl = jsonl, .sqlite = db};
	struct events_pipeline *p = NULL;
	CHECK_EQ(events_pipeline_new(&spec, NULL, &p), C2W_OK);
	if (p == NULL)
		return;
	CHECK(events_pipeline_store(p) == NULL);
	struct events_hit h[3];
	for (int i = 0; i < 3; i++)
		make_hit(&h[i], "192.0.2.33", "x.c2.example.", EVENTS_ACTION_NXDOMAIN);
	events_pipeline_process(p, h, 3);
	char *before = slurp(jsonl);
	CHECK(before != NULL && before[0] == '\0'); /* buffered: no half line reaches the file */
	free(before);
	events_pipeline_flush(p);
	struct events_stats st;
	events_pipeline_stats(p, &st);
	CHECK_EQ(st.hits, 3);
	CHECK_EQ(st.store_lost, 3);
	CHECK_EQ(st.sink_errors, 0);
	events_pipeline_free(p);
	char *log = slurp(jsonl);
	CHECK(log != NULL);
	if (log != NULL) {
		int lines = 0;
		for (const char *c = log; *c; c++)
			lines += *c == '\n';
		CHECK_EQ(lines, 3);
		CHECK(log[strlen(log) - 1] == '\n');
	}
	free(log);
}

static int count_char(const char *s, char c)
{
	int n = 0;
	for (; s && *s; s++)
		n += *s == c;
	return n;
}

/* issue 12: a CLIENT-IP rule's prefix (for a /32 the subscriber's address) leaves the box
 * pseudonymised like the client field, in the hit log and in the store. */
static void test_client_ip_match(void)
{
	char jsonl[128], db[128];
	path_of(jsonl, sizeof(jsonl), "cip.jsonl");
	path_of(db, sizeof(db), "cip.db");
	struct events_spec spec = {.jsonl = jsonl, .sqlite = db};
	struct events_pipeline *p = NULL;
	CHECK_EQ(events_pipeline_new(&spec, NULL, &p), C2W_OK);
	if (p == NULL)
		return;
	struct events_hit h[2];
	make_hit(&h[0], "192.0.2.77", "x.example.", EVENTS_ACTION_NXDOMAIN);
	h[0].trigger = EVENTS_TRIGGER_CLIENT_IP;
	events_hit_copy(h[0].match, sizeof(h[0].match), "192.0.2.77/32");
	make_hit(&h[1], "2001:db8::77", "y.example.", EVENTS_ACTION_NXDOMAIN);
	h[1].trigger = EVENTS_TRIGGER_CLIENT_IP;
	events_hit_copy(h[1].match, sizeof(h[1].match), "2001:db8::77/128");
	events_pipeline_process(p, h, 2);
	events_pipeline_flush(p);
	struct sockaddr_in in = {.sin_family = AF_INET};
	inet_pton(AF_INET, "192.0.2.77", &in.sin_addr);
	char ps[33], kid[9], want[64];
	events_pipeline_pseudonym(p, (struct sockaddr *)&in, ps, kid);
	events_pipeline_free(p);
	char *log = slurp(jsonl);
	CHECK(log != NULL && strstr(log, "192.0.2.77") == NULL && strstr(log, "2001:db8") == NULL);
	snprintf(want, sizeof(want), "\"match\":\"%s/32\"", ps);
	CHECK(log != NULL && strstr(log, want) != NULL);
	CHECK(log != NULL && strstr(log, "/128\"") != NULL);
	free(log);
	CHECK_EQ(scalar(db, "SELECT count(*) FROM incidents WHERE rule LIKE '%192.0.2.77%' OR"
			    " rule LIKE '%2001:db8%'"),
		 0);
}

/* Hits per category and family stay bounded: past EVENTS_FAMILY_ROWS - 1 distinct pairs, the
 * rest is counted in one other/other row; nothing is lost from the totals. */
static void test_family_counters_bounded(void)
{
	struct events_spec spec = {0};
	struct events_pipeline *p = NULL;
	CHECK_EQ(events_pipeline_new(&spec, NULL, &p), C2W_OK);
	if (p == NULL)
		return;
	struct events_hit h;
	make_hit(&h, "192.0.2.1", "x.example.", EVENTS_ACTION_NXDOMAIN);
	const unsigned pairs = EVENTS_FAMILY_ROWS + 44;
	for (unsigned i = 0; i < pairs; i++) {
		snprintf(h.family, sizeof(h.family), "fam%u", i);
		events_pipeline_process(p, &h, 1);
		if (i == 0)
			events_pipeline_process(p, &h, 1); /* fam0 twice */
	}
	struct events_family_counter *rows = NULL;
	size_t n = 0;
	CHECK_EQ(events_pipeline_family_counters(p, &rows, &n), C2W_OK);
	CHECK_EQ(n, (size_t)EVENTS_FAMILY_ROWS);
	uint64_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += rows[i].hits;
	CHECK_EQ(total, (uint64_t)pairs + 1);
	CHECK(rows != NULL && strcmp(rows[0].family, "fam0") == 0 && rows[0].hits == 2);
	CHECK(rows != NULL && strcmp(rows[0].category, "c2") == 0);
	CHECK(rows != NULL && strcmp(rows[n - 1].family, "other") == 0);
	CHECK(rows != NULL && rows[n - 1].hits == pairs - (EVENTS_FAMILY_ROWS - 1));
	free(rows);
	struct events_stats st;
	events_pipeline_stats(p, &st);
	CHECK(!st.store_open);
	events_pipeline_free(p);
}

/* issue 12: on a full disk (here the file size limit) the hit log keeps whole lines only,
 * later records start on a line of their own, and lost records are counted one by one. */
static void test_jsonl_full_disk(void)
{
	char jsonl[128];
	path_of(jsonl, sizeof(jsonl), "full.jsonl");
	struct events_spec spec = {.jsonl = jsonl};
	struct events_pipeline *p = NULL;
	CHECK_EQ(events_pipeline_new(&spec, NULL, &p), C2W_OK);
	if (p == NULL)
		return;
	struct events_hit h;
	make_hit(&h, "192.0.2.5", "full.c2.example.", EVENTS_ACTION_NXDOMAIN);
	struct rlimit old, lim;
	getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	lim.rlim_cur = 10000; /* ~30 lines */
	signal(SIGXFSZ, SIG_IGN);
	CHECK_EQ(setrlimit(RLIMIT_FSIZE, &lim), 0);
	for (int i = 0; i < 200; i++)
		events_pipeline_process(p, &h, 1);
	events_pipeline_flush(p);
	struct events_stats st;
	events_pipeline_stats(p, &st);
	CHECK_EQ(setrlimit(RLIMIT_FSIZE, &old), 0);
	char *log = slurp(jsonl);
	int lines = count_char(log, '\n');
	CHECK(lines > 0 && lines < 200);
	CHECK(log != NULL && log[0] != '\0' && log[strlen(log) - 1] == '\n');
	CHECK_EQ(st.jsonl_lost, 200 - lines);
	CHECK(st.sink_errors >= 1);
	free(log);
	/* Space is back: the next records are whole lines of their own. */
	make_hit(&h, "192.0.2.5", "after.c2.example.", EVENTS_ACTION_NXDOMAIN);
	events_pipeline_process(p, &h, 1);
	events_pipeline_flush(p);
	events_pipeline_free(p);
	log = slurp(jsonl);
	CHECK_EQ(count_char(log, '\n'), lines + 1);
	CHECK_EQ(count_char(log, '{'), lines + 1);
	char *last = log ? strstr(log, "after.c2.example.") : NULL;
	CHECK(last != NULL && last > log);
	free(log);
}

/* issue 12: a key rotation that cannot write the key file is loud: logged and counted. */
static void test_rotation_failure_counted(void)
{
	char kdir[128], key[160];
	path_of(kdir, sizeof(kdir), "ro");
	CHECK_EQ(mkdir(kdir, 0700), 0);
	snprintf(key, sizeof(key), "%s/key", kdir);
	/* A key created in 2001: rotation is due at the event thread's first housekeeping. */
	FILE *f = fopen(key, "w");
	CHECK(f != NULL);
	if (f == NULL)
		return;
	fprintf(f, "c2wall-pseudonym-key 1\nxxxxxxxx 1000000000 "
		   "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n");
	fclose(f);
	CHECK_EQ(chmod(key, 0600), 0);
	struct events_spec spec = {.key_file = key, .key_rotation_s = 60};
	struct events_pipeline *p = NULL;
	CHECK_EQ(events_pipeline_new(&spec, NULL, &p), C2W_OK);
	if (p == NULL)
		return;
	/* The key's directory goes away (even root cannot write there now). */
	char moved[170];
	snprintf(moved, sizeof(moved), "%s.away", kdir);
	CHECK_EQ(rename(kdir, moved), 0);
	f = fopen(kdir, "w");
	if (f)
		fclose(f);
	CHECK_EQ(events_pipeline_start(p), C2W_OK);
	struct timespec ts = {0, 300 * 1000 * 1000};
	nanosleep(&ts, NULL);
	events_pipeline_stop(p);
	struct events_stats st;
	events_pipeline_stats(p, &st);
	CHECK_EQ(st.key_rotations, 0);
	CHECK_EQ(st.key_rotation_failures, 1);
	char *js = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&js, &len);
	CHECK_EQ(events_pipeline_stats_json(p, m), C2W_OK);
	fclose(m);
	CHECK(js != NULL && strstr(js, "\"key_rotation_failures\":1") != NULL);
	free(js);
	events_pipeline_free(p);
}

int main(void)
{
	static const struct test_case cases[] = {
	    TEST(test_all_sinks),        TEST(test_reopen_and_rotation),
	    TEST(test_ring_drops_counted), TEST(test_sigkill_bound),
	    TEST(test_store_unavailable), TEST(test_client_ip_match),
	    TEST(test_jsonl_full_disk),  TEST(test_rotation_failure_counted),
	    TEST(test_family_counters_bounded)};
	rcu_register_thread();
	snprintf(dir, sizeof(dir), "/tmp/c2w-pipe-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	int ret = test_run(cases, sizeof(cases) / sizeof(cases[0]));
	rcu_unregister_thread();
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		ret = 1;
	return ret;
}
