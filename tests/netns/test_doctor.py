"""carpctl doctor names each planted misconfiguration, with its fix, and passes a clean pair.

Planted: an nftables rule dropping IP protocol 112; a bridge rule dropping frames from the
virtual MAC (a hypervisor's MAC filter); a real ucarp on the same VHID with the same passphrase
but its one IPv4 address (bad HMAC, matching address set named); a real keepalived with the
same router number (VRRP heard)."""

import json
import os
import signal
import unittest

from carpnet import NetnsTestCase, config, log, vhid_block, wait_until
from carpwire import vmac


def doctor(seg, host: str, *args: str):
    """carpctl doctor --json run inside host's namespace (it reads that namespace's sysctls,
    /proc/net and firewall); (exit status, parsed JSON)."""
    d = seg.daemons[host]
    r = seg.run(host, [seg.carpctl_bin, "-s", d.sock, "doctor", "--json", *args], check=False,
                timeout=30)
    try:
        out = json.loads(r.stdout)
    except json.JSONDecodeError as e:
        raise AssertionError(f"doctor --json is not JSON ({e}): {r.stdout!r} {r.stderr!r}")
    for f in out["findings"]:
        if f["severity"] != "ok":
            log(f"  {host} doctor: {f['severity'].upper()} {f['check']} {f['subject']}: "
                f"{f['text']} | fix: {f['fix']}")
    return r.returncode, out


def failed(out: dict, check: str) -> list[dict]:
    return [f for f in out["findings"] if f["check"] == check and f["severity"] == "fail"]


class DoctorTest(NetnsTestCase):
    HOSTS = 2
    NEED_TOOLS = ("nft",)

    def test_clean_pair_then_firewall_then_virtual_mac_filter(self):
        s = self.seg
        self.start_hosts({"h1": 0, "h2": 100})
        # a neighbour in h1's ARP table, for the virtual-MAC probe
        s.run("h1", ["ping", "-c", "1", "-W", "1", s.ip4("h2")])

        code, out = doctor(s, "h1")
        self.assertEqual(code, 0, out["findings"])
        self.assertTrue(out["ok"])
        vm = [f for f in out["findings"] if f["check"] == "vmac"]
        self.assertEqual([f["severity"] for f in vm], ["ok"], vm)
        self.assertIn(s.ip4("h2"), vm[0]["text"])
        log(f"clean pair: doctor exits 0 with {len(out['findings'])} findings, none failed")

        # an nft rule on the BACKUP that drops CARP: it can no longer hear the MASTER
        s.run("h2", ["nft", "-f", "-"], input=(
            "table inet filter {\n chain input {\n  type filter hook input priority 0;\n"
            "  tcp dport 22 accept\n  ip protocol vrrp drop\n }\n}\n"))
        code, out = doctor(s, "h2")
        self.assertEqual(code, 1)
        fw = failed(out, "firewall")
        self.assertEqual(len(fw), 1, out["findings"])
        self.assertIn("inet filter input", fw[0]["subject"])
        self.assertIn("drops IP protocol 112", fw[0]["text"])
        self.assertIn("nft delete rule inet filter input handle", fw[0]["fix"])
        text = s.run("h2", [s.carpctl_bin, "-s", s.daemons["h2"].sock, "doctor"], check=False,
                     timeout=30)
        self.assertEqual(text.returncode, 1)
        self.assertIn("FAIL firewall nft inet filter input: rule handle", text.stdout)
        self.assertIn("     fix: nft delete rule", text.stdout)
        self.assertEqual(text.stderr.strip(), "carpctl: doctor: 1 check(s) failed")
        s.run("h2", ["nft", "flush", "ruleset"])
        code, out = doctor(s, "h2")
        self.assertFalse(failed(out, "firewall"), out["findings"])
        log("nft rule dropping protocol 112: named with its handle; gone after the flush")

        # the switch drops every frame from the virtual MAC, as a hypervisor does that allows
        # only the NIC's own MAC on a port
        s.run("sw", ["nft", "-f", "-"], input=(
            "table bridge macfilter {\n chain forward {\n  type filter hook forward priority 0;\n"
            "  ether saddr " + vmac(1) + " drop\n }\n}\n"))
        code, out = doctor(s, "h1")
        self.assertEqual(code, 1)
        vm = failed(out, "vmac")
        self.assertEqual(len(vm), 1, out["findings"])
        self.assertIn("not from the virtual MAC", vm[0]["text"])
        self.assertIn("vmac = false", vm[0]["fix"])
        log("bridge dropping the virtual MAC: doctor on the MASTER reports the vmac check failed")


