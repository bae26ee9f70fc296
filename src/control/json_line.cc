#include "control/json_line.h"

namespace carp::control::detail {

namespace {

// Counts bracket nesting outside strings. The text is not validated here: the parser does
// that; this only bounds the work the parser is asked to do.
bool tooDeep(std::string_view text) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxJsonDepth) return true;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return false;
}

}  // namespace

tl::expected<nlohmann::json, std::string> parseJsonObjectLine(std::string_view line,
                                                              std::size_t max_bytes) noexcept {
  try {
    if (line.size() > max_bytes) {
      return tl::make_unexpected("message too long (" + std::to_string(line.size()) +
                                 " bytes, limit " + std::to_string(max_bytes) + ")");
    }
    if (line.find_first_not_of(" \t\r\n") == std::string_view::npos) {
      return tl::make_unexpected(std::string("empty message"));
    }
    // nlohmann's lexer takes a NUL byte for the end of the input and would ignore what follows.
    if (line.find('\0') != std::string_view::npos) {
      return tl::make_unexpected(std::string("invalid JSON: NUL byte"));
    }
    if (tooDeep(line)) {
      return tl::make_unexpected("JSON nested deeper than " + std::to_string(kMaxJsonDepth) +
                                 " levels");
    }
    nlohmann::json json;
    try {
      json = nlohmann::json::parse(line.begin(), line.end());
    } catch (const nlohmann::json::parse_error& e) {
      return tl::make_unexpected("invalid JSON at byte " + std::to_string(e.byte));
    } catch (const nlohmann::json::exception&) {
      // out_of_range.406: a number such as 1e400 that no double holds.
      return tl::make_unexpected(std::string("invalid JSON: number out of range"));
    }
    if (!json.is_object()) return tl::make_unexpected(std::string("not a JSON object"));
    return json;
  } catch (...) {
    // std::bad_alloc, or a library exception not documented for these calls.
    return tl::make_unexpected(std::string("cannot parse message"));
  }
}

std::string dumpLine(const nlohmann::json& json) {
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string oneLine(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = ' ';
  }
  return out;
}

}  // namespace carp::control::detail
