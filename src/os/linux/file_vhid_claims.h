#pragma once
// os::VhidClaims as one lock file per (interface, vhid) under <dir>/<netns inode>/, named
// "<interface>:<vhid>" (':' is never part of a Linux interface name). The owner holds
// flock(LOCK_EX) on it for as long as it runs the VHID; the kernel drops the lock when the
// process dies, however it dies, so a killed carpd's claims are free for the next one and its
// objects are swept. The owner writes its pid, control socket, netns and addresses after
// locking; readers trust the content only of a file they could not lock (a live owner).
// Claims are per network namespace: carpd in another netns never conflicts.

#include <sys/types.h>

#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "os/linux/fd.h"
#include "os/vhid_claims.h"

namespace carp::os::lnx {

inline constexpr const char* kDefaultClaimsDir = "/run/carpd/claims";

class FileVhidClaims final : public VhidClaims {
 public:
  // Creates <dir>/<netns> (mode 0755) if needed. An error when it cannot: the caller warns
  // and runs with NoVhidClaims (no isolation) rather than not at all.
  static tl::expected<FileVhidClaims, Error> open(std::filesystem::path dir,
                                                  std::string control_socket, ino_t netns);

  FileVhidClaims(FileVhidClaims&&) noexcept = default;
  FileVhidClaims& operator=(FileVhidClaims&&) noexcept = default;
  ~FileVhidClaims() override;  // releases every claim

  tl::expected<void, Error> claim(std::string_view interface, proto::Vhid vhid,
                                  std::span<const proto::IpAddress> addresses) override;
  void release(std::string_view interface, proto::Vhid vhid) noexcept override;
  tl::expected<StaleFilter, Error> othersInUse() const override;

  const std::filesystem::path& directory() const { return dir_; }

 private:
  FileVhidClaims(std::filesystem::path dir, std::string control_socket, ino_t netns)
      : dir_(std::move(dir)), control_socket_(std::move(control_socket)), netns_(netns) {}
  using Key = std::pair<std::string, std::uint8_t>;
  void releaseAll() noexcept;

  std::filesystem::path dir_;  // <dir>/<netns>
  std::string control_socket_;
  ino_t netns_ = 0;
  std::map<Key, UniqueFd> held_;
};

// st_ino of /proc/self/ns/net: the identity of this network namespace (0 when unknown).
ino_t currentNetnsId();

}  // namespace carp::os::lnx
