#include "cli/command_line.h"

#include <CLI/CLI.hpp>
#include <sstream>
#include <vector>

#include "cli/default_socket.h"

namespace carp::cli {

tl::expected<Invocation, EarlyExit> parseCommandLine(int argc, const char* const* argv) {
  Invocation invocation;
  std::vector<std::string> words;

  CLI::App app{"Control a running carpd.", "carpctl"};
  app.set_version_flag("--version", std::string("carpctl ") + CARPD_VERSION);
  std::string config_file = kDefaultConfig;
  app.add_option("-s,--socket", invocation.socket,
                 "carpd's control socket (default: control_socket of the configuration file, "
                 "else " +
                     std::string(kDefaultSocket) + ")");
  app.add_option("-f", config_file, "carpd's configuration file, read for control_socket")
      ->capture_default_str();
  // `carpctl status -s PATH` works as well as `carpctl -s PATH status`.
  app.fallthrough();

  auto* status = app.add_subcommand("status", "Show every VHID");
  status->add_flag("--json", invocation.json, "Print one JSON object");
  auto* demote = app.add_subcommand(
      "demote", "Add N (may be negative) to the demotion counter of GROUP (default carp)");
  auto* state = app.add_subcommand("state", "Force a VHID to MASTER or BACKUP");
  auto* maintenance =
      app.add_subcommand("maintenance", "Hand over every VHID and stay BACKUP, across restarts");
  auto* reload = app.add_subcommand("reload", "Reload the configuration");
  auto* doctor = app.add_subcommand(
      "doctor", "Check what makes CARP fail silently here and say how to fix each problem");
  doctor->add_flag("--json", invocation.json, "Print one JSON object");
  bool no_arp_probe = false;
  doctor->add_flag("--no-arp-probe", no_arp_probe,
                   "Skip the virtual-MAC check (ARP probes sent from the virtual MAC)");
  // The arguments are collected as words and checked by the control layer, which gives one
  // message per mistake. CLI11 reads "-3" as a positional because no option is named -3.
  demote->add_option("words", words, "[GROUP] N")->type_name("");
  state->add_option("words", words, "INTERFACE VHID master|backup")->type_name("");
  maintenance->add_option("words", words, "on|off")->type_name("");

  // Unknown words reach `remaining()` instead of failing inside CLI11, so that the message can
  // name them ("unknown command 'stauts'").
  app.allow_extras();
  for (CLI::App* command : {status, demote, state, maintenance, reload, doctor}) {
    command->allow_extras(false);
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {
      // --help or --version: CLI11 formats it, for the right subcommand.
      std::ostringstream out;
      std::ostringstream err;
      app.exit(e, out, err);
      return tl::make_unexpected(EarlyExit{0, out.str() + err.str()});
    }
    return tl::make_unexpected(EarlyExit{kUsageExit, e.what()});
  }

  if (const auto extras = app.remaining(); !extras.empty()) {
    const std::string& word = extras.front();
    // A word after a command that takes none (`carpctl status extra`) falls through to the
    // top level: say what is wrong with the command rather than call the word a command.
    if (!word.starts_with('-') && !app.get_subcommands().empty()) {
      const CLI::App* chosen = app.get_subcommands().front();
      if (chosen == status || chosen == reload || chosen == doctor) {
        return tl::make_unexpected(
            EarlyExit{kUsageExit, chosen->get_name() + " takes no arguments (got '" + word + "')"});
      }
    }
    return tl::make_unexpected(
        EarlyExit{kUsageExit, (word.starts_with('-') ? "unknown option '" : "unknown command '") +
                                  word + "'; try carpctl --help"});
  }
  if (app.get_subcommands().empty()) {
    return tl::make_unexpected(EarlyExit{
        kUsageExit, "a command is required: status, demote, state, maintenance, reload or doctor"});
  }
  CLI::App* chosen = app.get_subcommands().front();
  invocation.arp_probe = !no_arp_probe;
  for (CLI::App* command : {status, demote, state, maintenance, reload, doctor}) {
    if (command != chosen) continue;
    auto request = control::requestFromArguments(command->get_name(), words);
    if (!request) return tl::make_unexpected(EarlyExit{kUsageExit, request.error()});
    invocation.request = std::move(*request);
  }
  if (app.get_option("-s")->count() == 0) {
    invocation.socket = socketFromConfig(config_file);
  } else if (invocation.socket.empty()) {
    return tl::make_unexpected(EarlyExit{kUsageExit, "empty socket path"});
  }
  return invocation;
}

}  // namespace carp::cli
