# SPDX-License-Identifier: MIT
"""Real RPZ secondaries of a c2wall primary, shared by the feed tests: Unbound with an `rpz:`
clause that takes the zone by AXFR/IXFR from c2wall (`primary:`, empty `zonefile:`) and
answers from it, without recursion (names under test. only get what the policy says)."""

import os
import subprocess

import c2w_world as cw

UNBOUND = "/usr/sbin/unbound"


class UnboundRpz:
    def __init__(self, workdir, port, zone, primary_port):
        self.dir = os.path.join(workdir, "unbound")
        os.makedirs(self.dir)
        self.port = port
        self.conf = os.path.join(self.dir, "unbound.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join([
                "server:",
                "  interface: 127.0.0.1@%d" % port,
                "  port: %d" % port,
                "  do-daemonize: no",
                '  chroot: ""',
                '  username: ""',
                '  directory: "%s"' % self.dir,
                '  pidfile: "%s/unbound.pid"' % self.dir,
                "  use-syslog: no",
                '  logfile: ""',
                "  verbosity: 1",
                "  num-threads: 1",
                "  do-ip6: no",
                "  do-not-query-localhost: no",
                '  module-config: "respip iterator"',
                "  access-control: 127.0.0.0/8 allow",
                '  local-zone: "test." nodefault',
                "rpz:",
                '  name: "%s"' % zone,
                "  primary: 127.0.0.1@%d" % primary_port,
                '  zonefile: ""',
                "  allow-notify: 127.0.0.1",
            ]) + "\n")
        self.proc = None

    def start(self):
        err = open(os.path.join(self.dir, "stderr"), "w")
        self.proc = subprocess.Popen([UNBOUND, "-d", "-c", self.conf], stdout=err, stderr=err,
                                     stdin=subprocess.DEVNULL)
        err.close()
        cw._register(self.proc)

    def stop(self):
        if self.proc is not None:
            cw._stop_proc(self.proc)

    def log(self):
        with open(os.path.join(self.dir, "stderr"), errors="replace") as f:
            return f.read()[-6000:]
