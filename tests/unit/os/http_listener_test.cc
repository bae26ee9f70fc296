// The metrics HTTP listener on real sockets on 127.0.0.1, with a real HTTP client (python3's
// urllib) for the well-formed requests and raw sockets for the hostile ones.

#include "os/linux/http_listener.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "os/linux/fd.h"

namespace carp::os::lnx {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

const proto::IpAddress kLoopback = proto::IpAddress::v4({127, 0, 0, 1});

// Prints the status, four headers (or "None") and the body; "error: ..." when the request
// fails below HTTP (a reset, a timeout).
constexpr const char* kClientScript = R"(
import sys, urllib.request, urllib.error
method, url = sys.argv[1], sys.argv[2]
headers = {"X-Big": "a" * int(sys.argv[3])} if len(sys.argv) > 3 else {}
request = urllib.request.Request(url, method=method, headers=headers)
try:
    try:
        r = urllib.request.urlopen(request, timeout=5)
        code, hdrs, body = r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        code, hdrs, body = e.code, e.headers, e.read()
except Exception as e:
    print("error: %r" % e)
    sys.exit(0)
print(code)
for name in ("Content-Type", "Content-Length", "Connection", "Allow"):
    print(hdrs.get(name))
sys.stdout.write(body.decode())
)";

struct HttpResult {
  std::string status;  // "200", or "error: ..."
  std::string content_type;
  std::string content_length;
  std::string connection;
  std::string allow;
  std::string body;
};

HttpResult parseClientOutput(const std::string& out) {
  HttpResult r;
  std::size_t pos = 0;
  auto line = [&]() {
    const std::size_t end = out.find('\n', pos);
    std::string l = out.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    pos = end == std::string::npos ? out.size() : end + 1;
    return l;
  };
  r.status = line();
  if (r.status.starts_with("error")) return r;
  r.content_type = line();
  r.content_length = line();
  r.connection = line();
  r.allow = line();
  r.body = out.substr(pos);
  return r;
}

// A blocking raw client: sends `request`, calls before_reading, returns everything
// received until the server closes (or an error).
std::string rawExchange(std::uint16_t port, const std::string& request,
                        const std::function<void()>& before_reading = {}, int rcvbuf = 0) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (rcvbuf > 0) ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    return "<connect failed>";
  }
  timeval timeout{5, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  std::size_t offset = 0;
  while (offset < request.size()) {
    const ssize_t sent =
        ::send(fd.get(), request.data() + offset, request.size() - offset, MSG_NOSIGNAL);
    if (sent <= 0) break;  // the server may answer and close early
    offset += static_cast<std::size_t>(sent);
  }
  if (before_reading) before_reading();
  std::string response;
  std::vector<char> buffer(65536);
  for (;;) {
    const ssize_t length = ::recv(fd.get(), buffer.data(), buffer.size(), 0);
    if (length <= 0) break;
    response.append(buffer.data(), static_cast<std::size_t>(length));
  }
  return response;
}

// A connected client that has sent `partial` and holds the connection.
UniqueFd holdOpen(std::uint16_t port, const std::string& partial) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
      ::send(fd.get(), partial.data(), partial.size(), MSG_NOSIGNAL) !=
          static_cast<ssize_t>(partial.size())) {
    return UniqueFd();
  }
  return fd;
}

// True once the server has closed fd (end of file or a reset), without blocking.
bool closedByServer(int fd) {
  char c;
  const ssize_t length = ::recv(fd, &c, 1, MSG_DONTWAIT);
  return length == 0 || (length < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

// The system's python3 when there is one: a version manager's shim in PATH can take a second to
// start.
std::string python() {
  return ::access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
}

class HttpListenerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::system((python() + " -c pass >/dev/null 2>&1").c_str()) != 0)
      GTEST_SKIP() << "no python3";
    std::string pattern = (fs::temp_directory_path() / "carpd-http-XXXXXX").native();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    directory_ = pattern;
    script_ = directory_ / "client.py";
    std::ofstream(script_) << kClientScript;
  }
  void TearDown() override {
    std::error_code ignored;
    if (!directory_.empty()) fs::remove_all(directory_, ignored);
  }

  // Runs the python client (on another thread) while serving the listener on this one.
  HttpResult fetch(HttpListener& listener, const std::string& method, const std::string& path,
                   int big_header = 0) {
    const std::string url = "http://127.0.0.1:" + std::to_string(listener.port()) + path;
    std::string command = python() + " " + script_.native() + " " + method + " " + url;
    if (big_header > 0) command += " " + std::to_string(big_header);
    return parseClientOutput(serve(listener, [&] {
      std::string out;
      FILE* pipe = ::popen(command.c_str(), "r");
      if (pipe == nullptr) return std::string("error: popen");
      char buffer[4096];
      std::size_t length;
      while ((length = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, length);
      ::pclose(pipe);
      return out;
    }));
  }

  // Serves the listener on this thread until `client`, run on another thread, returns.
  std::string serve(HttpListener& listener, std::function<std::string()> client) {
    std::atomic<bool> done = false;
    std::string result;
    std::thread thread([&] {
      result = client();
      done = true;
    });
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!done && std::chrono::steady_clock::now() < give_up) {
      pollfd p{listener.fd(), POLLIN, 0};
      if (::poll(&p, 1, 20) == 1) listener.onReadable();
    }
    thread.join();
    return result;
  }

  // Serves until pred() holds or `limit` passes; returns whether it held.
  bool serveUntil(HttpListener& listener, const std::function<bool()>& pred, milliseconds limit) {
    const auto give_up = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
      if (std::chrono::steady_clock::now() >= give_up) return false;
      pollfd p{listener.fd(), POLLIN, 0};
      if (::poll(&p, 1, 10) == 1) listener.onReadable();
    }
    return true;
  }

  fs::path directory_;
  fs::path script_;
};

