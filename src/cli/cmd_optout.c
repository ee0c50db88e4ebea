/* SPDX-License-Identifier: MIT */
/*
 * `c2wall optout add|remove|list`: through the running daemon's control socket (effective at
 * once); when no daemon listens, edits the opt-out file directly and says so.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "conf/config.h"
#include "control/control.h"
#include "events/optout.h"

static const char optout_help[] =
    "NAME\n"
    "    c2wall optout - manage the opt-out registry\n"
    "\n"
    "SYNOPSIS\n"
    "    c2wall optout add PREFIX [--config FILE]\n"
    "    c2wall optout remove PREFIX [--config FILE]\n"
    "    c2wall optout list [--config FILE]\n"
    "\n"
    "DESCRIPTION\n"
    "    Subscribers who declined the service are listed by address or prefix (IPv4 or\n"
    "    IPv6, e.g. 192.0.2.7, 198.51.100.0/24, 2001:db8:1::/48). Their queries get the\n"
    "    real answer and leave no record anywhere (hit log, dnstap, syslog, incident store).\n"
    "\n"
    "    The command talks to the running daemon over control.socket, so a change takes\n"
    "    effect at once. When no daemon is running it edits privacy.optout-file directly\n"
    "    (atomically: temporary file, fsync, rename) and says so; the daemon reads it at\n"
    "    start.\n"
    "\n"
    "OPTIONS\n"
    "    -c, --config FILE   configuration file (default /etc/c2wall/c2wall.yaml)\n"
    "    -h, --help          this text\n"
    "\n"
    "EXIT STATUS\n"
    "    0 done, 1 error (already present, not present, bad prefix, I/O), 2 usage\n";

static int direct(const struct c2w_config *cfg, const char *verb, const char *arg)
{
	char err[512] = "";
	struct events_optout *reg = NULL;
	if (cfg->privacy.optout_file == NULL) {
		fprintf(stderr, "c2wall optout: no daemon running and privacy.optout-file is not "
				"set\n");
		return 1;
	}
	int ret = events_optout_open(cfg->privacy.optout_file, &reg, err, sizeof(err));
	if (ret != C2W_OK) {
		fprintf(stderr, "c2wall optout: %s\n", err[0] ? err : c2w_strerror(ret));
		return 1;
	}
	int rc = 0;
	if (strcmp(verb, "list") == 0) {
		struct events_prefix *items = NULL;
		size_t n = 0;
		if (events_optout_list(reg, &items, &n) != C2W_OK) {
			rc = 1;
		} else {
			for (size_t i = 0; i < n; i++) {
				char buf[64];
				printf("%s\n", events_prefix_format(&items[i], buf, sizeof(buf)));
			}
		}
		free(items);
	} else {
		ret = verb[0] == 'a' ? events_optout_add(reg, arg) : events_optout_remove(reg, arg);
		if (ret != C2W_OK) {
			fprintf(stderr, "c2wall optout: %s: %s\n", arg,
				ret == C2W_EEXIST   ? "already opted out"
				: ret == C2W_ENOENT ? "not in the opt-out list"
				: ret == C2W_EINVAL ? "not an address or prefix"
						    : c2w_strerror(ret));
			rc = 1;
		} else {
			fprintf(stderr,
				"c2wall optout: no daemon running; edited %s directly (the daemon "
				"reads it at start)\n",
				cfg->privacy.optout_file);
			printf("ok\n");
		}
	}
	events_optout_free(reg);
	return rc;
}

/* Print a JSON list of strings from the daemon one per line. */
static void print_list(const char *json)
{
	const char *p = json;
	while ((p = strchr(p, '"')) != NULL) {
		const char *e = strchr(p + 1, '"');
		if (e == NULL)
			break;
		printf("%.*s\n", (int)(e - p - 1), p + 1);
		p = e + 1;
	}
}

int cli_optout_main(int argc, char **argv)
{
	const char *path;
	int done = cli_args_config(argc, argv, optout_help, &path);
	if (done >= 0)
		return done;
	int rest = argc - optind;
	const char *verb = rest >= 1 ? argv[optind] : "";
	bool is_list = strcmp(verb, "list") == 0 && rest == 1;
	bool is_change = (strcmp(verb, "add") == 0 || strcmp(verb, "remove") == 0) && rest == 2;
	if (!is_list && !is_change) {
		fputs(optout_help, stderr);
		return 2;
	}
	const char *arg = is_change ? argv[optind + 1] : NULL;
	char err[1024];
	struct c2w_config *cfg = NULL;
	int ret = conf_load(path, &cfg, err, sizeof(err));
	if (ret != C2W_OK) {
		fprintf(stderr, "c2wall optout: %s\n",
			err[0] ? err : c2w_strerror(ret));
		return 1;
	}
	char req[256], resp[65536];
	snprintf(req, sizeof(req), "optout %s%s%s", verb, arg ? " " : "", arg ? arg : "");
	int rc;
	ret = cfg->control.socket
		  ? control_client_call(cfg->control.socket, req, resp, sizeof(resp), 5000)
		  : C2W_ENOENT;
	if (ret == C2W_ENOENT || ret == -ECONNREFUSED) {
		rc = direct(cfg, verb, arg);
	} else if (ret != C2W_OK) {
		fprintf(stderr, "c2wall optout: control socket %s: %s\n", cfg->control.socket,
			c2w_strerror(ret));
		rc = 1;
	} else if (strncmp(resp, "error: ", 7) == 0) {
		fprintf(stderr, "c2wall optout: %s\n", resp + 7);
		rc = 1;
	} else {
		if (is_list)
			print_list(resp);
		else
			printf("%s\n", resp);
		rc = 0;
	}
	conf_free(cfg);
	return rc;
}
