#include "os/linux/netlink_messages.h"

#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <span>

namespace carp::os::lnx {
namespace {

// Collects the top-level attributes of a message into table[type]; types outside the table
// (newer kernels) are ignored.
template <std::size_t N>
void collect(const nlmsghdr& nlh, std::size_t header_size, std::array<const nlattr*, N>& table) {
  mnl_attr_parse(
      &nlh, static_cast<unsigned>(header_size),
      [](const nlattr* attr, void* data) -> int {
        auto& t = *static_cast<std::array<const nlattr*, N>*>(data);
        const auto type = mnl_attr_get_type(attr);
        if (type < N) t[type] = attr;
        return MNL_CB_OK;
      },
      &table);
}

template <std::size_t N>
void collectNested(const nlattr* nest, std::array<const nlattr*, N>& table) {
  mnl_attr_parse_nested(
      nest,
      [](const nlattr* attr, void* data) -> int {
        auto& t = *static_cast<std::array<const nlattr*, N>*>(data);
        const auto type = mnl_attr_get_type(attr);
        if (type < N) t[type] = attr;
        return MNL_CB_OK;
      },
      &table);
}

std::string stringAttribute(const nlattr* attr) {
  if (attr == nullptr) return {};
  // Not MNL_TYPE_NUL_STRING: be lenient about a missing terminator, but never read past it.
  const auto* data = static_cast<const char*>(mnl_attr_get_payload(attr));
  const std::size_t length = mnl_attr_get_payload_len(attr);
  return std::string(data, strnlen(data, length));
}

std::optional<proto::IpAddress> ipAttribute(const nlattr* attr, unsigned char family) {
  if (attr == nullptr) return std::nullopt;
  const std::size_t length = mnl_attr_get_payload_len(attr);
  const auto* data = static_cast<const std::uint8_t*>(mnl_attr_get_payload(attr));
  if (family == AF_INET && length == 4) {
    std::array<std::uint8_t, 4> bytes{};
    std::copy_n(data, 4, bytes.begin());
    return proto::IpAddress::v4(bytes);
  }
  if (family == AF_INET6 && length == 16) {
    std::array<std::uint8_t, 16> bytes{};
    std::copy_n(data, 16, bytes.begin());
    return proto::IpAddress::v6(bytes);
  }
  return std::nullopt;
}

void putIp(nlmsghdr* nlh, std::uint16_t type, const proto::IpAddress& address) {
  mnl_attr_put(nlh, type, address.family == proto::Family::kIPv4 ? 4 : 16, address.bytes.data());
}

unsigned char familyOf(proto::Family family) {
  return family == proto::Family::kIPv4 ? AF_INET : AF_INET6;
}

std::optional<proto::Family> familyFrom(unsigned char family) {
  if (family == AF_INET) return proto::Family::kIPv4;
  if (family == AF_INET6) return proto::Family::kIPv6;
  return std::nullopt;
}

std::uint8_t fullLength(proto::Family family) { return family == proto::Family::kIPv4 ? 32 : 128; }

std::optional<std::uint32_t> u32Attribute(const nlattr* attr) {
  if (attr == nullptr || mnl_attr_validate(attr, MNL_TYPE_U32) < 0) return std::nullopt;
  return mnl_attr_get_u32(attr);
}

// The 8-bit table field of rtmsg and fib_rule_hdr, which only holds ids below 256; the kernel
// takes the full id from RTA_TABLE / FRA_TABLE.
std::uint8_t shortTable(std::uint32_t table) {
  return static_cast<std::uint8_t>(table < 256 ? table : RT_TABLE_UNSPEC);
}

// The address with the bits beyond `length` cleared, as the kernel wants a route's RTA_DST.
proto::IpAddress networkOf(const proto::IpAddress& address, std::uint8_t length) {
  proto::IpAddress network = address;
  const std::size_t size = address.family == proto::Family::kIPv4 ? 4 : 16;
  for (std::size_t i = 0; i < size; ++i) {
    const std::size_t bit = i * 8;
    if (bit >= length) {
      network.bytes[i] = 0;
    } else if (bit + 8 > length) {
      network.bytes[i] &= static_cast<std::uint8_t>(0xff << (bit + 8 - length));
    }
  }
  return network;
}

}  // namespace

bool LinkMessage::running() const noexcept {
  return (flags & IFF_UP) != 0 && (flags & IFF_RUNNING) != 0;
}

std::optional<LinkMessage> parseLink(const nlmsghdr& nlh) noexcept {
  if (nlh.nlmsg_type != RTM_NEWLINK && nlh.nlmsg_type != RTM_DELLINK) return std::nullopt;
  if (mnl_nlmsg_get_payload_len(&nlh) < sizeof(ifinfomsg)) return std::nullopt;
  const auto* ifi = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(&nlh));
  std::array<const nlattr*, IFLA_MAX + 1> tb{};
  collect(nlh, sizeof(ifinfomsg), tb);

