#!/usr/bin/env python3
"""Writes the seed corpus for decode_fuzz into corpus/decode (carp-wire.md §2.8 vectors).

decode_fuzz reads byte 0 as the TTL and the rest as the IP payload, and also the whole input
as a payload with TTL 255; the seeds cover both readings.
"""
import pathlib

TV1 = bytes.fromhex("210100070001a4d90102030405060708adea55cad5e9881574e82c1c92cb99ca28c1d1f8")
TV2 = bytes.fromhex("210764070001899f00000000deadbeef9304ec2c99c2117ddbf72c27beaeef5bc531ade6")
TV3A = bytes.fromhex("210300070001e8761122334455667788ccfcd6f8fa7bd576291cabbd0b38a3c01c1cd151")
TV3B = bytes.fromhex("2103000700019aff1122334455667788f46493b3724d998370b610f4b4e7b26e29ab8c0a")
TV6 = bytes.fromhex("2101000700010b9101020304050607086cf532a60b662cbc11cc33c7c2efe307953a6ace")

SEEDS = {
    "tv1_header": TV1,                          # accepted (TTL 255)
    "ttl255_tv1": b"\xff" + TV1,                # accepted via the TTL-prefixed reading
    "ttl254_tv1": b"\xfe" + TV1,                # badttl
    "ttl1_tv3b": b"\x01" + TV3B,                # unicast VHID: TTL skipped, accepted
    "tv3a_header": TV3A,                        # accepted (vhid 3, NOV6LL digest)
    "tv2_own_counter": TV2,                     # loop: counter equals vhid 7's own
    "tv6_wrong_key": TV6,                       # badauth against vhid 1
    "tv1_trailing": TV1 + b"\xde\xad\xbe\xef",  # trailing bytes ignored
    "tv1_truncated_35": TV1[:35],               # badlen
    "tv1_truncated_7": TV1[:7],                 # badlen before the version
    "vrrp3_header": bytes.fromhex("3101640100640000"),  # badver (FreeBSD VRRPv3)
    "tv1_bad_checksum": TV1[:6] + bytes([TV1[6] ^ 0xff]) + TV1[7:],  # badsum
    "unknown_vhid": TV1[:1] + b"\x09" + TV1[2:6] + bytes([TV1[6], TV1[7] - 8]) + TV1[8:],
    # TTL 0x21, then a header whose checksum field is ffff where encodeHeader writes 0000:
    # both verify (found by libFuzzer in the fuzz target's own re-encoding check).
    "checksum_ffff_equivalent": bytes.fromhex("2120ff0000ff00ffffffffffffdfffffffffffffffffffffffffffffffffffffffffffffff"),
}

out = pathlib.Path(__file__).resolve().parent / "corpus" / "decode"
out.mkdir(parents=True, exist_ok=True)
for name, data in SEEDS.items():
    (out / name).write_bytes(data)
