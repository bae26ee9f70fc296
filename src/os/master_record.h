#pragma once
// Lets a carpd that died as MASTER take its VHIDs back at once when it is restarted, instead of
// removing its addresses and waiting a whole master-down interval as BACKUP while no one
// advertises (about 3 s of outage at the defaults; a backup would only take over at that time).

#include <optional>
#include <string_view>

#include "proto/types.h"

namespace carp::os {

class MasterRecord {
 public:
  virtual ~MasterRecord() = default;
  // When an earlier carpd of this boot last advertised as MASTER for the VHID, on the
  // monotonic clock; nullopt when it left MASTER cleanly or never was.
  virtual std::optional<proto::TimePoint> lastMasterAdvert(std::string_view interface,
                                                           proto::Vhid vhid) const = 0;
  // Every advertisement sent as MASTER (bow-outs excepted). Must be cheap: once per interval.
  virtual void masterAdvertised(std::string_view interface, proto::Vhid vhid,
                                proto::TimePoint at) noexcept = 0;
  // The VHID left MASTER (or stopped): a restart has nothing to take back.
  virtual void masterLeft(std::string_view interface, proto::Vhid vhid) noexcept = 0;
};

}  // namespace carp::os
