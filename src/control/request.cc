#include "control/request.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <initializer_list>
#include <nlohmann/json.hpp>

#include "control/json_line.h"

namespace carp::control {

namespace {

using nlohmann::json;
template <typename T>
using Expected = tl::expected<T, std::string>;

tl::unexpected<std::string> fail(std::string message) {
  return tl::make_unexpected(std::move(message));
}

Expected<void> onlyFields(const json& j, std::string_view command,
                          std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : j.items()) {
    if (key == "command") continue;
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      // The key came from the peer: keep it printable and short.
      return fail("unknown field '" + detail::oneLine(key.substr(0, 64)) + "' in a '" +
                  std::string(command) + "' request");
    }
  }
  return {};
}

Expected<std::string> stringField(const json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end()) return fail(std::string("missing field '") + key + "'");
  if (!it->is_string()) return fail(std::string("field '") + key + "' must be a string");
  return it->get<std::string>();
}

Expected<long long> integerField(const json& j, const char* key, long long low, long long high) {
  const auto it = j.find(key);
  if (it == j.end()) return fail(std::string("missing field '") + key + "'");
  const std::string range = std::to_string(low) + ".." + std::to_string(high);
  if (!it->is_number_integer()) {
    return fail(std::string("field '") + key + "' must be an integer " + range);
  }
  // An unsigned value above LLONG_MAX would wrap in get<long long>().
  if (it->is_number_unsigned() && it->get<std::uint64_t>() > static_cast<std::uint64_t>(high)) {
    return fail(std::string("field '") + key + "' must be " + range);
  }
  const auto value = it->get<long long>();
  if (value < low || value > high) return fail(std::string("field '") + key + "' must be " + range);
  return value;
}

Expected<bool> boolField(const json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end()) return fail(std::string("missing field '") + key + "'");
  if (!it->is_boolean()) return fail(std::string("field '") + key + "' must be true or false");
  return it->get<bool>();
}

Expected<proto::State> forcedState(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "master") return proto::State::kMaster;
  if (lower == "backup") return proto::State::kBackup;
  return fail("state must be master or backup");
}

Expected<Request> decode(const json& j) {
  const auto command = stringField(j, "command");
  if (!command) return fail(command.error());

  if (*command == "status") {
    if (auto ok = onlyFields(j, *command, {}); !ok) return fail(ok.error());
    return StatusRequest{};
  }
  if (*command == "reload") {
    if (auto ok = onlyFields(j, *command, {}); !ok) return fail(ok.error());
    return ReloadRequest{};
  }
  if (*command == "doctor") {
    if (auto ok = onlyFields(j, *command, {}); !ok) return fail(ok.error());
    return DoctorRequest{};
  }
  if (*command == "maintenance") {
    if (auto ok = onlyFields(j, *command, {"on"}); !ok) return fail(ok.error());
    const auto on = boolField(j, "on");
    if (!on) return fail(on.error());
    return MaintenanceRequest{*on};
  }
  if (*command == "demote") {
    if (auto ok = onlyFields(j, *command, {"group", "delta"}); !ok) return fail(ok.error());
    DemoteRequest request;
    if (j.contains("group")) {
      auto group = stringField(j, "group");
      if (!group) return fail(group.error());
      if (!isValidGroupName(*group)) return fail("invalid group name");
      request.group = std::move(*group);
    }
    const auto delta = integerField(j, "delta", -kMaxDemoteDelta, kMaxDemoteDelta);
    if (!delta) return fail(delta.error());
    request.delta = static_cast<int>(*delta);
    return request;
  }
  if (*command == "state") {
    if (auto ok = onlyFields(j, *command, {"interface", "vhid", "state"}); !ok) {
      return fail(ok.error());
    }
    auto interface = stringField(j, "interface");
    if (!interface) return fail(interface.error());
    if (!isValidInterfaceName(*interface)) return fail("invalid interface name");
    const auto vhid = integerField(j, "vhid", 1, 255);
    if (!vhid) return fail(vhid.error());
    const auto state_text = stringField(j, "state");
    if (!state_text) return fail(state_text.error());
    const auto state = forcedState(*state_text);
    if (!state) return fail(state.error());
    return StateRequest{std::move(*interface), *proto::Vhid::make(static_cast<int>(*vhid)), *state};
  }
  return fail("unknown command '" + detail::oneLine(command->substr(0, 64)) + "'");
}

