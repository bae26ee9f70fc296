#include "os/linux/privileges.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/securebits.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>

#include "os/linux/fd.h"
#include "os/linux/sysctl.h"

namespace carp::os::lnx {
namespace {

// Exit codes of a child: 0 passed, kSkip cannot run here, anything else is the failed check.
constexpr int kSkip = 77;

// Runs check in a forked child, so that this process keeps its capabilities for the other
// tests. The child prints why it failed on stderr and reports through its exit code.
int inChild(const std::function<int()>& check) {
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) ::_exit(check());
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool hasFlag(cap_value_t cap, cap_flag_t flag) {
  cap_t caps = cap_get_proc();
  cap_flag_value_t value = CAP_CLEAR;
  const bool ok = caps != nullptr && cap_get_flag(caps, cap, flag, &value) == 0;
  cap_free(caps);
  return ok && value == CAP_SET;
}

bool isKept(cap_value_t cap) { return cap == CAP_NET_RAW || cap == CAP_NET_ADMIN; }

int dropOrFail() {
  if (auto dropped = dropPrivileges(); !dropped) {
    std::fprintf(stderr, "dropPrivileges: %s\n", dropped.error().c_str());
    return 1;
  }
  return 0;
}

class PrivilegesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    if (!hasFlag(CAP_SETPCAP, CAP_EFFECTIVE)) GTEST_SKIP() << "needs CAP_SETPCAP";
  }
};

TEST_F(PrivilegesTest, KeepsOnlyNetRawAndNetAdmin) {
  EXPECT_EQ(inChild([] {
              if (int failed = dropOrFail()) return failed;
              for (cap_value_t cap = 0; cap < cap_max_bits(); ++cap) {
                for (cap_flag_t flag : {CAP_PERMITTED, CAP_EFFECTIVE}) {
                  if (hasFlag(cap, flag) != isKept(cap)) {
                    std::fprintf(stderr, "capability %d flag %d\n", cap, flag);
                    return 2;
                  }
                }
                if (hasFlag(cap, CAP_INHERITABLE)) return 3;
                if (cap_get_bound(cap) != (isKept(cap) ? 1 : 0)) {
                  std::fprintf(stderr, "bounding set: capability %d\n", cap);
                  return 4;
                }
                if (cap_get_ambient(cap) != 0) return 5;
              }
              if (::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) return 6;
              const unsigned bits = cap_get_secbits();
              if ((bits & SECBIT_NOROOT) == 0 || (bits & SECBIT_NOROOT_LOCKED) == 0 ||
                  (bits & SECBIT_KEEP_CAPS) != 0 || (bits & SECBIT_KEEP_CAPS_LOCKED) == 0 ||
                  (bits & SECBIT_NO_SETUID_FIXUP) != 0 ||
                  (bits & SECBIT_NO_SETUID_FIXUP_LOCKED) == 0) {
                std::fprintf(stderr, "securebits %#x\n", bits);
                return 7;
              }
              if (::geteuid() != 0 || ::getuid() != 0) return 8;
              if (describeCapabilities() != "cap_net_admin,cap_net_raw=ep") {
                std::fprintf(stderr, "describeCapabilities: %s\n", describeCapabilities().c_str());
                return 9;
              }
              return 0;
            }),
            0);
}

