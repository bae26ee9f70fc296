"""Helpers shared by the benchmark runners in bench/*/run.py (root, network namespaces).

Importing this module puts tests/netns on sys.path and picks the carpd build the way
bench/failover/README.md describes ($CARPD_BIN, $CARPD_BUILD_DIR, else build-release/ or
build/), so that `carpnet` (the netns harness) finds the binaries.

What is here: a timestamped progress line (`say`), the load average, percentiles and table
formatting, machine facts for the result headers, CPU time and RSS of processes from /proc,
an advertisement capture (tcpdump with a kernel filter, kernel timestamps) and the send-interval
jitter computed from it, and the role changes that carpd and ucarp log.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import signal
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

sys.path.insert(0, os.path.join(REPO, "tests", "netns"))
if not os.environ.get("CARPD_BIN") and not os.environ.get("CARPD_BUILD_DIR"):
    for _d in ("build-release", "build"):
        if os.path.isfile(os.path.join(REPO, _d, "src", "app", "carpd")):
            os.environ["CARPD_BUILD_DIR"] = os.path.join(REPO, _d)
            break
import carpnet  # noqa: E402

T0 = time.monotonic()
CLK_TCK = os.sysconf("SC_CLK_TCK")


def say(msg: str) -> None:
    print(f"[{time.monotonic() - T0:7.1f}s] {msg}", flush=True)


def loadavg() -> float:
    """The 1-minute load average."""
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def log_time(line: str) -> float | None:
    """Wall-clock time of a carpd log line ('2026-01-01T12:00:00.123 info: ...', local time,
    spdlog's system_clock, truncated to the millisecond)."""
    m = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{3}) ", line)
    if not m:
        return None
    return time.mktime(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")) + int(m.group(2)) / 1000


# --------------------------------------------------------------------------------------------
# statistics and formatting

def pct(xs: list[float], q: float) -> float | None:
    """Percentile with linear interpolation between closest ranks (numpy's default)."""
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return None
    k = (len(xs) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def f(x, nd: int = 0) -> str:
    return "-" if x is None else f"{x:.{nd}f}"


def summarize(rows: list[dict], key: str) -> dict:
    xs = [r[key] for r in rows if r.get(key) is not None]
    return {"n": len(xs), "median": pct(xs, 0.5), "p95": pct(xs, 0.95),
            "min": min(xs) if xs else None, "max": max(xs) if xs else None}


# --------------------------------------------------------------------------------------------
# the machine

def _cmd(*a: str) -> str:
    try:
        r = subprocess.run(a, capture_output=True, text=True, timeout=10)
        return r.stdout.strip() or r.stderr.strip()
    except Exception:  # noqa: BLE001
        return ""


def carpd_build_type(carpd_bin: str) -> str:
    """CMAKE_BUILD_TYPE of the build tree the binary lives in, '?' when not found."""
    d = os.path.dirname(os.path.abspath(carpd_bin))
    while d != "/":
        cache = os.path.join(d, "CMakeCache.txt")
        if os.path.isfile(cache):
            with open(cache) as fh:
                m = re.search(r"^CMAKE_BUILD_TYPE:STRING=(.*)$", fh.read(), re.M)
            return (m.group(1) if m else "") or "(none)"
        d = os.path.dirname(d)
    return "?"


def machine_facts(command: str) -> dict:
    """CPU, kernel, versions of carpd (and its build type), ucarp and keepalived, git HEAD,
    the command line, the start time and the load average at start."""
    cpu = ""
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), "")
    except OSError:
        pass
    carpd_bin, _ = carpnet.find_binaries()
    return {"nproc": os.cpu_count(), "kernel": platform.release(), "cpu": cpu,
            "carpd": f"{_cmd(carpd_bin, '--version')} ({carpd_bin}, CMake build type "
                     f"{carpd_build_type(carpd_bin)})",
            "git": _cmd("git", "-C", REPO, "describe", "--always", "--dirty"),
            "ucarp": _cmd("dpkg-query", "-W", "-f", "${Version}", "ucarp"),
            "keepalived": (_cmd("keepalived", "--version") + "\n").splitlines()[0],
            "python": platform.python_version(),
            "command": command,
            "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "load1_start": loadavg()}


def finish_facts(facts: dict) -> None:
    facts["load1_end"] = loadavg()
    facts["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    facts["wall_s"] = time.monotonic() - T0


def save_json(results: dict, out_dir: str) -> None:
    """Writes the raw data so far (also between trials, so an aborted run keeps them)."""
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "results.json"), "w") as fh:
        json.dump(results, fh, indent=1, default=str)


def write_report(results: dict, out_dir: str, render) -> None:
    """Final step of every runner: results.json, then the tables to stdout and results.md."""
    save_json(results, out_dir)
    md = render(results)
    print(md)
    with open(os.path.join(out_dir, "results.md"), "w") as fh:
        fh.write(md)
    say(f"wrote {os.path.join(out_dir, 'results.md')} and results.json")


