#pragma once
// The test vectors of carp-wire.md §2.8, copied here so that no test reads ../shared.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "proto/address.h"
#include "proto/header.h"

namespace carp::proto::tv {

// "21 01 00 07" -> bytes; spaces are ignored. Test-only: aborts the test binary on bad input.
inline std::vector<std::uint8_t> fromHex(std::string_view hex) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::vector<std::uint8_t> out;
  int high = -1;
  for (char c : hex) {
    if (c == ' ') continue;
    const int n = nibble(c);
    if (n < 0) return {};
    if (high < 0) {
      high = n;
    } else {
      out.push_back(static_cast<std::uint8_t>(high << 4 | n));
      high = -1;
    }
  }
  return out;
}

inline std::string toHex(std::span<const std::uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (std::uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0x0f]);
  }
  return out;
}

template <std::size_t N>
std::array<std::uint8_t, N> arrayFromHex(std::string_view hex) {
  std::array<std::uint8_t, N> out{};
  const auto bytes = fromHex(hex);
  for (std::size_t i = 0; i < N && i < bytes.size(); ++i) out[i] = bytes[i];
  return out;
}

inline IpAddress v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  return IpAddress::v4({a, b, c, d});
}
inline IpAddress v6(std::string_view hex32) { return IpAddress::v6(arrayFromHex<16>(hex32)); }

// One §2.8 vector: inputs and expected outputs.
struct Vector {
  const char* name;
  std::string_view passphrase;
  std::uint8_t vhid;
  std::vector<IpAddress> addresses;
  bool include_link_local;  // true: the ORIG variant is the one sent
  bool has_lladdr;
  MacAddress lladdr;
  std::uint8_t advbase;
  std::uint8_t advskew;
  std::uint8_t demote;
  std::string_view counter;
  std::string_view key;      // expected 20-byte key, or empty if not given in §2.8
  std::string_view message;  // expected M (without the counter)
  std::string_view md;
  std::string_view header36;
};

inline std::vector<Vector> allVectors() {
  const MacAddress none{};
  return {
      {"TV1",
       "secret",
       1,
       {v4(192, 168, 1, 1)},
       false,
       false,
       none,
       1,
       0,
       0,
       "0102030405060708",
       "7365637265740000000000000000000000000000",
       "020101c0a80101",
       "adea55cad5e9881574e82c1c92cb99ca28c1d1f8",
       "210100070001a4d90102030405060708adea55cad5e9881574e82c1c92cb99ca28c1d1f8"},
      {"TV2",
       "mekmitasdigoat",
       7,
       {v4(10, 0, 0, 20), v4(10, 0, 0, 3)},
       false,
       false,
       none,
       1,
       100,
       0,
       "00000000deadbeef",
       "6d656b6d697461736469676f6174000000000000",
       "0201070a0000030a000014",
       "9304ec2c99c2117ddbf72c27beaeef5bc531ade6",
       "210764070001899f00000000deadbeef9304ec2c99c2117ddbf72c27beaeef5bc531ade6"},
      {"TV2b",
       "mekmitasdigoat",
       7,
       {v4(10, 0, 0, 20), v4(10, 0, 0, 3)},
       false,
       false,
       none,
       1,
       100,
       1,
       "00000000deadbeef",
       "6d656b6d697461736469676f6174000000000000",
       "0201070a0000030a000014",
       "9304ec2c99c2117ddbf72c27beaeef5bc531ade6",
       "210764070101889f00000000deadbeef9304ec2c99c2117ddbf72c27beaeef5bc531ade6"},
      {"TV3a",
       "carp6",
       3,
       {v6("20010db8000000000000000000000001"), v6("fe800000000000000000000000000001")},
       false,
       false,
       none,
       1,
       0,
       0,
       "1122334455667788",
       "",
       "02010320010db8000000000000000000000001",
       "ccfcd6f8fa7bd576291cabbd0b38a3c01c1cd151",
       "210300070001e8761122334455667788ccfcd6f8fa7bd576291cabbd0b38a3c01c1cd151"},
      {"TV3b",
       "carp6",
       3,
       {v6("20010db8000000000000000000000001"), v6("fe800000000000000000000000000001")},
       true,
       false,
       none,
       1,
       0,
       0,
       "1122334455667788",
       "",
       "02010320010db8000000000000000000000001fe800000000000000000000000000001",
       "f46493b3724d998370b610f4b4e7b26e29ab8c0a",
       "2103000700019aff1122334455667788f46493b3724d998370b610f4b4e7b26e29ab8c0a"},
      {"TV4",
       "this-passphrase-is-longer-than-19",
       42,
       {v4(203, 0, 113, 9), v4(198, 51, 100, 7), v6("20010db8000100000000000000000010")},
       false,
       false,
       none,
       2,
       20,
       0,
       "8000000000000001",
       "746869732d706173737068726173652d69732d00",
       "02012ac6336407cb00710920010db8000100000000000000000010",
       "19c2b8cc87f724bfcb94e3c5bf0096b078653cc1",
       "212a140700021153800000000000000119c2b8cc87f724bfcb94e3c5bf0096b078653cc1"},
      {"TV5",
       "secret",
       1,
       {v4(192, 168, 1, 1)},
       false,
       true,
       MacAddress{0x02, 0x00, 0x5e, 0x10, 0x20, 0x30},
       1,
       0,
       0,
       "0102030405060708",
       "",
       "020102005e10203001c0a80101",
       "d0b45ff6f3eaae8fc505de7ea616fefc21da999b",
       "210100070001f7ae0102030405060708d0b45ff6f3eaae8fc505de7ea616fefc21da999b"},
      {"TV6",
       "",
       1,
       {v4(192, 168, 1, 1)},
       false,
       false,
       none,
       1,
       0,
       0,
       "0102030405060708",
       "0000000000000000000000000000000000000000",
       "020101c0a80101",
       "6cf532a60b662cbc11cc33c7c2efe307953a6ace",
       "2101000700010b9101020304050607086cf532a60b662cbc11cc33c7c2efe307953a6ace"},
  };
}

// TV1 as complete Ethernet frames: src MAC 00:00:5e:00:01:01, IPv4 src 192.168.1.2,
// dst 224.0.0.18, IP ID 0x1234.
inline constexpr std::string_view kTv1FrameObsd =
    "01005e00001200005e00010108004510003812344000ff70c754c0a80102e0000012"
    "210100070001a4d90102030405060708adea55cad5e9881574e82c1c92cb99ca28c1d1f8";
inline constexpr std::string_view kTv1FrameFbsd =
    "01005e00001200005e000101080045e0003812344000ff70c684c0a80102e0000012"
    "210100070001a4d90102030405060708adea55cad5e9881574e82c1c92cb99ca28c1d1f8";

inline CarpHeader headerOf(const Vector& v, const CarpDigest& digest) {
  CarpHeader h;
  h.vhid = v.vhid;
  h.advskew = v.advskew;
  h.demote = v.demote;
  h.advbase = v.advbase;
  h.counter = arrayFromHex<8>(v.counter);
  h.digest = digest;
  return h;
}

}  // namespace carp::proto::tv
