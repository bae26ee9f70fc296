"""OpenBSD-style demotion groups (`groups = [...]`, `carpctl demote GROUP N`).

Two hosts, preempt on. VHIDs 1 and 2 are in group "web" (and, always, "carp"); VHID 3 only in
"carp". h1 (advskew 0) is MASTER of all three, h2 (advskew 100) BACKUP.
"""

import time
import unittest

from carpnet import NetnsTestCase, config, log, vhid_block, wait_until

WEB = (1, 2)
ALL = (1, 2, 3)


class DemotionGroupTest(NetnsTestCase):
    HOSTS = 2

    def start(self) -> dict:
        s = self.seg
        ds = {}
        for h, skew in (("h1", 0), ("h2", 100)):
            blocks = [vhid_block(n, skew, extra='groups = ["web"]' if n in WEB else "")
                      for n in ALL]
            ds[h] = s.start_carpd(h, config(*blocks, preempt=True))
        self.wait_all({n: "h1" for n in ALL})
        return ds

    def roles(self) -> dict:
        """{vhid: (h1 state, h2 state)}"""
        a = {v["vhid"]: v["state"] for v in self.seg.daemons["h1"].status()["vhids"]}
        b = {v["vhid"]: v["state"] for v in self.seg.daemons["h2"].status()["vhids"]}
        return {n: (a.get(n), b.get(n)) for n in ALL}

    @staticmethod
    def expect(masters: dict) -> dict:
        return {n: ("MASTER", "BACKUP") if masters[n] == "h1" else ("BACKUP", "MASTER")
                for n in ALL}

    def wait_all(self, masters: dict, timeout: float = 10.0) -> float:
        want = self.expect(masters)
        t0 = time.monotonic()
        try:
            wait_until(lambda: self.roles() == want, timeout, 0.05, f"roles {want}")
        except AssertionError as e:
            raise AssertionError(f"{e}; roles now {self.roles()}") from None
        return time.monotonic() - t0

    def hold(self, masters: dict, duration: float = 4.0) -> int:
        want = self.expect(masters)
        n = 0
        end = time.monotonic() + duration
        while time.monotonic() < end:
            got = self.roles()
            self.assertEqual(got, want, f"roles changed while they should hold {masters}")
            n += 1
            time.sleep(0.1)
        return n

    def test_demote_group_moves_only_its_vhids(self):
        s = self.seg
        ds = self.start()
        h1, h2 = ds["h1"], ds["h2"]
        st = h1.status()
        log(f"h1 MASTER of 1, 2, 3; h1 demotion {st['demotion']}, h2 demotion "
            f"{h2.status()['demotion']}")
        self.assertEqual(st["demotion"], {"carp": 0, "web": 0})

        # demote web 1: VHIDs 1 and 2 move, 3 stays
        h1.carpctl("demote", "web", "1")
        took = self.wait_all({1: "h2", 2: "h2", 3: "h1"})
        log(f"demote web 1 on h1: VHIDs 1, 2 MASTER on h2 after {took:.2f} s")
        n = self.hold({1: "h2", 2: "h2", 3: "h1"}, 4.0)
        log(f"VHID 3 stayed on h1 ({n} samples over 4 s)")
        st = h1.status()
        demote = {v["vhid"]: v["demote"] for v in st["vhids"]}
        log(f"h1 status: demotion {st['demotion']}, advertised demote per VHID {demote}")
        self.assertEqual(st["demotion"], {"carp": 0, "web": 1})
        self.assertEqual(demote, {1: 1, 2: 1, 3: 0})
        self.assertEqual(h2.status()["demotion"], {"carp": 0, "web": 0},
                         "a demotion on h1 does not touch h2's counters")
        for n in ALL:
            on = "h2" if n in WEB else "h1"
            self.assertTrue(s.has_address(on, s.vip4(n)), f"VHID {n} address not on {on}")
            self.assertFalse(s.has_address("h1" if on == "h2" else "h2", s.vip4(n)))

        # demote web -1: preempt on, h1 takes 1 and 2 back
        h1.carpctl("demote", "web", "-1")
        self.assertEqual(h1.status()["demotion"], {"carp": 0, "web": 0})
        took = self.wait_all({n: "h1" for n in ALL})
        log(f"demote web -1 on h1 (preempt on): h1 MASTER of 1, 2, 3 again after {took:.2f} s")
        self.hold({n: "h1" for n in ALL}, 2.0)

        # "carp" is every VHID's group, also those in "web"
        h1.carpctl("demote", "1")
        took = self.wait_all({n: "h2" for n in ALL})
        st = h1.status()
        log(f"demote 1 (group carp) on h1: all three on h2 after {took:.2f} s; demotion "
            f"{st['demotion']}, per VHID {[v['demote'] for v in st['vhids']]}")
        self.assertEqual(st["demotion"], {"carp": 1, "web": 0})
        self.assertEqual({v["demote"] for v in st["vhids"]}, {1})
        # web +1 on top: VHIDs 1, 2 advertise carp + web = 2, VHID 3 still 1
        h1.carpctl("demote", "web", "1")
        wait_until(lambda: {v["vhid"]: v["demote"] for v in h1.status()["vhids"]}
                   == {1: 2, 2: 2, 3: 1}, 3, what="demote = sum of the VHID's groups")
        log("carp 1 + web 1: VHIDs 1, 2 advertise demote 2, VHID 3 demote 1")
        h1.carpctl("demote", "carp", "-1")
        took = self.wait_all({1: "h2", 2: "h2", 3: "h1"})
        log(f"demote carp -1 (web still 1): VHID 3 back on h1 after {took:.2f} s, 1 and 2 "
            f"stay on h2")
        h1.carpctl("demote", "web", "-1")
        took = self.wait_all({n: "h1" for n in ALL})
        log(f"demote web -1: all three back on h1 after {took:.2f} s")

    def test_demote_unknown_group_is_refused(self):
        ds = self.start()
        h1 = ds["h1"]
        before = h1.status()
        r = h1.carpctl("demote", "nosuch", "1", check=False)
        err = r.stderr.strip()
        log(f"demote nosuch 1: exit {r.returncode}, stderr {err!r}, stdout {r.stdout.strip()!r}")
        self.assertNotEqual(r.returncode, 0)
        self.assertTrue(err, "a reason on stderr")
        self.assertEqual(len(err.splitlines()), 1, f"one line: {err!r}")
        self.assertIn("nosuch", err)
        after = h1.status()
        self.assertEqual(after["demotion"], before["demotion"], "nothing changed")
        self.assertNotIn("nosuch", after["demotion"])
        self.hold({n: "h1" for n in ALL}, 2.0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
