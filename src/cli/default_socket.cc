#include "cli/default_socket.h"

#include <toml++/toml.h>

#include "cli/command_line.h"

namespace carp::cli {

std::string socketFromConfig(const std::filesystem::path& config_file) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(config_file, ec)) return kDefaultSocket;
  try {
    const toml::table root = toml::parse_file(config_file.string());
    if (auto socket = root["global"]["control_socket"].value<std::string>(); socket) {
      if (!socket->empty()) return *socket;
    }
  } catch (const toml::parse_error&) {
    // A file carpd itself would refuse: fall back to the default.
  }
  return kDefaultSocket;
}

}  // namespace carp::cli
