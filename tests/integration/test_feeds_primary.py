# SPDX-License-Identifier: MIT
"""c2wall as primary of its policy zones (docs/policy.md "c2wall as primary", "A fleet").

One c2wall (P) serves two policy zones: an RPZ file with its own SOA, TSIG-protected, and a
hosts list turned into RPZ, open to listed addresses. Real secondaries follow it: BIND 9
`named` (response-policy, the RPZ zone as `type secondary`, TSIG), Unbound (`rpz:` with
`primary:` P and an empty `zonefile:`, the hosts zone) and a second c2wall (`primaries:` P,
TSIG). Checked: AXFR at start, then after a change of the files and a reload of P, NOTIFY ->
IXFR, and each secondary blocks what P blocks (local data A 10.9.x.y that no real name has);
REFUSED outside allow-transfer, unsigned or wrongly signed, AXFR over UDP, names in a policy
zone; IXFR up to date (one SOA), IXFR from a serial not in the journal (AXFR-style); after a
restart of P the journal on disk still serves IXFR; counters. A chain: the second c2wall
serves the zone onward to a third (C3), which gets P's change by IXFR through it."""

import os
import socket
import subprocess
import time
import unittest
import unittest.mock

import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.tsigkeyring
import dns.zone

import c2w_world as cw
import events_util as eu
from c2w_world import rrset_values, describe
from rpz_peers import UnboundRpz

NAMED = "/usr/sbin/named"
TSIG_KEYGEN = "/usr/sbin/tsig-keygen"

RPZ_ZONE = "c2.primary.example."
HOSTS_ZONE = "hosts.primary.example."
BIG_ZONE = "big.primary.example."
BIG_NAMES = 120000  # about 6 MB of AXFR: more than the sockets buffer
WORLD = P = C2 = C3 = BIND = UNB = None
TMP = None
KEY = {}
PORTS = {}


def keygen(name, alg="hmac-sha256"):
    text = cw.run([TSIG_KEYGEN, "-a", alg, name])
    path = os.path.join(TMP, name + ".key")
    with open(path, "w") as f:
        f.write(text)
    return path, text.split('secret "')[1].split('"')[0]


def write_rpz(serial, names):
    """The RPZ file P serves: its own SOA serial, local data per name."""
    lines = ["$ORIGIN %s" % RPZ_ZONE, "$TTL 60",
             "@ SOA ns.%s hostmaster.%s %d 3600 600 86400 60" % (RPZ_ZONE, RPZ_ZONE, serial),
             "@ NS localhost."]
    lines += ["%s A %s" % (n, a) for n, a in names]
    lines.append("nx.example.test CNAME .")
    with open(os.path.join(TMP, "c2.rpz"), "w") as f:
        f.write("\n".join(lines) + "\n")


def write_hosts(names):
    with open(os.path.join(TMP, "hosts.txt"), "w") as f:
        f.write("# hosts list, no serial of its own\n")
        f.write("".join("%s %s\n" % (a, n) for n, a in names))


class Named:
    def __init__(self, port):
        self.dir = os.path.join(TMP, "named")
        os.makedirs(self.dir)
        self.port = port
        self.conf = os.path.join(self.dir, "named.conf")
        with open(self.conf, "w") as f:
            f.write('include "%s";\n' % KEY["xfr"][0])
            f.write('options { directory "%(d)s"; pid-file "%(d)s/named.pid"; '
                    'listen-on port %(port)d { 127.0.0.1; }; listen-on-v6 { none; }; '
                    'recursion yes; allow-query { any; }; allow-recursion { any; }; '
                    'dnssec-validation no; notify no; session-keyfile "%(d)s/session.key"; '
                    'managed-keys-directory "%(d)s"; '
                    'response-policy { zone "%(zone)s" min-update-interval 0; } qname-wait-recurse no; };\n'
                    % {"d": self.dir, "port": port, "zone": RPZ_ZONE.rstrip(".")})
            f.write("controls { };\n")
            f.write('zone "%s" { type secondary; file "%s/rpz.db"; '
                    'primaries { 127.0.0.1 port %d key "xfr-key"; }; };\n'
                    % (RPZ_ZONE.rstrip("."), self.dir, PORTS["p"]))
        self.proc = None

    def start(self):
        err = open(os.path.join(self.dir, "stderr"), "w")
        self.proc = subprocess.Popen([NAMED, "-g", "-n", "1", "-c", self.conf], stdout=err,
                                     stderr=err, stdin=subprocess.DEVNULL)
        err.close()
        cw._register(self.proc)

    def log(self):
        with open(os.path.join(self.dir, "stderr"), errors="replace") as f:
            return "".join(ln for ln in f if "resolving" not in ln)[-8000:]


