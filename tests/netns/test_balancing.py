"""Load balancing (carp-wire.md §5.1): 2 hosts serve one shared address through 2 nodes.

Each host is MASTER of one node (opposite advskews). 64 client flows (UDP from 64 source
addresses) reach the shared address; every flow must be answered by exactly one host, the one
that is MASTER of node ntohl(src ^ dst) % 2 (OpenBSD carp_lsdrop); after kill -9 of one
carpd, all flows must be answered by the other. Run for the modes ip, ip-stealth and
ip-unicast; the measured split and takeover times are logged ("split ..." lines).
"""

import ipaddress
import json
import time
import unittest

from carpnet import NET4, NetnsTestCase, config, log, wait_until

SHARED = f"{NET4}.50"
FLOWS = 64
CLIENT_NET = "198.51.100"  # the client's flow sources: 198.51.100.1 .. .64
PORT = 7007

# Answers every datagram with the host's name, from the shared address (IP_FREEBIND: the
# address is on the interface only while the host serves a share).
RESPONDER = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_IP, 15, 1)  # IP_FREEBIND
s.bind((sys.argv[1], int(sys.argv[2])))
name = sys.argv[3].encode()
while True:
    data, peer = s.recvfrom(64)
    s.sendto(name, peer)
"""

# One datagram per flow (retried up to 4 rounds for flows without an answer, as the first
# ones may wait for ARP); prints {source: [answering hosts, ...]} after a quiet period.
CLIENT = r"""
import json, select, socket, sys, time
dst, port, sources = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(",")
socks = {}
for src in sources:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    s.setblocking(False)
    socks[s.fileno()] = (src, s)
answers = {src: [] for src in sources}
def collect(quiet):
    end = time.monotonic() + quiet
    while time.monotonic() < end:
        ready, _, _ = select.select(list(socks), [], [], 0.05)
        for fd in ready:
            src, s = socks[fd]
            while True:
                try:
                    data, peer = s.recvfrom(64)
                except BlockingIOError:
                    break
                if peer[0] == dst:
                    answers[src].append(data.decode())
for round in range(4):
    pending = [src for src in sources if not answers[src]]
    if not pending:
        break
    for fd, (src, s) in socks.items():
        if src in pending:
            s.sendto(b"flow", (dst, port))
    collect(1.5)
