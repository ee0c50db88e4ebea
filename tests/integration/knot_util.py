# SPDX-License-Identifier: MIT
"""A real Knot DNS `knotd` as the primary of RPZ zones for the feed tests, and TSIG keys as
BIND's tsig-keygen writes them."""

import os
import subprocess

import c2w_world as cw

KNOTD = "/usr/sbin/knotd"
KNSUPDATE = "/usr/bin/knsupdate"
TSIG_KEYGEN = "/usr/sbin/tsig-keygen"


def rpz_zone_text(zone, rules, prefix, digits, every, addr):
    """An RPZ zone @zone of @rules rules, owners "<prefix><i, @digits wide>.example.test": every
    @every-th a local-data A of addr(i) (a visible answer), the rest NXDOMAIN."""
    lines = ["$ORIGIN %s" % zone, "$TTL 300",
             "@ SOA ns.%s hostmaster.%s 1 3600 600 86400 300" % (zone, zone), "@ NS localhost."]
    for i in range(rules):
        owner = "%s%0*d.example.test" % (prefix, digits, i)
        lines.append("%s A %s" % (owner, addr(i)) if i % every == 0 else "%s CNAME ." % owner)
    return "\n".join(lines) + "\n"


def tsig_keygen(directory, name, alg="hmac-sha256"):
    """A BIND key file <directory>/<name>.key; returns (path, secret)."""
    text = cw.run([TSIG_KEYGEN, "-a", alg, name])
    path = os.path.join(directory, name + ".key")
    with open(path, "w") as f:
        f.write(text)
    return path, text.split('secret "')[1].split('"')[0]


class KnotPrimary:
    """knotd on 127.0.0.1@@port, one worker of each kind, serving @zones ([(name, text)]) from
    files under @directory with a journal of changes, transfers and updates allowed with key
    @key_id (@alg, @secret), NOTIFY to 127.0.0.1@@notify_port when given."""

    def __init__(self, directory, port, zones, key_id, alg, secret, notify_port=None):
        self.dir = directory
        os.makedirs(self.dir)
        self.port = port
        self.key = (key_id, alg, secret)
        self.first = zones[0][0]
        remote = ("remote:\n  - id: c2wall\n    address: 127.0.0.1@%d\n" % notify_port
                  if notify_port else "")
        zconf = ""
        for name, text in zones:
            zf = os.path.join(self.dir, name + "zone")
            with open(zf, "w") as f:
                f.write(text)
            zconf += ("  - domain: %s\n    storage: \"%s\"\n    file: \"%s\"\n%s"
                      "    acl: xfr\n    zonefile-sync: -1\n    journal-content: changes\n"
                      % (name, self.dir, zf, "    notify: c2wall\n" if notify_port else ""))
        self.conf = os.path.join(self.dir, "knot.conf")
        with open(self.conf, "w") as f:
            f.write("server:\n    rundir: \"%(d)s\"\n    listen: 127.0.0.1@%(port)d\n"
                    "    udp-workers: 1\n    tcp-workers: 1\n    background-workers: 1\n"
                    "log:\n  - target: stderr\n    any: info\n"
                    "database:\n    storage: \"%(d)s\"\n"
                    "key:\n  - id: %(kid)s\n    algorithm: %(alg)s\n    secret: %(secret)s\n"
                    "%(remote)s"
                    "acl:\n  - id: xfr\n    key: %(kid)s\n    action: [transfer, update]\n"
                    "zone:\n%(zones)s"
                    % {"d": self.dir, "port": port, "kid": key_id, "alg": alg,
                       "secret": secret, "remote": remote, "zones": zconf})
        self.proc = None

    def start(self):
        err = open(os.path.join(self.dir, "stderr"), "w")
        self.proc = subprocess.Popen([KNOTD, "-c", self.conf], stdout=err, stderr=err,
                                     stdin=subprocess.DEVNULL)
        err.close()
        cw._register(self.proc)
        cw.wait_answer("127.0.0.1", self.port, self.first, "SOA", 20, self.proc)

    def update(self, zone, lines):
        """One dynamic update of @zone (knsupdate, signed with the key)."""
        cmds = "server 127.0.0.1 %d\nzone %s\n%s\nsend\n" % (self.port, zone, "\n".join(lines))
        r = subprocess.run([KNSUPDATE, "-y", "%s:%s:%s" % (self.key[1], self.key[0],
                                                           self.key[2])],
                           input=cmds, text=True, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=30)
        if r.returncode != 0:
            raise AssertionError("knsupdate failed: %s" % r.stdout)

    def transaction(self, zone, unset, add):
        """One change of @zone through knotd's control socket (python3-libknot), of any size:
        @unset owners (relative) lose every record, @add lines "owner TYPE data" (relative)
        are added with TTL 300. Knot makes it one new serial, sent as one IXFR."""
        import libknot.control
        k = libknot.control.KnotCtl()
        k.connect(os.path.join(self.dir, "knot.sock"))
        k.set_timeout(120)
        try:
            def cmd(**kw):
                k.send_block(**kw)
                return k.receive_block()
            cmd(cmd="zone-begin", zone=zone)
            for owner in unset:
                cmd(cmd="zone-unset", zone=zone, owner=owner)
            for line in add:
                owner, rtype, data = line.split(None, 2)
                cmd(cmd="zone-set", zone=zone, owner=owner, ttl="300", rtype=rtype, data=data)
            cmd(cmd="zone-commit", zone=zone)
            k.send(libknot.control.KnotCtlType.END)
        finally:
            k.close()

    def stop(self):
        if self.proc is not None:
            cw._stop_proc(self.proc)
