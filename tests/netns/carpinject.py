#!/usr/bin/env python3
"""Send, sniff and replay raw Ethernet frames on one interface (run inside a namespace).

Used by the netns tests through `ip netns exec NS python3 carpinject.py ...`. Stdlib only
(AF_PACKET), so it works with any python3 and starts in milliseconds.

  send   --iface eth0 [--count N] [--gap S] HEX [HEX ...]      send each frame N times
  sniff  --iface eth0 [--count N] [--timeout S] [--src IP] [--proto 112|-1] [--src-mac MAC]
         prints READY, then one JSON line per matching frame received (--proto -1: any
         frame, IP or not)
  replay --iface eth0 --from IP --src-ip IP [--count N] [--timeout S]
         waits for one CARP/IPv4 frame from IP, then resends its IP packet with our
         Ethernet source and --src-ip as IP source (the CARP bytes untouched)
"""

from __future__ import annotations

import argparse
import json
import os
import select
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import carpwire  # noqa: E402

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def open_socket(iface: str) -> socket.socket:
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((iface, 0))
    return s


def own_mac(iface: str) -> str:
    with open(f"/sys/class/net/{iface}/address") as f:
        return f.read().strip()


def ip_info(frame: bytes):
    """(src, dst, proto, ttl) of an IPv4/IPv6 frame, or None."""
    import ipaddress
    if len(frame) < 34:
        return None
    et = int.from_bytes(frame[12:14], "big")
    if et == 0x0800:
        return (str(ipaddress.IPv4Address(frame[26:30])), str(ipaddress.IPv4Address(frame[30:34])),
                frame[23], frame[22])
    if et == 0x86DD and len(frame) >= 54:
        return (str(ipaddress.IPv6Address(frame[22:38])), str(ipaddress.IPv6Address(frame[38:54])),
                frame[20], frame[21])
    return None


def frames(s: socket.socket, deadline: float):
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        r, _, _ = select.select([s], [], [], left)
        if not r:
            return
        data, addr = s.recvfrom(65535)
        if addr[2] == PACKET_OUTGOING:
            continue
        yield data


def cmd_send(a) -> int:
    s = open_socket(a.iface)
    pkts = [bytes.fromhex(h) for h in a.frames]
    for _ in range(a.count):
        for p in pkts:
            s.send(p)
            if a.gap:
                time.sleep(a.gap)
    print(json.dumps({"sent": len(pkts) * a.count}), flush=True)
    return 0


def cmd_sniff(a) -> int:
    s = open_socket(a.iface)
    print("READY", flush=True)
    n = 0
    want_mac = carpwire.mac_bytes(a.src_mac) if a.src_mac else None
    for f in frames(s, time.monotonic() + a.timeout):
        if want_mac is not None and f[6:12] != want_mac:
            continue
        info = ip_info(f)
        if a.proto >= 0 and (info is None or info[2] != a.proto):
            continue
        if a.src and (info is None or info[0] != a.src):
            continue
        src, dst, proto, ttl = info if info else (None, None, None, None)
        print(json.dumps({"t": time.time(), "src": src, "dst": dst, "proto": proto, "ttl": ttl,
                          "ethertype": int.from_bytes(f[12:14], "big"), "hex": f.hex()}),
              flush=True)
        n += 1
        if n >= a.count:
            break
    return 0 if n else 1


def cmd_replay(a) -> int:
    s = open_socket(a.iface)
    mac = own_mac(a.iface)
    print("READY", flush=True)
    for f in frames(s, time.monotonic() + a.timeout):
        info = ip_info(f)
        if info is None or info[2] != carpwire.CARP_PROTO or info[0] != getattr(a, "from"):
            continue
        out = carpwire.replace_ipv4_source(f, mac, a.src_ip)
        t0 = time.time()
        for _ in range(a.count):
            s.send(out)
            if a.gap:
                time.sleep(a.gap)
        print(json.dumps({"captured": f.hex(), "sent": out.hex(), "copies": a.count,
                          "delay_ms": round((time.time() - t0) * 1000, 3)}), flush=True)
        return 0
    print(json.dumps({"error": "no CARP frame seen"}), flush=True)
    return 1


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    ps = sub.add_parser("send")
    ps.add_argument("--iface", default="eth0")
    ps.add_argument("--count", type=int, default=1)
    ps.add_argument("--gap", type=float, default=0.0)
    ps.add_argument("frames", nargs="+")
    pn = sub.add_parser("sniff")
    pn.add_argument("--iface", default="eth0")
    pn.add_argument("--count", type=int, default=1)
    pn.add_argument("--timeout", type=float, default=5.0)
    pn.add_argument("--src")
    pn.add_argument("--proto", type=int, default=carpwire.CARP_PROTO, help="-1: any frame")
    pn.add_argument("--src-mac")
    pr = sub.add_parser("replay")
    pr.add_argument("--iface", default="eth0")
    pr.add_argument("--from", required=True)
    pr.add_argument("--src-ip", required=True)
    pr.add_argument("--count", type=int, default=3)
    pr.add_argument("--gap", type=float, default=0.0)
    pr.add_argument("--timeout", type=float, default=5.0)
    a = p.parse_args(argv)
    return {"send": cmd_send, "sniff": cmd_sniff, "replay": cmd_replay}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
