#include "config/ucarp_args.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <fstream>
#include <optional>
#include <string_view>

#include "config/address_text.h"

namespace carp::config {
namespace {

struct Flag {
  char short_name;
  std::string_view long_name;
  bool takes_value;
};

// ucarp 1.5.2's long_options (src/ucarp_p.h), in its order.
constexpr std::array kFlags = {
    Flag{'i', "interface", true},      Flag{'s', "srcip", true},      Flag{'m', "mcast", true},
    Flag{'v', "vhid", true},           Flag{'p', "pass", true},       Flag{'o', "passfile", true},
    Flag{'P', "preempt", false},       Flag{'n', "neutral", false},   Flag{'a', "addr", true},
    Flag{'h', "help", false},          Flag{'b', "advbase", true},    Flag{'k', "advskew", true},
    Flag{'u', "upscript", true},       Flag{'d', "downscript", true}, Flag{'r', "deadratio", true},
    Flag{'D', "debug", false},         Flag{'z', "shutdown", false},  Flag{'B', "daemonize", false},
    Flag{'S', "ignoreifstate", false}, Flag{'M', "nomcast", false},   Flag{'f', "facility", true},
    Flag{'x', "xparam", true},
};

// syslog(3) facility names, as ucarp looks them up in facilitynames[].
constexpr std::array kFacilities = {"auth",   "authpriv", "cron",   "daemon", "ftp",    "kern",
                                    "lpr",    "mail",     "news",   "syslog", "user",   "uucp",
                                    "local0", "local1",   "local2", "local3", "local4", "local5",
                                    "local6", "local7",   "none"};

constexpr std::string_view kCarpGroup = "224.0.0.18";
// ucarp copies the password with its NUL into the 20-byte key and refuses a longer one
// ("Password too long"); the first 19 bytes are also all that BSD ifconfig keeps.
constexpr std::size_t kMaxPassBytes = proto::SecretKey::kMaxPassphraseBytes;
// ucarp reads the passfile's first line with fgets into 512 bytes.
constexpr std::size_t kPassFileLineBytes = 511;

tl::unexpected<std::string> fail(std::string message) {
  return tl::unexpected("carpd --ucarp: " + std::move(message));
}

std::string flagName(const Flag& f) {
  return std::string("-") + f.short_name + "/--" + std::string(f.long_name);
}

std::optional<int> decimal(std::string_view text) {
  int value = 0;
  const auto* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

// The raw flags as given, the last occurrence winning (as with ucarp's getopt loop).
struct Given {
  std::vector<std::pair<char, std::string>> values;  // in order
  bool has(char c) const {
    return std::any_of(values.begin(), values.end(), [c](const auto& v) { return v.first == c; });
  }
  std::optional<std::string> last(char c) const {
    for (auto it = values.rbegin(); it != values.rend(); ++it) {
      if (it->first == c) return it->second;
    }
    return std::nullopt;
  }
};

tl::expected<Given, std::string> scan(const std::vector<std::string>& args) {
  Given given;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      if (i + 1 < args.size()) return fail("unexpected argument '" + args[i + 1] + "'");
      break;
    }
    if (arg.rfind("--", 0) == 0) {
      const std::string_view body = std::string_view(arg).substr(2);
      const auto eq = body.find('=');
      const std::string_view name = body.substr(0, eq);
      // getopt_long: an exact name, or a prefix of exactly one name.
      const Flag* found = nullptr;
      int prefix_matches = 0;
      for (const Flag& f : kFlags) {
        if (f.long_name == name) {
          found = &f;
          prefix_matches = 1;
          break;
        }
        if (!name.empty() && f.long_name.substr(0, name.size()) == name) {
          found = &f;
          ++prefix_matches;
        }
      }
      if (found == nullptr) return fail("unknown option '--" + std::string(name) + "'");
      if (prefix_matches > 1) return fail("ambiguous option '--" + std::string(name) + "'");
      if (!found->takes_value) {
        if (eq != std::string_view::npos) {
          return fail(flagName(*found) + " takes no value");
        }
        given.values.emplace_back(found->short_name, "");
      } else if (eq != std::string_view::npos) {
        given.values.emplace_back(found->short_name, std::string(body.substr(eq + 1)));
      } else if (i + 1 < args.size()) {
        given.values.emplace_back(found->short_name, args[++i]);
      } else {
        return fail(flagName(*found) + " needs a value");
      }
      continue;
    }
    if (arg.size() < 2 || arg[0] != '-') return fail("unexpected argument '" + arg + "'");
    // -Pz (bundled flags), -v1 or -v 1.
    for (std::size_t j = 1; j < arg.size(); ++j) {
      const auto f = std::find_if(kFlags.begin(), kFlags.end(),
                                  [&](const Flag& x) { return x.short_name == arg[j]; });
      if (f == kFlags.end()) return fail(std::string("unknown option '-") + arg[j] + "'");
      if (!f->takes_value) {
        given.values.emplace_back(f->short_name, "");
        continue;
      }
      if (j + 1 < arg.size()) {
        given.values.emplace_back(f->short_name, arg.substr(j + 1));
      } else if (i + 1 < args.size()) {
        given.values.emplace_back(f->short_name, args[++i]);
      } else {
        return fail(flagName(*f) + " needs a value");
      }
      break;
    }
  }
  return given;
}

std::string absoluteFrom(const std::filesystem::path& base, const std::string& path) {
  return (base / path).lexically_normal().string();
}

tl::expected<std::string, std::string> readPassFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail("-o/--passfile: cannot read " + path);
  std::string line;
  if (!std::getline(in, line) && line.empty()) {
    return fail("-o/--passfile " + path + ": unexpected end of file");
  }
  if (line.size() > kPassFileLineBytes) line.resize(kPassFileLineBytes);
  return line;
}

}  // namespace

