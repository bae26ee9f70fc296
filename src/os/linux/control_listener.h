#pragma once
// The server side of the control socket: one request line in, one response line out, per
// connection.

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "os/linux/fd.h"

namespace carp::os::lnx {

// A UNIX stream socket at a path, served without ever blocking the daemon: all connections
// are non-blocking and live in an epoll set of their own, whose fd() the daemon's EventLoop
// watches like any socket. A client that connects and stalls costs one slot, and the oldest
// connection is dropped when all slots are in use.
//
// Protocol: the client sends one line (up to kMaxRequestBytes, '\n'-terminated; a trailing
// '\r' is removed; end-of-file also ends the line). The handler's result is sent back
// followed by '\n', and the connection is closed. Access control is the file mode (0660):
// whoever can open the socket may send requests.
class ControlListener {
 public:
  // Returns the response line (without '\n'; it should contain none). An exception from the
  // handler closes that connection without a response and goes no further.
  using Handler = std::function<std::string(std::string_view request_line)>;

  static constexpr std::size_t kMaxRequestBytes = 64 * 1024;
  static constexpr std::size_t kMaxConnections = 16;

  // Creates the parent directory if it is missing (mode 0755), replaces a stale socket file
  // (one that nobody accepts connections on), binds, sets mode 0660 and listens.
  // Throws std::runtime_error if another process is listening at path ("another carpd is
  // running") or path exists and is not a socket; std::system_error for system call failures
  // (ENAMETOOLONG when path does not fit sockaddr_un).
  ControlListener(std::filesystem::path path, Handler handler);
  // Closes all connections and removes the socket file, if it is still the one created here.
  ~ControlListener();
  ControlListener(const ControlListener&) = delete;
  ControlListener& operator=(const ControlListener&) = delete;

  // Readable whenever there is a connection to accept or a client to read from or write to.
  int fd() const noexcept { return epoll_fd_.get(); }

  // Does all the work that is ready now without blocking: accepts, reads, calls the handler,
  // writes. Call it whenever fd() is readable.
  void onReadable();

  const std::filesystem::path& path() const noexcept { return path_; }
  std::size_t connectionCount() const noexcept { return connections_.size(); }

 private:
  struct Connection {
    UniqueFd fd;
    std::string input;
    std::string output;
    std::size_t written = 0;
    bool responding = false;
  };

  void acceptAll();
  // Each returns false when the connection is finished and must be closed.
  bool readRequest(std::uint64_t id, Connection& connection);
  bool writeResponse(Connection& connection);
  void close(std::uint64_t id) noexcept;

  std::filesystem::path path_;
  Handler handler_;
  UniqueFd epoll_fd_;
  UniqueFd listen_fd_;
  dev_t socket_device_ = 0;
  ino_t socket_inode_ = 0;
  // Keyed by accept order, which is also the epoll event's data: the oldest is begin(), and an
  // event for a connection closed earlier in the same round cannot reach a new connection
  // that got the same fd number. 0 is the listening socket.
  std::map<std::uint64_t, Connection> connections_;
  std::uint64_t next_id_ = 1;
};

}  // namespace carp::os::lnx
