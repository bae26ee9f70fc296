#include "os/linux/file_vhid_claims.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

namespace carp::os::lnx {
namespace {

constexpr std::size_t kMaxInterfaceName = 15;  // IFNAMSIZ - 1

// What a lock file says about its owner.
struct ClaimContent {
  std::string pid = "?";
  std::string socket = "?";
  std::vector<proto::IpAddress> addresses;
  bool complete = false;  // the owner finished writing (its last line is "end")
};

std::string formatIp(const proto::IpAddress& a) {
  char text[INET6_ADDRSTRLEN] = {};
  const int family = a.family == proto::Family::kIPv4 ? AF_INET : AF_INET6;
  ::inet_ntop(family, a.bytes.data(), text, sizeof text);
  return text;
}

std::optional<proto::IpAddress> parseIp(const std::string& text) {
  proto::IpAddress a;
  if (::inet_pton(AF_INET, text.c_str(), a.bytes.data()) == 1) {
    a.family = proto::Family::kIPv4;
    return a;
  }
  if (::inet_pton(AF_INET6, text.c_str(), a.bytes.data()) == 1) {
    a.family = proto::Family::kIPv6;
    return a;
  }
  return std::nullopt;
}

std::string readAll(int fd) {
  std::string out;
  char buffer[4096];
  off_t offset = 0;
  for (;;) {
    const ssize_t n = ::pread(fd, buffer, sizeof buffer, offset);
    if (n <= 0) break;
    out.append(buffer, static_cast<std::size_t>(n));
    offset += n;
    if (out.size() > (1u << 20)) break;  // not ours: a claim is a few hundred bytes
  }
  return out;
}

ClaimContent parseContent(const std::string& text) {
  ClaimContent c;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const auto space = line.find(' ');
    const std::string word = line.substr(0, space);
    const std::string value = space == std::string::npos ? "" : line.substr(space + 1);
    if (word == "pid") c.pid = value;
    if (word == "socket") c.socket = value;
    if (word == "address") {
      if (auto a = parseIp(value)) c.addresses.push_back(*a);
    }
    if (word == "end") c.complete = true;
  }
  return c;
}

// The owner locks first and writes after, so a reader may see the file between the two: wait
// a little for the content (writing is one pwrite: microseconds).
ClaimContent readOwner(int fd) {
  ClaimContent c;
  for (int attempt = 0; attempt < 20; ++attempt) {
    c = parseContent(readAll(fd));
    if (c.complete) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return c;
}

std::string fileName(std::string_view interface, proto::Vhid vhid) {
  return std::string(interface) + ":" + std::to_string(vhid.value());
}

std::optional<std::pair<std::string, proto::Vhid>> parseFileName(std::string_view name) {
  const auto colon = name.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  int value = 0;
  const auto digits = name.substr(colon + 1);
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  auto vhid = proto::Vhid::make(value);
  if (!vhid) return std::nullopt;
  return std::pair{std::string(name.substr(0, colon)), *vhid};
}

bool sameFile(int fd, const std::filesystem::path& path) {
  struct stat by_fd {};
  struct stat by_path {};
  if (::fstat(fd, &by_fd) != 0 || ::stat(path.c_str(), &by_path) != 0) return false;
  return by_fd.st_dev == by_path.st_dev && by_fd.st_ino == by_path.st_ino;
}

}  // namespace

tl::expected<FileVhidClaims, Error> FileVhidClaims::open(std::filesystem::path dir,
                                                         std::string control_socket, ino_t netns) {
  auto sub = dir / std::to_string(netns);
  std::error_code ec;
  std::filesystem::create_directories(sub, ec);
  if (ec) return tl::unexpected(Error::fromErrno(ec.value(), "create " + sub.string()));
  return FileVhidClaims(std::move(sub), std::move(control_socket), netns);
}

FileVhidClaims::~FileVhidClaims() { releaseAll(); }

tl::expected<void, Error> FileVhidClaims::claim(std::string_view interface, proto::Vhid vhid,
                                                std::span<const proto::IpAddress> addresses) {
  // The name becomes a file name: nothing but a real interface name may pass.
  if (interface.empty() || interface.size() > kMaxInterfaceName || interface == "." ||
      interface == ".." || interface.find_first_of("/: \t\n") != std::string_view::npos) {
    return tl::unexpected(Error::withMessage("not an interface name"));
  }
  const Key key{std::string(interface), vhid.value()};
  const auto path = dir_ / fileName(interface, vhid);

  auto it = held_.find(key);
  if (it == held_.end()) {
    // Another carpd may unlink the file (release) between our open and our flock; then we
    // hold a lock on a file no one else can find. Lock, then check the name still leads to
    // the inode we locked, else start again.
    for (int attempt = 0;; ++attempt) {
      UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
      if (!fd) return tl::unexpected(Error::fromErrno(errno, "open " + path.string()));
      if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK) {
          return tl::unexpected(Error::fromErrno(errno, "lock " + path.string()));
        }
        const ClaimContent owner = readOwner(fd.get());
        return tl::unexpected(Error::withMessage("vhid " + std::to_string(vhid.value()) + " on " +
                                                 std::string(interface) + " is run by carpd pid " +
                                                 owner.pid + " (" + owner.socket + ")"));
      }
      if (sameFile(fd.get(), path)) {
        it = held_.emplace(key, std::move(fd)).first;
        break;
      }
      if (attempt > 100)
        return tl::unexpected(Error::withMessage("claim " + path.string() + ": keeps changing"));
    }
  }

  // A killed carpd's content is replaced as a whole; one pwrite so a reader rarely waits.
  std::string content = "pid " + std::to_string(::getpid()) + "\nsocket " + control_socket_ +
                        "\nnetns " + std::to_string(netns_) + "\n";
  for (const auto& a : addresses) content += "address " + formatIp(a) + "\n";
  content += "end\n";
  const int fd = it->second.get();
  if (::ftruncate(fd, 0) != 0 ||
      ::pwrite(fd, content.data(), content.size(), 0) != static_cast<ssize_t>(content.size())) {
    const int error = errno;
    release(interface, vhid);
    return tl::unexpected(Error::fromErrno(error, "write " + path.string()));
  }
  return {};
}

