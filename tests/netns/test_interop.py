"""Interoperability: Wireshark decodes carpd's advertisements; carpd and ucarp share a VHID."""

import unittest

from carpnet import NetnsTestCase, config, log, vhid_block, wait_until
from carpwire import vmac


class TsharkTest(NetnsTestCase):
    HOSTS = 2
    NEED_TOOLS = ("tshark",)

    def test_tshark_decodes_carpd_adverts(self):
        s = self.seg
        self.start_hosts({"h1": 0, "h2": 100})
        cap = s.tshark("c", 4)
        pk = cap.packets()
        for p in pk[:6]:
            log("tshark: " + " ".join(f"{k.split('.', 1)[-1]}={v}" for k, v in p.items()
                                      if v and k != "frame.time_epoch"))
        v4 = [p for p in pk if p["ip.src"]]
        v6 = [p for p in pk if p["ipv6.src"]]
        log(f"{len(v4)} IPv4 and {len(v6)} IPv6 advertisements in 4 s")
        self.assertGreaterEqual(len(v4), 2, pk)
        for p in pk:
            self.assertEqual((p["carp.version"], p["carp.type"], p["carp.vhid"]), ("2", "1", "1"))
            self.assertEqual(p["carp.checksum.status"], "1", f"checksum not good: {p}")
            self.assertEqual(p["carp.advskew"], "0", "only the MASTER (h1) advertises")
            self.assertEqual(p["carp.adver_int"], "1")
            self.assertEqual(p["ip.ttl"] or p["ipv6.hlim"], "255")
            self.assertEqual(p["eth.src"], vmac(1), "advertisements carry the virtual MAC")
        self.assertEqual({p["ip.src"] for p in v4}, {s.ip4("h1")})


class UcarpTest(NetnsTestCase):
    """carpd on h1 and ucarp on h2 in VHID 1 with one IPv4 address (ucarp hashes only that)."""

    HOSTS = 2
    NEED_TOOLS = ("ucarp",)

    def carpd_cfg(self, skew):
        return config(vhid_block(1, skew, ["192.0.2.1/24"], passphrase="secret"))

    def test_carpd_master_ucarp_backup_and_back(self):
        s = self.seg
        vip = s.vip4(1)
        h1 = s.start_carpd("h1", self.carpd_cfg(0))
        u = s.start_ucarp("h2", 1, vip, advskew=100, passphrase="secret")
        wait_until(lambda: h1.state() == "MASTER", 12, what="carpd MASTER")
        wait_until(lambda: u.state() == "BACKUP", 5, what="ucarp BACKUP")
        samples = [(h1.state(), u.state()) for _ in range(20)]
        self.assertTrue(all(x == ("MASTER", "BACKUP") for x in samples), samples)
        log(f"carpd MASTER, ucarp BACKUP ({h1.stats()['opackets']} advertisements sent)")
        wait_until(lambda: s.client_ping(vip), 5, what="client reaches the address")

        # carpd -> ucarp: graceful stop (bow-out)
        h1.terminate()
        wait_until(lambda: u.state() == "MASTER", 10, what="ucarp to take over")
        log("carpd stopped: ucarp MASTER")
        wait_until(lambda: s.client_ping(vip), 10, what="client reaches the address via ucarp")

        # carpd comes back without preempt: it hears ucarp and stays BACKUP
        h1.start()
        wait_until(lambda: h1.state() == "BACKUP", 10, what="carpd BACKUP under ucarp")
        samples = [(h1.state(), u.state()) for _ in range(20)]
        self.assertTrue(all(x == ("BACKUP", "MASTER") for x in samples), samples)
        wait_until(lambda: h1.vhid(1)["master"] == s.ip4("h2"), 5,
                   what="carpd to report ucarp (192.0.2.12) as master")
        log(f"carpd BACKUP hears ucarp as master {h1.vhid(1)['master']}")

        # ucarp -> carpd: ucarp stops (runs its down script, no bow-out): master-down timeout
        u.terminate()
        took = s.wait_state("h1", "MASTER", timeout=12)
        log(f"ucarp stopped: carpd MASTER after {took:.2f} s")
        wait_until(lambda: s.client_ping(vip), 10, what="client reaches the address via carpd")
        self.assertEqual(s.client_neigh(vip), vmac(1))

    def test_ucarp_master_carpd_backup_then_kill(self):
        s = self.seg
        vip = s.vip4(1)
        u = s.start_ucarp("h2", 1, vip, advskew=0, passphrase="secret")
        wait_until(lambda: u.state() == "MASTER", 12, what="ucarp MASTER")
        h1 = s.start_carpd("h1", self.carpd_cfg(100))
        wait_until(lambda: h1.state() == "BACKUP", 10, what="carpd BACKUP")
        samples = [(h1.state(), u.state()) for _ in range(20)]
        self.assertTrue(all(x == ("BACKUP", "MASTER") for x in samples), samples)
        u.kill9()
        took = s.wait_state("h1", "MASTER", timeout=12)
        log(f"ucarp killed: carpd MASTER after {took:.2f} s")
        # a killed ucarp leaves its address behind (it has no stale-address cleanup); take it
        # away as a reboot of h2 would, so that only carpd can answer
        s.run("h2", ["ip", "addr", "del", f"{vip}/24", "dev", "eth0"], check=False)
        wait_until(lambda: s.client_ping(vip), 10, what="client reaches the address")
        self.assertTrue(s.has_address("h1", vip))
        self.assertEqual(s.client_neigh(vip), vmac(1))


if __name__ == "__main__":
    unittest.main(verbosity=2)
