/* SPDX-License-Identifier: MIT */
/*
 * The c2wall subcommands. Each lives in src/cli/cmd_<name>.c, takes the arguments after its
 * name (argv[0] is the subcommand), prints its own man-page-style help for -h/--help, and
 * returns the process exit code (0 ok, 1 failure, 2 usage). main.c holds the table.
 */
#ifndef C2W_CLI_CLI_H
#define C2W_CLI_CLI_H

struct cli_command {
	const char *name;
	const char *summary; /* one line for "c2wall --help" */
	int (*main)(int argc, char **argv);
};

int cli_serve_main(int argc, char **argv);
int cli_check_main(int argc, char **argv);
int cli_compile_main(int argc, char **argv);
int cli_explain_main(int argc, char **argv);
int cli_optout_main(int argc, char **argv);
int cli_subscribers_main(int argc, char **argv);
int cli_incidents_main(int argc, char **argv);
int cli_sinkhole_main(int argc, char **argv);
int cli_reload_main(int argc, char **argv);

#endif
