"""`carpd --ucarp` with ucarp's own flags and scripts, against a real ucarp (Debian's package).

h1 runs `carpd --ucarp` and h2 runs ucarp, both with the same flags (only -s and -k differ)
and scripts in ucarp's style that add and remove the address themselves. carpd adds nothing
itself in this mode, so the address only appears on h1 if its up script ran with ucarp's
arguments (`<interface> <address> <xparam>`) and with CAP_NET_ADMIN (hook_capabilities,
on by default with --ucarp, since carpd drops every other capability).
"""

import os
import signal
import subprocess
import time
import unittest

from carpnet import NetnsTestCase, Ucarp, log, read_log, wait_until

XPARAM = "from-ucarp-cli"


class CarpdUcarp:
    """carpd --ucarp in a host namespace, with recording up/down scripts."""

    def __init__(self, seg, host: str, flags: list[str]):
        self.seg, self.host = seg, host
        self.dir = os.path.join(seg.tmp, f"carpd-ucarp-{host}")
        os.makedirs(self.dir, exist_ok=True)
        self.sock = os.path.join(self.dir, "carpd.sock")
        self.record = os.path.join(self.dir, "scripts.log")
        self.log_path = os.path.join(self.dir, "carpd.log")
        self.up = os.path.join(self.dir, "vip-up.sh")
        self.down = os.path.join(self.dir, "vip-down.sh")
        # What a ucarp user's scripts look like: the address from $2, the interface from $1.
        for path, verb, op in ((self.up, "up", "add"), (self.down, "down", "del")):
            with open(path, "w") as f:
                f.write("#!/bin/sh\n"
                        f'echo "{verb} $# $1 $2 $3" >> {self.record}\n'
                        f'ip addr {op} "$2/24" dev "$1"\n')
            os.chmod(path, 0o755)
        self.argv = [seg.carpd, "--control-socket", self.sock, "--state-dir",
                     os.path.join(self.dir, "state"), "--ucarp", *flags,
                     "--upscript", self.up, "--downscript", self.down]
        self.proc = None

    def start(self) -> "CarpdUcarp":
        with open(self.log_path, "a") as lf:
            lf.write(f"==== {' '.join(self.argv)}\n")
            lf.flush()
            self.proc = self.seg.popen(self.host, self.argv, stdout=lf, stderr=subprocess.STDOUT)
        wait_until(lambda: self.state() is not None or self.proc.poll() is not None, 10,
                   what="carpd --ucarp to answer carpctl")
        if self.proc.poll() is not None:
            raise AssertionError(f"carpd --ucarp exited {self.proc.returncode}\n{self.log_text()}")
        return self

    def state(self) -> str | None:
        if self.proc is None or self.proc.poll() is not None:
            return None
        r = subprocess.run([self.seg.carpctl_bin, "-s", self.sock, "status"],
                           capture_output=True, text=True, timeout=5)
        if r.returncode != 0:
            return None
        words = r.stdout.split()
        return words[3] if len(words) > 3 else None

    def terminate(self) -> None:
        """SIGTERM; a graceful stop exits 0."""
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(20)
        if rc != 0:
            raise AssertionError(f"carpd --ucarp exited {rc} after SIGTERM\n{self.log_text()[-3000:]}")

    def scripts(self) -> list[str]:
        try:
            with open(self.record) as f:
                return f.read().splitlines()
        except OSError:
            return []

    def log_text(self) -> str:
        return read_log(self.log_path)


