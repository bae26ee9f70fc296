#pragma once
// Where carpctl finds carpd when -s is not given: the control_socket of carpd's configuration
// file (product.md), or /run/carpd/carpd.sock when the file says nothing or cannot be read.

#include <filesystem>
#include <string>

namespace carp::cli {

inline constexpr const char* kDefaultConfig = "/etc/carpd/carpd.toml";

// Reads only [global] control_socket; anything else in the file is carpd's business (carpctl
// must work even when the file has a mistake that a reload is about to refuse).
std::string socketFromConfig(const std::filesystem::path& config_file);

}  // namespace carp::cli
