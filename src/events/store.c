/* SPDX-License-Identifier: MIT */
/*
 * The SQLite incident store. Hits go into an open transaction (upsert of the incident, then
 * of the name asked); the event thread commits it at least every second. WAL with
 * synchronous=NORMAL: a commit is in the OS before COMMIT returns, so killing the process
 * loses nothing committed (only a power cut can lose the last commits). Addresses are kept
 * as 16-byte BLOBs (IPv4 mapped to ::ffff:0:0/96) so subscriber ranges compare with memcmp.
 */
#include "events/store.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "events/import.h"
#include "events/pseudo.h"
#include "events/store_int.h"

#define NAMES_PER_INCIDENT 100

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);"
    "INSERT OR IGNORE INTO meta VALUES('schema_version','1');"
    "CREATE TABLE IF NOT EXISTS incidents("
    " id INTEGER PRIMARY KEY,"
    " day TEXT NOT NULL,"
    " client_bin BLOB,"
    " client_ip TEXT,"
    " pseudonym TEXT NOT NULL,"
    " key_id TEXT NOT NULL,"
    " label TEXT NOT NULL,"
    " family TEXT NOT NULL DEFAULT '',"
    " rule TEXT NOT NULL DEFAULT '',"
    " zone TEXT NOT NULL DEFAULT '',"
    " category TEXT NOT NULL DEFAULT '',"
    " feed TEXT NOT NULL DEFAULT '',"
    " action TEXT NOT NULL DEFAULT '',"
    " count INTEGER NOT NULL,"
    " first_seen INTEGER NOT NULL,"
    " last_seen INTEGER NOT NULL,"
    " sources TEXT NOT NULL,"
    " subscriber_id TEXT,"
    " notified_at INTEGER,"
    " UNIQUE(day, client_bin, label));"
    "CREATE INDEX IF NOT EXISTS incidents_last ON incidents(last_seen);"
    "CREATE TABLE IF NOT EXISTS incident_names("
    " incident_id INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,"
    " qname TEXT NOT NULL, qtype INTEGER NOT NULL, count INTEGER NOT NULL,"
    " PRIMARY KEY(incident_id, qname, qtype));"
    "CREATE TABLE IF NOT EXISTS evidence("
    " id INTEGER PRIMARY KEY,"
    " incident_id INTEGER REFERENCES incidents(id) ON DELETE CASCADE,"
    " time INTEGER NOT NULL, day TEXT NOT NULL, client_bin BLOB,"
    " pseudonym TEXT NOT NULL, key_id TEXT NOT NULL,"
    " host TEXT, method TEXT, path TEXT, user_agent TEXT, port INTEGER, detail TEXT);"
    "CREATE INDEX IF NOT EXISTS evidence_day ON evidence(day, client_bin);"
    "CREATE TABLE IF NOT EXISTS subscribers("
    " id INTEGER PRIMARY KEY, subscriber_id TEXT NOT NULL,"
    " lo BLOB NOT NULL, hi BLOB NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL,"
    " UNIQUE(subscriber_id, lo, hi, start));"
    "CREATE INDEX IF NOT EXISTS subscribers_lo ON subscribers(lo);";

static const char sql_incident_upsert[] =
    "INSERT INTO incidents(day, client_bin, client_ip, pseudonym, key_id, label, family, rule,"
    " zone, category, feed, action, count, first_seen, last_seen, sources)"
    " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,1,?13,?13,?14)"
    " ON CONFLICT(day, client_bin, label) DO UPDATE SET count = count + 1,"
    " first_seen = min(first_seen, excluded.first_seen),"
    " last_seen = max(last_seen, excluded.last_seen),"
    " sources = CASE WHEN instr(',' || sources || ',', ',' || excluded.sources || ',') > 0"
    "  THEN sources ELSE sources || ',' || excluded.sources END"
    " RETURNING id";

static const char sql_name_upsert[] =
    "INSERT INTO incident_names(incident_id, qname, qtype, count)"
    " SELECT ?1, ?2, ?3, 1 WHERE (SELECT count(*) FROM incident_names WHERE incident_id = ?1)"
    " < "
    "100"
    " ON CONFLICT(incident_id, qname, qtype) DO UPDATE SET count = count + 1";

