/* SPDX-License-Identifier: MIT */
/* Option parsing shared by the subcommands whose only option is --config FILE. */
#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"

int cli_args_config(int argc, char **argv, const char *help, const char **path)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;
	*path = CLI_DEFAULT_CONFIG;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		if (c == 'c') {
			*path = optarg;
		} else if (c == 'h') {
			fputs(help, stdout);
			return 0;
		} else {
			fputs(help, stderr);
			return 2;
		}
	}
	return -1;
}
