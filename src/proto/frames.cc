#include "proto/frames.h"

#include <array>

#include "proto/byte_reader.h"
#include "proto/checksum.h"

namespace carp::proto {
namespace {

constexpr std::size_t kEthernetHeaderSize = 14;
constexpr std::size_t kIpv4HeaderSize = 20;
constexpr std::size_t kIpv6HeaderSize = 40;
constexpr std::size_t kArpSize = 28;
constexpr std::size_t kNaSize = 24;              // ICMPv6 header 4 + flags 4 + target 16
constexpr std::size_t kLinkLayerOptionSize = 8;  // type, length (in 8-byte units), MAC
constexpr std::uint8_t kIpProtoIcmpv6 = 58;
constexpr std::uint8_t kIcmpv6NeighborAdvert = 136;
constexpr std::uint8_t kNdOptTargetLinkAddr = 2;
constexpr std::uint8_t kNaFlagRouter = 0x80;
constexpr std::uint8_t kNaFlagOverride = 0x20;
constexpr MacAddress kBroadcastMac = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

// Appends big-endian fields to a frame under construction.
class FrameWriter {
 public:
  explicit FrameWriter(std::size_t capacity) { bytes_.reserve(capacity); }
  void u8(std::uint8_t v) { bytes_.push_back(v); }
  void u16(std::uint16_t v) {
    bytes_.push_back(static_cast<std::uint8_t>(v >> 8));
    bytes_.push_back(static_cast<std::uint8_t>(v & 0xff));
  }
  void raw(std::span<const std::uint8_t> data) {
    bytes_.insert(bytes_.end(), data.begin(), data.end());
  }
  void ipv4(const IpAddress& a) { raw(std::span(a.bytes).first<4>()); }
  void ipv6(const IpAddress& a) { raw(a.bytes); }
  void ethernet(const MacAddress& dst, const MacAddress& src, std::uint16_t ether_type) {
    raw(dst);
    raw(src);
    u16(ether_type);
  }
  // Writes a checksum big-endian at an offset reserved earlier with u16(0).
  void patch16(std::size_t offset, std::uint16_t v) {
    bytes_[offset] = static_cast<std::uint8_t>(v >> 8);
    bytes_[offset + 1] = static_cast<std::uint8_t>(v & 0xff);
  }
  std::size_t size() const { return bytes_.size(); }
  std::span<const std::uint8_t> from(std::size_t offset) const {
    return std::span(bytes_).subspan(offset);
  }
  std::vector<std::uint8_t> take() { return std::move(bytes_); }

