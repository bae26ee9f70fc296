#pragma once
// Persistent maintenance mode: a file under state_dir, written atomically (temporary file,
// fsync, rename), so that a host put into maintenance stays there across restarts.

#include <filesystem>
#include <string>
#include <tl/expected.hpp>

namespace carp::daemon {

class MaintenanceStore {
 public:
  explicit MaintenanceStore(std::filesystem::path state_dir);
  bool load() const;
  tl::expected<void, std::string> save(bool on) const;

 private:
  std::filesystem::path file_;
};

}  // namespace carp::daemon
