#!/usr/bin/env python3
"""Flood benchmark: forged advertisements (right VHID, wrong key) against carpd and ucarp.

    sudo python3 bench/flood/run.py [--trials N] [--duration S] [--quiet S] [--only LIST]

Each trial builds a fresh tests/netns/carpnet.py segment (bridge in a switch namespace, hosts
h1 h2, client c), starts one contender on h1 (advskew 0, MASTER) and h2 (advskew 100, BACKUP)
with the virtual address 192.0.2.1/24 at advbase 1, and captures h1's advertisements on h1's
bridge port (tcpdump, kernel filter, kernel timestamps). After `--quiet` seconds without
flood, `carp_flood` (bench/flood/carp_flood.cc) in the client namespace sends forged adverts
for VHID 1 (advbase 1, advskew 0, valid checksums, random HMAC) as fast as it can for
`--duration` seconds. Measured per trial: the flood rate, h1's send-interval jitter
|interval - 1 s| without and with the flood (median, p99, max), the role changes both hosts
logged from the start of the flood to 3 s after it, the MASTER's CPU use during the flood and
how many forged adverts it dropped (its own counters) versus what its socket lost.

Contenders: `carpd` (defaults), `carpd-rt` (carpd with `realtime = true`: SCHED_FIFO and
mlockall), `ucarp` (ucarp -b 1 -k 0/100 with up/down scripts, as in bench/failover).

Writes the tables to stdout and results.md, the raw data to results.json in --out-dir
(default: this directory). Root only; every namespace and process it creates is removed at
exit (carpnet), processes are signalled by PID. Exits nonzero when a contender cannot be set
up (no MASTER/BACKUP pair before the flood) or the flooder sends nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import benchlib  # noqa: E402  (puts tests/netns on sys.path, picks the carpd build)
from benchlib import AdvertCapture, CpuWindow, Pair, SetupError, f, say  # noqa: E402
import carpnet  # noqa: E402
from carpnet import Segment  # noqa: E402

SETTLE_AFTER = 3.0  # seconds after the flood during which role changes still count


def flood_binary(explicit: str | None) -> str:
    if explicit:
        return explicit
    carpd, _ = carpnet.find_binaries()
    build = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(carpd))))
    path = os.path.join(build, "bench", "carp_flood")
    if not os.access(path, os.X_OK):
        raise SetupError(f"{path} not built: cmake --build {build} --target carp_flood")
    return path


def raw_socket_drops(seg: Segment, role: str) -> int:
    """Sum of the 'drops' column of /proc/net/raw in role's namespace (carpd's IPPROTO 112
    sockets: what the kernel discarded because the receive queue was full)."""
    text = seg.run(role, ["cat", "/proc/net/raw"]).stdout
    total = 0
    for ln in text.splitlines()[1:]:
        cols = ln.split()
        if len(cols) >= 13 and cols[1].endswith(":0070"):  # local "address:port", port = proto
            total += int(cols[-1])
    return total


def trial(kind: str, flooder: str, quiet: float, duration: float, batch: int) -> dict:
    res: dict = {"contender": kind, "load1_start": benchlib.loadavg()}
    with Segment(hosts=2, label=f"flood-{kind}") as seg:
        pair = Pair(seg, kind).start()
        daemons = pair.d
        state = pair.state
        cap = AdvertCapture(seg, "sw", "h1", seg.ip4("h1"))
        time.sleep(quiet)
        cpu = CpuWindow([daemons["h1"].proc.pid])
        pair.mark()
        stats0 = daemons["h1"].stats() if kind.startswith("carpd") else {}
        drops0 = raw_socket_drops(seg, "h1")
        t_flood = time.time()
        cpu.start()
        r = seg.run("c", [flooder, "--iface", "eth0", "--vhid", "1", "--source", seg.ip4("c"),
                          "--seconds", str(duration), "--batch", str(batch)],
                    timeout=duration + 60)
        t_end = time.time()
        res.update(json.loads(r.stdout.strip().splitlines()[-1]))
        res["cpu_h1"] = cpu.stop()
        time.sleep(SETTLE_AFTER)
        times = cap.stop()
        # ucarp reads through libpcap, not a raw IPPROTO 112 socket: this is carpd's only
        res["drops_raw_socket"] = raw_socket_drops(seg, "h1") - drops0
        if kind.startswith("carpd"):
            stats1 = daemons["h1"].stats()
            res["counters_delta"] = {k: stats1[k] - stats0.get(k, 0) for k in stats1
                                     if isinstance(stats1[k], int) and stats1[k] != stats0.get(k, 0)}
        changes = pair.role_changes()
        res["transitions"] = changes
        res["log_lines_during"] = {h: pair.log_since_mark(h).count("\n") for h in daemons}
        res["transition_count"] = sum(len(v) for v in changes.values())
        res["end_states"] = {h: state(h) for h in daemons}
        nominal = Pair.ADVBASE + Pair.SKEWS["h1"] / 256
        before = [t for t in times if t < t_flood]
        during = [t for t in times if t_flood <= t <= t_end]
        res["jitter_quiet"] = benchlib.interval_jitter(before, nominal)
        res["jitter_flood"] = benchlib.interval_jitter(during, nominal)
        res["flood_seconds_wall"] = t_end - t_flood
        if not before or not during:
            res["error"] = f"captured {len(before)} adverts before and {len(during)} during the flood"
    res["load1_end"] = benchlib.loadavg()
    return res


def render(results: dict) -> str:
    out = benchlib.facts_header(results["facts"])
    out += [f"{results['trials_per_contender']} trial(s) per contender, {results['quiet']:.0f} s "
            f"without flood then {results['duration']:.0f} s of flood per trial, sendmmsg "
            f"batches of {results['batch']}.", ""]
    lines = ["| contender | trial | load at start / end | flood rate (frames/s) "
             "| h1 CPU during flood (% of a core) | forged adverts h1 dropped by HMAC "
             "| lost in h1's socket queue | h1 send-interval jitter without flood: median / p99 / max ms "
             "| with flood: median / p99 / max ms | longest interval with flood (ms) "
             "| role changes (h1 + h2) | log lines during flood (h1) | states at end |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results["rows"]:
        q, j = r.get("jitter_quiet", {}), r.get("jitter_flood", {})
        auth = None
        if "counters_delta" in r:
            auth = sum(v for k, v in r["counters_delta"].items() if "auth" in k)
        lines.append(
            f"| {r['contender']} | {r['trial']} | {r['load1_start']:.2f} / {r['load1_end']:.2f} "
            f"| {f(r.get('pps'))} | {f(r.get('cpu_h1', {}).get('cpu_percent'), 1)} "
            f"| {f(auth)} | {f(r.get('drops_raw_socket')) if r['contender'] != 'ucarp' else 'n/a'} "
            f"| {f(q.get('jitter_ms_median'), 2)} / {f(q.get('jitter_ms_p99'), 2)} / "
            f"{f(q.get('jitter_ms_max'), 2)} "
            f"| {f(j.get('jitter_ms_median'), 2)} / {f(j.get('jitter_ms_p99'), 2)} / "
            f"{f(j.get('jitter_ms_max'), 2)} | {f(j.get('longest_interval_ms'), 1)} "
            f"| {r.get('transition_count')} | {r.get('log_lines_during', {}).get('h1')} "
            f"| h1 {r.get('end_states', {}).get('h1')}, h2 {r.get('end_states', {}).get('h2')} |")
    out += ["\n".join(lines), ""]
    errs = [f"- {r['contender']} trial {r['trial']}: {r['error']}" for r in results["rows"]
            if "error" in r]
    if errs:
        out += ["Errors:", ""] + errs + [""]
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=3, help="trials per contender (default 3)")
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of flood (default 60)")
    ap.add_argument("--quiet", type=float, default=10.0,
                    help="seconds captured before the flood starts (default 10)")
    ap.add_argument("--only", default="carpd,carpd-rt,ucarp", help="contenders, comma-separated")
    ap.add_argument("--batch", type=int, default=64, help="frames per sendmmsg (default 64)")
    ap.add_argument("--flood-bin", default=None, help="carp_flood binary (default: beside carpd's "
                    "build, bench/carp_flood)")
    ap.add_argument("--out-dir", default=HERE, help="where results.md/results.json go")
    a = ap.parse_args()
    kinds = [k for k in a.only.split(",") if k]
    bad = [k for k in kinds if k not in ("carpd", "carpd-rt", "ucarp")]
    if bad:
        ap.error(f"unknown contender(s): {bad}")

    benchlib.require(("ucarp", "tcpdump"))
    try:
        flooder = flood_binary(a.flood_bin)
    except SetupError as e:
        sys.exit(f"cannot run: {e}")
    facts = benchlib.machine_facts("python3 bench/flood/run.py " + " ".join(sys.argv[1:]))
    say(f"machine: {facts}")
    results = {"facts": facts, "trials_per_contender": a.trials, "duration": a.duration,
               "quiet": a.quiet, "batch": a.batch, "rows": []}
    failed = False
    # Interleaved (carpd, carpd-rt, ucarp, carpd, ...) so that all see the same machine load.
    for i in range(a.trials):
        for kind in kinds:
            try:
                r = trial(kind, flooder, a.quiet, a.duration, a.batch)
            except SetupError as e:
                say(f"{kind} trial {i + 1}: SETUP FAILED: {e}")
                results["rows"].append({"contender": kind, "trial": i + 1, "error": str(e),
                                        "load1_start": benchlib.loadavg(),
                                        "load1_end": benchlib.loadavg()})
                failed = True
                continue
            r["trial"] = i + 1
            results["rows"].append(r)
            j = r["jitter_flood"]
            say(f"{kind} trial {i + 1}: {f(r.get('pps'))} frames/s, jitter p99 "
                f"{f(j['jitter_ms_p99'], 2)} ms (quiet {f(r['jitter_quiet']['jitter_ms_p99'], 2)}"
                f" ms), {r['transition_count']} role changes {r['transitions']}, h1 CPU "
                f"{r['cpu_h1']['cpu_percent']:.1f} %, socket drops {r['drops_raw_socket']}, "
                f"load {r['load1_start']:.2f}->{r['load1_end']:.2f}")
            if "error" in r or not r.get("sent"):
                failed = True
            benchlib.save_json(results, a.out_dir)
    benchlib.finish_facts(facts)
    benchlib.write_report(results, a.out_dir, render)
    return 1 if failed else 0



if __name__ == "__main__":
    sys.exit(main())
