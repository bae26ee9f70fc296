#include "os/linux/control_listener.h"

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

constexpr int kBacklog = 16;

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

  UniqueFd listening(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!listening) throwErrno("socket(AF_UNIX)");
  if (::bind(listening.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
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
  if (::listen(listening.get(), kBacklog) != 0) {
    const int error = errno;
    ::unlink(path_.c_str());
    throwErrno("listen " + path_.native(), error);
  }
  try {
    server_ = std::make_unique<ConnectionServer>(
        std::move(listening), ConnectionServer::Options{kMaxConnections, std::nullopt, false},
        [this](std::string& input, bool end_of_input) { return onInput(input, end_of_input); });
  } catch (...) {
    ::unlink(path_.c_str());
    throw;
  }
}

ControlListener::~ControlListener() {
  server_.reset();  // closes every connection and the listening socket
  // Only our own file: if another carpd replaced it meanwhile, the path is now its socket.
  struct stat info {};
  if (::stat(path_.c_str(), &info) == 0 && info.st_dev == socket_device_ &&
      info.st_ino == socket_inode_) {
    ::unlink(path_.c_str());
  }
}

RequestVerdict ControlListener::onInput(std::string& input, bool end_of_input) const {
  std::size_t end = input.find('\n');
  if (end == std::string::npos) {
    if (input.size() > kMaxRequestBytes) return RequestVerdict::close();
    if (!end_of_input) return RequestVerdict::wait();
    // End of file without a newline: the line is what was sent, if anything.
    if (input.empty()) return RequestVerdict::close();
    end = input.size();
  }
  if (end > kMaxRequestBytes) return RequestVerdict::close();
  std::string_view line(input.data(), end);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  // An exception from the handler closes the connection without a response.
  std::string response = handler_(line);
  response.push_back('\n');
  return RequestVerdict::respond(std::move(response));
}

}  // namespace carp::os::lnx
