"""Unicast (`peer` / `peer6`) advertisements between two hosts on different subnets, routed.

The FreeBSD unicast_v4 / unicast_v6 scenario (tests/sys/netinet/carp.sh): the two CARP hosts
are in different subnets, so an advertisement from one to the other crosses a router, which
decrements the TTL / hop limit to 254. A VHID with a peer skips the TTL check (FreeBSD); a
multicast VHID must still drop such a packet.

Unlike the FreeBSD test (where the router and both hosts share one bridge), every link here is
its own veth, so nothing but the router connects the hosts:

                        client c   203.0.113.100/24   2001:db8:3::100/64
                            | eth0
                   r-c 203.0.113.1/24  2001:db8:3::1/64
   router r (ip_forward=1, IPv6 forwarding=1, no redirects)
     r-h1 198.51.100.1/26                   r-h2 198.51.100.65/26
          2001:db8:1::1/64                       2001:db8:2::1/64
            | eth0                                 | eth0
   h1 198.51.100.2/26  2001:db8:1::2/64     h2 198.51.100.66/26  2001:db8:2::2/64
   virtual address (vmac = false, a fourth prefix): 192.0.2.1/32 and 2001:db8:4::1/128

No routing protocol runs: the router's /32 (/128) route to the virtual address is pointed at
the current MASTER by the test, from `carpctl status --json` (what a routing daemon announcing
the address from the MASTER would do). Pointing it at the BACKUP must then fail, which proves
the address lives on the MASTER only.
"""

import signal
import time
import unittest

from carpnet import (NetnsTestCase, Segment, config, log, vhid_block, wait_until)

VIP4, VIP6 = "192.0.2.1", "2001:db8:4::1"
ADDR4 = {"h1": "198.51.100.2", "h2": "198.51.100.66", "c": "203.0.113.100"}
ADDR6 = {"h1": "2001:db8:1::2", "h2": "2001:db8:2::2", "c": "2001:db8:3::100"}
GW4 = {"h1": "198.51.100.1", "h2": "198.51.100.65", "c": "203.0.113.1"}
GW6 = {"h1": "2001:db8:1::1", "h2": "2001:db8:2::1", "c": "2001:db8:3::1"}
PLEN4 = {"h1": 26, "h2": 26, "c": 24}
RPORT = {"h1": "r-h1", "h2": "r-h2", "c": "r-c"}   # the router's interface towards each role
OTHER = {"h1": "h2", "h2": "h1"}


class RoutedSegment(Segment):
    """h1, h2 and the client c, each on its own link to the router namespace r."""

    def _build(self) -> None:
        # the base class named the roles sw/h1/h2/c; here the middle box is a router
        self.roles = ["r", "h1", "h2", "c"]
        self.ns = {r: f"{self.id}-{r}" for r in self.roles}
        base = ["net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0",
                "net.ipv6.conf.all.dad_transmits=0", "net.ipv6.conf.default.dad_transmits=0"]
        for r in self.roles:
            self._ip("netns", "add", self.ns[r])
            extra = (["net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1",
                      "net.ipv4.conf.all.send_redirects=0",
                      "net.ipv4.conf.default.send_redirects=0"] if r == "r" else
                     ["net.ipv4.conf.all.accept_redirects=0",
                      "net.ipv4.conf.default.accept_redirects=0",
                      "net.ipv6.conf.all.accept_redirects=0",
                      "net.ipv6.conf.default.accept_redirects=0"])
            self.run(r, ["sysctl", "-qw", *base, *extra])
            self._ip("-n", self.ns[r], "link", "set", "lo", "up")
        rns = self.ns["r"]
        for h in ("h1", "h2", "c"):
            port = RPORT[h]
            self._ip("-n", rns, "link", "add", port, "type", "veth", "peer", "name", "eth0",
                     "netns", self.ns[h])
            self._ip("-n", rns, "link", "set", port, "up")
            self._ip("-n", rns, "addr", "add", f"{GW4[h]}/{PLEN4[h]}", "dev", port)
            self._ip("-n", rns, "addr", "add", f"{GW6[h]}/64", "dev", port, "nodad")
            n = self.ns[h]
            self._ip("-n", n, "link", "set", "eth0", "address", self.mac(h))
            self._ip("-n", n, "link", "set", "eth0", "up")
            self._ip("-n", n, "addr", "add", f"{ADDR4[h]}/{PLEN4[h]}", "dev", "eth0")
            self._ip("-n", n, "addr", "add", f"{ADDR6[h]}/64", "dev", "eth0", "nodad")
            self._ip("-n", n, "route", "add", "default", "via", GW4[h])
            self._ip("-n", n, "-6", "route", "add", "default", "via", GW6[h])

    def ip4(self, role: str) -> str:
        return ADDR4[role]

    def ip6(self, role: str) -> str:
        return ADDR6[role]

    def route_vip(self, host: str | None) -> None:
        """Point the router's routes to the virtual addresses at host (None: remove them)."""
        for fam, vip, addr in (("-4", VIP4 + "/32", ADDR4), ("-6", VIP6 + "/128", ADDR6)):
            if host is None:
                self.run("r", ["ip", fam, "route", "del", vip], check=False)
            else:
                self.run("r", ["ip", fam, "route", "replace", vip, "via", addr[host]])


