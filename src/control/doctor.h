#pragma once
// The answer to a `doctor` request: what carpd heard on the wire that explains a CARP group
// that fails silently (daemon/diagnostics.h), in the form carpctl doctor reads it. The checks
// of the host itself (sysctls, firewall, multicast membership) are carpctl's (cli/doctor_checks.h).
// JSON: {"vhids":[{"interface":"eth0","vhid":1,"state":"MASTER","vmac":true,
//   "addresses":["192.0.2.1/24"],"multicast":true,"multicast6":false,"unicast":false,
//   "bad_auth":{"source":"192.0.2.12","count":3,"age_seconds":0.4,"counter":"hex","digest":"hex",
//               "matching_set":"only 192.0.2.1 (as ucarp signs)","matching_addresses":[..]},
//   "peers":[{"source":..,"advbase":1,"advskew":0,"demote":0,"age_seconds":0.2,"count":9}]}],
//  "vrrp":[{"interface":"eth0","vrid":1,"version":2,"priority":100,"interval":1,
//           "source":"192.0.2.13","addresses":[..],"age_seconds":0.3,"count":12}]}

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <tl/expected.hpp>
#include <vector>

namespace carp::control {

struct DoctorBadAuth {
  std::string source;
  std::uint64_t count = 0;
  double age_seconds = 0;  // since the last one
  std::string counter;     // hex, as on the wire
  std::string digest;      // hex, as on the wire
  // The candidate address set (built from ours) whose digest matches the peer's, empty when
  // none does (then the passphrase differs or the peer has addresses we lack).
  std::string matching_set;
  std::vector<std::string> matching_addresses;
  bool operator==(const DoctorBadAuth&) const = default;
};

// A sender of valid advertisements for a VHID.
struct DoctorPeer {
  std::string source;
  int advbase = 0;
  int advskew = 0;
  int demote = 0;
  double age_seconds = 0;
  std::uint64_t count = 0;
  bool operator==(const DoctorPeer&) const = default;
};

struct DoctorVhid {
  std::string interface;
  int vhid = 0;
  std::string state;
  bool vmac = true;
  std::vector<std::string> addresses;
  bool multicast = false;   // IPv4 advertisements to 224.0.0.18 (the group must be joined)
  bool multicast6 = false;  // IPv6 advertisements to ff02::12
  bool unicast = false;     // a peer or peer6 is configured
  std::optional<DoctorBadAuth> bad_auth;
  std::vector<DoctorPeer> peers;
  bool operator==(const DoctorVhid&) const = default;
};

// A VRRP router heard on an interface carpd listens on.
struct DoctorVrrp {
  std::string interface;
  int vrid = 0;
  int version = 0;
  int priority = 0;
  int interval = 0;  // VRRPv2 seconds, VRRPv3 centiseconds
  std::string source;
  std::vector<std::string> addresses;
  double age_seconds = 0;
  std::uint64_t count = 0;
  bool operator==(const DoctorVrrp&) const = default;
};

struct DoctorReport {
  std::vector<DoctorVhid> vhids;
  std::vector<DoctorVrrp> vrrp;
  bool operator==(const DoctorReport&) const = default;
};

nlohmann::json toJson(const DoctorReport& report);
// The inverse of toJson; unknown fields are ignored. Never throws.
tl::expected<DoctorReport, std::string> doctorFromJson(const nlohmann::json& json) noexcept;

}  // namespace carp::control
