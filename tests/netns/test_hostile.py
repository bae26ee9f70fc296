"""Hostile advertisements from the client: each is dropped, counted, and changes nothing.

Each packet has exactly one defect; everything else (key, HMAC over the VHID's addresses,
checksum, TTL) is right. Two payloads are used, each of which WOULD change a role if accepted:
  better  advbase 1, advskew 0, demote 0: ties with h1, and a MASTER yields on a tie;
  bowout  advbase 255, advskew 255: h2 (BACKUP) would take over at once.
The positive-control tests send the same payloads without a defect and see the roles move, which
proves the negative tests are not vacuous.
"""

import json
import os
import random
import subprocess
import sys
import time
import unittest

import carpwire
from carpnet import HERE, NetnsTestCase, log, wait_until
from carpwire import Advert

ADDRS = ("192.0.2.1/24", "2001:db8::1/64")
KEY = "secret"
ROLES = {"h1": "MASTER", "h2": "BACKUP"}


def better(**kw):
    base = dict(vhid=1, advskew=0, advbase=1, demote=0, passphrase=KEY, addresses=ADDRS)
    base.update(kw)
    return Advert(**base)


def bowout(**kw):
    base = dict(vhid=1, advskew=255, advbase=255, demote=0, passphrase=KEY, addresses=ADDRS)
    base.update(kw)
    return Advert(**base)


class HostileBase(NetnsTestCase):
    HOSTS = 2

    def setUp(self):
        super().setUp()
        self.ds = self.start_hosts({"h1": 0, "h2": 100}, preempt=False, addresses=list(ADDRS),
                                   passphrase=KEY)

    def f4(self, adv: Advert, ttl: int = 255, payload: bytes | None = None) -> bytes:
        s = self.seg
        return carpwire.frame4(s.mac("c"), s.ip4("c"),
                               adv.header() if payload is None else payload, ttl=ttl)

    def f6(self, adv: Advert, hlim: int = 255) -> bytes:
        s = self.seg
        return carpwire.frame6(s.mac("c"), s.ip6("c"), adv.header(), hlim=hlim)

    def snapshot(self):
        return {h: d.status() for h, d in self.ds.items()}

    def assert_no_flap(self, before, after):
        """No state change even between samples: `since` (whole seconds) and `preempt` (every
        BACKUP -> MASTER transition, as OpenBSD counts it) are unchanged."""
        for h in self.ds:
            self.assertTrue(self.ds[h].alive(), f"carpd on {h} died")
            self.assertEqual(after[h]["vhids"][0]["since"], before[h]["vhids"][0]["since"],
                             f"{h} changed state and back")
            self.assertEqual(after[h]["stats"].get("preempt"), before[h]["stats"].get("preempt"),
                             f"{h} became MASTER in between")

    def attack(self, what: str, frames: list[bytes], counter: str, hosts=("h1", "h2"),
               copies: int = 3):
        """Send frames `copies` times; counter must rise on hosts; nothing else may change."""
        s = self.seg
        before = self.snapshot()
        s.inject("c", frames, count=copies, gap=0.02)
        wait_until(lambda: all(self.ds[h].stats().get(counter, 0) >
                               before[h]["stats"].get(counter, 0) for h in hosts), 5,
                   what=f"stats.{counter} to rise on {', '.join(hosts)} after {what}")
        self.assert_stable(ROLES, 2.0)
        after = self.snapshot()
        self.assert_no_flap(before, after)
        deltas = {h: {k: after[h]["stats"].get(k, 0) - before[h]["stats"].get(k, 0)
                      for k in after[h]["stats"]
                      if after[h]["stats"].get(k, 0) != before[h]["stats"].get(k, 0)}
                  for h in self.ds}
        log(f"{what}: {len(frames)}x{copies} frames, roles unchanged; stats deltas {deltas}")
        return deltas


