#include "config/address_text.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>

namespace carp::config {

std::string formatAddress(const proto::IpAddress& address) {
  std::array<char, INET6_ADDRSTRLEN> buffer{};
  const int family = address.family == proto::Family::kIPv4 ? AF_INET : AF_INET6;
  if (inet_ntop(family, address.bytes.data(), buffer.data(), buffer.size()) == nullptr) {
    return "?";  // cannot happen: the buffer fits the longest form of both families
  }
  return buffer.data();
}

std::string formatInterfaceAddress(const proto::InterfaceAddress& address) {
  return formatAddress(address.address) + "/" + std::to_string(address.prefix_length);
}

std::vector<std::string> formatAddresses(const std::vector<proto::InterfaceAddress>& addresses) {
  std::vector<std::string> out;
  out.reserve(addresses.size());
  for (const auto& a : addresses) out.push_back(formatInterfaceAddress(a));
  return out;
}

std::optional<proto::IpAddress> parseIpAddress(std::string_view text) {
  // inet_pton needs a NUL-terminated string, and an embedded NUL must not cut the text short.
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN ||
      text.find('\0') != std::string_view::npos) {
    return std::nullopt;
  }
  const std::string s(text);
  std::array<std::uint8_t, 4> v4{};
  if (inet_pton(AF_INET, s.c_str(), v4.data()) == 1) return proto::IpAddress::v4(v4);
  std::array<std::uint8_t, 16> v6{};
  if (inet_pton(AF_INET6, s.c_str(), v6.data()) == 1) return proto::IpAddress::v6(v6);
  return std::nullopt;
}

tl::expected<proto::InterfaceAddress, std::string> parseInterfaceAddressOrError(
    std::string_view text) {
  // Built with append rather than operator+ chains, which trip GCC 12's false -Wrestrict at -O3
  // (GCC bug 105329).
  std::string quoted;
  quoted.reserve(text.size() + 2);
  quoted.append(1, '\'').append(text).append(1, '\'');
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) {
    return tl::make_unexpected(quoted + " has no prefix length (write ADDR/PREFIX)");
  }
  const auto address = parseIpAddress(text.substr(0, slash));
  if (!address) {
    return tl::make_unexpected(quoted + " is not an IPv4 or IPv6 address");
  }
  const auto prefix_text = text.substr(slash + 1);
  const int max_prefix = address->family == proto::Family::kIPv4 ? 32 : 128;
  int prefix = -1;
  // from_chars accepts no sign, space or "0x", so "/+24" and "/ 24" are refused.
  const auto [end, ec] =
      std::from_chars(prefix_text.data(), prefix_text.data() + prefix_text.size(), prefix);
  if (prefix_text.empty() || ec != std::errc() || end != prefix_text.data() + prefix_text.size() ||
      prefix < 1 || prefix > max_prefix) {
    return tl::make_unexpected(quoted + ": prefix length must be 1.." + std::to_string(max_prefix) +
                               " for " +
                               (address->family == proto::Family::kIPv4 ? "IPv4" : "IPv6"));
  }
  return proto::InterfaceAddress{*address, static_cast<std::uint8_t>(prefix)};
}

std::optional<proto::InterfaceAddress> parseInterfaceAddress(std::string_view text) {
  auto result = parseInterfaceAddressOrError(text);
  if (!result) return std::nullopt;
  return *result;
}

std::optional<std::string> unicastProblem(const proto::IpAddress& address) {
  const auto& b = address.bytes;
  if (address.family == proto::Family::kIPv4) {
    if (b[0] == 0 && b[1] == 0 && b[2] == 0 && b[3] == 0) return "is the unspecified address";
    if (b[0] == 127) return "is a loopback address";
    if (b[0] >= 224 && b[0] <= 239) return "is a multicast address";
    if (b[0] == 255 && b[1] == 255 && b[2] == 255 && b[3] == 255) {
      return "is the broadcast address";
    }
    return std::nullopt;
  }
  const bool first10_zero = std::all_of(b.begin(), b.begin() + 10, [](auto x) { return x == 0; });
  const bool first15_zero =
      first10_zero && std::all_of(b.begin() + 10, b.begin() + 15, [](auto x) { return x == 0; });
  if (first15_zero && b[15] == 0) return "is the unspecified address";
  if (first15_zero && b[15] == 1) return "is a loopback address";
  if (b[0] == 0xff) return "is a multicast address";
  // ::ffff:a.b.c.d would be an IPv4 address in disguise; CARP sends IPv4 for those.
  if (first10_zero && b[10] == 0xff && b[11] == 0xff) return "is an IPv4-mapped IPv6 address";
  return std::nullopt;
}

}  // namespace carp::config
