"""carpnet: a network-namespace test bench for carpd.

One `Segment` is one Ethernet segment: a switch namespace with a Linux bridge (multicast
snooping off, so 224.0.0.18 and ff02::12 flood), host namespaces h1..hN and a client namespace
c, each with an `eth0` veth whose peer is a bridge port in the switch namespace.

  addresses   hosts  h1 192.0.2.11/24 2001:db8::11/64, h2 .12/::12, ...
              client c  192.0.2.100/24  2001:db8::100/64
              virtual    192.0.2.1, .2, ...  2001:db8::1, ::2, ...   (vip4(n), vip6(n))

Everything the harness creates is named `carpt-<pid>-<n>-<role>` and is removed by
`Segment.close()`, which runs from try/finally, unittest cleanups, atexit and on SIGTERM/SIGHUP.
Processes are only ever signalled by the PID that the harness got when it started them. At
start, `cleanup_stale()` removes the namespaces and temporary directories of earlier runs whose
owning PID is gone.

Under CARPD_SANITIZED=1 (CTest sets it in a -DCARPD_SANITIZE=ON build) a sanitizer report in a
carpd log or in carpctl's stderr fails the test, and close() stops carpd with SIGTERM (so that
LeakSanitizer runs at its exit) before any SIGKILL.

Binaries: $CARPD_BIN / $CARPCTL_BIN, else $CARPD_BUILD_DIR/src/app/carpd and
$CARPD_BUILD_DIR/src/cli/carpctl, else the repository's build/ (or the newest build-*/).
"""

from __future__ import annotations

import atexit
import dataclasses
import glob
import itertools
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import carpwire  # noqa: E402

PREFIX = "carpt-"
NET4 = "192.0.2"
NET6 = "2001:db8:"
TMP_ROOT = tempfile.gettempdir()
_seq = itertools.count(1)
_live: set = set()
_lock = threading.Lock()
VERBOSE = os.environ.get("CARPNET_VERBOSE", "") not in ("", "0")
# carpd and carpctl built with AddressSanitizer + UndefinedBehaviorSanitizer: slower, and their
# reports must fail the test (sanitizer_reports()).
SANITIZED = os.environ.get("CARPD_SANITIZED", "") not in ("", "0")
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer")


def log(msg: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}.{int(time.time() * 1000) % 1000:03d}] {msg}",
          flush=True)


# --------------------------------------------------------------------------------------------
# environment

def _ip_netns_works() -> str | None:
    if shutil.which("ip") is None:
        return "iproute2 'ip' not found"
    try:
        r = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=10)
    except Exception as e:  # noqa: BLE001
        return f"'ip netns' unusable: {e}"
    if r.returncode != 0:
        return f"'ip netns' unusable: {r.stderr.strip()}"
    return None


def find_binaries() -> tuple[str, str]:
    """Paths of carpd and carpctl; raises FileNotFoundError explaining where it looked."""
    env_d, env_c = os.environ.get("CARPD_BIN"), os.environ.get("CARPCTL_BIN")
    if env_d or env_c:
        # Given explicitly (CTest does): exactly these, never a stale build found elsewhere.
        if env_d and env_c and os.access(env_d, os.X_OK) and os.access(env_c, os.X_OK):
            return env_d, env_c
        raise FileNotFoundError(f"carpd/carpctl not built: CARPD_BIN={env_d} CARPCTL_BIN={env_c}")
    if os.environ.get("CARPD_BUILD_DIR"):
        dirs = [os.environ["CARPD_BUILD_DIR"]]
    else:
        dirs = [os.path.join(REPO, "build")]
        extra = sorted(glob.glob(os.path.join(REPO, "build-*")), key=os.path.getmtime,
                       reverse=True)
        dirs += extra
    tried = []
    for d in dirs:
        found = []
        for name, rels in (("carpd", ("src/app/carpd", "carpd", "bin/carpd")),
                           ("carpctl", ("src/cli/carpctl", "carpctl", "bin/carpctl"))):
            env = env_d if name == "carpd" else env_c
            cands = ([env] if env else []) + [os.path.join(d, r) for r in rels]
            hit = next((c for c in cands if os.path.isfile(c) and os.access(c, os.X_OK)), None)
            found.append(hit)
            tried += cands
        if all(found):
            return found[0], found[1]
    raise FileNotFoundError("carpd/carpctl not built; looked at: "
                            + ", ".join(dict.fromkeys(tried)))


