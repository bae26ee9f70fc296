#pragma once

// carpd's command line: its own options, or ucarp's flags after --ucarp. Parsed here, apart from
// main(), so that tests can check what each mistake prints and the exit code it gives.

#include <string>
#include <tl/expected.hpp>
#include <vector>

namespace carp::app {

// Usage errors exit 2 (as carpctl's do), apart from a configuration that does not load (1).
inline constexpr int kUsageExit = 2;

struct CommandLine {
  std::string file = "/etc/carpd/carpd.toml";
  bool check_only = false;     // -n
  bool verbose = false;        // -v
  bool ucarp = false;          // --ucarp: ucarp_args hold the flags after it
  std::string control_socket;  // --control-socket (with --ucarp only)
  std::string state_dir;       // --state-dir (with --ucarp only)
  std::vector<std::string> ucarp_args;
};

// Why carpd stops before starting: help or version text (exit_code 0, `out`) or a usage error
// (exit_code kUsageExit, `err`, one line or CLI11's message and a pointer to --help).
struct EarlyExit {
  int exit_code = kUsageExit;
  std::string out;
  std::string err;
};

// args: argv[1..] (without the program name).
tl::expected<CommandLine, EarlyExit> parseCommandLine(const std::vector<std::string>& args);

}  // namespace carp::app