def query(port, qname, rdtype="A", tcp=False, source=None, timeout=3.0):
    q = dns.message.make_query(qname, rdtype)
    if tcp:
        return dns.query.tcp(q, "127.0.0.1", port=port, timeout=timeout, source=source)
    return dns.query.udp(q, "127.0.0.1", port=port, timeout=timeout, source=source)


def a_of(port, qname):
    try:
        m = query(port, qname)
    except Exception:  # noqa: BLE001 - a secondary still starting
        return []
    return rrset_values(m, "answer", qname, "A")


def wait_a(port, qname, want, timeout=30.0, who=""):
    deadline = time.monotonic() + timeout
    got = None
    while time.monotonic() < deadline:
        got = a_of(port, qname)
        if got == want:
            return time.monotonic()
        time.sleep(0.1)
    raise AssertionError("%s: %s A %r, wanted %r after %.0fs" % (who, qname, got, want, timeout))


def stats(r):
    return eu.control_json(r, "stats")


def xfr_state(r, name):
    for z in eu.control_json(r, "xfr-out")["zones"]:
        if z["name"] == name:
            return z
    raise AssertionError("zone %s not served" % name)


def keyring(secret, name="xfr-key"):
    return dns.tsigkeyring.from_text({name: ("hmac-sha256", secret)})


def transfer(zone, rdtype="AXFR", serial=None, keyname=None, secret=None, source=None,
             port=None):
    """All messages of a transfer from P (raw: the records as P sends them)."""
    q = dns.message.make_query(zone, rdtype)
    if serial is not None:
        soa = dns.rrset.from_text(zone, 0, "IN", "SOA",
                                  ". . %d 0 0 0 0" % serial)
        q.authority.append(soa)
    if keyname:
        q.use_tsig(keyring(secret, keyname), keyname=keyname)
    msgs = []
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(10)
    if source:
        s.bind((source, 0))
    s.connect(("127.0.0.1", port or PORTS["p"]))
    try:
        dns.query.send_tcp(s, q)
        tsig_ctx = None
        request_mac = q.mac if keyname else b""
        while True:
            ln = _recv_exact(s, 2)
            wire = _recv_exact(s, ln[0] << 8 | ln[1])
            m = dns.message.from_wire(wire, keyring=q.keyring, request_mac=request_mac,
                                      xfr=True, one_rr_per_rrset=True, tsig_ctx=tsig_ctx,
                                      multi=bool(msgs), question_only=False)
            tsig_ctx = m.tsig_ctx
            msgs.append(m)
            if m.rcode() != dns.rcode.NOERROR or rdtype == "SOA":
                return msgs
            rrs = [rr for m2 in msgs for rr in m2.answer]
            soas = [rr for rr in rrs if rr.rdtype == dns.rdatatype.SOA]
            first = soas[0][0].serial if soas else None
            if len(soas) >= 2 and soas[-1][0].serial == first and \
                    rrs[-1].rdtype == dns.rdatatype.SOA:
                return msgs
            if len(rrs) == 1 and soas and serial is not None and first == serial:
                return msgs  # up to date: one SOA
    finally:
        s.close()


def _recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError("connection closed after %d of %d bytes" % (len(b), n))
        b += c
    return b


def records(msgs):
    return [rr for m in msgs for rr in m.answer]