struct Encoder {
  json operator()(const StatusRequest&) const { return {{"command", "status"}}; }
  json operator()(const ReloadRequest&) const { return {{"command", "reload"}}; }
  json operator()(const DoctorRequest&) const { return {{"command", "doctor"}}; }
  json operator()(const MaintenanceRequest& r) const {
    return {{"command", "maintenance"}, {"on", r.on}};
  }
  json operator()(const DemoteRequest& r) const {
    return {{"command", "demote"}, {"group", r.group}, {"delta", r.delta}};
  }
  json operator()(const StateRequest& r) const {
    return {{"command", "state"},
            {"interface", r.interface},
            {"vhid", r.vhid.value()},
            {"state", r.state == proto::State::kMaster ? "master" : "backup"}};
  }
};

// A decimal integer with an optional sign ("-3", "+3", "3"); nothing else, not even spaces.
std::optional<long long> parseInteger(std::string_view text) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  long long value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

std::string encodeRequest(const Request& request) {
  return detail::dumpLine(std::visit(Encoder{}, request));
}

tl::expected<Request, std::string> parseRequest(std::string_view line) noexcept {
  try {
    auto parsed = detail::parseJsonObjectLine(line, kMaxRequestBytes);
    if (!parsed) return fail(parsed.error());
    return decode(*parsed);
  } catch (...) {
    return tl::make_unexpected(std::string("cannot parse request"));
  }
}

tl::expected<Request, std::string> requestFromArguments(std::string_view command,
                                                        const std::vector<std::string>& arguments) {
  const auto count = [&](std::size_t low, std::size_t high, const char* usage) -> Expected<void> {
    if (arguments.size() < low || arguments.size() > high) {
      return fail(std::string("usage: ") + usage);
    }
    return {};
  };
  if (command == "status" || command == "reload" || command == "doctor") {
    const std::string usage(command);
    if (auto ok = count(0, 0, usage.c_str()); !ok) return fail(ok.error());
    if (command == "status") return StatusRequest{};
    if (command == "doctor") return DoctorRequest{};
    return ReloadRequest{};
  }
  if (command == "demote") {
    if (auto ok = count(1, 2, "demote [GROUP] N"); !ok) return fail(ok.error());
    DemoteRequest request;
    if (arguments.size() == 2) {
      if (!isValidGroupName(arguments[0])) {
        return fail("invalid group name '" + detail::oneLine(arguments[0]) + "'");
      }
      request.group = arguments[0];
    }
    const auto delta = parseInteger(arguments.back());
    if (!delta || *delta < -kMaxDemoteDelta || *delta > kMaxDemoteDelta) {
      return fail("demotion must be an integer -" + std::to_string(kMaxDemoteDelta) + ".." +
                  std::to_string(kMaxDemoteDelta) + ", not '" + detail::oneLine(arguments.back()) +
                  "'");
    }
    request.delta = static_cast<int>(*delta);
    return request;
  }
  if (command == "state") {
    if (auto ok = count(3, 3, "state INTERFACE VHID master|backup"); !ok) return fail(ok.error());
    if (!isValidInterfaceName(arguments[0])) {
      return fail("invalid interface name '" + detail::oneLine(arguments[0]) + "'");
    }
    const auto number = parseInteger(arguments[1]);
    const auto vhid = number && *number >= 1 && *number <= 255
                          ? proto::Vhid::make(static_cast<int>(*number))
                          : std::nullopt;
    if (!vhid) return fail("vhid must be 1..255, not '" + detail::oneLine(arguments[1]) + "'");
    const auto state = forcedState(arguments[2]);
    if (!state) return fail(state.error() + ", not '" + detail::oneLine(arguments[2]) + "'");
    return StateRequest{arguments[0], *vhid, *state};
  }
  if (command == "maintenance") {
    if (auto ok = count(1, 1, "maintenance on|off"); !ok) return fail(ok.error());
    if (arguments[0] == "on") return MaintenanceRequest{true};
    if (arguments[0] == "off") return MaintenanceRequest{false};
    return fail("maintenance must be on or off, not '" + detail::oneLine(arguments[0]) + "'");
  }
  return fail("unknown command '" + detail::oneLine(command) + "'");
}

bool isValidGroupName(std::string_view name) noexcept {
  return !name.empty() && name.size() <= 15 && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isgraph(static_cast<unsigned char>(c)) != 0;
  });
}

bool isValidInterfaceName(std::string_view name) noexcept {
  if (name.empty() || name.size() > 15 || name == "." || name == "..") return false;
  return std::none_of(name.begin(), name.end(), [](char c) {
    return c == '/' || c == ':' || c == '\0' || std::isspace(static_cast<unsigned char>(c)) != 0;
  });
}

}  // namespace carp::control
