#include "os/linux/sysctl.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "os/linux/fd.h"
#include "os/linux/netlink_socket.h"

namespace carp::os::lnx {
namespace {

std::string failure(std::string_view what, const std::string& path, int error) {
  return std::string(what) + " " + path + ": " + errnoText(error);
}

}  // namespace

tl::expected<std::string, std::string> readSysctl(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return tl::unexpected(failure("open", path, errno));
  std::string value;
  char buffer[256];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR) continue;
      return tl::unexpected(failure("read", path, errno));
    }
    if (n == 0) break;
    value.append(buffer, static_cast<std::size_t>(n));
  }
  while (!value.empty() && value.back() == '\n') value.pop_back();
  return value;
}

tl::expected<void, std::string> writeSysctl(const std::string& path, std::string_view value) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return tl::unexpected(failure("open", path, errno));
  // The kernel parses a sysctl write as a whole; a partial write would set a truncated value.
  ssize_t n;
  do {
    n = ::write(fd.get(), value.data(), value.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return tl::unexpected(failure("write", path, errno));
  if (static_cast<std::size_t>(n) != value.size()) {
    return tl::unexpected("short write to " + path);
  }
  return {};
}

SysctlGuard::SysctlGuard(SysctlGuard&& other) noexcept : saved_(std::move(other.saved_)) {
  other.saved_.clear();
}

SysctlGuard& SysctlGuard::operator=(SysctlGuard&& other) noexcept {
  if (this != &other) {
    restoreAll();
    saved_ = std::move(other.saved_);
    other.saved_.clear();
  }
  return *this;
}

tl::expected<void, std::string> SysctlGuard::set(const std::string& path, std::string_view value) {
  const bool known = std::any_of(saved_.begin(), saved_.end(),
                                 [&path](const auto& entry) { return entry.first == path; });
  if (!known) {
    auto original = readSysctl(path);
    if (!original) return tl::unexpected(original.error());
    auto written = writeSysctl(path, value);
    if (!written) return written;
    saved_.emplace_back(path, std::move(*original));
    return {};
  }
  return writeSysctl(path, value);
}

void SysctlGuard::restoreAll() noexcept {
  for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) {
    (void)writeSysctl(it->first, it->second);
  }
  saved_.clear();
}

}  // namespace carp::os::lnx