def setUpModule():
    global WORLD, P, C2, C3, BIND, UNB, TMP
    WORLD = cw.World(sign=False).start()
    TMP = os.path.join(WORLD.tmp, "primary")
    os.makedirs(TMP)
    KEY["xfr"] = keygen("xfr-key")
    KEY["wrong"] = keygen("xfr-key-wrong")
    for k in ("p", "bind", "unbound", "c2", "c3"):
        PORTS[k] = cw.free_port()
    write_rpz(1, [("evil1.example.test", "10.9.0.1"), ("evil2.example.test", "10.9.0.2")])
    write_hosts([("hosted1.example.test", "10.9.1.1")])
    with open(os.path.join(TMP, "big.txt"), "w") as f:
        f.write("".join("10.8.%d.%d big%d.example.test\n" % (i >> 8 & 255, i & 255, i)
                        for i in range(BIG_NAMES)))
    P = cw.make_resolver(
        WORLD, kind="c2wall", validate=False, listen=("127.0.0.1", PORTS["p"]), name="primary",
        extra={"policy": {
            "state-dir": os.path.join(TMP, "pstate"),
            "journal-versions": 5,
            "zones": [
                {"name": RPZ_ZONE, "file": os.path.join(TMP, "c2.rpz"),
                 "allow-transfer": ["127.0.0.1/32"],
                 "transfer-key-file": KEY["xfr"][0],
                 "notify": ["127.0.0.1@%d" % PORTS["bind"], "127.0.0.1@%d" % PORTS["c2"]]},
                {"name": HOSTS_ZONE, "file": os.path.join(TMP, "hosts.txt"),
                 "format": "hosts", "allow-transfer": ["127.0.0.1"],
                 "notify": ["127.0.0.1@%d" % PORTS["unbound"]]},
                {"name": BIG_ZONE, "file": os.path.join(TMP, "big.txt"), "format": "hosts",
                 "allow-transfer": ["127.0.0.3", "127.0.0.4"]},
            ],
            "transfers-out-max": 8, "transfers-out-per-client": 2}})
    P.start()
    C2 = cw.make_resolver(
        WORLD, kind="c2wall", validate=False, listen=("127.0.0.1", PORTS["c2"]), name="fleet",
        extra={"policy": {
            "state-dir": os.path.join(TMP, "c2state"),
            "zones": [{"name": RPZ_ZONE, "primaries": ["127.0.0.1@%d" % PORTS["p"]],
                       "tsig-key-file": KEY["xfr"][0], "notify-interval": "0s",
                       "refresh-min": "60s",
                       # serves the zone onward too (a chain), to C3
                       "allow-transfer": ["127.0.0.1/32"],
                       "notify": ["127.0.0.1@%d" % PORTS["c3"]]}]}})
    C2.start()
    C3 = cw.make_resolver(
        WORLD, kind="c2wall", validate=False, listen=("127.0.0.1", PORTS["c3"]), name="chain",
        extra={"policy": {
            "state-dir": os.path.join(TMP, "c3state"),
            "zones": [{"name": RPZ_ZONE, "primaries": ["127.0.0.1@%d" % PORTS["c2"]],
                       "notify-interval": "0s", "refresh-min": "60s"}]}})
    C3.start()
    BIND = Named(PORTS["bind"])
    BIND.start()
    UNB = UnboundRpz(TMP, PORTS["unbound"], HOSTS_ZONE, PORTS["p"])
    UNB.start()


def tearDownModule():
    try:
        for s in (BIND, UNB):
            if s is not None and s.proc is not None:
                cw._stop_proc(s.proc)
        for r in (C3, C2, P):
            if r is not None:
                r.stop()
    finally:
        WORLD.stop()


