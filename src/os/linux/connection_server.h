#pragma once
// The connection handling that the control socket and the metrics listener share: accept,
// read one request, write one response, close, without ever blocking the daemon. Every socket
// is non-blocking and lives in an epoll set of its own, whose fd() the daemon's EventLoop
// watches like any socket. What a request is and what answers it is the protocol's business.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "os/linux/fd.h"

namespace carp::os::lnx {

// What a protocol makes of what a connection has sent so far.
struct RequestVerdict {
  enum class Kind : std::uint8_t {
    kWait,     // incomplete: read more
    kRespond,  // send `response`, then finish the connection
    kClose,    // close at once, without a response
  };
  Kind kind = Kind::kWait;
  std::string response;

  static RequestVerdict wait() { return {}; }
  static RequestVerdict close() { return {Kind::kClose, {}}; }
  static RequestVerdict respond(std::string text) { return {Kind::kRespond, std::move(text)}; }
};

class ConnectionServer {
 public:
  // Called after every read with everything received so far (it may trim `input`), and once
  // more with end_of_input when the client half-closes. An exception closes that connection.
  using Protocol = std::function<RequestVerdict(std::string& input, bool end_of_input)>;

  struct Options {
    // A new connection beyond this closes the oldest, so stalled clients cannot accumulate.
    std::size_t max_connections = 16;
    // Each connection is closed when it is not done this long after it was accepted; none:
    // only max_connections bounds a stalled client.
    std::optional<std::chrono::milliseconds> timeout;
    // After the response: shut down our side and read until the client closes, so that
    // unread input does not turn our close into a TCP RST that destroys the response before
    // the client has read it. Otherwise the connection closes once the response is sent.
    bool drain_after_response = false;
  };

  // Serves `listening`, a bound, listening, non-blocking socket. Throws std::system_error when
  // the epoll set or the timer cannot be created.
  ConnectionServer(UniqueFd listening, Options options, Protocol protocol);
  ~ConnectionServer();
  ConnectionServer(const ConnectionServer&) = delete;
  ConnectionServer& operator=(const ConnectionServer&) = delete;

  // Readable whenever there is a connection to accept, a client to read from or write to, or
  // a connection that timed out.
  int fd() const noexcept { return epoll_fd_.get(); }
  int listeningFd() const noexcept { return listen_fd_.get(); }

  // Does all the work that is ready now without blocking. Call it whenever fd() is readable.
  void onReadable();

  std::size_t connectionCount() const noexcept { return connections_.size(); }

 private:
  using Clock = std::chrono::steady_clock;
  enum class Phase : std::uint8_t { kReading, kWriting, kDraining };
  struct Connection {
    UniqueFd fd;
    Clock::time_point deadline;
    Phase phase = Phase::kReading;
    std::string input;
    std::string output;
    std::size_t written = 0;
    std::size_t drained = 0;
  };

  void acceptAll();
  // Each returns false when the connection is finished and must be closed.
  bool readRequest(std::uint64_t id, Connection& connection);
  bool apply(std::uint64_t id, Connection& connection, RequestVerdict verdict);
  bool writeResponse(std::uint64_t id, Connection& connection);
  bool drain(Connection& connection);
  bool watch(std::uint64_t id, const Connection& connection, std::uint32_t events) noexcept;
  void closeExpired();
  void armTimer() noexcept;
  void close(std::uint64_t id) noexcept;

  Options options_;
  Protocol protocol_;
  UniqueFd epoll_fd_;
  UniqueFd listen_fd_;
  UniqueFd timer_fd_;  // with a timeout: fires at the oldest connection's deadline
  // Keyed by accept order, which is also the epoll event's data: the oldest is begin() (and has
  // the earliest deadline, since every connection gets the same timeout), and an event for a
  // connection closed earlier in the same round cannot reach a new one with the same fd number.
  std::map<std::uint64_t, Connection> connections_;
  std::uint64_t next_id_ = 1;
};

}  // namespace carp::os::lnx