class UcarpCliTest(NetnsTestCase):
    HOSTS = 2
    NEED_TOOLS = ("ucarp",)

    def flags(self, host: str, advskew: int) -> list[str]:
        s = self.seg
        return ["-i", "eth0", "-s", s.ip4(host), "-v", "1", "-p", "secret", "-a", s.vip4(1),
                "-b", "1", "-k", str(advskew), "-x", XPARAM, "-z", "-D", "-f", "none"]

    def start_ucarp(self, advskew: int):
        u = Ucarp(self.seg, "h2", 1, self.seg.vip4(1), advskew, passphrase="secret")
        u.argv += ["-x", XPARAM]
        return u.start()

    def tearDown(self):
        if getattr(self, "carpd", None) and self._outcome_failed():
            log("carpd --ucarp log:\n" + self.carpd.log_text()[-4000:])
            log("its scripts: " + repr(self.carpd.scripts()))

    def _outcome_failed(self) -> bool:
        result = getattr(getattr(self, "_outcome", None), "result", None)
        return any(t is self for t, _ in getattr(result, "failures", []) +
                   getattr(result, "errors", []))

    def assert_one_master(self, u, expected: tuple, n: int = 15):
        samples = []
        for _ in range(n):
            samples.append((self.carpd.state(), u.state()))
            time.sleep(0.1)
        self.assertTrue(all(x == expected for x in samples), samples)

    def test_elects_one_master_runs_ucarps_scripts_and_fails_over_both_ways(self):
        s = self.seg
        vip = s.vip4(1)
        up_line = f"up 3 eth0 {vip} {XPARAM}"
        down_line = f"down 3 eth0 {vip} {XPARAM}"

        # carpd --ucarp (advskew 0) is the better host; ucarp (advskew 100) backs it up.
        self.carpd = c = CarpdUcarp(s, "h1", self.flags("h1", 0)).start()
        u = self.start_ucarp(100)
        wait_until(lambda: c.state() == "MASTER", 12, what="carpd --ucarp MASTER")
        wait_until(lambda: u.state() == "BACKUP", 5, what="ucarp BACKUP")
        self.assert_one_master(u, ("MASTER", "BACKUP"))
        # The first BACKUP ran the downscript (no -n), then MASTER the upscript, with ucarp's
        # argument order; the address is there because the script put it there.
        wait_until(lambda: c.scripts() == [down_line, up_line], 5,
                   what=f"scripts {c.scripts()} to be [down, up]")
        self.assertTrue(s.has_address("h1", vip), s.addresses("h1"))
        wait_until(lambda: s.client_ping(vip), 5, what="client reaches the address on h1")
        log(f"carpd --ucarp MASTER, ucarp BACKUP; scripts: {c.scripts()}")

        # carpd -> ucarp: SIGTERM with -z runs the downscript and bows out.
        c.terminate()
        self.assertEqual(c.scripts()[-1], down_line)
        self.assertFalse(s.has_address("h1", vip), s.addresses("h1"))
        wait_until(lambda: u.state() == "MASTER", 10, what="ucarp to take over")
        wait_until(lambda: s.client_ping(vip), 10, what="client reaches the address via ucarp")
        log("carpd --ucarp stopped (downscript ran): ucarp MASTER")

        # carpd --ucarp comes back without -P: it stays BACKUP under ucarp.
        c.start()
        wait_until(lambda: c.state() == "BACKUP", 10, what="carpd --ucarp BACKUP")
        self.assert_one_master(u, ("BACKUP", "MASTER"))
        self.assertFalse(s.has_address("h1", vip))
        # Its first BACKUP ran the downscript again, as a restarted ucarp's would.
        wait_until(lambda: c.scripts()[3:] == [down_line], 5,
                   what=f"scripts {c.scripts()} to end with the restart's downscript")

        # ucarp -> carpd: ucarp stops (its down script, no bow-out): master-down timeout.
        scripts_before = len(c.scripts())
        u.terminate()
        wait_until(lambda: c.state() == "MASTER", 12, what="carpd --ucarp to take over")
        wait_until(lambda: c.scripts()[scripts_before:] == [up_line], 5,
                   what="the upscript after the takeover")
        wait_until(lambda: s.client_ping(vip), 10, what="client reaches the address via carpd")
        log(f"ucarp stopped: carpd --ucarp MASTER; scripts: {c.scripts()}")
        c.terminate()

    def test_sigusr1_logs_the_state_and_sigusr2_steps_down_as_in_ucarp(self):
        s = self.seg
        self.carpd = c = CarpdUcarp(s, "h1", self.flags("h1", 0)).start()
        u = self.start_ucarp(100)
        wait_until(lambda: c.state() == "MASTER", 12, what="carpd --ucarp MASTER")
        wait_until(lambda: u.state() == "BACKUP", 5, what="ucarp BACKUP")
        c.proc.send_signal(signal.SIGUSR1)
        wait_until(lambda: "MASTER on eth0 id 1" in c.log_text(), 5, what="SIGUSR1's state line")
        c.proc.send_signal(signal.SIGUSR2)
        wait_until(lambda: c.state() == "BACKUP", 5, what="SIGUSR2 to step down")
        wait_until(lambda: u.state() == "MASTER", 10, what="ucarp to take over")
        wait_until(lambda: c.scripts()[-1].startswith("down "), 5, what="the downscript")
        self.assert_one_master(u, ("BACKUP", "MASTER"))
        log("SIGUSR2: carpd --ucarp stepped down, ucarp MASTER")
        c.terminate()

    def test_refuses_flags_it_cannot_honour(self):
        s = self.seg
        for extra, words in ((["-r", "2"], "deadratio"), (["-M"], "nomcast"),
                             (["-S"], "ignoreifstate")):
            r = s.run("h1", [s.carpd, "--ucarp", *self.flags("h1", 0), *extra], check=False,
                      timeout=10)
            self.assertEqual(r.returncode, 1, r)
            self.assertIn(words, r.stderr)
            self.assertIn("not supported", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
