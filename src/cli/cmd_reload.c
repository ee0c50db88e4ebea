/* SPDX-License-Identifier: MIT */
/*
 * `c2wall reload`: ask the running daemon, over its control socket, to reload its
 * configuration and policy feeds (the same as SIGHUP, but the caller learns whether it worked).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "conf/config.h"
#include "control/control.h"

static const char reload_help[] =
    "NAME\n"
    "    c2wall reload - reload the running daemon's configuration and policy\n"
    "\n"
    "SYNOPSIS\n"
    "    c2wall reload [--config FILE]\n"
    "\n"
    "DESCRIPTION\n"
    "    Sends 'reload' to the daemon's control.socket and waits for the result. The daemon\n"
    "    re-reads its configuration file, compiles the policy zones in the background and\n"
    "    switches every worker to the new policy without dropping a query. When anything\n"
    "    fails (a YAML error, a feed that cannot be read, a feed that would block a\n"
    "    never-block name, a zone whose size changes by more than policy.max-change, a\n"
    "    worker that cannot build its new resolver) no worker switches, the running\n"
    "    configuration stays, and the daemon's reason (FILE:LINE: message where it knows\n"
    "    them) is printed. On success it prints 'ok', or 'ok; restart needed for: KEYS'\n"
    "    when settings that apply only at restart changed. SIGHUP does the same, but\n"
    "    tells the sender nothing.\n"
    "\n"
    "OPTIONS\n"
    "    -c, --config FILE   configuration file, for control.socket (default\n"
    "                        /etc/c2wall/c2wall.yaml)\n"
    "    -h, --help          this text\n"
    "\n"
    "EXIT STATUS\n"
    "    0 reloaded, 1 refused or no daemon (the old configuration stays), 2 usage\n";

int cli_reload_main(int argc, char **argv)
{
	const char *path;
	int done = cli_args_config(argc, argv, reload_help, &path);
	if (done >= 0)
		return done;
	if (optind != argc) {
		fputs(reload_help, stderr);
		return 2;
	}
	char err[1024];
	struct c2w_config *cfg = NULL;
	int ret = conf_load(path, &cfg, err, sizeof(err));
	if (ret != C2W_OK) {
		fprintf(stderr, "c2wall reload: %s\n",
			err[0] ? err : c2w_strerror(ret));
		return 1;
	}
	int rc = 1;
	char resp[4096];
	if (cfg->control.socket == NULL) {
		fprintf(stderr, "c2wall reload: control.socket is not set in %s; send SIGHUP\n",
			path);
		goto out_free;
	}
	/* Compiling large feeds takes a while: wait for the daemon's verdict. */
	ret = control_client_call(cfg->control.socket, "reload", resp, sizeof(resp), 120000);
	if (ret == C2W_ENOENT || ret == -ECONNREFUSED) {
		fprintf(stderr, "c2wall reload: no daemon listens on %s\n", cfg->control.socket);
	} else if (ret != C2W_OK) {
		fprintf(stderr, "c2wall reload: control socket %s: %s\n", cfg->control.socket,
			c2w_strerror(ret));
	} else if (strncmp(resp, "error: ", 7) == 0) {
		fprintf(stderr, "c2wall reload: %s\n", resp + 7);
	} else {
		printf("%s\n", resp);
		rc = 0;
	}
out_free:
	conf_free(cfg);
	return rc;
}
