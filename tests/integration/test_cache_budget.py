# SPDX-License-Identifier: MIT
"""Cache memory budgets are for the whole node (docs/config.md, server.cache-memory and
resolver.cache-size):

- with several workers, each worker's answer cache and each worker's libunbound contexts get
  an equal share of the configured size, so the gauges `answer_cache_bytes` and
  `resolver_cache_bytes` (summed over workers by `stats`) equal what the operator configured,
  not that times the number of workers;
- a reload with a new resolver.cache-size gives the new libunbound contexts the new budget;
- the defaults are 96 MiB for the answer cache and 32 MiB for libunbound; with validation on,
  the CD=1 contexts add about an eighth (at least 2 MiB per worker)."""

import unittest

import c2w_world as cw
from c2w_world import DATA, describe, rrset_values
import events_util as eu

MIB = 1024 * 1024
WORLD = R = None


def setUpModule():
    global WORLD, R
    WORLD = cw.World().start()
    try:
        R = cw.make_resolver(WORLD, kind="c2wall", mode="recursive", workers=2, validate=False,
                             extra={"server": {"cache-memory": "8m"},
                                    "resolver": {"cache-size": "6m"}}).start()
    except BaseException:
        tearDownModule()
        raise


def tearDownModule():
    try:
        if R is not None:
            R.stop()
    finally:
        if WORLD is not None:
            WORLD.stop()


class TestCacheBudget(unittest.TestCase):
    def test_budgets_are_for_all_workers_together(self):
        s = eu.control_json(R, "stats")
        # Two workers: 4 MiB of answer cache each (index and ring together).
        self.assertEqual(s["answer_cache_bytes"], 8 * MIB, s)
        # Two workers: 3 MiB of libunbound cache each (1 MiB messages, 2 MiB RRsets).
        self.assertEqual(s["resolver_cache_bytes"], 6 * MIB, s)
        name = "v4only.example.test."
        m = R.udp(name, "A")
        self.assertEqual(rrset_values(m, "answer", name, "A"), [DATA[name]["A"]], describe(m))

    def test_reload_gives_the_new_resolver_budget(self):
        R.extra["resolver"]["cache-size"] = "12m"
        try:
            R.write_config()
            R.reload()
            ok = eu.wait_for(lambda: eu.control_json(R, "stats")["resolver_cache_bytes"]
                             == 12 * MIB, 10)
            self.assertTrue(ok, eu.control_json(R, "stats")["resolver_cache_bytes"])
            name = "v4only.example.test."
            m = R.udp(name, "A")
            self.assertEqual(rrset_values(m, "answer", name, "A"), [DATA[name]["A"]],
                             describe(m))
        finally:
            R.extra["resolver"]["cache-size"] = "6m"
            R.write_config()
            R.reload()
            eu.wait_for(lambda: eu.control_json(R, "stats")["resolver_cache_bytes"]
                        == 6 * MIB, 10)


class TestDefaults(unittest.TestCase):
    def test_default_budgets(self):
        r = cw.make_resolver(WORLD, kind="c2wall", mode="recursive", workers=1, validate=False)
        try:
            r.start()
            s = eu.control_json(r, "stats")
            self.assertEqual(s["answer_cache_bytes"], 96 * MIB, s)
            self.assertEqual(s["resolver_cache_bytes"], 32 * MIB, s)
        finally:
            r.stop()

    def test_validation_adds_the_cd_context(self):
        r = cw.make_resolver(WORLD, kind="c2wall", mode="recursive", workers=2)
        self.assertTrue(r.validate, "the world has a trust anchor")
        try:
            r.start()
            s = eu.control_json(r, "stats")
            # 16 MiB per worker validating, 0.66 + 1.33 -> 1 + 2 MiB per worker with CD=1.
            self.assertEqual(s["resolver_cache_bytes"], 2 * (16 + 3) * MIB, s)
        finally:
            r.stop()


if __name__ == "__main__":
    unittest.main()
