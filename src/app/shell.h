#pragma once
// The imperative shell of carpd: opens the Linux adapters, wires them to the engine and runs
// the event loop until SIGTERM/SIGINT.

#include <spdlog/logger.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "config/config.h"
#include "daemon/control_handler.h"
#include "daemon/engine.h"
#include "daemon/maintenance_store.h"
#include "os/linux/bpf_load_balancer.h"
#include "os/linux/carp_socket.h"
#include "os/linux/control_listener.h"
#include "os/linux/event_loop.h"
#include "os/linux/file_master_record.h"
#include "os/linux/hook_runner.h"
#include "os/linux/http_listener.h"
#include "os/linux/monotonic_clock.h"
#include "os/linux/netlink_address_manager.h"
#include "os/linux/netlink_interfaces.h"
#include "os/linux/netlink_monitor.h"
#include "os/linux/packet_sender.h"
#include "os/linux/systemd_notify.h"
#include "os/vhid_claims.h"

namespace carp::app {

class Shell {
 public:
  // Throws std::exception with a one-line reason when something cannot be opened.
  Shell(std::filesystem::path config_file, config::Config config,
        std::shared_ptr<spdlog::logger> log);
  ~Shell();
  // Runs until SIGTERM/SIGINT; then stops gracefully. Returns the process exit status.
  int run();

 private:
  tl::expected<void, std::string> reload();
  void syncReceivers();
  void resync();
  // Re-arms the loop's timer after anything that may have changed the engine's timers.
  void rearm();

  std::filesystem::path config_file_;
  std::shared_ptr<spdlog::logger> log_;
  os::lnx::MonotonicClock clock_;
  os::lnx::EventLoop loop_;
  // After loop_ (it unregisters from the loop when destroyed), before engine_ (whose
  // transitions it receives).
  std::unique_ptr<os::lnx::HookRunner> hooks_;
  os::lnx::NetlinkInterfaceDirectory interfaces_;
  os::lnx::NetlinkAddressManager addresses_;
  os::lnx::PacketSocketSender frames_;
  os::lnx::RawIpSender ip_;
  daemon::MaintenanceStore maintenance_store_;
  // Loaded before privileges are dropped when a VHID balances; used by the engine.
  os::lnx::BpfLoadBalancer balancer_;
  std::unique_ptr<os::lnx::FileMasterRecord> master_record_;
  // Held for the life of the process (the flocks are the claims); before engine_, which uses it.
  std::unique_ptr<os::VhidClaims> claims_;  // null when state_dir is unusable
  std::unique_ptr<daemon::Engine> engine_;
  std::unique_ptr<daemon::ControlHandler> control_;
  std::unique_ptr<os::lnx::ControlListener> listener_;
  // Present when [global] metrics is set.
  std::unique_ptr<os::lnx::HttpListener> metrics_;
  std::unique_ptr<os::lnx::NetlinkMonitor> monitor_;
  std::map<daemon::Listener, std::unique_ptr<os::lnx::CarpReceiver>> receivers_;
  // Present when systemd asked for watchdog pings (WatchdogSec=).
  std::unique_ptr<os::lnx::WatchdogTimer> watchdog_;
};

}  // namespace carp::app