  LinkMessage link;
  link.ifindex = ifi->ifi_index;
  link.flags = ifi->ifi_flags;
  link.name = stringAttribute(tb[IFLA_IFNAME]);
  link.alias = stringAttribute(tb[IFLA_IFALIAS]);
  if (const nlattr* a = tb[IFLA_ADDRESS]; a != nullptr && mnl_attr_get_payload_len(a) == 6) {
    proto::MacAddress mac{};
    std::memcpy(mac.data(), mnl_attr_get_payload(a), mac.size());
    link.mac = mac;
  }
  if (const nlattr* a = tb[IFLA_LINK]; a != nullptr && mnl_attr_validate(a, MNL_TYPE_U32) >= 0) {
    link.parent_ifindex = static_cast<int>(mnl_attr_get_u32(a));
  }
  if (const nlattr* a = tb[IFLA_LINKINFO];
      a != nullptr && mnl_attr_validate(a, MNL_TYPE_NESTED) >= 0) {
    std::array<const nlattr*, IFLA_INFO_MAX + 1> info{};
    collectNested(a, info);
    link.kind = stringAttribute(info[IFLA_INFO_KIND]);
  }
  return link;
}

std::optional<AddressMessage> parseAddress(const nlmsghdr& nlh) noexcept {
  if (nlh.nlmsg_type != RTM_NEWADDR && nlh.nlmsg_type != RTM_DELADDR) return std::nullopt;
  if (mnl_nlmsg_get_payload_len(&nlh) < sizeof(ifaddrmsg)) return std::nullopt;
  const auto* ifa = static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(&nlh));
  if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6) return std::nullopt;
  std::array<const nlattr*, IFA_MAX + 1> tb{};
  collect(nlh, sizeof(ifaddrmsg), tb);

  const auto local = ipAttribute(tb[IFA_LOCAL], ifa->ifa_family);
  const auto address = ipAttribute(tb[IFA_ADDRESS], ifa->ifa_family);
  if (!local && !address) return std::nullopt;

  AddressMessage message;
  message.ifindex = static_cast<int>(ifa->ifa_index);
  message.address.address = local ? *local : *address;
  message.address.prefix_length = ifa->ifa_prefixlen;
  if (local && address && *local != *address) message.peer = address;
  message.flags = ifa->ifa_flags;
  if (const nlattr* a = tb[IFA_FLAGS]; a != nullptr && mnl_attr_validate(a, MNL_TYPE_U32) >= 0) {
    message.flags = mnl_attr_get_u32(a);
  }
  message.scope = ifa->ifa_scope;
  if (const nlattr* a = tb[IFA_PROTO]; a != nullptr && mnl_attr_validate(a, MNL_TYPE_U8) >= 0) {
    message.protocol = mnl_attr_get_u8(a);
  }
  return message;
}

std::optional<std::uint32_t> carpdRouteTable(int macvlan_ifindex) noexcept {
  if (macvlan_ifindex <= 0 ||
      static_cast<std::uint32_t>(macvlan_ifindex) >= kCarpdRouteTableCount) {
    return std::nullopt;
  }
  return kCarpdRouteTableBase + static_cast<std::uint32_t>(macvlan_ifindex);
}

