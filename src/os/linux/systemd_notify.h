#pragma once
// Telling systemd how carpd is doing (sd_notify(3)), for a unit with Type=notify (or
// notify-reload) and WatchdogSec=. Outside systemd, NOTIFY_SOCKET is unset and every call
// does nothing. Errors are ignored: the service manager is told what it can be told, and the
// daemon does not stop over it.

#include <chrono>
#include <optional>
#include <string_view>

#include "os/linux/fd.h"

namespace carp::os::lnx {

// "READY=1": start-up is complete (sockets open, privileges dropped, VHIDs started).
void notifyReady();
// "RELOADING=1" with "MONOTONIC_USEC=<CLOCK_MONOTONIC now>", which Type=notify-reload
// (systemd 253 and newer) requires to match the reload to the request; older systemd ignores
// the extra field. Send notifyReady() when the reload is over, whether it was applied or not.
void notifyReloading();
// "STOPPING=1": the graceful stop (bow-out, address removal) has begun.
void notifyStopping();
// "STATUS=<text>", shown by `systemctl status`. Line breaks in text become spaces, so that
// the text cannot add fields of its own.
void notifyStatus(std::string_view text);
// "WATCHDOG=1": the event loop is alive.
void notifyWatchdog();

// How often to send notifyWatchdog(): half of WatchdogSec= (sd_watchdog_enabled(3), which
// recommends that margin), or std::nullopt when the watchdog is off for this process.
std::optional<std::chrono::microseconds> watchdogInterval();

// A periodic CLOCK_MONOTONIC timerfd that sends WATCHDOG=1 each time the event loop reads it,
// so that systemd restarts carpd when the loop stops turning. Register fd() with
// EventLoop::addReader and call onReadable() from the callback.
class WatchdogTimer {
 public:
  // Arms the timer with `period`, first expiry one period from now. Throws std::system_error
  // when the timerfd cannot be created or armed.
  explicit WatchdogTimer(std::chrono::microseconds period);

  int fd() const noexcept { return fd_.get(); }
  // Consumes the expirations and sends one WATCHDOG=1, however many periods went by.
  void onReadable() noexcept;

 private:
  UniqueFd fd_;
};

}  // namespace carp::os::lnx
