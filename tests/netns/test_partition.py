"""Prove carpd unbreakable: a partition that heals, and kill -9 plus a quick restart.

(a) h2's switch port is blocked in the bridge (`bridge link set dev h2 state 0`, i.e.
    disabled): h2's eth0 keeps its carrier, so carpd on h2 sees no link event and must not go
    INIT; it just stops hearing h1 and becomes MASTER too (split brain, as CARP intends). When
    the port forwards again, the worse MASTER (h2) must hear the better one and step down within
    one advertisement interval; the client must still reach the address through the virtual MAC.
(b) carpd on the MASTER is killed with SIGKILL and started again within a second, as systemd's
    Restart= would. The killed daemon's kernel state (macvlan up, addresses) survives it; the
    requirement is that the segment never has the address twice: at no 50 ms sample may both
    hosts hold 192.0.2.1 on an interface that is up. Restarted within two advertisement
    intervals of its last advertisement, h1 takes MASTER back at once (reason "resumed"): h2
    never takes over and the client loses well under a second, not a master-down interval.
(c) Restarted later than that, h1 must not resume (h2 may be about to take over): it starts
    as BACKUP and h2 takes over at its master-down deadline, as before.
"""

import json
import threading
import time
import unittest

import carpwire
from carpnet import NetnsTestCase, log, wait_until

ADVBASE = 1.0
HEAL_SLACK = 3.0        # allowed on top of one advertisement interval
SPLIT_TIMEOUT = 5.0     # master-down is 3 x (1 + 100/256) = 4.2 s for h2