class TestPrimary(unittest.TestCase):
    def test_1_fleet_follows(self):
        """AXFR at start, then reload of P -> NOTIFY -> IXFR on every secondary."""
        try:
            self._fleet_follows()
        except AssertionError:
            print(BIND.log())
            print(UNB.log())
            C3.print_log()
            C2.print_log()
            P.print_log()
            raise

    def _fleet_follows(self):
        wait_a(PORTS["c2"], "evil1.example.test.", ["10.9.0.1"], who="c2wall secondary")
        wait_a(PORTS["c3"], "evil1.example.test.", ["10.9.0.1"], who="c2wall C3 (chain)")
        # C3 is as current as C2 before the change (its first copy came by AXFR).
        deadline = time.monotonic() + 20
        while eu.control_json(C3, "feeds")["zones"][0]["serial"] != 1 and \
                time.monotonic() < deadline:
            time.sleep(0.1)
        c2s = stats(C2)
        wait_a(PORTS["bind"], "evil1.example.test.", ["10.9.0.1"], who="BIND")
        wait_a(PORTS["unbound"], "hosted1.example.test.", ["10.9.1.1"], who="Unbound")
        self.assertEqual(a_of(PORTS["p"], "evil1.example.test."), ["10.9.0.1"])
        s = stats(P)
        self.assertGreaterEqual(s["xfr_out_axfr"] + s["xfr_out_ixfr_full"], 3, s)
        before = s["xfr_out_ixfr"]

        # A change on P: one rule out, one in, a new serial; a new host in the list.
        write_rpz(2, [("evil1.example.test", "10.9.0.1"), ("evil3.example.test", "10.9.0.3")])
        write_hosts([("hosted1.example.test", "10.9.1.1"), ("hosted2.example.test", "10.9.1.2")])
        t0 = time.monotonic()
        P.reload()
        wait_a(PORTS["p"], "evil3.example.test.", ["10.9.0.3"], 10, "primary")
        t_c2 = wait_a(PORTS["c2"], "evil3.example.test.", ["10.9.0.3"], 20, "c2wall secondary")
        t_bind = wait_a(PORTS["bind"], "evil3.example.test.", ["10.9.0.3"], 20, "BIND")
        t_unb = wait_a(PORTS["unbound"], "hosted2.example.test.", ["10.9.1.2"], 30, "Unbound")
        t_c3 = wait_a(PORTS["c3"], "evil3.example.test.", ["10.9.0.3"], 30, "c2wall C3 (chain)")
        print("after reload of P: c2wall %.2fs, BIND %.2fs, Unbound %.2fs, c2wall behind "
              "c2wall %.2fs" % (t_c2 - t0, t_bind - t0, t_unb - t0, t_c3 - t0))
        # The chain: C3 got the change from C2 by IXFR, and blocks as P does.
        self.assertEqual(a_of(PORTS["c3"], "evil2.example.test."), [])
        c2s_after = stats(C2)
        self.assertGreater(c2s_after["xfr_out_ixfr"], c2s["xfr_out_ixfr"], (c2s, c2s_after))
        self.assertEqual(c2s_after["xfr_out_ixfr_full"], c2s["xfr_out_ixfr_full"])
        self.assertEqual(c2s_after["xfr_out_axfr"], c2s["xfr_out_axfr"])
        c3z = eu.control_json(C3, "feeds")["zones"][0]
        self.assertGreaterEqual(c3z["ixfr"], 1, c3z)
        # The rule taken out is gone on the secondaries too (BIND serves the zone itself).
        self.assertEqual(a_of(PORTS["c2"], "evil2.example.test."), [])
        m = query(PORTS["bind"], "evil2.example.test." + RPZ_ZONE, "A")
        self.assertEqual(m.rcode(), dns.rcode.NXDOMAIN, describe(m))
        m = query(PORTS["bind"], "evil3.example.test." + RPZ_ZONE, "A")
        self.assertEqual(rrset_values(m, "answer", "evil3.example.test." + RPZ_ZONE, "A"),
                         ["10.9.0.3"], describe(m))
        s = stats(P)
        self.assertGreaterEqual(s["xfr_out_ixfr"] - before, 2, s)  # BIND and c2wall by IXFR
        z = xfr_state(P, RPZ_ZONE)
        self.assertEqual(z["serial"], 2, z)
        self.assertGreaterEqual(z["journal_entries"], 1, z)
        self.assertGreaterEqual(z["notify_acked"], 4, z)  # two versions, two secondaries
        # The second c2wall's state is written just after the new policy goes in force.
        deadline = time.monotonic() + 10
        while True:
            feeds = eu.control_json(C2, "feeds")["zones"][0]
            if feeds["serial"] == 2 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(feeds["serial"], 2, feeds)
        self.assertGreaterEqual(feeds["ixfr"], 1, feeds)
        # The second c2wall serves the zone onward: the IXFR went in as an increment and
        # what it serves after it (made from the increment) is what it enforces.
        self.assertEqual(feeds["last_apply"], "incremental", feeds)
        x2 = xfr_state(C2, RPZ_ZONE)
        self.assertGreaterEqual(x2["exports_incremental"], 1, x2)
        names = {rr.name.to_text() for m in transfer(RPZ_ZONE, port=PORTS["c2"])
                 for rr in m.answer}
        self.assertIn("evil3.example.test." + RPZ_ZONE, names)
        self.assertNotIn("evil2.example.test." + RPZ_ZONE, names)

    def test_2_refused(self):
        """The blocklist is not public."""
        s0 = stats(P)
        # Not in allow-transfer (127.0.0.2): AXFR, SOA over UDP and TCP, all REFUSED.
        msgs = transfer(HOSTS_ZONE, source="127.0.0.2")
        self.assertEqual(msgs[0].rcode(), dns.rcode.REFUSED, describe(msgs[0]))
        m = query(PORTS["p"], HOSTS_ZONE, "SOA", source="127.0.0.2")
        self.assertEqual(m.rcode(), dns.rcode.REFUSED, describe(m))
        # Names inside a policy zone are never answered from the resolver, not even allowed.
        m = query(PORTS["p"], "hosted1.example.test." + HOSTS_ZONE, "A")
        self.assertEqual(m.rcode(), dns.rcode.REFUSED, describe(m))
        # AXFR over UDP.
        m = query(PORTS["p"], HOSTS_ZONE, "AXFR")
        self.assertEqual(m.rcode(), dns.rcode.REFUSED, describe(m))
        # A key is required for the RPZ zone: unsigned -> REFUSED, wrong secret -> NOTAUTH.
        msgs = transfer(RPZ_ZONE)
        self.assertEqual(msgs[0].rcode(), dns.rcode.REFUSED, describe(msgs[0]))
        with self.assertRaises(dns.tsig.PeerBadSignature):
            transfer(RPZ_ZONE, keyname="xfr-key", secret=KEY["wrong"][1])
        with self.assertRaises(dns.tsig.PeerBadKey):
            transfer(RPZ_ZONE, keyname="other-key", secret=KEY["xfr"][1])
        s = stats(P)
        self.assertGreaterEqual(s["xfr_out_refused"] - s0["xfr_out_refused"], 3, s)
        self.assertEqual(s["xfr_out_refused_udp"] - s0["xfr_out_refused_udp"], 1, s)
        self.assertGreaterEqual(s["xfr_out_tsig_bad"] - s0["xfr_out_tsig_bad"], 3, s)

    def test_2b_badtime_signed(self):
        """RFC 8945 5.2.3: a request with a good MAC but a clock an hour off gets NOTAUTH with
        TSIG error BADTIME, signed with the key (the MAC checks against the request's), the
        request's Time Signed, and our time in Other Data."""
        s0 = stats(P)
        then = int(time.time()) - 3600
        q = dns.message.make_query(RPZ_ZONE, "SOA")
        q.use_tsig(keyring(KEY["xfr"][1]), keyname="xfr-key")
        with unittest.mock.patch("time.time", return_value=float(then)):
            wire = q.to_wire()
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(5)
        try:
            s.sendto(wire, ("127.0.0.1", PORTS["p"]))
            ans = s.recv(65535)
        finally:
            s.close()
        self.assertEqual(ans[3] & 0x0f, dns.rcode.NOTAUTH)
        # The TSIG record is the last one: after the header and the question, alone.
        self.assertEqual(ans[4:12], b"\x00\x01\x00\x00\x00\x00\x00\x01")
        off = 12 + len(dns.name.from_text(RPZ_ZONE).to_wire()) + 4
        key_name = dns.name.from_text("xfr-key").to_wire()
        self.assertEqual(ans[off:off + len(key_name)], key_name)
        rd_off = off + len(key_name) + 10
        rdlen = ans[rd_off - 2] << 8 | ans[rd_off - 1]
        tsig = dns.rdata.from_wire(dns.rdataclass.ANY, dns.rdatatype.TSIG, ans, rd_off, rdlen)
        self.assertEqual(tsig.error, dns.rcode.BADTIME)
        self.assertEqual(tsig.time_signed, then)
        self.assertEqual(len(tsig.other), 6)
        ours = int.from_bytes(tsig.other, "big")
        self.assertLess(abs(ours - time.time()), 60, ours)
        self.assertEqual(len(tsig.mac), 32)  # hmac-sha256: signed, not an empty MAC
        # The MAC over the answer without its TSIG record, chained to the request's MAC.
        unsigned = bytearray(ans[:off])
        unsigned[10:12] = b"\x00\x00"  # ARCOUNT without the TSIG record
        key = dns.tsig.Key("xfr-key", KEY["xfr"][1], "hmac-sha256")
        mine, _ = dns.tsig.sign(bytes(unsigned), key, tsig, time=tsig.time_signed,
                                request_mac=q.mac)
        self.assertEqual(mine.mac, tsig.mac)
        # dnspython, reading it as a client does, reports the peer's BADTIME.
        with self.assertRaises(dns.tsig.PeerBadTime):
            dns.message.from_wire(ans, keyring=q.keyring, request_mac=q.mac)
        self.assertEqual(stats(P)["xfr_out_tsig_bad"] - s0["xfr_out_tsig_bad"], 1)

    def test_3_served_records(self):
        """What is served is the zone as P enforces it, signed message by message."""
        msgs = transfer(RPZ_ZONE, keyname="xfr-key", secret=KEY["xfr"][1])
        self.assertEqual(msgs[0].rcode(), dns.rcode.NOERROR, describe(msgs[0]))
        text = sorted(rr.to_text() for rr in records(msgs) if rr.rdtype != dns.rdatatype.SOA)
        self.assertIn("evil1.example.test.%s 60 IN A 10.9.0.1" % RPZ_ZONE, text)
        self.assertIn("nx.example.test.%s 60 IN CNAME ." % RPZ_ZONE, text)
        self.assertIn("%s 60 IN NS localhost." % RPZ_ZONE, text)
        # The hosts list as RPZ local data; a serial derived by P (no SOA in a hosts file).
        msgs = transfer(HOSTS_ZONE)
        rrs = records(msgs)
        self.assertEqual(rrs[0].rdtype, dns.rdatatype.SOA)
        self.assertIn("hosted2.example.test.%s 300 IN A 10.9.1.2" % HOSTS_ZONE,
                      [rr.to_text() for rr in rrs])
        # SOA over UDP for an allowed client (secondaries poll it).
        m = query(PORTS["p"], HOSTS_ZONE, "SOA")
        self.assertEqual(m.rcode(), dns.rcode.NOERROR, describe(m))
        self.assertEqual(rrs[0][0].serial, m.answer[0][0].serial)

    def test_4_ixfr_forms(self):
        z = xfr_state(P, HOSTS_ZONE)
        cur = z["serial"]
        # Up to date: one SOA.
        msgs = transfer(HOSTS_ZONE, "IXFR", serial=cur)
        rrs = records(msgs)
        self.assertEqual(len(rrs), 1, rrs)
        self.assertEqual(rrs[0][0].serial, cur)
        # From the previous version: RFC 1995 incremental form (SOA new, SOA old, ...).
        msgs = transfer(HOSTS_ZONE, "IXFR", serial=cur - 1)
        rrs = records(msgs)
        self.assertEqual([rr[0].serial for rr in rrs if rr.rdtype == dns.rdatatype.SOA],
                         [cur, cur - 1, cur, cur], rrs)
        self.assertIn("hosted2.example.test.%s 300 IN A 10.9.1.2" % HOSTS_ZONE,
                      [rr.to_text() for rr in rrs])
        # A serial not in the journal: the whole zone, AXFR-style.
        s0 = stats(P)
        msgs = transfer(HOSTS_ZONE, "IXFR", serial=cur - 1000)
        rrs = records(msgs)
        self.assertEqual([rr[0].serial for rr in rrs if rr.rdtype == dns.rdatatype.SOA],
                         [cur, cur])
        self.assertEqual(stats(P)["xfr_out_ixfr_full"] - s0["xfr_out_ixfr_full"], 1)

    def test_5_restart_keeps_journal(self):
        """After a restart P still serves IXFR from the journal on disk, same serial."""
        z = xfr_state(P, RPZ_ZONE)
        P.stop()
        P.start()
        z2 = xfr_state(P, RPZ_ZONE)
        self.assertEqual(z2["serial"], z["serial"])
        self.assertGreaterEqual(z2["journal_entries"], 1, z2)
        msgs = transfer(RPZ_ZONE, "IXFR", serial=1, keyname="xfr-key", secret=KEY["xfr"][1])
        rrs = records(msgs)
        self.assertEqual([rr[0].serial for rr in rrs if rr.rdtype == dns.rdatatype.SOA],
                         [2, 1, 2, 2], rrs)


    def test_6_caps_and_worker(self):
        """Transfers held open by clients that do not read: the per-client cap refuses a
        third, and the workers keep answering queries meanwhile (a transfer is written in
        chunks as the socket drains, never in one go)."""
        s0 = stats(P)
        held = []
        for _ in range(2):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.bind(("127.0.0.3", 0))
            s.settimeout(10)
            s.connect(("127.0.0.1", PORTS["p"]))
            dns.query.send_tcp(s, dns.message.make_query(BIG_ZONE, "AXFR"))
            held.append(s)
        try:
            deadline = time.monotonic() + 10
            while stats(P)["xfr_out_axfr"] - s0["xfr_out_axfr"] < 2 and \
                    time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertEqual(eu.control_json(P, "xfr-out")["active"], 2)
            msgs = transfer(BIG_ZONE, source="127.0.0.3")
            self.assertEqual(msgs[0].rcode(), dns.rcode.REFUSED, describe(msgs[0]))
            self.assertEqual(stats(P)["xfr_out_limited"] - s0["xfr_out_limited"], 1)
            worst = 0.0
            for i in range(50):
                t = time.monotonic()
                self.assertEqual(a_of(PORTS["p"], "evil1.example.test."), ["10.9.0.1"])
                worst = max(worst, time.monotonic() - t)
            print("50 queries during two stalled 6 MB transfers: slowest %.1f ms"
                  % (worst * 1000))
            self.assertLess(worst, 1.0)
            # Another client is not held back by this one's cap; it gets the whole zone.
            msgs = transfer(BIG_ZONE, source="127.0.0.4")
            rrs = records(msgs)
            self.assertEqual(len(rrs), BIG_NAMES + 3)  # SOA, NS, names, SOA
            print("AXFR of %d records in %d messages" % (len(rrs), len(msgs)))
        finally:
            for s in held:
                s.close()
        deadline = time.monotonic() + 10
        while eu.control_json(P, "xfr-out")["active"] != 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(eu.control_json(P, "xfr-out")["active"], 0)

    def test_7_export_off_the_main_thread(self):
        """A reload that changes the 120,000-name served zone: its next version (a full
        export of the zone, and the journal difference) is made on the export thread, so the
        control socket keeps answering until it is served (with the export on the main
        thread no answer came between the reload and the version)."""
        with open(os.path.join(TMP, "big.txt"), "a") as f:
            f.write("10.8.255.254 bignew.example.test\n")
        marker = "xfr-out: zone %s: serial" % BIG_ZONE
        before = P.stderr_text().count(marker)
        served = eu.control_json(P, "xfr-out")
        z0 = [z for z in served["zones"] if z["name"] == BIG_ZONE][0]
        polls = eu.Poller(lambda: eu.control(P, "stats", timeout=60), every=0.005,
                          max_n=20000)
        polls.start()
        try:
            time.sleep(0.05)
            t0 = time.monotonic()
            self.assertEqual(eu.control(P, "reload", timeout=120), "ok")
            deadline = time.monotonic() + 60
            while P.stderr_text().count(marker) == before and time.monotonic() < deadline:
                time.sleep(0.002)
            t1 = time.monotonic()
        finally:
            polls.finish()
        self.assertGreater(P.stderr_text().count(marker), before, "no new version")
        during = polls.during(t0, t1, lambda o: o.startswith("{"))
        print("reload + export of %d names: %.0f ms, %d control answers meanwhile"
              % (BIG_NAMES + 1, (t1 - t0) * 1000, len(during)))
        self.assertGreaterEqual(len(during), 3)
        z = [z for z in eu.control_json(P, "xfr-out")["zones"] if z["name"] == BIG_ZONE][0]
        self.assertEqual(z["versions"], z0["versions"] + 1)
        self.assertEqual(z["records"], z0["records"] + 1, (z0, z))
        self.assertEqual(a_of(PORTS["p"], "bignew.example.test."), ["10.8.255.254"])
        self.assertEqual(z["error"], "")


if __name__ == "__main__":
    cw.main()
