"""Carrier loss on the MASTER's parent interface."""

import time
import unittest

from carpnet import NetnsTestCase, log, wait_until


class LinkTest(NetnsTestCase):
    HOSTS = 2

    def test_link_down_init_and_back_to_backup(self):
        s = self.seg
        ds = self.start_hosts({"h1": 0, "h2": 100}, preempt=False)
        h1 = ds["h1"]
        pr = s.prober(s.vip4(1)).start()
        time.sleep(0.3)
        s.link_down("h1")
        log("h1: eth0 lost carrier (bridge port down)")
        t_init = s.wait_state("h1", "INIT", timeout=10)
        took = s.wait_state("h2", "MASTER", timeout=12)
        log(f"h1 INIT after {t_init:.2f} s, h2 MASTER after {t_init + took:.2f} s")
        dem = h1.status()["demotion"].get("carp")
        log(f"h1 demotion while down: {h1.status()['demotion']}")
        self.assertGreaterEqual(dem, 1, "link down demotes group carp")
        wait_until(lambda: s.client_ping(s.vip4(1)), 10, what="client reaches the address")
        r = pr.stop()
        log(r.summary())

        s.link_up("h1")
        took = s.wait_state("h1", "BACKUP", timeout=10)
        log(f"link up: h1 BACKUP after {took:.2f} s")
        wait_until(lambda: h1.status()["demotion"].get("carp") == 0, 5,
                   what="demotion restored after link up")
        self.assert_stable({"h1": "BACKUP", "h2": "MASTER"}, 5.0)
        self.assertFalse(s.has_address("h1", s.vip4(1)))
        wait_until(lambda: s.client_ping(s.vip4(1)), 5, what="client reaches the address")


if __name__ == "__main__":
    unittest.main(verbosity=2)
