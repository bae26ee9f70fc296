"""Event hooks with the real carpd: order and arguments on a failover, a slow MASTER hook that
must not hold up the advertisements, and examples/hooks/conntrackd-sync.sh (with a stub
conntrackd that records its arguments, and with the real conntrackd when it is installed)."""

import os
import shutil
import subprocess
import time
import unittest

from carpnet import REPO, NetnsTestCase, config, log, vhid_block, wait_until

CONNTRACKD_EXAMPLE = os.path.join(REPO, "examples", "hooks", "conntrackd-sync.sh")
MASTER_DOWN = "master down: no advertisement within the master-down interval"


def write_script(path: str, text: str) -> str:
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o755)
    return path


def with_hooks(text: str, hooks: list, timeout: int = 10) -> str:
    """Adds hooks and hook_timeout to the [global] table of a config() text."""
    listed = ", ".join(f'"{h}"' for h in hooks)
    return text.replace("[global]\n", f"[global]\nhooks = [{listed}]\nhook_timeout = {timeout}\n",
                        1)


class Record:
    """A recording hook for one host: every run appends a start and an end line
    "<vhid> <interface> <old> <new> <$1> <$2> start|end <time> <reason>", and the environment
    it was given (as execve passed it) to <file>.env.<STATE>."""

    def __init__(self, seg, host: str, sleep_on_master: float = 0):
        d = os.path.join(seg.tmp, f"hooks-{host}")
        os.makedirs(d, exist_ok=True)
        self.path = os.path.join(d, "record")
        line = '"$CARP_VHID $CARP_INTERFACE $CARP_OLD_STATE $CARP_STATE $1 $2'
        tail = ' $EPOCHREALTIME $CARP_REASON"'
        self.hook = write_script(os.path.join(d, "record.sh"), "#!/bin/bash\n"
                                 f"tr '\\0' '\\n' < /proc/$$/environ | sort > {self.path}.env.$2\n"
                                 f"grep ^CapEff: /proc/$$/status > {self.path}.caps\n"
                                 f"echo {line} start{tail} >> {self.path}\n"
                                 f'[ "$2" = MASTER ] && sleep {sleep_on_master}\n'
                                 f"echo {line} end{tail} >> {self.path}\n"
                                 "exit 0\n")

    def lines(self) -> list[list[str]]:
        try:
            with open(self.path) as f:
                return [ln.split(" ", 8) for ln in f.read().splitlines()]
        except FileNotFoundError:
            return []

    def runs(self) -> list[tuple]:
        """(old, new, $1, $2, reason) of every run that ended, checking that runs never
        overlap (each start is followed by its own end)."""
        out = []
        ls = self.lines()
        for start, end in zip(ls[0::2], ls[1::2]):
            assert start[6] == "start" and end[6] == "end", ls
            assert start[:6] == end[:6], f"two runs overlapped: {ls}"
            out.append((start[2], start[3], start[4], start[5], start[8]))
        return out

    def env(self, state: str) -> str:
        with open(f"{self.path}.env.{state}") as f:
            return f.read()

    def started_at(self, state: str) -> float | None:
        for ln in self.lines():
            if ln[3] == state and ln[6] == "start":
                return float(ln[7])
        return None

    def ended_at(self, state: str) -> float | None:
        for ln in self.lines():
            if ln[3] == state and ln[6] == "end":
                return float(ln[7])
        return None


