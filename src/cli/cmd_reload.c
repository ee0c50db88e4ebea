/* SPDX-License-Identifier: MIT */
/*
 * `c2wall reload`: ask the running daemon, over its control socket, to reload its
 * configuration and policy feeds (the same as SIGHUP, but the caller learns whether it worked).
 */

#include "cli/cli.h"

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
    "    tells the sender nothing. The compile runs on a thread of its own: the daemon\n"
    "    answers DNS, control requests and metrics scrapes meanwhile. A reload asked while\n"
    "    one compiles runs right after it and reads the file again; this command then\n"
    "    prints the result of that second reload.\n"
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
	/* Compiling large feeds takes a while: wait for the daemon's verdict. */
	return cli_control_main(argc, argv, reload_help, "reload", "reload", 120000);
}
