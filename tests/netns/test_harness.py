"""Self-test of the netns harness itself; needs root but not carpd.

Proves the topology (bridge flooding multicast, addresses without DAD, carrier loss), the
outage prober, the hand-made CARP frames (byte-exact on the wire, decoded by scapy and tshark,
HMAC recipe cross-checked against ucarp's advertisements) and the cleanup rules.
"""

import os
import signal
import subprocess
import sys
import time
import unittest
import warnings

from carpnet import (NetnsTestCase, Segment, cleanup_stale, log, netns_list, PREFIX,
                     sanitizer_reports, wait_until)
import carpwire
from carpwire import Advert


def import_scapy():
    """scapy from python3-scapy, also when python3 is not Debian's own interpreter."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            import scapy.all
        except ImportError:
            sys.path.append("/usr/lib/python3/dist-packages")
            try:
                import scapy.all
            except ImportError:
                return None
    return scapy.all


class WireTest(unittest.TestCase):
    """carpwire against the test vectors of carp-wire.md §2.8 (no root needed)."""

    def test_vectors(self):
        tv1 = Advert(vhid=1, addresses=("192.168.1.1",),
                     counter=bytes.fromhex("0102030405060708"))
        self.assertEqual(tv1.header().hex(), "210100070001a4d90102030405060708adea55cad5e98815"
                                             "74e82c1c92cb99ca28c1d1f8")
        frame = carpwire.ether_frame(
            carpwire.MCAST_MAC4, carpwire.vmac(1), 0x0800,
            carpwire.ipv4_packet("192.168.1.2", "224.0.0.18", tv1.header(), ident=0x1234))
        self.assertEqual(frame.hex(), "01005e00001200005e00010108004510003812344000ff70c754c0a8"
                                      "0102e0000012210100070001a4d90102030405060708adea55cad5e9"
                                      "881574e82c1c92cb99ca28c1d1f8")
        tv2 = Advert(vhid=7, advskew=100, passphrase="mekmitasdigoat",
                     addresses=("10.0.0.20", "10.0.0.3"),
                     counter=bytes.fromhex("00000000deadbeef"))
        self.assertEqual(tv2.header().hex(), "210764070001899f00000000deadbeef9304ec2c99c2117d"
                                             "dbf72c27beaeef5bc531ade6")
        tv2.demote = 1
        self.assertEqual(tv2.header().hex(), "210764070101889f00000000deadbeef9304ec2c99c2117d"
                                             "dbf72c27beaeef5bc531ade6")
        tv3 = Advert(vhid=3, passphrase="carp6", addresses=("2001:db8::1", "fe80::1"),
                     counter=bytes.fromhex("1122334455667788"))
        self.assertEqual(tv3.header().hex(), "210300070001e8761122334455667788ccfcd6f8fa7bd576"
                                             "291cabbd0b38a3c01c1cd151")
        tv4 = Advert(vhid=42, advskew=20, advbase=2,
                     passphrase="this-passphrase-is-longer-than-19",
                     addresses=("203.0.113.9", "198.51.100.7", "2001:db8:1::10"),
                     counter=bytes.fromhex("8000000000000001"))
        self.assertEqual(tv4.header().hex(), "212a140700021153800000000000000119c2b8cc87f724bf"
                                             "cb94e3c5bf0096b078653cc1")
        tv6 = Advert(vhid=1, passphrase="", addresses=("192.168.1.1",),
                     counter=bytes.fromhex("0102030405060708"))
        self.assertEqual(tv6.header().hex(), "2101000700010b9101020304050607086cf532a60b662cbc"
                                             "11cc33c7c2efe307953a6ace")

    def test_defects(self):
        a = Advert(addresses=("192.0.2.1",))
        self.assertTrue(carpwire.parse_header(a.header())["checksum_ok"])
        a.corrupt_checksum = True
        self.assertFalse(carpwire.parse_header(a.header())["checksum_ok"])
        a.corrupt_checksum, a.version = False, 3
        h = carpwire.parse_header(a.header())
        self.assertEqual((h["version"], h["checksum_ok"]), (3, True))


class TopologyTest(NetnsTestCase):
    NEED_CARPD = False
    HOSTS = 3

    def test_addresses_reachability_and_names(self):
        s = self.seg
        for r in s.roles[1:]:
            self.assertTrue(all(n.startswith(f"{PREFIX}{os.getpid()}-") for n in s.ns.values()))
            self.assertEqual(s.addresses(r), [s.ip4(r) + "/24", s.ip6(r) + "/64"])
        for h in s.hosts:
            self.assertTrue(s.client_ping(s.ip4(h)), h)
            self.assertTrue(s.client_ping(s.ip6(h)), h)
            self.assertEqual(s.client_neigh(s.ip4(h)), s.mac(h))
            self.assertEqual(s.client_neigh(s.ip6(h)), s.mac(h))
        self.assertTrue(s.run("h1", ["ping", "-c1", "-W1", s.ip6("h3")], check=False).returncode
                        == 0)
        br = s.run("sw", ["ip", "-d", "link", "show", "br0"]).stdout
        self.assertIn("mcast_snooping 0", br)

    def test_link_down_is_carrier_loss(self):
        s = self.seg
        s.link_down("h2")
        wait_until(lambda: not s.carrier("h2"), 3, what="h2 carrier loss")
        self.assertIn("NO-CARRIER", s.run("h2", ["ip", "link", "show", "eth0"]).stdout)
        self.assertFalse(s.client_ping(s.ip4("h2"), timeout=0.5))
        s.link_up("h2")
        wait_until(lambda: s.carrier("h2"), 3, what="h2 carrier back")
        wait_until(lambda: s.client_ping(s.ip4("h2")), 5, what="h2 reachable again")

    def test_crafted_frames_flood_byte_exact(self):
        s = self.seg
        adv = Advert(vhid=1, advskew=0, addresses=("192.0.2.1", "2001:db8::1"))
        f4 = carpwire.frame4(s.mac("c"), s.ip4("c"), adv.header(), ttl=254)
        f6 = carpwire.frame6(s.mac("c"), s.ip6("c"), adv.header(), hlim=255)
        sn = [s.sniffer(h, count=2, timeout=5, src=None) for h in ("h1", "h3")]
        s.inject("c", [f4, f6])
        for h, x in zip(("h1", "h3"), sn):
            got = x.frames()
            self.assertEqual([g["bytes"] for g in got], [f4, f6], h)
        p = carpwire.parse_frame(f4)
        self.assertEqual((p["ttl"], p["ip_header_ok"], p["payload"]), (254, True, adv.header()))
        scapy = import_scapy()
        if scapy is None:
            log("scapy not importable: cross-check skipped")
            return
        e = scapy.Ether(f4)
        self.assertEqual((e["IP"].ttl, e["IP"].proto, e["IP"].dst, e["IP"].flags.DF),
                         (254, 112, "224.0.0.18", True))
        chk = e["IP"].chksum
        del e["IP"].chksum
        self.assertEqual(scapy.Ether(bytes(e))["IP"].chksum, chk, "IPv4 header checksum")
        self.assertEqual(bytes(e["IP"].payload), adv.header())
        e6 = scapy.Ether(f6)
        self.assertEqual((e6["IPv6"].nh, e6["IPv6"].hlim, e6["IPv6"].plen), (112, 255, 36))

    def test_tshark_decodes_crafted_carp(self):
        if not shutil_which("tshark"):
            self.skipTest("tshark not installed")
        s = self.seg
        good = Advert(vhid=7, advskew=42, addresses=("192.0.2.7",),
                      counter=bytes.fromhex("0102030405060708"))
        bad = Advert(vhid=8, addresses=("192.0.2.8",), corrupt_checksum=True)
        cap = s.tshark("h1", 3)
        s.inject("c", [carpwire.frame4(s.mac("c"), s.ip4("c"), good.header()),
                       carpwire.frame4(s.mac("c"), s.ip4("c"), bad.header()),
                       carpwire.frame6(s.mac("c"), s.ip6("c"), good.header())])
        pk = cap.packets()
        log(f"tshark: {pk}")
        self.assertEqual(len(pk), 3, pk)
        self.assertEqual([p["carp.vhid"] for p in pk], ["7", "8", "7"])
        self.assertEqual([p["carp.version"] for p in pk], ["2", "2", "2"])
        self.assertEqual([p["carp.type"] for p in pk], ["1", "1", "1"])
        self.assertEqual(pk[0]["carp.advskew"], "42")
        # Wireshark's checksum status: 0 bad, 1 good, 2 unverified
        self.assertEqual([p["carp.checksum.status"] for p in pk], ["1", "0", "1"])

    def test_prober_measures_outage(self):
        s = self.seg
        pr = s.prober(s.ip4("h1")).start()
        time.sleep(0.5)
        s.link_down("h1")
        time.sleep(1.0)
        s.link_up("h1")
        wait_until(lambda: s.carrier("h1"), 3)
        time.sleep(0.7)
        r = pr.stop()
        log(r.summary())
        self.assertTrue(r.recovered)
        self.assertGreater(r.max_gap_ms, 800)
        self.assertLess(r.max_gap_ms, 5000)
        self.assertGreater(r.received, 50)


def shutil_which(x):
    import shutil
    return shutil.which(x)


class UcarpAloneTest(NetnsTestCase):
    """ucarp on its own: the scripts work, and our HMAC recipe verifies its adverts."""

    NEED_CARPD = False
    NEED_TOOLS = ("ucarp",)
    HOSTS = 1

    def test_ucarp_master_and_hmac(self):
        s = self.seg
        u = s.start_ucarp("h1", 1, "192.0.2.1", advskew=0, passphrase="secret")
        wait_until(lambda: u.state() == "MASTER", 10, what="ucarp MASTER")
        self.assertTrue(s.has_address("h1", "192.0.2.1"))
        self.assertTrue(s.client_ping("192.0.2.1"))
        got = s.sniffer("c", count=2, timeout=5, src=s.ip4("h1")).frames()
        self.assertEqual(len(got), 2)
        for g in got:
            p = carpwire.parse_frame(g["bytes"])
            h = carpwire.parse_header(p["payload"])
            self.assertTrue(h["checksum_ok"])
            self.assertEqual((h["version"], h["type"], h["vhid"], p["ttl"]), (2, 1, 1, 255))
            md = carpwire.carp_md("secret", 1, ["192.0.2.1"], bytes.fromhex(h["counter"]))
            self.assertEqual(h["md"], md.hex(), "our HMAC recipe disagrees with ucarp")
        log(f"ucarp advert source MAC {p['src_mac']}, HMAC verified with carpwire")
        u.terminate()
        self.assertFalse(s.has_address("h1", "192.0.2.1"))


class CleanupTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        from carpnet import skip_reason
        r = skip_reason(need_binaries=False)
        if r:
            raise unittest.SkipTest(r)

    def test_close_kills_processes_and_namespaces(self):
        s = Segment(hosts=1)
        try:
            p = s.popen("h1", ["sleep", "300"])
            names = set(s.ns.values())
            self.assertTrue(names <= set(netns_list()))
        finally:
            s.close()
        self.assertIsNotNone(p.poll())
        self.assertFalse(names & set(netns_list()))
        self.assertFalse(os.path.exists(s.tmp))

    def test_close_stops_carpd_with_sigterm_and_collects_sanitizer_reports(self):
        # A stand-in for carpd that exits 23 on SIGTERM only (SIGKILL would leave -9); close()
        # must send SIGTERM (so a sanitizer build's LeakSanitizer runs at carpd's exit) and then
        # find the report that the stand-in writes to its log as it leaves.
        s = Segment(hosts=1)
        try:
            fake = os.path.join(s.tmp, "fake-carpd")
            with open(fake, "w") as f:
                f.write("#!/bin/sh\n"
                        "trap 'echo \"==1==ERROR: LeakSanitizer: detected memory leaks\"; "
                        "exit 23' TERM\n"
                        "while :; do sleep 0.05; done\n")
            os.chmod(fake, 0o755)
            s.carpd = fake
            d = s.start_carpd("h1", "[global]\n", wait=False)
            wait_until(lambda: "sleep" in subprocess.run(["ps", "--ppid", str(d.pid), "-o",
                                                          "comm="], capture_output=True,
                                                         text=True).stdout, 5)
        finally:
            s.close()
        self.assertEqual(d.proc.returncode, 23)
        self.assertEqual(len(s.sanitizer_findings), 1, s.sanitizer_findings)
        self.assertIn("ERROR: LeakSanitizer", s.sanitizer_findings[0])

    def test_sanitizer_reports_found_in_text(self):
        text = ("carpd: start\nsrc/proto/header.cc:40:3: runtime error: shift exponent 40\n"
                "next\n==7==ERROR: AddressSanitizer: heap-use-after-free\n")
        self.assertEqual(len(sanitizer_reports(text, context=2)), 2)
        self.assertEqual(sanitizer_reports("carpd: runtime is fine\nLeak: none\n"), [])

    def test_stale_namespaces_of_dead_runs_removed(self):
        dead = subprocess.Popen(["true"])
        dead.wait()
        name = f"{PREFIX}{dead.pid}-1-h1"
        live = f"{PREFIX}{os.getpid()}-999-h1"
        subprocess.run(["ip", "netns", "add", name], check=True)
        subprocess.run(["ip", "netns", "add", live], check=True)
        sleeper = subprocess.Popen(["ip", "netns", "exec", name, "sleep", "300"])
        try:
            wait_until(lambda: sleeper.pid in
                       [int(x) for x in subprocess.run(["ip", "netns", "pids", name],
                                                       capture_output=True,
                                                       text=True).stdout.split()], 3)
            removed = cleanup_stale()
            self.assertIn(name, removed)
            self.assertNotIn(live, removed)
            self.assertNotIn(name, netns_list())
            self.assertIn(live, netns_list())
            self.assertEqual(sleeper.wait(5), -signal.SIGKILL)
        finally:
            if sleeper.poll() is None:
                sleeper.kill()
                sleeper.wait()
            for n in (name, live):
                subprocess.run(["ip", "netns", "del", n], capture_output=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
