/* SPDX-License-Identifier: MIT */
/* `c2wall serve`: run the resolver in the foreground, or check a config with --check. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "conf/config.h"
#include "core/log.h"
#include "net/server.h"

static const char serve_help[] =
    "NAME\n"
    "    c2wall serve - run the c2wall protective DNS resolver\n"
    "\n"
    "SYNOPSIS\n"
    "    c2wall serve --config FILE [--check] [--debug]\n"
    "\n"
    "DESCRIPTION\n"
    "    Runs the resolver in the foreground: listens on server.listen (UDP and TCP),\n"
    "    answers clients in server.allow (everyone else gets REFUSED), resolves through\n"
    "    libunbound (recursion from root hints, or forwarding, plus stub zones) with DNSSEC\n"
    "    validation, and applies the policy zones. Logs go to stderr (or syslog with\n"
    "    log.syslog: true).\n"
    "\n"
    "OPTIONS\n"
    "    -c, --config FILE   configuration file (YAML; see docs/config.md)\n"
    "    --check             validate the configuration and exit: 0 when valid, 1 with\n"
    "                        FILE:LINE: message on stderr when not\n"
    "    -d, --debug         log at debug level\n"
    "    -h, --help          this text\n"
    "\n"
    "SIGNALS\n"
    "    SIGTERM, SIGINT   stop cleanly (exit status 0)\n"
    "    SIGHUP            reload the configuration; listeners that did not change stay\n"
    "                      open; on any error the running configuration stays in force\n"
    "\n"
    "EXIT STATUS\n"
    "    0 clean stop or valid config, 1 error, 2 usage\n";

int cli_serve_main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"check", no_argument, NULL, 'k'},
	    {"debug", no_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *path = NULL;
	bool check = false, debug = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:dh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'k':
			check = true;
			break;
		case 'd':
			debug = true;
			break;
		case 'h':
			fputs(serve_help, stdout);
			return 0;
		default:
			fputs(serve_help, stderr);
			return 2;
		}
	}
	if (path == NULL || optind != argc) {
		fprintf(stderr, "c2wall serve: --config FILE is required\n");
		return 2;
	}
	char err[1024];
	struct c2w_config *cfg = NULL;
	int ret = conf_load(path, &cfg, err, sizeof(err));
	if (ret != C2W_OK) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (check) {
		printf("%s: configuration is valid\n", path);
		conf_free(cfg);
		return 0;
	}
	c2w_log_setup(debug ? C2W_LOG_DEBUG : (enum c2w_log_level)cfg->log.level, cfg->log.syslog);
	struct net_server *srv = NULL;
	ret = net_server_new(cfg, &srv);
	if (ret != C2W_OK) {
		c2w_log_err("serve: cannot start: %s", c2w_strerror(ret));
		return 1;
	}
	ret = net_server_run(srv);
	net_server_free(srv);
	c2w_log_info("serve: stopped");
	return ret == C2W_OK ? 0 : 1;
}