class HostileTest(HostileBase):

    def test_wrong_passphrase(self):
        bad = "not-the-secret"
        self.attack("wrong passphrase (v4+v6, better and bow-out)",
                    [self.f4(better(passphrase=bad)), self.f4(bowout(passphrase=bad)),
                     self.f6(better(passphrase=bad)), self.f6(bowout(passphrase=bad))],
                    "badauth")

    def test_wrong_address_set(self):
        # right key, but the HMAC covers another address set: also an authentication failure
        self.attack("HMAC over another address set",
                    [self.f4(better(addresses=("192.0.2.1/24",))),
                     self.f4(bowout(addresses=("192.0.2.9/24", "2001:db8::1/64")))], "badauth")

    def test_ttl_254(self):
        self.attack("TTL/hop limit 254",
                    [self.f4(better(), ttl=254), self.f4(bowout(), ttl=254),
                     self.f6(bowout(), hlim=254)], "badttl")

    def test_bad_checksum(self):
        self.attack("bad CARP checksum",
                    [self.f4(better(corrupt_checksum=True)),
                     self.f4(bowout(corrupt_checksum=True)),
                     self.f6(bowout(corrupt_checksum=True))], "badsum")

    def test_short_packet(self):
        self.attack("20-byte CARP payload",
                    [self.f4(None, payload=better().header()[:20]),
                     self.f4(None, payload=bowout().header()[:20])], "badlen")

    def test_version_3(self):
        self.attack("version 3 (checksum and HMAC valid)",
                    [self.f4(better(version=3)), self.f4(bowout(version=3))], "badver")

    def test_unknown_vhid(self):
        self.attack("unknown VHID 99",
                    [self.f4(better(vhid=99)), self.f4(bowout(vhid=99)),
                     self.f6(bowout(vhid=99))], "badvhid")

    def test_own_counter_echoed_back(self):
        """h1's own advertisement, captured and sent back to it from another address."""
        s = self.seg
        before = self.snapshot()
        p = s.popen("c", [sys.executable, os.path.join(HERE, "carpinject.py"), "replay",
                          "--iface", "eth0", "--from", s.ip4("h1"), "--src-ip", s.ip4("c"),
                          "--count", "3", "--gap", "0.02", "--timeout", "5"],
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.assertEqual(p.stdout.readline().strip(), "READY")
        out, err = p.communicate(timeout=15)
        self.assertEqual(p.returncode, 0, out + err)
        rep = json.loads(out.splitlines()[-1])
        cap = carpwire.parse_frame(bytes.fromhex(rep["captured"]))
        hdr = carpwire.parse_header(cap["payload"])
        log(f"captured h1's advert (counter {hdr['counter']}, skew {hdr['advskew']}), "
            f"re-sent 3x from {s.ip4('c')} within {rep['delay_ms']} ms")
        # if h1 did not recognise its own counter it would see a tie and yield
        wait_until(lambda: self.ds["h1"].stats().get("loop", 0) >
                   before["h1"]["stats"].get("loop", 0), 5, what="stats.loop to rise on h1")
        self.assert_stable(ROLES, 2.0)
        after = self.snapshot()
        self.assert_no_flap(before, after)
        log(f"h1 loop {before['h1']['stats'].get('loop')} -> {after['h1']['stats'].get('loop')}")

    def test_garbage_does_not_hurt(self):
        """300 random IP protocol 112 payloads of random length: no crash, no change."""
        rnd = random.Random(112)
        frames = [self.f4(None, payload=bytes(rnd.getrandbits(8)
                                              for _ in range(rnd.choice([0, 1, 8, 35, 36, 37,
                                                                         64, 200]))))
                  for _ in range(300)]
        before = self.snapshot()
        self.seg.inject("c", frames)
        time.sleep(0.5)
        self.assert_stable(ROLES, 2.0)
        after = self.snapshot()
        self.assert_no_flap(before, after)
        dropped = {h: sum(after[h]["stats"].get(k, 0) - before[h]["stats"].get(k, 0)
                          for k in ("badlen", "badsum", "badver", "badvhid", "badauth",
                                    "badttl", "hdrops"))
                   for h in self.ds}
        log(f"garbage: drops counted {dropped}")


class PositiveControlTest(HostileBase):
    """The same payloads without a defect do move the roles (so the attacks above would too)."""

    def test_valid_better_advert_makes_master_yield(self):
        s = self.seg
        s.inject("c", [self.f4(better())])
        took = s.wait_state("h1", "BACKUP", timeout=3)
        log(f"a valid tie advert from the client made h1 yield after {took:.2f} s")

    def test_valid_bowout_makes_backup_take_over(self):
        s = self.seg
        before = self.ds["h2"].stats().get("preempt", 0)
        s.inject("c", [self.f4(bowout())])
        # h2 becomes MASTER at once; h1's next advertisement may send it back to BACKUP
        wait_until(lambda: s.states()["h2"] == "MASTER"
                   or self.ds["h2"].stats().get("preempt", 0) > before, 3,
                   what="h2 to take over on a valid bow-out")
        log(f"a valid bow-out from the client made h2 take over (now {s.states()})")


if __name__ == "__main__":
    unittest.main(verbosity=2)
