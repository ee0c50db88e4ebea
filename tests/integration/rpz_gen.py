# SPDX-License-Identifier: MIT
"""Generated differential testing of RPZ against BIND 9 (issue 13).

A seed makes everything: a random DNS world served by NSD (root, two TLDs, second-level zones
with in- and out-of-bailiwick name servers, several zones sharing one server address, a
sub-delegation, CNAME chains across zones, DNAME, wildcards, empty non-terminals, NXDOMAIN and
NODATA names), three random RPZ policy zones (every trigger and action) and a list of queries
(many types, ANY included, five client addresses, UDP and TCP). The same queries go to a
reference BIND 9 `named` and to the resolver under test (c2wall, or a second `named` to
validate the harness), both recursive from the world's root and loading the same policy
files; the policy zones are run in their order and then reversed (two runs).

Used by tests/integration/test_policy_gen.py (CI size, fixed seed) and scripts/rpz-diff.py
(any seed and size, classified summary). Nothing here is specific to a test framework.

Compared per query: RCODE, TC, answer RRsets (owner, type, sorted rdata; the TTL only when
it is a policy TTL, i.e. a synthesized record, since upstream TTLs age differently in each
cache) and the owner and TTL of the policy zone SOA in the additional section (add-soa).
Not compared (intended, docs/policy.md "Differences from BIND"): AA and other flags but TC,
the authority section, EDE, and ANY queries that no policy rule rewrote (c2wall answers those
with the RFC 8482 minimal HINFO; BIND with whatever its cache holds).
"""

import concurrent.futures
import os
import random
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

import c2w_world as cw

NAMED = "/usr/sbin/named"
NSD = "/usr/sbin/nsd"
NET = "127.54.0."          # the generated world's server addresses (own range, own lock)
# Runs sharing one network namespace take turns; scripts/nstest.sh gives each run its own
# namespace and its own world lock, so the generated world's lock goes with it.
LOCK_PATH = os.environ.get("C2W_GEN_LOCK") or (
    os.environ["C2W_WORLD_LOCK"] + "-gen" if os.environ.get("C2W_WORLD_LOCK")
    else "/tmp/c2w-gen-world.lock")
TLDS = ["gen.", "ex."]
CLIENTS = ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]
POLICY_ZONES = ["p1.rpz.", "p2.rpz.", "p3.rpz."]
RULE_TTLS = [60, 120, 600, 7200]   # never an upstream TTL (those are 3600 and age down)
SOA_TIMERS = "1 3600 900 604800 300"
RPZ_SOA_MIN = 180                   # policy SOA: TTL 300, MINIMUM 180 -> SOA TTL 180
RPZ_OTHER = ["x.rpz-foo", "rpz-bar"]  # owners with rpz- labels that are no trigger labels
QTYPES = [("A", 30), ("AAAA", 12), ("TXT", 12), ("MX", 8), ("CNAME", 10), ("ANY", 12),
          ("NS", 4), ("SOA", 3), ("SRV", 3)]


