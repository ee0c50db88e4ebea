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

#define CLI_DEFAULT_CONFIG "/etc/c2wall/c2wall.yaml"

/**
 * Parse "--config FILE" and "--help" for a subcommand (argv[0] is its name); arguments after
 * the options start at optind.
 *
 * @param help  the subcommand's manual, printed for --help (stdout) or a bad option (stderr)
 * @param path  out: the config path, CLI_DEFAULT_CONFIG when not given
 * @return -1 to go on, or the exit code to return now (0 after --help, 2 on a bad option)
 */
int cli_args_config(int argc, char **argv, const char *help, const char **path);

/**
 * Send @request to the control socket named by the config at @path and print the answer on
 * stdout; failures go to stderr as "c2wall @name: reason".
 *
 * @return the exit status: 0 answered, 1 no daemon, refused or a config error
 */
int cli_control_run(const char *name, const char *path, const char *request, int timeout_ms);

/**
 * A whole command that takes only --config and sends one @request (cli_control_run()).
 *
 * @return the exit status (2: usage, with @help on stderr)
 */
int cli_control_main(int argc, char **argv, const char *help, const char *name,
		     const char *request, int timeout_ms);

int cli_serve_main(int argc, char **argv);
int cli_check_main(int argc, char **argv);
int cli_compile_main(int argc, char **argv);
int cli_explain_main(int argc, char **argv);
int cli_optout_main(int argc, char **argv);
int cli_subscribers_main(int argc, char **argv);
int cli_incidents_main(int argc, char **argv);
int cli_sinkhole_main(int argc, char **argv);
int cli_reload_main(int argc, char **argv);
int cli_stats_main(int argc, char **argv);
int cli_feeds_main(int argc, char **argv);

#endif