class UcarpHmacTest(NetnsTestCase):
    HOSTS = 2
    NEED_TOOLS = ("ucarp",)

    def test_ucarp_signing_one_address_is_named(self):
        s = self.seg
        # carpd lists an IPv4 and an IPv6 address; ucarp signs only its one IPv4 address
        h1 = s.start_carpd("h1", config(vhid_block(1, 0, [f"{s.vip4(1)}/24", f"{s.vip6(1)}/64"],
                                                   passphrase="secret")))
        s.start_ucarp("h2", 1, s.vip4(1), advskew=100, passphrase="secret")
        wait_until(lambda: h1.vhid(1)["counters"].get("badauth", 0) > 0, 10,
                   what="carpd to count ucarp's advertisements as badauth")
        code, out = doctor(s, "h1", "--no-arp-probe")
        self.assertEqual(code, 1)
        bad = failed(out, "hmac")
        self.assertEqual(len(bad), 1, out["findings"])
        self.assertIn(s.ip4("h2"), bad[0]["text"])
        self.assertIn(f"only {s.vip4(1)} (as ucarp signs)", bad[0]["text"])
        heard = out["heard"]["vhids"][0]["bad_auth"]
        self.assertEqual(heard["matching_addresses"], [s.vip4(1)])
        self.assertEqual(heard["source"], s.ip4("h2"))
        log(f"ucarp on h2: {bad[0]['text']}")

    def test_wrong_passphrase_matches_no_address_set(self):
        s = self.seg
        h1 = s.start_carpd("h1", config(vhid_block(1, 0, [f"{s.vip4(1)}/24"], passphrase="one")))
        s.start_ucarp("h2", 1, s.vip4(1), advskew=100, passphrase="other")
        wait_until(lambda: h1.vhid(1)["counters"].get("badauth", 0) > 0, 10,
                   what="carpd to count ucarp's advertisements as badauth")
        code, out = doctor(s, "h1", "--no-arp-probe")
        self.assertEqual(code, 1)
        bad = failed(out, "hmac")
        self.assertEqual(len(bad), 1, out["findings"])
        self.assertIn("no address set", bad[0]["text"])
        self.assertIn("passphrase differs", bad[0]["fix"])
        self.assertEqual(out["heard"]["vhids"][0]["bad_auth"]["matching_set"], "")


class KeepalivedTest(NetnsTestCase):
    HOSTS = 2
    NEED_TOOLS = ("keepalived",)

    def test_vrrp_router_with_the_same_number(self):
        s = self.seg
        h1 = s.start_carpd("h1", config(vhid_block(1, 0, [f"{s.vip4(1)}/24"])))
        wait_until(lambda: h1.state() == "MASTER", 10, what="carpd MASTER")
        kdir = os.path.join(s.tmp, "keepalived")
        os.makedirs(kdir)
        conf = os.path.join(kdir, "keepalived.conf")
        with open(conf, "w") as f:
            f.write("global_defs {\n router_id h2\n}\n"
                    "vrrp_instance V1 {\n state MASTER\n interface eth0\n virtual_router_id 1\n"
                    " priority 150\n advert_int 1\n"
                    f" virtual_ipaddress {{\n  {s.vip4(50)}/24\n }}\n}}\n")
        with open(os.path.join(kdir, "keepalived.log"), "w") as lf:
            k = s.popen("h2", ["keepalived", "-n", "-l", "-P", "-f", conf,
                               "-p", os.path.join(kdir, "k.pid"),
                               "-r", os.path.join(kdir, "v.pid"),
                               "-c", os.path.join(kdir, "c.pid")],
                        stdout=lf, stderr=lf)
        self.addCleanup(s.kill, k, signal.SIGTERM)

        def heard():
            _, out = doctor(s, "h1", "--no-arp-probe")
            return out if failed(out, "vrrp") else None
        out = wait_until(heard, 15, interval=0.5, what="doctor to report the VRRP router")
        v = failed(out, "vrrp")[0]
        self.assertIn(s.ip4("h2"), v["text"])
        self.assertIn("router number 1", v["text"])
        self.assertIn("00:00:5e:00:01:01", v["text"])
        self.assertIn("virtual_router_id", v["fix"])
        vr = out["heard"]["vrrp"][0]
        self.assertEqual((vr["vrid"], vr["version"], vr["priority"], vr["addresses"]),
                         (1, 2, 150, [s.vip4(50)]))
        log(f"keepalived on h2: {v['text']}")


if __name__ == "__main__":
    unittest.main(verbosity=2)
