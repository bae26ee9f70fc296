"""Many interfaces in one carpd: 32 interfaces x 4 VHIDs between two hosts.

The interfaces s1..s32 are veth pairs h1:sK <-> h2:sK, each its own Ethernet segment as a VLAN
interface would be (the kernels this runs on may lack 8021q: `ip link add ... type vlan`
answers "Unknown device type" there). VHIDs 1-4 exist on every interface, so the same VHID
number runs 32 times in one carpd, told apart by the interface. VHID v on sK has the address
198.51.100.(4(K-1)+v)/32; h1 has 203.0.113.K/32 and h2 203.0.113.(100+K)/32 on sK as the
adverts' source. Where K + v is even h1 has advskew 0 and h2 100, elsewhere the opposite;
preempt on, so each host is MASTER of 64 of the 128 (interface, VHID) pairs.

Checks: every pair elects the expected MASTER; `carpctl demote 1` on h1 moves all 128 to h2;
`kill -9` of h2's carpd moves all 128 back to h1 (failover).
"""

import subprocess
import time
import unittest

from carpnet import NetnsTestCase, config, log, vhid_block, wait_until

INTERFACES = 32
VHIDS = 4
PAIRS = [(k, v) for k in range(1, INTERFACES + 1) for v in range(1, VHIDS + 1)]


def address(k: int, v: int) -> str:
    return f"198.51.100.{4 * (k - 1) + v}/32"


def skew(host: str, k: int, v: int) -> int:
    h1_first = (k + v) % 2 == 0
    return 0 if (host == "h1") == h1_first else 100


def expected_master(k: int, v: int) -> str:
    return "h1" if skew("h1", k, v) == 0 else "h2"


class VlansTest(NetnsTestCase):
    HOSTS = 2

    def build_links(self) -> None:
        s = self.seg
        batches = {"h1": [f"link add s{k} type veth peer name s{k} netns {s.ns['h2']}"
                          for k in range(1, INTERFACES + 1)], "h2": []}
        for h, base in (("h1", 0), ("h2", 100)):
            for k in range(1, INTERFACES + 1):
                batches[h] += [f"link set s{k} up", f"addr add 203.0.113.{base + k}/32 dev s{k}"]
        for h in ("h1", "h2"):
            r = subprocess.run(["ip", "-n", s.ns[h], "-batch", "-"],
                               input="\n".join(batches[h]) + "\n", capture_output=True,
                               text=True, timeout=60)
            self.assertEqual(r.returncode, 0, f"ip -batch in {h}: {r.stderr}")

    def states(self, host: str) -> dict:
        """{(K, vhid): state} from one `carpctl status --json`, {} if carpd is gone."""
        st = self.seg.daemons[host].try_status()
        if not st:
            return {}
        return {(int(v["interface"][1:]), v["vhid"]): v["state"] for v in st["vhids"]}

    def wait_masters(self, want: dict, timeout: float, what: str) -> float:
        """Wait until every pair's MASTER is want[pair] and the other host (if running) is
        BACKUP; returns the seconds it took."""
        t0 = time.monotonic()

        def ok():
            st = {h: self.states(h) for h in ("h1", "h2") if self.seg.daemons[h].alive()}
            for pair, m in want.items():
                for h, s in st.items():
                    if s.get(pair) != ("MASTER" if h == m else "BACKUP"):
                        return False
            return True
        try:
            wait_until(ok, timeout, 0.2, what)
        except AssertionError:
            st = {h: self.states(h) for h in ("h1", "h2")}
            wrong = {p: (st["h1"].get(p), st["h2"].get(p)) for p, m in want.items()
                     if st[m].get(p) != "MASTER"}
            log(f"{len(wrong)} pairs without the expected MASTER, first: "
                f"{dict(list(wrong.items())[:8])}")
            raise
        return time.monotonic() - t0

    def test_32_interfaces_by_4_vhids(self):
        self.build_links()
        ds = {}
        for h in ("h1", "h2"):
            blocks = [vhid_block(v, skew(h, k, v), [address(k, v)], interface=f"s{k}")
                      for k, v in PAIRS]
            ds[h] = self.seg.start_carpd(h, config(*blocks, preempt=True, log_level="info"),
                                         wait=False)
        for h, d in ds.items():
            wait_until(d.try_status, 30, 0.1, f"carpd on {h} to answer")
            self.assertEqual(len(self.states(h)), len(PAIRS))

        want = {p: expected_master(*p) for p in PAIRS}
        took = self.wait_masters(want, 20, f"all {len(PAIRS)} pairs to elect")
        log(f"{len(PAIRS)} (interface, VHID) pairs elected in {took:.2f} s: h1 MASTER of "
            f"{sum(1 for m in want.values() if m == 'h1')}, h2 of "
            f"{sum(1 for m in want.values() if m == 'h2')}")
        for (k, v) in [(1, 1), (1, 2), (32, 3), (32, 4)]:
            host = want[(k, v)]
            self.assertTrue(self.seg.has_address(host, address(k, v).split("/")[0]),
                            f"s{k} VHID {v}: address missing on {host}")

        ds["h1"].carpctl("demote", "1")
        took = self.wait_masters({p: "h2" for p in PAIRS}, 10, "demotion to move all to h2")
        log(f"demote 1 on h1: all {len(PAIRS)} pairs MASTER on h2 after {took:.2f} s")

        ds["h2"].kill9()
        took = self.wait_masters({p: "h1" for p in PAIRS}, 10, "failover of all to h1")
        log(f"kill -9 of h2's carpd: all {len(PAIRS)} pairs MASTER on h1 after {took:.2f} s "
            "(master-down 3 s for advskew 0, 4.2 s for advskew 100)")
        self.assertTrue(self.seg.has_address("h1", address(32, 4).split("/")[0]))


if __name__ == "__main__":
    unittest.main(verbosity=2)