std::string ucarpControlSocket(const std::string& interface, int vhid) {
  return "/run/carpd/ucarp-" + interface + "-" + std::to_string(vhid) + ".sock";
}

std::string ucarpStateDir(const std::string& interface, int vhid) {
  return "/var/lib/carpd/ucarp-" + interface + "-" + std::to_string(vhid);
}

tl::expected<UcarpCommandLine, std::string> parseUcarpArgs(
    const std::vector<std::string>& args, const std::filesystem::path& working_directory) {
  auto scanned = scan(args);
  if (!scanned) return tl::unexpected(scanned.error());
  const Given& given = *scanned;

  UcarpCommandLine out;
  if (given.has('h')) {
    out.help = true;
    return out;
  }

  // Flags carpd cannot honour: refused, never silently dropped.
  if (given.has('M')) {
    return fail(
        "-M/--nomcast (broadcast advertisements) is not supported: carpd advertises to "
        "224.0.0.18, or unicast to a `peer` set in carpd.toml");
  }
  if (given.has('S')) {
    return fail(
        "-S/--ignoreifstate is not supported: carpd moves a VHID to INIT (and demotes the "
        "host) when its link goes down, as the BSD kernels do");
  }
  if (auto m = given.last('m'); m && *m != kCarpGroup) {
    return fail("-m/--mcast " + *m + " is not supported: carpd uses the CARP group " +
                std::string(kCarpGroup));
  }
  if (auto r = given.last('r')) {
    const auto ratio = decimal(*r);
    if (!ratio || *ratio != 3) {
      return fail("-r/--deadratio " + *r +
                  " is not supported: the master-down interval is 3 advertisement intervals, "
                  "as in the BSD kernels (ucarp's default)");
    }
  }

  const auto interface = given.last('i');
  if (!interface) return fail("-i/--interface is required");
  if (!isValidInterfaceName(*interface)) {
    return fail("-i/--interface: '" + *interface + "' is not a valid interface name");
  }

  const auto vhid_text = given.last('v');
  if (!vhid_text) return fail("-v/--vhid is required");
  const auto vhid_value = decimal(*vhid_text);
  const auto vhid = vhid_value ? proto::Vhid::make(*vhid_value) : std::nullopt;
  if (!vhid) return fail("-v/--vhid must be between 1 and 255, not '" + *vhid_text + "'");

  int advbase_value = 1;
  if (auto b = given.last('b')) {
    const auto v = decimal(*b);
    if (!v || *v < 0 || *v > 255) {
      return fail("-b/--advbase must be between 0 and 255 seconds, not '" + *b + "'");
    }
    advbase_value = *v;
  }
  int advskew_value = 0;
  if (auto k = given.last('k')) {
    const auto v = decimal(*k);
    if (!v || *v < 0 || *v > 254) {
      return fail("-k/--advskew must be between 0 and 254, not '" + *k +
                  "' (255 is the bow-out value of the BSD kernels)");
    }
    advskew_value = *v;
  }
  if (advbase_value == 0 && advskew_value == 0) {
    return fail("-b/--advbase 0 needs a non-zero -k/--advskew (the interval is advskew/256 s)");
  }

  const auto srcip_text = given.last('s');
  if (!srcip_text) return fail("-s/--srcip (this host's own IPv4 address) is required");
  const auto srcip = parseIpAddress(*srcip_text);
  if (!srcip || srcip->family != proto::Family::kIPv4) {
    return fail("-s/--srcip: '" + *srcip_text + "' is not an IPv4 address");
  }

  const auto addr_text = given.last('a');
  if (!addr_text) return fail("-a/--addr (the virtual address) is required");
  const auto vaddr = parseIpAddress(*addr_text);
  if (!vaddr || vaddr->family != proto::Family::kIPv4) {
    return fail("-a/--addr: '" + *addr_text +
                "' is not an IPv4 address (ucarp has no IPv6; use carpd.toml for IPv6)");
  }

  // -p and -o: the last one wins, as in ucarp's getopt loop.
  std::string pass;
  for (const auto& [flag, value] : given.values) {
    if (flag == 'p') {
      pass = value;
    } else if (flag == 'o') {
      auto read = readPassFile(absoluteFrom(working_directory, value));
      if (!read) return tl::unexpected(read.error());
      pass = std::move(*read);
    }
  }
  if (pass.empty()) return fail("a password is required (-p/--pass or -o/--passfile)");
  if (pass.size() > kMaxPassBytes) {
    std::fill(pass.begin(), pass.end(), '\0');
    return fail("the password is longer than 19 bytes (ucarp refuses it too)");
  }

  if (auto f = given.last('f')) {
    if (std::find(kFacilities.begin(), kFacilities.end(), *f) == kFacilities.end()) {
      return fail("-f/--facility: unknown syslog facility '" + *f + "'");
    }
    out.facility = *f;
  } else {
    out.facility = "daemon";
  }
  out.daemonize = given.has('B');

  UcarpScripts scripts;
  if (auto u = given.last('u'); u && !u->empty())
    scripts.upscript = absoluteFrom(working_directory, *u);
  if (auto d = given.last('d'); d && !d->empty()) {
    scripts.downscript = absoluteFrom(working_directory, *d);
  }
  if (scripts.upscript.empty()) out.warnings.push_back("no script called when going up (-u)");
  if (scripts.downscript.empty()) out.warnings.push_back("no script called when going down (-d)");
  scripts.address = *addr_text;
  scripts.xparam = given.last('x');
  scripts.neutral = given.has('n');
  scripts.shutdown = given.has('z');

  Config& config = out.config;
  config.global.preempt = given.has('P');
  config.global.log_level = given.has('D') ? "debug" : "info";
  config.global.control_socket = ucarpControlSocket(*interface, *vhid_value);
  config.global.state_dir = ucarpStateDir(*interface, *vhid_value);
  config.global.hook_capabilities = true;
  config.global.ucarp = std::move(scripts);

  VhidConfig v;
  v.interface = *interface;
  v.vhid = *vhid;
  v.advbase = *proto::AdvBase::make(advbase_value);
  v.advskew = *proto::AdvSkew::make(advskew_value);
  v.key = proto::SecretKey::fromPassphrase(pass);
  std::fill(pass.begin(), pass.end(), '\0');
  // ucarp hashes its one IPv4 address; the prefix length enters no hash and no netlink call.
  v.addresses.push_back(proto::InterfaceAddress{*vaddr, 32});
  v.groups = {std::string(kDefaultGroup)};
  v.vmac = false;
  v.manage_addresses = false;
  config.vhids.push_back(std::move(v));
  return out;
}

