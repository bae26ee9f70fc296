#pragma once
// Puts a VHID's virtual addresses on the system and takes them off again.

#include <span>
#include <string>
#include <tl/expected.hpp>

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

class AddressManager {
 public:
  virtual ~AddressManager() = default;
  // Creates what carries the VHID's addresses (the macvlan: down, no addresses, no
  // link-local). It is up only between add() and remove(): an up macvlan can send from the
  // virtual MAC (MLD reports, for one), which would draw the switches' forwarding of the
  // virtual MAC to a BACKUP.
  virtual tl::expected<void, std::string> attach(const VhidBinding& binding) = 0;
  // Undoes attach (removes the macvlan and any address still on it).
  virtual void detach(const VhidBinding& binding) noexcept = 0;
  // Adds the addresses, tagged as carpd's own so that a later carpd can recognise them
  // (with vmac: sets the macvlan up first).
  virtual tl::expected<void, std::string> add(
      const VhidBinding& binding, std::span<const proto::InterfaceAddress> addresses) = 0;
  // Removes them (with vmac: sets the macvlan down first once none remains).
  virtual tl::expected<void, std::string> remove(
      const VhidBinding& binding, std::span<const proto::InterfaceAddress> addresses) = 0;
  // Removes addresses and interfaces an earlier carpd left behind (only carpd's own).
  virtual void removeStale() noexcept = 0;
};

}  // namespace carp::os