# Fixed records in every world, for the explicit cases (CASES) of each difference class.
CASE_NS_ZONE = "nsc.z1.ex."  # delegated below z1.ex. to ns.nsc.z1.ex. (World.case_zone())
CASE_WORLD = {
    "z0.gen.": ["chain.z0.gen. CNAME mid.z1.ex.",
                "nxc.z0.gen. CNAME gone.z1.ex.", "any.z0.gen. A 192.0.2.200",
                "any.z0.gen. TXT \"any\""],
    "z1.ex.": ["mid.z1.ex. CNAME end.z0.gen.", "tgt.z1.ex. A 192.0.2.201",
               "pre.z1.ex. CNAME chain.z0.gen.", "dn.z1.ex. DNAME z0.gen.",
               "nsa.z1.ex. CNAME www.nsc.z1.ex."],
}
# Policy zones for the explicit cases (p1 first): one rule set per class of issue 13.
CASE_POLICY = {
    "p1.rpz.": [
        "mid.z1.ex 60 CNAME .",                  # chain: a later name's rule in zone 1
        "tgt.z1.ex 60 CNAME .",                  # DNAME: the synthesized target
        "rw.z0.gen 60 CNAME gone.z1.ex.",        # rewrite to a name that does not exist
        "rw2.z0.gen 60 CNAME *.z1.ex.",          # "*." rewrite: followed for CNAME/ANY too
        "rw3.z0.gen 60 CNAME tgt2.z1.ex.",       # plain rewrite: CNAME/ANY get it alone
        "gone.z1.ex 60 CNAME rpz-tcp-only.",     # TCP-only over UDP keeps NXDOMAIN
        "x.rpz-foo 60 CNAME .",                  # rpz- label that is no trigger label
        "loc.z0.gen 60 A 10.9.9.1", "loc.z0.gen 60 TXT \"loc\"",  # ANY: all RRsets
    ],
    "p2.rpz.": [
        "chain.z0.gen 120 A 10.9.9.2",           # chain: the first name's rule, zone 2
        "nxc.z0.gen 120 CNAME .",
        "*.z0.gen 120 CNAME .",                  # wildcard ...
        "a.b.z0.gen 120 CNAME rpz-passthru.",    # ... stopped by the node b.z0.gen
        "any.z0.gen 120 CNAME *.",               # ANY: policy first
        # NS rules at a later chain name: BIND restarts at www.nsc.z1.ex. and checks the
        # name servers of its cut there (chain position 1)
        "ns.nsc.z1.ex.rpz-nsdname 120 CNAME .",
    ],
    "p3.rpz.": ["24.0.2.0.192.rpz-ip 600 CNAME rpz-drop."],
}
# (qname, qtype, proto, what c2wall must answer: rcode, policy zone or None, answer types)
CASES = [
    ("chain.z0.gen.", "A", "udp", ("NOERROR", "p2.rpz.", ["A"])),
    ("chain.z0.gen.", "CNAME", "udp", ("NOERROR", "p2.rpz.", [])),
    ("mid.z1.ex.", "CNAME", "udp", ("NXDOMAIN", "p1.rpz.", [])),
    ("pre.z1.ex.", "A", "tcp", ("NOERROR", "p2.rpz.", ["A", "CNAME"])),
    ("h1.dn.z1.ex.", "A", "udp", ("NXDOMAIN", "p2.rpz.", ["CNAME", "DNAME"])),
    ("h1.dn.z1.ex.", "CNAME", "udp", ("NOERROR", None, ["CNAME", "DNAME"])),
    ("rw.z0.gen.", "A", "udp", ("NXDOMAIN", "p1.rpz.", ["CNAME"])),
    ("rw2.z0.gen.", "CNAME", "udp", ("NXDOMAIN", "p1.rpz.", ["CNAME"])),
    ("rw2.z0.gen.", "ANY", "tcp", ("NXDOMAIN", "p1.rpz.", ["CNAME"])),
    ("rw3.z0.gen.", "CNAME", "udp", ("NOERROR", "p1.rpz.", ["CNAME"])),
    ("rw3.z0.gen.", "TXT", "udp", ("NXDOMAIN", "p1.rpz.", ["CNAME"])),
    ("gone.z1.ex.", "A", "tcp", ("NXDOMAIN", None, [])),
    ("gone.z1.ex.", "A", "udp", ("NXDOMAIN", None, [])),     # TC=1
    ("x.rpz-foo.", "A", "udp", ("NXDOMAIN", "p1.rpz.", [])),
    ("loc.z0.gen.", "ANY", "udp", ("NOERROR", "p1.rpz.", ["A", "TXT"])),
    ("any.z0.gen.", "ANY", "udp", ("NOERROR", "p2.rpz.", [])),
    ("h0.z0.gen.", "A", "udp", ("NXDOMAIN", "p2.rpz.", [])),
    ("x.b.z0.gen.", "A", "udp", ("NXDOMAIN", None, [])),
    ("b.z0.gen.", "A", "udp", ("NXDOMAIN", None, [])),
    ("a.b.z0.gen.", "A", "udp", ("NXDOMAIN", None, [])),
    ("tgt.z1.ex.", "ANY", "udp", ("NXDOMAIN", "p1.rpz.", [])),
    ("nsa.z1.ex.", "A", "udp", ("NXDOMAIN", "p2.rpz.", ["CNAME"])),
    ("nsa.z1.ex.", "TXT", "tcp", ("NXDOMAIN", "p2.rpz.", ["CNAME"])),
]


def _pick(rng, weighted):
    total = sum(w for _, w in weighted)
    x = rng.uniform(0, total)
    for v, w in weighted:
        x -= w
        if x <= 0:
            return v
    return weighted[-1][0]


# --------------------------------------------------------------------------------------------
# The world
# --------------------------------------------------------------------------------------------

