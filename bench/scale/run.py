#!/usr/bin/env python3
"""Scale benchmark: many VHIDs in one carpd, against ucarp's one process per VHID.

    sudo python3 bench/scale/run.py [--duration S] [--only ROW,...] [--trials N]

Two host namespaces h1 and h2 (a tests/netns/carpnet.py segment whose eth0 addresses are
flushed) joined by N veth pairs s1..sN, one VHID per pair: each pair is its own Ethernet
segment, as a VLAN interface would be. This kernel has no 8021q module (`ip link add ... type
vlan` answers "Unknown device type"), hence veth pairs; carpd treats both the same way (an
interface index with its own sockets). VHID on sK is ((K - 1) mod 255) + 1, advbase 1;
h1 has advskew 0 (MASTER of all), h2 advskew 100 (BACKUP of all).

Rows (--only picks some):
    carpd-1-v4, carpd-100-v4, carpd-100-v6, carpd-1000-v6   one carpd per host
    ucarp-100-v4                                             100 ucarp processes per host
IPv4 rows: h1 has 198.51.100.K/32 and h2 203.0.113.K/32 on sK, the virtual address is
192.0.2.K/32 (so at most 250 VHIDs; ucarp has no IPv6). IPv6 rows: link-local addresses only,
the virtual address 2001:db8:1:K::1/64.

Once every VHID has one MASTER (h1) and one BACKUP (h2) and 5 s have passed, the runner
measures for --duration seconds (default 60), from /proc and without talking to the daemons:
CPU time (user + system) and VmRSS of the carpd on each host, or the sum over the ucarp
processes of each host; the open file descriptors; and the role changes in the window (carpd
log, ucarp up/down script records). Writes results.md and results.json to --out-dir.
Root only; exits nonzero when a row cannot be set up or a role changed in the window.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import benchlib  # noqa: E402  (puts tests/netns on sys.path, picks the carpd build)
from benchlib import CpuWindow, f, say  # noqa: E402
import carpnet  # noqa: E402
from carpnet import Segment, wait_until  # noqa: E402

ROWS = ("carpd-1-v4", "carpd-100-v4", "carpd-100-v6", "carpd-1000-v6", "ucarp-100-v4")
SKEWS = {"h1": 0, "h2": 100}
SOURCE_V4 = {"h1": "198.51.100", "h2": "203.0.113"}


class SetupError(RuntimeError):
    pass


def vhid(k: int) -> int:
    return (k - 1) % 255 + 1


def vip(k: int, family: str) -> str:
    return f"192.0.2.{k}/32" if family == "v4" else f"2001:db8:1:{k:x}::1/64"


def build_links(seg: Segment, n: int, family: str) -> None:
    """N veth pairs h1:sK <-> h2:sK, up, with the IPv4 sources of an IPv4 row. `ip -batch`:
    one process per namespace instead of several per link."""
    for h in ("h1", "h2"):
        seg.run(h, ["ip", "addr", "flush", "dev", "eth0"])
    cmds = {"h1": [], "h2": []}
    for k in range(1, n + 1):
        cmds["h1"].append(f"link add s{k} type veth peer name s{k} netns {seg.ns['h2']}")
    for h in ("h1", "h2"):
        for k in range(1, n + 1):
            cmds.setdefault(h + "-up", []).append(f"link set s{k} up")
            if family == "v4":
                cmds[h + "-up"].append(f"addr add {SOURCE_V4[h]}.{k}/32 dev s{k}")
    for key in ("h1", "h1-up", "h2-up"):
        ns = seg.ns[key.split("-")[0]]
        r = subprocess.run(["ip", "-n", ns, "-batch", "-"], input="\n".join(cmds[key]) + "\n",
                           capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            raise SetupError(f"ip -batch in {ns}: {r.stderr.strip()[:500]}")


def carpd_config(host: str, n: int, family: str) -> str:
    blocks = [carpnet.vhid_block(vhid(k), SKEWS[host], [vip(k, family)], advbase=1,
                                 interface=f"s{k}") for k in range(1, n + 1)]
    return carpnet.config(*blocks, log_level="info")


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


class UcarpFleet:
    """One ucarp per VHID in a host namespace, started and stopped by PID (Segment.popen).
    The up/down scripts add/delete the address and append MASTER/BACKUP to sK.roles, which
    is how role changes are counted (ucarp runs with -f none and without -D: no logging)."""

    def __init__(self, seg: Segment, host: str, n: int):
        self.seg, self.host, self.n = seg, host, n
        self.dir = os.path.join(seg.tmp, f"ucarp-{host}")
        os.makedirs(self.dir, exist_ok=True)
        up, down = os.path.join(self.dir, "up.sh"), os.path.join(self.dir, "down.sh")
        with open(up, "w") as fh:
            fh.write(f'#!/bin/sh\nip addr add "$2/32" dev "$1"\necho MASTER >> {self.dir}/"$1".roles\n')
        with open(down, "w") as fh:
            fh.write(f'#!/bin/sh\nip addr del "$2/32" dev "$1" 2>/dev/null\n'
                     f'echo BACKUP >> {self.dir}/"$1".roles\n')
        os.chmod(up, 0o755)
        os.chmod(down, 0o755)
        self.procs = []
        for k in range(1, n + 1):
            argv = ["ucarp", "-i", f"s{k}", "-s", f"{SOURCE_V4[host]}.{k}", "-v", str(vhid(k)),
                    "-p", "secret", "-a", vip(k, "v4").split("/")[0], "-b", "1",
                    "-k", str(SKEWS[host]), "-u", up, "-d", down, "-z", "-f", "none"]
            self.procs.append(seg.popen(host, argv, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL))

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def roles(self) -> dict[int, list[str]]:
        out = {}
        for k in range(1, self.n + 1):
            try:
                with open(os.path.join(self.dir, f"s{k}.roles")) as fh:
                    out[k] = fh.read().split()
            except OSError:
                out[k] = []
        return out

    def states(self) -> dict[int, str | None]:
        return {k: (v[-1] if v else None) for k, v in self.roles().items()}

    def dead(self) -> list[int]:
        return [p.pid for p in self.procs if p.poll() is not None]


def carpd_states(d) -> dict[str, str]:
    st = d.try_status()
    if not st:
        return {}
    return {v["interface"]: v["state"] for v in st.get("vhids", [])}


def run_row(row: str, duration: float) -> dict:
    kind, n, family = row.split("-")
    n = int(n)
    res: dict = {"row": row, "kind": kind, "vhids": n, "family": family,
                 "load1_start": benchlib.loadavg()}
    with Segment(hosts=2, client=False, label=f"scale-{row}") as seg:
        t0 = time.monotonic()
        build_links(seg, n, family)
        res["links_built_s"] = time.monotonic() - t0
        say(f"{row}: {n} veth pairs in {res['links_built_s']:.1f} s")
        t0 = time.monotonic()
        if kind == "carpd":
            ds = {}
            for h in ("h1", "h2"):  # h1 first: it is the intended MASTER
                ds[h] = seg.start_carpd(h, carpd_config(h, n, family), wait=False)
            for h, d in ds.items():
                try:
                    wait_until(d.try_status, 120, 0.2, f"carpd on {h} to answer")
                except AssertionError as e:
                    raise SetupError(f"{row}: {e}\n{d.log_tail(20)}") from None
            res["answer_s"] = time.monotonic() - t0

            def settled():
                a, b = carpd_states(ds["h1"]), carpd_states(ds["h2"])
                return (len(a) == n and len(b) == n and set(a.values()) == {"MASTER"}
                        and set(b.values()) == {"BACKUP"})
            try:
                wait_until(settled, 60 + n / 20, 0.5, f"{row}: h1 MASTER and h2 BACKUP of all")
            except AssertionError as e:
                a, b = carpd_states(ds["h1"]), carpd_states(ds["h2"])
                raise SetupError(f"{e}: h1 {sorted(set(a.values()))} ({len(a)}), "
                                 f"h2 {sorted(set(b.values()))} ({len(b)})") from None
            pids = {h: [ds[h].proc.pid] for h in ds}
        else:
            fleets = {h: UcarpFleet(seg, h, n) for h in ("h1", "h2")}

            def settled():
                a, b = fleets["h1"].states(), fleets["h2"].states()
                return (set(a.values()) == {"MASTER"} and set(b.values()) == {"BACKUP"})
            try:
                wait_until(settled, 60, 0.5, f"{row}: h1 MASTER and h2 BACKUP of all")
            except AssertionError as e:
                raise SetupError(f"{e}: dead ucarp pids {fleets['h1'].dead()} "
                                 f"{fleets['h2'].dead()}; h1 states "
                                 f"{sorted(set(map(str, fleets['h1'].states().values())))}") from None
            pids = {h: fleets[h].pids() for h in fleets}
        res["settled_s"] = time.monotonic() - t0
        say(f"{row}: all {n} VHIDs settled {res['settled_s']:.1f} s after start")
        time.sleep(5)
        logs0 = ({h: len(ds[h].log_text()) for h in ds} if kind == "carpd"
                 else {h: {k: len(v) for k, v in fleets[h].roles().items()} for h in fleets})
        windows = {h: CpuWindow(pids[h]).start() for h in pids}
        end = time.monotonic() + duration
        while time.monotonic() < end:
            time.sleep(min(5.0, max(0.0, end - time.monotonic())))
            for w in windows.values():
                w.sample()
        res["hosts"] = {h: windows[h].stop() for h in windows}
        for h in pids:
            res["hosts"][h]["fds"] = sum(fd_count(p) for p in pids[h])
            res["hosts"][h]["processes"] = len(pids[h])
        if kind == "carpd":
            res["role_changes"] = {h: [c for _, c in benchlib.carpd_transitions(
                ds[h].log_text()[logs0[h]:])] for h in ds}
            res["links_h1"] = len(seg.run("h1", ["ip", "-o", "link", "show"]).stdout.splitlines())
        else:
            res["role_changes"] = {h: [f"s{k}: {r}" for k, v in fleets[h].roles().items()
                                       for r in v[logs0[h][k]:]] for h in fleets}
        res["role_change_count"] = sum(len(v) for v in res["role_changes"].values())
    res["load1_end"] = benchlib.loadavg()
    return res


def render(results: dict) -> str:
    out = benchlib.facts_header(results["facts"])
    out += [f"Measured for {results['duration']:.0f} s per row after all VHIDs settled (+5 s). "
            "CPU is user + system time over the window as % of one core; RSS is VmRSS (ucarp: "
            "summed over its processes) at the end and its peak over 5-s samples.", ""]
    lines = ["| row | trial | VHIDs | load start / end | h1 (MASTER) CPU % (of it system) | h1 RSS MiB (peak) "
             "| h1 PSS MiB | h2 (BACKUP) CPU % (system) | h2 RSS MiB (peak) | h2 PSS MiB | processes per host "
             "| fds h1 | role changes in window | settled after start (s) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results["rows"]:
        if "error" in r:
            lines.append(f"| {r['row']} | {r.get('trial')} | {r['vhids']} | "
                         f"{r['load1_start']:.2f} / - | FAILED: {r['error'][:200]} "
                         "| | | | | | | | | |")
            continue
        h1, h2 = r["hosts"]["h1"], r["hosts"]["h2"]
        lines.append(
            f"| {r['row']} | {r.get('trial')} | {r['vhids']} | {r['load1_start']:.2f} / "
            f"{r['load1_end']:.2f} | {h1['cpu_percent']:.2f} ({h1.get('system_percent', 0):.2f}) "
            f"| {h1['rss_kib_end'] / 1024:.1f} ({h1['rss_kib_peak'] / 1024:.1f}) "
            f"| {h1['pss_kib_end'] / 1024:.1f} "
            f"| {h2['cpu_percent']:.2f} ({h2.get('system_percent', 0):.2f}) "
            f"| {h2['rss_kib_end'] / 1024:.1f} "
            f"({h2['rss_kib_peak'] / 1024:.1f}) | {h2['pss_kib_end'] / 1024:.1f} "
            f"| {h1['processes']} | {h1['fds']} "
            f"| {r['role_change_count']} | {r['settled_s']:.1f} |")
    out += ["\n".join(lines), ""]
    by = {}
    for r in results["rows"]:
        if "error" not in r:
            by.setdefault(r["row"], []).append(r)

    def med(row, host, key):
        return benchlib.pct([x["hosts"][host][key] for x in by.get(row, [])], 0.5)
    c, u = "carpd-100-v4", "ucarp-100-v4"
    if c in by and u in by:
        out += ["100 VHIDs, medians over trials, carpd / ucarp (sum of its 100 processes):", ""]
        for h, role in (("h1", "MASTER"), ("h2", "BACKUP")):
            cc, uc = med(c, h, "cpu_percent"), med(u, h, "cpu_percent")
            cr, ur = med(c, h, "rss_kib_end"), med(u, h, "rss_kib_end")
            cp, up = med(c, h, "pss_kib_end"), med(u, h, "pss_kib_end")
            out.append(f"- {h} ({role}): CPU {cc:.2f} % / {uc:.2f} % = "
                       f"{(cc / uc) if uc else float('nan'):.3f} "
                       f"({(uc / cc) if cc else float('inf'):.1f}× less); "
                       f"RSS {cr / 1024:.1f} / {ur / 1024:.1f} MiB = {cr / ur:.3f} "
                       f"({ur / cr:.1f}× less); PSS {cp / 1024:.1f} / {up / 1024:.1f} MiB "
                       f"({up / cp:.1f}× less)")
        out.append("")
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=60.0,
                    help="seconds measured per row (default 60)")
    ap.add_argument("--trials", type=int, default=1, help="repetitions of every row (default 1)")
    ap.add_argument("--only", default=",".join(ROWS), help=f"rows, comma-separated: {ROWS}")
    ap.add_argument("--out-dir", default=HERE, help="where results.md/results.json go")
    a = ap.parse_args()
    rows = [r for r in a.only.split(",") if r]
    for r in rows:
        parts = r.split("-")
        if (len(parts) != 3 or parts[0] not in ("carpd", "ucarp") or not parts[1].isdigit()
                or parts[2] not in ("v4", "v6") or (parts[2] == "v4" and int(parts[1]) > 250)
                or (parts[0] == "ucarp" and parts[2] != "v4")):
            ap.error(f"bad row {r!r}: KIND-N-FAMILY, KIND carpd|ucarp, FAMILY v4 (N <= 250) "
                     "or v6 (carpd only)")
    benchlib.require(("ucarp",) if any(r.startswith("ucarp") for r in rows) else ())
    # One raw socket per interface and family, plus netlink and control: 1000 VHIDs need more
    # than the usual 1024 descriptors (the systemd unit sets LimitNOFILE the same way).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 65536 if hard == resource.RLIM_INFINITY else min(65536, hard)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    facts = benchlib.machine_facts("python3 bench/scale/run.py " + " ".join(sys.argv[1:]))
    facts["nofile_limit"] = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    say(f"machine: {facts}")
    results = {"facts": facts, "duration": a.duration, "rows": []}
    failed = False
    for t in range(a.trials):
        for row in rows:
            try:
                r = run_row(row, a.duration)
            except (SetupError, carpnet.CarpctlError) as e:
                say(f"{row}: FAILED: {e}")
                kind, n, fam = row.split("-")
                r = {"row": row, "vhids": int(n), "error": str(e),
                     "load1_start": benchlib.loadavg()}
                failed = True
            r["trial"] = t + 1
            results["rows"].append(r)
            if "error" not in r:
                h1, h2 = r["hosts"]["h1"], r["hosts"]["h2"]
                say(f"{row}: h1 CPU {h1['cpu_percent']:.2f} % RSS {h1['rss_kib_end'] / 1024:.1f} "
                    f"MiB fds {h1['fds']}; h2 CPU {h2['cpu_percent']:.2f} % RSS "
                    f"{h2['rss_kib_end'] / 1024:.1f} MiB; role changes {r['role_change_count']}; "
                    f"load {r['load1_start']:.2f}->{r['load1_end']:.2f}")
                if r["role_change_count"]:
                    failed = True
            benchlib.save_json(results, a.out_dir)
    benchlib.finish_facts(facts)
    benchlib.write_report(results, a.out_dir, render)
    return 1 if failed else 0



if __name__ == "__main__":
    sys.exit(main())