std::string metricsText() { return "# TYPE carpd_maintenance gauge\ncarpd_maintenance 0\n"; }

TEST_F(HttpListenerTest, ServesMetricsWithTheExpositionContentType) {
  int renders = 0;
  HttpListener listener(kLoopback, 0, [&] {
    ++renders;
    return metricsText();
  });
  ASSERT_NE(listener.port(), 0);
  EXPECT_EQ(listener.name(), "127.0.0.1:" + std::to_string(listener.port()));
  const HttpResult r = fetch(listener, "GET", "/metrics");
  EXPECT_EQ(r.status, "200");
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(r.content_length, std::to_string(metricsText().size()));
  EXPECT_EQ(r.connection, "close");
  EXPECT_EQ(r.body, metricsText());
  EXPECT_EQ(renders, 1);
  // A query string names the same resource (Prometheus may add one).
  EXPECT_EQ(fetch(listener, "GET", "/metrics?x=1").body, metricsText());
  EXPECT_TRUE(serveUntil(
      listener, [&] { return listener.connectionCount() == 0; }, milliseconds(2000)));
}

TEST_F(HttpListenerTest, RootPointsAtMetricsAndOtherPathsAre404) {
  HttpListener listener(kLoopback, 0, metricsText);
  const HttpResult root = fetch(listener, "GET", "/");
  EXPECT_EQ(root.status, "200");
  EXPECT_EQ(root.content_type, "text/html; charset=utf-8");
  EXPECT_NE(root.body.find("href=\"/metrics\""), std::string::npos);
  for (const char* path : {"/nope", "/metrics/", "/metricsx", "/index.html"}) {
    const HttpResult r = fetch(listener, "GET", path);
    EXPECT_EQ(r.status, "404") << path;
    EXPECT_EQ(r.body, "404 Not Found\n") << path;
  }
}

TEST_F(HttpListenerTest, OnlyGetAndHeadAreAllowed) {
  int renders = 0;
  HttpListener listener(kLoopback, 0, [&] {
    ++renders;
    return metricsText();
  });
  for (const char* method : {"POST", "PUT", "DELETE", "OPTIONS", "BREW"}) {
    const HttpResult r = fetch(listener, method, "/metrics");
    EXPECT_EQ(r.status, "405") << method;
    EXPECT_EQ(r.allow, "GET, HEAD") << method;
  }
  EXPECT_EQ(renders, 0);
  const HttpResult head = fetch(listener, "HEAD", "/metrics");
  EXPECT_EQ(head.status, "200");
  EXPECT_EQ(head.content_length, std::to_string(metricsText().size()));
  EXPECT_EQ(head.body, "");
}

