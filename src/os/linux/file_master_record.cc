#include "os/linux/file_master_record.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <fstream>
#include <iterator>
#include <system_error>

namespace carp::os::lnx {
namespace {

// Layout: a 64-byte header (kMagic, then the boot id, zero-padded), then one 32-byte slot per
// VHID: interface name (16 bytes, zero-padded), vhid, 7 zero bytes, then the time of the last
// MASTER advertisement in microseconds of CLOCK_MONOTONIC (little-endian int64; 0 = none).
constexpr std::string_view kMagic = "carpd-masters-1\n";
constexpr std::size_t kHeaderBytes = 64;
constexpr std::size_t kSlotBytes = 32;
constexpr std::size_t kNameBytes = 16;
constexpr std::size_t kTimeOffset = 24;

std::array<char, kHeaderBytes> header(const std::string& boot_id) {
  std::array<char, kHeaderBytes> h{};
  std::memcpy(h.data(), kMagic.data(), kMagic.size());
  std::memcpy(h.data() + kMagic.size(), boot_id.data(),
              std::min(boot_id.size(), kHeaderBytes - kMagic.size()));
  return h;
}

std::int64_t readInt64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return static_cast<std::int64_t>(v);
}

void writeInt64(char* p, std::int64_t value) {
  auto v = static_cast<std::uint64_t>(value);
  for (int i = 0; i < 8; ++i, v >>= 8) p[i] = static_cast<char>(v & 0xff);
}

}  // namespace

std::string currentBootId() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  return id;
}

FileMasterRecord::FileMasterRecord(std::filesystem::path file, std::string boot_id)
    : file_(std::move(file)), boot_id_(std::move(boot_id)) {
  std::ifstream in(file_, std::ios::binary);
  const std::string old((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto expected = header(boot_id_);
  if (!boot_id_.empty() && old.size() >= kHeaderBytes &&
      std::memcmp(old.data(), expected.data(), kHeaderBytes) == 0) {
    for (std::size_t at = kHeaderBytes; at + kSlotBytes <= old.size(); at += kSlotBytes) {
      const char* slot = old.data() + at;
      const std::string name(slot, strnlen(slot, kNameBytes));
      const auto vhid = static_cast<std::uint8_t>(slot[kNameBytes]);
      const std::int64_t micros = readInt64(slot + kTimeOffset);
      if (name.empty() || vhid == 0 || micros <= 0) continue;
      previous_[{name, vhid}] = proto::TimePoint(proto::Duration(micros));
    }
  }
  fd_.reset(::open(file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd_ || ::pwrite(fd_.get(), expected.data(), expected.size(), 0) !=
                  static_cast<ssize_t>(expected.size())) {
    throw std::system_error(errno, std::generic_category(), "cannot write " + file_.native());
  }
}

std::optional<proto::TimePoint> FileMasterRecord::lastMasterAdvert(std::string_view interface,
                                                                   proto::Vhid vhid) const {
  const auto it = previous_.find({std::string(interface), vhid.value()});
  if (it == previous_.end()) return std::nullopt;
  return it->second;
}

void FileMasterRecord::masterAdvertised(std::string_view interface, proto::Vhid vhid,
                                        proto::TimePoint at) noexcept {
  write(interface, vhid, std::max<std::int64_t>(1, at.time_since_epoch().count()));
}

void FileMasterRecord::masterLeft(std::string_view interface, proto::Vhid vhid) noexcept {
  write(interface, vhid, 0);
}

void FileMasterRecord::write(std::string_view interface, proto::Vhid vhid,
                             std::int64_t micros) noexcept {
  if (!fd_) return;  // given up after a failed write
  try {
    auto [it, added] = slots_.try_emplace(Key{std::string(interface), vhid.value()}, slots_.size());
    if (added && micros == 0) return;  // never MASTER in this run: nothing to clear
    std::array<char, kSlotBytes> slot{};
    std::memcpy(slot.data(), interface.data(), std::min(interface.size(), kNameBytes));
    slot[kNameBytes] = static_cast<char>(vhid.value());
    writeInt64(slot.data() + kTimeOffset, micros);
    const auto offset = static_cast<off_t>(kHeaderBytes + it->second * kSlotBytes);
    if (::pwrite(fd_.get(), slot.data(), slot.size(), offset) !=
        static_cast<ssize_t>(slot.size())) {
      // The file may now claim MASTER for a VHID that has left it: remove it, so that no
      // restart resumes from it. Only the quick resume after a crash is lost.
      fd_.reset();
      ::unlink(file_.c_str());
    }
  } catch (...) {
  }
}

}  // namespace carp::os::lnx
