#pragma once
// Complete Ethernet frames for an AF_PACKET sender: CARP advertisements over IPv4 and IPv6,
// gratuitous ARP and unsolicited neighbour advertisements. Pure byte producers: they read no
// interface state, and every choice (addresses, IP ID, TOS) is a parameter.

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "proto/address.h"
#include "proto/header.h"
#include "proto/types.h"

namespace carp::proto {

inline constexpr std::uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr std::uint16_t kEtherTypeArp = 0x0806;
inline constexpr std::uint16_t kEtherTypeIpv6 = 0x86dd;
inline constexpr std::uint8_t kCarpTtl = 255;      // sent and required (carp-wire.md §1.3, §3)
inline constexpr std::uint8_t kTosOpenBsd = 0x10;  // IPTOS_LOWDELAY, OpenBSD carp_send_ad
inline constexpr std::uint8_t kTosFreeBsd = 0xe0;  // DSCP CS7 (56 << 2), FreeBSD default

// 224.0.0.18 and ff02::12 (INADDR_CARP_GROUP, the CARP IPv6 group).
IpAddress carpGroupV4() noexcept;
IpAddress carpGroupV6() noexcept;

// The Ethernet destination for an IP multicast address: 01:00:5e + the low 23 bits for IPv4
// (RFC 1112), 33:33 + the last 4 bytes for IPv6 (RFC 2464). Unicast addresses have no such
// mapping; they give ff:ff:ff:ff:ff:ff, and callers must pass the resolved MAC instead.
MacAddress multicastMacFor(const IpAddress& address) noexcept;

// 14 + 20 + 36 = 70 bytes: Ethernet (dst = `dst_mac`, or multicastMacFor(dst)), IPv4 without
// options, TOS `tos`, total length 56, ID `ip_id`, DF, TTL 255, protocol 112, header checksum,
// then `carp` (OpenBSD ip_carp.c carp_send_ad, FreeBSD carp_send_ad_locked). Returns an empty
// vector if `src` or `dst` is not IPv4.
std::vector<std::uint8_t> buildAdvertFrameV4(MacAddress src_mac, const IpAddress& src,
                                             const IpAddress& dst, std::uint16_t ip_id,
                                             std::uint8_t tos,
                                             std::span<const std::uint8_t, kCarpHeaderSize> carp,
                                             std::optional<MacAddress> dst_mac = {});

// 14 + 40 + 36 = 90 bytes: Ethernet (dst = `dst_mac`, or multicastMacFor(dst)), IPv6 with
// traffic class `traffic_class`, flow label 0, payload length 36, next header 112, hop limit
// 255, then `carp` (OpenBSD carp_send_ad sends TC 0; FreeBSD dscp << 2). Returns an empty
// vector if `src` or `dst` is not IPv6.
std::vector<std::uint8_t> buildAdvertFrameV6(MacAddress src_mac, const IpAddress& src,
                                             const IpAddress& dst, std::uint8_t traffic_class,
                                             std::span<const std::uint8_t, kCarpHeaderSize> carp,
                                             std::optional<MacAddress> dst_mac = {});

// 42 bytes: a broadcast ARP request announcing `address` (IPv4) at `src_mac`: Ethernet source
// and sender hardware address `src_mac`, sender and target protocol address `address`, target
// hardware address zero (OpenBSD ip_carp.c carp_send_arp -> arprequest). The NIC pads it to
// the 60-byte minimum. Returns an empty vector if `address` is not IPv4. `sender_mac`, when
// given, replaces `src_mac` as sender hardware address only (load balancing announces a MAC
// that it never sends from, carp-wire.md §5.1).
std::vector<std::uint8_t> buildGratuitousArp(MacAddress src_mac, const IpAddress& address,
                                             std::optional<MacAddress> sender_mac = {});

// 42 bytes: a broadcast ARP request "who has `target`, tell `sender`" from `src_mac`. With
// sender 0.0.0.0 it is an ARP probe (RFC 5227 §2.1.1): the owner of `target` answers to
// `src_mac` and no neighbour learns a mapping from it, which makes it a safe way to test whether
// frames from a MAC reach the segment (carpctl doctor's virtual MAC check). Empty if either
// address is not IPv4.
std::vector<std::uint8_t> buildArpRequest(MacAddress src_mac, const IpAddress& sender,
                                          const IpAddress& target);

// An Ethernet ARP message for IPv4, as carpctl doctor reads the answers to its probes.
struct ArpMessage {
  std::uint16_t operation = 0;  // 1 request, 2 reply
  MacAddress destination{};     // Ethernet destination
  MacAddress sender_mac{};
  IpAddress sender_ip;
  MacAddress target_mac{};
  IpAddress target_ip;
  bool operator==(const ArpMessage&) const = default;
};

// Decodes an Ethernet frame holding ARP for IPv4 over Ethernet; nullopt for anything else.
std::optional<ArpMessage> decodeArpFrame(std::span<const std::uint8_t> frame) noexcept;

// 14 + 40 + 32 = 86 bytes: an unsolicited neighbour advertisement for `target` (IPv6) to
// all-nodes ff02::1 (33:33:00:00:00:01), IPv6 source `target`, hop limit 255, ICMPv6 type 136
// code 0, flags Override (+ Router if `router`), never Solicited, and a target link-layer
// address option carrying `src_mac` (OpenBSD carp_send_na -> nd6_na_output; RFC 4861 §7.2.6).
// Returns an empty vector if `target` is not IPv6.
std::vector<std::uint8_t> buildUnsolicitedNa(MacAddress src_mac, const IpAddress& target,
                                             bool router);

}  // namespace carp::proto
