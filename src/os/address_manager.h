#pragma once
// Puts a VHID's virtual addresses on the system and takes them off again.

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "os/error.h"
#include "proto/address.h"
#include "proto/types.h"

namespace carp::os {

struct VhidBinding {
  int parent_ifindex = 0;
  std::string parent_name;
  proto::Vhid vhid;
  // true: the addresses live on a macvlan of the parent with MAC 00:00:5e:00:01:<vhid>, so
  // that ARP/ND replies and data for them carry the virtual MAC. false: on the parent itself.
  bool vmac = true;
};

// What other live carpd processes in the same network namespace own (issue 12, instance
// isolation): the sweep never touches it. An empty std::function means "nothing in use".
struct StaleFilter {  // what other live carpd processes own: never swept
  std::function<bool(std::string_view parent, proto::Vhid vhid)> vhid_in_use;
  std::function<bool(const proto::IpAddress& address)> address_in_use;
};

// What a sweep did, one line per object, for the log.
struct StaleReport {
  std::vector<std::string> removed;
  std::vector<os::Error> failed;
  std::vector<std::string> kept;  // carpd's marks, but owned by a live carpd (StaleFilter)
};

class AddressManager {
 public:
  virtual ~AddressManager() = default;
  // Creates what carries the VHID's addresses (the macvlan: down, no addresses, no
  // link-local). It is up only between add() and remove(): an up macvlan can send from the
  // virtual MAC (MLD reports, for one), which would draw the switches' forwarding of the
  // virtual MAC to a BACKUP.
  virtual tl::expected<void, os::Error> attach(const VhidBinding& binding) = 0;
  // Undoes attach (removes the macvlan and any address still on it).
  virtual void detach(const VhidBinding& binding) noexcept = 0;
  // Adds the addresses, tagged as carpd's own so that a later carpd can recognise them
  // (with vmac: sets the macvlan up first).
  virtual tl::expected<void, os::Error> add(const VhidBinding& binding,
                                            std::span<const proto::InterfaceAddress> addresses) = 0;
  // Removes them (with vmac: sets the macvlan down first once none remains).
  virtual tl::expected<void, os::Error> remove(
      const VhidBinding& binding, std::span<const proto::InterfaceAddress> addresses) = 0;
  // Removes addresses and interfaces an earlier carpd left behind (only carpd's own, and
  // none of what `filter` says a live carpd owns).
  virtual StaleReport removeStale(const StaleFilter& filter) noexcept = 0;
};

}  // namespace carp::os
