"""Instances never touch each other (product.md, "The MASTER serves what it claims"; issue 12).

Several carpd may run in one network namespace: split configurations, or one `carpd --ucarp`
per VHID during a migration from ucarp. On h1, next to a MASTER of VHID 1 that the client
pings every 10 ms:
  - a second carpd (toml, VHID 2, its own control socket and state_dir), then
  - a `carpd --ucarp` instance for VHID 3
start, and their start-up sweeps must leave VHID 1's macvlan and addresses alone: the client
never loses VHID 1 (no gap over 200 ms) and VHID 1 stays MASTER with the same `since`. Then
  - a third carpd configured with VHID 1 on eth0 exits non-zero with
    `vhid 1 on eth0 is run by carpd pid <pid> (<socket>)` and changes nothing on h1.
"""

import os
import re
import subprocess
import time
import unittest

import carpnet
from carpnet import NetnsTestCase, config, log, vhid_block, wait_until
from test_ucarp_cli import CarpdUcarp

MAX_GAP_MS = 200


class ExtraCarpd(carpnet.Carpd):
    """A further carpd in a host namespace that already runs one: own directory, socket and
    state_dir (the harness's Carpd keys everything by host)."""

    def __init__(self, seg, host: str, name: str, config_text: str):
        self.seg, self.host = seg, host
        self.dir = os.path.join(seg.tmp, f"{host}-{name}")
        os.makedirs(os.path.join(self.dir, "state"), exist_ok=True)
        self.sock = os.path.join(self.dir, "carpd.sock")
        self.state_dir = os.path.join(self.dir, "state")
        self.config_path = os.path.join(self.dir, "carpd.toml")
        self.log_path = os.path.join(self.dir, "carpd.log")
        self.config_text = carpnet._inject_paths(config_text, self.sock, self.state_dir)
        with open(self.config_path, "w") as f:
            f.write(self.config_text)
        self.proc = None
        self.started_at = 0.0


class IsolationTest(NetnsTestCase):
    HOSTS = 1

    def _extra(self, name: str, text: str, wait: bool = True) -> ExtraCarpd:
        d = ExtraCarpd(self.seg, "h1", name, text)
        # In the segment's daemons: stopped with SIGTERM, logs dumped and sanitizer-checked.
        self.seg.daemons[f"h1-{name}"] = d
        return d.start(wait=wait)

    def _objects(self) -> list[str]:
        """h1's links and addresses, without counters or timers that change on their own."""
        links = self.seg.run("h1", ["ip", "-o", "-d", "link", "show"]).stdout
        addrs = self.seg.run("h1", ["ip", "-o", "addr", "show"]).stdout
        out = []
        for ln in (links + addrs).splitlines():
            out.append(re.sub(r"\s+(valid_lft|preferred_lft)\s+\S+", "", ln).strip())
        return sorted(out)

    def test_other_instances_leave_a_master_alone_and_a_clash_is_refused(self):
        s = self.seg
        main = s.start_carpd("h1", config(vhid_block(1, 0)))
        s.wait_state("h1", "MASTER", 1, timeout=15)
        since = main.vhid(1)["since"]
        wait_until(lambda: s.client_ping(s.vip4(1)), 5, what="client reaches VHID 1")
        prober = s.prober(s.vip4(1), 0.01).start()
        time.sleep(0.7)  # ARP resolved, replies flowing

        second = self._extra("second", config(vhid_block(2, 0)))
        wait_until(lambda: second.state(2) == "MASTER", 15, what="second carpd MASTER of VHID 2")
        log("second carpd (VHID 2) MASTER")

        ucarp = CarpdUcarp(s, "h1", ["-i", "eth0", "-s", s.ip4("h1"), "-v", "3", "-p", "secret",
                                     "-a", s.vip4(3), "-b", "1", "-k", "0", "-z", "-D",
                                     "-f", "none"]).start()
        # Not in the segment's daemons: stop it by its PID at the end, before the namespaces go.
        self.addCleanup(lambda: ucarp.proc.poll() is None and ucarp.proc.kill())
        wait_until(lambda: ucarp.state() == "MASTER", 15, what="carpd --ucarp MASTER of VHID 3")
        log("carpd --ucarp (VHID 3) MASTER")
        time.sleep(1.0)  # a sweep that removed VHID 1's objects shows as a gap by now

        self.assertEqual(main.state(1), "MASTER")
        self.assertEqual(main.vhid(1)["since"], since, "VHID 1 changed state meanwhile")
        before = self._objects()

        third = self._extra("third", config(vhid_block(1, 0)), wait=False)
        try:
            rc = third.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.fail(f"a carpd with VHID 1 on eth0 kept running\n{third.log_tail(30)}")
        self.assertNotEqual(rc, 0, third.log_tail(30))
        expected = f"vhid 1 on eth0 is run by carpd pid {main.pid} ({main.sock})"
        self.assertIn(expected, third.log_text())
        time.sleep(0.5)
        self.assertEqual(self._objects(), before, "the refused carpd changed h1's links/addresses")

        time.sleep(0.5)
        res = prober.stop()
        log(f"VHID 1 across both starts and the refusal: {res.summary()}")
        self.assertTrue(res.recovered, res.summary())
        self.assertLessEqual(res.max_gap_ms, MAX_GAP_MS, res.summary())
        self.assertEqual(main.state(1), "MASTER")
        self.assertEqual(main.vhid(1)["since"], since, "VHID 1 changed state meanwhile")
        self.assertEqual(second.state(2), "MASTER")
        self.assertEqual(ucarp.state(), "MASTER")
        self.assertTrue(s.client_ping(s.vip4(2)), "VHID 2 lost")
        self.assertTrue(s.client_ping(s.vip4(3)), "VHID 3 lost")


if __name__ == "__main__":
    unittest.main()
