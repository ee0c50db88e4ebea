# SPDX-License-Identifier: MIT
"""Malformed input on raw UDP and TCP sockets. Where the header is readable the daemon answers
FORMERR (same id, QR=1); where it is not (shorter than a header, or QR=1) it stays silent. It
never crashes: after everything here it still answers a normal query correctly."""

import random
import socket
import struct
import time
import unittest

import dns.message
import dns.query
import dns.rcode

import c2w_world as cw
from c2w_world import DATA, describe

WORLD = None
R = None
SILENCE_S = 0.5  # how long "no answer" waits


def setUpModule():
    global WORLD, R
    WORLD = cw.World(sign=False, upstream=False).start()
    try:
        R = cw.make_resolver(WORLD, mode="recursive").start()
    except BaseException:
        WORLD.stop()
        raise


def tearDownModule():
    try:
        R.stop(check=True)  # SIGTERM: exit 0, no sanitizer reports
    finally:
        WORLD.stop()


def header(qid=0x1234, flags=0x0100, qd=1, an=0, ns=0, ar=0):
    return struct.pack("!HHHHHH", qid, flags, qd, an, ns, ar)


def qname_wire(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


QTAIL = struct.pack("!HH", 1, 1)  # A IN
GOOD_Q = qname_wire("www.example.test.") + QTAIL


def parse_header(wire):
    qid, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", wire[:12])
    return {"id": qid, "qr": bool(flags & 0x8000), "opcode": (flags >> 11) & 0xF,
            "rcode": flags & 0xF, "qd": qd, "an": an, "ns": ns, "ar": ar}


class Malformed(unittest.TestCase):
    def assertFormerr(self, wire, what, tcp=False):
        reply = self.tcp_exchange(wire) if tcp else R.send_udp_raw(wire, timeout=3)
        self.assertIsNotNone(reply, "%s: no answer, expected FORMERR" % what)
        self.assertGreaterEqual(len(reply), 12, "%s: short reply %r" % (what, reply))
        h = parse_header(reply)
        self.assertEqual(h["id"], struct.unpack("!H", wire[:2])[0], what + ": id")
        self.assertTrue(h["qr"], what + ": QR")
        self.assertEqual(h["rcode"], dns.rcode.FORMERR,
                         "%s: rcode %s, expected FORMERR" % (what, dns.rcode.to_text(h["rcode"])))
        if cw.resolver_kind() != "unbound":  # the reference echoes the query's counts
            self.assertEqual(h["an"], 0, what + ": answers in a FORMERR")

    def assertSilent(self, wire, what):
        reply = R.send_udp_raw(wire, timeout=SILENCE_S)
        self.assertIsNone(reply, "%s: expected no answer, got %r" % (what, reply))

    def tcp_exchange(self, wire, timeout=3.0):
        s = R.tcp_connect(timeout)
        try:
            s.sendall(struct.pack("!H", len(wire)) + wire)
            data = b""
            while len(data) < 2 or len(data) < 2 + struct.unpack("!H", data[:2])[0]:
                chunk = s.recv(65535)
                if not chunk:
                    return None
                data += chunk
            return data[2:]
        except socket.timeout:
            return None
        finally:
            s.close()

    # ---- unreadable header: silence ----
    def test_empty_datagram_silent(self):
        self.assertSilent(b"", "empty datagram")

    def test_truncated_header_silent(self):
        for n in (1, 2, 5, 11):
            self.assertSilent(header()[:n], "%d-byte header" % n)

    def test_qr_set_silent(self):
        self.assertSilent(header(flags=0x8100) + GOOD_Q, "QR=1 (a response)")

    def test_qr_set_formerr_content_silent(self):
        self.assertSilent(header(flags=0x8100, qd=2) + GOOD_Q, "QR=1 with bad counts")

    # ---- readable header, bad body: FORMERR ----
    def test_qdcount_zero(self):
        self.assertFormerr(header(qd=0), "QDCOUNT 0")

    def test_qdcount_two(self):
        self.assertFormerr(header(qd=2) + GOOD_Q + GOOD_Q, "QDCOUNT 2")

    def test_qdcount_beyond_data(self):
        self.assertFormerr(header(qd=1), "QDCOUNT 1 with no question")

    def test_ancount_beyond_data(self):
        self.assertFormerr(header(an=5) + GOOD_Q, "ANCOUNT 5 with no records")

    def test_arcount_beyond_data(self):
        self.assertFormerr(header(ar=3) + GOOD_Q, "ARCOUNT 3 with no records")

    def test_question_cut_in_name(self):
        self.assertFormerr(header() + GOOD_Q[:6], "question ends inside the name")

    def test_question_without_type_class(self):
        self.assertFormerr(header() + GOOD_Q[:-4], "question without type and class")

    def test_compression_pointer_to_itself(self):
        self.assertFormerr(header() + b"\xc0\x0c" + QTAIL, "QNAME pointer to itself")

    def test_compression_loop(self):
        # "a" then a pointer back to the start of the name (offset 12)
        self.assertFormerr(header() + b"\x01a\xc0\x0c" + QTAIL, "compression loop")

    def test_compression_pointer_forward(self):
        self.assertFormerr(header() + b"\xc0\x20" + QTAIL + b"\0" * 20, "pointer past name")

    def test_compression_pointer_out_of_packet(self):
        self.assertFormerr(header() + b"\xff\xff" + QTAIL, "pointer beyond the packet")

    def test_label_64(self):
        self.assertFormerr(header() + b"\x40" + b"a" * 64 + b"\0" + QTAIL, "label length 64")

    def test_label_extended_type(self):
        self.assertFormerr(header() + b"\x81" + b"a" + b"\0" + QTAIL, "label type 0b10")

    def test_name_256(self):
        name = (b"\x3f" + b"a" * 63) * 4  # 256 octets before the root label
        self.assertFormerr(header() + name + b"\0" + QTAIL, "name of 257 octets")

    def test_name_255_accepted(self):
        # 3 x 63-label + one 61-label = 253 + root = 255 octets: legal, so not FORMERR
        name = (b"\x3f" + b"a" * 63) * 3 + b"\x3d" + b"b" * 61 + b"\0"
        self.assertEqual(len(name), 255)
        reply = R.send_udp_raw(header() + name + QTAIL, timeout=5)
        self.assertIsNotNone(reply)
        self.assertNotEqual(parse_header(reply)["rcode"], dns.rcode.FORMERR)

    def test_bad_opt_record(self):
        opt = b"\0" + struct.pack("!HHIH", 41, 1232, 0, 10) + b"\0\x0a\0\x40"  # rdlen lies
        self.assertFormerr(header(ar=1) + GOOD_Q + opt, "OPT with a bad RDLENGTH")

    def test_two_opt_records(self):
        opt = b"\0" + struct.pack("!HHIH", 41, 1232, 0, 0)
        self.assertFormerr(header(ar=2) + GOOD_Q + opt + opt, "two OPT records")

    def test_formerr_over_tcp(self):
        self.assertFormerr(header(qd=2) + GOOD_Q + GOOD_Q, "QDCOUNT 2 over TCP", tcp=True)
        self.assertFormerr(header() + b"\xc0\x0c" + QTAIL, "self pointer over TCP", tcp=True)

    # ---- TCP framing ----
    def test_tcp_huge_length_prefix(self):
        s = R.tcp_connect()
        try:
            s.sendall(b"\xff\xff" + header() + GOOD_Q)  # promises 65535, sends 37, stops
            s.settimeout(1.0)
            try:
                data = s.recv(100)
                self.assertEqual(data, b"", "answered a message that never arrived")
            except socket.timeout:
                pass
        finally:
            s.close()
        self.assertTrue(R.running())

    def test_tcp_zero_length_and_short_frames(self):
        for frame in (b"\0\0", b"\0\x05" + header()[:5], b"\0"):
            s = R.tcp_connect()
            try:  # the server may close at any point; only its survival matters
                s.sendall(frame)
                s.shutdown(socket.SHUT_WR)
                s.settimeout(3.0)
                while s.recv(65535):
                    pass
            except OSError:
                pass
            finally:
                s.close()
        self.assertTrue(R.running())

    def test_tcp_garbage_then_good_connection(self):
        rng = random.Random(7)
        s = R.tcp_connect()
        try:
            s.sendall(bytes(rng.getrandbits(8) for _ in range(3000)))
        except OSError:
            pass
        finally:
            s.close()
        m = R.tcp("www.example.test.", "A")
        self.assertEqual(dns.rcode.to_text(m.rcode()), "NOERROR", describe(m))

    # ---- random garbage ----
    def test_random_garbage_udp(self):
        rng = random.Random(20240601)
        sent = {}
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setblocking(False)
        replies = []
        try:
            for i in range(500):
                n = rng.choice((rng.randint(0, 11), rng.randint(12, 40), rng.randint(12, 600)))
                pkt = bytearray(rng.getrandbits(8) for _ in range(n))
                if n >= 12 and i % 2:  # half look like queries: QR=0, opcode QUERY, qd=1
                    pkt[2] &= 0x07
                    pkt[4:6] = b"\0\x01"
                pkt = bytes(pkt)
                if n >= 2:
                    sent.setdefault(pkt[:2], []).append(pkt)
                s.sendto(pkt, (R.addr, R.port))
                time.sleep(0.001)
                try:
                    while True:
                        replies.append(s.recv(65535))
                except BlockingIOError:
                    pass
            deadline = time.monotonic() + 3
            s.settimeout(0.3)
            while time.monotonic() < deadline:
                try:
                    replies.append(s.recv(65535))
                except socket.timeout:
                    break
        finally:
            s.close()
        cw.log("garbage: 500 sent, %d replies" % len(replies))
        for rep in replies:
            self.assertGreaterEqual(len(rep), 12, "reply shorter than a header")
            h = parse_header(rep)
            self.assertTrue(h["qr"])
            self.assertIn(rep[:2], sent, "reply id %d matches nothing sent" % h["id"])
            qs = sent[rep[:2]]
            self.assertTrue(any(len(q) >= 12 and not q[2] & 0x80 for q in qs),
                            "answered a packet with QR=1 or no header")

    # ---- after all of it ----
    def test_zz_still_answers(self):
        self.assertTrue(R.running(), "daemon is gone")
        for fn in (R.udp, R.tcp):
            m = fn("www.example.test.", "A")
            self.assertEqual(dns.rcode.to_text(m.rcode()), "NOERROR", describe(m))
            self.assertEqual(cw.rrset_values(m, "answer", "www.example.test.", "A"),
                             [DATA["www.example.test."]["A"]], describe(m))


if __name__ == "__main__":
    cw.main()