class HookOrderTest(NetnsTestCase):
    HOSTS = 2

    def start_pair(self, records: dict, timeout: int = 10) -> dict:
        ds = {}
        for h, skew in (("h1", 0), ("h2", 100)):
            ds[h] = self.seg.start_carpd(
                h, with_hooks(config(vhid_block(1, skew)), [records[h].hook], timeout))
        took = self.seg.wait_roles({"h1": "MASTER", "h2": "BACKUP"}, timeout=15)
        log(f"election settled in {took:.2f} s")
        return ds

    def test_failover_runs_init_backup_then_backup_master_with_devd_arguments(self):
        s = self.seg
        rec = {h: Record(s, h) for h in ("h1", "h2")}
        ds = self.start_pair(rec)
        wait_until(lambda: len(rec["h1"].runs()) == 2, 5, what="h1's hooks for BACKUP, MASTER")
        self.assertEqual([r[:4] for r in rec["h1"].runs()],
                         [("INIT", "BACKUP", "1@eth0", "BACKUP"),
                          ("BACKUP", "MASTER", "1@eth0", "MASTER")])
        wait_until(lambda: len(rec["h2"].runs()) == 1, 5, what="h2's hook for BACKUP")

        ds["h1"].kill9()
        took = s.wait_state("h2", "MASTER", timeout=12)
        log(f"kill -9 of h1: h2 MASTER after {took:.2f} s")
        wait_until(lambda: len(rec["h2"].runs()) == 2, 5, what="h2's hook for MASTER")
        time.sleep(0.5)  # nothing else may follow
        self.assertEqual(rec["h2"].runs(),
                         [("INIT", "BACKUP", "1@eth0", "BACKUP", "started"),
                          ("BACKUP", "MASTER", "1@eth0", "MASTER", MASTER_DOWN)])
        self.assertEqual(rec["h2"].env("MASTER"),
                         "CARP_INTERFACE=eth0\n"
                         "CARP_OLD_STATE=BACKUP\n"
                         f"CARP_REASON={MASTER_DOWN}\n"
                         "CARP_STATE=MASTER\n"
                         "CARP_VHID=1\n"
                         "LANG=C.UTF-8\n"
                         "PATH=/usr/sbin:/usr/bin:/sbin:/bin\n")
        with open(rec["h2"].path + ".caps") as f:
            log(f"hook capabilities: {f.read().strip()} (carpd keeps CAP_NET_RAW/CAP_NET_ADMIN "
                "for itself only)")
        self.assertIn(f"hook {rec['h2'].hook} 1@eth0 MASTER: exit 0", ds["h2"].log_text())

    def test_slow_master_hook_does_not_hold_up_advertisements(self):
        """The MASTER's hook sleeps 5 s: h1 must keep advertising meanwhile, so h2 (whose
        master-down interval is 3 x (1 + 100/256) = 4.2 s) stays BACKUP throughout."""
        s = self.seg
        rec = {h: Record(s, h, sleep_on_master=5) for h in ("h1", "h2")}
        d1 = s.start_carpd("h1", with_hooks(config(vhid_block(1, 0)), [rec["h1"].hook]))
        wait_until(lambda: rec["h1"].started_at("MASTER"), 10,
                   what="h1 MASTER and its 5 s hook started")
        hook_started = rec["h1"].started_at("MASTER")
        s.start_carpd("h2", with_hooks(config(vhid_block(1, 100)), [rec["h2"].hook]))
        sniff = s.sniffer("h2", count=50, timeout=4.0, src=s.ip4("h1"))
        log(f"h2 started {time.time() - hook_started:.2f} s into h1's 5 s MASTER hook")
        samples = s.sample_states(8.0)
        adverts = sniff.frames()
        ended = rec["h1"].ended_at("MASTER")
        self.assertIsNotNone(ended, "h1's MASTER hook did not finish")
        log(f"h1's MASTER hook ran {ended - hook_started:.2f} s; {len(adverts)} adverts from h1 "
            f"in the 4 s after h2 started; states sampled {len(samples)} times over 8 s")
        self.assertGreaterEqual(ended - hook_started, 5.0)
        bad = [x for x in samples if x != {"h1": "MASTER", "h2": "BACKUP"}]
        self.assertFalse(bad, f"roles changed while h1's hook slept: {bad[:5]}")
        self.assertGreaterEqual(len(adverts), 3, "h1 stopped advertising while its hook ran")
        self.assertNotIn("MASTER", [r[1] for r in rec["h2"].runs()])
        self.assertIn("1@eth0 MASTER: exit 0", d1.log_text())