TEST_F(HttpListenerTest, OversizedHeadersAre400) {
  HttpListener listener(kLoopback, 0, metricsText);
  EXPECT_EQ(fetch(listener, "GET", "/metrics", 7000).status, "200");
  const HttpResult r = fetch(listener, "GET", "/metrics", 9000);
  EXPECT_EQ(r.status, "400");
  EXPECT_EQ(r.body, "400 Bad Request\n");
  // Far beyond the limit: still a clean 400, and the listener keeps no more than the limit.
  const std::string huge = "GET /metrics HTTP/1.1\r\nX-Big: " + std::string(200'000, 'a');
  EXPECT_TRUE(serve(listener, [&] {
                return rawExchange(listener.port(), huge);
              }).starts_with("HTTP/1.0 400 Bad Request\r\n"));
  EXPECT_EQ(fetch(listener, "GET", "/metrics").status, "200");
}

TEST_F(HttpListenerTest, MalformedRequestsAre400) {
  HttpListener listener(kLoopback, 0, metricsText);
  const std::uint16_t port = listener.port();
  for (const std::string request : {
           "GARBAGE\r\n\r\n",
           "GET /metrics\r\n\r\n",                      // HTTP/0.9
           "GET /metrics HTTP/2.0\r\n\r\n",             // not ours
           "GET  /metrics HTTP/1.1\r\n\r\n",            // two spaces
           "GET metrics HTTP/1.1\r\n\r\n",              // not a path
           "GET /met\x01rics HTTP/1.1\r\n\r\n",         // control character
           "GET /metrics HTTP/1.1\r\nNoColon\r\n\r\n",  // not a header
           "GET /metrics HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", "G(T /metrics HTTP/1.1\r\n\r\n",
           "GET /metrics HTTP/1.1\r\nHost: a\x01\r\n\r\n",
           "GET /metrics HTTP/1.1\r\n",  // then end of file before the empty line
       }) {
    const std::string response = serve(listener, [&] {
      UniqueFd fd = holdOpen(port, request);
      ::shutdown(fd.get(), SHUT_WR);
      std::string out;
      char buffer[4096];
      for (;;) {
        const ssize_t length = ::recv(fd.get(), buffer, sizeof buffer, 0);
        if (length <= 0) break;
        out.append(buffer, static_cast<std::size_t>(length));
      }
      return out;
    });
    EXPECT_TRUE(response.starts_with("HTTP/1.0 400 Bad Request\r\n")) << request << response;
  }
  // Tolerated: bare LF line ends, empty lines before the request, absolute form, Host.
  for (const std::string request : {
           "GET /metrics HTTP/1.0\n\n",
           "\r\nGET /metrics HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n",
           "GET http://localhost:9420/metrics HTTP/1.1\r\n\r\n",
       }) {
    const std::string response = serve(listener, [&] { return rawExchange(port, request); });
    EXPECT_TRUE(response.starts_with("HTTP/1.0 200 OK\r\n")) << request << response;
    EXPECT_TRUE(response.ends_with("\r\n\r\n" + metricsText())) << response;
  }
}

TEST_F(HttpListenerTest, RendererFailureIs500) {
  HttpListener listener(kLoopback, 0, []() -> std::string { throw std::runtime_error("boom"); });
  EXPECT_EQ(fetch(listener, "GET", "/metrics").status, "500");
  EXPECT_EQ(fetch(listener, "GET", "/").status, "200");
}

TEST_F(HttpListenerTest, HalfARequestDoesNotBlockAnotherClient) {
  HttpListener listener(kLoopback, 0, metricsText);
  UniqueFd slow = holdOpen(listener.port(), "GET /metr");
  ASSERT_TRUE(slow);
  ASSERT_TRUE(serveUntil(
      listener, [&] { return listener.connectionCount() == 1; }, milliseconds(2000)));
  const HttpResult r = fetch(listener, "GET", "/metrics");
  EXPECT_EQ(r.status, "200");
  EXPECT_EQ(r.body, metricsText());
  EXPECT_FALSE(closedByServer(slow.get()));
  // The slow one finishes its request later and is served too.
  const std::string rest = "ics HTTP/1.1\r\n\r\n";
  ASSERT_EQ(::send(slow.get(), rest.data(), rest.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(rest.size()));
  std::string response;
  ASSERT_TRUE(serveUntil(
      listener,
      [&] {
        char buffer[4096];
        const ssize_t length = ::recv(slow.get(), buffer, sizeof buffer, MSG_DONTWAIT);
        if (length > 0) response.append(buffer, static_cast<std::size_t>(length));
        return length == 0;
      },
      milliseconds(5000)));
  EXPECT_TRUE(response.starts_with("HTTP/1.0 200 OK\r\n"));
}

TEST_F(HttpListenerTest, SlowReaderGetsALargeResponseWhileOthersAreServed) {
  const std::string big(std::size_t{4} * 1024 * 1024, 'x');
  HttpListener listener(kLoopback, 0, [&] { return big; });
  // Requests 4 MiB through a small receive buffer and reads nothing until another client has
  // been served: the server must keep the rest of the response and get on with other work.
  std::atomic<bool> may_read = false;
  std::atomic<bool> slow_done = false;
  std::string slow_response;
  std::thread slow([&] {
    slow_response = rawExchange(
        listener.port(), "GET /metrics HTTP/1.0\r\n\r\n",
        [&] {
          while (!may_read) std::this_thread::sleep_for(milliseconds(10));
        },
        4096);
    slow_done = true;
  });
  ASSERT_TRUE(serveUntil(
      listener, [&] { return listener.connectionCount() == 1; }, milliseconds(2000)));
  // Until the socket buffers are full and the server has to wait for the reader.
  serveUntil(
      listener, [] { return false; }, milliseconds(200));
  const HttpResult other = fetch(listener, "GET", "/");
  EXPECT_EQ(other.status, "200");
  EXPECT_FALSE(slow_done);
  may_read = true;
  serveUntil(
      listener, [&] { return slow_done.load(); }, milliseconds(15000));
  slow.join();
  const std::size_t body = slow_response.find("\r\n\r\n");
  ASSERT_NE(body, std::string::npos);
  EXPECT_EQ(slow_response.substr(body + 4).size(), big.size());
}

TEST_F(HttpListenerTest, ConnectionLimitDropsTheOldest) {
  HttpListener listener(kLoopback, 0, metricsText);
  constexpr std::size_t kMax = HttpListener::kMaxConnections;
  std::vector<UniqueFd> idle;
  for (std::size_t i = 0; i < kMax + 4; ++i) {
    idle.push_back(holdOpen(listener.port(), "GET /"));
    ASSERT_TRUE(idle.back());
    // Accepted one by one, so that the order of arrival is the order of acceptance; beyond the
    // limit each new one closes the oldest.
    ASSERT_TRUE(serveUntil(
        listener,
        [&] {
          return i < kMax ? listener.connectionCount() == i + 1
                          : closedByServer(idle[i - kMax].get());
        },
        milliseconds(2000)))
        << i;
  }
  EXPECT_EQ(listener.connectionCount(), kMax);
  for (std::size_t i = 4; i < idle.size(); ++i) EXPECT_FALSE(closedByServer(idle[i].get())) << i;
  EXPECT_EQ(fetch(listener, "GET", "/metrics").status, "200");
}

TEST_F(HttpListenerTest, IdleConnectionsTimeOut) {
  HttpListener listener(kLoopback, 0, metricsText, milliseconds(200));
  const auto started = std::chrono::steady_clock::now();
  UniqueFd slow = holdOpen(listener.port(), "GET /metrics HTTP/1.1\r\nHost: x\r\n");
  ASSERT_TRUE(slow);
  // Nothing but the listener's own timer wakes it up.
  ASSERT_TRUE(serveUntil(
      listener, [&] { return closedByServer(slow.get()); }, milliseconds(3000)));
  EXPECT_GE(std::chrono::steady_clock::now() - started, milliseconds(200));
  EXPECT_EQ(listener.connectionCount(), 0u);
}

TEST_F(HttpListenerTest, BindErrorsNameTheAddress) {
  HttpListener first(kLoopback, 0, metricsText);
  try {
    HttpListener second(kLoopback, first.port(), metricsText);
    FAIL() << "bound a port in use";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), EADDRINUSE);
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:" + std::to_string(first.port())),
              std::string::npos)
        << e.what();
  }
}

