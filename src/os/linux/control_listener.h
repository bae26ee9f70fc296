#pragma once
// The server side of the control socket: one request line in, one response line out, per
// connection.

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "os/linux/connection_server.h"
#include "os/linux/fd.h"

namespace carp::os::lnx {

// A UNIX stream socket at a path, served without ever blocking the daemon (ConnectionServer).
// A client that connects and stalls costs one slot, and the oldest connection is dropped when
// all slots are in use.
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
  int fd() const noexcept { return server_->fd(); }

  // Does all the work that is ready now without blocking: accepts, reads, calls the handler,
  // writes. Call it whenever fd() is readable.
  void onReadable() { server_->onReadable(); }

  const std::filesystem::path& path() const noexcept { return path_; }
  std::size_t connectionCount() const noexcept { return server_->connectionCount(); }

 private:
  // One line in, the handler's answer and '\n' out.
  RequestVerdict onInput(std::string& input, bool end_of_input) const;

  std::filesystem::path path_;
  Handler handler_;
  dev_t socket_device_ = 0;
  ino_t socket_inode_ = 0;
  std::unique_ptr<ConnectionServer> server_;
};

}  // namespace carp::os::lnx
