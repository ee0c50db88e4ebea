/* SPDX-License-Identifier: MIT */
/* `c2wall subscribers import FILE`: load address-to-subscriber assignments with time ranges. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "conf/config.h"
#include "events/store.h"

static const char subscribers_help[] =
    "NAME\n"
    "    c2wall subscribers - load who held which address when\n"
    "\n"
    "SYNOPSIS\n"
    "    c2wall subscribers import FILE [--config FILE]\n"
    "\n"
    "DESCRIPTION\n"
    "    Imports address assignments exported from RADIUS accounting or DHCP leases into\n"
    "    the incident store (store.sqlite), so each incident names the subscriber who\n"
    "    held the address at the time of the hit. FILE is CSV (\"-\" reads stdin):\n"
    "\n"
    "        subscriber_id,address_or_prefix,start,end\n"
    "        cust-1042,192.0.2.17,2024-06-10T08:00:00Z,2024-06-11T08:00:00Z\n"
    "        cust-2001,2001:db8:42::/56,2024-06-01,\n"
    "\n"
    "    Times are RFC 3339, YYYY-MM-DD[ HH:MM:SS] (UTC) or unix seconds; an empty end\n"
    "    means still assigned. A header line and lines starting with '#' are skipped. Bad\n"
    "    rows are reported on stderr as FILE:LINE: reason and skipped; good rows are kept.\n"
    "    Assignments older than privacy.retention-days are deleted by retention.\n"
    "\n"
    "OPTIONS\n"
    "    -c, --config FILE   configuration file (default /etc/c2wall/c2wall.yaml)\n"
    "    -h, --help          this text\n"
    "\n"
    "EXIT STATUS\n"
    "    0 all rows imported, 1 some rows rejected or an error, 2 usage\n";

struct report {
	const char *file;
};

static void report_cb(void *arg, unsigned line, const char *message)
{
	const struct report *r = arg;
	fprintf(stderr, "%s:%u: %s\n", r->file, line, message);
}

int cli_subscribers_main(int argc, char **argv)
{
	const char *path;
	int done = cli_args_config(argc, argv, subscribers_help, &path);
	if (done >= 0)
		return done;
	if (argc - optind != 2 || strcmp(argv[optind], "import") != 0) {
		fputs(subscribers_help, stderr);
		return 2;
	}
	const char *file = argv[optind + 1];
	char err[1024];
	struct c2w_config *cfg = NULL;
	int ret = conf_load(path, &cfg, err, sizeof(err));
	if (ret != C2W_OK) {
		fprintf(stderr, "c2wall subscribers: %s\n",
			err[0] ? err : c2w_strerror(ret));
		return 1;
	}
	int rc = 1;
	struct events_store *st = NULL;
	FILE *in = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");
	if (in == NULL) {
		fprintf(stderr, "c2wall subscribers: %s: %s\n", file, c2w_strerror(-errno));
		goto out_conf;
	}
	if (cfg->store.sqlite == NULL || events_store_open(cfg->store.sqlite, &st) != C2W_OK) {
		fprintf(stderr, "c2wall subscribers: cannot open the incident store\n");
		goto out_close;
	}
	struct report r = {.file = file};
	struct events_import_result res;
	ret = events_store_subscribers_import(st, in, report_cb, &r, &res);
	if (ret != C2W_OK) {
		fprintf(stderr, "c2wall subscribers: import failed: %s\n", c2w_strerror(ret));
	} else {
		printf("imported %u assignments, rejected %u rows\n", res.rows_ok, res.rows_bad);
		rc = res.rows_bad ? 1 : 0;
	}
	events_store_close(st);
out_close:
	if (in != stdin)
		fclose(in);
out_conf:
	conf_free(cfg);
	return rc;
}
