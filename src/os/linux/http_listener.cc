#include "os/linux/http_listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>

namespace carp::os::lnx {
namespace {

constexpr std::uint64_t kListenerId = 0;
constexpr std::uint64_t kTimerId = ~std::uint64_t{0};
constexpr int kBacklog = 16;
constexpr std::size_t kReadChunk = 4096;
// What a client may still send after its response before we stop waiting for its close.
constexpr std::size_t kMaxDrainBytes = std::size_t{64} * 1024;
// Bounded per round, like the packet receivers, so that a connection storm cannot starve the
// protocol timers.
constexpr int kMaxAcceptsPerRound = 16;
constexpr int kMaxEventsPerRound = 32;

constexpr std::string_view kIndexPage =
    "<!DOCTYPE html>\n<html><head><title>carpd</title></head>\n"
    "<body><h1>carpd</h1><p><a href=\"/metrics\">Metrics</a></p></body></html>\n";

std::string describe(const proto::IpAddress& address, std::uint16_t port) {
  std::array<char, INET6_ADDRSTRLEN> text{};
  const bool v4 = address.family == proto::Family::kIPv4;
  ::inet_ntop(v4 ? AF_INET : AF_INET6, address.bytes.data(), text.data(), text.size());
  return v4 ? std::string(text.data()) + ":" + std::to_string(port)
            : "[" + std::string(text.data()) + "]:" + std::to_string(port);
}

// RFC 9110 5.6.2 token characters (methods and header names).
bool isToken(std::string_view text) {
  constexpr std::string_view kSpecials = "!#$%&'*+-.^_`|~";
  return !text.empty() && std::all_of(text.begin(), text.end(), [&](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           kSpecials.find(c) != std::string_view::npos;
  });
}

// Visible ASCII only: no spaces, controls or bytes above 0x7e in a request target.
bool isVisible(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

// A header value: visible characters, spaces, tabs and obs-text; no other controls.
bool isFieldValue(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u == '\t' || (u >= 0x20 && u != 0x7f);
  });
}

// Where the request line and headers end (the index of the '\n' that ends the last of them),
// once the empty line that ends them has arrived.
std::optional<std::size_t> headEnd(std::string_view input) {
  const std::size_t bare = input.find("\n\n");
  const std::size_t crlf = input.find("\n\r\n");
  const std::size_t end = std::min(bare, crlf);
  if (end == std::string_view::npos) return std::nullopt;
  return end;
}

struct Request {
  std::string_view method;
  std::string_view path;
};

// Parses the request line and checks the header lines; std::nullopt for a malformed request.
// CRLF or bare LF line ends (RFC 9112 2.2 allows a recipient to accept the latter).
std::optional<Request> parseHead(std::string_view head) {
  bool first = true;
  Request request;
  while (!head.empty() || first) {
    const std::size_t newline = head.find('\n');
    std::string_view line = head.substr(0, newline);
    head = newline == std::string_view::npos ? std::string_view() : head.substr(newline + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (first) {
      first = false;
      // method SP request-target SP HTTP-version, single spaces (RFC 9112 3).
      const std::size_t space1 = line.find(' ');
      if (space1 == std::string_view::npos) return std::nullopt;
      const std::size_t space2 = line.find(' ', space1 + 1);
      if (space2 == std::string_view::npos) return std::nullopt;
      request.method = line.substr(0, space1);
      std::string_view target = line.substr(space1 + 1, space2 - space1 - 1);
      const std::string_view version = line.substr(space2 + 1);
      if (!isToken(request.method) || !isVisible(target)) return std::nullopt;
      if (version != "HTTP/1.0" && version != "HTTP/1.1") return std::nullopt;
      // The absolute form, which proxies send, names the same resource (RFC 9112 3.2.2).
      for (const std::string_view scheme : {"http://", "https://"}) {
        if (target.starts_with(scheme)) {
          target.remove_prefix(scheme.size());
          const std::size_t slash = target.find('/');
          target = slash == std::string_view::npos ? "/" : target.substr(slash);
        }
      }
      if (target.empty() || target.front() != '/') {
        // "*" (OPTIONS) or garbage; another method than GET gets its 405 anyway.
        if (request.method == "GET" || request.method == "HEAD") return std::nullopt;
      }
      request.path = target.substr(0, target.find_first_of("?#"));
      continue;
    }
    // field-name ":" OWS field-value OWS; no obsolete line folding (RFC 9112 5.2).
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || !isToken(line.substr(0, colon)) ||
        !isFieldValue(line.substr(colon + 1))) {
      return std::nullopt;
    }
  }
  return request;
}

std::string response(std::string_view status, std::string_view content_type, std::string_view body,
                     bool with_body = true, std::string_view extra_headers = {}) {
  std::string out;
  out.reserve(160 + body.size());
  out += "HTTP/1.0 ";
  out += status;
  out += "\r\nContent-Type: ";
  out += content_type;
  out += "\r\nContent-Length: ";
  out += std::to_string(body.size());
  out += "\r\nCache-Control: no-store\r\nConnection: close\r\n";
  out += extra_headers;
  out += "\r\n";
  if (with_body) out += body;
  return out;
}

std::string errorResponse(std::string_view status, std::string_view extra_headers = {}) {
  return response(status, "text/plain; charset=utf-8", std::string(status) + "\n", true,
                  extra_headers);
}

}  // namespace

