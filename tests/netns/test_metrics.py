"""Prometheus metrics over HTTP ([global] metrics) from real carpd processes."""

import re
import sys
import time
import unittest

from carpnet import NetnsTestCase, config, log, vhid_block, wait_until

METRICS = "127.0.0.1:9420"   # each host namespace has its own loopback
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Runs inside a host namespace: prints the status, the Content-Type and the body.
FETCH = """
import sys, urllib.request, urllib.error
try:
    r = urllib.request.urlopen(sys.argv[1], timeout=5)
except urllib.error.HTTPError as e:
    r = e
sys.stdout.write("%s\\n%s\\n" % (r.status, r.headers.get("Content-Type")) + r.read().decode())
"""

# Runs in the client namespace: can it open a TCP connection to argv[1]:argv[2]?
CONNECT = """
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3).close()
    print("connected")
except OSError as e:
    print("refused: %s" % e)
"""

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(?:,|$)')


def parse(text: str) -> list[tuple[str, dict, float]]:
    """Samples of a text exposition; fails on any line that is not a comment or a sample."""
    samples = []
    for line in text.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            continue
        m = SAMPLE.match(line)
        if not m:
            raise AssertionError(f"not an exposition line: {line!r}")
        labels = {}
        rest = m.group(2) or ""
        while rest:
            lm = LABEL.match(rest)
            if not lm:
                raise AssertionError(f"bad labels in {line!r}")
            labels[lm.group(1)] = lm.group(2)
            rest = rest[lm.end():]
        samples.append((m.group(1), labels, float(m.group(3))))
    return samples


def value(samples, name: str, **labels) -> float | None:
    """The value of the one sample of `name` whose labels include `labels`; None if none."""
    found = [v for n, l, v in samples if n == name and all(l.get(k) == x for k, x in labels.items())]
    if len(found) > 1:
        raise AssertionError(f"{len(found)} samples of {name} {labels}")
    return found[0] if found else None


class MetricsTest(NetnsTestCase):
    HOSTS = 2

    def start_with_metrics(self) -> dict:
        ds = {}
        for h, skew in (("h1", 0), ("h2", 100)):   # the better host first: h1 MASTER
            cfg = config(vhid_block(1, skew), preempt=False)
            cfg = cfg.replace("[global]\n", f'[global]\nmetrics = "{METRICS}"\n', 1)
            ds[h] = self.seg.start_carpd(h, cfg)
        took = self.seg.wait_roles({"h1": "MASTER", "h2": "BACKUP"}, timeout=15)
        log(f"election settled in {took:.2f} s")
        return ds

    def get(self, host: str, path: str = "/metrics") -> tuple[int, str, str]:
        # sys.executable: a version manager's python3 shim can take a second to start
        r = self.seg.run(host, [sys.executable, "-c", FETCH, f"http://{METRICS}{path}"],
                         timeout=15)
        status, ctype, body = r.stdout.split("\n", 2)
        return int(status), ctype, body

    def metrics(self, host: str) -> list:
        status, ctype, body = self.get(host)
        self.assertEqual(status, 200)
        self.assertEqual(ctype, CONTENT_TYPE)
        self.assertNotIn("secret", body, "the passphrase must never be exported")
        return parse(body)

    def test_state_counters_and_a_forced_handover(self):
        s = self.seg
        self.start_with_metrics()
        vhid = {"interface": "eth0", "vhid": "1"}

        m1, m2 = self.metrics("h1"), self.metrics("h2")
        self.assertEqual(value(m1, "carpd_vhid_state", state="MASTER", **vhid), 1)
        self.assertEqual(value(m1, "carpd_vhid_state", state="BACKUP", **vhid), 0)
        self.assertEqual(value(m2, "carpd_vhid_state", state="BACKUP", **vhid), 1)
        self.assertEqual(value(m2, "carpd_vhid_advskew", **vhid), 100)
        self.assertEqual(value(m1, "carpd_maintenance"), 0)
        self.assertEqual(value(m1, "carpd_demotion", group="carp"), 0)
        self.assertIsNotNone(value(m1, "carpd_build_info"))
        self.assertIsNone(value(m2, "carpd_vhid_last_takeover_seconds", **vhid))
        log("h1: " + ", ".join(f"{n}{l} {v:g}" for n, l, v in m1
                               if n == "carpd_vhid_state" and v == 1))

        # The MASTER advertises every second on IPv4 and IPv6; the BACKUP counts them.
        sent = [value(m1, "carpd_vhid_advertisements_sent_total", family=f, **vhid)
                for f in ("ipv4", "ipv6")]
        heard = value(m2, "carpd_vhid_advertisements_received_total", family="ipv4", **vhid)
        time.sleep(2.5)
        m1, m2 = self.metrics("h1"), self.metrics("h2")
        sent2 = [value(m1, "carpd_vhid_advertisements_sent_total", family=f, **vhid)
                 for f in ("ipv4", "ipv6")]
        heard2 = value(m2, "carpd_vhid_advertisements_received_total", family="ipv4", **vhid)
        log(f"h1 sent ipv4/ipv6 {sent} -> {sent2}; h2 received ipv4 {heard} -> {heard2}")
        self.assertGreater(sent2[0], sent[0])
        self.assertGreater(sent2[1], sent[1])
        self.assertGreater(heard2, heard)

        s.carpctl("h1", "state", "eth0", "1", "backup")
        took = s.wait_roles({"h1": "BACKUP", "h2": "MASTER"}, timeout=10)
        log(f"state eth0 1 backup on h1: h2 MASTER after {took:.2f} s")
        m1 = self.metrics("h1")
        self.assertEqual(value(m1, "carpd_vhid_transitions_total", reason="forced", **vhid), 1)
        self.assertEqual(value(m1, "carpd_vhid_state", state="BACKUP", **vhid), 1)
        # h2 now has a takeover time, and the reason it took over is counted
        def with_takeover():
            m = self.metrics("h2")
            return m if value(m, "carpd_vhid_last_takeover_seconds", **vhid) is not None else None
        m2 = wait_until(with_takeover, 5, 0.2, what="carpd_vhid_last_takeover_seconds on h2")
        takeover = value(m2, "carpd_vhid_last_takeover_seconds", **vhid)
        reasons = {l["reason"]: v for n, l, v in m2
                   if n == "carpd_vhid_transitions_total" and v > 0}
        log(f"h2: last takeover {takeover:.3f} s after the last advertisement heard; "
            f"transitions {reasons}")
        self.assertGreaterEqual(takeover, 0)
        self.assertLess(takeover, 10)
        self.assertEqual(value(m2, "carpd_vhid_state", state="MASTER", **vhid), 1)
        self.assertEqual(sum(v for r, v in reasons.items() if r != "started"), 1)

    def test_endpoints_and_loopback_only(self):
        self.start_with_metrics()
        status, ctype, body = self.get("h1", "/")
        self.assertEqual(status, 200)
        self.assertIn('href="/metrics"', body)
        self.assertEqual(self.get("h1", "/nope")[0], 404)
        # 127.0.0.1 is not reachable from the segment
        r = self.seg.run("c", [sys.executable, "-c", CONNECT, self.seg.ip4("h1"), "9420"])
        log(f"client -> {self.seg.ip4('h1')}:9420: {r.stdout.strip()}")
        self.assertTrue(r.stdout.startswith("refused"), r.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
