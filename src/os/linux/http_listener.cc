#include "os/linux/http_listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>

namespace carp::os::lnx {
namespace {

constexpr int kBacklog = 16;

constexpr std::string_view kIndexPage =
    "<!DOCTYPE html>\n<html><head><title>carpd</title></head>\n"
    "<body><h1>carpd</h1><p><a href=\"/metrics\">Metrics</a></p></body></html>\n";

std::string describe(const proto::IpAddress& address, std::uint16_t port) {
  std::array<char, INET6_ADDRSTRLEN> text{};
  const bool v4 = address.family == proto::Family::kIPv4;
  ::inet_ntop(v4 ? AF_INET : AF_INET6, address.bytes.data(), text.data(), text.size());
  // Appended in order: `"[" + std::string(...)` inserts at the front, which GCC 12 at -O3
  // flags with a false -Wrestrict (and -Werror fails the Release build, issue 14).
  std::string out;
  if (!v4) out += '[';
  out += text.data();
  if (!v4) out += ']';
  out += ':';
  out += std::to_string(port);
  return out;
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
    : render_metrics_(std::move(render_metrics)), name_(describe(address, port)) {
  const std::string what = "metrics listener " + name_;
  const bool v4 = address.family == proto::Family::kIPv4;
  UniqueFd listening(
      ::socket(v4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP));
  if (!listening) throwErrno(what + ": socket");
  const int on = 1;
  if (::setsockopt(listening.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0) {
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
    if (::setsockopt(listening.get(), IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on) != 0) {
      throwErrno(what + ": IPV6_V6ONLY");
    }
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    std::memcpy(&in6->sin6_addr, address.bytes.data(), 16);
    length = sizeof *in6;
  }
  if (::bind(listening.get(), reinterpret_cast<const sockaddr*>(&storage), length) != 0) {
    throwErrno(what + ": bind");
  }
  if (::listen(listening.get(), kBacklog) != 0) throwErrno(what + ": listen");
  sockaddr_storage bound{};
  socklen_t bound_length = sizeof bound;
  if (::getsockname(listening.get(), reinterpret_cast<sockaddr*>(&bound), &bound_length) != 0) {
    throwErrno(what + ": getsockname");
  }
  port_ = ntohs(v4 ? reinterpret_cast<const sockaddr_in*>(&bound)->sin_port
                   : reinterpret_cast<const sockaddr_in6*>(&bound)->sin6_port);
  name_ = describe(address, port_);

  server_ = std::make_unique<ConnectionServer>(
      std::move(listening), ConnectionServer::Options{kMaxConnections, timeout, true},
      [this](std::string& input, bool end_of_input) { return onInput(input, end_of_input); });
}

HttpListener::~HttpListener() = default;

RequestVerdict HttpListener::onInput(std::string& input, bool end_of_input) const {
  // Empty lines before the request line are to be ignored (RFC 9112 2.2).
  const std::size_t start = input.find_first_not_of("\r\n");
  input.erase(0, std::min(start, input.size()));
  if (end_of_input) {
    // The client half-closed before the empty line that ends a request.
    if (input.empty()) return RequestVerdict::close();
    return RequestVerdict::respond(errorResponse("400 Bad Request"));
  }
  const auto end = headEnd(input);
  if (!end) {
    if (input.size() > kMaxRequestBytes) {
      return RequestVerdict::respond(errorResponse("400 Bad Request"));
    }
    return RequestVerdict::wait();
  }
  if (*end > kMaxRequestBytes) return RequestVerdict::respond(errorResponse("400 Bad Request"));
  return RequestVerdict::respond(handle(std::string_view(input).substr(0, *end)));
}

std::string HttpListener::handle(std::string_view head) const {
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

}  // namespace carp::os::lnx