class World:
    """Zones (origin -> list of record lines), which server address serves which zones, and
    the interesting names for queries and rules."""

    def __init__(self, seed):
        rng = random.Random("world-%s" % seed)
        self.rng = rng
        self.root_addr = NET + "1"
        self.tld_addr = NET + "2"
        self.sld_addrs = [NET + str(i) for i in range(3, 3 + rng.randint(3, 4))]
        self.v4 = ["192.0.2.%d" % i for i in range(1, 25)] + \
                  ["198.51.100.%d" % i for i in range(1, 13)]
        self.v6 = ["2001:db8::%x" % i for i in range(1, 17)]
        self.zones = {}      # origin -> [lines]
        self.served = {}     # address -> [origins]
        self.ns_names = []   # every NS host name of the world (below the TLDs)
        self.names = set()   # names worth asking for (existing or not)
        self.targets = []    # names a policy CNAME may point to
        self.build()

    def add(self, origin, line):
        self.zones.setdefault(origin, []).append(line)

    def serve(self, addr, origin):
        self.served.setdefault(addr, []).append(origin)

    def build(self):
        rng = self.rng
        n = rng.randint(5, 7)
        slds = ["z%d.%s" % (i, rng.choice(TLDS)) for i in range(n)]
        slds[0] = "z0." + TLDS[0]
        slds[1] = "z1." + TLDS[1]
        self.slds = slds
        for o in ["."] + TLDS + slds:
            self.zones[o] = []
        self.add(".", ". NS a.root.")
        self.add(".", "a.root. A %s" % self.root_addr)
        self.serve(self.root_addr, ".")
        for t in TLDS:
            self.add(".", "%s NS ns.nic.%s" % (t, t))
            self.add(".", "ns.nic.%s A %s" % (t, self.tld_addr))
            self.add(t, "%s NS ns.nic.%s" % (t, t))
            self.add(t, "ns.nic.%s A %s" % (t, self.tld_addr))
            self.serve(self.tld_addr, t)
        # Addresses: each SLD on one or two server addresses; addresses are shared.
        where = {z: rng.sample(self.sld_addrs, rng.choice([1, 1, 2])) for z in slds}
        # z0 and z1 are the "hosting" zones: in-bailiwick servers only, and they also carry
        # one host per server address that other zones may use as out-of-bailiwick NS.
        for z in slds:
            tld = z.split(".", 1)[1]
            nsnames = []
            for k, addr in enumerate(where[z]):
                if z in slds[:2] or rng.random() < 0.4:
                    ns = "ns%d.%s" % (k + 1, z)
                    self.add(tld, "%s A %s" % (ns, addr))          # glue
                    self.add(z, "%s A %s" % (ns, addr))
                else:
                    host = rng.choice(slds[:2])
                    ns = "s%s.%s" % (addr.rsplit(".", 1)[1], host)   # shared by zones
                nsnames.append(ns)
                self.serve(addr, z)
            for ns in nsnames:
                self.add(tld, "%s NS %s" % (z, ns))
                self.add(z, "%s NS %s" % (z, ns))
            self.ns_names += nsnames
        for host in slds[:2]:
            for addr in self.sld_addrs:
                self.add(host, "s%s.%s A %s" % (addr.rsplit(".", 1)[1], host, addr))
                self.ns_names.append("s%s.%s" % (addr.rsplit(".", 1)[1], host))
        # A sub-delegation with in-bailiwick servers.
        parent = rng.choice(slds[2:])
        sub = "sub." + parent
        addr = rng.choice(self.sld_addrs)
        self.zones[sub] = []
        for zz in (parent, sub):
            self.add(zz, "%s NS ns.%s" % (sub, sub))
            self.add(zz, "ns.%s A %s" % (sub, addr))
        self.ns_names.append("ns." + sub)
        self.serve(addr, sub)
        self.all_zones = slds + [sub]
        for origin, lines in CASE_WORLD.items():
            self.zones[origin] += lines
        for z in self.all_zones:
            self.add(z, "%s SOA ns.%s hostmaster.%s %s" % (z, z, z, SOA_TIMERS))
            self.names.add(z)
        self.fill()
        self.ns_names = sorted(set(self.ns_names))
        self.case_zone()

    def case_zone(self):
        """nsc.z1.ex.: a zone with its own server name, for the explicit case of name-server
        rules at a later name of a chain (CASE_NS_ZONE). Added after the random draws and kept
        out of names and ns_names, so the generated worlds, rules and queries do not change."""
        z, ns, addr = CASE_NS_ZONE, "ns." + CASE_NS_ZONE, self.sld_addrs[0]
        self.zones[z] = ["%s SOA %s hostmaster.%s %s" % (z, ns, z, SOA_TIMERS),
                         "%s NS %s" % (z, ns), "%s A %s" % (ns, addr),
                         "www.%s A 192.0.2.202" % z]
        self.add("z1.ex.", "%s NS %s" % (z, ns))
        self.add("z1.ex.", "%s A %s" % (ns, addr))
        self.serve(addr, z)

    def fill(self):
        rng = self.rng
        hosts = []
        for z in self.all_zones:
            for k in range(rng.randint(3, 5)):
                h = "h%d.%s" % (k, z)
                hosts.append(h)
                self.add(z, "%s A %s" % (h, rng.choice(self.v4)))
                if rng.random() < 0.5:
                    self.add(z, "%s AAAA %s" % (h, rng.choice(self.v6)))
                if rng.random() < 0.4:
                    self.add(z, '%s TXT "t-%s"' % (h, h.rstrip(".")))
            # wildcard, empty non-terminal
            self.add(z, "*.w.%s A %s" % (z, rng.choice(self.v4)))
            self.add(z, '*.w.%s TXT "wild"' % z)
            self.add(z, "a.e.%s A %s" % (z, rng.choice(self.v4)))
            self.names.update(["x%d.w.%s" % (rng.randint(0, 9), z), "w.%s" % z, "e.%s" % z,
                               "a.e.%s" % z, "nx%d.%s" % (rng.randint(0, 9), z)])
        self.hosts = hosts
        self.names.update(hosts)
        for h in rng.sample(hosts, min(4, len(hosts))):
            self.add(h.split(".", 1)[1], "%s MX 10 %s" % (h, rng.choice(hosts)))
        # CNAME chains across zones: c<k> points forward only (no loops).
        cnames = []
        for i in range(rng.randint(8, 12)):
            z = rng.choice(self.all_zones)
            cnames.append("c%d.%s" % (i, z))
        dnames = []
        for z in rng.sample(self.all_zones[2:], 2):
            tgt = rng.choice([x for x in self.all_zones if x != z and not x.endswith("." + z)])
            self.add(z, "d.%s DNAME %s" % (z, tgt))
            dnames.append((z, tgt))
            self.names.add("d." + z)
            for h in [x for x in hosts if x.endswith("." + tgt) and x.count(".") ==
                      tgt.count(".") + 1][:2]:
                self.names.add(h[:-len(tgt)] + "d." + z)
            self.names.add("nx.d." + z)
        for i, c in enumerate(cnames):
            kind = _pick(rng, [("host", 5), ("chain", 4), ("nx", 2), ("wild", 1), ("dname", 1)])
            z = c.split(".", 1)[1]
            if kind == "chain" and i + 1 < len(cnames):
                t = rng.choice(cnames[i + 1:])
            elif kind == "nx":
                t = "gone%d.%s" % (i, rng.choice(self.all_zones))
                self.names.add(t)
            elif kind == "wild":
                t = "c%d.w.%s" % (i, rng.choice(self.all_zones))
            elif kind == "dname" and dnames:
                dz, dt = rng.choice(dnames)
                hs = [x for x in hosts if x.endswith("." + dt) and x.count(".") == dt.count(".") + 1]
                t = (hs[0][:-len(dt)] if hs else "h0.") + "d." + dz
            else:
                t = rng.choice(hosts)
            self.add(z, "%s CNAME %s" % (c, t))
            self.names.add(t)
        self.cnames = cnames
        self.names.update(cnames)
        self.names.update(self.ns_names)
        self.targets = hosts + cnames + ["gone.%s" % rng.choice(self.all_zones)]

    def zone_text(self, origin):
        lines = ["$TTL 3600"]
        if origin == ".":
            lines.append(". SOA a.root. hostmaster.root. %s" % SOA_TIMERS)
        elif origin in TLDS:
            lines.append("%s SOA ns.nic.%s hostmaster.nic.%s %s" % (origin, origin, origin,
                                                                   SOA_TIMERS))
        lines += self.zones[origin]
        return "\n".join(lines) + "\n"

    def root_hints(self):
        return ". 3600000 NS a.root.\na.root. 3600000 A %s\n" % self.root_addr


