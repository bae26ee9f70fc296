#pragma once
// Which carpd runs which (interface, vhid) in this network namespace (product.md: "Instances
// never touch each other"). A second carpd, a `carpd --ucarp` for one VHID during a migration,
// or a split configuration may run next to us: a VHID that a live carpd runs is refused, and the
// start-up sweep of stale objects spares everything another live carpd owns. A killed carpd
// owns nothing any more, so the next one still cleans up after it.

#include <functional>
#include <span>
#include <string_view>
#include <tl/expected.hpp>

#include "os/address_manager.h"
#include "os/error.h"
#include "proto/address.h"
#include "proto/types.h"

namespace carp::os {

class VhidClaims {
 public:
  virtual ~VhidClaims() = default;
  // Claims (interface, vhid) for the life of this process, or until release(). Refused with
  // "vhid 1 on eth0 is run by carpd pid 1234 (/run/carpd/carpd.sock)" when another live carpd
  // of this network namespace holds it. Claiming again what we hold only records the new
  // addresses (a reload that changed them).
  virtual tl::expected<void, Error> claim(std::string_view interface, proto::Vhid vhid,
                                          std::span<const proto::IpAddress> addresses) = 0;
  // The VHID was removed (reload) or stopped: another carpd may take it from now on.
  virtual void release(std::string_view interface, proto::Vhid vhid) noexcept = 0;
  // A snapshot of what OTHER live carpd processes of this namespace own (never ours).
  virtual tl::expected<StaleFilter, Error> othersInUse() const = 0;
};

// No ownership record (the claims directory could not be created): every claim succeeds and
// nothing is known to be in use elsewhere, which is carpd's behaviour before isolation.
class NoVhidClaims final : public VhidClaims {
 public:
  tl::expected<void, Error> claim(std::string_view, proto::Vhid,
                                  std::span<const proto::IpAddress>) override {
    return {};
  }
  void release(std::string_view, proto::Vhid) noexcept override {}
  tl::expected<StaleFilter, Error> othersInUse() const override {
    return StaleFilter{[](std::string_view, proto::Vhid) { return false; },
                       [](const proto::IpAddress&) { return false; }};
  }
};

}  // namespace carp::os
