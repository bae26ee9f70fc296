"""carpctl demote / state / maintenance against a running pair."""

import time
import unittest

from carpnet import NetnsTestCase, log, wait_until
import carpwire
from carpwire import describe_frame


class DemoteTest(NetnsTestCase):
    HOSTS = 2

    def test_demote_moves_mastership_and_never_goes_negative(self):
        s = self.seg
        ds = self.start_hosts({"h1": 0, "h2": 100}, preempt=False)
        h1, h2 = ds["h1"], ds["h2"]

        t0 = time.monotonic()
        h1.carpctl("demote", "1")
        took = s.wait_roles({"h1": "BACKUP", "h2": "MASTER"}, timeout=10)
        log(f"demote 1 on h1: h2 MASTER after {took:.2f} s "
            f"(h1 demotion {h1.status()['demotion']}, advertises demote {h1.vhid(1)['demote']})")
        self.assertEqual(h1.status()["demotion"].get("carp"), 1)
        self.assertEqual(h1.vhid(1)["demote"], 1)
        self.assertLess(time.monotonic() - t0, 10)

        h1.carpctl("demote", "-1")
        self.assertEqual(h1.status()["demotion"].get("carp"), 0)
        self.assert_stable({"h1": "BACKUP", "h2": "MASTER"}, 5.0)
        log("demote -1 on h1 with preempt off: roles held for 5 s")

        # a counter never goes below 0 (OpenBSD): -5 on a host at 0 is still 0, so h1 must not
        # turn into a "super" host and the pair must never have two masters
        h1.carpctl("demote", "-5", check=False)
        self.assertEqual(h1.status()["demotion"].get("carp"), 0)
        self.assertEqual(h1.vhid(1)["demote"], 0)
        samples = self.assert_never_two_masters(4.0)
        self.assertTrue(all(x == {"h1": "BACKUP", "h2": "MASTER"} for x in samples), samples[:3])
        log(f"demote -5 on h1 (at 0): demotion stays 0, one MASTER in {len(samples)} samples")

    def test_demote_group_argument(self):
        s = self.seg
        ds = self.start_hosts({"h1": 0, "h2": 100})
        ds["h1"].carpctl("demote", "carp", "1")
        took = s.wait_roles({"h1": "BACKUP", "h2": "MASTER"}, timeout=10)
        log(f"demote carp 1 on h1: h2 MASTER after {took:.2f} s")
        self.assertEqual(ds["h1"].status()["demotion"].get("carp"), 1)


class ForcedStateTest(NetnsTestCase):
    HOSTS = 2

    def test_state_backup_then_master(self):
        s = self.seg
        ds = self.start_hosts({"h1": 0, "h2": 100}, preempt=False)
        pr = s.prober(s.vip4(1)).start()
        time.sleep(0.3)
        ds["h1"].carpctl("state", "eth0", "1", "backup")
        took = s.wait_roles({"h1": "BACKUP", "h2": "MASTER"}, timeout=10)
        log(f"state eth0 1 backup on h1: h2 MASTER after {took:.2f} s")
        self.assert_stable({"h1": "BACKUP", "h2": "MASTER"}, 3.0)
        wait_until(lambda: s.client_ping(s.vip4(1)), 5, what="client reaches the address")
        log("handover h1 -> h2: " + pr.stop().summary())

        pr = s.prober(s.vip4(1)).start()
        time.sleep(0.3)
        ds["h1"].carpctl("state", "eth0", "1", "master")
        took = s.wait_roles({"h1": "MASTER", "h2": "BACKUP"}, timeout=10)
        log(f"state eth0 1 master on h1: h1 MASTER, h2 BACKUP after {took:.2f} s")
        self.assert_never_two_masters(2.0)
        wait_until(lambda: s.client_ping(s.vip4(1)), 5, what="client reaches the address")
        log("handover h2 -> h1: " + pr.stop().summary())

    def test_former_master_stays_silent_on_virtual_mac(self):
        """After a handover the old MASTER must send nothing from 00:00:5e:00:01:01: a switch
        would move the MAC to its port and black-hole the clients until the new MASTER's next
        frame (on the BSDs the carp interface of a BACKUP is silent)."""
        s = self.seg
        ds = self.start_hosts({"h1": 0, "h2": 100}, preempt=False)
        sniff = s.vmac_leak_sniffer("h1", timeout=4.0)
        t0 = time.time()
        ds["h1"].carpctl("state", "eth0", "1", "backup")
        s.wait_roles({"h1": "BACKUP", "h2": "MASTER"}, timeout=10)
        frames = sniff.frames()
        # the bow-out advertisement is the one frame the leaving MASTER should send
        leaked = [f for f in frames if f["proto"] != carpwire.CARP_PROTO]
        for f in frames:
            log(f"from h1 at +{f['t'] - t0:.3f} s: {describe_frame(f['bytes'])}"
                + ("" if f in leaked else "   (bow-out, fine)"))
        first = describe_frame(leaked[0]["bytes"]) if leaked else ""
        self.assertEqual(len(leaked), 0, f"h1 (BACKUP) sent {len(leaked)} frames from the "
                         f"virtual MAC, first: {first}")

    def test_state_rejects_unknown_vhid(self):
        ds = self.start_hosts({"h1": 0}, wait_roles=False)
        r = ds["h1"].carpctl("state", "eth0", "99", "master", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertTrue(r.stderr.strip(), "a one-line reason on stderr")
        log(f"state eth0 99 master: exit {r.returncode}: {r.stderr.strip()}")


class MaintenanceTest(NetnsTestCase):
    HOSTS = 2

    def test_maintenance_hands_over_and_persists(self):
        s = self.seg
        # preempt on: without maintenance h1 would take the VHID straight back
        ds = self.start_hosts({"h1": 0, "h2": 100}, preempt=True)
        h1 = ds["h1"]
        h1.carpctl("maintenance", "on")
        took = s.wait_roles({"h1": "BACKUP", "h2": "MASTER"}, timeout=10)
        log(f"maintenance on h1: h2 MASTER after {took:.2f} s")
        self.assertTrue(h1.status()["maintenance"])
        self.assert_stable({"h1": "BACKUP", "h2": "MASTER"}, 5.0)
        log("h1 (better, preempt on) stayed BACKUP for 5 s")

        h1.terminate()
        h1.start()
        self.assertTrue(h1.status()["maintenance"], "maintenance persists across a restart")
        s.wait_state("h1", "BACKUP", timeout=10)
        self.assert_stable({"h1": "BACKUP", "h2": "MASTER"}, 5.0)
        log("after a restart h1 is still in maintenance and BACKUP")

        h1.carpctl("maintenance", "off")
        self.assertFalse(h1.status()["maintenance"])
        took = s.wait_roles({"h1": "MASTER", "h2": "BACKUP"}, timeout=10)
        log(f"maintenance off: h1 (preempt) MASTER again after {took:.2f} s")
        wait_until(lambda: s.client_ping(s.vip4(1)), 5, what="client reaches the address")


if __name__ == "__main__":
    unittest.main(verbosity=2)
