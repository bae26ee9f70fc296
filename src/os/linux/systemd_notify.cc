#include "os/linux/systemd_notify.h"

#include <sys/timerfd.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <string>

namespace carp::os::lnx {
namespace {

constexpr std::int64_t kMicrosecondsPerSecond = 1'000'000;

void send(const std::string& state) { (void)sd_notify(0, state.c_str()); }

}  // namespace

void notifyReady() { send("READY=1"); }

void notifyReloading() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  const auto usec = static_cast<std::uint64_t>(now.tv_sec) * kMicrosecondsPerSecond +
                    static_cast<std::uint64_t>(now.tv_nsec) / 1000;
  send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

void notifyStopping() { send("STOPPING=1"); }

void notifyStatus(std::string_view text) {
  std::string state = "STATUS=" + std::string(text);
  std::replace_if(
      state.begin(), state.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
  send(state);
}

void notifyWatchdog() { send("WATCHDOG=1"); }

std::optional<std::chrono::microseconds> watchdogInterval() {
  std::uint64_t usec = 0;
  // 0: keep WATCHDOG_USEC/WATCHDOG_PID, so that a reload can ask again.
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
  return std::chrono::microseconds(static_cast<std::int64_t>(std::max<std::uint64_t>(usec / 2, 1)));
}

WatchdogTimer::WatchdogTimer(std::chrono::microseconds period)
    : fd_(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) {
  if (!fd_) throwErrno("timerfd_create for the watchdog");
  const std::int64_t us = std::max<std::int64_t>(period.count(), 1);
  itimerspec spec{};
  spec.it_interval.tv_sec = static_cast<time_t>(us / kMicrosecondsPerSecond);
  spec.it_interval.tv_nsec = static_cast<long>((us % kMicrosecondsPerSecond) * 1000);
  spec.it_value = spec.it_interval;
  if (::timerfd_settime(fd_.get(), 0, &spec, nullptr) != 0) {
    throwErrno("timerfd_settime for the watchdog");
  }
}

void WatchdogTimer::onReadable() noexcept {
  std::uint64_t expirations = 0;
  // Nonblocking: EAGAIN when woken without an expiry; the ping is sent either way, since the
  // loop is evidently running.
  (void)!::read(fd_.get(), &expirations, sizeof expirations);
  notifyWatchdog();
}

}  // namespace carp::os::lnx
