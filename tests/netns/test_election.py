"""Election: two carpd, one VHID with an IPv4 and an IPv6 address."""

import unittest

from carpnet import NetnsTestCase, config, log, vhid_block, wait_until
from carpwire import describe_frame, vmac


class ElectionTest(NetnsTestCase):
    HOSTS = 2

    def test_lower_skew_wins_and_client_sees_virtual_mac(self):
        s = self.seg
        v4, v6 = s.vip4(1), s.vip6(1)
        # started together (h2 even a few ms first): the protocol decides, not the start order
        h2 = s.start_carpd("h2", config(vhid_block(1, 100, [f"{v4}/24", f"{v6}/64"])), wait=False)
        h1 = s.start_carpd("h1", config(vhid_block(1, 0, [f"{v4}/24", f"{v6}/64"])), wait=False)
        for d in (h1, h2):
            wait_until(d.try_status, 10, what=f"carpd on {d.host} to answer")
        took = s.wait_roles({"h1": "MASTER", "h2": "BACKUP"}, timeout=15)
        log(f"h1 MASTER / h2 BACKUP after {took:.2f} s")
        leak = s.vmac_leak_sniffer("h2", timeout=3.0)
        self.assert_never_two_masters(2.0)
        leaked = leak.frames()
        for f in leaked:
            log("from h2 (BACKUP): " + describe_frame(f["bytes"]))
        self.assertEqual(len(leaked), 0, "the BACKUP sent frames with the virtual MAC as source")

        st1, st2 = h1.vhid(1), h2.vhid(1)
        log(f"h1: {h1.status_text().strip()}")
        log(f"h2: {h2.status_text().strip()}")
        self.assertEqual((st1["advbase"], st1["advskew"], st1["demote"]), (1, 0, 0))
        self.assertEqual((st2["advbase"], st2["advskew"]), (1, 100))
        self.assertEqual(sorted(st1["addresses"]), sorted([f"{v4}/24", f"{v6}/64"]))
        self.assertEqual(st1["master"], s.ip4("h1"), "MASTER reports itself as master")
        # the last advertisement heard may have been h1's IPv4 or IPv6 one (link-local source)
        self.assertTrue(st2["master"] in (s.ip4("h1"), s.ip6("h1"))
                        or st2["master"].startswith("fe80:"),
                        f"BACKUP should report h1 as master, says {st2['master']!r}")
        self.assertTrue(st1["since"])
        full = h1.status()
        self.assertIn("carp", full["demotion"])
        self.assertFalse(full["maintenance"])
        for k in ("ipackets", "opackets", "badttl", "badvhid", "badauth", "loop"):
            self.assertIn(k, full["stats"], k)
        self.assertGreater(full["stats"]["opackets"] + full["stats"].get("opackets6", 0), 0)
        self.assertGreater(h2.stats()["ipackets"] + h2.stats().get("ipackets6", 0), 0)

        self.assertTrue(s.has_address("h1", v4) and s.has_address("h1", v6))
        self.assertFalse(s.has_address("h2", v4) or s.has_address("h2", v6))

        wait_until(lambda: s.client_ping(v4), 5, what=f"client ping {v4}")
        wait_until(lambda: s.client_ping(v6), 5, what=f"client ping {v6}")
        n4, n6 = s.client_neigh(v4), s.client_neigh(v6)
        log(f"client neighbour table: {v4} -> {n4}, {v6} -> {n6}")
        self.assertEqual(n4, vmac(1))
        self.assertEqual(n6, vmac(1))

    def test_since_changes_only_with_state(self):
        s = self.seg
        ds = self.start_hosts({"h1": 0, "h2": 100})
        a = ds["h1"].vhid(1)["since"]
        self.assert_stable({"h1": "MASTER", "h2": "BACKUP"}, 2.5)
        self.assertEqual(ds["h1"].vhid(1)["since"], a)
        self.assertEqual(s.masters(), ["h1"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