print(json.dumps(answers))
"""


def node_index(src: str, dst: str, count: int) -> int:
    """OpenBSD carp_lsdrop: ntohl(src ^ dst) % count."""
    return (int(ipaddress.IPv4Address(src)) ^ int(ipaddress.IPv4Address(dst))) % count


def lb_config(mode: str, skews: dict[int, int]) -> str:
    nodes = ", ".join(f"{{vhid = {v}, advskew = {s}}}" for v, s in skews.items())
    block = (f'[[vhid]]\ninterface = "eth0"\nnodes = [{nodes}]\nbalancing = "{mode}"\n'
             f'advbase = 1\npass = "secret"\naddresses = ["{SHARED}/24"]\n')
    return config(block, preempt=True)


class BalancingTest(NetnsTestCase):
    HOSTS = 2

    def setUp(self):
        super().setUp()
        s = self.seg
        self.sources = [f"{CLIENT_NET}.{i}" for i in range(1, FLOWS + 1)]
        for src in self.sources:
            s.run("c", ["ip", "addr", "add", f"{src}/24", "dev", "eth0"])
        for h in s.hosts:
            s.run(h, ["ip", "route", "add", f"{CLIENT_NET}.0/24", "via", s.ip4("c")])
            s.popen(h, ["python3", "-c", RESPONDER, SHARED, str(PORT), h])

    def flows(self) -> dict:
        r = self.seg.run("c", ["python3", "-c", CLIENT, SHARED, str(PORT), ",".join(self.sources)],
                         timeout=60)
        return json.loads(r.stdout)

    def start_balancing(self, mode: str) -> dict:
        s = self.seg
        ds = {
            "h1": s.start_carpd("h1", lb_config(mode, {1: 0, 2: 100})),
            "h2": s.start_carpd("h2", lb_config(mode, {1: 100, 2: 0})),
        }
        took = max(s.wait_roles({"h1": "MASTER", "h2": "BACKUP"}, vhid=1, timeout=20),
                   s.wait_roles({"h1": "BACKUP", "h2": "MASTER"}, vhid=2, timeout=20))
        log(f"{mode}: h1 MASTER of vhid 1, h2 MASTER of vhid 2 after {took:.2f} s")
        return ds

    def check_split(self, mode: str, answers: dict, masters: list[str]) -> dict:
        """masters[i]: the host that must answer the flows of node i."""
        count = {h: 0 for h in self.seg.hosts}
        wrong, duplicated, silent = [], [], []
        for src, hosts in answers.items():
            want = masters[node_index(src, SHARED, len(masters))]
            if not hosts:
                silent.append(src)
            elif len(set(hosts)) > 1:
                duplicated.append((src, hosts))
            elif hosts[0] != want:
                wrong.append((src, hosts[0], want))
            else:
                count[want] += 1
        split = "/".join(str(count[h]) for h in self.seg.hosts)
        log(f"split {mode}: h1/h2 = {split} of {len(answers)} flows "
            f"(silent {len(silent)}, answered twice {len(duplicated)}, wrong host {len(wrong)})")
        self.assertFalse(duplicated, f"flows answered by both hosts: {duplicated[:5]}")
        self.assertFalse(wrong, f"flows answered by the wrong host: {wrong[:5]}")
        self.assertFalse(silent, f"flows without an answer: {silent[:5]}")
        return count

    def run_mode(self, mode: str) -> None:
        s = self.seg
        if mode == "ip-unicast":
            # ip-unicast is for hubs and mirrored ports (carp-wire.md §5.1): a learning switch
            # would send the leader's MAC to one port only. The bridge stops learning: a hub.
            for h in s.hosts + ["c"]:
                s.run("sw", ["ip", "link", "set", "dev", h, "type", "bridge_slave", "learning",
                             "off"])
        ds = self.start_balancing(mode)
        lladdr = ("01" if mode == "ip" else "00") + ":00:5e:00:01:01"
        wait_until(lambda: s.client_ping(SHARED, timeout=0.5) and s.client_neigh(SHARED) == lladdr,
                   15, 0.2, f"client ARP entry {lladdr} for {SHARED}")
        self.assertEqual(s.client_neigh(SHARED), lladdr)
        count = self.check_split(mode, self.flows(), ["h1", "h2"])
        expected = sum(1 for src in self.sources if node_index(src, SHARED, 2) == 0)
        self.assertEqual(count["h1"], expected)
        # The hosts' own ARP requests (for the client, to send the replies) must not name the
        # shared address as sender, or the client would point it at one host's MAC.
        self.assertEqual(s.client_neigh(SHARED), lladdr)

        t0 = time.monotonic()
        ds["h1"].kill9()
        log(f"{mode}: kill -9 carpd on h1 (pid {ds['h1'].pid})")
        took = s.wait_state("h2", "MASTER", vhid=1, timeout=15)
        log(f"{mode}: h2 MASTER of both nodes {time.monotonic() - t0:.2f} s after the kill")
        count = self.check_split(f"{mode} after kill -9 of h1", self.flows(), ["h2", "h2"])
        self.assertEqual(count["h2"], FLOWS)
        self.assertEqual(s.client_neigh(SHARED), lladdr, "the shared MAC survives the failover")
        self.assertGreater(took, 0)

    def test_ip(self):
        self.run_mode("ip")

    def test_ip_stealth(self):
        self.run_mode("ip-stealth")

    def test_ip_unicast(self):
        self.run_mode("ip-unicast")

    def test_three_nodes_listed_out_of_order(self):
        """Nodes count in ascending vhid order whatever the file order (OpenBSD sorts them);
        with 3 nodes the hash is mod 3: h1 serves nodes 1 and 3, h2 node 2."""
        s = self.seg
        s.start_carpd("h1", lb_config("ip", {3: 0, 1: 0, 2: 100}))
        s.start_carpd("h2", lb_config("ip", {3: 100, 1: 100, 2: 0}))
        for vhid, master in ((1, "h1"), (2, "h2"), (3, "h1")):
            other = "h2" if master == "h1" else "h1"
            s.wait_roles({master: "MASTER", other: "BACKUP"}, vhid=vhid, timeout=20)
        count = self.check_split("ip, 3 nodes", self.flows(), ["h1", "h2", "h1"])
        expected = sum(1 for src in self.sources if node_index(src, SHARED, 3) != 1)
        self.assertEqual(count["h1"], expected)
        self.assertEqual(count["h2"], FLOWS - expected)

    def test_graceful_stop_removes_the_filter(self):
        s = self.seg
        ds = self.start_balancing("ip")
        filters = s.run("h1", ["tc", "filter", "show", "dev", "eth0", "ingress"]).stdout
        self.assertIn("carp_lb_ingress", filters)
        self.assertEqual(ds["h1"].terminate(), 0)
        filters = s.run("h1", ["tc", "filter", "show", "dev", "eth0", "ingress"]).stdout
        self.assertNotIn("carp_lb", filters)
        self.assertFalse(s.has_address("h1", SHARED))
        wait_until(lambda: s.states(vhid=1).get("h2") == "MASTER", 10, what="h2 takes vhid 1")
        count = self.check_split("ip after SIGTERM of h1", self.flows(), ["h2", "h2"])
        self.assertEqual(count["h2"], FLOWS)

    def test_restart_after_kill_replaces_the_stale_filter(self):
        s = self.seg
        ds = self.start_balancing("ip-stealth")
        ds["h1"].kill9()
        filters = s.run("h1", ["tc", "filter", "show", "dev", "eth0", "ingress"]).stdout
        self.assertIn("carp_lb_ingress", filters, "kill -9 leaves the filter (lease expires)")
        stale_id = filters.split(" id ")[1].split()[0]
        s.wait_state("h2", "MASTER", vhid=1, timeout=15)
        ds["h1"].start()
        s.wait_roles({"h1": "MASTER", "h2": "BACKUP"}, vhid=1, timeout=20)
        filters = s.run("h1", ["tc", "filter", "show", "dev", "eth0", "ingress"]).stdout
        self.assertEqual(filters.count("handle 0xca4d"), 1, filters)
        self.assertNotIn(f" id {stale_id} ", filters, "the stale program was replaced")
        self.check_split("ip-stealth after restart", self.flows(), ["h1", "h2"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
