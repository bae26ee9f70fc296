#pragma once
// Internal to carp_control: the guarded JSON parse both directions of the protocol use.

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <tl/expected.hpp>

namespace carp::control::detail {

// Nesting deeper than this is refused before parsing: no message of the protocol needs more
// than four levels, and a deep document costs memory and stack in every JSON library.
inline constexpr int kMaxJsonDepth = 16;

// Parses one line holding one JSON object. Errors are one-line reasons; never throws.
tl::expected<nlohmann::json, std::string> parseJsonObjectLine(std::string_view line,
                                                              std::size_t max_bytes) noexcept;

// Serialises without throwing on invalid UTF-8 (replaced by U+FFFD) and escapes control
// characters, so that the result is always exactly one line.
std::string dumpLine(const nlohmann::json& json);

// Replaces control characters (newlines included) by spaces: error texts stay one line.
std::string oneLine(std::string_view text);

}  // namespace carp::control::detail
