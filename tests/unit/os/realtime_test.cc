#include "os/linux/realtime.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <string>

namespace carp::os::lnx {
namespace {

// Runs `body` in a child so the test process keeps its own scheduling; returns its exit code.
template <class Body>
int inChild(Body body) {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(body());
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

#ifdef __SANITIZE_ADDRESS__
constexpr bool kMlockallLocks = false;  // AddressSanitizer turns mlockall into a no-op
#else
constexpr bool kMlockallLocks = true;
#endif

std::string lockedMemory() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmLck:", 0) == 0) return line;
  }
  return {};
}

TEST(Realtime, SwitchesToFifoAndLocksMemory) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (CAP_SYS_NICE, CAP_IPC_LOCK)";
  EXPECT_EQ(inChild([] {
              if (!enableRealtime()) return 1;
              if ((sched_getscheduler(0) & ~SCHED_RESET_ON_FORK) != SCHED_FIFO) return 2;
              sched_param p{};
              sched_getparam(0, &p);
              if (p.sched_priority != kRealtimePriority) return 3;
              if (kMlockallLocks && lockedMemory() == "VmLck:\t       0 kB") return 4;
              // A hook forked from here must not inherit SCHED_FIFO.
              const int child =
                  inChild([] { return sched_getscheduler(0) == SCHED_OTHER ? 0 : 5; });
              return child;
            }),
            0);
}

}  // namespace
}  // namespace carp::os::lnx
