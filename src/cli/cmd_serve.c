/* SPDX-License-Identifier: MIT */
/* `c2wall serve`: run the resolver in the foreground, or check a config with --check. */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "conf/config.h"
#include "core/log.h"
#include "net/policy_conf.h"
#include "net/preflight.h"
#include "net/server.h"
#include "policy/policy.h"

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
    "    --check             check the configuration and exit: 0 when valid, 1 with\n"
    "                        FILE:LINE: message on stderr for a bad file, or one line per\n"
    "                        problem serve would refuse or silently miss at start: feed,\n"
    "                        root-hints, trust-anchor and never-block files, templates\n"
    "                        directory, server.user, writable paths for the key, store,\n"
    "                        hit log, dnstap file, control socket and opt-out file (as\n"
    "                        the calling user), then the policy build itself\n"
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

static void print_problem(void *ctx, const char *msg)
{
	const struct c2w_config *cfg = ctx;
	fprintf(stderr, "%s: %s\n", cfg->path, msg);
}

/* What serve would refuse or silently miss at start, then the policy build serve runs. */
static int check_config(const char *path, struct c2w_config *cfg)
{
	unsigned problems = net_preflight_all(cfg, print_problem, cfg);
	if (problems == 0) {
		char err[1024] = "";
		struct policy_snap *snap = NULL;
		/* Feed diagnostics go to stderr like the daemon's; only errors, not counts. */
		c2w_log_setup(C2W_LOG_WARN, false);
		if (net_policy_load_err(cfg, NULL, false, &snap, err, sizeof(err)) != C2W_OK) {
			fprintf(stderr, "%s: %s\n", path, err);
			problems++;
		}
		policy_snap_free(snap);
	}
	conf_free(cfg);
	if (problems > 0) {
		fprintf(stderr, "%s: %u problem(s): serve would not start or would miss them\n",
			path, problems);
		return 1;
	}
	printf("%s: configuration is valid\n", path);
	return 0;
}

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
	/* SIGHUP (a reload, logrotate's too) ends a process that does not handle it: until the
	 * main loop does (net_server_run()), it is held pending, not lost, so one sent during
	 * start-up (seconds with a large policy) reloads once the daemon runs. The threads
	 * started meanwhile inherit the mask. */
	sigset_t hup;
	sigemptyset(&hup);
	sigaddset(&hup, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &hup, NULL);
	char err[1024];
	struct c2w_config *cfg = NULL;
	int ret = conf_load(path, &cfg, err, sizeof(err));
	if (ret != C2W_OK) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (check)
		return check_config(path, cfg);
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
