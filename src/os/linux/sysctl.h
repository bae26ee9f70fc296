#pragma once
// Reading and writing kernel parameters under /proc/sys, and a guard that puts back what it
// changed. /proc/sys/net/* shows the network namespace of the process that opens the file.

#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <utility>
#include <vector>

namespace carp::os::lnx {

// The value of the file at `path` (a full path such as
// "/proc/sys/net/ipv4/conf/eth0/arp_ignore"), without the trailing newline.
tl::expected<std::string, std::string> readSysctl(const std::string& path);
// Writes `value` to the file at `path` in one write(), as the kernel expects.
tl::expected<void, std::string> writeSysctl(const std::string& path, std::string_view value);

// Remembers the value each path had before its first set() and writes them back, newest
// first, on restoreAll() or destruction. Errors on restore are ignored: the parameter may be
// gone with its interface, and there is nobody left to tell.
class SysctlGuard {
 public:
  SysctlGuard() = default;
  ~SysctlGuard() { restoreAll(); }
  SysctlGuard(const SysctlGuard&) = delete;
  SysctlGuard& operator=(const SysctlGuard&) = delete;
  SysctlGuard(SysctlGuard&& other) noexcept;
  SysctlGuard& operator=(SysctlGuard&& other) noexcept;

  // Writes value to path; the first time a path is set, its current value is kept for
  // restoring. On error nothing is remembered for a path that was not yet set.
  tl::expected<void, std::string> set(const std::string& path, std::string_view value);
  void restoreAll() noexcept;
  bool empty() const noexcept { return saved_.empty(); }

 private:
  std::vector<std::pair<std::string, std::string>> saved_;  // (path, original), in set order
};

}  // namespace carp::os::lnx