std::string ucarpUsage() {
  return "carpd --ucarp: ucarp's command line (see carpd(8), section UCARP COMPATIBILITY)\n"
         "\n"
         "carpd --ucarp -i IF -s SRCIP -v VHID (-p PASS | -o PASSFILE) -a ADDR\n"
         "              [-u UPSCRIPT] [-d DOWNSCRIPT] [-x XPARAM] [-b ADVBASE] [-k ADVSKEW]\n"
         "              [-P] [-n] [-z] [-B] [-D] [-f FACILITY] [-r 3] [-m 224.0.0.18]\n"
         "\n"
         "--interface=<if> (-i <if>): bind interface <if>\n"
         "--srcip=<ip> (-s <ip>): source (real) IP address of that host\n"
         "--mcast=<ip> (-m <ip>): multicast group IP address (only 224.0.0.18)\n"
         "--vhid=<id> (-v <id>): virtual IP identifier (1-255)\n"
         "--pass=<pass> (-p <pass>): password\n"
         "--passfile=<file> (-o <file>): read password from file\n"
         "--preempt (-P): becomes a master as soon as possible\n"
         "--neutral (-n): don't run downscript at start if backup\n"
         "--addr=<ip> (-a <ip>): virtual shared IP address\n"
         "--help (-h): summary of command-line options\n"
         "--advbase=<seconds> (-b <seconds>): advertisement frequency\n"
         "--advskew=<skew> (-k <skew>): advertisement skew (0-254)\n"
         "--upscript=<file> (-u <file>): run <file> to become a master\n"
         "--downscript=<file> (-d <file>): run <file> to become a backup\n"
         "--deadratio=<ratio> (-r <ratio>): only 3\n"
         "--debug (-D): enable debug output\n"
         "--shutdown (-z): call shutdown script at exit\n"
         "--daemonize (-B): run in background\n"
         "--facility=<facility> (-f): set syslog facility (default=daemon), or none\n"
         "--xparam=<value> (-x): extra parameter to send to up/down scripts\n"
         "\n"
         "Not supported (refused): --ignoreifstate (-S), --nomcast (-M).\n";
}

}  // namespace carp::config
