"""CARP on the wire, for tests: build advertisements and whole Ethernet frames by hand.

Pure stdlib, no root needed. The recipe is the BSD one (HMAC-SHA1 over 02 01 vhid, the sorted
IPv4 then IPv6 addresses and the 8 counter bytes; key = passphrase[:19] zero padded to 20;
Internet checksum over exactly the 36 CARP bytes, no pseudo-header). Every field can be set to a
wrong value on purpose, so the netns tests can build hostile packets with exactly one defect.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import ipaddress
import os
import struct

CARP_PROTO = 112
CARP_GROUP4 = "224.0.0.18"
CARP_GROUP6 = "ff02::12"
MCAST_MAC4 = "01:00:5e:00:00:12"
MCAST_MAC6 = "33:33:00:00:00:12"
HEADER_LEN = 36


def vmac(vhid: int) -> str:
    """The CARP virtual MAC of a VHID, 00:00:5e:00:01:VHID."""
    return f"00:00:5e:00:01:{vhid:02x}"


def cksum(data: bytes) -> int:
    """Internet checksum (RFC 1071) of data."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def carp_key(passphrase: str | bytes) -> bytes:
    """The 20-byte HMAC key that BSD ifconfig's strlcpy makes of a passphrase."""
    p = passphrase.encode() if isinstance(passphrase, str) else passphrase
    k = p[:19]
    return k + b"\0" * (20 - len(k))


def _strip_prefix(a: str) -> str:
    return a.split("/", 1)[0]


def hmac_message(vhid: int, addresses, counter: bytes, drop_link_local: bool = True) -> bytes:
    """The HMAC input: 02 01 vhid, sorted unique IPv4, sorted unique IPv6, counter."""
    v4, v6 = set(), set()
    for a in addresses:
        ip = ipaddress.ip_address(_strip_prefix(a))
        if ip.version == 4:
            v4.add(int(ip))
        elif not (ip.is_link_local and drop_link_local):
            v6.add(ip.packed)
    m = bytes([0x02, 0x01, vhid])
    m += b"".join(struct.pack("!I", a) for a in sorted(v4) if 0 < a < 0xFFFFFFFF)
    m += b"".join(a for a in sorted(v6) if a not in (b"\0" * 16, b"\xff" * 16))
    return m + counter


def carp_md(passphrase, vhid: int, addresses, counter: bytes) -> bytes:
    return hmac.new(carp_key(passphrase), hmac_message(vhid, addresses, counter),
                    hashlib.sha1).digest()


@dataclasses.dataclass
class Advert:
    """One CARP advertisement. Defaults give a valid, ordinary advertisement."""

    vhid: int = 1
    advskew: int = 0
    advbase: int = 1
    demote: int = 0
    passphrase: str = "secret"
    addresses: tuple = ()
    counter: bytes = dataclasses.field(default_factory=lambda: os.urandom(8))
    version: int = 2
    type: int = 1
    authlen: int = 7
    md: bytes | None = None          # None: computed from passphrase/vhid/addresses/counter
    checksum: int | None = None      # None: computed; otherwise written as is
    corrupt_checksum: bool = False   # compute, then flip one bit

    def header(self) -> bytes:
        md = self.md if self.md is not None else carp_md(self.passphrase, self.vhid,
                                                          self.addresses, self.counter)
        h = bytearray(bytes([(self.version << 4) | self.type, self.vhid, self.advskew,
                             self.authlen, self.demote, self.advbase, 0, 0]))
        h += self.counter + md
        assert len(h) == HEADER_LEN
        c = self.checksum if self.checksum is not None else cksum(bytes(h))
        if self.corrupt_checksum:
            c ^= 0x0001
        h[6:8] = struct.pack("!H", c)
        return bytes(h)


def parse_header(b: bytes) -> dict:
    """Decode a 36-byte CARP header into a dict (for tests and printing)."""
    if len(b) < HEADER_LEN:
        raise ValueError(f"short CARP header: {len(b)} bytes")
    return {
        "version": b[0] >> 4, "type": b[0] & 0xF, "vhid": b[1], "advskew": b[2],
        "authlen": b[3], "demote": b[4], "advbase": b[5],
        "checksum": struct.unpack("!H", b[6:8])[0], "counter": b[8:16].hex(),
        "md": b[16:36].hex(), "checksum_ok": cksum(b[:HEADER_LEN]) == 0,
    }


def mac_bytes(mac: str) -> bytes:
    return bytes(int(x, 16) for x in mac.split(":"))


def ipv4_packet(src: str, dst: str, payload: bytes, ttl: int = 255, proto: int = CARP_PROTO,
                tos: int = 0x10, ident: int | None = None) -> bytes:
    ident = int.from_bytes(os.urandom(2), "big") if ident is None else ident
    hdr = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, tos, 20 + len(payload), ident, 0x4000,
                                ttl, proto, 0, ipaddress.IPv4Address(src).packed,
                                ipaddress.IPv4Address(dst).packed))
    hdr[10:12] = struct.pack("!H", cksum(bytes(hdr)))
    return bytes(hdr) + payload