class PartitionTest(NetnsTestCase):
    HOSTS = 2

    def _port_state(self, port: str, state: int) -> None:
        self.seg.run("sw", ["bridge", "link", "set", "dev", port, "state", str(state)])

    def _vmac_ports(self, vhid: int = 1) -> list[str]:
        r = self.seg.run("sw", ["bridge", "-j", "fdb", "show", "br", "br0"], check=False)
        mac = carpwire.vmac(vhid).lower()
        return sorted(e.get("ifname", "?") for e in json.loads(r.stdout or "[]")
                      if e.get("mac", "").lower() == mac and e.get("master") == "br0")

    def test_partition_and_heal(self):
        s = self.seg
        ds = self.start_hosts({"h1": 0, "h2": 100}, preempt=False)
        vip = s.vip4(1)
        self.assertTrue(s.client_ping(vip, count=2))
        self.assertEqual(s.client_neigh(vip), carpwire.vmac(1).lower())

        self._port_state("h2", 0)  # disabled: the bridge drops h2's frames both ways
        self.addCleanup(lambda: s.run("sw", ["bridge", "link", "set", "dev", "h2", "state", "3"],
                                      check=False))
        t0 = time.monotonic()
        split = wait_until(lambda: s.masters() == ["h1", "h2"], SPLIT_TIMEOUT + 2, 0.05,
                           "both MASTER during the partition")
        t_split = time.monotonic() - t0
        self.assertTrue(s.carrier("h2"), "h2 lost carrier: the partition must keep the link up")
        log(f"partition: both MASTER after {t_split:.2f} s ({split}); h2 carrier kept")
        self.assertLessEqual(t_split, SPLIT_TIMEOUT)
        time.sleep(1.0)
        self.assertEqual(s.masters(), ["h1", "h2"])
        self.assertTrue(s.carrier("h2"))

        prober = s.prober(vip).start()
        time.sleep(0.5)
        self._port_state("h2", 3)  # forwarding again
        t0 = time.monotonic()
        samples = []
        while time.monotonic() - t0 < ADVBASE + HEAL_SLACK + 2:
            st = s.states()
            samples.append((time.monotonic() - t0, st, self._vmac_ports()))
            if st == {"h1": "MASTER", "h2": "BACKUP"}:
                break
            time.sleep(0.02)
        t_heal = samples[-1][0]
        settled = samples[-1][1] == {"h1": "MASTER", "h2": "BACKUP"}
        changes = [x for i, x in enumerate(samples) if i == 0 or x[1:] != samples[i - 1][1:]]
        log(f"heal: {'one MASTER (h1)' if settled else 'NOT settled'} after {t_heal:.2f} s; "
            + "; ".join(f"+{t:.3f} s {st} vmac on {p}" for t, st, p in changes))
        # after the heal: the virtual MAC must end up on h1's port and stay there
        fdb = []
        t1 = time.monotonic()
        while time.monotonic() - t1 < 2.5:
            fdb.append((time.monotonic() - t0, self._vmac_ports()))
            time.sleep(0.02)
        res = prober.stop()
        fdb_changes = [x for i, x in enumerate(fdb) if i == 0 or x[1] != fdb[i - 1][1]]
        log("heal: virtual MAC in the bridge afterwards: "
            + ", ".join(f"+{t:.3f} s {p}" for t, p in fdb_changes))
        log(f"heal: client {res.summary()}")

        self.assertTrue(settled, f"no single MASTER {ADVBASE + HEAL_SLACK:.0f} s after the heal; "
                        f"states now {s.states()}")
        self.assertLessEqual(t_heal, ADVBASE + HEAL_SLACK)
        self.assertEqual(s.states(), {"h1": "MASTER", "h2": "BACKUP"})
        self.assertTrue(s.client_ping(vip, count=3), "client cannot reach the address after heal")
        self.assertEqual(s.client_neigh(vip), carpwire.vmac(1).lower())
        self.assertEqual(self._vmac_ports(), ["h1"])
        self.assertFalse(s.has_address("h2", vip), s.addresses("h2"))
        self.assertTrue(all(d.alive() for d in ds.values()))

    # (b) ----------------------------------------------------------------------------------
    def _holders(self) -> dict:
        """host -> (holds 192.0.2.1 anywhere, on an interface that is up, interface name)."""
        out = {}
        vip = self.seg.vip4(1)
        for h in self.seg.hosts:
            r = self.seg.run(h, ["ip", "-j", "addr", "show"], check=False)
            held, up, where = False, False, None
            for link in json.loads(r.stdout or "[]"):
                for a in link.get("addr_info", []):
                    if a.get("local") == vip:
                        held, where = True, link.get("ifname")
                        up = up or ("UP" in link.get("flags", [])
                                    and link.get("operstate") != "DOWN")
            out[h] = (held, up, where)
        return out

    def test_kill9_and_restart_of_the_master(self):
        s = self.seg
        ds = self.start_hosts({"h1": 0, "h2": 100}, preempt=False)
        self.assertTrue(s.has_address("h1", s.vip4(1)))
        samples = []
        stop = threading.Event()
        t0 = time.monotonic()

        def sampler():
            while not stop.is_set():
                t = time.monotonic() - t0
                samples.append((t, self._holders()))
                time.sleep(max(0.0, 0.05 - (time.monotonic() - t0 - t)))

        th = threading.Thread(target=sampler, daemon=True)
        th.start()
        prober = s.prober(s.vip4(1)).start()
        time.sleep(1.0)
        t_kill = time.monotonic() - t0
        ds["h1"].kill9()
        time.sleep(0.5)
        t_restart = time.monotonic() - t0
        cfg = ds["h1"].config_text
        s.daemons.pop("h1")
        h1 = s.start_carpd("h1", cfg, wait=True)
        t_ready = time.monotonic() - t0
        # whatever the roles become, watch long enough for any master-down to expire twice
        time.sleep(9.0)
        stop.set()
        th.join(5)
        res = prober.stop()
        states = s.states()

        overlap_any, overlap_up = [], []  # runs of samples where both hold it (on an up iface)
        for t, hs in samples:
            both = all(v[0] for v in hs.values())
            both_up = all(v[1] for v in hs.values())
            for lst, cond in ((overlap_any, both), (overlap_up, both_up)):
                if cond and lst and lst[-1][1] is None:
                    pass
                elif cond:
                    lst.append([t, None])
                elif lst and lst[-1][1] is None:
                    lst[-1][1] = t
        for lst in (overlap_any, overlap_up):
            if lst and lst[-1][1] is None:
                lst[-1][1] = samples[-1][0]

        def longest(lst):
            return max((b - a for a, b in lst), default=0.0)

        timeline = [x for i, x in enumerate(samples) if i == 0 or x[1] != samples[i - 1][1]]
        log(f"kill -9 at +{t_kill:.3f} s, restart at +{t_restart:.3f} s, answering at "
            f"+{t_ready:.3f} s; states at the end {states}; {len(samples)} samples")
        for t, hs in timeline:
            log(f"  +{t:.3f} s " + ", ".join(
                f"{h}: {'holds' if v[0] else '-'}{' on ' + v[2] if v[2] else ''}"
                f"{' (UP)' if v[1] else (' (down)' if v[0] else '')}" for h, v in hs.items()))
        log(f"both hold 192.0.2.1: {len(overlap_any)} runs, longest {longest(overlap_any) * 1000:.0f}"
            f" ms; both on an UP interface: {len(overlap_up)} runs, longest "
            f"{longest(overlap_up) * 1000:.0f} ms")
        log(f"client: {res.summary()}")

        self.assertTrue(h1.alive() and ds["h2"].alive())
        self.assertEqual(sum(1 for v in states.values() if v == "MASTER"), 1, states)
        # the quick resume: h1 takes MASTER back, h2 never takes over, the client barely notices
        self.assertEqual(states, {"h1": "MASTER", "h2": "BACKUP"})
        self.assertIn("INIT -> MASTER (resumed", h1.log_text().rsplit("==== ", 1)[-1])
        self.assertNotIn("-> MASTER", ds["h2"].log_text())
        self.assertTrue(res.recovered, res.summary())
        self.assertLess(res.max_gap_ms, 1000, res.summary())
        self.assertFalse(overlap_up, "duplicate address on the segment: both hosts held "
                         f"192.0.2.1 on an up interface during {overlap_up} (s since start)")
        self.assertFalse(overlap_any, "both hosts held 192.0.2.1 (one on a down interface) "
                         f"during {overlap_any} (s since start)")
        master = next(h for h, v in states.items() if v == "MASTER")
        other = "h2" if master == "h1" else "h1"
        self.assertTrue(s.has_address(master, s.vip4(1)))
        self.assertFalse(s.has_address(other, s.vip4(1)), s.addresses(other))
        self.assertTrue(s.client_ping(s.vip4(1), count=2))

    def test_late_restart_of_the_master_waits_as_backup(self):
        s = self.seg
        ds = self.start_hosts({"h1": 0, "h2": 100}, preempt=False)
        ds["h1"].kill9()
        time.sleep(2.6)  # past h1's resume window (2 x advbase), before h2's master-down (4.2 s)
        cfg = ds["h1"].config_text
        s.daemons.pop("h1")
        h1 = s.start_carpd("h1", cfg, wait=True)
        self.assertTrue(wait_until(lambda: ds["h2"].state() == "MASTER", SPLIT_TIMEOUT),
                        ds["h2"].log_tail())
        time.sleep(1.0)
        log(f"late restart: h1 {h1.state()}, h2 {ds['h2'].state()}")
        self.assertEqual(h1.state(), "BACKUP", h1.log_tail())
        restarted = h1.log_text().rsplit("==== ", 1)[-1]  # the log of the second run only
        self.assertNotIn("resumed", restarted)
        self.assertIn("INIT -> BACKUP (started)", restarted)
        self.assertFalse(s.has_address("h1", s.vip4(1)), s.addresses("h1"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