class ConntrackdHookTest(NetnsTestCase):
    HOSTS = 2

    def wrapper(self, host: str, conntrackd: str, conntrackd_config: str) -> str:
        """carpd gives hooks a fixed environment: a wrapper sets the example's variables."""
        d = os.path.join(self.seg.tmp, f"hooks-{host}")
        os.makedirs(d, exist_ok=True)
        return write_script(os.path.join(d, "50-conntrackd"),
                            f"#!/bin/sh\nCONNTRACKD={conntrackd} "
                            f"CONNTRACKD_CONFIG={conntrackd_config} "
                            f'exec {CONNTRACKD_EXAMPLE} "$@"\n')

    def test_example_with_stub_conntrackd(self):
        s = self.seg
        ds, calls = {}, {}
        for h, skew in (("h1", 0), ("h2", 100)):
            d = os.path.join(s.tmp, f"hooks-{h}")
            os.makedirs(d, exist_ok=True)
            calls[h] = os.path.join(d, "calls")
            stub = write_script(os.path.join(d, "conntrackd"),
                                f'#!/bin/sh\necho "$*" >> {calls[h]}\nexit 0\n')
            hook = self.wrapper(h, stub, "/etc/ct.conf")
            ds[h] = s.start_carpd(h, with_hooks(config(vhid_block(1, skew)), [hook]))
        s.wait_roles({"h1": "MASTER", "h2": "BACKUP"}, timeout=15)

        def calls_of(h):
            try:
                with open(calls[h]) as f:
                    return [ln.removeprefix("-C /etc/ct.conf ") for ln in f.read().splitlines()]
            except FileNotFoundError:
                return []

        backup = ["-s", "-t", "-n"]
        master = ["-c", "-f", "-R", "-B"]
        wait_until(lambda: calls_of("h1") == backup + master, 5,
                   what=f"h1's conntrackd calls (now {calls_of('h1')})")
        wait_until(lambda: calls_of("h2") == backup, 5,
                   what=f"h2's conntrackd calls (now {calls_of('h2')})")
        ds["h1"].kill9()
        s.wait_state("h2", "MASTER", timeout=12)
        wait_until(lambda: calls_of("h2") == backup + master, 5,
                   what=f"h2's calls after the failover (now {calls_of('h2')})")
        # A graceful stop ends in INIT, whose hook still runs before carpd exits: -t.
        self.assertEqual(ds["h2"].terminate(), 0)
        self.assertEqual(calls_of("h2"), backup + master + ["-t"])
        log(f"h2 called conntrackd with: {' | '.join(calls_of('h2'))}")

    @unittest.skipIf(shutil.which("conntrackd") is None, "conntrackd not installed")
    def test_example_with_real_conntrackd(self):
        """conntrackd in FTFW mode on both hosts, over eth0; the hook drives the real one."""
        s = self.seg
        ds, logs = {}, {}
        for h, skew in (("h1", 0), ("h2", 100)):
            d = os.path.join(s.tmp, f"ct-{h}")
            os.makedirs(d, exist_ok=True)
            cfg, logs[h] = os.path.join(d, "conntrackd.conf"), os.path.join(d, "conntrackd.log")
            with open(cfg, "w") as f:
                f.write("Sync {\n  Mode FTFW {\n  }\n  Multicast {\n"
                        "    IPv4_address 225.0.0.50\n    Group 3780\n"
                        f"    IPv4_interface {s.ip4(h)}\n    Interface eth0\n"
                        "    Checksum on\n  }\n}\n"
                        "General {\n  HashSize 8192\n  HashLimit 65536\n"
                        f"  LogFile {logs[h]}\n  LockFile {d}/lock\n"
                        f"  UNIX {{\n    Path {d}/ctl\n  }}\n"
                        "  NetlinkBufferSize 2097152\n  NetlinkBufferSizeMaxGrowth 8388608\n"
                        "  Filter From Userspace {\n    Protocol Accept {\n      TCP\n    }\n"
                        "  }\n}\n")
            # Foreground (no -d), so that the harness knows its PID and kills it at the end.
            s.popen(h, ["conntrackd", "-C", cfg], stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL)
            try:
                wait_until(lambda cfg=cfg, h=h: s.run(h, ["conntrackd", "-C", cfg, "-s"],
                                                      check=False).returncode == 0,
                           5, what=f"conntrackd on {h}")
            except AssertionError as e:
                self.skipTest(f"conntrackd does not run in a namespace here: {e}")
            hook = self.wrapper(h, shutil.which("conntrackd"), cfg)
            ds[h] = s.start_carpd(h, with_hooks(config(vhid_block(1, skew)), [hook]))
        s.wait_roles({"h1": "MASTER", "h2": "BACKUP"}, timeout=15)

        def ct_log(h):
            try:
                with open(logs[h]) as f:
                    return f.read()
            except FileNotFoundError:
                return ""

        wait_until(lambda: "sending bulk update" in ct_log("h1"), 5,
                   what="h1's conntrackd told to commit and send a bulk update")
        wait_until(lambda: "resync requested" in ct_log("h2"), 5,
                   what="h2's conntrackd told to request a resync")
        ds["h1"].kill9()
        s.wait_state("h2", "MASTER", timeout=12)
        wait_until(lambda: "committing all external caches" in ct_log("h2"), 5,
                   what="h2's conntrackd told to commit the external cache")
        wait_until(lambda: "1@eth0 MASTER: exit" in ds["h2"].log_text(), 5,
                   what="h2's MASTER hook finished")
        hook_log = [ln for ln in ds["h2"].log_text().splitlines() if "hook " in ln]
        for ln in hook_log:
            log(f"h2 carpd: {ln}")
        for ln in ct_log("h2").splitlines()[-8:]:
            log(f"h2 conntrackd: {ln}")
        self.assertIn("1@eth0 MASTER: exit 0", ds["h2"].log_text())
        self.assertIn("sending bulk update", ct_log("h2"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