void FileVhidClaims::release(std::string_view interface, proto::Vhid vhid) noexcept {
  auto it = held_.find(Key{std::string(interface), vhid.value()});
  if (it == held_.end()) return;
  // Unlinked while still locked: a carpd that opened it meanwhile sees the name is gone
  // (sameFile) and starts again on a fresh file.
  ::unlink((dir_ / fileName(interface, vhid)).c_str());
  held_.erase(it);
}

void FileVhidClaims::releaseAll() noexcept {
  for (auto& [key, fd] : held_) {
    ::unlink((dir_ / (key.first + ":" + std::to_string(key.second))).c_str());
  }
  held_.clear();
}

tl::expected<StaleFilter, Error> FileVhidClaims::othersInUse() const {
  auto vhids = std::make_shared<std::set<Key>>();
  auto addresses = std::make_shared<std::set<proto::IpAddress>>();
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(dir_.c_str()), ::closedir);
  if (!dir) return tl::unexpected(Error::fromErrno(errno, "open " + dir_.string()));
  while (const dirent* entry = ::readdir(dir.get())) {
    const auto parsed = parseFileName(entry->d_name);
    if (!parsed) continue;
    const Key key{parsed->first, parsed->second.value()};
    if (held_.contains(key)) continue;  // ours: the sweep may clean it
    const auto path = dir_ / entry->d_name;
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) continue;  // released meanwhile
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) {
      // No live owner (a killed carpd's): its objects are stale. Tidy the file while holding
      // the lock; a carpd claiming it right now starts again on a fresh file (sameFile).
      if (sameFile(fd.get(), path)) ::unlink(path.c_str());
      continue;
    }
    if (errno != EWOULDBLOCK) continue;
    vhids->insert(key);
    for (const auto& a : readOwner(fd.get()).addresses) addresses->insert(a);
  }
  return StaleFilter{
      [vhids](std::string_view parent, proto::Vhid vhid) {
        return vhids->contains(Key{std::string(parent), vhid.value()});
      },
      [addresses](const proto::IpAddress& address) { return addresses->contains(address); }};
}

ino_t currentNetnsId() {
  struct stat st {};
  if (::stat("/proc/self/ns/net", &st) != 0) return 0;
  return st.st_ino;
}

}  // namespace carp::os::lnx