def skip_reason(need_binaries: bool = True, need=()) -> str | None:
    """Why the netns tests cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    r = _ip_netns_works()
    if r:
        return r
    # Under CTest (which passes CARPD_BIN) a missing binary or tool is a broken build or setup,
    # not a reason to skip: a suite that skips itself green would prove nothing.
    strict = "CARPD_BIN" in os.environ
    for tool in need:
        if shutil.which(tool) is None:
            if strict:
                raise RuntimeError(f"{tool} not installed (scripts/setup.sh installs it)")
            return f"{tool} not installed"
    if need_binaries:
        try:
            find_binaries()
        except FileNotFoundError as e:
            if strict:
                raise
            return str(e)
    return None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def netns_list() -> list[str]:
    r = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    return [ln.split()[0] for ln in r.stdout.splitlines() if ln.strip()]


def _ns_pids(ns: str) -> list[int]:
    r = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
    return [int(x) for x in r.stdout.split() if x.isdigit()]


def _kill_ns_and_delete(ns: str) -> None:
    for pid in _ns_pids(ns):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def cleanup_stale() -> list[str]:
    """Remove namespaces and temp dirs of earlier harness runs whose PID is dead."""
    removed = []
    pat = re.compile(r"^" + re.escape(PREFIX) + r"(\d+)-")
    for ns in netns_list():
        m = pat.match(ns)
        if m and int(m.group(1)) != os.getpid() and not pid_alive(int(m.group(1))):
            _kill_ns_and_delete(ns)
            removed.append(ns)
    for d in glob.glob(os.path.join(TMP_ROOT, PREFIX + "*")):
        m = pat.match(os.path.basename(d))
        if m and int(m.group(1)) != os.getpid() and not pid_alive(int(m.group(1))):
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
    return removed


def _close_all() -> None:
    with _lock:
        segs = list(_live)
    for s in segs:
        try:
            s.close()
        except Exception as e:  # noqa: BLE001
            print(f"carpnet: cleanup of {s.id} failed: {e}", file=sys.stderr)


atexit.register(_close_all)


def _on_signal(signum, frame):  # noqa: ARG001
    # KeyboardInterrupt passes through unittest (SystemExit would be recorded as an error and
    # the run would go on), so finally blocks, cleanups and atexit all run.
    raise KeyboardInterrupt(f"signal {signum}")


if threading.current_thread() is threading.main_thread():
    for _sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(_sig) in (signal.SIG_DFL, None):
            signal.signal(_sig, _on_signal)


class WaitTimeout(AssertionError):
    pass


class SanitizerReport(AssertionError):
    pass


def sanitizer_reports(text: str, context: int = 40) -> list[str]:
    """Each sanitizer report in text (a carpd log, carpctl's stderr): the lines from the one
    with a marker on, at most `context` of them."""
    lines = text.splitlines()
    out, skip_to = [], 0
    for i, ln in enumerate(lines):
        if i >= skip_to and any(m in ln for m in SANITIZER_MARKERS):
            out.append("\n".join(lines[i:i + context]))
            skip_to = i + context
    return out


def wait_until(pred, timeout: float = 10.0, interval: float = 0.05, what: str = "condition"):
    """Poll pred() every `interval` s until it returns a truthy value; return that value.

    Raises WaitTimeout (an AssertionError, so a test fails rather than errors) after `timeout`.
    Exceptions from pred count as "not yet" and the last one is reported.
    """
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            v = pred()
            if v:
                return v
        except Exception as e:  # noqa: BLE001
            last_exc = e
        if time.monotonic() >= deadline:
            extra = f" (last error: {last_exc})" if last_exc else ""
            raise WaitTimeout(f"timed out after {timeout:.1f}s waiting for {what}{extra}")
        time.sleep(interval)


# --------------------------------------------------------------------------------------------
# configuration text

def read_log(path: str) -> str:
    """A daemon's log so far; empty when it has not written one yet."""
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def vhid_block(vhid: int = 1, advskew: int = 0, addresses=None, advbase: int = 1,
               passphrase: str = "secret", interface: str = "eth0", extra: str = "") -> str:
    if addresses is None:
        addresses = [f"{NET4}.{vhid}/24", f"{NET6}:{vhid}/64"]
    addrs = ", ".join(f'"{a}"' for a in addresses)
    s = (f"[[vhid]]\ninterface = \"{interface}\"\nvhid = {vhid}\nadvbase = {advbase}\n"
         f"advskew = {advskew}\npass = \"{passphrase}\"\naddresses = [{addrs}]\n")
    return s + (extra.rstrip() + "\n" if extra else "")


def config(*blocks: str, preempt: bool = False, log_level: str = "debug") -> str:
    """A carpd.toml; start_carpd adds control_socket and state_dir."""
    head = f"[global]\npreempt = {'true' if preempt else 'false'}\nlog_level = \"{log_level}\"\n"
    return head + "".join("\n" + b for b in blocks)


def _inject_paths(text: str, sock: str, state_dir: str) -> str:
    add = []
    if not re.search(r"^\s*control_socket\s*=", text, re.M):
        add.append(f'control_socket = "{sock}"')
    if not re.search(r"^\s*state_dir\s*=", text, re.M):
        add.append(f'state_dir = "{state_dir}"')
    if not add:
        return text
    lines = text.splitlines()
    for i, ln in enumerate(lines):
        if re.match(r"^\s*\[global\]\s*(#.*)?$", ln):
            return "\n".join(lines[:i + 1] + add + lines[i + 1:]) + "\n"
    return "[global]\n" + "\n".join(add) + "\n\n" + text


# --------------------------------------------------------------------------------------------
# carpd

class CarpctlError(RuntimeError):
    pass


class Carpd:
    """One running carpd inside a host namespace."""

    def __init__(self, seg: "Segment", host: str, config_text: str):
        self.seg, self.host = seg, host
        self.dir = os.path.join(seg.tmp, host)
        os.makedirs(os.path.join(self.dir, "state"), exist_ok=True)
        self.sock = os.path.join(self.dir, "carpd.sock")
        self.state_dir = os.path.join(self.dir, "state")
        self.config_path = os.path.join(self.dir, "carpd.toml")
        self.log_path = os.path.join(self.dir, "carpd.log")
        self.config_text = _inject_paths(config_text, self.sock, self.state_dir)
        with open(self.config_path, "w") as f:
            f.write(self.config_text)
        self.proc: subprocess.Popen | None = None
        self.started_at = 0.0

    # lifecycle -----------------------------------------------------------------------------
    def start(self, wait: bool = True, timeout: float = 10.0) -> "Carpd":
        with open(self.log_path, "a") as lf:
            lf.write(f"==== {time.strftime('%H:%M:%S')} start carpd -f {self.config_path}\n")
            lf.flush()
            self.proc = self.seg.popen(self.host, [self.seg.carpd, "-f", self.config_path],
                                       stdout=lf, stderr=subprocess.STDOUT)
        self.started_at = time.monotonic()
        if wait:
            def ready():
                if self.proc.poll() is not None:
                    raise CarpctlError(f"carpd on {self.host} exited with {self.proc.returncode}"
                                       f"\n{self.log_tail(30)}")
                return self.try_status()
            try:
                wait_until(ready, timeout, 0.05, f"carpd on {self.host} to answer carpctl")
            except WaitTimeout:
                if self.proc.poll() is not None:
                    raise CarpctlError(f"carpd on {self.host} exited with "
                                       f"{self.proc.returncode}\n{self.log_tail(30)}") from None
                raise
        return self

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
        if self.proc:
            self.proc.wait(10)

    def terminate(self, timeout: float = 10.0) -> int:
        """SIGTERM and wait; returns the exit status. SIGKILL (and an error) after timeout."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill9()
            raise AssertionError(f"carpd on {self.host} ignored SIGTERM for {timeout}s")

    def signal(self, sig: int) -> None:
        if self.alive():
            self.proc.send_signal(sig)

    def restart(self, wait: bool = True) -> "Carpd":
        if self.alive():
            self.terminate()
        return self.start(wait)

    # control -------------------------------------------------------------------------------
    def carpctl(self, *args: str, check: bool = True, timeout: float = 5.0):
        cmd = [self.seg.carpctl_bin, "-s", self.sock, *args]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        found = sanitizer_reports(r.stderr)
        if found:
            report = f"{self.host}: carpctl {' '.join(args)}:\n" + "\n".join(found)
            self.seg.sanitizer_findings.append(report)
            raise SanitizerReport(report)
        if VERBOSE:
            log(f"{self.host}$ carpctl {' '.join(args)} -> {r.returncode} {r.stdout.strip()}")
        if check and r.returncode != 0:
            raise CarpctlError(f"{self.host}: carpctl {' '.join(args)} exited {r.returncode}: "
                               f"{r.stderr.strip()}")
        return r

    def status(self) -> dict:
        r = self.carpctl("status", "--json")
        try:
            return json.loads(r.stdout)
        except json.JSONDecodeError as e:
            raise CarpctlError(f"{self.host}: status --json is not JSON ({e}): {r.stdout!r}")

    def try_status(self) -> dict | None:
        try:
            return self.status()
        except (CarpctlError, subprocess.TimeoutExpired, OSError):
            return None

    def status_text(self) -> str:
        return self.carpctl("status").stdout

    def vhid(self, vhid: int = 1, interface: str = "eth0", status: dict | None = None) -> dict:
        st = status if status is not None else self.status()
        for v in st.get("vhids", []):
            if v.get("vhid") == vhid and v.get("interface") == interface:
                return v
        raise KeyError(f"{self.host}: no vhid {vhid} on {interface} in status")

    def state(self, vhid: int = 1, interface: str = "eth0") -> str | None:
        """MASTER/BACKUP/INIT, or None when carpd is not running or does not answer."""
        if not self.alive():
            return None
        st = self.try_status()
        if st is None:
            return None
        try:
            return self.vhid(vhid, interface, st).get("state")
        except KeyError:
            return None

    def stats(self) -> dict:
        return dict(self.status().get("stats", {}))

    def log_text(self) -> str:
        return read_log(self.log_path)

    def log_tail(self, n: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-n:])


# --------------------------------------------------------------------------------------------
# outage prober

@dataclasses.dataclass
class ProbeResult:
    addr: str
    sent: int
    received: int
    duplicates: int
    max_gap_ms: float            # largest gap between consecutive replies (or the tail gap)
    gap_from: float | None       # wall-clock time of the reply before the largest gap
    recovered: bool              # replies came back after the largest gap
    replies: list                # wall-clock timestamps of the replies

    def first_reply_after(self, t: float) -> float | None:
        return next((x for x in self.replies if x > t), None)

    @property
    def back_at(self) -> float | None:
        """Wall-clock time of the first reply after the largest gap (None if not recovered)."""
        if not self.recovered or self.gap_from is None:
            return None
        return self.gap_from + self.max_gap_ms / 1000

    def summary(self) -> str:
        rec = "" if self.recovered else " (NOT recovered before the probe stopped)"
        return (f"ping {self.addr} every 10 ms: {self.sent} sent, {self.received} replies, "
                f"{self.duplicates} duplicates, longest gap {self.max_gap_ms:.0f} ms{rec}")


class Prober:
    """`ping -D -i 0.01` from the client; outage = largest gap between consecutive replies."""

    _line = re.compile(r"^\[(\d+\.\d+)\] \d+ bytes from .*icmp_seq=(\d+)(.*DUP!)?")

    def __init__(self, seg: "Segment", addr: str, interval: float = 0.01, ns: str = "c"):
        self.seg, self.addr, self.interval, self.ns = seg, addr, interval, ns
        self.out = tempfile.NamedTemporaryFile("w+", dir=seg.tmp, prefix="ping-", delete=False)
        self.proc = None

    def start(self) -> "Prober":
        self.proc = self.seg.popen(self.ns, ["ping", "-D", "-n", "-i", str(self.interval),
                                             "-W", "1", self.addr],
                                   stdout=self.out, stderr=subprocess.STDOUT)
        self.t_start = time.time()
        return self

    def stop(self) -> ProbeResult:
        t_stop = time.time()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.flush()
        with open(self.out.name) as f:
            text = f.read()
        replies, seqs, dups = [], set(), 0
        for ln in text.splitlines():
            m = self._line.match(ln)
            if not m:
                continue
            if m.group(3):
                dups += 1
                continue
            replies.append(float(m.group(1)))
            seqs.add(int(m.group(2)))
        sent = 0
        m = re.search(r"(\d+) packets transmitted", text)
        if m:
            sent = int(m.group(1))
        gap, gap_from, recovered = 0.0, None, True
        for a, b in zip(replies, replies[1:]):
            if b - a > gap:
                gap, gap_from = b - a, a
        tail = t_stop - replies[-1] if replies else t_stop - self.t_start
        if tail > gap and tail > 0.5:
            gap, gap_from, recovered = tail, (replies[-1] if replies else None), False
        return ProbeResult(self.addr, sent, len(replies), dups, gap * 1000, gap_from, recovered,
                           replies)


# --------------------------------------------------------------------------------------------
# the segment

class Segment:
    """Switch + hosts h1..hN + client c; see the module docstring."""

    def __init__(self, hosts: int = 2, client: bool = True, label: str = ""):
        self.id = f"{PREFIX}{os.getpid()}-{next(_seq)}"
        self.label = label
        self.carpd, self.carpctl_bin = None, None
        try:
            self.carpd, self.carpctl_bin = find_binaries()
        except FileNotFoundError:
            pass
        self.hosts = [f"h{i}" for i in range(1, hosts + 1)]
        self.roles = ["sw"] + self.hosts + (["c"] if client else [])
        self.ns = {r: f"{self.id}-{r}" for r in self.roles}
        self.tmp = tempfile.mkdtemp(prefix=self.id + "-", dir=TMP_ROOT)
        self.procs: list[subprocess.Popen] = []
        self.daemons: dict[str, Carpd] = {}
        self.sanitizer_findings: list[str] = []  # carpctl's at once, carpd logs' at close()
        self.closed = False
        with _lock:
            _live.add(self)
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    # addressing ----------------------------------------------------------------------------
    def _index(self, role: str) -> int:
        return 100 if role == "c" else int(role[1:]) + 10

    def ip4(self, role: str) -> str:
        return f"{NET4}.{self._index(role)}"

    def ip6(self, role: str) -> str:
        return f"{NET6}:{self._index(role)}"

    def mac(self, role: str) -> str:
        i = self._index(role)
        return f"02:00:00:00:{i // 100:02d}:{i % 100:02d}"

    @staticmethod
    def vip4(n: int = 1) -> str:
        return f"{NET4}.{n}"

    @staticmethod
    def vip6(n: int = 1) -> str:
        return f"{NET6}:{n}"

    # building ------------------------------------------------------------------------------
    def _ip(self, *args: str) -> None:
        r = subprocess.run(["ip", *args], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"ip {' '.join(args)}: {r.stderr.strip()}")

    def _build(self) -> None:
        t0 = time.monotonic()
        for r in self.roles:
            self._ip("netns", "add", self.ns[r])
            sysctls = ["net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0",
                       "net.ipv6.conf.all.dad_transmits=0",
                       "net.ipv6.conf.default.dad_transmits=0"]
            if r == "sw":
                sysctls = ["net.ipv6.conf.all.disable_ipv6=1",
                           "net.ipv6.conf.default.disable_ipv6=1"]
            self.run(r, ["sysctl", "-qw", *sysctls])
            self._ip("-n", self.ns[r], "link", "set", "lo", "up")
        sw = self.ns["sw"]
        self._ip("-n", sw, "link", "add", "br0", "type", "bridge", "stp_state", "0",
                 "forward_delay", "0", "mcast_snooping", "0")
        self._ip("-n", sw, "link", "set", "br0", "up")
        for r in self.roles[1:]:
            self._ip("-n", sw, "link", "add", r, "type", "veth", "peer", "name", "eth0",
                     "netns", self.ns[r])
            self._ip("-n", sw, "link", "set", r, "master", "br0", "up")
            n = self.ns[r]
            self._ip("-n", n, "link", "set", "eth0", "address", self.mac(r))
            self._ip("-n", n, "link", "set", "eth0", "up")
            self._ip("-n", n, "addr", "add", self.ip4(r) + "/24", "dev", "eth0")
            self._ip("-n", n, "addr", "add", self.ip6(r) + "/64", "dev", "eth0", "nodad")
        if VERBOSE:
            log(f"segment {self.id} built in {(time.monotonic() - t0) * 1000:.0f} ms")

    # processes -----------------------------------------------------------------------------
    def _argv(self, role: str, cmd) -> list[str]:
        if isinstance(cmd, str):
            cmd = shlex.split(cmd)
        return ["ip", "netns", "exec", self.ns[role], *cmd]

    def run(self, role: str, cmd, check: bool = True, timeout: float = 30,
            input: str | None = None) -> subprocess.CompletedProcess:
        """Run cmd in the namespace of role ('sw', 'h1', ..., 'c'); text output captured."""
        r = subprocess.run(self._argv(role, cmd), capture_output=True, text=True,
                           timeout=timeout, input=input)
        if check and r.returncode != 0:
            raise RuntimeError(f"[{role}] {cmd} exited {r.returncode}: {r.stderr.strip()}")
        return r

    def popen(self, role: str, cmd, **kw) -> subprocess.Popen:
        """Start a background process in role's namespace; close() kills it by its PID."""
        p = subprocess.Popen(self._argv(role, cmd), **kw)
        self.procs.append(p)
        return p

    def kill(self, p: subprocess.Popen, sig: int = signal.SIGKILL, timeout: float = 5) -> None:
        if p.poll() is None:
            p.send_signal(sig)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    # carpd ---------------------------------------------------------------------------------
    def start_carpd(self, host: str, config_text: str, wait: bool = True,
                    timeout: float = 10.0) -> Carpd:
        if not self.carpd:
            raise FileNotFoundError("carpd binary not found (set CARPD_BUILD_DIR)")
        old = self.daemons.get(host)
        if old is not None and old.alive():
            raise RuntimeError(f"carpd already running on {host}")
        d = Carpd(self, host, config_text)
        self.daemons[host] = d
        return d.start(wait, timeout)

    def carpctl(self, host: str, *args: str, check: bool = True):
        """carpctl -s <host's socket> args...; CompletedProcess (text)."""
        return self.daemons[host].carpctl(*args, check=check)

    def states(self, vhid: int = 1, interface: str = "eth0") -> dict:
        return {h: d.state(vhid, interface) for h, d in self.daemons.items()}

    def masters(self, vhid: int = 1, interface: str = "eth0") -> list[str]:
        return sorted(h for h, s in self.states(vhid, interface).items() if s == "MASTER")

    def wait_state(self, host: str, state: str, vhid: int = 1, timeout: float = 10.0,
                   interface: str = "eth0") -> float:
        """Wait until host's VHID is in state; returns the seconds it took."""
        t0 = time.monotonic()
        wait_until(lambda: self.daemons[host].state(vhid, interface) == state, timeout, 0.05,
                   f"{host} vhid {vhid} to be {state} (states now: {self.states(vhid)})")
        return time.monotonic() - t0

    def wait_roles(self, roles: dict, vhid: int = 1, timeout: float = 10.0) -> float:
        """Wait until every host in roles has the given state; returns the seconds it took."""
        t0 = time.monotonic()

        def ok():
            st = self.states(vhid)
            return all(st.get(h) == s for h, s in roles.items())
        try:
            wait_until(ok, timeout, 0.05, f"vhid {vhid} roles {roles}")
        except WaitTimeout as e:
            raise WaitTimeout(f"{e}; states now: {self.states(vhid)}") from None
        return time.monotonic() - t0

    def sample_states(self, duration: float, vhid: int = 1, interval: float = 0.1) -> list[dict]:
        """States of every carpd every `interval` s for `duration` s."""
        out = []
        end = time.monotonic() + duration
        while time.monotonic() < end:
            out.append(self.states(vhid))
            time.sleep(interval)
        return out

    # client side ---------------------------------------------------------------------------
    def client_ping(self, addr: str, count: int = 1, timeout: float = 1.0, role: str = "c") -> bool:
        r = self.run(role, ["ping", "-n", "-c", str(count), "-W", str(timeout), "-i", "0.2",
                            addr], check=False, timeout=count * (timeout + 0.5) + 5)
        return r.returncode == 0

    def client_neigh(self, addr: str, role: str = "c") -> str | None:
        r = self.run(role, ["ip", "-j", "neigh", "show", "to", addr], check=False)
        try:
            for e in json.loads(r.stdout or "[]"):
                if e.get("dst") == addr and e.get("lladdr"):
                    return e["lladdr"].lower()
        except json.JSONDecodeError:
            pass
        return None

    def client_neigh_flush(self, role: str = "c") -> None:
        self.run(role, ["ip", "neigh", "flush", "dev", "eth0"], check=False)

    def prober(self, addr: str, interval: float = 0.01) -> Prober:
        return Prober(self, addr, interval)

    # links and addresses -------------------------------------------------------------------
    def link_down(self, host: str) -> None:
        """Bridge-side peer down: the host's eth0 loses carrier (NO-CARRIER)."""
        self._ip("-n", self.ns["sw"], "link", "set", host, "down")

    def link_up(self, host: str) -> None:
        self._ip("-n", self.ns["sw"], "link", "set", host, "up")

    def carrier(self, role: str) -> bool:
        r = self.run(role, ["cat", "/sys/class/net/eth0/carrier"], check=False)
        return r.stdout.strip() == "1"

    def addresses(self, role: str, dev: str | None = None) -> list[str]:
        """Global addresses in role's namespace as 'addr/len', on dev or on any interface
        but lo (carpd may put virtual addresses on a macvlan rather than on eth0)."""
        cmd = ["ip", "-j", "addr", "show"] + (["dev", dev] if dev else [])
        r = self.run(role, cmd, check=False)
        out = []
        for link in json.loads(r.stdout or "[]"):
            if not dev and link.get("ifname") == "lo":
                continue
            for a in link.get("addr_info", []):
                if a.get("scope") != "link":
                    out.append(f"{a['local']}/{a['prefixlen']}")
        return out

    def has_address(self, role: str, addr: str) -> bool:
        return any(a.split("/")[0] == addr for a in self.addresses(role))

    # packets -------------------------------------------------------------------------------
    def inject(self, role: str, frames: list[bytes], count: int = 1, gap: float = 0.0) -> None:
        """Send raw Ethernet frames out of role's eth0."""
        self.run(role, [sys.executable, os.path.join(HERE, "carpinject.py"), "send",
                        "--iface", "eth0", "--count", str(count), "--gap", str(gap),
                        *[f.hex() for f in frames]])

    def start_ucarp(self, host: str, vhid: int, vip: str, advskew: int = 0, **kw) -> "Ucarp":
        return Ucarp(self, host, vhid, vip, advskew, **kw).start()

    def tshark(self, role: str, duration: float, **kw) -> "Tshark":
        return Tshark(self, role, duration, **kw)

    def sniffer(self, role: str, count: int = 1, timeout: float = 5.0, src: str | None = None,
                proto: int | None = carpwire.CARP_PROTO, src_mac: str | None = None,
                iface: str = "eth0") -> "Sniffer":
        """Capture frames in role's namespace (on iface; in 'sw' the ports are named after the
        hosts). proto None: any frame."""
        return Sniffer(self, role, count, timeout, src, proto, src_mac, iface)

    def vmac_leak_sniffer(self, host: str, vhid: int = 1, timeout: float = 4.0) -> "Sniffer":
        """Frames with the VHID's virtual MAC as source coming out of host's switch port."""
        return self.sniffer("sw", count=20, timeout=timeout, proto=None,
                            src_mac=carpwire.vmac(vhid), iface=host)

    # logs and teardown ---------------------------------------------------------------------
    def dump_logs(self, lines: int = 60) -> None:
        for h, d in self.daemons.items():
            print(f"----- carpd log of {h} ({d.log_path}), last {lines} lines -----")
            print(d.log_tail(lines))
        print("-----", flush=True)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        # carpd first, with SIGTERM: it leaves through main, so LeakSanitizer (in a sanitizer
        # build) checks it at exit; SIGKILL below only if it did not exit in time.
        running = [d for d in self.daemons.values() if d.alive()]
        for d in running:
            d.signal(signal.SIGTERM)
        deadline = time.monotonic() + (30 if SANITIZED else 10)
        for d in running:
            try:
                d.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for p in self.procs:
            try:
                self.kill(p, signal.SIGKILL)
            except Exception:  # noqa: BLE001
                pass
        for r in reversed(self.roles):
            n = self.ns[r]
            if n in netns_list():
                _kill_ns_and_delete(n)
        for h, d in self.daemons.items():
            self.sanitizer_findings += [f"{h}: carpd log {d.log_path}:\n{r}"
                                        for r in sanitizer_reports(d.log_text())]
        if os.environ.get("CARPNET_KEEP", "") in ("", "0"):
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            print(f"carpnet: kept {self.tmp}", file=sys.stderr)
        with _lock:
            _live.discard(self)

    def __enter__(self) -> "Segment":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Tshark:
    """tshark on role's eth0 decoding IP protocol 112 as CARP; one dict per packet.

    The constructor returns once tshark reports that it is capturing."""

    FIELDS = ("frame.time_epoch", "eth.src", "ip.src", "ipv6.src", "ip.ttl", "ipv6.hlim",
              "carp.version", "carp.type", "carp.vhid", "carp.advskew", "carp.adver_int",
              "carp.demotion", "carp.counter", "carp.checksum.status")

    def __init__(self, seg: "Segment", role: str, duration: float, fields=FIELDS):
        self.fields = list(fields)
        self.out = tempfile.NamedTemporaryFile("w+", dir=seg.tmp, prefix="tshark-",
                                               delete=False)
        args = ["tshark", "-l", "-n", "-i", "eth0", "-a", f"duration:{duration:g}",
                "-f", "ip proto 112 or ip6 proto 112", "-d", "ip.proto==112,carp",
                "-T", "fields", "-E", "separator=|", "-E", "occurrence=f"]
        for f in self.fields:
            args += ["-e", f]
        self.duration = duration
        self.proc = seg.popen(role, args, stdout=self.out, stderr=subprocess.PIPE, text=True)
        self.stderr = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            ln = self.proc.stderr.readline()
            if not ln:
                break
            self.stderr.append(ln)
            if "Capturing on" in ln:
                return
        raise RuntimeError("tshark did not start: " + "".join(self.stderr))

    def packets(self) -> list[dict]:
        """Wait for the capture to end; the decoded packets."""
        _, err = self.proc.communicate(timeout=self.duration + 30)
        self.stderr.append(err or "")
        self.out.flush()
        with open(self.out.name) as f:
            return [dict(zip(self.fields, ln.rstrip("\n").split("|")))
                    for ln in f if ln.strip()]


class Ucarp:
    """ucarp in a host namespace; its up/down scripts add/remove the address and record the
    state (MASTER/BACKUP) in a file, which is how the tests read ucarp's state."""

    def __init__(self, seg: Segment, host: str, vhid: int, vip: str, advskew: int = 0,
                 passphrase: str = "secret", advbase: int = 1, preempt: bool = False,
                 prefixlen: int = 24):
        self.seg, self.host, self.vip = seg, host, vip
        self.dir = os.path.join(seg.tmp, f"ucarp-{host}")
        os.makedirs(self.dir, exist_ok=True)
        self.state_file = os.path.join(self.dir, "state")
        self.log_path = os.path.join(self.dir, "ucarp.log")
        up, down = os.path.join(self.dir, "up.sh"), os.path.join(self.dir, "down.sh")
        with open(up, "w") as f:
            f.write(f'#!/bin/sh\nip addr add "$2/{prefixlen}" dev "$1"\n'
                    f'echo MASTER > {self.state_file}\n')
        with open(down, "w") as f:
            f.write(f'#!/bin/sh\nip addr del "$2/{prefixlen}" dev "$1" 2>/dev/null\n'
                    f'echo BACKUP > {self.state_file}\n')
        os.chmod(up, 0o755)
        os.chmod(down, 0o755)
        self.argv = ["ucarp", "-i", "eth0", "-s", seg.ip4(host), "-v", str(vhid),
                     "-p", passphrase, "-a", vip, "-b", str(advbase), "-k", str(advskew),
                     "-u", up, "-d", down, "-z", "-D", "-f", "none"] + (["-P"] if preempt else [])
        self.proc = None

    def start(self) -> "Ucarp":
        with open(self.log_path, "a") as lf:
            self.proc = self.seg.popen(self.host, self.argv, stdout=lf, stderr=subprocess.STDOUT)
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def state(self) -> str | None:
        if not self.alive():
            return None
        try:
            with open(self.state_file) as f:
                return f.read().strip() or None
        except OSError:
            return None

    def terminate(self) -> None:
        """SIGTERM: with -z ucarp runs its down script (address removed) and exits."""
        self.seg.kill(self.proc, signal.SIGTERM, timeout=10)

    def kill9(self) -> None:
        self.seg.kill(self.proc, signal.SIGKILL)

    def log_text(self) -> str:
        return read_log(self.log_path)


class Sniffer:
    """carpinject.py sniff running in a namespace; frames() after it exits."""

    def __init__(self, seg: Segment, role: str, count: int, timeout: float, src, proto,
                 src_mac=None, iface="eth0"):
        args = [sys.executable, os.path.join(HERE, "carpinject.py"), "sniff", "--iface", iface,
                "--count", str(count), "--timeout", str(timeout),
                "--proto", str(-1 if proto is None else proto)]
        if src:
            args += ["--src", src]
        if src_mac:
            args += ["--src-mac", src_mac]
        self.proc = seg.popen(role, args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
        line = self.proc.stdout.readline().strip()
        if line != "READY":
            raise RuntimeError(f"sniffer in {role} did not start: {line} "
                               f"{self.proc.stderr.read()}")
        self.timeout = timeout

    def frames(self) -> list[dict]:
        out, _ = self.proc.communicate(timeout=self.timeout + 10)
        res = []
        for ln in out.splitlines():
            if ln.strip():
                d = json.loads(ln)
                d["bytes"] = bytes.fromhex(d["hex"])
                res.append(d)
        return res


# --------------------------------------------------------------------------------------------
# unittest glue

class NetnsTestCase(unittest.TestCase):
    """Base class: skips without root/ip netns/binaries; a fresh Segment per test in self.seg.

    Every test gets its own segment (about half a second to build) so that a failed test
    cannot leave addresses, demotions or maintenance state behind for the next one.
    """

    HOSTS = 2
    NEED_CARPD = True
    NEED_TOOLS: tuple = ()
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        reason = skip_reason(cls.NEED_CARPD, cls.NEED_TOOLS)
        if reason:
            raise unittest.SkipTest(reason)
        cleanup_stale()

    def setUp(self):
        print(flush=True)
        self.seg = Segment(hosts=self.HOSTS, label=self.id())
        self.addCleanup(self._teardown_segment)

    def _teardown_segment(self):
        # outcome.success is reset inside cleanups; the result object knows the truth
        result = getattr(getattr(self, "_outcome", None), "result", None)
        failed = any(t is self for t, _ in getattr(result, "failures", []) +
                     getattr(result, "errors", []))
        if failed or os.environ.get("CARPNET_LOGS", "") not in ("", "0"):
            self.seg.dump_logs()
        self.seg.close()
        if self.seg.sanitizer_findings:
            raise SanitizerReport("sanitizer report(s):\n"
                                  + "\n-----\n".join(dict.fromkeys(self.seg.sanitizer_findings)))

    # conveniences shared by the scenario tests ----------------------------------------------
    def start_hosts(self, skews: dict, preempt: bool = False, vhid: int = 1, addresses=None,
                    wait_roles: bool = True, **vkw) -> dict:
        """Start carpd on each host with one VHID and the given advskew; wait for the roles.

        The best host (lowest skew) is started first, so the election is deterministic."""
        ds = {}
        for h in sorted(skews, key=lambda x: skews[x]):
            cfg = config(vhid_block(vhid, skews[h], addresses, **vkw), preempt=preempt)
            ds[h] = self.seg.start_carpd(h, cfg)
        if wait_roles:
            best = min(skews, key=lambda x: skews[x])
            roles = {h: ("MASTER" if h == best else "BACKUP") for h in skews}
            took = self.seg.wait_roles(roles, vhid, timeout=15)
            log(f"election settled in {took:.2f} s: {self.seg.states(vhid)}")
        return ds

    def assert_stable(self, roles: dict, duration: float = 4.0, vhid: int = 1) -> list[dict]:
        """Sample states for `duration` s; every sample must equal roles."""
        samples = self.seg.sample_states(duration, vhid)
        bad = [s for s in samples if any(s.get(h) != st for h, st in roles.items())]
        self.assertFalse(bad, f"roles changed while they should hold {roles}: {bad[:5]}")
        return samples

    def assert_never_two_masters(self, duration: float = 4.0, vhid: int = 1) -> list[dict]:
        samples = self.seg.sample_states(duration, vhid)
        two = [s for s in samples if sum(1 for v in s.values() if v == "MASTER") > 1]
        self.assertFalse(two, f"two MASTERs seen: {two[:5]}")
        return samples
