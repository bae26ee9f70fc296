#include "os/linux/realtime.h"

#include <sched.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstring>

namespace carp::os::lnx {

tl::expected<void, std::string> enableRealtime() {
  // Locked first: a page fault in the middle of a takeover is exactly the delay to avoid.
  if (::mlockall(MCL_CURRENT | MCL_FUTURE) != 0) {
    return tl::unexpected(std::string("mlockall: ") + std::strerror(errno));
  }
  sched_param param{};
  param.sched_priority = kRealtimePriority;
  if (::sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &param) != 0) {
    const std::string why = std::strerror(errno);
    ::munlockall();
    return tl::unexpected("sched_setscheduler(SCHED_FIFO): " + why);
  }
  return {};
}

}  // namespace carp::os::lnx
