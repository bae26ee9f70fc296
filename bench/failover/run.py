#!/usr/bin/env python3
"""Failover benchmark: carpd vs ucarp vs keepalived, side by side, same machine, same run.

    sudo python3 bench/failover/run.py [--trials N] [--quick] [--idle S] [--only NAME,...]

Each trial builds a fresh segment with tests/netns/carpnet.py (switch namespace with a
bridge, hosts h1 h2, client c), starts one contender on h1 (the MASTER) and h2 (the BACKUP),
probes the virtual address 192.0.2.1 from the client with ICMP echo every 1 ms, does one
thing to the MASTER and measures the client's outage: the longest gap between two echo replies
(kernel receive timestamps, SO_TIMESTAMPNS). See README.md beside this file for what each
scenario does and how to read the numbers.

Writes the tables to stdout and to bench/failover/results.md, the raw per-trial data to
bench/failover/results.json (--out-dir changes where). Root only; everything it creates is
named carpt-<pid>-* and removed at exit, every process is signalled by its own PID.

The script also has two internal modes that it runs inside a namespace through
`ip netns exec` (not for direct use):
    run.py _probe ADDR INTERVAL     1 ms ICMP echo prober (prints READY; JSON on SIGTERM)
    run.py _sniff IFACE SRC_IP      timestamps of IP protocol 112 frames from SRC_IP
"""

from __future__ import annotations

import argparse
import json
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
VIP = "192.0.2.1"
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)


# ============================================================================================
# in-namespace helpers (no carpnet import: they start in milliseconds)

class _Stop:
    flag = False


def _on_stop(signum, frame):  # noqa: ARG001
    _Stop.flag = True


def _ts(anc) -> float | None:
    for level, typ, data in anc:
        if level == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS and len(data) >= 16:
            sec, nsec = struct.unpack("qq", data[:16])
            return sec + nsec / 1e9
    return None


