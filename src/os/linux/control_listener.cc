#include "os/linux/control_listener.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace carp::os::lnx {
namespace {

constexpr std::uint64_t kListenerId = 0;
constexpr int kBacklog = 16;
constexpr std::size_t kReadChunk = 4096;
// Bounded per round, like the packet receivers, so that a connection storm cannot starve the
// protocol timers.
constexpr int kMaxAcceptsPerRound = 16;
constexpr int kMaxEventsPerRound = 32;

sockaddr_un unixAddress(const std::filesystem::path& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::string& text = path.native();
  if (text.empty() || text.size() >= sizeof address.sun_path) {
    throwErrno("control socket path " + text, ENAMETOOLONG);
  }
  std::memcpy(address.sun_path, text.c_str(), text.size() + 1);
  return address;
}

// mkdir -p with mode 0755 for the directories it creates, regardless of the umask: carpctl
// run by members of the socket's group must be able to reach the socket.
void createParents(const std::filesystem::path& directory) {
  if (directory.empty()) return;
  std::filesystem::path partial;
  for (const auto& component : directory) {
    partial /= component;
    if (::mkdir(partial.c_str(), 0755) == 0) {
      if (::chmod(partial.c_str(), 0755) != 0) throwErrno("chmod " + partial.native());
    } else if (errno != EEXIST) {
      throwErrno("mkdir " + partial.native());
    }
  }
}

// Removes a socket file left by a process that died without cleaning up. A live listener is
// never removed: that is another carpd, and taking its path would orphan it.
void removeStale(const std::filesystem::path& path, const sockaddr_un& address) {
  struct stat info {};
  if (::lstat(path.c_str(), &info) != 0) {
    if (errno == ENOENT) return;
    throwErrno("lstat " + path.native());
  }
  if (!S_ISSOCK(info.st_mode)) {
    throw std::runtime_error(path.native() + " exists and is not a socket");
  }
  UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!probe) throwErrno("socket(AF_UNIX)");
  if (::connect(probe.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0 ||
      errno == EAGAIN) {
    // EAGAIN: the listener's backlog is full, so it is alive too.
    throw std::runtime_error("another carpd is running: " + path.native() + " accepts connections");
  }
  if (errno == ENOENT) return;  // removed meanwhile
  if (errno != ECONNREFUSED) throwErrno("connect " + path.native());
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) throwErrno("unlink " + path.native());
}

}  // namespace

ControlListener::ControlListener(std::filesystem::path path, Handler handler)
    : path_(std::move(path)), handler_(std::move(handler)) {
  const sockaddr_un address = unixAddress(path_);
  createParents(path_.parent_path());
  removeStale(path_, address);

  listen_fd_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!listen_fd_) throwErrno("socket(AF_UNIX)");
  if (::bind(listen_fd_.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    throwErrno("bind " + path_.native());
  }
  struct stat info {};
  // Nobody can connect before listen(), so the mode is right before the socket is usable.
  if (::chmod(path_.c_str(), 0660) != 0 || ::stat(path_.c_str(), &info) != 0) {
    const int error = errno;
    ::unlink(path_.c_str());
    throwErrno("chmod " + path_.native(), error);
  }
  socket_device_ = info.st_dev;
  socket_inode_ = info.st_ino;
  if (::listen(listen_fd_.get(), kBacklog) != 0) {
    const int error = errno;
    ::unlink(path_.c_str());
    throwErrno("listen " + path_.native(), error);
  }

  epoll_fd_.reset(::epoll_create1(EPOLL_CLOEXEC));
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = kListenerId;
  if (!epoll_fd_ || ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, listen_fd_.get(), &event) != 0) {
    const int error = errno;
    ::unlink(path_.c_str());
    throwErrno("epoll for " + path_.native(), error);
  }
}

ControlListener::~ControlListener() {
  connections_.clear();  // closing a connection's fd also takes it out of the epoll set
  listen_fd_.reset();
  // Only our own file: if another carpd replaced it meanwhile, the path is now its socket.
  struct stat info {};
  if (::stat(path_.c_str(), &info) == 0 && info.st_dev == socket_device_ &&
      info.st_ino == socket_inode_) {
    ::unlink(path_.c_str());
  }
}

void ControlListener::onReadable() {
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
    auto it = connections_.find(id);
    if (it == connections_.end()) continue;  // closed earlier in this round
    Connection& connection = it->second;
    const bool keep =
        connection.responding ? writeResponse(connection) : readRequest(id, connection);
    if (!keep) close(id);
  }
}

void ControlListener::acceptAll() {
  for (int i = 0; i < kMaxAcceptsPerRound; ++i) {
    UniqueFd client(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!client) return;  // EAGAIN, or an error of that one connection (ECONNABORTED, EMFILE)
    if (connections_.size() >= kMaxConnections) close(connections_.begin()->first);
    const std::uint64_t id = next_id_++;
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = id;
    if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, client.get(), &event) != 0) continue;
    connections_.emplace(id, Connection{std::move(client), {}, {}, 0, false});
  }
}

bool ControlListener::readRequest(std::uint64_t id, Connection& connection) {
  std::array<char, kReadChunk> chunk;
  for (;;) {
    const ssize_t length = ::recv(connection.fd.get(), chunk.data(), chunk.size(), 0);
    if (length < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK;  // wait for more, or a broken client
    }
    const std::size_t scan_from = connection.input.size();
    connection.input.append(chunk.data(), static_cast<std::size_t>(length));
    std::size_t end = connection.input.find('\n', scan_from);
    if (end == std::string::npos) {
      if (connection.input.size() > kMaxRequestBytes) return false;
      if (length > 0) continue;
      // End of file without a newline: the line is what was sent, if anything.
      if (connection.input.empty()) return false;
      end = connection.input.size();
    }
    if (end > kMaxRequestBytes) return false;
    std::string_view line(connection.input.data(), end);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    try {
      connection.output = handler_(line);
    } catch (...) {
      return false;
    }
    connection.output.push_back('\n');
    connection.input.clear();
    connection.responding = true;
    epoll_event event{};
    event.events = EPOLLOUT;
    event.data.u64 = id;
    if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_MOD, connection.fd.get(), &event) != 0) {
      return false;
    }
    return writeResponse(connection);
  }
}

bool ControlListener::writeResponse(Connection& connection) {
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
  return false;  // all sent: one request per connection
}

void ControlListener::close(std::uint64_t id) noexcept {
  auto it = connections_.find(id);
  if (it == connections_.end()) return;
  ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, it->second.fd.get(), nullptr);
  connections_.erase(it);
}

}  // namespace carp::os::lnx
