#include "daemon/counters.h"

namespace carp::daemon {

const char* counterName(Counter counter) noexcept {
  switch (counter) {
    case Counter::kIpackets:
      return "ipackets";
    case Counter::kIpackets6:
      return "ipackets6";
    case Counter::kBadif:
      return "badif";
    case Counter::kBadttl:
      return "badttl";
    case Counter::kHdrops:
      return "hdrops";
    case Counter::kBadsum:
      return "badsum";
    case Counter::kBadver:
      return "badver";
    case Counter::kBadlen:
      return "badlen";
    case Counter::kBadauth:
      return "badauth";
    case Counter::kBadvhid:
      return "badvhid";
    case Counter::kOpackets:
      return "opackets";
    case Counter::kOpackets6:
      return "opackets6";
    case Counter::kPreempt:
      return "preempt";
    case Counter::kLoop:
      return "loop";
  }
  return "?";
}

Counter counterFor(proto::DropReason reason) noexcept {
  switch (reason) {
    case proto::DropReason::kBadLength:
      return Counter::kBadlen;
    case proto::DropReason::kBadVersion:
      return Counter::kBadver;
    case proto::DropReason::kBadChecksum:
      return Counter::kBadsum;
    case proto::DropReason::kUnknownVhid:
      return Counter::kBadvhid;
    case proto::DropReason::kBadTtl:
      return Counter::kBadttl;
    case proto::DropReason::kBadAuth:
      return Counter::kBadauth;
    case proto::DropReason::kOwnCounter:
      return Counter::kLoop;
  }
  return Counter::kHdrops;
}

std::map<std::string, std::uint64_t> Counters::toMap() const {
  std::map<std::string, std::uint64_t> out;
  for (std::size_t i = 0; i < kCounterCount; ++i) {
    out.emplace(counterName(static_cast<Counter>(i)), values_[i]);
  }
  return out;
}

}  // namespace carp::daemon