int events_store_fail(struct events_store *st, const char *what)
{
	/* Disk full or a locked database fails every hit: one line per 10 s, the rest counted. */
	st->errors++;
	if (c2w_log_ratelimit(&st->last_log_s, 10))
		c2w_log_err("events: store %s: %s: %s (%llu errors so far)", st->path, what,
			    sqlite3_errmsg(st->db), (unsigned long long)st->errors);
	return C2W_ESTORE;
}

static int exec(struct events_store *st, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		c2w_log_err("events: store %s: %s", st->path, msg ? msg : "error");
		sqlite3_free(msg);
		return C2W_ESTORE;
	}
	return C2W_OK;
}

/*
 * The store holds raw client addresses and subscriber ids: owner only. Create the database
 * file 0600 ourselves (SQLite gives its -wal and -shm files the mode and owner of the
 * database file), never through a symlink, and refuse a database or companion file that
 * group or others can read, as the pseudonym key file is refused.
 */
static int check_mode(const char *path, bool create)
{
	int fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
	if (fd < 0 && errno == ENOENT && !create)
		return C2W_OK;
	if (fd < 0 && errno == ELOOP)
		return C2W_EINVAL; /* a symlink where the store should be */
	if (fd < 0)
		return C2W_ESTORE; /* missing directory, permissions: the store is unavailable */
	struct stat st;
	int ret = fstat(fd, &st) == 0 ? C2W_OK : -errno;
	if (ret == C2W_OK && !S_ISREG(st.st_mode))
		ret = C2W_EINVAL;
	else if (ret == C2W_OK && (st.st_mode & 077) != 0)
		ret = C2W_EACCES;
	close(fd);
	return ret;
}

int events_store_check_modes(const char *path)
{
	static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
	char buf[4096];
	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		if (snprintf(buf, sizeof(buf), "%s%s", path, suffix[i]) >= (int)sizeof(buf))
			return C2W_EINVAL;
		int ret = check_mode(buf, i == 0);
		if (ret == C2W_EACCES)
			c2w_log_err("events: store file %s is accessible by group or others "
				    "(it holds raw client addresses: chmod 600)",
				    buf);
		else if (ret == C2W_EINVAL)
			c2w_log_err("events: store file %s is not a regular file (symlink?)", buf);
		else if (ret != C2W_OK)
			c2w_log_err("events: cannot open store %s: %s", buf, c2w_strerror(-errno));
		if (ret != C2W_OK)
			return ret;
	}
	return C2W_OK;
}

int events_store_open(const char *path, struct events_store **out)
{
	int mret = events_store_check_modes(path);
	if (mret != C2W_OK)
		return mret;
	struct events_store *st = calloc(1, sizeof(*st));
	if (st == NULL)
		return C2W_ENOMEM;
	st->path = strdup(path);
	pthread_mutex_init(&st->lock, NULL);
	int ret = C2W_ESTORE;
	if (st->path == NULL ||
	    sqlite3_open_v2(path, &st->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
			    NULL) != SQLITE_OK) {
		c2w_log_err("events: cannot open store %s: %s", path,
			    st->db ? sqlite3_errmsg(st->db) : "out of memory");
		goto out_free;
	}
	sqlite3_busy_timeout(st->db, 2000);
	if (exec(st, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
		     "PRAGMA foreign_keys=ON;") != C2W_OK ||
	    exec(st, schema) != C2W_OK)
		goto out_free;
	if (sqlite3_prepare_v3(st->db, sql_incident_upsert, -1, SQLITE_PREPARE_PERSISTENT,
			       &st->incident_upsert, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(st->db, sql_name_upsert, -1, SQLITE_PREPARE_PERSISTENT,
			       &st->name_upsert, NULL) != SQLITE_OK) {
		events_store_fail(st, "prepare");
		goto out_free;
	}
	*out = st;
	return C2W_OK;
out_free:
	events_store_close(st);
	return ret;
}

void events_store_close(struct events_store *st)
{
	if (st == NULL)
		return;
	if (st->db != NULL) {
		if (events_store_flush(st) != C2W_OK)
			c2w_log_warn("events: store %s: last batch lost at close", st->path);
		sqlite3_finalize(st->incident_upsert);
		sqlite3_finalize(st->name_upsert);
		sqlite3_close(st->db);
	}
	pthread_mutex_destroy(&st->lock);
	free(st->path);
	free(st);
}

/* 16-byte comparable form: IPv4 as ::ffff:a.b.c.d. */
static void addr16(int family, const uint8_t *addr, uint8_t out[16])
{
	if (family == AF_INET) {
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, addr, 4);
	} else {
		memcpy(out, addr, 16);
	}
}

