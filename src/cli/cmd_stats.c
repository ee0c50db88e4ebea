/* SPDX-License-Identifier: MIT */
/* `c2wall stats`: the running daemon's counters, as JSON, over its control socket. */

#include "cli/cli.h"

static const char stats_help[] =
    "NAME\n"
    "    c2wall stats - the running daemon's counters\n"
    "\n"
    "SYNOPSIS\n"
    "    c2wall stats [--config FILE]\n"
    "\n"
    "DESCRIPTION\n"
    "    Sends 'stats' to the daemon's control.socket and prints its answer: one JSON object\n"
    "    with the number of workers, every worker counter summed over the workers (queries,\n"
    "    answers by kind, answer-cache hits, policy hits, limits and defences that acted:\n"
    "    docs/abuse.md and docs/config.md name them), the policy's rule count and, when the\n"
    "    sinkhole runs, its counters. Counters only grow while the daemon runs; a restart\n"
    "    starts them at zero. Pipe it to jq for a readable view.\n"
    "\n"
    "OPTIONS\n"
    "    -c, --config FILE   configuration file, for control.socket (default\n"
    "                        /etc/c2wall/c2wall.yaml)\n"
    "    -h, --help          this text\n"
    "\n"
    "EXIT STATUS\n"
    "    0 printed, 1 no daemon or a configuration error, 2 usage\n";

int cli_stats_main(int argc, char **argv)
{
	return cli_control_main(argc, argv, stats_help, "stats", "stats", 10000);
}
