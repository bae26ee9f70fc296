#pragma once
// carpctl's command line (design/product.md):
//   carpctl [-s SOCKET] status [--json] | demote [GROUP] N | state INTERFACE VHID master|backup
//           | maintenance on|off | reload | doctor [--json] [--no-arp-probe]

#include <string>
#include <tl/expected.hpp>

#include "control/request.h"

namespace carp::cli {

inline constexpr const char* kDefaultSocket = "/run/carpd/carpd.sock";

struct Invocation {
  std::string socket = kDefaultSocket;
  control::Request request;
  bool json = false;      // status/doctor --json: print one JSON object
  bool arp_probe = true;  // doctor --no-arp-probe: skip the virtual-MAC check
};

// Why carpctl stops before talking to carpd: help or version text (exit_code 0, for stdout), or
// a one-line usage error (exit_code kUsageExit, for stderr after "carpctl: ").
// Usage errors exit 2 (the BSD/GNU convention, EX_USAGE's little sibling) so that a script can
// tell a typo from a carpd that refused or could not be reached (exit 1).
inline constexpr int kUsageExit = 2;
struct EarlyExit {
  int exit_code = kUsageExit;
  std::string text;
};

// Parses argv (argv[0] is the program name). A negative N for demote is a number, not an option:
// `carpctl demote -3` and `carpctl demote internal -3` both work.
tl::expected<Invocation, EarlyExit> parseCommandLine(int argc, const char* const* argv);

}  // namespace carp::cli
