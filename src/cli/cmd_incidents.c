/* SPDX-License-Identifier: MIT */
/*
 * `c2wall incidents list|export|mark-notified|import|purge`: the abuse desk's view of the
 * incident store. Exports leave the box and carry pseudonyms and subscriber ids only.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "conf/config.h"
#include "events/import.h"
#include "events/pseudo.h"
#include "events/store.h"

static const char incidents_help[] =
    "NAME\n"
    "    c2wall incidents - list, export, import and mark incidents for notification\n"
    "\n"
    "SYNOPSIS\n"
    "    c2wall incidents list [--since DATE] [--unnotified] [--config FILE]\n"
    "    c2wall incidents export [--since DATE] [--format csv|json] [--unnotified]\n"
    "                            [--output FILE] [--config FILE]\n"
    "    c2wall incidents mark-notified ID... [--config FILE]\n"
    "    c2wall incidents mark-notified --until DATE [--config FILE]\n"
    "    c2wall incidents import FILE [--config FILE]\n"
    "    c2wall incidents purge [--config FILE]\n"
    "\n"
    "DESCRIPTION\n"
    "    An incident is one client, one UTC day and one malware family (or the matched\n"
    "    rule when the family is unknown): hit count, first and last seen, the names asked,\n"
    "    sinkhole evidence, and the subscriber who held the address at first_seen (see\n"
    "    c2wall subscribers).\n"
    "\n"
    "    list     a table for local use; shows the raw address while it is kept\n"
    "             (privacy.notify-window-days), \"(erased)\" after.\n"
    "    export   for the notification work: CSV (default) or JSON to stdout. Carries\n"
    "             the pseudonym (HMAC-SHA256, with its key id) and the subscriber id,\n"
    "             never the raw address; a header says what the file contains.\n"
    "    mark-notified  record that the subscribers of these incidents were warned.\n"
    "    import   merge reports of infected addresses from external sinkholes or\n"
    "             taken-down C&C servers, CSV \"timestamp,address,family,source\"; bad\n"
    "             rows are reported as FILE:LINE: reason, good rows are kept.\n"
    "    purge    apply privacy.retention-days and privacy.notify-window-days now (the\n"
    "             daemon also does it every minute).\n"
    "\n"
    "    DATE is RFC 3339 (2024-06-10T00:00:00Z), YYYY-MM-DD (UTC), unix seconds, or\n"
    "    -Nd for N days ago.\n"
    "\n"
    "OPTIONS\n"
    "    -c, --config FILE   configuration file (default /etc/c2wall/c2wall.yaml)\n"
    "    -s, --since DATE    only incidents last seen at or after DATE (default: all)\n"
    "    -f, --format FMT    csv or json (export)\n"
    "    -u, --unnotified    skip incidents already marked notified\n"
    "    -o, --output FILE   write the export to FILE instead of stdout\n"
    "        --until DATE    mark-notified: every incident last seen before DATE\n"
    "    -h, --help          this text\n"
    "\n"
    "EXIT STATUS\n"
    "    0 done, 1 error (or rejected import rows, or an ID with no incident), 2 usage\n";

struct args {
	const char *config;
	const char *since;
	const char *format;
	const char *output;
	const char *until;
	bool unnotified;
};

static int parse_date(const char *text, uint64_t *out)
{
	int64_t t;
	if (text[0] == '-' && strlen(text) >= 3 && text[strlen(text) - 1] == 'd') {
		char *end;
		long days = strtol(text + 1, &end, 10);
		if (*end != 'd' || days < 0 || days > 36500)
			return C2W_EINVAL;
		*out = (uint64_t)time(NULL) - (uint64_t)days * 86400;
		return C2W_OK;
	}
	if (events_time_parse(text, &t) != C2W_OK || t < 0)
		return C2W_EINVAL;
	*out = (uint64_t)t;
	return C2W_OK;
}

static void report_cb(void *arg, unsigned line, const char *message)
{
	fprintf(stderr, "%s:%u: %s\n", (const char *)arg, line, message);
}

static int do_write(struct events_store *st, const char *verb, const struct args *a)
{
	uint64_t since = 0;
	if (a->since && parse_date(a->since, &since) != C2W_OK) {
		fprintf(stderr, "c2wall incidents: bad --since '%s'\n", a->since);
		return 2;
	}
	enum events_export_format fmt = EVENTS_EXPORT_TABLE;
	if (strcmp(verb, "export") == 0) {
		fmt = EVENTS_EXPORT_CSV;
		if (a->format && strcmp(a->format, "json") == 0) {
			fmt = EVENTS_EXPORT_JSON;
		} else if (a->format && strcmp(a->format, "csv") != 0) {
			fprintf(stderr, "c2wall incidents: --format is csv or json\n");
			return 2;
		}
	}
	FILE *out = stdout;
	if (a->output && (out = fopen(a->output, "w")) == NULL) {
		fprintf(stderr, "c2wall incidents: %s: %s\n", a->output, c2w_strerror(-errno));
		return 1;
	}
	int n = events_store_incidents_write(st, since, a->unnotified, fmt, out);
	if (out != stdout && fclose(out) != 0 && n >= 0)
		n = C2W_EIO;
	if (n < 0) {
		fprintf(stderr, "c2wall incidents: %s failed: %s\n", verb, c2w_strerror(n));
		return 1;
	}
	if (fmt != EVENTS_EXPORT_TABLE)
		fprintf(stderr, "c2wall incidents: exported %d incidents\n", n);
	return 0;
}

static int do_mark(struct events_store *st, int count, char **ids, const struct args *a)
{
	uint64_t until = 0;
	if ((count == 0) == (a->until == NULL)) {
		fprintf(stderr, "c2wall incidents: mark-notified takes IDs or --until DATE\n");
		return 2;
	}
	if (a->until && parse_date(a->until, &until) != C2W_OK) {
		fprintf(stderr, "c2wall incidents: bad --until '%s'\n", a->until);
		return 2;
	}
	int64_t *v = count ? calloc((size_t)count, sizeof(*v)) : NULL;
	if (count && v == NULL)
		return 1;
	for (int i = 0; i < count; i++) {
		char *end;
		long long x = strtoll(ids[i], &end, 10);
		if (*end || end == ids[i] || x <= 0) {
			fprintf(stderr, "c2wall incidents: bad incident id '%s'\n", ids[i]);
			free(v);
			return 2;
		}
		v[i] = x;
	}
	if (count == 0) {
		int n = events_store_mark_notified(st, NULL, 0, until, (uint64_t)time(NULL));
		if (n < 0) {
			fprintf(stderr, "c2wall incidents: %s\n", c2w_strerror(n));
			return 1;
		}
		printf("marked %d incidents notified\n", n);
		return 0;
	}
	/* One id at a time, so an id the store does not have is named, not just counted. */
	int marked = 0, unknown = 0;
	for (int i = 0; i < count; i++) {
		int n = events_store_mark_notified(st, &v[i], 1, 0, (uint64_t)time(NULL));
		if (n < 0) {
			fprintf(stderr, "c2wall incidents: %s\n", c2w_strerror(n));
			free(v);
			return 1;
		}
		if (n == 0) {
			fprintf(stderr, "c2wall incidents: no incident with id %lld\n",
				(long long)v[i]);
			unknown++;
		}
		marked += n;
	}
	free(v);
	printf("marked %d incidents notified\n", marked);
	return unknown > 0 ? 1 : 0;
}

