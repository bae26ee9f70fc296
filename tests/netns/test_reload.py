"""Reload by difference ("running carpd in production"): `carpctl reload` and SIGHUP apply a
changed file VHID by VHID. A VHID whose configuration did not change keeps its state, its
`since` and its addresses: a client pinging it every 10 ms loses nothing. New VHIDs start, and
changed ones take their new settings. A bad file changes nothing, and `carpctl reload` says why
in one line with FILE:LINE:COL.

Two hosts, two VHIDs with opposite MASTERs (preempt on, so the roles are deterministic):
  VHID 1 192.0.2.1/24  h1 advskew 0,   h2 advskew 100  -> h1 MASTER
  VHID 2 192.0.2.2/24  h1 advskew 100, h2 advskew 0    -> h2 MASTER
h1's file is then rewritten: VHID 3 (192.0.2.3/24) added, VHID 2's advskew 100 -> 50 (still
worse than h2, so no transition is expected anywhere).
"""

import os
import re
import signal
import threading
import time
import unittest

import carpnet
from carpnet import NetnsTestCase, config, log, vhid_block, wait_until

MAX_GAP_MS = 100  # ping runs every 10 ms; a reload that touched VHID 1 would cost seconds
NEW_SKEW2 = 50


def _vhid1(addr_n: int) -> list[str]:
    return [f"192.0.2.{addr_n}/24", f"2001:db8::{addr_n}/64"]


H1_BLOCKS = [vhid_block(1, 0, _vhid1(1)), vhid_block(2, 100, _vhid1(2))]
H2_BLOCKS = [vhid_block(1, 100, _vhid1(1)), vhid_block(2, 0, _vhid1(2))]
H1_NEW = [vhid_block(1, 0, _vhid1(1)), vhid_block(2, NEW_SKEW2, _vhid1(2)),
          vhid_block(3, 0, _vhid1(3))]


def _without_counters(st: dict) -> dict:
    """A status with the counters (per VHID and global stats) left out."""
    out = {k: v for k, v in st.items() if k != "stats"}
    out["vhids"] = sorted(({k: v for k, v in x.items() if k != "counters"}
                           for x in st.get("vhids", [])),
                          key=lambda x: (x.get("interface"), x.get("vhid")))
    return out


