// carpd: the CARP daemon. Parses the command line, loads the configuration and hands over to
// the shell (app/shell.h).

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "app/shell.h"
#include "config/config.h"
#include "os/linux/journal_sink.h"

namespace {

std::shared_ptr<spdlog::logger> makeLogger(const std::string& level, bool verbose) {
  // Under systemd, lines go to the journal with CARP_INTERFACE/CARP_VHID fields and journald's
  // own timestamps; elsewhere to stderr with ours.
  const bool journal = carp::os::lnx::stderrIsJournal();
  spdlog::sink_ptr sink;
  if (journal) {
    sink = std::make_shared<carp::os::lnx::JournalSink>();
  } else {
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  }
  auto log = std::make_shared<spdlog::logger>("carpd", std::move(sink));
  log->set_pattern(journal ? "%v" : "%Y-%m-%dT%H:%M:%S.%e %l: %v");
  log->set_level(verbose ? spdlog::level::debug : spdlog::level::from_str(level));
  log->flush_on(spdlog::level::trace);
  return log;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"carpd: the Common Address Redundancy Protocol daemon"};
  std::string file = "/etc/carpd/carpd.toml";
  bool check_only = false;
  bool verbose = false;
  app.add_option("-f", file, "configuration file")->capture_default_str();
  app.add_flag("-n", check_only, "check the configuration and exit (0 when valid)");
  app.add_flag("-v", verbose, "verbose logging (debug)");
  app.set_version_flag("--version", "carpd " CARPD_VERSION);
  CLI11_PARSE(app, argc, argv);

  auto loaded = carp::config::loadFile(file);
  for (const auto& d : loaded.diagnostics) std::cerr << d.toString() << '\n';
  if (check_only) {
    if (loaded.ok()) std::cout << file << ": OK, " << loaded.config->vhids.size() << " VHIDs\n";
    return loaded.ok() ? 0 : 1;
  }
  if (!loaded.ok()) return 1;

  auto log = makeLogger(loaded.config->global.log_level, verbose);
  try {
    carp::app::Shell shell(file, std::move(*loaded.config), log);
    return shell.run();
  } catch (const std::exception& e) {
    log->critical("{}", e.what());
    return 1;
  }
}