static int do_import(struct events_store *st, const struct c2w_config *cfg, const char *file)
{
	struct events_pseudo *ps = NULL;
	int ret = events_pseudo_open(cfg->privacy.key_file, 0, &ps);
	if (ret != C2W_OK) {
		fprintf(stderr, "c2wall incidents: key file %s: %s\n",
			cfg->privacy.key_file ? cfg->privacy.key_file : "-", c2w_strerror(ret));
		return 1;
	}
	FILE *in = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");
	int rc = 1;
	if (in == NULL) {
		fprintf(stderr, "c2wall incidents: %s: %s\n", file, c2w_strerror(-errno));
		goto out_free;
	}
	struct events_import_result res;
	ret = events_store_incidents_import(st, in, ps, report_cb, (void *)(uintptr_t)file, &res);
	if (ret != C2W_OK) {
		fprintf(stderr, "c2wall incidents: import failed: %s\n", c2w_strerror(ret));
	} else {
		printf("imported %u reports, rejected %u rows\n", res.rows_ok, res.rows_bad);
		rc = res.rows_bad ? 1 : 0;
	}
	if (in != stdin)
		fclose(in);
out_free:
	events_pseudo_free(ps);
	return rc;
}

static int do_purge(struct events_store *st, const struct c2w_config *cfg)
{
	struct events_retention_result res;
	if (events_store_retention(st, (uint64_t)time(NULL), cfg->privacy.retention_days,
				   cfg->privacy.notify_window_days, &res) != C2W_OK) {
		fprintf(stderr, "c2wall incidents: purge failed\n");
		return 1;
	}
	printf("deleted %llu incidents and %llu subscriber assignments, erased %llu addresses\n",
	       (unsigned long long)res.incidents_deleted,
	       (unsigned long long)res.subscribers_deleted,
	       (unsigned long long)res.addresses_erased);
	return 0;
}

