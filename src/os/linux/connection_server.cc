#include "os/linux/connection_server.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <utility>

namespace carp::os::lnx {
namespace {

constexpr std::uint64_t kListenerId = 0;
constexpr std::uint64_t kTimerId = ~std::uint64_t{0};
constexpr std::size_t kReadChunk = 4096;
// What a client may still send after its response before we stop waiting for its close.
constexpr std::size_t kMaxDrainBytes = std::size_t{64} * 1024;
// Bounded per round, like the packet receivers, so that a connection storm cannot starve the
// protocol timers.
constexpr int kMaxAcceptsPerRound = 16;
constexpr int kMaxEventsPerRound = 32;

}  // namespace

ConnectionServer::ConnectionServer(UniqueFd listening, Options options, Protocol protocol)
    : options_(options), protocol_(std::move(protocol)), listen_fd_(std::move(listening)) {
  epoll_fd_.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_fd_) throwErrno("epoll_create1");
  std::vector<std::pair<int, std::uint64_t>> watched = {{listen_fd_.get(), kListenerId}};
  if (options_.timeout) {
    timer_fd_.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
    if (!timer_fd_) throwErrno("timerfd_create");
    watched.emplace_back(timer_fd_.get(), kTimerId);
  }
  for (const auto& [fd, id] : watched) {
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = id;
    if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd, &event) != 0) throwErrno("epoll_ctl");
  }
}

ConnectionServer::~ConnectionServer() = default;

void ConnectionServer::onReadable() {
  std::array<epoll_event, kMaxEventsPerRound> events{};
  int count;
  do {
    count = ::epoll_wait(epoll_fd_.get(), events.data(), kMaxEventsPerRound, 0);
  } while (count < 0 && errno == EINTR);
  for (int i = 0; i < count; ++i) {
    const std::uint64_t id = events[i].data.u64;
    if (id == kListenerId) {
      acceptAll();
      continue;
    }
    if (id == kTimerId) {
      std::uint64_t expirations = 0;
      (void)!::read(timer_fd_.get(), &expirations, sizeof expirations);
      continue;  // closeExpired below
    }
    auto it = connections_.find(id);
    if (it == connections_.end()) continue;  // closed earlier in this round
    Connection& connection = it->second;
    bool keep = false;
    switch (connection.phase) {
      case Phase::kReading:
        keep = readRequest(id, connection);
        break;
      case Phase::kWriting:
        keep = writeResponse(id, connection);
        break;
      case Phase::kDraining:
        keep = drain(connection);
        break;
    }
    if (!keep) close(id);
  }
  if (options_.timeout) {
    closeExpired();
    armTimer();
  }
}

void ConnectionServer::acceptAll() {
  for (int i = 0; i < kMaxAcceptsPerRound; ++i) {
    UniqueFd client(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!client) return;  // EAGAIN, or an error of that one connection (ECONNABORTED, EMFILE)
    if (connections_.size() >= options_.max_connections) close(connections_.begin()->first);
    const std::uint64_t id = next_id_++;
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = id;
    if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, client.get(), &event) != 0) continue;
    Connection connection;
    connection.fd = std::move(client);
    if (options_.timeout) connection.deadline = Clock::now() + *options_.timeout;
    connections_.emplace(id, std::move(connection));
  }
}

bool ConnectionServer::readRequest(std::uint64_t id, Connection& connection) {
  std::array<char, kReadChunk> chunk{};
  for (;;) {
    const ssize_t length = ::recv(connection.fd.get(), chunk.data(), chunk.size(), 0);
    if (length < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK;  // wait for more, or a broken client
    }
    connection.input.append(chunk.data(), static_cast<std::size_t>(length));
    RequestVerdict verdict;
    try {
      verdict = protocol_(connection.input, length == 0);
    } catch (...) {
      return false;
    }
    if (verdict.kind == RequestVerdict::Kind::kWait) {
      if (length == 0) return false;  // the protocol wants more, and no more will come
      continue;
    }
    return apply(id, connection, std::move(verdict));
  }
}

bool ConnectionServer::apply(std::uint64_t id, Connection& connection, RequestVerdict verdict) {
  if (verdict.kind == RequestVerdict::Kind::kClose) return false;
  connection.output = std::move(verdict.response);
  connection.written = 0;
  connection.input.clear();
  connection.input.shrink_to_fit();
  connection.phase = Phase::kWriting;
  if (!watch(id, connection, EPOLLOUT)) return false;
  return writeResponse(id, connection);
}

bool ConnectionServer::writeResponse(std::uint64_t id, Connection& connection) {
  while (connection.written < connection.output.size()) {
    // MSG_NOSIGNAL: a client that went away must not kill the daemon with SIGPIPE.
    const ssize_t sent = ::send(connection.fd.get(), connection.output.data() + connection.written,
                                connection.output.size() - connection.written, MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK;
    }
    connection.written += static_cast<std::size_t>(sent);
  }
  if (!options_.drain_after_response) return false;  // all sent: one request per connection
  connection.output.clear();
  connection.output.shrink_to_fit();
  // Our FIN goes out after the response; the client's close then ends the connection.
  if (::shutdown(connection.fd.get(), SHUT_WR) != 0) return false;
  connection.phase = Phase::kDraining;
  if (!watch(id, connection, EPOLLIN)) return false;
  return drain(connection);
}

bool ConnectionServer::drain(Connection& connection) {
  std::array<char, kReadChunk> chunk{};
  for (;;) {
    const ssize_t length = ::recv(connection.fd.get(), chunk.data(), chunk.size(), 0);
    if (length < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK;
    }
    if (length == 0) return false;  // the client closed: done
    connection.drained += static_cast<std::size_t>(length);
    if (connection.drained > kMaxDrainBytes) return false;
  }
}

bool ConnectionServer::watch(std::uint64_t id, const Connection& connection,
                             std::uint32_t events) noexcept {
  epoll_event event{};
  event.events = events;
  event.data.u64 = id;
  return ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_MOD, connection.fd.get(), &event) == 0;
}

void ConnectionServer::closeExpired() {
  const auto now = Clock::now();
  while (!connections_.empty() && connections_.begin()->second.deadline <= now) {
    close(connections_.begin()->first);
  }
}

void ConnectionServer::armTimer() noexcept {
  itimerspec spec{};  // all zero: disarmed
  if (!connections_.empty()) {
    const auto since_epoch = connections_.begin()->second.deadline.time_since_epoch();
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
    spec.it_value.tv_sec = static_cast<time_t>(seconds.count());
    spec.it_value.tv_nsec = static_cast<long>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch - seconds).count());
    if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) spec.it_value.tv_nsec = 1;
  }
  // steady_clock is CLOCK_MONOTONIC on Linux, so its time points are the timer's time base.
  ::timerfd_settime(timer_fd_.get(), TFD_TIMER_ABSTIME, &spec, nullptr);
}

void ConnectionServer::close(std::uint64_t id) noexcept {
  auto it = connections_.find(id);
  if (it == connections_.end()) return;
  ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, it->second.fd.get(), nullptr);
  connections_.erase(it);
}

}  // namespace carp::os::lnx
