#include "app/shell.h"

#include <algorithm>
#include <csignal>
#include <set>

#include "daemon/metrics.h"
#include "os/linux/file_vhid_claims.h"
#include "os/linux/privileges.h"
#include "os/linux/realtime.h"
#include "os/linux/systemd_notify.h"

namespace carp::app {
namespace {

std::string joinErrors(const std::vector<config::Diagnostic>& diagnostics) {
  std::string out;
  for (const auto& d : diagnostics) {
    if (d.warning) continue;
    out += (out.empty() ? "" : "; ") + d.toString();
  }
  return out;
}

os::lnx::HookEvent toHookEvent(const daemon::TransitionEvent& e) {
  return {e.interface,
          e.vhid,
          proto::toString(e.to),
          proto::toString(e.from),
          proto::toString(e.reason),
          e.reason == proto::Reason::kStopped};
}

std::optional<os::lnx::UcarpHooks> toUcarpHooks(const std::optional<config::UcarpScripts>& u) {
  if (!u) return std::nullopt;
  return os::lnx::UcarpHooks{u->upscript, u->downscript, u->address,
                             u->xparam,   u->neutral,    u->shutdown};
}

}  // namespace

Shell::Shell(std::filesystem::path config_file, config::Config config,
             std::shared_ptr<spdlog::logger> log)
    : config_file_(std::move(config_file)),
      log_(std::move(log)),
      maintenance_store_(config.global.state_dir) {
  const std::string socket_path = config.global.control_socket;
  const bool maintenance = maintenance_store_.load();
  if (maintenance) log_->warn("maintenance mode is on (kept in {})", config.global.state_dir);
  hooks_ = std::make_unique<os::lnx::HookRunner>(
      loop_, config.global.hooks, config.global.hooks_dir, config.global.hook_timeout, log_);
  hooks_->setUcarpScripts(toUcarpHooks(config.global.ucarp));
  const bool ucarp = config.global.ucarp.has_value();
  daemon::EngineDeps deps{
      frames_, ip_, addresses_, interfaces_, [] { return std::chrono::system_clock::now(); }, log_};
  deps.on_transition = [this](const daemon::TransitionEvent& e) {
    hooks_->onTransition(toHookEvent(e));
  };
  try {
    std::filesystem::create_directories(config.global.state_dir);
    master_record_ = std::make_unique<os::lnx::FileMasterRecord>(
        std::filesystem::path(config.global.state_dir) / "masters", os::lnx::currentBootId());
    deps.master_record = master_record_.get();
  } catch (const std::exception& e) {
    log_->warn("no quick resume after a crash: {}", e.what());
  }
  // Loading a BPF program needs CAP_BPF, which carpd drops with the rest in run(): a
  // configuration with load balancing must have it at start (a reload that adds the first
  // balancing entry later is refused by the kernel, and says so).
  const bool balancing = std::any_of(config.vhids.begin(), config.vhids.end(),
                                     [](const config::VhidConfig& v) { return !v.nodes.empty(); });
  if (balancing) {
    if (auto loaded = balancer_.load(); !loaded) {
      throw std::runtime_error("load balancing: " + loaded.error());
    }
  }
  deps.balancer = &balancer_;
  // One claim file per (interface, vhid) under /run/carpd/claims/<netns>: a second carpd in
  // this namespace refuses our VHIDs and its start-up sweep spares them (and we theirs).
  if (auto claims = os::lnx::FileVhidClaims::open(os::lnx::kDefaultClaimsDir, socket_path,
                                                  os::lnx::currentNetnsId())) {
    claims_ = std::make_unique<os::lnx::FileVhidClaims>(std::move(*claims));
  } else {
    log_->warn("no instance isolation (another carpd here could remove our addresses): {}",
               claims.error().message);
    claims_ = std::make_unique<os::NoVhidClaims>();
  }
  deps.claims = claims_.get();
  engine_ = std::make_unique<daemon::Engine>(deps, std::move(config), maintenance);
  control_ = std::make_unique<daemon::ControlHandler>(*engine_, clock_, maintenance_store_,
                                                      [this] { return reload(); });
  listener_ =
      std::make_unique<os::lnx::ControlListener>(socket_path, [this](std::string_view line) {
        std::string response = control_->handleLine(line);
        rearm();
        return response;
      });
  if (const auto& metrics = engine_->global().metrics) {
    // Bound now, before privileges are dropped (a port below 1024 needs CAP_NET_BIND_SERVICE).
    metrics_ = std::make_unique<os::lnx::HttpListener>(metrics->first, metrics->second, [this] {
      return daemon::renderMetrics(*engine_, CARPD_VERSION);
    });
    log_->info("metrics on http://{}/metrics", metrics_->name());
  }
  monitor_ = std::make_unique<os::lnx::NetlinkMonitor>();
  monitor_->on_link = [this](int ifindex, bool running) {
    engine_->onLink(ifindex, running, clock_.now());
    engine_->onInterfaceChanged(ifindex);
  };
  monitor_->on_address_removed = [this](int ifindex, const proto::InterfaceAddress& a,
                                        bool carpd_tagged) {
    if (carpd_tagged) {
      engine_->onAddressRemoved(ifindex, a);
    } else {
      engine_->onInterfaceChanged(ifindex);
    }
  };
  monitor_->on_address_added = [this](int ifindex, const proto::InterfaceAddress&,
                                      bool carpd_tagged) {
    if (!carpd_tagged) engine_->onInterfaceChanged(ifindex);
  };
  monitor_->on_overrun = [this] { resync(); };

  auto must = [](tl::expected<void, os::Errno> r, const char* what) {
    if (!r) {
      throw std::runtime_error(std::string("cannot watch ") + what + ": " +
                               std::system_category().message(r.error()));
    }
  };
  must(loop_.addReader(listener_->fd(),
                       [this] {
                         listener_->onReadable();
                         rearm();
                       }),
       "the control socket");
  must(loop_.addReader(monitor_->fd(),
                       [this] {
                         monitor_->onReadable();
                         rearm();
                       }),
       "netlink");
  if (metrics_) {
    must(loop_.addReader(metrics_->fd(), [this] { metrics_->onReadable(); }),
         "the metrics listener");
  }
  if (const auto period = os::lnx::watchdogInterval()) {
    // Pinged from the loop itself: a loop that stops turning stops the pings.
    watchdog_ = std::make_unique<os::lnx::WatchdogTimer>(*period);
    must(loop_.addReader(watchdog_->fd(), [this] { watchdog_->onReadable(); }),
         "the watchdog timer");
  }
  loop_.onDeadline([this] {
    engine_->onDeadline(clock_.now());
    rearm();
  });
  must(loop_.onSignal(SIGTERM, [this] { loop_.stop(); }), "SIGTERM");
  must(loop_.onSignal(SIGINT, [this] { loop_.stop(); }), "SIGINT");
  if (ucarp) {
    // ucarp's signals: HUP and QUIT end it (with -z, through the downscript), USR1 logs the
    // state, USR2 steps down from MASTER and lets the election run again.
    must(loop_.onSignal(SIGHUP, [this] { loop_.stop(); }), "SIGHUP");
    must(loop_.onSignal(SIGQUIT, [this] { loop_.stop(); }), "SIGQUIT");
    must(loop_.onSignal(SIGUSR1,
                        [this] {
                          for (const auto& v : engine_->vhids()) {
                            log_->info("{} on {} id {}", proto::toString(v->machine.state()),
                                       v->config.interface,
                                       static_cast<int>(v->config.vhid.value()));
                          }
                        }),
         "SIGUSR1");
    must(loop_.onSignal(
             SIGUSR2,
             [this] {
               for (const auto& v : engine_->vhids()) {
                 if (v->machine.state() != proto::State::kMaster) continue;
                 log_->info("SIGUSR2: {} vhid {} steps down to BACKUP", v->config.interface,
                            static_cast<int>(v->config.vhid.value()));
                 if (auto r = engine_->forceState(v->config.interface, v->config.vhid.value(),
                                                  proto::State::kBackup, clock_.now());
                     !r) {
                   log_->warn("SIGUSR2: {}", r.error());
                 }
               }
               rearm();
             }),
         "SIGUSR2");
  } else {
    must(loop_.onSignal(SIGHUP,
                        [this] {
                          log_->info("SIGHUP: reloading {}", config_file_.string());
                          if (auto r = reload(); !r) log_->error("reload refused: {}", r.error());
                          rearm();
                        }),
         "SIGHUP");
  }
}

Shell::~Shell() = default;

void Shell::rearm() { loop_.setDeadline(engine_->nextDeadline()); }

void Shell::syncReceivers() {
  const auto wanted = engine_->listeners();
  const std::set<daemon::Listener> wanted_set(wanted.begin(), wanted.end());
  for (auto it = receivers_.begin(); it != receivers_.end();) {
    if (wanted_set.count(it->first)) {
      ++it;
      continue;
    }
    loop_.removeReader(it->second->fd());
    it = receivers_.erase(it);
  }
  for (const auto& l : wanted) {
    if (receivers_.count(l)) continue;
    try {
      auto receiver = std::make_unique<os::lnx::CarpReceiver>(l.ifindex, l.family, l.multicast);
      os::lnx::CarpReceiver* r = receiver.get();
      const proto::Family family = l.family;
      auto added = loop_.addReader(r->fd(), [this, r, family] {
        r->drain([&](const os::ReceivedPacket& p) { engine_->onPacket(p, family, clock_.now()); });
        rearm();
      });
      if (!added) throw std::runtime_error(std::system_category().message(added.error()));
      receivers_.emplace(l, std::move(receiver));
    } catch (const std::exception& e) {
      log_->error("{}: cannot receive CARP over {}: {}", l.name,
                  l.family == proto::Family::kIPv4 ? "IPv4" : "IPv6", e.what());
    }
  }
}

void Shell::resync() {
  // Netlink messages were lost: ask the kernel for the current state of our interfaces.
  for (const auto& l : engine_->listeners()) {
    if (auto info = interfaces_.find(l.ifindex)) {
      engine_->onLink(l.ifindex, info->running, clock_.now());
      engine_->onInterfaceChanged(l.ifindex);
    }
  }
}

tl::expected<void, std::string> Shell::reload() {
  // SIGHUP and `carpctl reload` both come here; systemd shows "reloading" until READY=1.
  if (engine_->global().ucarp) {
    return tl::unexpected(std::string(
        "carpd --ucarp has no configuration file to reload: restart it with new flags"));
  }
  os::lnx::notifyReloading();
  struct ReadyAgain {
    ~ReadyAgain() { os::lnx::notifyReady(); }
  } ready_again;
  auto loaded = config::loadFile(config_file_);
  for (const auto& d : loaded.diagnostics) {
    if (d.warning) log_->warn("{}", d.toString());
  }
  if (!loaded.ok()) return tl::unexpected(joinErrors(loaded.diagnostics));
  const config::GlobalConfig global = loaded.config->global;
  auto applied = engine_->reload(std::move(*loaded.config), clock_.now());
  if (!applied) return applied;
  hooks_->configure(global.hooks, global.hooks_dir, global.hook_timeout);
  syncReceivers();
  // log_level is a [global] key like the others: a reload applies it (it did not before).
  log_->set_level(spdlog::level::from_str(global.log_level));
  log_->info("reloaded {}", config_file_.string());
  return {};
}

int Shell::run() {
  syncReceivers();
  // Least privilege (architecture.md principle 5): every socket that start-up needs is open
  // (control listener, netlink, senders, receivers). What runs later keeps working with the
  // two that stay: receivers opened on reload (CAP_NET_RAW), addresses, macvlans and
  // /proc/sys/net (CAP_NET_ADMIN, and root's own permission bits).
  if (engine_->global().realtime) {
    if (auto rt = os::lnx::enableRealtime(); rt) {
      log_->info("realtime: SCHED_FIFO priority {}, memory locked", os::lnx::kRealtimePriority);
    } else {
      log_->warn("realtime requested but not available: {}", rt.error());
    }
  }
  if (auto dropped = os::lnx::dropPrivileges(engine_->global().hook_capabilities); !dropped) {
    log_->critical("cannot drop privileges: {}", dropped.error());
    return 1;
  }
  log_->info("capabilities: {}", os::lnx::describeCapabilities());
  engine_->start(clock_.now());
  rearm();
  os::lnx::notifyReady();
  os::lnx::notifyStatus(std::to_string(engine_->vhids().size()) + " VHIDs");
  log_->info("carpd running: {} VHIDs", engine_->vhids().size());
  auto ran = loop_.run();
  os::lnx::notifyStopping();
  log_->info("stopping");
  engine_->stop(clock_.now());
  // The stop's own transitions (MASTER -> INIT) run their hooks too; what still runs after
  // one hook timeout is killed.
  hooks_->shutdown(hooks_->timeout());
  if (!ran) {
    log_->error("event loop failed: {}", std::system_category().message(ran.error()));
    return 1;
  }
  return 0;
}

}  // namespace carp::app