# --------------------------------------------------------------------------------------------
# The policy
# --------------------------------------------------------------------------------------------

def rev_ip(prefix, canonical=True):
    """RPZ owner labels of an IP prefix; canonical=False spells IPv6 without "zz" (BIND ignores
    such a trigger, and so must c2wall)."""
    addr, bits = prefix.split("/")
    if ":" not in addr:
        return "%s.%s" % (bits, ".".join(reversed(addr.split("."))))
    import ipaddress
    words = [int(w, 16) for w in reversed(ipaddress.IPv6Address(addr).exploded.split(":"))]
    out = ["%x" % w for w in words]
    if canonical:
        best, best_len, cur = None, 0, 0
        for k, w in enumerate(words):  # BIND: longest run of >= 2 zero words, last in label order
            cur = 0 if w else cur + 1
            if cur >= 2 and cur >= best_len:
                best, best_len = k + 1 - cur, cur
        if best is not None:
            out = out[:best] + ["zz"] + out[best + best_len:]
    return "%s.%s" % (bits, ".".join(out))


class Policy:
    """Three RPZ zones of random rules over the world's names and addresses."""

    def __init__(self, seed, world, ns_rules=True):
        rng = random.Random("policy-%s" % seed)
        self.rng = rng
        self.w = world
        self.ns_rules = ns_rules
        self.zones = {}
        names = sorted(world.names)
        for pz in POLICY_ZONES:
            owners = {}
            for _ in range(rng.randint(10, 16)):
                trig = _pick(rng, [("qname", 40), ("wild", 10), ("rpz-ip", 12),
                                   ("client-ip", 3), ("nsdname", 4 if ns_rules else 0),
                                   ("nsip", 2 if ns_rules else 0), ("rpz-other", 2)])
                owner = self.trigger_owner(trig, names)
                if owner is None or owner in owners:
                    continue
                owners[owner] = self.action(trig, owner)
            self.zones[pz] = owners
        if ns_rules == "strip":
            # The same policy without its NSDNAME/NSIP rules: tells which differences of a
            # run with them are theirs.
            for pz in POLICY_ZONES:
                self.zones[pz] = {o: r for o, r in self.zones[pz].items()
                                  if not o.endswith((".rpz-nsdname", ".rpz-nsip"))}

    def trigger_owner(self, trig, names):
        rng, w = self.rng, self.w
        if trig == "qname":
            return rng.choice(names)
        if trig == "wild":
            base = rng.choice([rng.choice(w.all_zones), "w." + rng.choice(w.all_zones),
                               "w." + rng.choice(w.all_zones), "e." + rng.choice(w.all_zones),
                               "d." + rng.choice(w.all_zones)])
            return "*." + base
        if trig == "rpz-other":
            return rng.choice(RPZ_OTHER)
        if trig == "rpz-ip":
            if rng.random() < 0.25:
                return rev_ip(rng.choice(w.v6) + "/128", rng.random() < 0.8) + ".rpz-ip"
            a = rng.choice(w.v4)
            if rng.random() < 0.2:
                a = a.rsplit(".", 1)[0] + ".%d" % (int(a.rsplit(".", 1)[1]) & ~7)
                return rev_ip(a + "/29") + ".rpz-ip"
            return rev_ip(a + "/32") + ".rpz-ip"
        if trig == "client-ip":
            c = rng.choice(["127.0.0.2/32", "127.0.0.3/32", "127.0.0.4/31", "127.0.0.5/32"])
            return rev_ip(c) + ".rpz-client-ip"
        if trig == "nsdname":
            if rng.random() < 0.3:
                return "*.%s.rpz-nsdname" % rng.choice(w.slds[:2]).rstrip(".")
            return "%s.rpz-nsdname" % rng.choice(w.ns_names).rstrip(".")
        if trig == "nsip":
            return rev_ip(rng.choice(w.sld_addrs) + "/32") + ".rpz-nsip"
        return None

    def action(self, trig, owner):
        rng, w = self.rng, self.w
        ttl = rng.choice(RULE_TTLS)
        kind = _pick(rng, [("nxdomain", 20), ("nodata", 12), ("passthru", 10), ("drop", 5),
                           ("tcp-only", 7), ("local", 22), ("cname", 14), ("cname-wild", 5)])
        if trig == "client-ip" and kind in ("drop",):
            kind = "nxdomain"
        if kind == "nxdomain":
            return ["%d CNAME ." % ttl]
        if kind == "nodata":
            return ["%d CNAME *." % ttl]
        if kind == "passthru":
            return ["%d CNAME rpz-passthru." % ttl]
        if kind == "drop":
            return ["%d CNAME rpz-drop." % ttl]
        if kind == "tcp-only":
            return ["%d CNAME rpz-tcp-only." % ttl]
        if kind == "cname":
            return ["%d CNAME %s" % (ttl, rng.choice(w.targets))]
        if kind == "cname-wild":
            return ["%d CNAME *.%s" % (ttl, rng.choice(w.all_zones))]
        recs = []
        for t in rng.sample(["A", "AAAA", "TXT", "MX"], rng.randint(1, 3)):
            if t == "A":
                recs += ["%d A 10.%d.0.%d" % (ttl, rng.randint(0, 9), i + 1)
                         for i in range(rng.randint(1, 2))]
            elif t == "AAAA":
                recs.append("%d AAAA 2001:db8:ffff::%x" % (ttl, rng.randint(1, 99)))
            elif t == "TXT":
                recs.append('%d TXT "local-%d"' % (ttl, rng.randint(1, 99)))
            else:
                recs.append("%d MX 5 %s" % (ttl, rng.choice(w.hosts)))
        return recs

    def text(self, pz):
        lines = ["$TTL 300", "@ SOA localhost. root.localhost. 1 3600 600 86400 %d" %
                 RPZ_SOA_MIN, "@ NS localhost."]
        for owner, recs in self.zones[pz].items():
            rel = owner[:-1] if owner.endswith(".") else owner
            for r in recs:
                lines.append("%s %s" % (rel, r))
        return "\n".join(lines) + "\n"

    def rip_networks(self):
        """The RESPONSE-IP prefixes of all zones, as ipaddress networks."""
        import ipaddress
        nets = []
        for z in self.zones.values():
            for o in z:
                if not o.endswith(".rpz-ip"):
                    continue
                labels = o[:-len(".rpz-ip")].split(".")
                bits, words = int(labels[0]), labels[1:][::-1]
                try:
                    if len(words) == 4 and "zz" not in words:
                        nets.append(ipaddress.ip_network("%s/%d" % (".".join(words), bits)))
                    else:
                        text = ":".join("" if w == "zz" else w for w in words)
                        if text.startswith(":"):
                            text = ":" + text
                        if text.endswith(":"):
                            text += ":"
                        nets.append(ipaddress.ip_network("%s/%d" % (text, bits)))
                except ValueError:
                    pass   # a spelling BIND ignores (and so does c2wall)
        return nets

    def rip_names(self, world):
        """World names with an address some RESPONSE-IP rule covers."""
        import ipaddress
        nets = self.rip_networks()
        out = set()
        for lines in world.zones.values():
            for line in lines:
                f = line.split()
                if len(f) == 3 and f[1] in ("A", "AAAA"):
                    a = ipaddress.ip_address(f[2])
                    if any(a.version == n.version and a in n for n in nets):
                        out.add(f[0])
        return out

    def has_ns_rules(self):
        return any(o.endswith(".rpz-nsdname") or o.endswith(".rpz-nsip")
                   for z in self.zones.values() for o in z)


