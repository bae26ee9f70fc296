#include "app/command_line.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <sstream>

namespace carp::app {

tl::expected<CommandLine, EarlyExit> parseCommandLine(const std::vector<std::string>& args) {
  CommandLine line;
  // ucarp's command line after --ucarp: ucarp users change one word. Everything after it is
  // ucarp's (config/ucarp_args.h), so it is split off before CLI11 sees it.
  const auto ucarp = std::find(args.begin(), args.end(), "--ucarp");
  line.ucarp = ucarp != args.end();
  std::vector<std::string> own(args.begin(), ucarp);
  if (line.ucarp) line.ucarp_args.assign(ucarp + 1, args.end());

  CLI::App app{"carpd: the Common Address Redundancy Protocol daemon", "carpd"};
  auto* file = app.add_option("-f", line.file, "configuration file")->capture_default_str();
  auto* check =
      app.add_flag("-n", line.check_only, "check the configuration and exit (0 when valid)");
  auto* verbose = app.add_flag("-v", line.verbose, "verbose logging (debug)");
  auto* socket =
      app.add_option("--control-socket", line.control_socket,
                     "with --ucarp: control socket (default /run/carpd/ucarp-IF-VHID.sock)");
  auto* state =
      app.add_option("--state-dir", line.state_dir,
                     "with --ucarp: state directory (default /var/lib/carpd/ucarp-IF-VHID)");
  // Listed for --help; the split above has already taken it and what follows.
  bool ucarp_flag = false;
  app.add_flag("--ucarp", ucarp_flag,
               "the rest of the line is ucarp's command line (see carpd --ucarp --help)");
  app.set_version_flag("--version", "carpd " CARPD_VERSION);
  try {
    std::reverse(own.begin(), own.end());  // CLI11 takes a vector in reverse order
    app.parse(own);
  } catch (const CLI::ParseError& e) {
    std::ostringstream out;
    std::ostringstream err;
    app.exit(e, out, err);
    return tl::make_unexpected(
        EarlyExit{e.get_exit_code() == 0 ? 0 : kUsageExit, out.str(), err.str()});
  }
  const auto usage = [](const std::string& text) {
    return tl::make_unexpected(EarlyExit{kUsageExit, {}, "carpd: " + text + "\n"});
  };
  if (line.ucarp) {
    for (const CLI::Option* o : {file, check, verbose}) {
      if (o->count() > 0) {
        return usage(o->get_name() +
                     " does not go with --ucarp (ucarp's flags come after it; see carpd "
                     "--ucarp --help)");
      }
    }
    for (const auto& [path, what] : {std::pair{&line.control_socket, "--control-socket"},
                                     std::pair{&line.state_dir, "--state-dir"}}) {
      if (!path->empty() && path->front() != '/') {
        return usage(std::string(what) + " must be an absolute path");
      }
    }
  } else {
    for (const CLI::Option* o : {socket, state}) {
      if (o->count() > 0) {
        return usage(o->get_name() +
                     " goes with --ucarp only; with a configuration file, set control_socket "
                     "or state_dir in its [global] table");
      }
    }
  }
  return line;
}

}  // namespace carp::app
