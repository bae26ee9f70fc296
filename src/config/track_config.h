#pragma once
// One [[track]] table of carpd.toml (design/product.md, "Health tracking"): what is checked,
// how often, and which demotion groups a failing check moves.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proto/address.h"

namespace carp::config {

// Exactly one per track; the key of the same name in the table selects it.
enum class TrackKind : std::uint8_t { kExec, kProcess, kFile, kInterface, kPing, kTcp };

struct TrackKindInfo {
  TrackKind kind;
  std::string_view label;  // the TOML key, the JSON "kind" and the metrics label
  std::string_view text;   // for people: "command", "process", ...
};
inline constexpr TrackKindInfo kTrackKinds[] = {
    {TrackKind::kExec, "exec", "command"},     {TrackKind::kProcess, "process", "process"},
    {TrackKind::kFile, "file", "weight file"}, {TrackKind::kInterface, "interface", "interface"},
    {TrackKind::kPing, "ping", "ping"},        {TrackKind::kTcp, "tcp", "TCP connect"},
};
constexpr std::string_view toString(TrackKind kind) {
  for (const auto& k : kTrackKinds) {
    if (k.kind == kind) return k.label;
  }
  return "?";
}

struct TrackConfig {
  std::string name;  // unique among tracks
  TrackKind kind = TrackKind::kExec;
  std::vector<std::string> exec;         // kExec: argv, argv[0] absolute, no shell
  std::optional<std::string> user;       // kExec: run as this user (default: carpd's own)
  std::string process;                   // kProcess: a comm name (at most 15 bytes)
  std::string file;                      // kFile: absolute path; up while it holds an integer > 0
  std::string interface;                 // kInterface: up while link up with carrier
  std::optional<proto::IpAddress> ping;  // kPing: IPv4 or IPv6 target
  std::optional<proto::IpAddress> tcp_address;  // kTcp
  std::uint16_t tcp_port = 0;                   // kTcp
  std::chrono::milliseconds interval{2000};     // 100 ms .. 3600 s
  std::chrono::milliseconds timeout{1000};      // <= interval
  int fall = 3;                                 // 1 .. 255
  int rise = 2;                                 // 1 .. 255
  int demote = 1;                               // 1 .. 255
  std::vector<std::string> groups{"carp"};      // demotion groups that exist (some VHID has them)
  int loss_percent = 50;                        // kPing: down above this loss over 10 probes
  std::optional<std::chrono::milliseconds> latency;  // kPing: down above this average
  int line = 0;                                      // of the [[track]] header, for messages

  bool operator==(const TrackConfig&) const = default;
};

}  // namespace carp::config