def facts_header(facts: dict) -> list[str]:
    """Markdown lines: command, time span, machine, load at start and end, versions."""
    return [f"Command: `{facts['command']}`, {facts['started']} to {facts.get('finished', '?')} "
            f"({facts.get('wall_s', 0) / 60:.1f} min).",
            "",
            f"Machine: {facts['nproc']} CPUs ({facts['cpu']}), Linux {facts['kernel']}; "
            f"1-minute load average {facts['load1_start']:.2f} at the start, "
            f"{f(facts.get('load1_end'), 2)} at the end.",
            f"Versions: {facts['carpd']}, git {facts['git']}; ucarp {facts['ucarp']}.",
            ""]


def require(tools=("ucarp",)) -> None:
    """Exit nonzero (with the reason) when the runner cannot work here; remove what earlier
    harness runs left behind."""
    if os.geteuid() != 0:
        sys.exit("needs root (network namespaces)")
    try:
        r = carpnet.skip_reason(need_binaries=True, need=tools)
    except (RuntimeError, FileNotFoundError) as e:
        r = str(e)
    if r:
        sys.exit(f"cannot run: {r}")
    carpnet.cleanup_stale()


# --------------------------------------------------------------------------------------------
# processes: CPU time and memory from /proc

def proc_user_system_seconds(pid: int) -> tuple[float, float]:
    """utime and stime of pid in seconds."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    # fields[0] is the state (field 3 of proc(5)); utime and stime are fields 14 and 15
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of pid in seconds."""
    return sum(proc_user_system_seconds(pid))


def proc_rss_kib(pid: int) -> int:
    """VmRSS of pid in KiB (0 for a kernel thread or a zombie)."""
    with open(f"/proc/{pid}/status") as fh:
        for ln in fh:
            if ln.startswith("VmRSS:"):
                return int(ln.split()[1])
    return 0


