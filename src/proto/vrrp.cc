#include "proto/vrrp.h"

#include "proto/byte_reader.h"
#include "proto/checksum.h"

namespace carp::proto {
namespace {

constexpr std::uint8_t kVrrpAdvertisement = 1;
constexpr std::uint8_t kVrrpV2MaxAuthType = 2;  // RFC 2338: none, simple text, IP AH
constexpr std::size_t kVrrpV2AuthDataSize = 8;

std::optional<VrrpAdvert> decodeV2(std::span<const std::uint8_t> payload) noexcept {
  // RFC 3768 §5.1: version/type, VRID, priority, count, auth type, adver int, checksum,
  // count IPv4 addresses, 8 bytes of authentication data. IPv4 only.
  ByteReader r(payload);
  VrrpAdvert advert;
  advert.version = 2;
  r.skip(1);
  advert.vrid = *r.u8();
  advert.priority = *r.u8();
  const std::uint8_t count = *r.u8();
  const std::uint8_t auth_type = *r.u8();
  advert.interval = *r.u8();
  r.skip(2);
  if (auth_type > kVrrpV2MaxAuthType) return std::nullopt;
  if (payload.size() != 8 + 4U * count + kVrrpV2AuthDataSize) return std::nullopt;
  if (internetChecksum(payload) != 0) return std::nullopt;
  for (std::uint8_t i = 0; i < count; ++i) advert.addresses.push_back(IpAddress::v4(*r.bytes<4>()));
  return advert;
}

std::optional<VrrpAdvert> decodeV3(std::span<const std::uint8_t> payload, Family family) noexcept {
  // RFC 9568 §5.1: version/type, VRID, priority, count, rsvd(4) + max adver int(12), checksum,
  // count addresses of the packet's family.
  ByteReader r(payload);
  VrrpAdvert advert;
  advert.version = 3;
  r.skip(1);
  advert.vrid = *r.u8();
  advert.priority = *r.u8();
  const std::uint8_t count = *r.u8();
  advert.interval = *r.u16() & 0x0fff;
  r.skip(2);
  const std::size_t size = family == Family::kIPv4 ? 4 : 16;
  if (payload.size() != 8 + size * count) return std::nullopt;
  for (std::uint8_t i = 0; i < count; ++i) {
    if (family == Family::kIPv4) {
      advert.addresses.push_back(IpAddress::v4(*r.bytes<4>()));
    } else {
      advert.addresses.push_back(IpAddress::v6(*r.bytes<16>()));
    }
  }
  return advert;
}

}  // namespace

std::optional<VrrpAdvert> decodeVrrp(std::span<const std::uint8_t> ip_payload,
                                     Family family) noexcept {
  if (ip_payload.size() < 8) return std::nullopt;
  const std::uint8_t version = ip_payload[0] >> 4;
  const std::uint8_t type = ip_payload[0] & 0x0f;
  if (type != kVrrpAdvertisement || ip_payload[1] == 0) return std::nullopt;
  if (version == 2 && family == Family::kIPv4) return decodeV2(ip_payload);
  if (version == 3) return decodeV3(ip_payload, family);
  return std::nullopt;
}

}  // namespace carp::proto
