#!/usr/bin/env python3
"""Stress benchmark: every core saturated by stress-ng; does anyone fail over falsely?

    sudo python3 bench/stress/run.py [--duration S] [--quiet S] [--only LIST] [--vm-bytes B]

Three pairs run at once, each on its own tests/netns/carpnet.py segment, so that all see the
same load: `carpd` (defaults), `carpd-rt` (carpd with `realtime = true`: SCHED_FIFO and
mlockall) and `ucarp` (-b 1 -k 0/100, as bench/failover runs it). Each pair is h1 advskew 0
(MASTER) and h2 advskew 100 (BACKUP) with 192.0.2.1/24 at advbase 1, so a BACKUP that misses
three adverts (3.4 s) takes over: a false failover.

After `--quiet` seconds without load (the baseline), `stress-ng --cpu N --vm 1` (N = number
of CPUs) runs for `--duration` seconds (default 600). Measured per pair: role changes logged
by both hosts during the stress and 5 s after it (each one is a false failover or its undoing),
h1's send-interval jitter |interval - 1 s| from its adverts as captured on its bridge port
(tcpdump, kernel timestamps) with and without the stress (median, p99, max), the longest
interval, and the 1-minute load average (sampled every 10 s). Writes results.md and
results.json to --out-dir. Root only; every namespace and process it creates is removed at exit
and signalled by PID. Exits nonzero when a pair cannot be set up or stress-ng fails to start.

This saturates the machine on purpose: run it when nobody needs the cores.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import benchlib  # noqa: E402  (puts tests/netns on sys.path, picks the carpd build)
from benchlib import CONTENDERS, AdvertCapture, Pair, SetupError, f, say  # noqa: E402
from carpnet import Segment  # noqa: E402

AFTER = 5.0  # seconds after the stress during which role changes still count


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=600.0,
                    help="seconds of stress (default 600)")
    ap.add_argument("--quiet", type=float, default=30.0,
                    help="seconds of baseline before the stress (default 30)")
    ap.add_argument("--only", default=",".join(CONTENDERS), help="pairs, comma-separated")
    ap.add_argument("--cpu", type=int, default=os.cpu_count() or 2,
                    help="stress-ng CPU workers (default: one per CPU)")
    ap.add_argument("--vm-bytes", default="256M", help="stress-ng --vm 1 --vm-bytes (0: no --vm)")
    ap.add_argument("--out-dir", default=HERE, help="where results.md/results.json go")
    a = ap.parse_args()
    kinds = [k for k in a.only.split(",") if k]
    if any(k not in CONTENDERS for k in kinds):
        ap.error(f"pairs are {CONTENDERS}")
    benchlib.require(("ucarp", "tcpdump") if "ucarp" in kinds else ("tcpdump",))
    if shutil.which("stress-ng") is None:
        sys.exit("cannot run: stress-ng not installed (scripts/setup.sh installs it)")
    facts = benchlib.machine_facts("python3 bench/stress/run.py " + " ".join(sys.argv[1:]))
    say(f"machine: {facts}")
    results: dict = {"facts": facts, "duration": a.duration, "quiet": a.quiet, "pairs": {}}
    failed = False
    segs = {k: Segment(hosts=2, client=(k == kinds[0]), label=f"stress-{k}") for k in kinds}
    try:
        pairs = {k: Pair(segs[k], k).start() for k in kinds}
        caps = {k: AdvertCapture(segs[k], "sw", "h1", segs[k].ip4("h1")) for k in kinds}
        say(f"pairs up: {', '.join(kinds)}; {a.quiet:.0f} s baseline")
        time.sleep(a.quiet)
        for p in pairs.values():
            p.mark()
        argv = ["stress-ng", "--cpu", str(a.cpu), "--timeout", f"{int(a.duration)}s",
                "--metrics-brief"]
        if a.vm_bytes not in ("0", ""):
            argv += ["--vm", "1", "--vm-bytes", a.vm_bytes]
        # In the first segment's client namespace, so that the harness kills whatever is left
        # of it (stress-ng forks its workers) when the segment closes.
        t_stress = time.time()
        stress = segs[kinds[0]].popen("c", argv, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True)
        say(f"{' '.join(argv)} (pid {stress.pid})")
        loads = []
        next_sample = time.monotonic() + 10
        while stress.poll() is None:
            time.sleep(0.5)  # short, so that t_end is within 0.5 s of the stress's end
            if time.monotonic() < next_sample:
                continue
            next_sample += 10
            loads.append(benchlib.loadavg())
            if len(loads) % 6 == 0:
                changes = {k: sum(len(v) for v in p.role_changes().values())
                           for k, p in pairs.items()}
                say(f"load {loads[-1]:.2f}; role changes so far {changes}")
        t_end = time.time()
        out, _ = stress.communicate()
        results["stress_ng"] = {"argv": argv, "rc": stress.returncode, "output": out[-2000:],
                                "seconds": t_end - t_stress}
        if stress.returncode != 0 or t_end - t_stress < 0.9 * a.duration:
            say(f"stress-ng ended early (rc {stress.returncode}): {out[-500:]}")
            failed = True
        results["load_during"] = {"samples": loads, "min": min(loads, default=None),
                                  "median": benchlib.pct(loads, 0.5),
                                  "max": max(loads, default=None)}
        time.sleep(AFTER)
        nominal = Pair.ADVBASE + Pair.SKEWS["h1"] / 256
        for k, p in pairs.items():
            times = caps[k].stop()
            changes = p.role_changes()
            results["pairs"][k] = {
                "role_changes": changes,
                "role_change_count": sum(len(v) for v in changes.values()),
                "end_states": p.states(),
                "jitter_quiet": benchlib.interval_jitter([t for t in times if t < t_stress],
                                                         nominal),
                "jitter_stress": benchlib.interval_jitter(
                    [t for t in times if t_stress <= t <= t_end], nominal)}
    except SetupError as e:
        say(f"SETUP FAILED: {e}")
        results["error"] = str(e)
        failed = True
    finally:
        for s in segs.values():
            s.close()
    benchlib.finish_facts(facts)
    benchlib.write_report(results, a.out_dir, render)
    return 1 if failed else 0


def render(results: dict) -> str:
    out = benchlib.facts_header(results["facts"])
    if "error" in results:
        return "\n".join(out + [f"FAILED: {results['error']}", ""])
    ld = results.get("load_during", {})
    sn = results.get("stress_ng", {})
    out += [f"`{' '.join(sn.get('argv', []))}` ran {sn.get('seconds', 0):.0f} s (rc {sn.get('rc')}); "
            f"1-minute load average during it (every 10 s): min {f(ld.get('min'), 2)}, median "
            f"{f(ld.get('median'), 2)}, max {f(ld.get('max'), 2)}. Baseline {results['quiet']:.0f} s "
            "before it, same pairs.", ""]
    lines = ["| pair | role changes during stress (+5 s) | states at end "
             "| h1 jitter baseline: median / p99 / max ms "
             "| h1 jitter under stress: median / p99 / max ms | longest interval under stress ms "
             "| adverts under stress |",
             "|---|---|---|---|---|---|---|"]
    for k, r in results["pairs"].items():
        q, s = r["jitter_quiet"], r["jitter_stress"]
        lines.append(
            f"| {k} | {r['role_change_count']} | h1 {r['end_states']['h1']}, "
            f"h2 {r['end_states']['h2']} "
            f"| {f(q['jitter_ms_median'], 2)} / {f(q['jitter_ms_p99'], 2)} / "
            f"{f(q['jitter_ms_max'], 2)} "
            f"| {f(s['jitter_ms_median'], 2)} / {f(s['jitter_ms_p99'], 2)} / "
            f"{f(s['jitter_ms_max'], 2)} | {f(s['longest_interval_ms'], 1)} | {s['adverts']} |")
    out += ["\n".join(lines), ""]
    for k, r in results["pairs"].items():
        if r["role_change_count"]:
            out.append(f"- {k} role changes: {r['role_changes']}")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main())
