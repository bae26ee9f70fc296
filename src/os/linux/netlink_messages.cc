#include "os/linux/netlink_messages.h"

#include <libmnl/libmnl.h>
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

}  // namespace carp::os::lnx