bool isCarpdRouteTable(std::uint32_t table) noexcept {
  return table >= kCarpdRouteTableBase && table - kCarpdRouteTableBase < kCarpdRouteTableCount;
}

std::optional<RouteMessage> parseRoute(const nlmsghdr& nlh) noexcept {
  if (nlh.nlmsg_type != RTM_NEWROUTE && nlh.nlmsg_type != RTM_DELROUTE) return std::nullopt;
  if (mnl_nlmsg_get_payload_len(&nlh) < sizeof(rtmsg)) return std::nullopt;
  const auto* rtm = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(&nlh));
  const auto family = familyFrom(rtm->rtm_family);
  if (!family || rtm->rtm_dst_len > fullLength(*family)) return std::nullopt;
  std::array<const nlattr*, RTA_MAX + 1> tb{};
  collect(nlh, sizeof(rtmsg), tb);

  RouteMessage route;
  route.destination.address.family = *family;
  if (tb[RTA_DST] != nullptr) {
    const auto destination = ipAttribute(tb[RTA_DST], rtm->rtm_family);
    if (!destination) return std::nullopt;
    route.destination.address = *destination;
  }
  route.destination.prefix_length = rtm->rtm_dst_len;
  route.table = u32Attribute(tb[RTA_TABLE]).value_or(rtm->rtm_table);
  route.protocol = rtm->rtm_protocol;
  route.scope = rtm->rtm_scope;
  route.type = rtm->rtm_type;
  route.tos = rtm->rtm_tos;
  route.oif = static_cast<int>(u32Attribute(tb[RTA_OIF]).value_or(0));
  route.preferred_source = ipAttribute(tb[RTA_PREFSRC], rtm->rtm_family);
  route.priority = u32Attribute(tb[RTA_PRIORITY]);
  return route;
}

std::optional<RuleMessage> parseRule(const nlmsghdr& nlh) noexcept {
  if (nlh.nlmsg_type != RTM_NEWRULE && nlh.nlmsg_type != RTM_DELRULE) return std::nullopt;
  if (mnl_nlmsg_get_payload_len(&nlh) < sizeof(fib_rule_hdr)) return std::nullopt;
  const auto* frh = static_cast<const fib_rule_hdr*>(mnl_nlmsg_get_payload(&nlh));
  const auto family = familyFrom(frh->family);
  if (!family || frh->src_len > fullLength(*family) || frh->dst_len > fullLength(*family)) {
    return std::nullopt;
  }
  std::array<const nlattr*, FRA_MAX + 1> tb{};
  collect(nlh, sizeof(fib_rule_hdr), tb);

  RuleMessage rule;
  rule.family = *family;
  rule.action = frh->action;
  rule.table = u32Attribute(tb[FRA_TABLE]).value_or(frh->table);
  rule.priority = u32Attribute(tb[FRA_PRIORITY]);
  if (const auto source = ipAttribute(tb[FRA_SRC], frh->family)) {
    rule.source = proto::InterfaceAddress{*source, frh->src_len};
  }
  if (const auto destination = ipAttribute(tb[FRA_DST], frh->family)) {
    rule.destination = proto::InterfaceAddress{*destination, frh->dst_len};
  }
  rule.tos = frh->tos;
  if (const nlattr* a = tb[FRA_PROTOCOL]; a != nullptr && mnl_attr_validate(a, MNL_TYPE_U8) >= 0) {
    rule.protocol = mnl_attr_get_u8(a);
  }
  return rule;
}

