#pragma once
// Scaffolding of the Linux-adapter tests that run against the real kernel: a private network
// namespace per test, shell commands (iproute2), a second namespace to talk to, links that
// must come up. GoogleTest only: the helpers report through EXPECT/ASSERT.

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "os/linux/fd.h"
#include "proto/address.h"

namespace carp::testing {

// What enterPrivateNetns makes of an unshare(CLONE_NEWNET) that fails.
enum class UnshareFailure {
  kSkip,             // whatever the errno: skip the test
  kSkipOnlyIfEperm,  // EPERM (no CAP_SYS_ADMIN, as in a container) skips; any other errno fails
};

// Moves this thread into a new, empty network namespace, where the test may change links,
// addresses and sysctls freely. Skips the test when not root, or when unshare fails (see
// UnshareFailure); returns whether the test may go on:
//   if (!enterPrivateNetns(UnshareFailure::kSkip)) return;
[[nodiscard]] bool enterPrivateNetns(UnshareFailure on_failure);

// Runs `command` with /bin/sh and returns whether it exited 0; otherwise also an EXPECT
// failure naming it. Wrap it: ASSERT_TRUE(shell("ip link set p0 up")).
[[nodiscard]] bool shell(const std::string& command);

// Waits up to five seconds until the kernel reports the interface running: carrier comes up
// through the asynchronous linkwatch work, and until then the device drops what is sent on it.
[[nodiscard]] bool waitUntilRunning(const char* name);

// Sets rp_filter and accept_dad of "all" and "default" to 0 in this namespace (write errors
// are ignored). A new namespace copies its IPv4 settings from the initial one, whose
// reverse-path filter would drop packets from the documentation sources the tests use.
void disableRpFilterAndDad();

// "192.0.2.1" or "2001:db8::1" as an address; an EXPECT failure when it is neither.
proto::IpAddress parseIp(const char* text);

// 36 bytes (a CARP header's worth) counting up from `seed`.
std::vector<std::uint8_t> carpPayload(std::uint8_t seed);

// A second network namespace beside the one this thread is in ("home"). The thread stays at
// home and goes over only to run something there: a socket or a link lookup belongs to the
// namespace it is made in.
class PeerNetns {
 public:
  // Unshares into a new namespace and returns home. Fatal failures when it cannot:
  //   ASSERT_NO_FATAL_FAILURE(peer_.create());
  void create();

  // "/proc/<pid>/fd/<n>": names the peer to `ip ... netns` and `nsenter --net=`.
  std::string path() const;

  // Runs f() in the peer and returns its result, back at home. A failed switch is a fatal
  // failure (ASSERT_NO_FATAL_FAILURE stops there); f() runs either way.
  template <typename F>
  std::invoke_result_t<F&> run(F&& f) const {
    enter();
    const BackHome back_home{*this};
    return f();
  }

 private:
  struct BackHome {
    const PeerNetns& netns;
    ~BackHome() { netns.leave(); }
  };
  void enter() const;
  void leave() const;

  os::lnx::UniqueFd home_;
  os::lnx::UniqueFd peer_;
};

}  // namespace carp::testing
