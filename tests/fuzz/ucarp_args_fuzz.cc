// Fuzz target for `carpd --ucarp`'s argument parser (src/config/ucarp_args.h). The input is
// split into argv at NUL bytes. It must never crash; a parsed command line holds the
// invariants of ucarp_args.h: one VHID, one IPv4 address /32, scripts own the addresses,
// frames from the interface's MAC, scripts absolute, the per-instance socket and state dir.
// Every '/' of the input becomes '_' and the working directory does not exist, so no -o
// passfile path can name a real file (the parser reads nothing else).

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "config/ucarp_args.h"

namespace {

// An invariant broken: crash loudly, in the fuzzer and in the replay test alike.
#define FUZZ_CHECK(condition)           \
  do {                                  \
    if (!(condition)) __builtin_trap(); \
  } while (0)

}  // namespace

// NOLINTNEXTLINE(readability-identifier-naming): the libFuzzer entry point
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::string> args(1);
  for (std::size_t i = 0; i < size; ++i) {
    const char c = static_cast<char>(data[i]);
    if (c == '\0') {
      args.emplace_back();
    } else {
      args.back().push_back(c == '/' ? '_' : c);
    }
  }
  static const std::filesystem::path kNowhere = "/nonexistent-carpd-fuzz/cwd";
  const auto parsed = carp::config::parseUcarpArgs(args, kNowhere);
  if (!parsed) {
    FUZZ_CHECK(!parsed.error().empty());
    // One line, unless it quotes an argument that has a newline itself.
    bool newline_given = false;
    for (const auto& arg : args)
      newline_given = newline_given || arg.find('\n') != std::string::npos;
    FUZZ_CHECK(newline_given || parsed.error().find('\n') == std::string::npos);
    return 0;
  }
  if (parsed->help) return 0;
  const auto& config = parsed->config;
  FUZZ_CHECK(config.vhids.size() == 1);
  const auto& v = config.vhids.front();
  FUZZ_CHECK(!v.interface.empty());
  FUZZ_CHECK(v.addresses.size() == 1);
  FUZZ_CHECK(v.addresses[0].address.family == carp::proto::Family::kIPv4);
  FUZZ_CHECK(v.addresses[0].prefix_length == 32);
  FUZZ_CHECK(!v.manage_addresses && !v.vmac);
  FUZZ_CHECK(v.groups.size() == 1 && v.groups[0] == carp::config::kDefaultGroup);
  FUZZ_CHECK(config.global.hook_capabilities);
  FUZZ_CHECK(config.global.ucarp.has_value());
  const auto& scripts = *config.global.ucarp;
  FUZZ_CHECK(scripts.upscript.empty() || scripts.upscript.front() == '/');
  FUZZ_CHECK(scripts.downscript.empty() || scripts.downscript.front() == '/');
  FUZZ_CHECK(config.global.control_socket ==
             carp::config::ucarpControlSocket(v.interface, v.vhid.value()));
  FUZZ_CHECK(config.global.state_dir == carp::config::ucarpStateDir(v.interface, v.vhid.value()));
  FUZZ_CHECK(!parsed->facility.empty());
  return 0;
}
