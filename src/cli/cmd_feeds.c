/* SPDX-License-Identifier: MIT */
/* `c2wall feeds`: the state of every policy zone the daemon follows, over its control socket. */

#include "cli/cli.h"

static const char feeds_help[] =
    "NAME\n"
    "    c2wall feeds - the state of the policy zones the running daemon follows\n"
    "\n"
    "SYNOPSIS\n"
    "    c2wall feeds [--config FILE]\n"
    "\n"
    "DESCRIPTION\n"
    "    Sends 'feeds' to the daemon's control.socket and prints its answer: one JSON object\n"
    "    whose 'zones' list has, for every zone that follows primaries or a URL, its serial, the\n"
    "    times (unix seconds) of the last success, the last attempt and the next refresh, the\n"
    "    last error, the rules in force, where the copy came from, whether it expired and is\n"
    "    still enforced, and transfer counters; for a URL also its ETag and HTTP status\n"
    "    (docs/policy.md, \"Feeds\", \"HTTP(S) feeds\"). Zones read from a\n"
    "    file only are not listed.\n"
    "\n"
    "OPTIONS\n"
    "    -c, --config FILE   configuration file, for control.socket (default\n"
    "                        /etc/c2wall/c2wall.yaml)\n"
    "    -h, --help          this text\n"
    "\n"
    "EXIT STATUS\n"
    "    0 printed, 1 no daemon or a configuration error, 2 usage\n";

int cli_feeds_main(int argc, char **argv)
{
	return cli_control_main(argc, argv, feeds_help, "feeds", "feeds", 10000);
}
