#pragma once
// rtnetlink link and address messages, decoded into plain values (libmnl attribute
// validation), and the address request builder shared by the address manager and tests.

#include <linux/netlink.h>

#include <cstdint>
#include <optional>
#include <string>

#include "os/linux/netlink_socket.h"
#include "proto/address.h"
#include "proto/types.h"

namespace carp::os::lnx {

// The IFA_PROTO value that marks an address as carpd's own, so that a later carpd removes
// what an earlier one left behind and nothing else. 0..3 are the kernel's (IFAPROT_UNSPEC,
// _KERNEL_LO, _KERNEL_LL, _KERNEL_RA); 0x63 is 'c'. IFA_PROTO needs Linux >= 6.1 (both IPv4
// and IPv6); older kernels ignore the attribute, and the addresses then are not recognisable.
inline constexpr std::uint8_t kCarpdAddressProto = 0x63;

// The IFLA_IFALIAS prefix of carpd's macvlans; removeStale() deletes macvlans that have it.
inline constexpr const char* kCarpdAliasPrefix = "carpd ";

struct LinkMessage {
  int ifindex = 0;
  std::string name;
  std::optional<proto::MacAddress> mac;  // IFLA_ADDRESS, when 6 bytes long
  unsigned flags = 0;                    // ifi_flags (IFF_*)
  std::string kind;                      // IFLA_INFO_KIND ("macvlan", "veth"), may be empty
  std::string alias;                     // IFLA_IFALIAS
  int parent_ifindex = 0;                // IFLA_LINK, 0 when absent
  // Administratively up and operationally up (IFF_RUNNING is the kernel's "operstate UP or
  // UNKNOWN", which needs carrier and is what routing daemons use for link state).
  bool running() const noexcept;
};

struct AddressMessage {
  int ifindex = 0;
  proto::InterfaceAddress address;       // IFA_LOCAL, else IFA_ADDRESS
  std::optional<proto::IpAddress> peer;  // IFA_ADDRESS when it differs from IFA_LOCAL
  std::uint32_t flags = 0;               // IFA_FLAGS, else ifa_flags (IFA_F_*)
  std::uint8_t scope = 0;
  std::optional<std::uint8_t> protocol;  // IFA_PROTO
  bool carpdTagged() const noexcept { return protocol == kCarpdAddressProto; }
};

// Decode RTM_NEWLINK/RTM_DELLINK and RTM_NEWADDR/RTM_DELADDR; nullopt when the message is
// of another type or malformed.
std::optional<LinkMessage> parseLink(const nlmsghdr& nlh) noexcept;
std::optional<AddressMessage> parseAddress(const nlmsghdr& nlh) noexcept;

// Fills an RTM_NEWADDR/RTM_DELADDR request for `address` on `ifindex`: the family header,
// IFA_LOCAL and IFA_ADDRESS (= peer, or the address itself). For RTM_NEWADDR also IFA_PROTO
// = kCarpdAddressProto and, for IPv6, IFA_F_NODAD.
void fillAddressRequest(NetlinkRequest& request, int ifindex,
                        const proto::InterfaceAddress& address,
                        const std::optional<proto::IpAddress>& peer = std::nullopt);

}  // namespace carp::os::lnx