def ipv6_packet(src: str, dst: str, payload: bytes, hlim: int = 255,
                nxt: int = CARP_PROTO) -> bytes:
    return struct.pack("!IHBB16s16s", 6 << 28, len(payload), nxt, hlim,
                       ipaddress.IPv6Address(src).packed,
                       ipaddress.IPv6Address(dst).packed) + payload


def ether_frame(dst_mac: str, src_mac: str, ethertype: int, payload: bytes) -> bytes:
    return mac_bytes(dst_mac) + mac_bytes(src_mac) + struct.pack("!H", ethertype) + payload


def frame4(src_mac: str, src_ip: str, carp_payload: bytes, dst_ip: str = CARP_GROUP4,
           ttl: int = 255, dst_mac: str | None = None) -> bytes:
    """A whole Ethernet frame carrying carp_payload in IPv4 to 224.0.0.18 (or dst_ip)."""
    if dst_mac is None:
        ip = ipaddress.IPv4Address(dst_ip)
        if not ip.is_multicast:
            raise ValueError("give dst_mac for a unicast destination")
        p = ip.packed
        dst_mac = "01:00:5e:%02x:%02x:%02x" % (p[1] & 0x7F, p[2], p[3])
    return ether_frame(dst_mac, src_mac, 0x0800, ipv4_packet(src_ip, dst_ip, carp_payload, ttl))


def frame6(src_mac: str, src_ip: str, carp_payload: bytes, dst_ip: str = CARP_GROUP6,
           hlim: int = 255, dst_mac: str | None = None) -> bytes:
    if dst_mac is None:
        p = ipaddress.IPv6Address(dst_ip).packed
        dst_mac = "33:33:%02x:%02x:%02x:%02x" % tuple(p[12:16])
    return ether_frame(dst_mac, src_mac, 0x86DD, ipv6_packet(src_ip, dst_ip, carp_payload, hlim))


def parse_frame(frame: bytes) -> dict | None:
    """Decode an Ethernet frame carrying CARP over IPv4 or IPv6; None if it is not one."""
    if len(frame) < 14:
        return None
    etype = struct.unpack("!H", frame[12:14])[0]
    out = {"dst_mac": ":".join(f"{x:02x}" for x in frame[0:6]),
           "src_mac": ":".join(f"{x:02x}" for x in frame[6:12])}
    if etype == 0x0800 and len(frame) >= 34:
        ihl = (frame[14] & 0xF) * 4
        total = struct.unpack("!H", frame[16:18])[0]
        if frame[23] != CARP_PROTO:
            return None
        out.update(family=4, ttl=frame[22], tos=frame[15],
                   src=str(ipaddress.IPv4Address(frame[26:30])),
                   dst=str(ipaddress.IPv4Address(frame[30:34])),
                   ip_header_ok=cksum(frame[14:14 + ihl]) == 0,
                   payload=frame[14 + ihl:14 + total])
    elif etype == 0x86DD and len(frame) >= 54:
        if frame[20] != CARP_PROTO:
            return None
        plen = struct.unpack("!H", frame[18:20])[0]
        out.update(family=6, ttl=frame[21], src=str(ipaddress.IPv6Address(frame[22:38])),
                   dst=str(ipaddress.IPv6Address(frame[38:54])), payload=frame[54:54 + plen])
    else:
        return None
    return out


def replace_ipv4_source(frame: bytes, src_mac: str, src_ip: str) -> bytes:
    """The same IPv4 packet with another IP source (header checksum fixed) and Ethernet source."""
    f = bytearray(frame)
    f[6:12] = mac_bytes(src_mac)
    ihl = (f[14] & 0xF) * 4
    f[26:30] = ipaddress.IPv4Address(src_ip).packed
    f[24:26] = b"\0\0"
    f[24:26] = struct.pack("!H", cksum(bytes(f[14:14 + ihl])))
    return bytes(f)


def describe_frame(frame: bytes) -> str:
    """One line for a log: source/destination MAC, and what the frame carries."""
    src = ":".join(f"{x:02x}" for x in frame[6:12])
    dst = ":".join(f"{x:02x}" for x in frame[0:6])
    et = struct.unpack("!H", frame[12:14])[0] if len(frame) >= 14 else 0
    what = f"ethertype 0x{et:04x}"
    if et == 0x0806 and len(frame) >= 42:
        op = struct.unpack("!H", frame[20:22])[0]
        what = (f"ARP {'request' if op == 1 else 'reply' if op == 2 else op} "
                f"{ipaddress.IPv4Address(frame[28:32])} -> {ipaddress.IPv4Address(frame[38:42])}")
    elif et == 0x0800 and len(frame) >= 34:
        what = (f"IPv4 {ipaddress.IPv4Address(frame[26:30])} > "
                f"{ipaddress.IPv4Address(frame[30:34])} proto {frame[23]}")
    elif et == 0x86DD and len(frame) >= 54:
        nh = frame[20]
        names = {0: "hop-by-hop (MLD?)", 58: "ICMPv6", CARP_PROTO: "CARP"}
        what = (f"IPv6 {ipaddress.IPv6Address(frame[22:38])} > "
                f"{ipaddress.IPv6Address(frame[38:54])} {names.get(nh, f'nh {nh}')}")
    return f"{src} > {dst} {what}"
