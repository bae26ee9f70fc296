#pragma once
// A minimal HTTP server for the Prometheus metrics endpoint ([global] metrics).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "os/linux/connection_server.h"
#include "os/linux/fd.h"
#include "proto/address.h"

namespace carp::os::lnx {

// Serves GET (and HEAD) on one TCP address without ever blocking the daemon, with the
// ConnectionServer that also serves the control socket.
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
  int fd() const noexcept { return server_->fd(); }

  // Does all the work that is ready now without blocking: accepts, reads, renders, writes,
  // closes timed-out connections. Call it whenever fd() is readable. A failing connection is
  // closed; nothing else fails (only std::bad_alloc can escape).
  void onReadable() { server_->onReadable(); }

  // The bound port (the kernel's choice when 0 was asked for).
  std::uint16_t port() const noexcept { return port_; }
  // "127.0.0.1:9420" or "[::1]:9420", for log lines.
  const std::string& name() const noexcept { return name_; }
  std::size_t connectionCount() const noexcept { return server_->connectionCount(); }

 private:
  // The request line and headers in, a whole response out.
  RequestVerdict onInput(std::string& input, bool end_of_input) const;
  std::string handle(std::string_view head) const;

  Renderer render_metrics_;
  std::string name_;
  std::uint16_t port_ = 0;
  std::unique_ptr<ConnectionServer> server_;
};

}  // namespace carp::os::lnx