TEST_F(HttpListenerTest, Ipv6IsV6Only) {
  std::unique_ptr<HttpListener> listener;
  try {
    listener = std::make_unique<HttpListener>(proto::IpAddress::v6({}), 0, metricsText);
  } catch (const std::system_error& e) {
    GTEST_SKIP() << "no IPv6: " << e.what();
  }
  EXPECT_EQ(listener->name(), "[::]:" + std::to_string(listener->port()));
  // IPV6_V6ONLY: "[::]:PORT" leaves the IPv4 side of the port to others.
  EXPECT_NO_THROW(HttpListener(proto::IpAddress::v4({0, 0, 0, 0}), listener->port(), metricsText));
  const std::string url = "http://[::1]:" + std::to_string(listener->port()) + "/metrics";
  const std::string command = python() + " " + script_.native() + " GET " + url;
  const std::string out = serve(*listener, [&] {
    std::string text;
    FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) return text;
    char buffer[4096];
    std::size_t length;
    while ((length = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) text.append(buffer, length);
    ::pclose(pipe);
    return text;
  });
  const HttpResult r = parseClientOutput(out);
  if (r.status.starts_with("error")) GTEST_SKIP() << "no ::1: " << r.status;
  EXPECT_EQ(r.status, "200");
  EXPECT_EQ(r.body, metricsText());
}

}  // namespace
}  // namespace carp::os::lnx
