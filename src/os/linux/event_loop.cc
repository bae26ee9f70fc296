#include "os/linux/event_loop.h"

#include <pthread.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <utility>

namespace carp::os::lnx {
namespace {

// Timer and signalfd events carry generation 0, which readers never get.
constexpr std::uint32_t kInternalGeneration = 0;
constexpr int kMaxEventsPerWait = 32;

std::uint64_t eventData(int fd, std::uint32_t generation) {
  return (std::uint64_t{generation} << 32) | static_cast<std::uint32_t>(fd);
}

int eventFd(std::uint64_t data) { return static_cast<int>(data & 0xffffffffu); }

std::uint32_t eventGeneration(std::uint64_t data) { return static_cast<std::uint32_t>(data >> 32); }

}  // namespace

EventLoop::EventLoop() : epoll_fd_(::epoll_create1(EPOLL_CLOEXEC)), timer_fd_(), signal_fd_() {
  if (!epoll_fd_) throwErrno("epoll_create1");
  timer_fd_.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  if (!timer_fd_) throwErrno("timerfd_create(CLOCK_MONOTONIC)");
  sigemptyset(&signal_mask_);
  signal_fd_.reset(::signalfd(-1, &signal_mask_, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!signal_fd_) throwErrno("signalfd");
  for (int fd : {timer_fd_.get(), signal_fd_.get()}) {
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = eventData(fd, kInternalGeneration);
    if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd, &event) != 0) throwErrno("epoll_ctl(ADD)");
  }
}

EventLoop::~EventLoop() = default;

tl::expected<void, Errno> EventLoop::addReader(int fd, Callback on_readable) {
  auto callback = std::make_shared<Callback>(std::move(on_readable));
  if (auto it = readers_.find(fd); it != readers_.end()) {
    it->second.callback = std::move(callback);
    return {};
  }
  std::uint32_t generation = next_generation_++;
  if (generation == kInternalGeneration) generation = next_generation_++;
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = eventData(fd, generation);
  if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd, &event) != 0) {
    return tl::unexpected(errno);
  }
  readers_.emplace(fd, Reader{generation, std::move(callback)});
  return {};
}

void EventLoop::removeReader(int fd) noexcept {
  auto it = readers_.find(fd);
  if (it == readers_.end()) return;
  readers_.erase(it);
  // Fails harmlessly with EBADF if the caller already closed fd: closing the last reference
  // to a file removes it from every epoll set.
  ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, fd, nullptr);
}

void EventLoop::onDeadline(Callback on_deadline) {
  on_deadline_ = std::make_shared<Callback>(std::move(on_deadline));
}

void EventLoop::setDeadline(std::optional<proto::TimePoint> deadline) noexcept {
  if (armed_known_ && armed_deadline_ == deadline) return;
  armed_known_ = true;
  armed_deadline_ = deadline;
  itimerspec spec{};  // all zero: disarm
  if (deadline) {
    const auto since_epoch = deadline->time_since_epoch();
    const auto seconds = std::chrono::floor<std::chrono::seconds>(since_epoch);
    const auto nanoseconds =
        std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch - seconds);
    if (since_epoch.count() <= 0) {
      // A zero it_value would disarm the timer instead of firing it; 1 ns is in the past
      // for any running system, and an absolute time in the past expires at once.
      spec.it_value.tv_nsec = 1;
    } else {
      spec.it_value.tv_sec = static_cast<time_t>(seconds.count());
      spec.it_value.tv_nsec = static_cast<long>(nanoseconds.count());
    }
  }
  // Cannot fail with a valid fd and a normalised timespec.
  ::timerfd_settime(timer_fd_.get(), TFD_TIMER_ABSTIME, &spec, nullptr);
}

tl::expected<void, Errno> EventLoop::onSignal(int signo, Callback on_signal) {
  sigset_t one;
  sigemptyset(&one);
  if (sigaddset(&one, signo) != 0) return tl::unexpected(EINVAL);
  if (const int error = ::pthread_sigmask(SIG_BLOCK, &one, nullptr); error != 0) {
    return tl::unexpected(error);
  }
  sigset_t mask = signal_mask_;
  sigaddset(&mask, signo);
  if (::signalfd(signal_fd_.get(), &mask, SFD_NONBLOCK | SFD_CLOEXEC) < 0) {
    return tl::unexpected(errno);
  }
  signal_mask_ = mask;
  signal_handlers_[signo] = std::make_shared<Callback>(std::move(on_signal));
  return {};
}

tl::expected<void, Errno> EventLoop::run() {
  std::array<epoll_event, kMaxEventsPerWait> events{};
  while (!stop_requested_) {
    const int count = ::epoll_wait(epoll_fd_.get(), events.data(), kMaxEventsPerWait, -1);
    if (count < 0) {
      const int error = errno;
      if (error == EINTR) continue;
      return tl::unexpected(error);
    }
    for (int i = 0; i < count && !stop_requested_; ++i) dispatch(events[i]);
  }
  stop_requested_ = false;
  return {};
}

void EventLoop::dispatch(const epoll_event& event) {
  const int fd = eventFd(event.data.u64);
  const std::uint32_t generation = eventGeneration(event.data.u64);
  if (generation == kInternalGeneration) {
    if (fd == timer_fd_.get()) {
      handleTimer();
    } else if (fd == signal_fd_.get()) {
      handleSignals();
    }
    return;
  }
  auto it = readers_.find(fd);
  if (it == readers_.end() || it->second.generation != generation) return;
  // A copy, so that the callback survives its own removeReader() or replacement.
  const std::shared_ptr<Callback> callback = it->second.callback;
  if (*callback) (*callback)();
}

void EventLoop::handleTimer() {
  armed_known_ = false;
  std::uint64_t expirations = 0;
  // EAGAIN means the timer was re-armed (which resets the count) after it expired but before
  // this read: the new deadline has not been reached, so there is nothing to report.
  if (::read(timer_fd_.get(), &expirations, sizeof expirations) !=
      static_cast<ssize_t>(sizeof expirations)) {
    return;
  }
  if (const std::shared_ptr<Callback> callback = on_deadline_; callback && *callback) {
    (*callback)();
  }
}

void EventLoop::handleSignals() {
  signalfd_siginfo info{};
  // Standard signals do not queue: several SIGHUPs before this read arrive as one.
  while (!stop_requested_ &&
         ::read(signal_fd_.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
    auto it = signal_handlers_.find(static_cast<int>(info.ssi_signo));
    if (it == signal_handlers_.end()) continue;
    const std::shared_ptr<Callback> callback = it->second;
    if (*callback) (*callback)();
  }
}

}  // namespace carp::os::lnx
