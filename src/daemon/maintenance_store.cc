#include "daemon/maintenance_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace carp::daemon {

MaintenanceStore::MaintenanceStore(std::filesystem::path state_dir)
    : file_(std::move(state_dir) / "maintenance") {}

bool MaintenanceStore::load() const {
  std::ifstream in(file_);
  std::string word;
  return in && (in >> word) && word == "on";
}

tl::expected<void, std::string> MaintenanceStore::save(bool on) const {
  std::error_code ec;
  std::filesystem::create_directories(file_.parent_path(), ec);
  if (ec)
    return tl::unexpected("cannot create " + file_.parent_path().string() + ": " + ec.message());
  const std::filesystem::path tmp = file_.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return tl::unexpected("cannot write " + tmp.string() + ": " + std::strerror(errno));
  const std::string text = on ? "on\n" : "off\n";
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                       ::fsync(fd) == 0;
  ::close(fd);
  if (!written || ::rename(tmp.c_str(), file_.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    return tl::unexpected("cannot write " + file_.string() + ": " + why);
  }
  return {};
}

}  // namespace carp::daemon
