// carpd: the CARP daemon. Parses the command line (carpd's own, or ucarp's after --ucarp),
// loads the configuration and hands over to the shell (app/shell.h).

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/syslog_sink.h>
#include <spdlog/spdlog.h>
#include <syslog.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string_view>
#include <utility>
#include <vector>

#include "app/command_line.h"
#include "app/shell.h"
#include "config/config.h"
#include "config/ucarp_args.h"
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

int syslogFacility(const std::string& name) {
  static constexpr std::array<std::pair<const char*, int>, 20> kFacilities = {{
      {"auth", LOG_AUTH},     {"authpriv", LOG_AUTHPRIV}, {"cron", LOG_CRON},
      {"daemon", LOG_DAEMON}, {"ftp", LOG_FTP},           {"kern", LOG_KERN},
      {"lpr", LOG_LPR},       {"mail", LOG_MAIL},         {"news", LOG_NEWS},
      {"syslog", LOG_SYSLOG}, {"user", LOG_USER},         {"uucp", LOG_UUCP},
      {"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1},     {"local2", LOG_LOCAL2},
      {"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4},     {"local5", LOG_LOCAL5},
      {"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7},
  }};
  for (const auto& [n, value] : kFacilities) {
    if (name == n) return value;
  }
  return LOG_DAEMON;
}

// ucarp logs to syslog (-f, "daemon" by default; "none": not at all) and, in the foreground,
// to stderr as well. Under systemd the journal has it all already.
std::shared_ptr<spdlog::logger> makeUcarpLogger(const std::string& level,
                                                const std::string& facility, bool daemonized) {
  if (carp::os::lnx::stderrIsJournal()) return makeLogger(level, false);
  std::vector<spdlog::sink_ptr> sinks;
  if (facility != "none") {
    sinks.push_back(std::make_shared<spdlog::sinks::syslog_sink_mt>("carpd", LOG_PID,
                                                                    syslogFacility(facility),
                                                                    /*enable_formatting=*/true));
    sinks.back()->set_pattern("%v");
  }
  if (!daemonized) {
    sinks.push_back(std::make_shared<spdlog::sinks::stderr_sink_mt>());
    sinks.back()->set_pattern("%Y-%m-%dT%H:%M:%S.%e %l: %v");
  }
  auto log = std::make_shared<spdlog::logger>("carpd", sinks.begin(), sinks.end());
  log->set_level(spdlog::level::from_str(level));
  log->flush_on(spdlog::level::trace);
  return log;
}

int runShell(const std::string& file, carp::config::Config config,
             const std::shared_ptr<spdlog::logger>& log) {
  try {
    carp::app::Shell shell(file, std::move(config), log);
    return shell.run();
  } catch (const std::exception& e) {
    log->critical("{}", e.what());
    return 1;
  }
}

// carpd [--control-socket PATH] [--state-dir DIR] --ucarp UCARP-FLAGS...
int runUcarp(const carp::app::CommandLine& line) {
  const auto& control_socket = line.control_socket;
  const auto& state_dir = line.state_dir;
  const auto& ucarp_args = line.ucarp_args;
  std::error_code ec;
  auto cwd = std::filesystem::current_path(ec);
  if (ec) cwd = "/";
  auto parsed = carp::config::parseUcarpArgs(ucarp_args, cwd);
  if (!parsed) {
    std::cerr << parsed.error() << '\n';
    return 1;
  }
  if (parsed->help) {
    std::cout << carp::config::ucarpUsage();
    return 0;
  }
  auto& global = parsed->config.global;
  if (!control_socket.empty()) global.control_socket = control_socket;
  if (!state_dir.empty()) global.state_dir = state_dir;

  auto log = makeUcarpLogger(global.log_level, parsed->facility, parsed->daemonize);
  for (const auto& w : parsed->warnings) log->warn("{}", w);
  if (parsed->daemonize && ::daemon(0, 0) != 0) {
    log->critical("cannot daemonize: {}", std::strerror(errno));
    return 1;
  }
  log->info("ucarp mode: {} vhid {}, control socket {}", parsed->config.vhids[0].interface,
            static_cast<int>(parsed->config.vhids[0].vhid.value()), global.control_socket);
  return runShell({}, std::move(parsed->config), log);
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = carp::app::parseCommandLine(std::vector<std::string>(argv + 1, argv + argc));
  if (!parsed) {
    std::cout << parsed.error().out;
    std::cerr << parsed.error().err;
    return parsed.error().exit_code;
  }
  if (parsed->ucarp) return runUcarp(*parsed);
  const std::string& file = parsed->file;

  auto loaded = carp::config::loadFile(file);
  for (const auto& d : loaded.diagnostics) std::cerr << d.toString() << '\n';
  if (parsed->check_only) {
    if (loaded.ok()) std::cout << file << ": OK, " << loaded.config->vhids.size() << " VHIDs\n";
    return loaded.ok() ? 0 : 1;
  }
  if (!loaded.ok()) return 1;

  auto log = makeLogger(loaded.config->global.log_level, parsed->verbose);
  return runShell(file, std::move(*loaded.config), log);
}
