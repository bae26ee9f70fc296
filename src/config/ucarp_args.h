#pragma once
// `carpd --ucarp ARGS...`: ucarp's command line into the Config that a carpd.toml gives, so
// that a ucarp user migrates by changing one word. The flags, their defaults and their checks
// are ucarp 1.5.2's (ucarp(8), jedisct1/UCarp src/ucarp.c), short and long, getopt_long style
// (`-v 1`, `-v1`, `--vhid=1`, `--vhid 1`, a unique prefix such as `--adv=1`, bundled `-Pz`).
//
// What carpd keeps of ucarp's model:
//  - the up and down scripts own the virtual address: they are run as
//    `<script> <interface> <address> [xparam]`, and carpd adds and removes nothing itself
//    (VhidConfig::manage_addresses = false), so migrated scripts keep working unchanged;
//  - the upscript runs on becoming MASTER, the downscript on leaving it and on the first
//    BACKUP (not with -n), and at exit only with -z; the scripts get CAP_NET_ADMIN and
//    CAP_NET_RAW (hook_capabilities = true) so that `ip addr add` works in them;
//  - frames come from the interface's own MAC (vmac = false), as ucarp's gratuitous ARP does.
// Flags carpd cannot honour are refused with a reason rather than ignored: -r other than 3,
// -M (broadcast), -m other than 224.0.0.18, -S, an IPv6 --addr, a 255 advskew.

#include <filesystem>
#include <string>
#include <tl/expected.hpp>
#include <vector>

#include "config/config.h"

namespace carp::config {

struct UcarpCommandLine {
  Config config;
  bool help = false;                  // -h: print the usage and exit; nothing else is checked
  bool daemonize = false;             // -B
  std::string facility;               // -f: syslog facility ("daemon" by default), or "none"
  std::vector<std::string> warnings;  // what ucarp would warn about too (no up/down script)
};

// args: everything after --ucarp. working_directory: relative script and passfile paths are
// resolved against it, as ucarp (which execs them where it was started) would. Reads the
// passfile (-o); touches nothing else. Errors are one line, naming the flag.
tl::expected<UcarpCommandLine, std::string> parseUcarpArgs(
    const std::vector<std::string>& args, const std::filesystem::path& working_directory);

// The control socket and state directory of one `carpd --ucarp` instance: one per interface
// and VHID, so that several instances (ucarp runs one per VHID) never share them.
std::string ucarpControlSocket(const std::string& interface, int vhid);
std::string ucarpStateDir(const std::string& interface, int vhid);

// The usage text for `carpd --ucarp --help`.
std::string ucarpUsage();

}  // namespace carp::config
