#include "cli/client.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

namespace carp::cli {

namespace {

std::string errorText(int error) { return std::strerror(error); }

// Closes the descriptor on every return path.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

tl::expected<control::Response, std::string> exchange(const std::string& socket_path,
                                                      const control::Request& request,
                                                      std::chrono::milliseconds timeout) {
  const auto fail = [](std::string reason) { return tl::make_unexpected(std::move(reason)); };

  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_path.empty() || socket_path.size() >= sizeof(address.sun_path)) {
    return fail("socket path '" + socket_path + "' is empty or longer than " +
                std::to_string(sizeof(address.sun_path) - 1) + " bytes");
  }
  std::memcpy(address.sun_path, socket_path.data(), socket_path.size());

  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return fail("cannot create a socket: " + errorText(errno));
  // A hung carpd must not hang the caller (scripts, monitoring): bound every send and receive.
  // connect() on a UNIX socket waits on the send timeout too, when the backlog is full.
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0 ||
      ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0) {
    return fail("cannot set socket timeouts: " + errorText(errno));
  }
  while (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    if (errno == EINTR) continue;
    return fail("cannot connect to " + socket_path + ": " + errorText(errno));
  }

  const std::string line = control::encodeRequest(request) + "\n";
  for (std::size_t sent = 0; sent < line.size();) {
    // MSG_NOSIGNAL: a carpd that closes early is an error message, not a SIGPIPE death.
    const ssize_t n = ::send(fd.get(), line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return fail("timed out sending to carpd at " + socket_path);
    }
    if (n < 0) return fail("cannot send to carpd at " + socket_path + ": " + errorText(errno));
    sent += static_cast<std::size_t>(n);
  }

  std::string answer;
  std::array<char, 65536> buffer{};
  while (answer.find('\n') == std::string::npos) {
    const ssize_t n = ::recv(fd.get(), buffer.data(), buffer.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      const auto ms = timeout.count();
      return fail("no answer from carpd at " + socket_path + " within " +
                  (ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms"));
    }
    if (n < 0) return fail("cannot read from carpd at " + socket_path + ": " + errorText(errno));
    if (n == 0) break;
    answer.append(buffer.data(), static_cast<std::size_t>(n));
    if (answer.size() > control::kMaxResponseBytes) return fail("carpd's answer is too long");
  }
  if (answer.empty()) return fail("carpd closed the connection without answering");
  answer.resize(std::min(answer.size(), answer.find('\n')));

  auto response = control::parseResponse(answer);
  if (!response) return fail("bad answer from carpd: " + response.error());
  return response;
}

}  // namespace carp::cli
