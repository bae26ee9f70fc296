#pragma once
// The daemon's single-threaded event loop: epoll over the sockets, one timerfd for the
// earliest protocol deadline and a signalfd for SIGTERM/SIGINT/SIGHUP.
//
// The loop keeps no timer heap of its own: the daemon owns its timers (they are protocol
// state, driven by time passed in) and hands the loop only the earliest deadline. That keeps
// the loop free of protocol logic and the timers testable with a fake clock.

#include <signal.h>
#include <sys/epoll.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <tl/expected.hpp>
#include <unordered_map>

#include "os/linux/fd.h"
#include "os/packet_io.h"
#include "proto/types.h"

namespace carp::os::lnx {

class EventLoop {
 public:
  using Callback = std::function<void()>;

  // Creates the epoll set, the timerfd (CLOCK_MONOTONIC) and an empty signalfd.
  // Throws std::system_error on failure; nothing after construction throws on its own
  // (callbacks may, and their exceptions leave run() with the loop still usable).
  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Calls on_readable from run() while fd is readable (level-triggered, so a callback that
  // reads only part of what is queued is called again). Error and hang-up conditions also
  // call it, so that its read() sees the error. The caller keeps ownership of fd and must
  // removeReader() before closing it. Adding an fd that is already registered replaces its
  // callback. Errors: the errno of epoll_ctl (EBADF, EPERM for regular files, ENOMEM).
  [[nodiscard]] tl::expected<void, Errno> addReader(int fd, Callback on_readable);

  // Stops watching fd. Safe to call from any callback, including fd's own (the running
  // callback stays alive until it returns), and for an fd that is not registered: events
  // already collected for it in the current round are discarded.
  void removeReader(int fd) noexcept;

  // The function called when the deadline set with setDeadline() is reached.
  void onDeadline(Callback on_deadline);

  // Arms the single timer for an absolute CLOCK_MONOTONIC time (MonotonicClock::now's time
  // base), replacing any earlier deadline; std::nullopt disarms it. A deadline at or before
  // now fires on the next round of run(). The deadline fires once; the daemon sets the next.
  void setDeadline(std::optional<proto::TimePoint> deadline) noexcept;

  // Blocks signo for this thread (call before starting any other thread, so that the signal
  // is never delivered the default way) and calls on_signal from run() when it arrives.
  // Signals stay blocked after the loop is destroyed, so that a late SIGTERM during shutdown
  // does not kill the process halfway. Registering a signal again replaces its callback.
  // Errors: EINVAL for an invalid signal number; errno of pthread_sigmask or signalfd.
  [[nodiscard]] tl::expected<void, Errno> onSignal(int signo, Callback on_signal);

  // Waits for and dispatches events until stop() is called (from a callback, or before run()
  // in which case run() returns at once). EINTR is retried. Returns the errno of epoll_wait
  // if it fails otherwise. Not re-entrant: do not call run() from a callback.
  [[nodiscard]] tl::expected<void, Errno> run();

  // Makes run() return after the callback that is running now.
  void stop() noexcept { stop_requested_ = true; }

 private:
  struct Reader {
    std::uint32_t generation = 0;
    std::shared_ptr<Callback> callback;
  };

  void dispatch(const epoll_event& event);
  void handleTimer();
  void handleSignals();

  UniqueFd epoll_fd_;
  UniqueFd timer_fd_;
  // What the timer is armed for, so that setting the same deadline again costs no syscall:
  // the daemon sets it after every packet, and a flood of dropped packets never moves it.
  // Forgotten when the timer fires, so that a repeated past deadline fires again.
  bool armed_known_ = false;
  std::optional<proto::TimePoint> armed_deadline_;
  UniqueFd signal_fd_;
  sigset_t signal_mask_{};
  // A generation number per registration travels in the epoll event with the fd, so that an
  // event collected for an fd that was removed (and perhaps re-added) in the same round is
  // not delivered to the wrong callback.
  std::unordered_map<int, Reader> readers_;
  std::uint32_t next_generation_ = 1;
  std::shared_ptr<Callback> on_deadline_;
  std::map<int, std::shared_ptr<Callback>> signal_handlers_;
  bool stop_requested_ = false;
};

}  // namespace carp::os::lnx