static void day_of(int64_t t, char out[16])
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, 16, "%Y-%m-%d", &tm);
}

static void rollback(struct events_store *st)
{
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	st->in_txn = false;
}

static int begin(struct events_store *st)
{
	if (st->in_txn && !sqlite3_get_autocommit(st->db))
		return C2W_OK;
	if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return events_store_fail(st, "begin");
	st->in_txn = true;
	return C2W_OK;
}

struct incident_in {
	int64_t time_s;
	int family;
	const uint8_t *addr;
	const char *pseudonym, *key_id, *family_name, *rule, *zone, *category, *feed, *action;
	const char *source;
};

/* Upsert one incident row; @id gets its rowid. Caller holds the lock, in a transaction. */
static int incident_upsert(struct events_store *st, const struct incident_in *in, int64_t *id)
{
	sqlite3_stmt *s = st->incident_upsert;
	char day[16], ip[INET6_ADDRSTRLEN];
	uint8_t bin[16];
	day_of(in->time_s, day);
	addr16(in->family, in->addr, bin);
	inet_ntop(in->family, in->addr, ip, sizeof(ip));
	const char *label = in->family_name[0] ? in->family_name : in->rule;
	sqlite3_reset(s);
	sqlite3_bind_text(s, 1, day, -1, SQLITE_TRANSIENT);
	sqlite3_bind_blob(s, 2, bin, 16, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 3, ip, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 4, in->pseudonym, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, in->key_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, label[0] ? label : "unknown", -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 7, in->family_name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 8, in->rule, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 9, in->zone, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 10, in->category, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 11, in->feed, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 12, in->action, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 13, in->time_s);
	sqlite3_bind_text(s, 14, in->source, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_ROW) {
		sqlite3_reset(s);
		return events_store_fail(st, "incident upsert");
	}
	*id = sqlite3_column_int64(s, 0);
	sqlite3_step(s); /* finish RETURNING */
	sqlite3_reset(s);
	return C2W_OK;
}

int events_store_hit_add(struct events_store *st, const struct events_hit *hit,
			 const char *pseudonym, const char *key_id)
{
	int ret;
	int64_t id;
	pthread_mutex_lock(&st->lock);
	if ((ret = begin(st)) != C2W_OK)
		goto out_unlock;
	struct incident_in in = {
	    .time_s = (int64_t)(hit->time_ns / 1000000000u),
	    .family = hit->client_family == AF_INET6 ? AF_INET6 : AF_INET,
	    .addr = hit->client_addr,
	    .pseudonym = pseudonym,
	    .key_id = key_id,
	    .family_name = hit->family,
	    .rule = hit->match,
	    .zone = hit->zone,
	    .category = hit->category,
	    .feed = hit->feed,
	    .action = events_action_name(hit->action),
	    .source = "dns",
	};
	if ((ret = incident_upsert(st, &in, &id)) != C2W_OK)
		goto out_rollback;
	sqlite3_stmt *s = st->name_upsert;
	sqlite3_reset(s);
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_text(s, 2, hit->qname, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 3, hit->qtype);
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		ret = events_store_fail(st, "name upsert");
		goto out_rollback;
	}
	pthread_mutex_unlock(&st->lock);
	return C2W_OK;
out_rollback:
	/* SQLITE_FULL and I/O errors may roll back on their own; make it explicit. */
	rollback(st);
