#pragma once
// Control requests: one JSON object per line on the control socket (the caller appends the
// '\n'), answered by one response line (response.h).
//   {"command":"status"}
//   {"command":"demote","group":"carp","delta":-1}
//   {"command":"state","interface":"eth0","vhid":1,"state":"master"}
//   {"command":"maintenance","on":true}
//   {"command":"reload"}
//   {"command":"doctor"}

#include <cstddef>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <variant>
#include <vector>

#include "proto/types.h"

namespace carp::control {

// A request line longer than this is refused unread: real requests are under 200 bytes.
inline constexpr std::size_t kMaxRequestBytes = 64 * 1024;
// OpenBSD ifconfig setgroupattribs: `carpdemote N` takes N in 0..128, `-carpdemote N` negates.
inline constexpr int kMaxDemoteDelta = 128;

struct StatusRequest {
  bool operator==(const StatusRequest&) const = default;
};

// Adds `delta` to the demotion counter of `group` (which never goes below 0, as on OpenBSD).
struct DemoteRequest {
  std::string group = "carp";  // 1..15 printable characters
  int delta = 0;               // -kMaxDemoteDelta..kMaxDemoteDelta
  bool operator==(const DemoteRequest&) const = default;
};

// Forces one VHID to MASTER or BACKUP, as FreeBSD's `ifconfig IF vhid N state master`.
struct StateRequest {
  std::string interface;
  proto::Vhid vhid;
  proto::State state;  // kMaster or kBackup, never kInit
  bool operator==(const StateRequest&) const = default;
};

struct MaintenanceRequest {
  bool on = false;
  bool operator==(const MaintenanceRequest&) const = default;
};

struct ReloadRequest {
  bool operator==(const ReloadRequest&) const = default;
};

// What carpd heard that explains a silent failure (control/doctor.h).
struct DoctorRequest {
  bool operator==(const DoctorRequest&) const = default;
};

using Request = std::variant<StatusRequest, DemoteRequest, StateRequest, MaintenanceRequest,
                             ReloadRequest, DoctorRequest>;

// The request as one line of JSON, without the trailing '\n'.
std::string encodeRequest(const Request& request);

// Parses one request line (a trailing "\n" is allowed). Anything other than a well-formed
// request (too long, too deep, not JSON, unknown command or field, wrong type, out of range)
// is a one-line reason, never an exception or a crash.
tl::expected<Request, std::string> parseRequest(std::string_view line) noexcept;

// The request for carpctl's command words: `command` is status, demote, state, maintenance,
// reload or doctor, `arguments` the words after it ({"internal", "-3"} for `demote internal -3`).
tl::expected<Request, std::string> requestFromArguments(std::string_view command,
                                                        const std::vector<std::string>& arguments);

// Names as in configuration: group names are 1..15 printable characters without spaces,
// interface names as the kernel accepts them (1..15 bytes, no '/', ':' or whitespace).
bool isValidGroupName(std::string_view name) noexcept;
bool isValidInterfaceName(std::string_view name) noexcept;

}  // namespace carp::control