 private:
  std::vector<std::uint8_t> bytes_;
};

bool isMulticast(const IpAddress& a) {
  return a.family == Family::kIPv4 ? (a.bytes[0] & 0xf0) == 0xe0 : a.bytes[0] == 0xff;
}

// IPv6 fixed header: version 6, traffic class, flow label 0.
void writeIpv6Header(FrameWriter& w, std::uint8_t traffic_class, std::uint16_t payload_length,
                     std::uint8_t next_header, const IpAddress& src, const IpAddress& dst) {
  w.u8(static_cast<std::uint8_t>(0x60 | traffic_class >> 4));
  w.u8(static_cast<std::uint8_t>((traffic_class & 0x0f) << 4));
  w.u16(0);
  w.u16(payload_length);
  w.u8(next_header);
  w.u8(kCarpTtl);
  w.ipv6(src);
  w.ipv6(dst);
}

}  // namespace

IpAddress carpGroupV4() noexcept { return IpAddress::v4({224, 0, 0, 18}); }

IpAddress carpGroupV6() noexcept {
  return IpAddress::v6({0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12});
}

MacAddress multicastMacFor(const IpAddress& address) noexcept {
  if (!isMulticast(address)) return kBroadcastMac;
  const auto& b = address.bytes;
  if (address.family == Family::kIPv4) {
    return {0x01, 0x00, 0x5e, static_cast<std::uint8_t>(b[1] & 0x7f), b[2], b[3]};
  }
  return {0x33, 0x33, b[12], b[13], b[14], b[15]};
}

std::vector<std::uint8_t> buildAdvertFrameV4(MacAddress src_mac, const IpAddress& src,
                                             const IpAddress& dst, std::uint16_t ip_id,
                                             std::uint8_t tos,
                                             std::span<const std::uint8_t, kCarpHeaderSize> carp,
                                             std::optional<MacAddress> dst_mac) {
  if (src.family != Family::kIPv4 || dst.family != Family::kIPv4) return {};
  constexpr std::uint16_t kDontFragment = 0x4000;
  FrameWriter w(kEthernetHeaderSize + kIpv4HeaderSize + kCarpHeaderSize);
  w.ethernet(dst_mac.value_or(multicastMacFor(dst)), src_mac, kEtherTypeIpv4);
  const std::size_t ip = w.size();
  w.u8(0x45);  // version 4, IHL 5: no options
  w.u8(tos);
  w.u16(static_cast<std::uint16_t>(kIpv4HeaderSize + kCarpHeaderSize));
  w.u16(ip_id);
  w.u16(kDontFragment);
  w.u8(kCarpTtl);
  w.u8(kCarpIpProtocol);
  w.u16(0);  // header checksum, patched below
  w.ipv4(src);
  w.ipv4(dst);
  w.patch16(ip + 10, internetChecksum(w.from(ip).first(kIpv4HeaderSize)));
  w.raw(carp);
  return w.take();
}

std::vector<std::uint8_t> buildAdvertFrameV6(MacAddress src_mac, const IpAddress& src,
                                             const IpAddress& dst, std::uint8_t traffic_class,
                                             std::span<const std::uint8_t, kCarpHeaderSize> carp,
                                             std::optional<MacAddress> dst_mac) {
  if (src.family != Family::kIPv6 || dst.family != Family::kIPv6) return {};
  FrameWriter w(kEthernetHeaderSize + kIpv6HeaderSize + kCarpHeaderSize);
  w.ethernet(dst_mac.value_or(multicastMacFor(dst)), src_mac, kEtherTypeIpv6);
  writeIpv6Header(w, traffic_class, static_cast<std::uint16_t>(kCarpHeaderSize), kCarpIpProtocol,
                  src, dst);
  w.raw(carp);
  return w.take();
}

namespace {

// An Ethernet broadcast ARP request (RFC 826) with an unknown target hardware address.
std::vector<std::uint8_t> arpRequest(MacAddress src_mac, MacAddress sender_mac,
                                     const IpAddress& sender, const IpAddress& target) {
  constexpr std::uint16_t kHardwareEthernet = 1;
  constexpr std::uint16_t kArpRequest = 1;
  FrameWriter w(kEthernetHeaderSize + kArpSize);
  w.ethernet(kBroadcastMac, src_mac, kEtherTypeArp);
  w.u16(kHardwareEthernet);
  w.u16(kEtherTypeIpv4);
  w.u8(6);  // hardware address length
  w.u8(4);  // protocol address length
  w.u16(kArpRequest);
  w.raw(sender_mac);    // sender hardware address
  w.ipv4(sender);       // sender protocol address
  w.raw(MacAddress{});  // target hardware address: unknown
  w.ipv4(target);       // target protocol address
  return w.take();
}

}  // namespace

std::vector<std::uint8_t> buildGratuitousArp(MacAddress src_mac, const IpAddress& address,
                                             std::optional<MacAddress> sender_mac) {
  if (address.family != Family::kIPv4) return {};
  // Target protocol address = sender: gratuitous.
  return arpRequest(src_mac, sender_mac.value_or(src_mac), address, address);
}

std::vector<std::uint8_t> buildArpRequest(MacAddress src_mac, const IpAddress& sender,
                                          const IpAddress& target) {
  if (sender.family != Family::kIPv4 || target.family != Family::kIPv4) return {};
  return arpRequest(src_mac, src_mac, sender, target);
}

std::vector<std::uint8_t> buildUnsolicitedNa(MacAddress src_mac, const IpAddress& target,
                                             bool router) {
  if (target.family != Family::kIPv6) return {};
  const IpAddress all_nodes =
      IpAddress::v6({0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01});
  constexpr auto kIcmpSize = static_cast<std::uint16_t>(kNaSize + kLinkLayerOptionSize);
  FrameWriter w(kEthernetHeaderSize + kIpv6HeaderSize + kIcmpSize);
  w.ethernet(multicastMacFor(all_nodes), src_mac, kEtherTypeIpv6);
  // Source = the target itself, as Linux ndisc_send_unsol_na does; RFC 4861 §7.2.6 allows
  // any address of the interface. Hop limit 255 is required (RFC 4861 §7.1.2).
  writeIpv6Header(w, 0, kIcmpSize, kIpProtoIcmpv6, target, all_nodes);
  const std::size_t icmp = w.size();
  w.u8(kIcmpv6NeighborAdvert);
  w.u8(0);   // code
  w.u16(0);  // checksum, patched below
  // OpenBSD carp_send_na: ND_NA_FLAG_OVERRIDE, plus ND_NA_FLAG_ROUTER when forwarding; never
  // Solicited, since nobody asked (RFC 4861 §7.2.6).
  w.u8(static_cast<std::uint8_t>(kNaFlagOverride | (router ? kNaFlagRouter : 0)));
  w.u8(0);
  w.u16(0);
  w.ipv6(target);
  w.u8(kNdOptTargetLinkAddr);
  w.u8(1);  // length in units of 8 bytes
  w.raw(src_mac);
  w.patch16(icmp + 2, ipv6PseudoHeaderChecksum(target, all_nodes, kIpProtoIcmpv6, w.from(icmp)));
  return w.take();
}

std::optional<ArpMessage> decodeArpFrame(std::span<const std::uint8_t> frame) noexcept {
  // Every read below then succeeds: a short frame would let a later, smaller read succeed
  // where an earlier one failed.
  if (frame.size() < kEthernetHeaderSize + kArpSize) return std::nullopt;
  ByteReader r(frame);
  ArpMessage m;
  const auto destination = r.bytes<6>();
  r.skip(6);
  const auto ether_type = r.u16();
  const auto hardware = r.u16();
  const auto protocol = r.u16();
  const auto hardware_length = r.u8();
  const auto protocol_length = r.u8();
  const auto operation = r.u16();
  const auto sender_mac = r.bytes<6>();
  const auto sender_ip = r.bytes<4>();
  const auto target_mac = r.bytes<6>();
  const auto target_ip = r.bytes<4>();
  if (*ether_type != kEtherTypeArp || *hardware != 1 || *protocol != kEtherTypeIpv4 ||
      *hardware_length != 6 || *protocol_length != 4) {
    return std::nullopt;
  }
  m.operation = *operation;
  m.destination = *destination;
  m.sender_mac = *sender_mac;
  m.sender_ip = IpAddress::v4(*sender_ip);
  m.target_mac = *target_mac;
  m.target_ip = IpAddress::v4(*target_ip);
  return m;
}

}  // namespace carp::proto
