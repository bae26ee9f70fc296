#pragma once
// rtnetlink link, address, route and rule messages, decoded into plain values (libmnl
// attribute validation), and the request builders shared by the address manager and tests.

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

// Source routing for the virtual addresses on a macvlan (NetlinkAddressManager::add): the
// rule "from <virtual address> lookup <table of the macvlan>" sends what the host sends from a
// virtual address to its subnet out of the macvlan, with the virtual MAC.
//
// The routes and rules carry rtm_protocol / FRA_PROTOCOL kCarpdRouteProto. That RTPROT_*
// space is not IFA_PROTO's: 0x63 (99) is RTPROT_OPENR there ("proto openr" in `ip rule`), so
// the protocol alone does not make a route or rule carpd's. carpd's are those with the
// protocol AND a table in [kCarpdRouteTableBase, kCarpdRouteTableBase + kCarpdRouteTableCount).
inline constexpr std::uint8_t kCarpdRouteProto = 0x63;
// One table per macvlan: base + the macvlan's ifindex. 0x63000000 + 2^24 stays far from the
// reserved ids (0, 252 compat, 253 default, 254 main, 255 local) and from RT_TABLE_MAX.
inline constexpr std::uint32_t kCarpdRouteTableBase = 0x63000000;
inline constexpr std::uint32_t kCarpdRouteTableCount = 1U << 24;
// Before "from all lookup main" (32766), so the rule is seen first; its table holds only the
// on-link subnets, so every other destination falls through to main (and its default route).
inline constexpr std::uint32_t kCarpdRulePriority = 1000;

// The table of the macvlan with that ifindex; nullopt when the ifindex does not fit.
std::optional<std::uint32_t> carpdRouteTable(int macvlan_ifindex) noexcept;
bool isCarpdRouteTable(std::uint32_t table) noexcept;

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

// An IPv4 or IPv6 route (only what carpd creates and deletes is decoded).
struct RouteMessage {
  proto::InterfaceAddress destination;  // RTA_DST and rtm_dst_len; all zero for a default
  std::uint32_t table = 0;              // RTA_TABLE, else rtm_table
  std::uint8_t protocol = 0;            // rtm_protocol (RTPROT_*)
  std::uint8_t scope = 0;               // rtm_scope (RT_SCOPE_*)
  std::uint8_t type = 0;                // rtm_type (RTN_*)
  std::uint8_t tos = 0;
  int oif = 0;                                       // RTA_OIF, 0 when absent
  std::optional<proto::IpAddress> preferred_source;  // RTA_PREFSRC
  std::optional<std::uint32_t> priority;             // RTA_PRIORITY (the metric)
  bool carpdTagged() const noexcept {
    return protocol == kCarpdRouteProto && isCarpdRouteTable(table);
  }
};

// An IPv4 or IPv6 FIB rule (selectors other than these are not decoded).
struct RuleMessage {
  proto::Family family = proto::Family::kIPv4;
  std::uint8_t action = 0;                             // FR_ACT_*
  std::uint32_t table = 0;                             // FRA_TABLE, else the header's table
  std::optional<std::uint32_t> priority;               // FRA_PRIORITY
  std::optional<proto::InterfaceAddress> source;       // FRA_SRC and src_len
  std::optional<proto::InterfaceAddress> destination;  // FRA_DST and dst_len
  std::uint8_t tos = 0;
  std::optional<std::uint8_t> protocol;  // FRA_PROTOCOL
  bool carpdTagged() const noexcept {
    return protocol == kCarpdRouteProto && isCarpdRouteTable(table);
  }
};

// Decode RTM_NEWLINK/RTM_DELLINK, RTM_NEWADDR/RTM_DELADDR, RTM_NEWROUTE/RTM_DELROUTE and
// RTM_NEWRULE/RTM_DELRULE; nullopt when the message is of another type or family, or
// malformed.
std::optional<LinkMessage> parseLink(const nlmsghdr& nlh) noexcept;
std::optional<AddressMessage> parseAddress(const nlmsghdr& nlh) noexcept;
std::optional<RouteMessage> parseRoute(const nlmsghdr& nlh) noexcept;
std::optional<RuleMessage> parseRule(const nlmsghdr& nlh) noexcept;

// Fills an RTM_NEWADDR/RTM_DELADDR request for `address` on `ifindex`: the family header,
// IFA_LOCAL and IFA_ADDRESS (= peer, or the address itself). For RTM_NEWADDR also IFA_PROTO
// = kCarpdAddressProto and, for IPv6, IFA_F_NODAD.
void fillAddressRequest(NetlinkRequest& request, int ifindex,
                        const proto::InterfaceAddress& address,
                        const std::optional<proto::IpAddress>& peer = std::nullopt);

// The connected route of `address`'s subnet in `table`, out of `ifindex`, with `address` as
// preferred source, tagged kCarpdRouteProto (scope link; IPv6 routes have no scope).
RouteMessage sourceRoute(int ifindex, std::uint32_t table, const proto::InterfaceAddress& address);
// "from <address>/32 (/128) lookup <table> priority kCarpdRulePriority", tagged.
RuleMessage sourceRule(std::uint32_t table, const proto::IpAddress& address);

// Fill an RTM_NEWROUTE/RTM_DELROUTE (RTM_NEWRULE/RTM_DELRULE) request with every field of the
// message. A delete matches on what is given: the kernel compares the protocol of both routes
// and rules, the preferred source of IPv4 routes only.
void fillRouteRequest(NetlinkRequest& request, const RouteMessage& route);
void fillRuleRequest(NetlinkRequest& request, const RuleMessage& rule);

}  // namespace carp::os::lnx