int cli_incidents_main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'}, {"since", required_argument, NULL, 's'},
	    {"format", required_argument, NULL, 'f'}, {"output", required_argument, NULL, 'o'},
	    {"until", required_argument, NULL, 'U'},  {"unnotified", no_argument, NULL, 'u'},
	    {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
	};
	struct args a = {.config = CLI_DEFAULT_CONFIG};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:s:f:o:uh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			a.config = optarg;
			break;
		case 's':
			a.since = optarg;
			break;
		case 'f':
			a.format = optarg;
			break;
		case 'o':
			a.output = optarg;
			break;
		case 'U':
			a.until = optarg;
			break;
		case 'u':
			a.unnotified = true;
			break;
		case 'h':
			fputs(incidents_help, stdout);
			return 0;
		default:
			fputs(incidents_help, stderr);
			return 2;
		}
	}
	int rest = argc - optind;
	const char *verb = rest >= 1 ? argv[optind] : "";
	bool ok = ((strcmp(verb, "list") == 0 || strcmp(verb, "export") == 0 ||
		    strcmp(verb, "purge") == 0) &&
		   rest == 1) ||
		  (strcmp(verb, "import") == 0 && rest == 2) || strcmp(verb, "mark-notified") == 0;
	if (!ok) {
		fputs(incidents_help, stderr);
		return 2;
	}
	char err[1024];
	struct c2w_config *cfg = NULL;
	int ret = conf_load(a.config, &cfg, err, sizeof(err));
	if (ret != C2W_OK) {
		fprintf(stderr, "c2wall incidents: %s\n",
			err[0] ? err : c2w_strerror(ret));
		return 1;
	}
	struct events_store *st = NULL;
	int rc = 1;
	if (cfg->store.sqlite == NULL || events_store_open(cfg->store.sqlite, &st) != C2W_OK) {
		fprintf(stderr, "c2wall incidents: cannot open the incident store%s%s\n",
			cfg->store.sqlite != NULL ? " " : " (store.sqlite is none in ",
			cfg->store.sqlite != NULL ? cfg->store.sqlite : cfg->path);
		goto out_conf;
	}
	if (strcmp(verb, "import") == 0)
		rc = do_import(st, cfg, argv[optind + 1]);
	else if (strcmp(verb, "mark-notified") == 0)
		rc = do_mark(st, rest - 1, argv + optind + 1, &a);
	else if (strcmp(verb, "purge") == 0)
		rc = do_purge(st, cfg);
	else
		rc = do_write(st, verb, &a);
	events_store_close(st);
out_conf:
	conf_free(cfg);
	return rc;
}
