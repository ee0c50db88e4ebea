/* SPDX-License-Identifier: MIT */
/*
 * Incident reports for the abuse desk: a local table (with raw addresses while they are
 * still kept) and exports that leave the box (CSV, JSON) carrying pseudonyms and subscriber
 * ids only, each saying in its header what it contains.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "events/import.h"
#include "events/store_int.h"

static const char contains_text[] =
    "c2wall incidents: one record per client, UTC day and malware family (or matched rule "
    "when the family is unknown). client = HMAC-SHA256 pseudonym of the address under key "
    "key_id; subscriber_id = the subscriber holding the address at first_seen (from "
    "imported assignments); names = query names asked (with counts); evidence = sinkhole "
    "contacts. No raw IP addresses.";

static void json_str(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			fprintf(out, "\\u%04x", *p);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

/*
 * One CSV cell. A cell that a spreadsheet would read as a formula (first character = + - @,
 * tab or carriage return: OWASP "CSV Injection") gets a leading single quote and is quoted,
 * so the abuse desk's spreadsheet shows text instead of running it (docs/incidents.md).
 */
static void csv_str(FILE *out, const char *s)
{
	s = s ? s : "";
	bool formula = strchr("=+-@\t\r", s[0]) != NULL && s[0] != '\0';
	if (!formula && strpbrk(s, ",\"\r\n") == NULL && s[0] != '#') {
		fputs(s, out);
		return;
	}
	fputc('"', out);
	if (formula)
		fputc('\'', out);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

static const char *col(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	return t ? (const char *)t : "";
}

/* Names of one incident: "a.example./A(3);b.example./AAAA(1)" or a JSON array. */
static void write_names(struct events_store *st, int64_t id, bool json, FILE *out)
{
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(st->db,
			       "SELECT qname, qtype, count FROM incident_names WHERE incident_id=?"
			       " ORDER BY count DESC, qname",
			       -1, &s, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_int64(s, 1, id);
	char buf[4096];
	size_t pos = 0;
	bool first = true;
	if (json)
		fputc('[', out);
	buf[0] = '\0';
	while (sqlite3_step(s) == SQLITE_ROW) {
		if (json) {
			fprintf(out, "%s{\"qname\":", first ? "" : ",");
			json_str(out, col(s, 0));
			fprintf(out, ",\"qtype\":%d,\"count\":%lld}", sqlite3_column_int(s, 1),
				(long long)sqlite3_column_int64(s, 2));
		} else if (pos < sizeof(buf)) {
			int n =
			    snprintf(buf + pos, sizeof(buf) - pos, "%s%s(%lld)", first ? "" : ";",
				     col(s, 0), (long long)sqlite3_column_int64(s, 2));
			pos += n > 0 ? (size_t)n : 0;
		}
		first = false;
	}
	sqlite3_finalize(s);
	if (json)
		fputc(']', out);
	else
		csv_str(out, buf);
}

/* Evidence attached to the incident, or unattached from the same client and day. */
static void write_evidence(struct events_store *st, int64_t id, const char *day, const void *bin,
			   int bin_len, bool json, FILE *out)
{
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(st->db,
			       "SELECT time, host, method, path, user_agent, port, detail FROM"
			       " evidence WHERE incident_id = ?1 OR (incident_id IS NULL AND"
			       " day = ?2 AND client_bin = ?3) ORDER BY time LIMIT 50",
			       -1, &s, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_text(s, 2, day, -1, SQLITE_TRANSIENT);
	if (bin != NULL)
		sqlite3_bind_blob(s, 3, bin, bin_len, SQLITE_TRANSIENT);
	char buf[4096], ts[32];
	size_t pos = 0;
	bool first = true;
	buf[0] = '\0';
	if (json)
		fputc('[', out);
	while (sqlite3_step(s) == SQLITE_ROW) {
		events_time_format(sqlite3_column_int64(s, 0), ts, sizeof(ts));
		if (json) {
			fprintf(out, "%s{\"time\":\"%s\",\"host\":", first ? "" : ",", ts);
			json_str(out, col(s, 1));
			fputs(",\"method\":", out);
			json_str(out, col(s, 2));
			fputs(",\"path\":", out);
			json_str(out, col(s, 3));
			fputs(",\"user_agent\":", out);
			json_str(out, col(s, 4));
			fprintf(out, ",\"port\":%d,\"detail\":", sqlite3_column_int(s, 5));
			json_str(out, col(s, 6));
			fputc('}', out);
		} else if (pos < sizeof(buf)) {
			int n = snprintf(buf + pos, sizeof(buf) - pos, "%s%s port %d %s %s%s %s",
					 first ? "" : ";", ts, sqlite3_column_int(s, 5), col(s, 2),
					 col(s, 1), col(s, 3), col(s, 4));
			pos += n > 0 ? (size_t)n : 0;
		}
		first = false;
	}
	sqlite3_finalize(s);
	if (json)
		fputc(']', out);
	else
		csv_str(out, buf);
}

static const char sql_list[] = "SELECT id, day, coalesce(subscriber_id, " SUBSCRIBER_AT(
    "i.client_bin",
    "i.first_seen") "), pseudonym, key_id, label, family, rule, zone, category, action, count, "
		    "first_seen,"
		    " last_seen, sources, notified_at, client_ip, client_bin"
		    " FROM incidents i WHERE last_seen >= ?1 AND (?2 = 0 OR notified_at IS NULL)"
		    " ORDER BY first_seen, id";

static void header(FILE *out, enum events_export_format fmt, uint64_t since_s)
{
	char now[32], since[32];
	events_time_format((int64_t)time(NULL), now, sizeof(now));
	events_time_format((int64_t)since_s, since, sizeof(since));
	if (fmt == EVENTS_EXPORT_CSV) {
		fprintf(out, "# %s\n# generated: %s; since: %s\n", contains_text, now, since);
		fputs("id,day,subscriber_id,client,key_id,family,rule,zone,category,action,count,"
		      "first_seen,last_seen,sources,notified,names,evidence\n",
		      out);
	} else if (fmt == EVENTS_EXPORT_JSON) {
		fputs("{\"contains\":", out);
		json_str(out, contains_text);
		fprintf(out, ",\"generated\":\"%s\",\"since\":\"%s\",\"incidents\":[", now, since);
	} else {
		fprintf(out, "%-6s %-10s %-16s %-24s %-20s %6s %-20s %s\n", "ID", "DAY",
			"SUBSCRIBER", "ADDRESS", "FAMILY/RULE", "COUNT", "LAST SEEN", "NOTIFIED");
	}
}

static void row_out(struct events_store *st, sqlite3_stmt *s, enum events_export_format fmt,
		    bool first, FILE *out)
{
	int64_t id = sqlite3_column_int64(s, 0);
	char first_ts[32], last_ts[32], notified[32] = "";
	events_time_format(sqlite3_column_int64(s, 12), first_ts, sizeof(first_ts));
	events_time_format(sqlite3_column_int64(s, 13), last_ts, sizeof(last_ts));
	if (sqlite3_column_type(s, 15) != SQLITE_NULL)
		events_time_format(sqlite3_column_int64(s, 15), notified, sizeof(notified));
	const void *bin = sqlite3_column_blob(s, 17);
	int bin_len = sqlite3_column_bytes(s, 17);
	const char *day = col(s, 1);
	if (fmt == EVENTS_EXPORT_TABLE) {
		fprintf(out, "%-6lld %-10s %-16s %-24s %-20s %6lld %-20s %s\n", (long long)id, day,
			col(s, 2)[0] ? col(s, 2) : "-", col(s, 16)[0] ? col(s, 16) : "(erased)",
			col(s, 5), (long long)sqlite3_column_int64(s, 11), last_ts,
			notified[0] ? notified : "no");
		return;
	}
	if (fmt == EVENTS_EXPORT_CSV) {
		fprintf(out, "%lld,%s,", (long long)id, day);
		for (int c = 2; c <= 10; c++) {
			if (c == 5)
				continue; /* label: family or rule, both exported */
			csv_str(out, col(s, c));
			fputc(',', out);
		}
		fprintf(out, "%lld,%s,%s,", (long long)sqlite3_column_int64(s, 11), first_ts,
			last_ts);
		csv_str(out, col(s, 14));
		fprintf(out, ",%s,", notified);
		write_names(st, id, false, out);
		fputc(',', out);
		write_evidence(st, id, day, bin, bin_len, false, out);
		fputc('\n', out);
		return;
	}
	static const char *const keys[] = {"subscriber_id", "client", "key_id",   "label", "family",
					   "rule",          "zone",   "category", "action"};
	fprintf(out, "%s{\"id\":%lld,\"day\":\"%s\"", first ? "" : ",", (long long)id, day);
	for (int c = 2; c <= 10; c++) {
		fprintf(out, ",\"%s\":", keys[c - 2]);
		if (c == 2 && sqlite3_column_type(s, 2) == SQLITE_NULL)
			fputs("null", out);
		else
			json_str(out, col(s, c));
	}
	fprintf(out, ",\"count\":%lld,\"first_seen\":\"%s\",\"last_seen\":\"%s\",\"sources\":",
		(long long)sqlite3_column_int64(s, 11), first_ts, last_ts);
	json_str(out, col(s, 14));
	fputs(",\"notified\":", out);
	if (notified[0])
		fprintf(out, "\"%s\"", notified);
	else
		fputs("null", out);
	fputs(",\"names\":", out);
	write_names(st, id, true, out);
	fputs(",\"evidence\":", out);
	write_evidence(st, id, day, bin, bin_len, true, out);
	fputc('}', out);
}

int events_store_incidents_write(struct events_store *st, uint64_t since_s, bool only_unnotified,
				 enum events_export_format fmt, FILE *out)
{
	sqlite3_stmt *s = NULL;
	int count = 0;
	pthread_mutex_lock(&st->lock);
	(void)events_store_flush_locked(st);
	if (sqlite3_prepare_v2(st->db, sql_list, -1, &s, NULL) != SQLITE_OK) {
		count = events_store_fail(st, "export");
		goto out_unlock;
	}
	sqlite3_bind_int64(s, 1, (int64_t)since_s);
	sqlite3_bind_int(s, 2, only_unnotified ? 1 : 0);
	header(out, fmt, since_s);
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		row_out(st, s, fmt, count == 0, out);
		count++;
	}
	if (fmt == EVENTS_EXPORT_JSON)
		fputs("]}\n", out);
	if (rc != SQLITE_DONE)
		count = events_store_fail(st, "export step");
	sqlite3_finalize(s);
	if (count >= 0 && (fflush(out) != 0 || ferror(out)))
		count = C2W_EIO;
out_unlock:
	pthread_mutex_unlock(&st->lock);
	return count;
}