HttpListener::HttpListener(const proto::IpAddress& address, std::uint16_t port,
                           Renderer render_metrics, std::chrono::milliseconds timeout)
    : render_metrics_(std::move(render_metrics)),
      timeout_(timeout),
      name_(describe(address, port)) {
  const std::string what = "metrics listener " + name_;
  const bool v4 = address.family == proto::Family::kIPv4;
  listen_fd_.reset(
      ::socket(v4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP));
  if (!listen_fd_) throwErrno(what + ": socket");
  const int on = 1;
  if (::setsockopt(listen_fd_.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0) {
    throwErrno(what + ": SO_REUSEADDR");
  }
  sockaddr_storage storage{};
  socklen_t length = 0;
  if (v4) {
    auto* in = reinterpret_cast<sockaddr_in*>(&storage);
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    std::memcpy(&in->sin_addr, address.bytes.data(), 4);
    length = sizeof *in;
  } else {
    if (::setsockopt(listen_fd_.get(), IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on) != 0) {
      throwErrno(what + ": IPV6_V6ONLY");
    }
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    std::memcpy(&in6->sin6_addr, address.bytes.data(), 16);
    length = sizeof *in6;
  }
  if (::bind(listen_fd_.get(), reinterpret_cast<const sockaddr*>(&storage), length) != 0) {
    throwErrno(what + ": bind");
  }
  if (::listen(listen_fd_.get(), kBacklog) != 0) throwErrno(what + ": listen");
  sockaddr_storage bound{};
  socklen_t bound_length = sizeof bound;
  if (::getsockname(listen_fd_.get(), reinterpret_cast<sockaddr*>(&bound), &bound_length) != 0) {
    throwErrno(what + ": getsockname");
  }
  port_ = ntohs(v4 ? reinterpret_cast<const sockaddr_in*>(&bound)->sin_port
                   : reinterpret_cast<const sockaddr_in6*>(&bound)->sin6_port);
  name_ = describe(address, port_);

  epoll_fd_.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_fd_) throwErrno(what + ": epoll_create1");
  timer_fd_.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  if (!timer_fd_) throwErrno(what + ": timerfd_create");
  for (const auto& [fd, id] :
       {std::pair{listen_fd_.get(), kListenerId}, std::pair{timer_fd_.get(), kTimerId}}) {
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = id;
    if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd, &event) != 0) throwErrno(what + ": epoll");
  }
}

HttpListener::~HttpListener() = default;

void HttpListener::onReadable() {
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
  closeExpired();
  armTimer();
}