def unicast_block(host: str, vhid: int, advskew: int, v4: bool, v6: bool,
                  addresses=None, peer: bool = True) -> str:
    other = OTHER[host]
    if addresses is None:
        addresses = ([f"{VIP4}/32"] if v4 else []) + ([f"{VIP6}/128"] if v6 else [])
    extra = ["vmac = false"]
    if peer and v4:
        extra.append(f'peer = "{ADDR4[other]}"')
    if peer and v6:
        extra.append(f'peer6 = "{ADDR6[other]}"')
    return vhid_block(vhid, advskew, addresses, extra="\n".join(extra))


class UnicastTest(NetnsTestCase):
    HOSTS = 2
    NEED_TOOLS = ("tshark",)

    def setUp(self):
        print(flush=True)
        self.seg = RoutedSegment(hosts=2, client=True, label=self.id())
        self.addCleanup(self._teardown_segment)

    # helpers ----------------------------------------------------------------------------------
    def ping(self, src: str, dst: str, count: int = 1) -> bool:
        r = self.seg.run(src, ["ping", "-n", "-c", str(count), "-W", "1", "-i", "0.2", dst],
                         check=False, timeout=count * 2 + 5)
        return r.returncode == 0

    def start_pair(self, v4: bool, v6: bool, preempt: bool = False, extra_blocks=None):
        """h1 (advskew 0) and h2 (advskew 100), VHID 1 unicast to each other; h1 first."""
        extra_blocks = extra_blocks or {}
        ds = {}
        for h, skew in (("h1", 0), ("h2", 100)):
            blocks = [unicast_block(h, 1, skew, v4, v6)] + list(extra_blocks.get(h, []))
            ds[h] = self.seg.start_carpd(h, config(*blocks, preempt=preempt))
        took = self.seg.wait_roles({"h1": "MASTER", "h2": "BACKUP"}, timeout=15)
        log(f"election settled in {took:.2f} s: {self.seg.states()}")
        return ds

    def check_hop_limits(self, fam: str):
        """Capture on both hosts: h1 sends with 255, h2 receives what the router forwarded."""
        s = self.seg
        f_src, f_ttl = ("ip.src", "ip.ttl") if fam == "4" else ("ipv6.src", "ipv6.hlim")
        t1, t2 = s.tshark("h1", 3.5), s.tshark("h2", 3.5)
        sent, got = t1.packets(), t2.packets()
        # h1's own (eth.src = h1's MAC) and what reached h2 (not sent by h2 itself)
        mine = [p for p in sent if p.get("carp.vhid") == "1" and p.get(f_src)
                and p.get("eth.src") == s.mac("h1")]
        heard = [p for p in got if p.get("carp.vhid") == "1" and p.get(f_src)
                 and p.get("eth.src") != s.mac("h2")]
        for name, pk in (("h1 eth0 (sent)", mine), ("h2 eth0 (received)", heard)):
            ttls = sorted({p[f_ttl] for p in pk})
            srcs = sorted({p[f_src] for p in pk})
            log(f"IPv{fam} VHID 1 adverts on {name}: {len(pk)}, source {srcs}, "
                f"{'TTL' if fam == '4' else 'hop limit'} {ttls}")
        self.assertGreaterEqual(len(mine), 2, f"h1 sent no IPv{fam} advertisements: {sent}")
        self.assertEqual({p[f_ttl] for p in mine}, {"255"})
        if fam == "6":
            # a router never forwards a packet from a link-local source (RFC 4291 2.5.6; Linux
            # answers "destination unreachable, beyond scope"), so an advertisement to an
            # off-link peer6 needs a global source address
            ll = sorted({p[f_src] for p in mine if p[f_src].lower().startswith("fe80:")})
            self.assertFalse(ll, f"h1 sends its unicast advertisements to the off-link peer6 "
                                 f"{ADDR6['h2']} from the link-local {ll}: the router drops "
                                 f"them (beyond scope)")
        self.assertGreaterEqual(len(heard), 2,
                                f"h2 received no routed IPv{fam} advertisements: {got}")
        self.assertEqual({p[f_ttl] for p in heard}, {"254"},
                         "the router must have decremented the TTL / hop limit")
        self.assertTrue(all(p.get("carp.checksum.status") in ("1", "Good", "") for p in heard))
        return heard

    def check_reachability(self, master: str, fam: str):
        s = self.seg
        vip = VIP4 if fam == "4" else VIP6
        backup = OTHER[master]
        self.assertTrue(s.has_address(master, vip), f"{master} (MASTER) lacks {vip}")
        self.assertFalse(s.has_address(backup, vip), f"{backup} (BACKUP) holds {vip}")
        s.route_vip(backup)
        self.assertFalse(self.ping("c", vip, 2),
                         f"{vip} answered through {backup}, the BACKUP")
        s.route_vip(master)
        wait_until(lambda: self.ping("c", vip), 5, what=f"client ping {vip} via {master}")
        log(f"client reaches {vip} through the router when it routes to {master} (MASTER), "
            f"not when it routes to {backup} (BACKUP)")

    def run_scenario(self, fam: str):
        s = self.seg
        v4, v6 = fam == "4", fam == "6"
        peer_of_h1 = ADDR4["h2"] if v4 else ADDR6["h2"]
        # FreeBSD's sanity check: the hosts reach each other only through the router
        self.assertTrue(self.ping("h1", peer_of_h1), f"h1 cannot reach {peer_of_h1}")
        tr = s.run("h1", ["ip", "route", "get", peer_of_h1], check=False).stdout.strip()
        log(f"h1: ip route get {peer_of_h1}: {tr}")

        ds = self.start_pair(v4, v6)
        h1, h2 = ds["h1"], ds["h2"]
        heard = self.check_hop_limits(fam)
        samples = self.assert_stable({"h1": "MASTER", "h2": "BACKUP"}, 3.0)
        log(f"exactly one MASTER (h1) in {len(samples)} samples over 3 s")

        st2 = h2.status()
        v2 = h2.vhid(1, status=st2)
        log(f"h2 status: state {v2['state']} master {v2['master']} counters "
            f"{ {k: c for k, c in v2['counters'].items() if c} } stats "
            f"{ {k: c for k, c in st2['stats'].items() if c} }")
        self.assertEqual(st2["stats"].get("badttl", 0), 0, "h2 dropped routed advertisements")
        key = "ipackets" if v4 else "ipackets6"
        self.assertGreater(v2["counters"].get(key, 0), 0)
        self.assertEqual(v2["master"], heard[0]["ip.src" if v4 else "ipv6.src"])
        self.assertEqual(h1.vhid(1)["counters"].get("opackets" if v4 else "opackets6", 0) > 0,
                         True)

        self.check_reachability("h1", fam)

        # kill -9 of the MASTER: h2 stops hearing h1 and takes over after master-down
        t0 = time.monotonic()
        h1.kill9()
        took = s.wait_roles({"h2": "MASTER"}, timeout=15)
        log(f"kill -9 of h1: h2 MASTER after {took:.2f} s "
            f"(master-down 3 x (1 + 100/256) = 4.17 s)")
        self.assertLess(time.monotonic() - t0, 15)
        self.assertTrue(s.has_address("h2", VIP4 if v4 else VIP6))
        s.route_vip("h2")
        wait_until(lambda: self.ping("c", VIP4 if v4 else VIP6), 5,
                   what="client ping of the virtual address via h2")
        log("client reaches the virtual address through h2")

        # h1 comes back (preempt off: stays BACKUP, drops the address the kill left behind)
        h1.start()
        s.wait_roles({"h1": "BACKUP", "h2": "MASTER"}, timeout=15)
        wait_until(lambda: not s.has_address("h1", VIP4 if v4 else VIP6), 5,
                   what="restarted h1 to remove the address its killed predecessor left")
        self.assert_stable({"h1": "BACKUP", "h2": "MASTER"}, 2.0)
        log("h1 restarted: BACKUP, h2 stays MASTER (preempt off)")

        # SIGTERM of the MASTER h2: its bow-out advertisement (routed too) hands over at once
        t0 = time.monotonic()
        h2.signal(signal.SIGTERM)
        took = s.wait_roles({"h1": "MASTER"}, timeout=15)
        rc = h2.proc.wait(10)
        log(f"SIGTERM of h2 (exit {rc}): h1 MASTER after {took:.2f} s (bow-out; master-down "
            f"alone would take 3 s)")
        self.assertEqual(rc, 0)
        self.assertLess(took, 2.5, "the routed bow-out advertisement did not hand over at once")
        self.assertFalse(s.has_address("h2", VIP4 if v4 else VIP6))
        self.check_reachability_after_term(fam)

    def check_reachability_after_term(self, fam: str):
        s = self.seg
        vip = VIP4 if fam == "4" else VIP6
        s.route_vip("h1")
        wait_until(lambda: self.ping("c", vip), 5, what=f"client ping {vip} via h1")
        log(f"client reaches {vip} through h1 again")

    # tests ------------------------------------------------------------------------------------
    def test_unicast_v4(self):
        self.run_scenario("4")

    def test_unicast_v6(self):
        self.run_scenario("6")

    def test_unicast_dual_stack(self):
        """One VHID with an IPv4 and an IPv6 address, peer and peer6: both families routed."""
        s = self.seg
        ds = self.start_pair(True, True)
        self.check_hop_limits("4")
        self.check_hop_limits("6")
        # BSD rules: one master-down timer per family, so a BACKUP that hears only one family
        # still takes over when the other family's timer runs out
        self.assert_stable({"h1": "MASTER", "h2": "BACKUP"}, 5.0)
        st2 = ds["h2"].status()
        c = ds["h2"].vhid(1, status=st2)["counters"]
        log(f"h2 VHID 1 counters: ipackets {c.get('ipackets')} ipackets6 {c.get('ipackets6')}, "
            f"badttl {st2['stats'].get('badttl')}")
        self.assertGreater(c.get("ipackets", 0), 0)
        self.assertGreater(c.get("ipackets6", 0), 0)
        self.assertEqual(st2["stats"].get("badttl", 0), 0)
        s.route_vip("h1")
        for vip in (VIP4, VIP6):
            wait_until(lambda: self.ping("c", vip), 5, what=f"client ping {vip}")
        ds["h1"].kill9()
        took = s.wait_roles({"h2": "MASTER"}, timeout=15)
        log(f"kill -9 of h1: h2 MASTER after {took:.2f} s")
        s.route_vip("h2")
        for vip in (VIP4, VIP6):
            wait_until(lambda: self.ping("c", vip), 5, what=f"client ping {vip} via h2")
        log("client reaches both virtual addresses through h2")

    def test_multicast_vhid_drops_routed_advertisements(self):
        """Control: the same routed packets aimed at a VHID without a peer are dropped (badttl).

        h1's VHID 2 sends unicast to h2; h2's VHID 2 has no peer (multicast), so the TTL-254
        packets must fail its TTL check: h2 never hears h1 and becomes MASTER too, while VHID 1
        (peer on both sides) on the same interface keeps exactly one MASTER."""
        s = self.seg
        b2 = {"h1": [unicast_block("h1", 2, 0, True, False, ["192.0.2.2/32"])],
              "h2": [unicast_block("h2", 2, 100, True, False, ["192.0.2.2/32"], peer=False)]}
        ds = self.start_pair(True, False, extra_blocks=b2)
        h2 = ds["h2"]
        wait_until(lambda: s.states(2) == {"h1": "MASTER", "h2": "MASTER"}, 15,
                   what="VHID 2 MASTER on both hosts (h2 cannot accept the routed adverts)")
        before = h2.status()
        time.sleep(3)
        after = h2.status()
        v1a, v2a = h2.vhid(1, status=after), h2.vhid(2, status=after)
        v2b = h2.vhid(2, status=before)
        d_badttl = after["stats"]["badttl"] - before["stats"]["badttl"]
        d_v2 = v2a["counters"].get("badttl", 0) - v2b["counters"].get("badttl", 0)
        log(f"h2 in 3 s: badttl +{d_badttl} (VHID 2 counter +{d_v2}); VHID 1 state "
            f"{v1a['state']} badttl {v1a['counters'].get('badttl', 0)}, ipackets "
            f"{v1a['counters'].get('ipackets', 0)}; VHID 2 state {v2a['state']}")
        self.assertEqual(s.states(1), {"h1": "MASTER", "h2": "BACKUP"})
        self.assertGreaterEqual(d_badttl, 2)
        self.assertGreaterEqual(d_v2, 2)
        self.assertEqual(v1a["counters"].get("badttl", 0), 0)
        drops = [ln for ln in h2.log_text().splitlines() if "dropped" in ln]
        log(f"h2 log: {drops[0].strip() if drops else '(no drop line)'}")


if __name__ == "__main__":
    unittest.main(verbosity=2)