def _csum(b: bytes) -> int:
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def _realtime() -> bool:
    """SCHED_FIFO 10 for the measuring instrument, so that a busy machine delays its probes
    less (the daemons keep their normal priority; the instrument sleeps between probes)."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
        return True
    except (OSError, AttributeError):
        return False


def probe_child(addr: str, interval: float) -> None:
    """Send one ICMP echo request to addr every `interval` s (never in bursts: a late slot is
    skipped, not made up); record the kernel receive time of every echo reply from addr.
    Prints READY, runs until SIGTERM/SIGINT, then prints one JSON object."""
    rt = _realtime()
    signal.signal(signal.SIGTERM, _on_stop)
    signal.signal(signal.SIGINT, _on_stop)
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
    s.setblocking(False)
    ident = os.getpid() & 0xFFFF
    sent: list[float] = []          # wall-clock send time, index = sequence number
    replies: list[tuple[int, float]] = []
    send_errors = 0
    print("READY", flush=True)
    t_next = time.monotonic()
    while not _Stop.flag:
        now = time.monotonic()
        if now >= t_next:
            seq = len(sent)
            payload = struct.pack("!Id", seq, time.time())
            hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq & 0xFFFF)
            pkt = hdr[:2] + struct.pack("!H", _csum(hdr + payload)) + hdr[4:] + payload
            sent.append(time.time())
            try:
                s.sendto(pkt, (addr, 0))
            except OSError:
                send_errors += 1
            t_next += interval
            if now - t_next > interval:       # we were descheduled: skip, do not burst
                t_next = now + interval
        wait = t_next - time.monotonic()
        if wait > 0:
            try:
                select.select([s], [], [], wait)
            except InterruptedError:
                pass
        while True:
            try:
                data, anc, _, src = s.recvmsg(2048, 256)
            except (BlockingIOError, InterruptedError):
                break
            if src[0] != addr or len(data) < 20:
                continue
            ihl = (data[0] & 0x0F) * 4
            icmp = data[ihl:]
            if len(icmp) < 20 or icmp[0] != 0:
                continue
            rid = struct.unpack("!H", icmp[4:6])[0]
            if rid != ident:
                continue
            seq = struct.unpack("!I", icmp[8:12])[0]
            t = _ts(anc) or time.time()
            replies.append((seq, t))
    print(json.dumps({"sent": sent, "replies": replies, "send_errors": send_errors,
                      "sched_fifo": rt}),
          flush=True)


def sniff_child(iface: str, src_ip: str) -> None:
    """Kernel receive times of IPv4 protocol-112 frames (CARP/VRRP) from src_ip on iface."""
    _realtime()
    signal.signal(signal.SIGTERM, _on_stop)
    signal.signal(signal.SIGINT, _on_stop)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
    s.bind((iface, 0))
    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    s.setblocking(False)
    want = socket.inet_aton(src_ip)
    times: list[float] = []
    print("READY", flush=True)
    while not _Stop.flag:
        try:
            select.select([s], [], [], 0.05)
        except InterruptedError:
            pass
        while True:
            try:
                data, anc, _, _ = s.recvmsg(256, 256)
            except (BlockingIOError, InterruptedError):
                break
            if len(data) >= 34 and data[23] == 112 and data[26:30] == want:
                times.append(_ts(anc) or time.time())
    print(json.dumps({"times": times}), flush=True)


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] in ("_probe", "_sniff"):
    if sys.argv[1] == "_probe":
        probe_child(sys.argv[2], float(sys.argv[3]))
    else:
        sniff_child(sys.argv[2], sys.argv[3])
    sys.exit(0)


# ============================================================================================
# orchestration (root, host side)

sys.path.insert(0, os.path.dirname(HERE))
import benchlib  # noqa: E402  (puts tests/netns on sys.path, picks the carpd build)
from benchlib import f, loadavg, log_time, pct, say, summarize  # noqa: E402,F401
import carpnet  # noqa: E402
from carpnet import Segment, wait_until  # noqa: E402


# --------------------------------------------------------------------------------------------
# probes

class Probe:
    """probe_child in the client namespace."""

    def __init__(self, seg: Segment, addr: str = VIP, interval: float = 0.001):
        self.interval = interval
        self.proc = seg.popen("c", [sys.executable, os.path.abspath(__file__), "_probe", addr,
                                    str(interval)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        if line != "READY":
            raise RuntimeError(f"prober did not start: {line} {self.proc.stderr.read()}")

    def stop(self) -> dict:
        self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=30)
        d = json.loads(out.strip().splitlines()[-1])
        sent, replies = d["sent"], d["replies"]
        by_seq = {}
        for seq, t in replies:
            by_seq.setdefault(seq, t)
        times = sorted(by_seq.values())
        gap, gap_from = 0.0, None
        for a, b in zip(times, times[1:]):
            if b - a > gap:
                gap, gap_from = b - a, a
        t_end = sent[-1] if sent else 0
        tail = t_end - times[-1] if times else float("inf")
        recovered = bool(times) and tail < 0.2
        # probes sent up to 0.2 s before the stop count; later ones may still be in flight
        counted = [i for i, t in enumerate(sent) if t <= t_end - 0.2]
        lost = sum(1 for i in counted if i not in by_seq)
        send_gap = max((b - a for a, b in zip(sent, sent[1:])), default=0.0)
        return {"outage_ms": gap * 1000 if recovered else None, "gap_from": gap_from,
                "back_at": gap_from + gap if gap_from is not None else None,
                "recovered": recovered, "sent": len(sent), "replies": len(by_seq),
                "lost": lost, "send_errors": d["send_errors"], "sched_fifo": d.get("sched_fifo"),
                "max_send_gap_ms": send_gap * 1000}


class Sniff:
    """sniff_child in a host namespace: when did that host last hear the MASTER?"""

    def __init__(self, seg: Segment, role: str, src_ip: str):
        self.proc = seg.popen(role, [sys.executable, os.path.abspath(__file__), "_sniff",
                                     "eth0", src_ip],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        if line != "READY":
            raise RuntimeError(f"sniffer did not start: {line} {self.proc.stderr.read()}")

    def stop(self) -> list[float]:
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=30)
        return json.loads(out.strip().splitlines()[-1])["times"]


# --------------------------------------------------------------------------------------------
# contenders: a pair of daemons, h1 the intended MASTER, h2 the BACKUP

def carpd_master_down(advbase: int, advskew: int, formula: str) -> float:
    """Seconds a carpd BACKUP waits (src/proto/timing.h masterDownInterval)."""
    if formula == "freebsd":
        return 3 * advbase + advskew / 256
    return 3 * ((advbase + advskew / 256) if (advbase or advskew) else 1 / 256)


class CarpdPair:
    kind = "carpd"

    def __init__(self, advbase: int = 1, skews=(0, 100), master_down: str = "openbsd"):
        self.advbase, self.skews, self.formula = advbase, skews, master_down
        self.label = f"carpd advbase {advbase}, advskew {skews[0]}/{skews[1]}"
        if master_down != "openbsd":
            self.label += f", master_down {master_down}"
        interval = lambda b, k: (b + k / 256) if (b or k) else 1 / 256  # noqa: E731
        self.master_down = carpd_master_down(advbase, skews[1], master_down)
        self.adverts_per_s = 1 / interval(advbase, skews[0])

    def start(self, seg: Segment) -> None:
        self.seg = seg
        self.d = {}
        for h, k in zip(("h1", "h2"), self.skews):
            extra = f'master_down = "{self.formula}"' if self.formula != "openbsd" else ""
            cfg = carpnet.config(carpnet.vhid_block(1, k, [f"{VIP}/24"], advbase=self.advbase,
                                                    extra=extra),
                                 log_level="info")
            self.d[h] = seg.start_carpd(h, cfg)

    def state(self, h: str) -> str | None:
        return self.d[h].state()

    def log_lines(self, h: str) -> list[str]:
        return self.d[h].log_text().splitlines()

    def transitions(self, h: str, after_line: int = 0) -> list[tuple[float, str, str]]:
        out = []
        for ln in self.log_lines(h)[after_line:]:
            m = re.search(r"vhid 1: (\w+) -> (\w+)", ln)
            if m:
                out.append((log_time(ln), m.group(1), m.group(2)))
        return out

    def became_master_at(self, h: str, after: float) -> float | None:
        ts = [t for t, a, b in self.transitions(h) if b == "MASTER" and t and t >= after - 0.002]
        return ts[0] if ts else None

    def power_off(self, h: str) -> None:
        self.d[h].kill9()

    def terminate(self, h: str) -> None:
        self.d[h].signal(signal.SIGTERM)

    def wait_exit(self, h: str) -> None:
        self.d[h].proc.wait(15)

    def maintenance(self, h: str) -> None:
        self.d[h].carpctl("maintenance", "on")

    def stop_all(self) -> None:
        for d in self.d.values():
            if d.alive():
                d.kill9()


class UcarpPair:
    kind = "ucarp"

    def __init__(self, advbase: int = 1, skews=(0, 100)):
        self.advbase, self.skews = advbase, skews
        self.label = f"ucarp advbase {advbase}, advskew {skews[0]}/{skews[1]}, -z, up/down scripts"
        self.master_down = 3 * advbase + skews[1] / 256   # ucarp: dead ratio 3 x advbase + skew
        self.adverts_per_s = 1 / (advbase + skews[0] / 256)

    def start(self, seg: Segment) -> None:
        self.seg = seg
        self.u = {h: seg.start_ucarp(h, 1, VIP, advskew=k, advbase=self.advbase)
                  for h, k in zip(("h1", "h2"), self.skews)}

    def state(self, h: str) -> str | None:
        return self.u[h].state()

    def transitions(self, h: str, after_line: int = 0):
        return [ln for ln in self.u[h].log_text().splitlines()[after_line:]
                if re.search(r"Switching to state: (MASTER|BACKUP)", ln)]

    def log_lines(self, h: str) -> list[str]:
        return self.u[h].log_text().splitlines()

    def up_script_done_at(self, h: str) -> float | None:
        """mtime of the state file that the up script writes after `ip addr add` (file times
        come from the kernel's coarse wall clock: a few ms of resolution)."""
        try:
            if self.u[h].state() != "MASTER":
                return None
            return os.stat(self.u[h].state_file).st_mtime_ns / 1e9
        except OSError:
            return None

    def power_off(self, h: str) -> None:
        self.u[h].kill9()

    def terminate(self, h: str) -> None:
        self.u[h].proc.send_signal(signal.SIGTERM)

    def wait_exit(self, h: str) -> None:
        self.u[h].proc.wait(15)

    def stop_all(self) -> None:
        for u in self.u.values():
            if u.alive():
                u.kill9()


class KeepalivedPair:
    """keepalived (VRRP only) in each host namespace, foreground, console log, own pid files.
    Never the system service: `keepalived -n -l -D -G -P -f CONF -p PID -r VRRP_PID`."""
    kind = "keepalived"

    def __init__(self, version: int = 2, advert_int: str = "1", prios=(150, 100)):
        self.version, self.advert_int, self.prios = version, advert_int, prios
        self.label = f"keepalived VRRPv{version} advert_int {advert_int}, priority {prios[0]}/{prios[1]}"
        a = float(advert_int)
        skew = (256 - prios[1]) / 256 * (a if version == 3 else 1)
        self.master_down = 3 * a + skew
        self.adverts_per_s = 1 / a

    def conf(self, h: str, prio: int, state: str) -> str:
        return (f"global_defs {{\n  router_id {h}\n}}\n"
                f"vrrp_instance VI_1 {{\n  version {self.version}\n  state {state}\n"
                f"  interface eth0\n  virtual_router_id 1\n  priority {prio}\n"
                f"  advert_int {self.advert_int}\n"
                f"  virtual_ipaddress {{\n    {VIP}/24\n  }}\n}}\n")

    def start(self, seg: Segment) -> None:
        self.seg = seg
        self.p, self.dir = {}, {}
        for h, prio, st in (("h1", self.prios[0], "MASTER"), ("h2", self.prios[1], "BACKUP")):
            d = os.path.join(seg.tmp, f"keepalived-{h}")
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, "keepalived.conf"), "w") as f:
                f.write(self.conf(h, prio, st))
            self.dir[h] = d
            with open(os.path.join(d, "log"), "w") as lf:
                self.p[h] = seg.popen(h, ["keepalived", "-n", "-l", "-D", "-G", "-P",
                                          "-f", os.path.join(d, "keepalived.conf"),
                                          "-p", os.path.join(d, "keepalived.pid"),
                                          "-r", os.path.join(d, "vrrp.pid")],
                                      stdout=lf, stderr=subprocess.STDOUT)

    def log_lines(self, h: str) -> list[str]:
        try:
            with open(os.path.join(self.dir[h], "log"), errors="replace") as f:
                return f.read().splitlines()
        except OSError:
            return []

    def transitions(self, h: str, after_line: int = 0):
        return [ln for ln in self.log_lines(h)[after_line:]
                if re.search(r"Entering (MASTER|BACKUP|FAULT) STATE", ln)]

    def state(self, h: str) -> str | None:
        if self.p[h].poll() is not None:
            return None
        tr = self.transitions(h)
        if not tr:
            return None
        return re.search(r"Entering (\w+) STATE", tr[-1]).group(1)

    def vrrp_pid(self, h: str) -> int | None:
        try:
            with open(os.path.join(self.dir[h], "vrrp.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def power_off(self, h: str) -> None:
        child = self.vrrp_pid(h)
        self.seg.kill(self.p[h], signal.SIGKILL)     # parent first: it would respawn the child
        if child and carpnet.pid_alive(child):
            os.kill(child, signal.SIGKILL)

    def terminate(self, h: str) -> None:
        self.p[h].send_signal(signal.SIGTERM)

    def wait_exit(self, h: str) -> None:
        self.p[h].wait(15)

    def stop_all(self) -> None:
        for h in self.p:
            child = self.vrrp_pid(h)
            if self.p[h].poll() is None:
                self.p[h].send_signal(signal.SIGTERM)
                try:
                    self.p[h].wait(5)
                except subprocess.TimeoutExpired:
                    self.seg.kill(self.p[h], signal.SIGKILL)
            if child and carpnet.pid_alive(child):
                os.kill(child, signal.SIGKILL)


# --------------------------------------------------------------------------------------------
# one trial

def settle(seg: Segment, c, timeout: float = 20.0) -> None:
    wait_until(lambda: c.state("h1") == "MASTER" and c.state("h2") == "BACKUP", timeout, 0.05,
               f"{c.label}: h1 MASTER, h2 BACKUP")
    wait_until(lambda: seg.client_ping(VIP, timeout=0.5), 10, 0.05,
               f"{c.label}: client reaches {VIP}")


def trial(make, action: str, pre: float = 0.5) -> dict:
    """action: 'cut' (link down + kill -9 of every daemon process on h1), 'term' (SIGTERM
    to h1's daemon), 'maint' (carpctl maintenance on, carpd only)."""
    c = make()
    res = {"contender": c.label, "action": action, "load1": loadavg()}
    seg = Segment(hosts=2, label=f"bench-{action}")
    try:
        # h2's view of h1's advertisements (CARP and VRRP are both IP protocol 112)
        sniff = Sniff(seg, "h2", seg.ip4("h1"))
        c.start(seg)
        settle(seg, c)
        probe = Probe(seg)
        time.sleep(pre)
        t_act = time.time()
        if action == "cut":
            seg.link_down("h1")
            res["cut_cmd_ms"] = (time.time() - t_act) * 1000
            c.power_off("h1")
        elif action == "term":
            c.terminate("h1")
        elif action == "maint":
            c.maintenance("h1")
        else:
            raise ValueError(action)
        wait_until(lambda: c.state("h2") == "MASTER", 20, 0.02, f"{c.label}: h2 MASTER")
        wait_until(lambda: seg.client_ping(VIP, timeout=0.5), 15, 0.02,
                   f"{c.label}: client reaches {VIP} again")
        time.sleep(0.3)
        res.update(probe.stop())
        if res["back_at"] is not None:
            res["restored_after_action_ms"] = (res["back_at"] - t_act) * 1000
        adverts = sniff.stop()
        res["master_down_s"] = c.master_down
        before = [t for t in adverts if t <= t_act + res.get("cut_cmd_ms", 0) / 1000]
        if action == "cut" and before:
            res["last_advert_before_cut_ms"] = (t_act - before[-1]) * 1000
            if res["back_at"] is not None:
                res["restore_beyond_deadline_ms"] = \
                    (res["back_at"] - (before[-1] + c.master_down)) * 1000
        res["adverts_per_s"] = c.adverts_per_s
        if isinstance(c, UcarpPair) and action == "cut" and before:
            tu = c.up_script_done_at("h2")
            if tu is not None:
                res["up_script_beyond_deadline_ms"] = (tu - (before[-1] + c.master_down)) * 1000
        if isinstance(c, CarpdPair):
            tm = c.became_master_at("h2", t_act)
            if tm is not None:
                res["t_master_minus_action_ms"] = (tm - t_act) * 1000
                if action == "cut":
                    res["beyond_cut_deadline_ms"] = (tm - (t_act + c.master_down)) * 1000
                    if before:
                        res["beyond_advert_deadline_ms"] = (tm - (before[-1] + c.master_down)) * 1000
        if action in ("term", "maint"):
            try:
                if action == "term":
                    c.wait_exit("h1")
            except subprocess.TimeoutExpired:
                res["note"] = "h1 did not exit within 15 s of SIGTERM"
        res["h2_transitions"] = len(c.transitions("h2"))
    except Exception as e:  # noqa: BLE001
        res["error"] = f"{type(e).__name__}: {e}"
        try:
            res["h1_log"] = "\n".join(c.log_lines("h1")[-15:])
            res["h2_log"] = "\n".join(c.log_lines("h2")[-15:])
        except Exception:  # noqa: BLE001
            pass
    finally:
        try:
            c.stop_all()
        except Exception:  # noqa: BLE001
            pass
        seg.close()
    return res


# --------------------------------------------------------------------------------------------
# idle watch: no failure at all, count role changes

def idle_watch(makers: list, seconds: float) -> list[dict]:
    """All candidates at once, each on its own segment, for `seconds`; count transitions."""
    runs = []
    try:
        for make in makers:
            c = make()
            seg = Segment(hosts=2, label="bench-idle")
            runs.append((c, seg))
            c.start(seg)
        for c, seg in runs:
            settle(seg, c)
        marks = {id(c): {h: len(c.log_lines(h)) for h in ("h1", "h2")} for c, _ in runs}
        say(f"idle watch: {len(runs)} pairs settled; watching {seconds:.0f} s")
        l0 = loadavg()
        time.sleep(seconds)
        out = []
        for c, seg in runs:
            tr = {h: c.transitions(h, marks[id(c)][h]) for h in ("h1", "h2")}
            out.append({"contender": c.label, "seconds": seconds,
                        "transitions": sum(len(v) for v in tr.values()),
                        "detail": {h: [str(x) for x in v][:10] for h, v in tr.items()},
                        "end_roles": {h: c.state(h) for h in ("h1", "h2")},
                        "master_down_s": c.master_down, "load1_start": l0,
                        "load1_end": loadavg()})
        return out
    finally:
        for c, seg in runs:
            try:
                c.stop_all()
            except Exception:  # noqa: BLE001
                pass
            seg.close()


# --------------------------------------------------------------------------------------------
# statistics and tables

def table_outage(groups: dict, deadline: dict) -> str:
    lines = ["| contender | MASTER's adverts/s | master-down (protocol) | ok/trials "
             "| outage median ms | p95 ms | min ms | max ms "
             "| replies back − (last advert heard + master-down): median ms | p95 ms |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for label, rows in groups.items():
        s = summarize(rows, "outage_ms")
        o = summarize(rows, "restore_beyond_deadline_ms")
        md = deadline.get(label)
        rate = next((r["adverts_per_s"] for r in rows if r.get("adverts_per_s")), None)
        lines.append(f"| {label} | {f(rate, 1)} | {f(md * 1000) + ' ms' if md is not None else '-'} "
                     f"| {s['n']}/{len(rows)} | {f(s['median'])} | {f(s['p95'])} "
                     f"| {f(s['min'])} | {f(s['max'])} | {f(o['median'])} | {f(o['p95'])} |")
    return "\n".join(lines)


def table_carpd_deadline(groups: dict) -> str:
    lines = ["| carpd setting | n | (MASTER log time) − (cut + master-down): median ms | p95 | "
             "min | max | (MASTER log time) − (last advert heard + master-down): median ms "
             "| p95 | min | max |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for label, rows in groups.items():
        if not label.startswith("carpd"):
            continue
        a, b = summarize(rows, "beyond_cut_deadline_ms"), summarize(rows, "beyond_advert_deadline_ms")
        lines.append(f"| {label} | {a['n']} | {f(a['median'], 1)} | {f(a['p95'], 1)} "
                     f"| {f(a['min'], 1)} | {f(a['max'], 1)} | {f(b['median'], 1)} "
                     f"| {f(b['p95'], 1)} | {f(b['min'], 1)} | {f(b['max'], 1)} |")
    return "\n".join(lines)


def table_idle(rows: list[dict]) -> str:
    lines = ["| contender | master-down | watched | role changes | roles at end |",
             "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['contender']} | {r['master_down_s'] * 1000:.0f} ms "
                     f"| {r['seconds']:.0f} s | {r['transitions']} "
                     f"| h1 {r['end_roles']['h1']}, h2 {r['end_roles']['h2']} |")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# setup

def setup() -> None:
    if os.geteuid() != 0:
        sys.exit("run.py needs root (network namespaces)")
    r = carpnet.skip_reason(need_binaries=True, need=("ucarp", "ping"))
    if r:
        sys.exit(f"cannot run: {r}")
    if shutil.which("keepalived") is None:
        # Installed as a package only; never started as a service (policy-rc.d 101 while
        # installing when the machine has none).
        say("keepalived missing: apt-get install -y keepalived")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        policy = "/usr/sbin/policy-rc.d"
        made = False
        if not os.path.exists(policy):
            with open(policy, "w") as fh:
                fh.write("#!/bin/sh\nexit 101\n")
            os.chmod(policy, 0o755)
            made = True
        try:
            subprocess.run(["apt-get", "update", "-qq"], env=env, check=False)
            subprocess.run(["apt-get", "install", "-y", "-q", "keepalived"], env=env, check=True)
        finally:
            if made:
                os.unlink(policy)
    carpnet.cleanup_stale()


# --------------------------------------------------------------------------------------------
# main

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=None, help="trials per contender and scenario "
                    "(default 20; --quick 5)")
    ap.add_argument("--quick", action="store_true", help="5 trials, 30 s idle watch")
    ap.add_argument("--idle", type=float, default=None,
                    help="seconds of the idle (false failover) watch (default 300; --quick 30)")
    ap.add_argument("--only", default="unplanned,aggressive,graceful,idle",
                    help="comma-separated scenarios to run")
    ap.add_argument("--out-dir", default=HERE, help="where results.md/results.json go")
    a = ap.parse_args()
    n = a.trials or (5 if a.quick else 20)
    idle_s = a.idle if a.idle is not None else (30.0 if a.quick else 300.0)
    only = set(a.only.split(","))

    setup()
    facts = benchlib.machine_facts("python3 bench/failover/run.py " + " ".join(sys.argv[1:]))
    say(f"machine: {facts}")

    # contenders ------------------------------------------------------------------------------
    carpd_def = lambda: CarpdPair(1, (0, 100))                         # noqa: E731
    carpd_fbsd = lambda: CarpdPair(1, (0, 100), "freebsd")             # noqa: E731
    ucarp_def = lambda: UcarpPair(1, (0, 100))                         # noqa: E731
    ka_v2 = lambda: KeepalivedPair(2, "1", (150, 100))                 # noqa: E731
    aggressive_carpd = [(10, 40), (4, 16), (2, 8), (1, 4), (0, 2), (0, 1)]
    agg = [(lambda s=s: CarpdPair(0, s)) for s in aggressive_carpd]
    ka_v3 = lambda: KeepalivedPair(3, "0.01", (150, 100))              # noqa: E731

    results: dict = {"facts": facts, "n": n, "idle_s": idle_s, "trials": {}, "idle": []}

    def run_group(scn: str, make, action: str) -> None:
        label = make().label
        key = f"{scn}|{label}|{action}"
        rows = []
        for i in range(n):
            r = trial(make, action)
            rows.append(r)
            msg = (f"{scn} {label} {action} #{i + 1}: outage "
                   f"{f(r.get('outage_ms'), 1)} ms lost {r.get('lost')} load {r['load1']:.2f}")
            if "restore_beyond_deadline_ms" in r:
                msg += f"; replies back {r['restore_beyond_deadline_ms']:.1f} ms after deadline"
            if "beyond_advert_deadline_ms" in r:
                msg += (f"; MASTER {f(r['beyond_cut_deadline_ms'], 1)} ms vs cut+md, "
                        f"{f(r['beyond_advert_deadline_ms'], 1)} ms vs last advert+md")
            if "t_master_minus_action_ms" in r and action != "cut":
                msg += f"; MASTER {r['t_master_minus_action_ms']:.1f} ms after the action"
            if "error" in r:
                msg += f"  ERROR {r['error']}"
            say(msg)
        results["trials"][key] = rows
        benchlib.save_json(results, a.out_dir)

    if "unplanned" in only:
        for mk in (carpd_def, carpd_fbsd, ucarp_def, ka_v2):
            run_group("unplanned", mk, "cut")
    if "aggressive" in only:
        for mk in agg + [ka_v3]:
            run_group("aggressive", mk, "cut")
    if "graceful" in only:
        run_group("graceful", carpd_def, "term")
        run_group("graceful", carpd_def, "maint")
        run_group("graceful", ka_v2, "term")
        run_group("graceful", ucarp_def, "term")
    if "idle" in only:
        results["idle"] = idle_watch(agg + [ka_v3], idle_s)
        for r in results["idle"]:
            say(f"idle {r['contender']}: {r['transitions']} role changes in {r['seconds']:.0f} s "
                f"{r['detail'] if r['transitions'] else ''}")
    benchlib.finish_facts(facts)
    benchlib.write_report(results, a.out_dir, render)



def render(results: dict) -> str:
    fa = results["facts"]
    loads = [r["load1"] for rows in results["trials"].values() for r in rows]
    fifo = [r.get("sched_fifo") for rows in results["trials"].values() for r in rows
            if "sched_fifo" in r]
    out = [f"Command: `{fa['command']}` ({results['n']} trials per row), "
           f"{fa['started']} to {fa.get('finished', '?')}, {fa.get('wall_s', 0) / 60:.1f} min",
           "",
           f"Machine: {fa['nproc']} CPUs ({fa['cpu']}), Linux {fa['kernel']}; "
           f"1-min load average at trial starts: min {f(min(loads, default=None), 2)}, "
           f"median {f(pct(loads, 0.5), 2)}, max {f(max(loads, default=None), 2)}.",
           f"Versions: {fa['carpd']}, git {fa['git']}; ucarp {fa['ucarp']}; {fa['keepalived']}.",
           f"Prober at SCHED_FIFO in {sum(1 for x in fifo if x)} of {len(fifo)} trials.",
           ""]

    def groups(scn: str, action: str | None = None) -> dict:
        g = {}
        for k, rows in results["trials"].items():
            s, label, act = k.split("|")
            if s == scn and (action is None or act == action):
                g[label if action else f"{label}, {act}"] = rows
        return g

    def errors(g: dict) -> list[str]:
        e = []
        for label, rows in g.items():
            for i, r in enumerate(rows):
                if "error" in r:
                    e.append(f"- {label} trial {i + 1}: {r['error']}")
        return e

    g = groups("unplanned", "cut")
    if g:
        md = {l: ({"carpd": carpd_master_down(1, 100, "freebsd" if "freebsd" in l else "openbsd"),
                   "ucarp": 3 + 100 / 256,
                   "keepalived": 3 + (256 - 100) / 256}[l.split()[0]]) for l in g}
        out += ["### Unplanned failover at default settings (power cut of the MASTER)", "",
                table_outage(g, md), "", table_carpd_deadline(g), ""] + errors(g) + [""]
    g = groups("unplanned", "cut")
    u = next((rows for l, rows in g.items() if l.startswith("ucarp")), None)
    if u:
        x = summarize(u, "up_script_beyond_deadline_ms")
        if x["n"]:
            out += [f"ucarp's up script finished (state file mtime) {f(x['median'])} ms median "
                    f"(p95 {f(x['p95'])}, min {f(x['min'])}, max {f(x['max'])}) after "
                    f"last advert heard + master-down, n={x['n']}.", ""]
    g = groups("aggressive", "cut")
    if g:
        md = {}
        for l in g:
            m = re.search(r"advskew (\d+)/(\d+)", l)
            if l.startswith("carpd") and m:
                md[l] = 3 * int(m.group(2)) / 256
            elif l.startswith("keepalived"):
                md[l] = 3 * 0.01 + (256 - 100) / 256 * 0.01
        out += ["### Aggressive timers (power cut of the MASTER)", "", table_outage(g, md), "",
                table_carpd_deadline(g), ""] + errors(g) + [""]
    if results["idle"]:
        out += [f"### Idle watch (false failovers, all pairs at once, {results['idle_s']:.0f} s)",
                "", table_idle(results["idle"]), ""]
    g = groups("graceful")
    if g:
        lines = ["| contender, action | ok/trials | outage median ms | p95 ms | max ms "
                 "| probes lost median | p95 | max | prober's longest send pause, median ms "
                 "| BACKUP's MASTER log line after the action, median ms |",
                 "|---|---|---|---|---|---|---|---|---|---|"]
        for label, rows in g.items():
            s, l_ = summarize(rows, "outage_ms"), summarize(rows, "lost")
            t = summarize(rows, "t_master_minus_action_ms")
            sp = summarize(rows, "max_send_gap_ms")
            lines.append(f"| {label} | {s['n']}/{len(rows)} | {f(s['median'], 1)} "
                         f"| {f(s['p95'], 1)} | {f(s['max'], 1)} | {f(l_['median'])} "
                         f"| {f(l_['p95'])} | {f(l_['max'])} | {f(sp['median'], 1)} "
                         f"| {f(t['median'], 1)} |")
        out += ["### Graceful switchover", "", "\n".join(lines), ""] + errors(g) + [""]
    # headline ratios
    med = {k: summarize(rows, "outage_ms")["median"] for k, rows in results["trials"].items()}

    def m(scn, prefix, act):
        return next((v for k, v in med.items()
                     if k.startswith(f"{scn}|{prefix}") and k.endswith(f"|{act}")), None)
    rat = []
    ov = {k: summarize(rows, "restore_beyond_deadline_ms")["median"]
          for k, rows in results["trials"].items()}
    oc = next((v for k, v in ov.items() if k.startswith("unplanned|carpd")), None)
    for name in ("keepalived", "ucarp"):
        ox = next((v for k, v in ov.items() if k.startswith(f"unplanned|{name}")), None)
        if oc is not None and ox:
            rat.append(f"- power cut, defaults, replies back after each protocol's own deadline "
                       f"(last advert heard + master-down): carpd {oc:.1f} ms, {name} {ox:.1f} ms "
                       f"(ratio {oc / ox:.3f})")
    for scn, act, what in (("unplanned", "cut", "power cut, defaults"),
                           ("graceful", "term", "graceful stop (SIGTERM)")):
        c, k, u = m(scn, "carpd", act), m(scn, "keepalived", act), m(scn, "ucarp", act)
        if c and k:
            rat.append(f"- {what}: carpd / keepalived median outage = {c:.1f} / {k:.1f} ms "
                       f"= {c / k:.3f}")
        if c and u:
            rat.append(f"- {what}: carpd / ucarp median outage = {c:.1f} / {u:.1f} ms "
                       f"= {c / u:.3f}")
    cf, k = m("unplanned", "carpd advbase 1, advskew 0/100, master_down freebsd", "cut"), \
        m("unplanned", "keepalived", "cut")
    if cf and k:
        rat.append(f"- power cut, carpd with master_down = \"freebsd\" / keepalived median outage "
                   f"= {cf:.1f} / {k:.1f} ms = {cf / k:.3f}")
    k3 = m("aggressive", "keepalived", "cut")
    stable = [r for r in results["idle"] if r["contender"].startswith("carpd")
              and r["transitions"] == 0]
    if k3 and stable:
        best = min(stable, key=lambda r: r["master_down_s"])
        c = med.get(f"aggressive|{best['contender']}|cut")
        if c:
            rat.append(f"- aggressive, shortest carpd setting without a role change in the idle "
                       f"watch ({best['contender']}) / keepalived VRRPv3 advert_int 0.01: "
                       f"{c:.1f} / {k3:.1f} ms = {c / k3:.2f}")
    if rat:
        out += ["### Headline ratios", ""] + rat + [""]
    return "\n".join(out)


if __name__ == "__main__":
    main()
