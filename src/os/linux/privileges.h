#pragma once
// Least privilege (design/architecture.md principle 5): once every socket is open, carpd keeps
// only the two capabilities it still needs while running, and stays uid 0.
//
//   CAP_NET_RAW    raw IPPROTO 112 receivers and AF_PACKET senders opened on reload
//   CAP_NET_ADMIN  rtnetlink address and macvlan changes, sysctls under /proc/sys/net
//
// Staying uid 0 is deliberate: the files carpd still writes while running (the sysctls it
// restores on stop, the maintenance file in state_dir, the control socket it unlinks) are
// owned by root, so plain owner permissions allow them without CAP_DAC_OVERRIDE, while files
// that root itself cannot access by their mode (0000, other owners' 0600) stay closed.

#include <string>
#include <tl/expected.hpp>

namespace carp::os::lnx {

// Sets PR_SET_NO_NEW_PRIVS; removes every capability but CAP_NET_RAW and CAP_NET_ADMIN from
// the bounding set; locks the securebits so that root regains nothing through execve or a
// later setuid (SECBIT_NOROOT, KEEP_CAPS off, setuid fix-up on, no ambient raise, all
// locked); clears the inheritable and ambient sets; and leaves CAP_NET_RAW and CAP_NET_ADMIN
// (those of them the process has) as the only permitted and effective capabilities.
//
// The bounding set and securebits need CAP_SETPCAP. Without it (under systemd with
// CapabilityBoundingSet=, or when called a second time) they are left as they are: the
// bounding set has then already been cut by whoever removed CAP_SETPCAP, and NO_NEW_PRIVS
// alone stops execve from granting anything.
//
// Capabilities belong to a thread: call this before starting any other thread. The uid and
// gids are not changed. Returns a one-line reason when a step fails; the process may then be
// left partly dropped and should exit.
//
// hook_capabilities (carpd.toml hook_capabilities, on by default with --ucarp): CAP_NET_RAW and
// CAP_NET_ADMIN also go into the inheritable and ambient sets, so that the hooks carpd starts
// (and only they: carpd execs nothing else) get them too, and the ambient lock is left off.
// Without it a hook gets no capability at all, even as uid 0 (SECBIT_NOROOT).
tl::expected<void, std::string> dropPrivileges(bool hook_capabilities = false);

// The calling thread's capabilities in cap_to_text(3) form, for logs: for example
// "cap_net_admin,cap_net_raw=ep" after dropPrivileges(), "=" when there are none.
std::string describeCapabilities();

}  // namespace carp::os::lnx
