"""Failover: kill -9 and SIGTERM of the MASTER, and preemption when the better host returns."""

import time
import unittest

from carpnet import NetnsTestCase, log, wait_until

# advbase 1: h2 (advskew 100) declares the master down after 3 * (1 + 100/256) s = 4.2 s
# (OpenBSD) or 3 + 100/256 = 3.4 s (FreeBSD). A bow-out makes it take over at once, so a
# takeover faster than this bound can only come from the bow-out.
BOW_OUT_BOUND = 2.5


class FailoverTest(NetnsTestCase):
    HOSTS = 2

    def test_kill9_master(self):
        s = self.seg
        ds = self.start_hosts({"h1": 0, "h2": 100})
        v4, v6 = s.vip4(1), s.vip6(1)
        wait_until(lambda: s.client_ping(v4), 5, what="client reaches the address")
        p4, p6 = s.prober(v4).start(), s.prober(v6).start()
        time.sleep(0.5)
        t0 = time.time()
        ds["h1"].kill9()
        log("kill -9 carpd on h1 (MASTER)")
        took = s.wait_state("h2", "MASTER", timeout=12)
        log(f"h2 MASTER {took:.2f} s after the kill")
        wait_until(lambda: s.client_ping(v4), 10, what=f"client reaches {v4} again")
        wait_until(lambda: s.client_ping(v6), 10, what=f"client reaches {v6} again")
        time.sleep(0.5)
        r4, r6 = p4.stop(), p6.stop()
        for r in (r4, r6):
            log(r.summary())
        self.assertTrue(r4.recovered and r6.recovered)
        self.assertEqual(s.masters(), ["h2"])
        self.assertTrue(s.has_address("h2", v4) and s.has_address("h2", v6))
        if s.has_address("h1", v4):
            log("h1's kernel still holds the addresses of the killed carpd, so it kept answering "
                "until h2 took over: the outage above is not a failover time (see power cut)")

    def test_power_cut_master(self):
        """The MASTER host dies: carpd killed and its cable pulled at the same moment."""
        s = self.seg
        self.start_hosts({"h1": 0, "h2": 100})
        v4, v6 = s.vip4(1), s.vip6(1)
        wait_until(lambda: s.client_ping(v4), 5, what="client reaches the address")
        p4, p6 = s.prober(v4).start(), s.prober(v6).start()
        time.sleep(0.5)
        t0 = time.time()
        s.link_down("h1")
        s.daemons["h1"].kill9()
        log("power cut on h1 (MASTER): carpd killed, bridge port down")
        took = s.wait_state("h2", "MASTER", timeout=12)
        log(f"h2 MASTER {took:.2f} s after the power cut")
        wait_until(lambda: s.client_ping(v4), 10, what=f"client reaches {v4} again")
        wait_until(lambda: s.client_ping(v6), 10, what=f"client reaches {v6} again")
        time.sleep(0.5)
        r4, r6 = p4.stop(), p6.stop()
        for r in (r4, r6):
            log(r.summary())
            if r.back_at:
                log(f"  {r.addr}: answers again {1000 * (r.back_at - t0):.0f} ms after the cut")
        self.assertTrue(r4.recovered and r6.recovered)
        self.assertEqual(s.client_neigh(v4), "00:00:5e:00:01:01")

    def test_sigterm_master_bows_out(self):
        s = self.seg
        ds = self.start_hosts({"h1": 0, "h2": 100})
        v4 = s.vip4(1)
        wait_until(lambda: s.client_ping(v4), 5, what="client reaches the address")
        pr = s.prober(v4).start()
        time.sleep(0.5)
        t0 = time.monotonic()
        ds["h1"].signal(15)
        took = s.wait_state("h2", "MASTER", timeout=12)
        rc = ds["h1"].proc.wait(10)
        log(f"SIGTERM to h1: h2 MASTER after {took:.2f} s; h1 carpd exited with {rc}")
        wait_until(lambda: s.client_ping(v4), 10, what="client reaches the address again")
        time.sleep(0.3)
        r = pr.stop()
        log(r.summary())
        self.assertEqual(rc, 0, "graceful stop exits 0")
        self.assertLess(took, BOW_OUT_BOUND,
                        f"takeover took {took:.2f} s: no bow-out seen (master-down is ~3.4-4.2 s)")
        self.assertFalse(s.has_address("h1", v4) or s.has_address("h1", s.vip6(1)),
                         "graceful stop removes the virtual addresses")
        self.assertLess(time.monotonic() - t0, 30)

    def _kill_restart(self, preempt: bool):
        s = self.seg
        ds = self.start_hosts({"h1": 0, "h2": 100}, preempt=preempt)
        ds["h1"].kill9()
        took = s.wait_state("h2", "MASTER", timeout=12)
        log(f"h1 killed; h2 MASTER after {took:.2f} s")
        ds["h1"].start()
        log("h1 restarted")
        return ds

    def test_preempt_on_better_host_takes_back(self):
        s = self.seg
        self._kill_restart(preempt=True)
        took = s.wait_roles({"h1": "MASTER", "h2": "BACKUP"}, timeout=12)
        log(f"preempt: h1 MASTER again {took:.2f} s after its restart")
        self.assert_never_two_masters(2.0)
        wait_until(lambda: s.client_ping(s.vip4(1)), 5, what="client reaches the address")
        self.assertFalse(s.has_address("h2", s.vip4(1)))

    def test_preempt_off_better_host_stays_backup(self):
        s = self.seg
        self._kill_restart(preempt=False)
        s.wait_state("h1", "BACKUP", timeout=10)
        samples = self.assert_stable({"h1": "BACKUP", "h2": "MASTER"}, 6.0)
        log(f"no preempt: h1 stayed BACKUP for {len(samples)} samples over 6 s")
        # the restarted carpd removed the address that the killed one left behind
        wait_until(lambda: not s.has_address("h1", s.vip4(1)), 5,
                   what="h1 to drop the stale address of the killed carpd")
        wait_until(lambda: s.client_ping(s.vip4(1)), 5, what="client reaches the address")


if __name__ == "__main__":
    unittest.main(verbosity=2)
