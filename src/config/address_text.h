#pragma once
// The text form of addresses ("192.0.2.1", "2001:db8::1/64"), shared by the configuration,
// the daemon's logs and the control protocol. proto keeps addresses as bytes only.

#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "proto/address.h"

namespace carp::config {

// inet_ntop form: "192.0.2.1", "2001:db8::1" (RFC 5952 compressed, as glibc prints it).
std::string formatAddress(const proto::IpAddress& address);
// "192.0.2.1/24", "2001:db8::1/64".
std::string formatInterfaceAddress(const proto::InterfaceAddress& address);
std::vector<std::string> formatAddresses(const std::vector<proto::InterfaceAddress>& addresses);

// A plain IPv4 (dotted quad) or IPv6 address as inet_pton accepts it; no prefix, no scope
// ("%eth0"), no surrounding whitespace. Says nothing about whether it is usable.
std::optional<proto::IpAddress> parseIpAddress(std::string_view text);

// "ADDR/PREFIX" with a prefix length of 1..32 (IPv4) or 1..128 (IPv6). Host bits may be set:
// it is an interface address, not a network. On failure, a one-line reason that quotes `text`.
tl::expected<proto::InterfaceAddress, std::string> parseInterfaceAddressOrError(
    std::string_view text);
std::optional<proto::InterfaceAddress> parseInterfaceAddress(std::string_view text);

// Why `address` cannot be a CARP virtual address or unicast peer ("is a multicast address"),
// or nullopt when it is a unicast address. Rejects the unspecified address, loopback,
// multicast, the IPv4 limited broadcast and IPv4-mapped IPv6 addresses.
std::optional<std::string> unicastProblem(const proto::IpAddress& address);

}  // namespace carp::config