def proc_pss_kib(pid: int) -> int:
    """Pss of pid in KiB: shared pages divided among their users, so that summing over many
    processes of one program does not count its libraries once per process."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for ln in fh:
                if ln.startswith("Pss:"):
                    return int(ln.split()[1])
    except OSError:
        pass
    return 0


class CpuWindow:
    """CPU time and RSS of a set of processes over a window: start(), sample() now and then
    (RSS peak), stop() -> {'cpu_percent', 'rss_kib_end', 'rss_kib_peak', 'seconds'}, summed
    over the processes. CPU percent is of one core."""

    def __init__(self, pids: list[int]):
        self.pids = list(pids)

    def start(self) -> "CpuWindow":
        self.t0 = time.monotonic()
        self.sys0 = sum(proc_user_system_seconds(p)[1] for p in self.pids)
        self.cpu0 = sum(proc_cpu_seconds(p) for p in self.pids)
        self.peak = 0
        self.sample()
        return self

    def sample(self) -> int:
        rss = sum(proc_rss_kib(p) for p in self.pids)
        self.peak = max(self.peak, rss)
        return rss

    def stop(self) -> dict:
        rss = self.sample()
        dt = time.monotonic() - self.t0
        used = sum(proc_cpu_seconds(p) for p in self.pids) - self.cpu0
        system = sum(proc_user_system_seconds(p)[1] for p in self.pids) - self.sys0
        return {"seconds": dt, "cpu_s": used, "cpu_percent": 100 * used / dt,
                "system_percent": 100 * system / dt,
                "rss_kib_end": rss, "rss_kib_peak": self.peak,
                "pss_kib_end": sum(proc_pss_kib(p) for p in self.pids)}


# --------------------------------------------------------------------------------------------
# advertisement capture: tcpdump filters in the kernel, so a flood on the same port costs the
# capture nothing; timestamps are the kernel's, in nanoseconds

class AdvertCapture:
    """tcpdump in `role`'s namespace on `iface`, IPv4 protocol 112 from `src_ip` only.
    stop() returns the kernel receive times (seconds, wall clock) of the captured frames."""

    def __init__(self, seg, role: str, iface: str, src_ip: str):
        if shutil.which("tcpdump") is None:
            raise RuntimeError("tcpdump not installed (scripts/setup.sh installs it)")
        self.path = os.path.join(seg.tmp, f"adverts-{role}-{iface}-{src_ip}.pcap")
        self.seg = seg
        self.proc = seg.popen(role, ["tcpdump", "-i", iface, "-n", "-U", "-s", "96",
                                     "--time-stamp-precision=nano", "-w", self.path,
                                     f"ip proto 112 and src host {src_ip}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 15
        err = []
        while time.monotonic() < deadline:
            ln = self.proc.stderr.readline()
            if not ln:
                break
            err.append(ln)
            if "listening on" in ln:
                return
        raise RuntimeError("tcpdump did not start: " + "".join(err))

    def stop(self) -> list[float]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.seg.kill(self.proc)
        return read_pcap_times(self.path)


def read_pcap_times(path: str) -> list[float]:
    """Timestamps of the records of a classic pcap file (micro- or nanosecond magic)."""
    with open(path, "rb") as fh:
        data = fh.read()
    if len(data) < 24:
        return []
    magic = struct.unpack("<I", data[:4])[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        end = "<"
    else:
        end = ">"
        magic = struct.unpack(">I", data[:4])[0]
    scale = 1e-9 if magic == 0xA1B23C4D else 1e-6
    out, off = [], 24
    while off + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack(end + "IIII", data[off:off + 16])
        out.append(sec + frac * scale)
        off += 16 + incl
    return out


def interval_jitter(times: list[float], nominal: float) -> dict:
    """Send-interval jitter of a periodic sender: |interval - nominal| per pair of consecutive
    adverts, in ms (median, p99, max), and the longest interval."""
    iv = [b - a for a, b in zip(times, times[1:])]
    jit = [abs(x - nominal) * 1000 for x in iv]
    return {"adverts": len(times), "jitter_ms_median": pct(jit, 0.5), "jitter_ms_p99": pct(jit, 0.99),
            "jitter_ms_max": max(jit) if jit else None,
            "longest_interval_ms": max(iv) * 1000 if iv else None}


# --------------------------------------------------------------------------------------------
# role changes as the daemons log them

def carpd_transitions(log_text: str, since: float = 0.0) -> list[tuple[float | None, str]]:
    """(time, 'IFACE vhid N: A -> B') of every state change carpd logged at or after `since`
    (wall clock; lines without a timestamp are kept)."""
    out = []
    for ln in log_text.splitlines():
        m = re.search(r"(\S+ vhid \d+: \w+ -> \w+)", ln)
        if m:
            t = log_time(ln)
            if t is None or t >= since - 0.002:
                out.append((t, m.group(1)))
    return out


def ucarp_transitions(log_text: str) -> list[str]:
    return re.findall(r"Switching to state: (MASTER|BACKUP|INIT)", log_text)


# --------------------------------------------------------------------------------------------
# a MASTER/BACKUP pair on one segment: h1 advskew 0, h2 advskew 100, 192.0.2.1/24, advbase 1

CONTENDERS = ("carpd", "carpd-rt", "ucarp")


class SetupError(RuntimeError):
    """The contenders could not be set up; the runner exits nonzero."""


class Pair:
    """`kind` is carpd (defaults), carpd-rt (carpd with `realtime = true`: SCHED_FIFO and
    mlockall) or ucarp (-b 1 -k 0/100 -z, up/down scripts, as bench/failover runs it).
    start() waits for h1 MASTER and h2 BACKUP; mark() remembers how far the logs are, and
    role_changes() lists what both hosts logged after the mark."""

    SKEWS = {"h1": 0, "h2": 100}
    VIP = "192.0.2.1"
    ADVBASE = 1

    def __init__(self, seg, kind: str):
        if kind not in CONTENDERS:
            raise ValueError(kind)
        self.seg, self.kind = seg, kind
        self.d: dict = {}
        self.marks: dict = {}

    @property
    def is_carpd(self) -> bool:
        return self.kind.startswith("carpd")

    def start(self, timeout: float = 20.0) -> "Pair":
        for h, skew in self.SKEWS.items():
            if self.is_carpd:
                cfg = carpnet.config(carpnet.vhid_block(1, skew, [f"{self.VIP}/24"],
                                                        advbase=self.ADVBASE), log_level="info")
                if self.kind == "carpd-rt":
                    cfg = cfg.replace("[global]\n", "[global]\nrealtime = true\n", 1)
                self.d[h] = self.seg.start_carpd(h, cfg)
            else:
                self.d[h] = self.seg.start_ucarp(h, 1, self.VIP, advskew=skew,
                                                 advbase=self.ADVBASE)
        try:
            carpnet.wait_until(lambda: self.state("h1") == "MASTER" and
                               self.state("h2") == "BACKUP", timeout, 0.1,
                               f"{self.kind}: h1 MASTER, h2 BACKUP")
        except AssertionError as e:
            raise SetupError(f"{self.kind}: {e}; states {self.states()}") from None
        if self.kind == "carpd-rt" and "realtime: SCHED_FIFO" not in self.log_text("h1"):
            raise SetupError("carpd-rt: carpd did not log 'realtime: SCHED_FIFO'")
        return self

    def state(self, h: str) -> str | None:
        return self.d[h].state()

    def states(self) -> dict:
        return {h: self.state(h) for h in self.d}

    def pid(self, h: str) -> int:
        return self.d[h].proc.pid

    def log_text(self, h: str) -> str:
        return self.d[h].log_text()

    def mark(self) -> None:
        self.marks = {h: len(self.log_text(h)) for h in self.d}

    def log_since_mark(self, h: str) -> str:
        return self.log_text(h)[self.marks.get(h, 0):]

    def role_changes(self) -> dict:
        out = {}
        for h in self.d:
            text = self.log_since_mark(h)
            out[h] = ([c for _, c in carpd_transitions(text)] if self.is_carpd
                      else ucarp_transitions(text))
        return out
