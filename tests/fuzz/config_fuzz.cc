// Fuzz target: configuration text -> config::parseText. Checks, besides not crashing, that an
// accepted configuration holds only what validation promises.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "config/address_text.h"
#include "config/config.h"

// NOLINTNEXTLINE(readability-identifier-naming): the libFuzzer entry point
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const carp::config::LoadResult result = carp::config::parseText(text, "fuzz.toml");
  for (const auto& diagnostic : result.diagnostics) {
    const std::string line = diagnostic.toString();
    if (diagnostic.line < 1 || diagnostic.column < 1) std::abort();
    if (line.find('\n') != std::string::npos) std::abort();
  }
  if (!result.ok()) return 0;
  for (const auto& vhid : result.config->vhids) {
    if (!carp::config::isValidInterfaceName(vhid.interface)) std::abort();
    if (vhid.addresses.empty() || vhid.groups.empty() || vhid.groups.front() != "carp") {
      std::abort();
    }
    for (const auto& address : vhid.addresses) {
      // The text form parses back to the same address.
      const auto back =
          carp::config::parseInterfaceAddress(carp::config::formatInterfaceAddress(address));
      if (!back || *back != address) std::abort();
    }
  }
  return 0;
}
