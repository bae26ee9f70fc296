#pragma once
// AddressManager over rtnetlink. With vmac, each VHID gets a macvlan of its parent,
// "cv<parent ifindex>-<vhid>", with MAC 00:00:5e:00:01:<vhid> (carp-wire.md §8), and the
// virtual addresses go there; without vmac they go on the parent. Every address carries
// IFA_PROTO kCarpdAddressProto and every macvlan the alias "carpd vhid <vhid> on <parent>",
// which is how carpd tells its own leftovers from anything else on the system: it never
// removes an address or interface without those marks. Needs Linux >= 6.1 for IFA_PROTO.
//
// With vmac, the kernel would still send what the host sends FROM a virtual address (a reply to
// a client's ping, a TCP connection to the address) out of the parent with the NIC's MAC: the
// parent's connected route of the subnet comes first in the main table. So each macvlan gets a
// routing table (carpdRouteTable) with the connected route of every virtual address's subnet via
// the macvlan, and each virtual address the rule "from <address> lookup <table>" (priority
// kCarpdRulePriority): the MASTER's frames from the virtual addresses to on-link hosts carry the
// virtual MAC, as on the BSDs. Off-link destinations find no route in the table and fall through
// to main (the default route via the parent, as before). Routes and rules are tagged
// kCarpdRouteProto (Linux >= 4.17 for FRA_PROTOCOL). The rule also makes a strict rp_filter
// (net.ipv4.conf.all.rp_filter=1, which overrides the macvlan's 0) accept ARP and packets for a
// virtual address arriving on the macvlan: the reverse-path lookup from the address resolves
// to the macvlan.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <tl/expected.hpp>
#include <utility>

#include "os/address_manager.h"
#include "os/linux/netlink_messages.h"
#include "os/linux/netlink_socket.h"
#include "os/linux/sysctl.h"

namespace carp::os::lnx {

class NetlinkAddressManager final : public os::AddressManager {
 public:
  // Opens its own netlink socket. Throws std::system_error.
  NetlinkAddressManager();
  // Detaches every VHID still attached: macvlans deleted, addresses removed, sysctls restored.
  ~NetlinkAddressManager() override;
  NetlinkAddressManager(const NetlinkAddressManager&) = delete;
  NetlinkAddressManager& operator=(const NetlinkAddressManager&) = delete;

  // vmac: creates the macvlan (deleting a leftover of the same name that has carpd's alias;
  // failing if one without it exists), without IPv6 link-local generation and with DAD off,
  // and leaves it down: it is up only while the VHID holds its addresses (add() to remove()),
  // so that a BACKUP sends nothing from the virtual MAC. Sets on the macvlan
  // arp_ignore=1, arp_announce=2, rp_filter=0, promote_secondaries=1, and IPv6 accept_dad=0,
  // dad_transmits=0; on the parent (first VHID of that parent only) raises arp_ignore to >= 1
  // and arp_announce to 2, so that the parent does not answer ARP for the virtual addresses
  // with its own MAC; the parent's values are restored when its last VHID detaches.
  // Without vmac: only records the binding. Attaching an attached binding does nothing.
  tl::expected<void, os::Error> attach(const VhidBinding& binding) override;
  void detach(const VhidBinding& binding) noexcept override;
  // Adds (NLM_F_EXCL; an address already there counts as added, and is never retagged) with
  // IFA_PROTO kCarpdAddressProto; IPv6 with IFA_F_NODAD. Without vmac, attach is optional.
  // With vmac, first sets the macvlan up (failing, with nothing added, if it cannot go up),
  // and after the addresses installs the source routing (route and rule; ones already there count
  // as installed, so adding again repairs what someone deleted) for every address that is on the
  // macvlan, except /32 and /128 ones, which have no subnet. A failure there does not undo the
  // addresses: they stay, and the error says that only the source MAC of what is sent from
  // them is affected.
  tl::expected<void, os::Error> add(const VhidBinding& binding,
                                    std::span<const proto::InterfaceAddress> addresses) override;
  // Removes only addresses that carry carpd's tag: one an administrator configured by hand
  // stays, and counts as removed. An address that is not there counts as removed. With vmac,
  // first sets the macvlan down when none of the addresses added through the binding remains
  // (so that it sends nothing more from the virtual MAC, not even the MLD reports that leave
  // the IPv6 addresses' solicited-node groups; the down flushes its IPv6 addresses and
  // routes), then deletes the addresses' rules and routes (only tagged ones; ones already
  // gone count as deleted).
  tl::expected<void, os::Error> remove(const VhidBinding& binding,
                                       std::span<const proto::InterfaceAddress> addresses) override;
  // Deletes every macvlan whose alias starts with kCarpdAliasPrefix, every address with
  // carpd's IFA_PROTO tag, and every route and rule with protocol kCarpdRouteProto in a table
  // of carpd's range, except those of this manager's current attachments and those `filter`
  // says a live carpd owns: a macvlan by its (parent, VHID) from its alias "carpd vhid N on
  // PARENT" (else its name cv<parent ifindex>-<vhid>), the routes and rules of its table with it,
  // and a tagged address on any other interface (vmac = false) by its address. Meant for
  // start-up, before the first attach. (netlink_stale_sweep.cc)
  StaleReport removeStale(const StaleFilter& filter) noexcept override;

  // "cv<parent_ifindex>-<vhid>"; IFNAMSIZ allows 15 characters, enough for any ifindex below
  // 10^9 (attach fails beyond).
  static std::string macvlanName(int parent_ifindex, proto::Vhid vhid);
  // The interface that carries the binding's addresses (macvlan or parent), once attached.
  std::optional<int> addressIfindex(const VhidBinding& binding) const noexcept;

 private:
  using Key = std::pair<int, std::uint8_t>;  // (parent ifindex, vhid)
  struct Attachment {
    VhidBinding binding;
    int ifindex = 0;   // where the addresses go
    std::string name;  // the macvlan's name; empty without vmac
    std::set<proto::InterfaceAddress> added;
    std::optional<std::uint32_t> table;  // the source routing table; nullopt without vmac
  };
  struct Parent {
    int users = 0;
    SysctlGuard sysctls;
  };

  tl::expected<int, std::string> createMacvlan(const VhidBinding& binding, const std::string& name);
  tl::expected<void, std::string> configureParent(const VhidBinding& binding);
  void releaseParent(int parent_ifindex) noexcept;
  tl::expected<void, std::string> removeFrom(int ifindex,
                                             std::span<const proto::InterfaceAddress> addresses);
  void detachAttachment(Attachment& attachment) noexcept;
  // Installs (deletes) the rule and route of each address.
  // (netlink_source_routing.cc)
  tl::expected<void, os::Error> installSourceRouting(
      const Attachment& attachment, std::span<const proto::InterfaceAddress> addresses);
  tl::expected<void, os::Error> removeSourceRouting(
      const Attachment& attachment, std::span<const proto::InterfaceAddress> addresses);

  bool attachmentsHaveTable(std::uint32_t table) const noexcept;

  NetlinkSocket socket_;
  std::map<Key, Attachment> attachments_;
  std::map<int, Parent> parents_;
};

}  // namespace carp::os::lnx
