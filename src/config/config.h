#pragma once
// The carpd configuration file (TOML, keys fixed by design/product.md), validated into typed
// values. Every problem comes back as a FILE:LINE:COL diagnostic; none of them throws.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proto/address.h"
#include "proto/load_balance.h"
#include "proto/secret_key.h"
#include "proto/timing.h"
#include "proto/types.h"

namespace carp::config {

struct Diagnostic {
  std::string file;
  int line = 0;    // 1-based
  int column = 0;  // 1-based
  std::string message;
  bool warning = false;

  // "FILE:LINE:COL: message", or "FILE:LINE:COL: warning: message". Never holds a secret.
  std::string toString() const;
};

// ucarp's scripts, as `carpd --ucarp` runs them: `<script> <interface> <address> [xparam]`.
struct UcarpScripts {
  std::string upscript;               // absolute path, run on becoming MASTER; empty: none
  std::string downscript;             // absolute path, run on leaving MASTER; empty: none
  std::string address;                // ucarp's --addr as given, the scripts' second argument
  std::optional<std::string> xparam;  // the third argument, only when given
  bool neutral = false;               // -n: no downscript when the first state is BACKUP
  bool shutdown = false;              // -z: the downscript at exit, when not BACKUP
};

struct GlobalConfig {
  bool preempt = false;
  std::string control_socket = "/run/carpd/carpd.sock";
  std::string state_dir = "/var/lib/carpd";
  std::string log_level = "info";  // trace, debug, info, warn or error
  // Commands run on every state change (absolute paths of executables, no shell), then every
  // executable in hooks_dir in name order.
  std::vector<std::string> hooks;
  std::string hooks_dir;  // empty: none
  std::chrono::seconds hook_timeout{10};
  // Prometheus metrics over HTTP: "127.0.0.1:9420" or "[::1]:9420"; not set: no listener.
  std::optional<std::pair<proto::IpAddress, std::uint16_t>> metrics;
  // SCHED_FIFO and mlockall, so that a loaded host still advertises on time.
  bool realtime = false;
  // Hooks start with CAP_NET_ADMIN and CAP_NET_RAW as ambient capabilities (those carpd
  // keeps), so that a hook can run `ip addr add` when carpd is not full root. Read at start.
  bool hook_capabilities = false;
  // carpd --ucarp: ucarp's up/down scripts instead of hooks (config/ucarp_args.h).
  std::optional<UcarpScripts> ucarp;
};

inline constexpr std::string_view kDefaultGroup = "carp";

struct VhidConfig {
  std::string interface;
  proto::Vhid vhid = *proto::Vhid::make(1);
  proto::AdvBase advbase = *proto::AdvBase::make(1);
  proto::AdvSkew advskew = *proto::AdvSkew::make(0);
  proto::SecretKey key = proto::SecretKey::empty();
  std::vector<proto::InterfaceAddress> addresses;  // in file order, non-empty, no duplicates
  std::optional<proto::IpAddress> peer;            // IPv4 unicast peer, instead of 224.0.0.18
  std::optional<proto::IpAddress> peer6;           // IPv6 unicast peer, instead of ff02::12
  std::vector<std::string> groups;                 // "carp" first, then the others, no duplicates
  bool vmac = true;
  // For groups with FreeBSD hosts (pfSense, OPNsense), which ignore the demote byte: add the
  // demotion to the advertised advskew, clamped to 240, as FreeBSD's DEMOTE_ADVSKEW does.
  bool demotion_in_advskew = false;
  // Sign with the IPv6 link-local virtual addresses included, as FreeBSD does when fe80::
  // addresses are attached to the VHID; OpenBSD leaves them out (carp-wire.md §2.4).
  // Verification accepts either way.
  bool hmac_link_local = false;
  // How long a BACKUP waits: OpenBSD's 3 x (advbase + advskew/256) by default, or FreeBSD's
  // 3 x advbase + advskew/256, which is shorter by 2 x advskew/256 s.
  proto::MasterDownFormula master_down = proto::MasterDownFormula::kOpenBsd;
  // OpenBSD carpnodes (carp-wire.md §5.1): a [[vhid]] with `nodes` is expanded into one
  // VhidConfig per node (its own vhid and advskew, everything else shared). `nodes` lists the
  // vhids of all the entry's nodes in file order; empty for a plain VHID (and for a single
  // node, which OpenBSD runs without balancing). Balanced addresses are IPv4 only and live on
  // the parent itself (vmac is false).
  proto::Balancing balancing = proto::Balancing::kNone;
  std::vector<proto::Vhid> nodes;
  // false: the addresses only enter the HMAC and the announcements; hooks add and remove them
  // (carpd --ucarp, whose scripts do it as ucarp's do).
  bool manage_addresses = true;
  int line = 0;  // of the [[vhid]] table header, for messages at reload time
};

// Every field that changes what the VHID does (the key through its constant-time sameAs); not
// `line`, which only places messages. Used by the engine's reload plan.
bool operator==(const VhidConfig& a, const VhidConfig& b);

// Move-only because of the keys.
struct Config {
  GlobalConfig global;
  std::vector<VhidConfig> vhids;
};

struct LoadResult {
  std::optional<Config> config;
  std::vector<Diagnostic> diagnostics;  // sorted by line, then column

  // A configuration is present and no diagnostic is an error (warnings are fine).
  bool ok() const;
};

// Reads and validates `path`. A missing or unreadable file is a diagnostic at 1:1.
LoadResult loadFile(const std::filesystem::path& path);

// Validates `text`; `file_name` is used in diagnostics, and a relative pass_file is resolved
// against its directory (against the working directory when it has none).
LoadResult parseText(std::string_view text, std::string_view file_name);

// A Linux interface name as the kernel accepts it (dev_valid_name): 1..15 bytes, no '/', ':' or
// whitespace, not "." or "..".
bool isValidInterfaceName(std::string_view name);

}  // namespace carp::config
