/* SPDX-License-Identifier: MIT */
/*
 * One request to the running daemon's control socket, for the commands that only ask it
 * something (reload, stats, feeds): load the config for control.socket, send, print the answer.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "conf/config.h"
#include "control/control.h"

#define RESP_MAX (1u << 20)

static int call(const char *name, const struct c2w_config *cfg, const char *path,
		const char *request, int timeout_ms)
{
	if (cfg->control.socket == NULL) {
		fprintf(stderr, "c2wall %s: control.socket is not set in %s\n", name, path);
		return 1;
	}
	char *resp = malloc(RESP_MAX);
	if (resp == NULL) {
		fprintf(stderr, "c2wall %s: out of memory\n", name);
		return 1;
	}
	int rc = 1;
	int ret = control_client_call(cfg->control.socket, request, resp, RESP_MAX, timeout_ms);
	if (ret == C2W_ENOENT || ret == -ECONNREFUSED) {
		fprintf(stderr, "c2wall %s: no daemon listens on %s\n", name, cfg->control.socket);
	} else if (ret != C2W_OK) {
		fprintf(stderr, "c2wall %s: control socket %s: %s\n", name, cfg->control.socket,
			c2w_strerror(ret));
	} else if (strncmp(resp, "error: ", 7) == 0) {
		fprintf(stderr, "c2wall %s: %s\n", name, resp + 7);
	} else {
		printf("%s\n", resp);
		rc = 0;
	}
	free(resp);
	return rc;
}

int cli_control_run(const char *name, const char *path, const char *request, int timeout_ms)
{
	char err[1024];
	struct c2w_config *cfg = NULL;
	int ret = conf_load(path, &cfg, err, sizeof(err));
	if (ret != C2W_OK) {
		fprintf(stderr, "c2wall %s: %s\n", name, err[0] ? err : c2w_strerror(ret));
		return 1;
	}
	int rc = call(name, cfg, path, request, timeout_ms);
	conf_free(cfg);
	return rc;
}

int cli_control_main(int argc, char **argv, const char *help, const char *name,
		     const char *request, int timeout_ms)
{
	const char *path;
	int done = cli_args_config(argc, argv, help, &path);
	if (done >= 0)
		return done;
	if (optind != argc) {
		fputs(help, stderr);
		return 2;
	}
	return cli_control_run(name, path, request, timeout_ms);
}
