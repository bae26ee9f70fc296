#pragma once
// Control responses: one JSON object per line, {"ok":true, ...payload} or
// {"ok":false,"error":"one-line reason"}. A status response carries the StatusReport fields
// at the top level: {"ok":true,"vhids":[...],"demotion":{...},"maintenance":false,"stats":{...}};
// a doctor response holds its report under one key: {"ok":true,"doctor":{"vhids":..,"vrrp":..}}.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>

#include "control/doctor.h"
#include "control/status.h"

namespace carp::control {

// A status of 255 VHIDs on many interfaces stays far below this.
inline constexpr std::size_t kMaxResponseBytes = 16 * 1024 * 1024;

struct Response {
  bool ok = true;
  std::string error;                   // set iff !ok: one line, no control characters
  std::optional<StatusReport> status;  // the answer to a status request
  std::optional<DoctorReport> doctor;  // the answer to a doctor request
  std::string message;                 // an optional short confirmation for carpctl to print

  static Response success(std::string message = {});
  static Response failure(std::string_view error);  // newlines and controls become spaces
  static Response ofStatus(StatusReport report);
  static Response ofDoctor(DoctorReport report);
  bool operator==(const Response&) const = default;
};

// The response as one line of JSON, without the trailing '\n'.
std::string encodeResponse(const Response& response);

// Parses one response line (a trailing "\n" is allowed); never throws.
tl::expected<Response, std::string> parseResponse(std::string_view line) noexcept;

}  // namespace carp::control