def make_queries(seed, world, count):
    rng = random.Random("queries-%s" % seed)
    names = sorted(world.names) + [n + "." for n in RPZ_OTHER]
    qs = []
    for _ in range(count):
        client = CLIENTS[0] if rng.random() < 0.6 else rng.choice(CLIENTS[1:])
        qs.append((rng.choice(names), _pick(rng, QTYPES), client,
                   "tcp" if rng.random() < 0.25 else "udp"))
    return qs


# --------------------------------------------------------------------------------------------
# Processes: the NSD world, BIND, c2wall
# --------------------------------------------------------------------------------------------

class GenWorld:
    """The NSD servers of a World, one process per address. Attributes used by
    c2w_world.C2wall: tmp, root_hints, trust_anchor."""

    def __init__(self, world):
        self.world = world
        self.tmp = tempfile.mkdtemp(prefix="c2w-gen-")
        self.root_hints = os.path.join(self.tmp, "root.hints")
        self.trust_anchor = None
        self.procs = []
        self._lockf = None

    def start(self):
        import fcntl
        self._lockf = open(LOCK_PATH, "w")
        deadline = time.monotonic() + 600
        while True:
            try:
                fcntl.flock(self._lockf, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise RuntimeError("another generated world holds %s" % LOCK_PATH)
                time.sleep(0.2)
        with open(self.root_hints, "w") as f:
            f.write(self.world.root_hints())
        zdir = os.path.join(self.tmp, "zones")
        os.makedirs(zdir)
        for origin in self.world.zones:
            with open(os.path.join(zdir, (origin.rstrip(".") or "root") + ".zone"), "w") as f:
                f.write(self.world.zone_text(origin))
        for addr, origins in sorted(self.world.served.items()):
            d = os.path.join(self.tmp, "nsd-" + addr)
            os.makedirs(d)
            conf = os.path.join(d, "nsd.conf")
            zones = "".join('zone:\n    name: "%s"\n    zonefile: "%s/%s.zone"\n' %
                            (o, zdir, o.rstrip(".") or "root") for o in origins)
            with open(conf, "w") as f:
                f.write(f"""server:
    ip-address: {addr}@53
    server-count: 1
    username: ""
    chroot: ""
    zonesdir: "{d}"
    database: ""
    zonelistfile: "{d}/zone.list"
    xfrdfile: "{d}/xfrd.state"
    xfrdir: "{d}"
    pidfile: "{d}/nsd.pid"
    logfile: "{d}/nsd.log"
    verbosity: 1
    refuse-any: no
    reuseport: no
remote-control:
    control-enable: no
{zones}""")
            err = open(os.path.join(d, "stderr"), "w")
            p = subprocess.Popen([NSD, "-d", "-c", conf], stdout=err, stderr=err,
                                 stdin=subprocess.DEVNULL)
            err.close()
            cw._register(p)
            self.procs.append(p)
        for addr, origins in sorted(self.world.served.items()):
            try:
                cw.wait_answer(addr, 53, origins[0], "SOA", 15)
            except RuntimeError:
                with open(os.path.join(self.tmp, "nsd-" + addr, "nsd.log"),
                          errors="replace") as f:
                    print(f.read()[-4000:])
                raise
        return self

    def stop(self):
        for p in self.procs:
            cw._stop_proc(p)
        self.procs = []
        if os.environ.get("C2W_KEEP_TMP") != "1":
            shutil.rmtree(self.tmp, ignore_errors=True)
        if self._lockf is not None:
            if LOCK_PATH.endswith("-gen") and os.environ.get("C2W_WORLD_LOCK"):
                try:
                    os.unlink(LOCK_PATH)   # private to this run's namespace
                except OSError:
                    pass
            self._lockf.close()
            self._lockf = None


class Named:
    """BIND 9 named, recursive from the generated world's root, with the policy zones."""

    kind = "bind"

    def __init__(self, gw, feeds, order, name="named"):
        self.gw = gw
        self.dir = tempfile.mkdtemp(prefix=name + "-", dir=gw.tmp)
        self.addr, self.port = "127.0.0.1", cw.free_port("127.0.0.1")
        self.feeds, self.order = feeds, order
        self.proc = None

    def start(self):
        rp = "\n        ".join('zone "%s";' % z for z in self.order)
        zones = "\n".join('zone "%s" { type primary; file "%s"; };' %
                          (z, os.path.join(self.feeds, z + "rpz")) for z in self.order)
        conf = """options {
    directory "%(d)s";
    pid-file "%(d)s/named.pid";
    session-keyfile "%(d)s/session.key";
    listen-on port %(port)d { %(addr)s; };
    listen-on-v6 { none; };
    recursion yes;
    allow-query { any; };
    allow-recursion { any; };
    dnssec-validation no;
    qname-minimization off;
    minimal-responses no-auth-recursive;
    max-udp-size 1232;
    edns-udp-size 1232;
    response-policy {
        %(rp)s
    } qname-wait-recurse no add-soa yes max-policy-ttl 1d;
};
controls { };
logging { category default { default_stderr; }; category lame-servers { null; }; };
zone "." { type hint; file "%(hints)s"; };
%(zones)s
""" % {"d": self.dir, "port": self.port, "addr": self.addr, "rp": rp,
       "hints": self.gw.root_hints, "zones": zones}
        self.conf = os.path.join(self.dir, "named.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        self.err = open(os.path.join(self.dir, "stderr"), "wb")
        self.proc = subprocess.Popen([NAMED, "-g", "-4", "-n", "1", "-c", self.conf],
                                     stdout=self.err, stderr=self.err, stdin=subprocess.DEVNULL)
        cw._register(self.proc)
        try:
            cw.wait_answer(self.addr, self.port, "gen.", "SOA", 30, self.proc)
        except RuntimeError:
            self.print_log()
            raise
        return self

    def print_log(self):
        with open(os.path.join(self.dir, "stderr"), errors="replace") as f:
            print("---- named ----\n" + f.read()[-6000:])

    def stop(self):
        if self.proc is not None:
            cw._stop_proc(self.proc, signal.SIGTERM)
            self.err.close()
            self.proc = None


def start_c2wall(gw, feeds, order):
    zones = [{"name": z, "file": os.path.join(feeds, z + "rpz")} for z in order]
    # One worker: the answer cache is per worker, and BIND's RCODE for TCP-ONLY over UDP
    # depends on what its (one) cache holds.
    c = cw.C2wall(gw, mode="recursive", validate=False, name="c2wall-gen", workers=1,
                  extra={"policy": {"zones": zones},
                         "resolver": {"transparent-zones": TLDS}})
    c.kind = "c2wall"
    return c.start(timeout=30)


# --------------------------------------------------------------------------------------------
# Comparing
# --------------------------------------------------------------------------------------------

def ask(r, qname, rdtype, source, proto, timeout=1.0):
    q = dns.message.make_query(qname, rdtype, use_edns=0, payload=1232)
    fn = dns.query.udp if proto == "udp" else dns.query.tcp
    try:
        return fn(q, r.addr, port=r.port, timeout=timeout, source=source)
    except (dns.exception.Timeout, ConnectionError, OSError, EOFError):
        return None


def normalize(m, qtype):
    if m is None:
        return {"rcode": "no answer"}
    soa = [(rr.name.to_text(), rr.ttl) for rr in m.additional
           if rr.rdtype == dns.rdatatype.SOA and rr.name.to_text().endswith(".rpz.")]
    rewritten = bool(soa)
    if qtype == "ANY" and not rewritten:
        return {"rcode": "-", "any": "not rewritten"}
    rrsets = []
    for rr in m.answer:
        # BIND 9.18 gives local data asked for by ANY a TTL of 5 s whatever the rule says
        # (c2wall: the rule's TTL): not compared for ANY.
        ttl = rr.ttl if rr.ttl in RULE_TTLS and qtype != "ANY" else "-"
        rrsets.append((rr.name.to_text(), dns.rdatatype.to_text(rr.rdtype),
                       tuple(sorted(rd.to_text() for rd in rr)), ttl))
    return {"rcode": dns.rcode.to_text(m.rcode()), "tc": bool(m.flags & dns.flags.TC),
            "answer": sorted(rrsets), "policy-soa": soa}


def classify(q, a, b):
    """A short class name for a difference (a: reference, b: under test). q may carry a fifth
    element: true when a RESPONSE-IP rule covers an address of the name."""
    qname, qtype, client, proto = q[:4]
    if not a.get("policy-soa") and not b.get("policy-soa") and not a.get("tc") and \
            not b.get("tc") and "no answer" not in (a.get("rcode"), b.get("rcode")):
        return "resolver"   # no rule rewrote either answer: libunbound and BIND differ
    if a.get("rcode") == "no answer" or b.get("rcode") == "no answer":
        return "drop"
    if qtype == "ANY" and (a.get("any") == "not rewritten" or (len(q) > 4 and q[4])):
        # BIND checks only the RRsets it has cached, and libunbound answers ANY from its
        # cache with the RRsets it holds: RESPONSE-IP on ANY depends on both (docs/policy.md)
        return "any-cache"
    if qtype == "ANY":
        return "any"
    if a.get("tc") and b.get("tc") and a.get("rcode") != b.get("rcode") and \
            dict(a, rcode=0) == dict(b, rcode=0):
        return "tc-rcode"   # TCP-ONLY: what each cache knows of the name (docs/policy.md)
    if a.get("tc") != b.get("tc"):
        return "tcp-only"
    chain = any(t == "CNAME" or t == "DNAME" for _, t, _, _ in a.get("answer", []) +
                b.get("answer", []))
    if chain and qtype == "CNAME":
        return "qtype-cname"
    if chain:
        return "cname-chain"
    if a.get("rcode") == "SERVFAIL" and not a.get("policy-soa") and b.get("policy-soa") and \
            qtype != "A":
        # BIND's own fetch of an NS name's address fails for non-A questions ("NS address
        # rewrite rrset failed"), c2wall has the address and rewrites (docs/policy.md)
        return "nsip-servfail"
    if a.get("rcode") != b.get("rcode"):
        return "rcode"
    if a.get("policy-soa") != b.get("policy-soa"):
        return "acting-zone"
    return "answer"


STATS = []  # per order run: the reference's RCODEs (a world that only SERVFAILs tests nothing)


# Classes of difference listed in docs/policy.md ("Differences from BIND") as intended.
INTENDED = {"resolver", "any-cache", "tc-rcode", "nsip-servfail"}


def run_order(ref, test, queries, threads=12):
    diffs = []
    lock = threading.Lock()
    rcodes = {}

    def one(q):
        qname, qtype, client, proto = q
        ma = ask(ref, qname, qtype, client, proto)
        mb = ask(test, qname, qtype, client, proto)
        # Silence is DROP's answer: a one-sided silence is asked again, with time to spare
        # on a loaded machine, before it counts.
        if ma is None and mb is not None:
            ma = ask(ref, qname, qtype, client, proto, timeout=4.0)
        if mb is None and ma is not None:
            mb = ask(test, qname, qtype, client, proto, timeout=4.0)
        a, b = normalize(ma, qtype), normalize(mb, qtype)
        with lock:
            k = a["rcode"] + ("/rewritten" if a.get("policy-soa") else "")
            rcodes[k] = rcodes.get(k, 0) + 1
        if a != b:
            with lock:
                diffs.append((q, a, b))

    with concurrent.futures.ThreadPoolExecutor(threads) as ex:
        list(ex.map(one, queries))
    STATS.append(rcodes)
    return diffs


class CasePolicy:
    """The fixed policy of the explicit cases, in the shape write_feeds() wants."""

    def text(self, pz):
        return "\n".join(["$TTL 300", "@ SOA localhost. root.localhost. 1 3600 600 86400 %d" %
                           RPZ_SOA_MIN, "@ NS localhost."] + CASE_POLICY[pz]) + "\n"


def write_feeds(policy, d):
    os.makedirs(d, exist_ok=True)
    for pz in POLICY_ZONES:
        with open(os.path.join(d, pz + "rpz"), "w") as f:
            f.write(policy.text(pz))
    return d


def summary(m):
    """(rcode, policy zone or None, sorted answer types), TC separately."""
    if m is None:
        return None
    soa = [rr.name.to_text() for rr in m.additional if rr.rdtype == dns.rdatatype.SOA and
           rr.name.to_text().endswith(".rpz.")]
    return (dns.rcode.to_text(m.rcode()), soa[0] if soa else None,
            sorted(set(dns.rdatatype.to_text(rr.rdtype) for rr in m.answer)))


def run_cases(seed=1, log=print):
    """The explicit cases, in order, against BIND and c2wall. Returns [(case, ref, test,
    ref message, test message)]."""
    world = World(seed)
    gw = GenWorld(world).start()
    out = []
    try:
        feeds = write_feeds(CasePolicy(), os.path.join(gw.tmp, "feeds"))
        ref = Named(gw, feeds, POLICY_ZONES, "ref").start()
        try:
            test = start_c2wall(gw, feeds, POLICY_ZONES)
            try:
                for case in CASES:
                    qname, qtype, proto, _ = case
                    ma = ask(ref, qname, qtype, CLIENTS[0], proto, timeout=3.0)
                    mb = ask(test, qname, qtype, CLIENTS[0], proto, timeout=3.0)
                    out.append((case, normalize(ma, qtype), normalize(mb, qtype), ma, mb))
            finally:
                test.stop(check=True)
        finally:
            ref.stop()
    finally:
        gw.stop()
    return out


def run(seed, count, under_test="c2wall", ns_rules=True, orders=("forward", "reverse"),
        log=print):
    """Run one seed; returns (queries sent per order, [(order, query, ref, test)])."""
    world = World(seed)
    policy = Policy(seed, world, ns_rules=ns_rules)
    queries = make_queries(seed, world, count)
    gw = GenWorld(world).start()
    out = []
    try:
        feeds = write_feeds(policy, os.path.join(gw.tmp, "feeds"))
        for order_name in orders:
            order = POLICY_ZONES if order_name == "forward" else POLICY_ZONES[::-1]
            ref = Named(gw, feeds, order, "ref").start()
            try:
                if under_test == "bind":
                    test = Named(gw, feeds, order, "bind2").start()
                else:
                    test = start_c2wall(gw, feeds, order)
                try:
                    t0 = time.monotonic()
                    diffs = run_order(ref, test, queries)
                    log("seed %s order %s: %d queries, %d differ (%.1fs); reference: %s" %
                        (seed, order_name, len(queries), len(diffs), time.monotonic() - t0,
                         " ".join("%s=%d" % kv for kv in sorted(STATS[-1].items()))))
                    rip = policy.rip_names(world)

                    def covered(name):
                        return name in rip or any(
                            o.startswith("*.") and name.endswith(o[1:]) for o in rip)
                    out += [(order_name, q + (covered(q[0]),), a, b) for q, a, b in diffs]
                finally:
                    if under_test == "bind":
                        test.stop()
                    else:
                        test.stop(check=True)
            finally:
                ref.stop()
    finally:
        if os.environ.get("C2W_GEN_DUMP"):
            d = os.environ["C2W_GEN_DUMP"]
            os.makedirs(d, exist_ok=True)
            for o in world.zones:
                with open(os.path.join(d, (o.rstrip(".") or "root") + ".zone"), "w") as f:
                    f.write(world.zone_text(o))
            write_feeds(policy, d)
        gw.stop()
    return len(queries), out


def describe(d):
    order, q, a, b = d
    qname, qtype, client, proto = q[:4]
    return "%s %s %s %s from %s:\n  bind   %s\n  test   %s" % (order, proto, qname, qtype,
                                                              client, a, b)