void fillAddressRequest(NetlinkRequest& request, int ifindex,
                        const proto::InterfaceAddress& address,
                        const std::optional<proto::IpAddress>& peer) {
  const bool v4 = address.address.family == proto::Family::kIPv4;
  auto* ifa = request.putExtraHeader<ifaddrmsg>();
  ifa->ifa_family = v4 ? AF_INET : AF_INET6;
  ifa->ifa_prefixlen = address.prefix_length;
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;  // IPv6 derives the scope from the address itself
  ifa->ifa_index = static_cast<unsigned>(ifindex);
  nlmsghdr* nlh = request.header();
  putIp(nlh, IFA_LOCAL, address.address);
  putIp(nlh, IFA_ADDRESS, peer ? *peer : address.address);
  if (nlh->nlmsg_type == RTM_NEWADDR) {
    // No duplicate address detection: the address is a shared virtual one, which the other
    // CARP hosts hold while we are BACKUP; DAD would only delay or fail the takeover.
    if (!v4) mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
    mnl_attr_put_u8(nlh, IFA_PROTO, kCarpdAddressProto);
  }
}

RouteMessage sourceRoute(int ifindex, std::uint32_t table, const proto::InterfaceAddress& address) {
  const bool v4 = address.address.family == proto::Family::kIPv4;
  RouteMessage route;
  route.destination = {networkOf(address.address, address.prefix_length), address.prefix_length};
  route.table = table;
  route.protocol = kCarpdRouteProto;
  // As the kernel's own connected routes: scope link for IPv4 (the destination is on the
  // wire); IPv6 has no route scopes and reports every route as universe.
  route.scope = v4 ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
  route.type = RTN_UNICAST;
  route.oif = ifindex;
  route.preferred_source = address.address;
  return route;
}

RuleMessage sourceRule(std::uint32_t table, const proto::IpAddress& address) {
  RuleMessage rule;
  rule.family = address.family;
  rule.action = FR_ACT_TO_TBL;
  rule.table = table;
  rule.priority = kCarpdRulePriority;
  rule.source = proto::InterfaceAddress{address, fullLength(address.family)};
  rule.protocol = kCarpdRouteProto;
  return rule;
}

void fillRouteRequest(NetlinkRequest& request, const RouteMessage& route) {
  auto* rtm = request.putExtraHeader<rtmsg>();
  rtm->rtm_family = familyOf(route.destination.address.family);
  rtm->rtm_dst_len = route.destination.prefix_length;
  rtm->rtm_tos = route.tos;
  rtm->rtm_table = shortTable(route.table);
  rtm->rtm_protocol = route.protocol;
  rtm->rtm_scope = route.scope;
  rtm->rtm_type = route.type;
  nlmsghdr* nlh = request.header();
  mnl_attr_put_u32(nlh, RTA_TABLE, route.table);
  if (route.destination.prefix_length > 0) putIp(nlh, RTA_DST, route.destination.address);
  if (route.oif > 0) mnl_attr_put_u32(nlh, RTA_OIF, static_cast<std::uint32_t>(route.oif));
  if (route.preferred_source) putIp(nlh, RTA_PREFSRC, *route.preferred_source);
  if (route.priority) mnl_attr_put_u32(nlh, RTA_PRIORITY, *route.priority);
}

void fillRuleRequest(NetlinkRequest& request, const RuleMessage& rule) {
  auto* frh = request.putExtraHeader<fib_rule_hdr>();
  frh->family = familyOf(rule.family);
  frh->src_len = rule.source ? rule.source->prefix_length : 0;
  frh->dst_len = rule.destination ? rule.destination->prefix_length : 0;
  frh->tos = rule.tos;
  frh->table = shortTable(rule.table);
  frh->action = rule.action;
  nlmsghdr* nlh = request.header();
  mnl_attr_put_u32(nlh, FRA_TABLE, rule.table);
  if (rule.priority) mnl_attr_put_u32(nlh, FRA_PRIORITY, *rule.priority);
  if (rule.source) putIp(nlh, FRA_SRC, rule.source->address);
  if (rule.destination) putIp(nlh, FRA_DST, rule.destination->address);
  if (rule.protocol) mnl_attr_put_u8(nlh, FRA_PROTOCOL, *rule.protocol);
}

}  // namespace carp::os::lnx