out_unlock:
	pthread_mutex_unlock(&st->lock);
	return ret;
}

int events_store_flush_locked(struct events_store *st)
{
	if (!st->in_txn)
		return C2W_OK;
	st->in_txn = false;
	if (sqlite3_get_autocommit(st->db))
		return C2W_ESTORE; /* rolled back under us */
	if (sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		int ret = events_store_fail(st, "commit");
		rollback(st);
		return ret;
	}
	return C2W_OK;
}

int events_store_flush(struct events_store *st)
{
	pthread_mutex_lock(&st->lock);
	int ret = events_store_flush_locked(st);
	pthread_mutex_unlock(&st->lock);
	return ret;
}

int events_store_evidence_add(struct events_store *st, uint64_t time_ns,
			      const struct sockaddr *client, const char *pseudonym,
			      const char *key_id, const char *host, const char *method,
			      const char *path, const char *user_agent, uint16_t port,
			      const char *detail)
{
	uint8_t raw[16], bin[16];
	int family;
	if (client == NULL || pseudonym == NULL || key_id == NULL)
		return C2W_EINVAL;
	struct events_hit tmp;
	if (events_hit_set_client(&tmp, client) != C2W_OK)
		return C2W_EINVAL;
	family = tmp.client_family;
	memcpy(raw, tmp.client_addr, 16);
	addr16(family, raw, bin);
	char day[16];
	int64_t t = (int64_t)(time_ns / 1000000000u);
	day_of(t, day);
	static const char sql[] =
	    "INSERT INTO evidence(incident_id, time, day, client_bin, pseudonym, key_id, host,"
	    " method, path, user_agent, port, detail) VALUES((SELECT id FROM incidents WHERE"
	    " day = ?2 AND client_bin = ?3 ORDER BY last_seen DESC LIMIT 1),"
	    " ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
	sqlite3_stmt *s = NULL;
	int ret = C2W_OK;
	pthread_mutex_lock(&st->lock);
	/* Commit pending hits first so the incident of this contact can be found. */
	(void)events_store_flush_locked(st);
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		ret = events_store_fail(st, "evidence prepare");
		goto out_unlock;
	}
	sqlite3_bind_int64(s, 1, t);
	sqlite3_bind_text(s, 2, day, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 3, bin, 16, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, pseudonym, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, key_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, host, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 7, method, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 8, path, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 9, user_agent, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 10, port);
	sqlite3_bind_text(s, 11, detail, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE)
		ret = events_store_fail(st, "evidence insert");
	sqlite3_finalize(s);
out_unlock:
	pthread_mutex_unlock(&st->lock);
	return ret;
}

static int64_t changes_of(struct events_store *st, const char *sql, int64_t a)
{
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return events_store_fail(st, "prepare");
	sqlite3_bind_int64(s, 1, a);
	int rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return events_store_fail(st, "update");
	return sqlite3_changes64(st->db);
}

int events_store_retention(struct events_store *st, uint64_t now_s, unsigned retention_days,
			   unsigned notify_window_days, struct events_retention_result *res)
{
	memset(res, 0, sizeof(*res));
	int ret = C2W_OK;
	pthread_mutex_lock(&st->lock);
	(void)events_store_flush_locked(st);
	if (begin(st) != C2W_OK) {
		ret = C2W_ESTORE;
		goto out_unlock;
	}
	int64_t n;
	if (retention_days > 0) {
		int64_t cut = (int64_t)now_s - (int64_t)retention_days * 86400;
		n = changes_of(st, "DELETE FROM incidents WHERE last_seen < ?1", cut);
		if (n < 0)
			goto out_fail;
		res->incidents_deleted = (uint64_t)n;
		if (changes_of(st, "DELETE FROM evidence WHERE time < ?1", cut) < 0)
			goto out_fail;
		n = changes_of(st, "DELETE FROM subscribers WHERE end < ?1", cut);
		if (n < 0)
			goto out_fail;
		res->subscribers_deleted = (uint64_t)n;
	}
	if (notify_window_days > 0) {
		int64_t cut = (int64_t)now_s - (int64_t)notify_window_days * 86400;
		/* Keep who it was (subscriber id), forget the address. */
		n = changes_of(
		    st,
		    "UPDATE incidents SET subscriber_id = coalesce(subscriber_id, " SUBSCRIBER_AT(
			"incidents.client_bin",
			"incidents.first_seen") "), client_bin = NULL, client_ip = NULL"
						" WHERE last_seen < ?1 AND client_bin IS NOT NULL",
		    cut);
		if (n < 0)
			goto out_fail;
		res->addresses_erased = (uint64_t)n;
		if (changes_of(st, "UPDATE evidence SET client_bin = NULL WHERE time < ?1", cut) <
		    0)
			goto out_fail;
	}
	if (events_store_flush_locked(st) != C2W_OK)
		ret = C2W_ESTORE;
	goto out_unlock;
out_fail:
	rollback(st);
	ret = C2W_ESTORE;
out_unlock:
	pthread_mutex_unlock(&st->lock);
	return ret;
}

