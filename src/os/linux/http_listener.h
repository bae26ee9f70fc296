#pragma once
// A minimal HTTP server for the Prometheus metrics endpoint ([global] metrics).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "os/linux/fd.h"
#include "proto/address.h"

namespace carp::os::lnx {

// Serves GET (and HEAD) on one TCP address without ever blocking the daemon, the way
// ControlListener serves the control socket: every socket is non-blocking and lives in an
// epoll set of its own, whose fd() the daemon's EventLoop watches.
//
//   GET /metrics  200, the renderer's text, Content-Type kMetricsContentType
//   GET /         200, a short page that points at /metrics
//   other paths   404;  other methods 405;  a malformed request, or a request line and
//                 headers over kMaxRequestBytes, 400.
//
// One request per connection (HTTP/1.0 style, "Connection: close"); request bodies are never
// read. Abuse costs bounded memory and no waiting: at most kMaxConnections connections (a new
// one closes the oldest), each with at most kMaxRequestBytes of input, and each closed when it
// is not done within `timeout` of being accepted, so a client that sends half a request, or
// reads its response slowly, only holds its own slot for a while.
//
// There is no authentication and no TLS: listen on loopback (127.0.0.1:9420, the documented
// default) or a management network, and let a firewall or a reverse proxy do the rest. The
// metrics hold no secrets.
class HttpListener {
 public:
  // Returns the metrics text. An exception from it turns into a 500 response.
  using Renderer = std::function<std::string()>;

  static constexpr std::size_t kMaxRequestBytes = std::size_t{8} * 1024;
  static constexpr std::size_t kMaxConnections = 16;
  // Prometheus' default scrape timeout: a scraper that needs longer has given up anyway.
  static constexpr std::chrono::milliseconds kDefaultTimeout{10'000};
  static constexpr std::string_view kMetricsContentType =
      "text/plain; version=0.0.4; charset=utf-8";

  // Binds address:port (SO_REUSEADDR, so a restarted carpd can bind at once; IPV6_V6ONLY for
  // IPv6, so "[::]:9420" never takes the IPv4 port too) and listens. Port 0 binds an ephemeral
  // port (tests), see port(). Throws std::system_error naming the address on failure
  // (EADDRINUSE, EADDRNOTAVAIL for an address the host does not have, EACCES below 1024
  // without CAP_NET_BIND_SERVICE).
  HttpListener(const proto::IpAddress& address, std::uint16_t port, Renderer render_metrics,
               std::chrono::milliseconds timeout = kDefaultTimeout);
  ~HttpListener();
  HttpListener(const HttpListener&) = delete;
  HttpListener& operator=(const HttpListener&) = delete;

  // Readable whenever there is a connection to accept, a client to read from or write to, or
  // a connection that timed out.
  int fd() const noexcept { return epoll_fd_.get(); }

  // Does all the work that is ready now without blocking: accepts, reads, renders, writes,
  // closes timed-out connections. Call it whenever fd() is readable. A failing connection is
  // closed; nothing else fails (only std::bad_alloc can escape).
  void onReadable();

  // The bound port (the kernel's choice when 0 was asked for).
  std::uint16_t port() const noexcept { return port_; }
  // "127.0.0.1:9420" or "[::1]:9420", for log lines.
  const std::string& name() const noexcept { return name_; }
  std::size_t connectionCount() const noexcept { return connections_.size(); }

 private:
  using Clock = std::chrono::steady_clock;
  enum class Phase : std::uint8_t {
    kReading,   // collecting the request line and headers
    kWriting,   // sending the response
    kDraining,  // response sent and our side shut down: discarding input until the client
                // closes, so that unread input does not turn our close into a RST that
                // destroys the response before the client has read it
  };
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
  bool respond(std::uint64_t id, Connection& connection, std::string response);
  bool writeResponse(std::uint64_t id, Connection& connection);
  bool drain(Connection& connection);
  std::string handle(std::string_view head);
  void closeExpired();
  void armTimer() noexcept;
  void close(std::uint64_t id) noexcept;

  Renderer render_metrics_;
  std::chrono::milliseconds timeout_;
  std::string name_;
  std::uint16_t port_ = 0;
  UniqueFd epoll_fd_;
  UniqueFd listen_fd_;
  UniqueFd timer_fd_;  // fires at the oldest connection's deadline
  // Keyed by accept order, which is also the epoll event's data: the oldest is begin() (and has
  // the earliest deadline, since every connection gets the same timeout), and an event for a
  // connection closed earlier in the same round cannot reach a new one with the same fd number.
  std::map<std::uint64_t, Connection> connections_;
  std::uint64_t next_id_ = 1;
};

}  // namespace carp::os::lnx
