#include "os/linux/privileges.h"

#include <linux/securebits.h>
#include <sys/capability.h>
#include <sys/prctl.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <memory>
#include <system_error>
#include <type_traits>
#include <vector>

namespace carp::os::lnx {
namespace {

constexpr std::array<cap_value_t, 2> kKeptCapabilities = {CAP_NET_ADMIN, CAP_NET_RAW};

// Root regains nothing by execve (NOROOT), a setuid away from 0 still clears the capabilities
// (fix-up on, KEEP_CAPS off), no ambient capability can be raised; each bit is locked so that
// a compromised carpd cannot turn it back. What systemd's SecureBits=noroot noroot-locked
// keep-caps-locked no-setuid-fixup-locked would set, plus the ambient pair.
constexpr unsigned kSecureBitsForHooks =
    SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_SETUID_FIXUP_LOCKED;
constexpr unsigned kSecureBits =
    kSecureBitsForHooks | SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;

struct CapFree {
  void operator()(void* p) const noexcept { cap_free(p); }
};
using CapSet = std::unique_ptr<std::remove_pointer_t<cap_t>, CapFree>;

tl::unexpected<std::string> failure(const std::string& what, int error = errno) {
  return tl::unexpected(what + ": " + std::system_category().message(error));
}

bool isKept(cap_value_t cap) {
  return std::find(kKeptCapabilities.begin(), kKeptCapabilities.end(), cap) !=
         kKeptCapabilities.end();
}

bool hasFlag(cap_t caps, cap_value_t cap, cap_flag_t flag) {
  cap_flag_value_t value = CAP_CLEAR;
  return cap_get_flag(caps, cap, flag, &value) == 0 && value == CAP_SET;
}

std::string capabilityName(cap_value_t cap) {
  std::unique_ptr<char, CapFree> name(cap_to_name(cap));
  return name ? std::string(name.get()) : "capability " + std::to_string(cap);
}

// Needs CAP_SETPCAP in the effective set.
tl::expected<void, std::string> restrictBoundingSetAndSecureBits(unsigned secure_bits) {
  // cap_max_bits(): what the running kernel knows, which may be more than libcap's headers.
  const cap_value_t count = cap_max_bits();
  for (cap_value_t cap = 0; cap < count; ++cap) {
    if (isKept(cap)) continue;
    const int bound = cap_get_bound(cap);
    if (bound < 0) return failure("cannot read the bounding set for " + capabilityName(cap));
    if (bound == 1 && cap_drop_bound(cap) != 0) {
      return failure("cannot drop " + capabilityName(cap) + " from the bounding set");
    }
  }
  if (cap_get_secbits() != secure_bits && cap_set_secbits(secure_bits) != 0) {
    return failure("cannot lock the securebits");
  }
  return {};
}

}  // namespace

tl::expected<void, std::string> dropPrivileges(bool hook_capabilities) {
  // First, so that from here on no execve can grant anything, whatever fails below.
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return failure("prctl(PR_SET_NO_NEW_PRIVS)");

  CapSet current(cap_get_proc());
  if (!current) return failure("cap_get_proc");
  if (hasFlag(current.get(), CAP_SETPCAP, CAP_PERMITTED)) {
    if (!hasFlag(current.get(), CAP_SETPCAP, CAP_EFFECTIVE)) {
      CapSet raised(cap_dup(current.get()));
      const cap_value_t setpcap = CAP_SETPCAP;
      if (!raised || cap_set_flag(raised.get(), CAP_EFFECTIVE, 1, &setpcap, CAP_SET) != 0 ||
          cap_set_proc(raised.get()) != 0) {
        return failure("cannot raise CAP_SETPCAP");
      }
    }
    if (auto restricted =
            restrictBoundingSetAndSecureBits(hook_capabilities ? kSecureBitsForHooks : kSecureBits);
        !restricted) {
      return restricted;
    }
  }

  // Emptying the inheritable set below empties the ambient set too (the kernel keeps ambient
  // within permitted and inheritable); clearing it here does not rely on that rule.
  if (cap_reset_ambient() != 0) return failure("cannot clear the ambient capabilities");

  std::vector<cap_value_t> keep;
  for (const cap_value_t cap : kKeptCapabilities) {
    // Raising a capability that is not permitted fails; one that is missing was missing
    // before, and carpd finds out when it needs it.
    if (hasFlag(current.get(), cap, CAP_PERMITTED)) keep.push_back(cap);
  }
  CapSet wanted(cap_init());  // every set empty
  if (!wanted) return failure("cap_init");
  if (!keep.empty()) {
    const int n = static_cast<int>(keep.size());
    if (cap_set_flag(wanted.get(), CAP_PERMITTED, n, keep.data(), CAP_SET) != 0 ||
        cap_set_flag(wanted.get(), CAP_EFFECTIVE, n, keep.data(), CAP_SET) != 0 ||
        (hook_capabilities &&
         cap_set_flag(wanted.get(), CAP_INHERITABLE, n, keep.data(), CAP_SET) != 0)) {
      return failure("cap_set_flag");
    }
  }
  if (cap_set_proc(wanted.get()) != 0) return failure("cannot set the capabilities");
  if (hook_capabilities) {
    // The kernel keeps an ambient capability only while it is permitted and inheritable, so
    // this comes after cap_set_proc.
    for (const cap_value_t cap : keep) {
      if (cap_set_ambient(cap, CAP_SET) != 0) {
        return failure("cannot raise " + capabilityName(cap) + " as an ambient capability");
      }
    }
  }
  return {};
}

std::string describeCapabilities() {
  CapSet caps(cap_get_proc());
  if (!caps) return "unknown (cap_get_proc: " + std::system_category().message(errno) + ")";
  std::unique_ptr<char, CapFree> text(cap_to_text(caps.get(), nullptr));
  if (!text) return "unknown (cap_to_text: " + std::system_category().message(errno) + ")";
  return text.get();
}

}  // namespace carp::os::lnx