/* Read lines from @in and hand each to @row; bad rows go to @report by line number. */
typedef int (*row_cb)(struct events_store *st, const char *line, size_t len, void *ctx, char *err,
		      size_t err_len);

static int import_lines(struct events_store *st, FILE *in, row_cb row, void *ctx,
			events_import_report_cb report, void *arg, struct events_import_result *res)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	unsigned lineno = 0;
	int ret = C2W_OK;
	memset(res, 0, sizeof(*res));
	pthread_mutex_lock(&st->lock);
	(void)events_store_flush_locked(st);
	if (begin(st) != C2W_OK) {
		pthread_mutex_unlock(&st->lock);
		free(line);
		return C2W_ESTORE;
	}
	errno = 0;
	while ((len = getline(&line, &cap, in)) >= 0) {
		char err[160] = "";
		lineno++;
		int r = row(st, line, (size_t)len, ctx, err, sizeof(err));
		if (r == C2W_OK) {
			res->rows_ok++;
		} else if (r == C2W_EMALF) {
			res->rows_bad++;
			if (report)
				report(arg, lineno, err);
		} else if (r != C2W_EIGNORE) {
			ret = r;
			break;
		}
	}
	if (ret == C2W_OK && ferror(in))
		ret = C2W_EIO;
	if (ret == C2W_OK)
		ret = events_store_flush_locked(st);
	else
		rollback(st);
	pthread_mutex_unlock(&st->lock);
	free(line);
	return ret;
}

static int subscriber_row(struct events_store *st, const char *line, size_t len, void *ctx,
			  char *err, size_t err_len)
{
	sqlite3_stmt *s = ctx;
	struct events_subscriber_row r;
	int ret = events_import_subscriber_parse(line, len, &r, err, err_len);
	if (ret != C2W_OK)
		return ret;
	uint8_t lo[16], hi[16];
	unsigned total = r.prefix.family == AF_INET ? 32 : 128;
	uint8_t last[16];
	memcpy(last, r.prefix.addr, 16);
	for (unsigned b = r.prefix.bits; b < total; b++)
		last[b / 8] |= (uint8_t)(0x80 >> (b % 8));
	addr16(r.prefix.family, r.prefix.addr, lo);
	addr16(r.prefix.family, last, hi);
	sqlite3_reset(s);
	sqlite3_bind_text(s, 1, r.id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_blob(s, 2, lo, 16, SQLITE_TRANSIENT);
	sqlite3_bind_blob(s, 3, hi, 16, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 4, r.start_s);
	sqlite3_bind_int64(s, 5, r.end_s);
	if (sqlite3_step(s) != SQLITE_DONE)
		return events_store_fail(st, "subscriber insert");
	return C2W_OK;
}

int events_store_subscribers_import(struct events_store *st, FILE *in,
				    events_import_report_cb report, void *arg,
				    struct events_import_result *res)
{
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(st->db,
			       "INSERT INTO subscribers(subscriber_id, lo, hi, start, end)"
			       " VALUES(?,?,?,?,?) ON CONFLICT(subscriber_id, lo, hi, start)"
			       " DO UPDATE SET end = excluded.end",
			       -1, &s, NULL) != SQLITE_OK)
		return events_store_fail(st, "prepare");
	int ret = import_lines(st, in, subscriber_row, s, report, arg, res);
	sqlite3_finalize(s);
	if (ret != C2W_OK)
		return ret;
	pthread_mutex_lock(&st->lock);
	if (changes_of(st,
		       "UPDATE incidents SET subscriber_id = " SUBSCRIBER_AT(
			   "incidents.client_bin",
			   "incidents.first_seen") " WHERE subscriber_id IS NULL AND client_bin IS "
						   "NOT NULL AND ?1 = ?1",
		       0) < 0)
		ret = C2W_ESTORE;
	pthread_mutex_unlock(&st->lock);
	return ret;
}