void HttpListener::acceptAll() {
  for (int i = 0; i < kMaxAcceptsPerRound; ++i) {
    UniqueFd client(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!client) return;  // EAGAIN, or an error of that one connection (ECONNABORTED, EMFILE)
    if (connections_.size() >= kMaxConnections) close(connections_.begin()->first);
    const std::uint64_t id = next_id_++;
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = id;
    if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, client.get(), &event) != 0) continue;
    Connection connection;
    connection.fd = std::move(client);
    connection.deadline = Clock::now() + timeout_;
    connections_.emplace(id, std::move(connection));
  }
}

bool HttpListener::readRequest(std::uint64_t id, Connection& connection) {
  std::array<char, kReadChunk> chunk{};
  for (;;) {
    const ssize_t length = ::recv(connection.fd.get(), chunk.data(), chunk.size(), 0);
    if (length < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK;  // wait for more, or a broken client
    }
    if (length == 0) {
      // The client half-closed before the empty line that ends a request.
      if (connection.input.empty()) return false;
      return respond(id, connection, errorResponse("400 Bad Request"));
    }
    connection.input.append(chunk.data(), static_cast<std::size_t>(length));
    // Empty lines before the request line are to be ignored (RFC 9112 2.2).
    const std::size_t start = connection.input.find_first_not_of("\r\n");
    connection.input.erase(0, std::min(start, connection.input.size()));
    const auto end = headEnd(connection.input);
    if (!end) {
      if (connection.input.size() > kMaxRequestBytes) {
        return respond(id, connection, errorResponse("400 Bad Request"));
      }
      continue;
    }
    if (*end > kMaxRequestBytes) return respond(id, connection, errorResponse("400 Bad Request"));
    std::string reply = handle(std::string_view(connection.input).substr(0, *end));
    return respond(id, connection, std::move(reply));
  }
}

std::string HttpListener::handle(std::string_view head) {
  const auto request = parseHead(head);
  if (!request) return errorResponse("400 Bad Request");
  const bool get = request->method == "GET";
  if (!get && request->method != "HEAD") {
    return errorResponse("405 Method Not Allowed", "Allow: GET, HEAD\r\n");
  }
  if (request->path == "/metrics") {
    try {
      return response("200 OK", kMetricsContentType, render_metrics_(), get);
    } catch (...) {
      return errorResponse("500 Internal Server Error");
    }
  }
  if (request->path == "/") return response("200 OK", "text/html; charset=utf-8", kIndexPage, get);
  return errorResponse("404 Not Found");
}

bool HttpListener::respond(std::uint64_t id, Connection& connection, std::string response) {
  connection.output = std::move(response);
  connection.written = 0;
  connection.input.clear();
  connection.input.shrink_to_fit();
  connection.phase = Phase::kWriting;
  epoll_event event{};
  event.events = EPOLLOUT;
  event.data.u64 = id;
  if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_MOD, connection.fd.get(), &event) != 0) return false;
  return writeResponse(id, connection);
}

bool HttpListener::writeResponse(std::uint64_t id, Connection& connection) {
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
  connection.output.clear();
  connection.output.shrink_to_fit();
  // Our FIN goes out after the response; the client's close then ends the connection.
  if (::shutdown(connection.fd.get(), SHUT_WR) != 0) return false;
  connection.phase = Phase::kDraining;
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = id;
  if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_MOD, connection.fd.get(), &event) != 0) return false;
  return drain(connection);
}

bool HttpListener::drain(Connection& connection) {
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

void HttpListener::closeExpired() {
  const auto now = Clock::now();
  while (!connections_.empty() && connections_.begin()->second.deadline <= now) {
    close(connections_.begin()->first);
  }
}

void HttpListener::armTimer() noexcept {
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

void HttpListener::close(std::uint64_t id) noexcept {
  auto it = connections_.find(id);
  if (it == connections_.end()) return;
  ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, it->second.fd.get(), nullptr);
  connections_.erase(it);
}

}  // namespace carp::os::lnx
