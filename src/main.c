/* SPDX-License-Identifier: MIT */
/* The c2wall command: global options and the subcommand table; everything else is in src/cli. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

/* One line per subcommand; the implementation is src/cli/cmd_<name>.c. */
static const struct cli_command commands[] = {
	{"serve", "run the resolver (foreground)", cli_serve_main},
	{"check", "validate policy feeds, report rejected lines and counts", cli_check_main},
	{"compile", "compile policy feeds into a snapshot file", cli_compile_main},
	{"explain", "show which policy rule acts on a name and why", cli_explain_main},
	{"optout", "add, remove or list opted-out subscribers", cli_optout_main},
	{"subscribers", "import address-to-subscriber assignments", cli_subscribers_main},
	{"incidents", "list, export, import, mark incidents for notification", cli_incidents_main},
	{"sinkhole", "run the sinkhole and its warning page on its own", cli_sinkhole_main},
	{"reload", "reload the running daemon's configuration and policy", cli_reload_main},
	{"stats", "print the running daemon's counters (JSON)", cli_stats_main},
	{"feeds", "print the state of the policy zones the daemon follows (JSON)", cli_feeds_main},
};

static void usage(FILE *out)
{
	fprintf(out, "Usage: c2wall [--version] [--help] COMMAND [ARGS]\n\n"
		     "c2wall is a protective DNS resolver: a caching, validating resolver that\n"
		     "blocks malware command-and-control names by RPZ policy.\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\nRun 'c2wall COMMAND --help' for the manual of a command.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("c2wall %s\n", C2W_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		if (argc > 2 && strcmp(argv[1], "help") == 0) {
			char help[] = "--help";
			char *sub[] = {argv[2], help, NULL};
			for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
				if (strcmp(argv[2], commands[i].name) == 0)
					return commands[i].main(2, sub);
			fprintf(stderr, "c2wall: no command '%s'\n\n", argv[2]);
			usage(stderr);
			return 2;
		}
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].main(argc - 1, argv + 1);
	fprintf(stderr, "c2wall: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
