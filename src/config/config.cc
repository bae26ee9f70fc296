#include "config/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <map>
#include <utility>

#include "config/address_text.h"

namespace carp::config {

namespace {

constexpr std::array kTopLevelKeys = {"global", "vhid"};
constexpr std::array kGlobalKeys = {"preempt",  "control_socket",   "state_dir",    "log_level",
                                    "hooks",    "hooks_dir",        "hook_timeout", "metrics",
                                    "realtime", "hook_capabilities"};
constexpr std::array kVhidKeys = {
    "interface",       "vhid",  "advbase",   "advskew",    "pass", "pass_file",
    "addresses",       "peer",  "peer6",     "groups",     "vmac", "demotion_in_advskew",
    "hmac_link_local", "nodes", "balancing", "master_down"};
constexpr std::array kNodeKeys = {"vhid", "advskew"};
constexpr std::array kLogLevels = {"trace", "debug", "info", "warn", "error"};

// A pass_file holds a short passphrase; anything larger is a mistake (a key file, a binary).
constexpr std::size_t kMaxPassFileBytes = 4096;
// Far more than 255 VHIDs on every interface need; a larger file is not a configuration.
constexpr std::size_t kMaxConfigBytes = 16 * 1024 * 1024;
// sizeof(sockaddr_un::sun_path) minus the terminating NUL.
constexpr std::size_t kMaxSocketPathBytes = 107;
// OpenBSD IFNAMSIZ - 1: group names share the interface-name namespace there.
constexpr std::size_t kMaxGroupNameBytes = 15;

std::size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

template <std::size_t N>
bool contains(const std::array<const char*, N>& names, std::string_view name) {
  return std::any_of(names.begin(), names.end(), [&](const char* n) { return name == n; });
}

template <std::size_t N>
std::string unknownKeyMessage(std::string_view key, std::string_view where,
                              const std::array<const char*, N>& known) {
  std::string message = "unknown key '" + std::string(key) + "'";
  if (!where.empty()) message += " in " + std::string(where);
  const char* best = nullptr;
  std::size_t best_distance = 3;  // more than two edits away is not a typo
  for (const char* candidate : known) {
    const std::size_t d = editDistance(key, candidate);
    if (d < best_distance) {
      best = candidate;
      best_distance = d;
    }
  }
  if (best != nullptr) message += "; did you mean '" + std::string(best) + "'?";
  return message;
}

// Where the statement (key = value, or [table] header) that contains offset `limit` begins: a
// small TOML lexer that skips strings, comments and multi-line arrays, so that a line inside a
// multi-line string is not taken for a statement of its own.
std::size_t statementStart(std::string_view text, std::size_t limit) {
  enum class In { kCode, kComment, kBasic, kLiteral, kMultiBasic, kMultiLiteral, kHeader };
  In in = In::kCode;
  std::size_t start = 0;
  int depth = 0;  // of [ and { inside a value
  bool line_start = true;
  const auto at = [&](std::size_t i, std::string_view token) {
    return text.substr(i, token.size()) == token;
  };
  for (std::size_t i = 0; i < std::min(limit, text.size()); ++i) {
    const char c = text[i];
    switch (in) {
      case In::kComment:
      case In::kHeader:
        if (c == '\n') {
          in = In::kCode;
          line_start = true;
        }
        continue;
      case In::kBasic:
        if (c == '\\') {
          ++i;
        } else if (c == '"' || c == '\n') {
          in = In::kCode;
        }
        continue;
      case In::kLiteral:
        if (c == '\'' || c == '\n') in = In::kCode;
        continue;
      case In::kMultiBasic:
        if (c == '\\') {
          ++i;
        } else if (at(i, "\"\"\"")) {
          in = In::kCode;
          i += 2;
        }
        continue;
      case In::kMultiLiteral:
        if (at(i, "'''")) {
          in = In::kCode;
          i += 2;
        }
        continue;
      case In::kCode:
        break;
    }
    if (c == '\n') {
      line_start = true;
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\r') continue;
    if (line_start && depth == 0 && c != '#') {
      start = i;
      if (c == '[') {
        in = In::kHeader;
        continue;
      }
    }
    line_start = false;
    if (c == '#') {
      in = In::kComment;
    } else if (at(i, "\"\"\"")) {
      in = In::kMultiBasic;
      i += 2;
    } else if (at(i, "'''")) {
      in = In::kMultiLiteral;
      i += 2;
    } else if (c == '"') {
      in = In::kBasic;
    } else if (c == '\'') {
      in = In::kLiteral;
    } else if (c == '[' || c == '{') {
      ++depth;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return start;
}

// toml++ parse errors may quote the offending text ("'99999999999999999999999' is not
// representable in 64 bits"). When that text can be the value of `pass`, the quotes are
// blanked, keeping only fragments that are certainly not secret.
std::string redactParseError(std::string_view description, std::string_view text, int line) {
  // The end of the error's line bounds the statement that holds the error.
  std::size_t end = 0;
  for (int l = 1; l <= line && end != std::string_view::npos; ++l) {
    end = text.find('\n', l == 1 ? 0 : end + 1);
  }
  if (end == std::string_view::npos) end = text.size();
  const std::size_t start = statementStart(text, end);
  const bool mentions_pass = text.substr(start, end - start).find("pass") != std::string_view::npos;
  if (!mentions_pass) return std::string(description);

  std::string out;
  std::size_t i = 0;
  while (i < description.size()) {
    const std::size_t open = description.find('\'', i);
    if (open == std::string_view::npos) break;
    const std::size_t close = description.find('\'', open + 1);
    if (close == std::string_view::npos) break;
    const std::string_view fragment = description.substr(open + 1, close - open - 1);
    const bool harmless =
        contains(kTopLevelKeys, fragment) || contains(kGlobalKeys, fragment) ||
        contains(kVhidKeys, fragment) || fragment == "true" || fragment == "false" ||
        (fragment.size() == 1 && std::ispunct(static_cast<unsigned char>(fragment[0])) != 0);
    out.append(description.substr(i, open - i));
    out += harmless ? "'" + std::string(fragment) + "'" : std::string("(not shown)");
    i = close + 1;
  }
  out.append(description.substr(std::min(i, description.size())));
  return out;
}

// A diagnostic is one line: control characters that came from the file (in a quoted value, or
// in the parser's "saw 'x'") are shown as C escapes.
std::string escapeControls(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7f) {
      std::array<char, 8> hex{};
      std::snprintf(hex.data(), hex.size(), "\\x%02x", u);
      out += hex.data();
    } else {
      out += c;
    }
  }
  return out;
}

std::string typeName(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
    case toml::node_type::time:
    case toml::node_type::date_time:
      return "a date/time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

struct Position {
  int line = 1;
  int column = 1;
};

Position positionOf(const toml::source_region& region) {
  return {std::max(1, static_cast<int>(region.begin.line)),
          std::max(1, static_cast<int>(region.begin.column))};
}

// Reads a pass_file the way ssh reads a private key: a regular file, private to its owner.
struct PassFileResult {
  std::string passphrase;
  std::string error;  // empty on success
};

PassFileResult readPassFile(const std::filesystem::path& path) {
  PassFileResult result;
  const std::string shown = "pass_file '" + path.string() + "'";
  // Opening a device can have effects (a watchdog arms on open), so look before opening; the
  // fstat below checks the file actually opened. O_NONBLOCK: a FIFO must not hang a reload.
  struct stat before {};
  if (::stat(path.c_str(), &before) == 0 && !S_ISREG(before.st_mode)) {
    result.error = shown + " is not a regular file";
    return result;
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    result.error = "cannot open " + shown + ": " + std::strerror(errno);
    return result;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    result.error = "cannot stat " + shown + ": " + std::strerror(errno);
  } else if (!S_ISREG(st.st_mode)) {
    result.error = shown + " is not a regular file";
  } else if ((st.st_mode & 077) != 0) {
    std::array<char, 8> mode{};
    std::snprintf(mode.data(), mode.size(), "%04o", static_cast<unsigned>(st.st_mode & 07777));
    result.error = shown + " is accessible by group or others (mode " + mode.data() +
                   "); it must be private to its owner (chmod 600)";
  } else if (static_cast<std::size_t>(st.st_size) > kMaxPassFileBytes) {
    result.error = shown + " is larger than " + std::to_string(kMaxPassFileBytes) + " bytes";
  } else {
    std::array<char, kMaxPassFileBytes + 1> buffer{};
    std::size_t used = 0;
    while (used < buffer.size()) {
      const ssize_t n = ::read(fd, buffer.data() + used, buffer.size() - used);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        result.error = "cannot read " + shown + ": " + std::strerror(errno);
        break;
      }
      if (n == 0) break;
      used += static_cast<std::size_t>(n);
    }
    if (result.error.empty() && used > kMaxPassFileBytes) {
      result.error = shown + " is larger than " + std::to_string(kMaxPassFileBytes) + " bytes";
    }
    if (result.error.empty()) {
      std::string_view content(buffer.data(), used);
      // Editors and `echo` end the file with a newline that is not part of the passphrase.
      if (content.ends_with("\r\n")) {
        content.remove_suffix(2);
      } else if (content.ends_with('\n')) {
        content.remove_suffix(1);
      }
      result.passphrase.assign(content);
    }
    // The buffer held the passphrase.
    std::fill(buffer.begin(), buffer.end(), '\0');
  }
  ::close(fd);
  return result;
}

// "192.0.2.1:9420" or "[2001:db8::1]:9420".
std::optional<std::pair<proto::IpAddress, std::uint16_t>> parseListenAddress(
    std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (text.starts_with('[')) {
    const auto close = text.find("]:");
    if (close == std::string_view::npos) return std::nullopt;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  const auto address = parseIpAddress(host);
  if (!address || (text.starts_with('[') != (address->family == proto::Family::kIPv6))) {
    return std::nullopt;
  }
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value < 1 || value > 65535) {
    return std::nullopt;
  }
  return std::pair{*address, static_cast<std::uint16_t>(value)};
}

class Validator {
 public:
  Validator(std::string_view file_name, std::string_view text)
      : file_(file_name), text_(text), base_dir_(std::filesystem::path(file_name).parent_path()) {}

  LoadResult run() {
    toml::table root;
    try {
      root = toml::parse(text_, std::string_view(file_));
    } catch (const toml::parse_error& e) {
      const Position p = positionOf(e.source());
      add(p, redactParseError(e.description(), text_, p.line), false);
      return finish(std::nullopt);
    }

    Config config;
    for (auto&& [key, node] : root) {
      if (!contains(kTopLevelKeys, key.str())) {
        error(key.source(), unknownKeyMessage(key.str(), "", kTopLevelKeys));
      }
    }
    if (const toml::node* global = root.get("global")) {
      if (const toml::table* table = global->as_table()) {
        config.global = parseGlobal(*table);
      } else {
        error(global->source(), "'global' must be a table ([global]), not " + typeName(*global));
      }
    }
    if (const toml::node* vhids = root.get("vhid")) {
      const toml::array* array = vhids->as_array();
      if (array == nullptr || !array->is_array_of_tables()) {
        error(vhids->source(), "'vhid' must be an array of tables ([[vhid]])");
      } else {
        for (const toml::node& element : *array) {
          for (auto& vhid : parseVhid(*element.as_table())) config.vhids.push_back(std::move(vhid));
        }
      }
    } else {
      add({1, 1}, "no [[vhid]] table: carpd has nothing to do", true);
    }
    return finish(std::move(config));
  }

 private:
  void add(Position p, std::string message, bool warning) {
    diagnostics_.push_back(Diagnostic{file_, p.line, p.column, escapeControls(message), warning});
    if (!warning) failed_ = true;
  }
  void error(const toml::source_region& where, std::string message) {
    add(positionOf(where), std::move(message), false);
  }
  void warn(const toml::source_region& where, std::string message) {
    add(positionOf(where), std::move(message), true);
  }

  LoadResult finish(std::optional<Config> config) {
    std::stable_sort(diagnostics_.begin(), diagnostics_.end(), [](const auto& a, const auto& b) {
      return std::tie(a.line, a.column) < std::tie(b.line, b.column);
    });
    LoadResult result;
    if (!failed_) result.config = std::move(config);
    result.diagnostics = std::move(diagnostics_);
    return result;
  }

  // Typed getters: nullopt (with a diagnostic) when present but of the wrong type.
  std::optional<std::int64_t> integer(const toml::node& node, std::string_view key) {
    if (const auto* v = node.as_integer()) return v->get();
    error(node.source(), "'" + std::string(key) + "' must be an integer, not " + typeName(node));
    return std::nullopt;
  }
  std::optional<bool> boolean(const toml::node& node, std::string_view key) {
    if (const auto* v = node.as_boolean()) return v->get();
    error(node.source(), "'" + std::string(key) + "' must be true or false, not " + typeName(node));
    return std::nullopt;
  }
  std::optional<std::string> string(const toml::node& node, std::string_view key) {
    if (const auto* v = node.as_string()) return v->get();
    error(node.source(), "'" + std::string(key) + "' must be a string, not " + typeName(node));
    return std::nullopt;
  }
  std::optional<std::int64_t> integerIn(const toml::node& node, std::string_view key,
                                        std::int64_t low, std::int64_t high) {
    const auto v = integer(node, key);
    if (!v) return std::nullopt;
    if (*v < low || *v > high) {
      error(node.source(), "'" + std::string(key) + "' must be " + std::to_string(low) + ".." +
                               std::to_string(high) + ", not " + std::to_string(*v));
      return std::nullopt;
    }
    return v;
  }
  std::optional<std::string> absolutePath(const toml::node& node, std::string_view key,
                                          std::size_t max_bytes) {
    auto s = string(node, key);
    if (!s) return std::nullopt;
    if (s->empty() || s->front() != '/' || s->find('\0') != std::string::npos) {
      error(node.source(), "'" + std::string(key) + "' must be an absolute path");
      return std::nullopt;
    }
    if (s->size() > max_bytes) {
      error(node.source(),
            "'" + std::string(key) + "' is longer than " + std::to_string(max_bytes) + " bytes");
      return std::nullopt;
    }
    return s;
  }

  GlobalConfig parseGlobal(const toml::table& table) {
    GlobalConfig global;
    for (auto&& [key, node] : table) {
      const std::string_view k = key.str();
      if (k == "preempt") {
        if (auto v = boolean(node, k)) global.preempt = *v;
      } else if (k == "control_socket") {
        if (auto v = absolutePath(node, k, kMaxSocketPathBytes)) global.control_socket = *v;
      } else if (k == "state_dir") {
        if (auto v = absolutePath(node, k, 4095)) global.state_dir = *v;
      } else if (k == "log_level") {
        if (auto v = string(node, k)) {
          if (contains(kLogLevels, *v)) {
            global.log_level = *v;
          } else {
            error(node.source(),
                  "'log_level' must be one of trace, debug, info, warn, error, not '" + *v + "'");
          }
        }
      } else if (k == "hooks") {
        if (const toml::array* list = node.as_array()) {
          for (const toml::node& item : *list) {
            if (auto v = absolutePath(item, "hooks", 4095)) global.hooks.push_back(*v);
          }
        } else {
          error(node.source(), "'hooks' must be an array of absolute paths, not " + typeName(node));
        }
      } else if (k == "hooks_dir") {
        if (auto v = absolutePath(node, k, 4095)) global.hooks_dir = *v;
      } else if (k == "hook_timeout") {
        if (auto v = integerIn(node, k, 1, 3600)) global.hook_timeout = std::chrono::seconds(*v);
      } else if (k == "metrics") {
        if (auto v = string(node, k)) {
          if (auto listen = parseListenAddress(*v)) {
            global.metrics = *listen;
          } else {
            error(node.source(),
                  "'metrics' must be ADDRESS:PORT such as \"127.0.0.1:9420\" or "
                  "\"[::1]:9420\", not '" +
                      *v + "'");
          }
        }
      } else if (k == "realtime") {
        if (auto v = boolean(node, k)) global.realtime = *v;
      } else if (k == "hook_capabilities") {
        if (auto v = boolean(node, k)) global.hook_capabilities = *v;
      } else {
        error(key.source(), unknownKeyMessage(k, "[global]", kGlobalKeys));
      }
    }
    return global;
  }

  // Sets `key` from `pass` or `pass_file`, warning about what BSD ifconfig would do with it.
  void parseKey(const toml::table& table, VhidConfig& vhid) {
    const toml::node* pass = table.get("pass");
    const toml::node* pass_file = table.get("pass_file");
    if (pass != nullptr && pass_file != nullptr) {
      error(pass_file->source(), "'pass' and 'pass_file' are both set; use one of them");
      return;
    }
    if (pass == nullptr && pass_file == nullptr) {
      warn(table.source(),
           "no 'pass' or 'pass_file': authentication uses the empty key, which anyone can forge");
      return;
    }
    std::string passphrase;
    const toml::node& where = pass != nullptr ? *pass : *pass_file;
    if (pass != nullptr) {
      // No value in this message: it would be the passphrase.
      const auto* s = pass->as_string();
      if (s == nullptr) {
        error(pass->source(), "'pass' must be a string, not " + typeName(*pass));
        return;
      }
      passphrase = s->get();
    } else {
      auto path_text = string(*pass_file, "pass_file");
      if (!path_text) return;
      if (path_text->empty() || path_text->find('\0') != std::string::npos) {
        error(pass_file->source(), "'pass_file' must be a file name");
        return;
      }
      // Relative to the configuration file, so that a tree of files can move together.
      const std::filesystem::path path = base_dir_ / *path_text;
      PassFileResult read = readPassFile(path);
      if (!read.error.empty()) {
        error(pass_file->source(), read.error);
        return;
      }
      passphrase = std::move(read.passphrase);
      if (passphrase.empty()) {
        warn(pass_file->source(),
             "pass_file is empty: authentication uses the empty key, which anyone can forge");
      }
    }
    if (passphrase.find('\0') != std::string::npos) {
      // BSD ifconfig takes the passphrase from argv, which cannot hold a NUL byte.
      error(where.source(), "the passphrase contains a NUL byte");
    } else {
      if (passphrase.size() > proto::SecretKey::kMaxPassphraseBytes) {
        warn(where.source(),
             "passphrase is longer than 19 bytes; only the first 19 are used (BSD ifconfig "
             "strlcpy)");
      }
      vhid.key = proto::SecretKey::fromPassphrase(passphrase);
    }
    std::fill(passphrase.begin(), passphrase.end(), '\0');
  }

  void parseAddresses(const toml::node& node, VhidConfig& vhid) {
    const toml::array* array = node.as_array();
    if (array == nullptr || array->empty()) {
      error(node.source(),
            "'addresses' must be a non-empty array of \"ADDR/PREFIX\" strings, not " +
                (array == nullptr ? typeName(node) : std::string("an empty array")));
      return;
    }
    for (const toml::node& element : *array) {
      const auto* s = element.as_string();
      if (s == nullptr) {
        error(element.source(),
              "an address must be a string \"ADDR/PREFIX\", not " + typeName(element));
        continue;
      }
      auto parsed = parseInterfaceAddressOrError(s->get());
      if (!parsed) {
        error(element.source(), "bad address " + parsed.error());
        continue;
      }
      if (auto problem = unicastProblem(parsed->address)) {
        error(element.source(),
              "bad address '" + s->get() + "': " + formatAddress(parsed->address) + " " + *problem);
        continue;
      }
      const bool duplicate =
          std::any_of(vhid.addresses.begin(), vhid.addresses.end(),
                      [&](const auto& a) { return a.address == parsed->address; });
      if (duplicate) {
        error(element.source(),
              "address " + formatAddress(parsed->address) + " is listed twice in this [[vhid]]");
        continue;
      }
      vhid.addresses.push_back(*parsed);
      address_sources_.push_back(element.source());
    }
  }

  std::optional<proto::IpAddress> parsePeer(const toml::node& node, std::string_view key,
                                            proto::Family family) {
    auto s = string(node, key);
    if (!s) return std::nullopt;
    const char* family_name = family == proto::Family::kIPv4 ? "an IPv4" : "an IPv6";
    const auto address = parseIpAddress(*s);
    if (!address || address->family != family) {
      error(node.source(),
            "'" + std::string(key) + "' must be " + family_name + " address, not '" + *s + "'");
      return std::nullopt;
    }
    if (auto problem = unicastProblem(*address)) {
      error(node.source(), "'" + std::string(key) + "' " + *s + " " + *problem);
      return std::nullopt;
    }
    return address;
  }

  void parseGroups(const toml::node& node, VhidConfig& vhid) {
    const toml::array* array = node.as_array();
    if (array == nullptr) {
      error(node.source(), "'groups' must be an array of names, not " + typeName(node));
      return;
    }
    for (const toml::node& element : *array) {
      const auto* s = element.as_string();
      if (s == nullptr) {
        error(element.source(), "a group must be a string, not " + typeName(element));
        continue;
      }
      const std::string& name = s->get();
      const bool valid = !name.empty() && name.size() <= kMaxGroupNameBytes &&
                         std::all_of(name.begin(), name.end(), [](char c) {
                           return std::isgraph(static_cast<unsigned char>(c)) != 0;
                         });
      if (!valid) {
        error(element.source(), "bad group name '" + name + "': 1.." +
                                    std::to_string(kMaxGroupNameBytes) +
                                    " printable characters, no spaces");
        continue;
      }
      if (name == kDefaultGroup) continue;  // always present, listing it is fine
      if (std::find(vhid.groups.begin(), vhid.groups.end(), name) != vhid.groups.end()) {
        error(element.source(), "group '" + name + "' is listed twice");
        continue;
      }
      vhid.groups.push_back(name);
    }
  }

  struct Node {
    proto::Vhid vhid;
    proto::AdvSkew advskew;
  };

  // `nodes = [{vhid = 1, advskew = 0}, ...]` (OpenBSD carpnodes vhid:advskew,...).
  std::vector<Node> parseNodes(const toml::node& node) {
    std::vector<Node> nodes;
    const toml::array* array = node.as_array();
    if (array == nullptr || array->empty()) {
      error(node.source(), "'nodes' must be a non-empty array of {vhid = N, advskew = N}, not " +
                               (array == nullptr ? typeName(node) : std::string("an empty array")));
      return nodes;
    }
    if (array->size() > proto::kMaxBalancingNodes) {
      error(node.source(), "'nodes' has " + std::to_string(array->size()) + " entries; at most " +
                               std::to_string(proto::kMaxBalancingNodes) +
                               " (OpenBSD CARP_MAXNODES)");
      return nodes;
    }
    for (const toml::node& element : *array) {
      const toml::table* entry = element.as_table();
      if (entry == nullptr) {
        error(element.source(),
              "a node must be a table {vhid = N, advskew = N}, not " + typeName(element));
        continue;
      }
      for (auto&& [key, value] : *entry) {
        if (!contains(kNodeKeys, key.str())) {
          error(key.source(), unknownKeyMessage(key.str(), "a node", kNodeKeys));
        }
      }
      Node n{*proto::Vhid::make(1), *proto::AdvSkew::make(0)};
      const toml::node* vhid = entry->get("vhid");
      if (vhid == nullptr) {
        error(element.source(), "a node is missing 'vhid'");
        continue;
      }
      const auto v = integerIn(*vhid, "vhid", 1, 255);
      if (!v) continue;
      n.vhid = *proto::Vhid::make(static_cast<int>(*v));
      if (const toml::node* skew = entry->get("advskew")) {
        const auto s = integerIn(*skew, "advskew", 0, proto::AdvSkew::kMaxConfigured);
        if (!s) continue;
        n.advskew = *proto::AdvSkew::make(static_cast<int>(*s));
      }
      if (std::any_of(nodes.begin(), nodes.end(),
                      [&](const Node& o) { return o.vhid == n.vhid; })) {
        error(vhid->source(), "vhid " + std::to_string(*v) + " is listed twice in 'nodes'");
        continue;
      }
      nodes.push_back(n);
    }
    return nodes;
  }

  // `balancing` and `nodes` together (carp-wire.md §5.1): one node means no balancing, as
  // OpenBSD forces; several balance, "ip" when not given, as OpenBSD chooses.
  proto::Balancing parseBalancing(const toml::table& table, std::size_t node_count) {
    const toml::node* node = table.get("balancing");
    if (node == nullptr) return node_count > 1 ? proto::Balancing::kIp : proto::Balancing::kNone;
    const auto text = string(*node, "balancing");
    if (!text) return proto::Balancing::kNone;
    for (const auto mode : {proto::Balancing::kNone, proto::Balancing::kIp,
                            proto::Balancing::kIpStealth, proto::Balancing::kIpUnicast}) {
      if (*text != proto::toString(mode)) continue;
      if (mode != proto::Balancing::kNone && node_count < 2) {
        error(node->source(), "'balancing' needs at least two 'nodes'");
      } else if (mode == proto::Balancing::kNone && node_count > 1) {
        error(node->source(),
              "several 'nodes' always balance (OpenBSD turns \"none\" into \"ip\"); use "
              "\"ip\", \"ip-stealth\" or \"ip-unicast\"");
      }
      return mode;
    }
    error(node->source(),
          "'balancing' must be one of none, ip, ip-stealth, ip-unicast, not '" + *text + "'");
    return proto::Balancing::kNone;
  }

  // One [[vhid]] table: one VhidConfig, or one per node when it has `nodes`. Empty on error.
  std::vector<VhidConfig> parseVhid(const toml::table& table) {
    const bool failed_before = failed_;
    failed_ = false;
    VhidConfig vhid;
    vhid.line = positionOf(table.source()).line;
    vhid.groups.emplace_back(kDefaultGroup);
    address_sources_.clear();

    for (auto&& [key, node] : table) {
      if (!contains(kVhidKeys, key.str())) {
        error(key.source(), unknownKeyMessage(key.str(), "[[vhid]]", kVhidKeys));
      }
    }
    const auto required = [&](const char* key) -> const toml::node* {
      const toml::node* node = table.get(key);
      if (node == nullptr) error(table.source(), std::string("[[vhid]] is missing '") + key + "'");
      return node;
    };

    bool have_interface = false;
    bool have_vhid = false;
    if (const toml::node* node = required("interface")) {
      if (auto s = string(*node, "interface")) {
        if (isValidInterfaceName(*s)) {
          vhid.interface = *s;
          have_interface = true;
        } else {
          error(node->source(), "'" + *s +
                                    "' is not a valid interface name (1..15 characters, no '/', "
                                    "':' or whitespace)");
        }
      }
    }
    const toml::node* nodes_node = table.get("nodes");
    std::vector<Node> nodes;
    if (nodes_node != nullptr) {
      if (const toml::node* node = table.get("vhid")) {
        error(node->source(),
              "'vhid' and 'nodes' are both set; a balancing entry has only 'nodes'");
      }
      if (const toml::node* node = table.get("advskew")) {
        error(node->source(), "'advskew' and 'nodes' are both set; each node has its own advskew");
      }
      nodes = parseNodes(*nodes_node);
      have_vhid = !nodes.empty();
      if (have_vhid) vhid.vhid = nodes.front().vhid;  // names the entry in messages
    } else if (const toml::node* node = required("vhid")) {
      if (auto v = integerIn(*node, "vhid", 1, 255)) {
        vhid.vhid = *proto::Vhid::make(static_cast<int>(*v));
        have_vhid = true;
      }
    }
    if (const toml::node* node = table.get("advbase")) {
      if (auto v = integerIn(*node, "advbase", 0, 255)) {
        vhid.advbase = *proto::AdvBase::make(static_cast<int>(*v));
      }
    }
    if (const toml::node* node = table.get("advskew"); node != nullptr && nodes_node == nullptr) {
      if (auto v = integerIn(*node, "advskew", 0, proto::AdvSkew::kMaxConfigured)) {
        vhid.advskew = *proto::AdvSkew::make(static_cast<int>(*v));
      }
    }
    if (nodes_node != nullptr) {
      vhid.balancing = parseBalancing(table, nodes.size());
    } else if (const toml::node* node = table.get("balancing")) {
      error(node->source(), "'balancing' needs 'nodes' (two or more VHIDs sharing the addresses)");
    }
    parseKey(table, vhid);
    if (const toml::node* node = required("addresses")) parseAddresses(*node, vhid);
    if (const toml::node* node = table.get("peer")) {
      vhid.peer = parsePeer(*node, "peer", proto::Family::kIPv4);
    }
    if (const toml::node* node = table.get("peer6")) {
      vhid.peer6 = parsePeer(*node, "peer6", proto::Family::kIPv6);
    }
    if (const toml::node* node = table.get("groups")) parseGroups(*node, vhid);
    if (const toml::node* node = table.get("vmac")) {
      if (auto v = boolean(*node, "vmac")) vhid.vmac = *v;
      if (vhid.balancing != proto::Balancing::kNone) {
        error(node->source(),
              "'vmac' does not apply to a balancing entry: its MAC follows 'balancing' "
              "(carpd.toml(5))");
      }
    }
    if (const toml::node* node = table.get("demotion_in_advskew")) {
      if (auto v = boolean(*node, "demotion_in_advskew")) vhid.demotion_in_advskew = *v;
    }
    if (const toml::node* node = table.get("hmac_link_local")) {
      if (auto v = boolean(*node, "hmac_link_local")) vhid.hmac_link_local = *v;
    }
    if (const toml::node* node = table.get("master_down")) {
      if (auto v = string(*node, "master_down")) {
        if (*v == "openbsd") {
          vhid.master_down = proto::MasterDownFormula::kOpenBsd;
        } else if (*v == "freebsd") {
          vhid.master_down = proto::MasterDownFormula::kFreeBsd;
          if (vhid.advbase.seconds() == 0) {
            error(node->source(),
                  "'master_down = \"freebsd\"' needs advbase 1 or more: FreeBSD has no "
                  "sub-second mode");
          }
        } else {
          error(node->source(),
                "'master_down' must be \"openbsd\" or \"freebsd\", not '" + *v + "'");
        }
      }
    }
    if (vhid.balancing != proto::Balancing::kNone) {
      // The kernel filter hashes IPv4 only (carp_lsdrop's IPv6 fold is left out for now).
      vhid.vmac = false;
      for (std::size_t i = 0; i < vhid.addresses.size(); ++i) {
        if (vhid.addresses[i].address.family != proto::Family::kIPv6) continue;
        error(address_sources_[i],
              "IPv6 addresses cannot be balanced: carpd's load balancing is IPv4 only; put " +
                  formatAddress(vhid.addresses[i].address) + " in a [[vhid]] of its own");
      }
    }

    std::vector<proto::Vhid> ids;
    if (nodes_node == nullptr) {
      ids.push_back(vhid.vhid);
    } else {
      for (const Node& n : nodes) ids.push_back(n.vhid);
    }
    checkAgainstEarlier(table, vhid,
                        have_interface && have_vhid ? ids : std::vector<proto::Vhid>{});

    const bool this_failed = failed_;
    failed_ = failed_before || this_failed;
    std::vector<VhidConfig> out;
    if (this_failed) return out;
    if (nodes_node == nullptr) {
      out.push_back(std::move(vhid));
      return out;
    }
    if (vhid.balancing != proto::Balancing::kNone) vhid.nodes = ids;
    for (const Node& n : nodes) {
      VhidConfig copy{vhid.interface,
                      n.vhid,
                      vhid.advbase,
                      n.advskew,
                      vhid.key.clone(),
                      vhid.addresses,
                      vhid.peer,
                      vhid.peer6,
                      vhid.groups,
                      vhid.vmac,
                      vhid.demotion_in_advskew,
                      vhid.hmac_link_local,
                      vhid.master_down,
                      vhid.balancing,
                      vhid.nodes,
                      vhid.manage_addresses,
                      vhid.line};
      out.push_back(std::move(copy));
    }
    return out;
  }

  // Rules across [[vhid]] tables: one VHID number once per interface (both BSDs refuse a
  // second carp interface with the same vhid on one parent), and one address in one VHID (the
  // nodes of one balancing entry share theirs).
  void checkAgainstEarlier(const toml::table& table, const VhidConfig& vhid,
                           const std::vector<proto::Vhid>& ids) {
    for (const proto::Vhid id_vhid : ids) {
      const auto id = std::make_pair(vhid.interface, id_vhid.value());
      const auto [it, inserted] = seen_ids_.emplace(id, positionOf(table.source()));
      if (!inserted) {
        error(table.source(), "vhid " + std::to_string(id_vhid.value()) + " on interface '" +
                                  vhid.interface + "' is already defined at line " +
                                  std::to_string(it->second.line));
      }
    }
    for (std::size_t i = 0; i < vhid.addresses.size(); ++i) {
      const auto& address = vhid.addresses[i].address;
      const auto it = seen_addresses_.find(address);
      if (it == seen_addresses_.end()) {
        seen_addresses_.emplace(address, SeenAddress{vhid.interface, vhid.vhid.value(),
                                                     positionOf(table.source()).line});
        continue;
      }
      const std::string message = "address " + formatAddress(address) + " is also in vhid " +
                                  std::to_string(it->second.vhid) + " on '" + it->second.interface +
                                  "' (line " + std::to_string(it->second.line) + ")";
      // On one interface the two VHIDs would add and remove the same address under each other.
      if (it->second.interface == vhid.interface) {
        error(address_sources_[i], message);
      } else {
        warn(address_sources_[i], message);
      }
    }
  }

  struct SeenAddress {
    std::string interface;
    int vhid = 0;
    int line = 0;
  };

  std::string file_;
  std::string_view text_;
  std::filesystem::path base_dir_;
  std::vector<Diagnostic> diagnostics_;
  bool failed_ = false;
  std::map<std::pair<std::string, int>, Position> seen_ids_;
  std::map<proto::IpAddress, SeenAddress> seen_addresses_;
  std::vector<toml::source_region> address_sources_;  // of the current [[vhid]]'s addresses
};

}  // namespace

std::string Diagnostic::toString() const {
  return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " +
         (warning ? "warning: " : "") + message;
}

bool LoadResult::ok() const {
  return config.has_value() && std::none_of(diagnostics.begin(), diagnostics.end(),
                                            [](const Diagnostic& d) { return !d.warning; });
}

bool isValidInterfaceName(std::string_view name) {
  if (name.empty() || name.size() > 15 || name == "." || name == "..") return false;
  return std::none_of(name.begin(), name.end(), [](char c) {
    return c == '/' || c == ':' || c == '\0' || std::isspace(static_cast<unsigned char>(c)) != 0;
  });
}

LoadResult parseText(std::string_view text, std::string_view file_name) {
  return Validator(file_name, text).run();
}

LoadResult loadFile(const std::filesystem::path& path) {
  const auto fail = [&](std::string reason) {
    LoadResult result;
    result.diagnostics.push_back(Diagnostic{path.string(), 1, 1, "cannot read: " + reason, false});
    return result;
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return fail(std::strerror(errno));
  std::string text;
  std::string problem;
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    problem = std::strerror(errno);
  } else if (!S_ISREG(st.st_mode)) {
    problem = "not a regular file";
  } else {
    std::array<char, 65536> buffer{};
    while (problem.empty()) {
      const ssize_t n = ::read(fd, buffer.data(), buffer.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        problem = std::strerror(errno);
      } else if (n == 0) {
        break;
      } else if (text.size() + static_cast<std::size_t>(n) > kMaxConfigBytes) {
        problem = "larger than " + std::to_string(kMaxConfigBytes) + " bytes";
      } else {
        text.append(buffer.data(), static_cast<std::size_t>(n));
      }
    }
  }
  ::close(fd);
  if (!problem.empty()) return fail(problem);
  return parseText(text, path.string());
}

bool operator==(const VhidConfig& a, const VhidConfig& b) {
  return a.interface == b.interface && a.vhid == b.vhid && a.advbase == b.advbase &&
         a.advskew == b.advskew && a.key.sameAs(b.key) && a.addresses == b.addresses &&
         a.peer == b.peer && a.peer6 == b.peer6 && a.groups == b.groups && a.vmac == b.vmac &&
         a.demotion_in_advskew == b.demotion_in_advskew && a.hmac_link_local == b.hmac_link_local &&
         a.master_down == b.master_down && a.balancing == b.balancing && a.nodes == b.nodes &&
         a.manage_addresses == b.manage_addresses;
}

}  // namespace carp::config