class ReloadTest(NetnsTestCase):
    HOSTS = 2

    def _start(self) -> dict:
        s = self.seg
        ds = {"h1": s.start_carpd("h1", config(*H1_BLOCKS, preempt=True))}
        s.wait_state("h1", "MASTER", 1, timeout=15)
        ds["h2"] = s.start_carpd("h2", config(*H2_BLOCKS, preempt=True))
        s.wait_roles({"h1": "MASTER", "h2": "BACKUP"}, vhid=1, timeout=15)
        s.wait_roles({"h1": "BACKUP", "h2": "MASTER"}, vhid=2, timeout=15)
        log(f"settled: vhid 1 {s.states(1)}, vhid 2 {s.states(2)}")
        return ds

    def _write(self, d: carpnet.Carpd, blocks: list[str]) -> str:
        text = carpnet._inject_paths(config(*blocks, preempt=True), d.sock, d.state_dir)
        tmp = d.config_path + ".new"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, d.config_path)  # atomically, as an editor or a deploy tool would
        return text

    @staticmethod
    def _lost_seqs(path: str) -> tuple[list[int], int]:
        """icmp_seq numbers without a reply below the last answered one, and that last one."""
        seqs = set()
        with open(path) as f:
            for ln in f:
                m = re.search(r"bytes from .*icmp_seq=(\d+)", ln)
                if m and "DUP!" not in ln:
                    seqs.add(int(m.group(1)))
        if not seqs:
            return [], 0
        top = max(seqs)
        return [q for q in range(1, top + 1) if q not in seqs], top

    def _reload_by_difference(self, how: str, trigger) -> None:
        s = self.seg
        ds = self._start()
        before = {h: ds[h].vhid(1) for h in ds}
        prober = s.prober(s.vip4(1), 0.01).start()
        time.sleep(0.7)  # ARP resolved, replies flowing

        samples, stop = [], threading.Event()

        def sampler():  # VHID 1's state on both hosts every 50 ms across the reload
            while not stop.is_set():
                samples.append(s.states(1))
                time.sleep(0.05)
        th = threading.Thread(target=sampler, daemon=True)
        th.start()
        self._write(ds["h1"], H1_NEW)
        t0 = time.monotonic()
        trigger(ds["h1"])

        def applied():
            st = ds["h1"].status()
            v = {x["vhid"]: x for x in st["vhids"]}
            return 3 in v and v[2]["advskew"] == NEW_SKEW2
        wait_until(applied, 5, 0.02, f"{how}: VHID 3 and VHID 2 advskew {NEW_SKEW2} on h1")
        took = time.monotonic() - t0
        # VHID 3 (h1 alone) becomes MASTER after its master-down interval; watch VHID 1 meanwhile
        s.wait_state("h1", "MASTER", 3, timeout=10)
        time.sleep(1.0)
        res = prober.stop()
        stop.set()
        th.join(5)
        moved = [x for x in samples if x != {"h1": "MASTER", "h2": "BACKUP"}]
        lost, top = self._lost_seqs(prober.out.name)
        after = {h: ds[h].vhid(1) for h in ds}
        log(f"{how}: applied after {took * 1000:.0f} ms; {res.summary()}; "
            f"lost icmp_seq below {top}: {lost[:20]}")
        log(f"{how}: {len(samples)} samples of vhid 1's roles, {len(moved)} differ: {moved[:5]}")
        log(f"{how}: vhid 1 before {[(h, v['state'], v['since']) for h, v in before.items()]} "
            f"after {[(h, v['state'], v['since']) for h, v in after.items()]}")

        self.assertTrue(ds["h1"].alive() and ds["h2"].alive())
        self.assertGreater(res.received, 100, res.summary())
        self.assertEqual(lost, [], f"{how}: probes of VHID 1 lost: {res.summary()}")
        self.assertTrue(res.recovered, res.summary())
        self.assertLess(res.max_gap_ms, MAX_GAP_MS, res.summary())
        self.assertFalse(moved, f"{how}: vhid 1 roles changed during the reload: {moved[:5]}")
        for h in ds:
            self.assertEqual(after[h]["state"], before[h]["state"], f"{how}: {h} vhid 1 state")
            self.assertEqual(after[h]["since"], before[h]["since"],
                             f"{how}: {h} vhid 1 had a transition")
        v1 = ds["h1"].vhid(1)
        self.assertEqual(v1["advskew"], 0)
        v2 = ds["h1"].vhid(2)
        self.assertEqual(v2["advskew"], NEW_SKEW2)
        self.assertEqual(v2["state"], "BACKUP")
        self.assertEqual(s.states(2), {"h1": "BACKUP", "h2": "MASTER"})
        v3 = ds["h1"].vhid(3)
        self.assertEqual(v3["state"], "MASTER")
        self.assertTrue(s.has_address("h1", s.vip4(3)), s.addresses("h1"))
        self.assertTrue(s.client_ping(s.vip4(3), count=2))

    def test_carpctl_reload(self):
        def trig(d):
            r = d.carpctl("reload")
            log(f"carpctl reload -> {r.returncode} {r.stdout.strip()!r} {r.stderr.strip()!r}")
        self._reload_by_difference("carpctl reload", trig)

    def test_sighup(self):
        self._reload_by_difference("SIGHUP", lambda d: d.signal(signal.SIGHUP))

    def test_bad_file_changes_nothing(self):
        s = self.seg
        ds = self._start()
        h1 = ds["h1"]
        bad = [vhid_block(1, 0, _vhid1(1)), vhid_block(2, 999, _vhid1(2)),
               vhid_block(3, 0, _vhid1(3))]
        before = {h: _without_counters(ds[h].status()) for h in ds}
        addrs_before = sorted(s.addresses("h1"))
        text = self._write(h1, bad)
        lines = text.splitlines()
        lineno = next(i + 1 for i, ln in enumerate(lines) if re.match(r"\s*advskew\s*=\s*999", ln))
        col = lines[lineno - 1].index("999") + 1

        r = h1.carpctl("reload", check=False)
        msg = (r.stderr.strip() or r.stdout.strip())
        log(f"carpctl reload of a bad file -> exit {r.returncode}: stderr {r.stderr!r} "
            f"stdout {r.stdout!r} (expected {h1.config_path}:{lineno}:{col})")
        self.assertNotEqual(r.returncode, 0)
        self.assertTrue(msg, "no reason given")
        self.assertNotIn("\n", msg, f"the reason is not one line: {msg!r}")
        self.assertRegex(msg, re.escape(h1.config_path) + r":\d+:\d+",
                         "no FILE:LINE:COL in the reason")
        self.assertIn(f"{h1.config_path}:{lineno}:", msg, "wrong line")
        if f"{h1.config_path}:{lineno}:{col}" not in msg:
            log(f"NOTE: column differs from the value's column {col}: {msg}")

        # the same bad file by SIGHUP: the daemon stays up and changes nothing either
        h1.signal(signal.SIGHUP)
        time.sleep(3.5)  # longer than a master-down interval: a started VHID 3 would be MASTER
        self.assertTrue(h1.alive(), h1.log_tail(20))
        after = {h: _without_counters(ds[h].status()) for h in ds}
        for h in ds:
            self.assertEqual(after[h], before[h], f"{h}: a bad file changed the status")
        self.assertEqual(sorted(s.addresses("h1")), addrs_before)
        self.assertFalse(s.has_address("h1", s.vip4(3)))


if __name__ == "__main__":
    unittest.main(verbosity=2)