// What a hook started by carpd holds: the CapEff line of a shell it execs.
int childCapEffIs(const char* hex) {
  const std::string cmd =
      std::string("grep -qx 'CapEff:[[:space:]]*") + hex + "' /proc/self/status";
  const int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

TEST_F(PrivilegesTest, HooksGetNoCapabilityByDefault) {
  EXPECT_EQ(inChild([] {
              if (int failed = dropOrFail()) return failed;
              // uid 0, but SECBIT_NOROOT: an exec grants nothing.
              return childCapEffIs("0000000000000000") == 0 ? 0 : 2;
            }),
            0);
}

TEST_F(PrivilegesTest, HookCapabilitiesAreAmbientNetAdminAndNetRaw) {
  EXPECT_EQ(inChild([] {
              if (auto dropped = dropPrivileges(true); !dropped) {
                std::fprintf(stderr, "dropPrivileges(true): %s\n", dropped.error().c_str());
                return 1;
              }
              for (cap_value_t cap = 0; cap < cap_max_bits(); ++cap) {
                if (hasFlag(cap, CAP_PERMITTED) != isKept(cap)) return 2;
                if (hasFlag(cap, CAP_INHERITABLE) != isKept(cap)) return 3;
                if ((cap_get_ambient(cap) == 1) != isKept(cap)) return 4;
              }
              if ((cap_get_secbits() & SECBIT_NOROOT) == 0) return 5;
              // CAP_NET_ADMIN (12) and CAP_NET_RAW (13), and nothing else, in the exec'd child.
              return childCapEffIs("0000000000003000") == 0 ? 0 : 6;
            }),
            0);
}

TEST_F(PrivilegesTest, SecondCallWithoutSetpcapSucceeds) {
  // The path carpd takes under systemd's CapabilityBoundingSet=: no CAP_SETPCAP, bounding set
  // already cut.
  EXPECT_EQ(inChild([] {
              if (int failed = dropOrFail()) return failed;
              if (int failed = dropOrFail()) return 10 + failed;
              return describeCapabilities() == "cap_net_admin,cap_net_raw=ep" ? 0 : 2;
            }),
            0);
}

TEST_F(PrivilegesTest, GivesUpTheRestOfRootsPowers) {
  char pattern[] = "/tmp/privileges_test.XXXXXX";
  ASSERT_NE(::mkdtemp(pattern), nullptr);
  const std::string dir = pattern;
  // What CAP_DAC_OVERRIDE opened: a root-owned file with mode 0000, like /etc/shadow on some
  // systems, and another user's private file.
  const std::string closed = dir + "/mode0000";
  const std::string others = dir + "/nobody0600";
  const std::string own = dir + "/own0600";
  for (const auto* path : {&closed, &others, &own}) {
    UniqueFd fd(::open(path->c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
    ASSERT_TRUE(fd) << *path;
    ASSERT_EQ(::write(fd.get(), "x", 1), 1);
  }
  ASSERT_EQ(::chmod(closed.c_str(), 0000), 0);
  ASSERT_EQ(::chown(others.c_str(), 65534, 65534), 0);

  EXPECT_EQ(inChild([&] {
              const auto canOpen = [](const std::string& path, int flags) {
                UniqueFd fd(::open(path.c_str(), flags | O_CLOEXEC));
                return fd.valid();
              };
              if (!canOpen(closed, O_RDONLY)) return 2;  // root can, before the drop
              if (int failed = dropOrFail()) return failed;
              if (canOpen(closed, O_RDONLY) || errno != EACCES) return 3;
              if (canOpen(others, O_RDONLY) || errno != EACCES) return 4;
              // Root-owned files by their mode, as the maintenance file in state_dir.
              if (!canOpen(own, O_RDWR)) return 5;
              if (::chown(own.c_str(), 65534, 65534) == 0 || errno != EPERM) return 6;
              if (::setuid(65534) == 0 || errno != EPERM) return 7;
              if (::unshare(CLONE_NEWNET) == 0 || errno != EPERM) return 8;  // CAP_SYS_ADMIN
              return 0;
            }),
            0);
  std::filesystem::remove_all(dir);
}

// What carpd does after the drop: write /proc/sys/net (restoring arp_ignore on stop) and open
// raw CARP sockets (on reload). In a private network namespace, so the host is untouched.
TEST_F(PrivilegesTest, NetworkWorkStillSucceedsInANamespace) {
  const int result = inChild([] {
    if (::unshare(CLONE_NEWNET) != 0) return kSkip;
    if (int failed = dropOrFail()) return failed;
    const std::string path = "/proc/sys/net/ipv4/conf/lo/arp_ignore";
    for (const char* value : {"1", "0"}) {
      if (auto written = writeSysctl(path, value); !written) {
        std::fprintf(stderr, "%s\n", written.error().c_str());
        return 2;
      }
      if (readSysctl(path).value_or("") != value) return 3;
    }
    UniqueFd raw(::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, 112));  // CAP_NET_RAW
    if (!raw) return 4;
    UniqueFd packet(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));
    if (!packet) return 5;
    return 0;
  });
  if (result == kSkip) GTEST_SKIP() << "unshare(CLONE_NEWNET) is not allowed here";
  EXPECT_EQ(result, 0);
}

TEST(DescribeCapabilities, IsCapToTextForm) {
  const std::string text = describeCapabilities();
  EXPECT_NE(text.find('='), std::string::npos) << text;
}

}  // namespace
}  // namespace carp::os::lnx
