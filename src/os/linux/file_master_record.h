#pragma once
// os::MasterRecord in a small file under state_dir. Each VHID that advertises as MASTER owns
// a fixed 32-byte slot, rewritten in place with one pwrite per advertisement (no fsync: the
// record only has to outlive the process, not the machine). The file names the boot it was
// written in (/proc/sys/kernel/random/boot_id), because CLOCK_MONOTONIC restarts at boot.

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>

#include "os/linux/fd.h"
#include "os/master_record.h"

namespace carp::os::lnx {

class FileMasterRecord final : public MasterRecord {
 public:
  // Reads what an earlier carpd of this boot left in `file`, then starts the file afresh.
  // Throws std::system_error when the file cannot be created.
  FileMasterRecord(std::filesystem::path file, std::string boot_id);

  std::optional<proto::TimePoint> lastMasterAdvert(std::string_view interface,
                                                   proto::Vhid vhid) const override;
  void masterAdvertised(std::string_view interface, proto::Vhid vhid,
                        proto::TimePoint at) noexcept override;
  void masterLeft(std::string_view interface, proto::Vhid vhid) noexcept override;

 private:
  using Key = std::pair<std::string, std::uint8_t>;
  void write(std::string_view interface, proto::Vhid vhid, std::int64_t micros) noexcept;

  std::filesystem::path file_;
  std::string boot_id_;
  std::map<Key, proto::TimePoint> previous_;  // from the earlier carpd
  std::map<Key, std::size_t> slots_;          // ours
  UniqueFd fd_;
};

// The kernel's boot id (/proc/sys/kernel/random/boot_id) without the line break; empty when it
// cannot be read, and then no record is ever trusted.
std::string currentBootId();

}  // namespace carp::os::lnx