struct report_ctx {
	const struct events_pseudo *ps;
};

static int report_row(struct events_store *st, const char *line, size_t len, void *ctx, char *err,
		      size_t err_len)
{
	struct report_ctx *rc = ctx;
	struct events_report_row r;
	int ret = events_import_report_parse(line, len, &r, err, err_len);
	if (ret != C2W_OK)
		return ret;
	char pseudonym[EVENTS_PSEUDO_CAP];
	events_pseudo_make(rc->ps, r.addr.family, r.addr.addr, pseudonym);
	char source[160];
	snprintf(source, sizeof(source), "import:%s", r.source);
	for (char *p = source; *p; p++)
		if (*p == ',')
			*p = ';'; /* sources is a comma-separated set */
	struct incident_in in = {
	    .time_s = r.time_s,
	    .family = r.addr.family,
	    .addr = r.addr.addr,
	    .pseudonym = pseudonym,
	    .key_id = events_pseudo_key_id(rc->ps),
	    .family_name = r.family,
	    .rule = r.family[0] ? "" : "external-report",
	    .zone = "",
	    .category = "c2",
	    .feed = source,
	    .action = "report",
	    .source = source,
	};
	int64_t id;
	return incident_upsert(st, &in, &id);
}

int events_store_incidents_import(struct events_store *st, FILE *in, const struct events_pseudo *ps,
				  events_import_report_cb report, void *arg,
				  struct events_import_result *res)
{
	struct report_ctx ctx = {.ps = ps};
	return import_lines(st, in, report_row, &ctx, report, arg, res);
}

int events_store_mark_notified(struct events_store *st, const int64_t *ids, size_t id_count,
			       uint64_t until_s, uint64_t now_s)
{
	int64_t total = 0;
	sqlite3_stmt *s = NULL;
	pthread_mutex_lock(&st->lock);
	(void)events_store_flush_locked(st);
	const char *sql = id_count ? "UPDATE incidents SET notified_at = ?1 WHERE id = ?2"
				   : "UPDATE incidents SET notified_at = ?1 WHERE last_seen < ?2"
				     " AND notified_at IS NULL";
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		total = events_store_fail(st, "prepare");
		goto out_unlock;
	}
	for (size_t i = 0; i < (id_count ? id_count : 1); i++) {
		sqlite3_reset(s);
		sqlite3_bind_int64(s, 1, (int64_t)now_s);
		sqlite3_bind_int64(s, 2, id_count ? ids[i] : (int64_t)until_s);
		if (sqlite3_step(s) != SQLITE_DONE) {
			total = events_store_fail(st, "mark notified");
			break;
		}
		total += sqlite3_changes64(st->db);
	}
	sqlite3_finalize(s);
out_unlock:
	pthread_mutex_unlock(&st->lock);
	return total > INT32_MAX ? INT32_MAX : (int)total;
}

int64_t events_store_hit_count(struct events_store *st)
{
	sqlite3_stmt *s = NULL;
	int64_t n = -1;
	pthread_mutex_lock(&st->lock);
	if (sqlite3_prepare_v2(st->db, "SELECT coalesce(sum(count),0) FROM incidents", -1, &s,
			       NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	pthread_mutex_unlock(&st->lock);
	return n;
}
