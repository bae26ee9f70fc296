"""Two VHIDs on one interface, three hosts, opposite masters."""

import time
import unittest

from carpnet import NetnsTestCase, config, log, vhid_block, wait_until
from carpwire import vmac

SKEWS = {1: {"h1": 0, "h2": 100, "h3": 200},   # vhid 1: h1 best
         2: {"h1": 100, "h2": 0, "h3": 200}}   # vhid 2: h2 best


class MultiVhidTest(NetnsTestCase):
    HOSTS = 3

    def test_two_vhids_opposite_masters(self):
        s = self.seg
        ds = {}
        for h in ("h1", "h2", "h3"):
            # preempt on: the outcome must not depend on which carpd came up first
            ds[h] = s.start_carpd(h, config(vhid_block(1, SKEWS[1][h]),
                                            vhid_block(2, SKEWS[2][h]), preempt=True))
        t1 = s.wait_roles({"h1": "MASTER", "h2": "BACKUP", "h3": "BACKUP"}, vhid=1, timeout=15)
        t2 = s.wait_roles({"h1": "BACKUP", "h2": "MASTER", "h3": "BACKUP"}, vhid=2, timeout=15)
        log(f"vhid 1 MASTER h1 ({t1:.2f} s), vhid 2 MASTER h2 (+{t2:.2f} s)")
        for h in ("h1", "h2", "h3"):
            for line in ds[h].status_text().splitlines():
                log(f"{h}: {line}")
        for n in (1, 2):
            for a in (s.vip4(n), s.vip6(n)):
                wait_until(lambda a=a: s.client_ping(a), 5, what=f"client reaches {a}")
                self.assertEqual(s.client_neigh(a), vmac(n), a)

        ds["h1"].kill9()
        took = s.wait_state("h2", "MASTER", vhid=1, timeout=12)
        log(f"h1 killed: vhid 1 moved to h2 after {took:.2f} s (h2 skew 100 < h3 skew 200)")
        self.assertEqual(s.states(1), {"h1": None, "h2": "MASTER", "h3": "BACKUP"})
        self.assertEqual(s.states(2), {"h1": None, "h2": "MASTER", "h3": "BACKUP"})
        wait_until(lambda: s.client_ping(s.vip4(1)), 10, what="client reaches vhid 1 again")
        self.assertEqual(s.client_neigh(s.vip4(1)), vmac(1))
        time.sleep(0.1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
