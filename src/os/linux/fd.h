#pragma once
// Ownership of a file descriptor, and the start-up error helper shared by the Linux edge.

#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>
#include <utility>

namespace carp::os::lnx {

// A move-only owner of one file descriptor; closes it on destruction. -1 means "none".
class UniqueFd {
 public:
  UniqueFd() noexcept = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  ~UniqueFd() { reset(); }

  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }

  int get() const noexcept { return fd_; }
  bool valid() const noexcept { return fd_ >= 0; }
  explicit operator bool() const noexcept { return valid(); }

  // Gives up ownership without closing.
  int release() noexcept { return std::exchange(fd_, -1); }

  // Closes the current descriptor (if any) and takes ownership of fd. close() errors are
  // ignored: on Linux the descriptor is released even when close() reports EINTR or EIO, so
  // retrying could close an unrelated descriptor opened in between.
  void reset(int fd = -1) noexcept {
    const int old = std::exchange(fd_, fd);
    if (old >= 0) ::close(old);
  }

 private:
  int fd_ = -1;
};

// Throws std::system_error for errno with the failed call's description. Only for start-up
// paths (constructors); the packet path returns errno values instead.
[[noreturn]] inline void throwErrno(const std::string& what, int error = errno) {
  throw std::system_error(error, std::system_category(), what);
}

}  // namespace carp::os::lnx
