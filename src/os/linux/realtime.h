#pragma once
// Real-time scheduling for carpd: SCHED_FIFO and locked memory, so that advertisements go out
// on time on a loaded host (a late MASTER is a false failover). Needs CAP_SYS_NICE and
// CAP_IPC_LOCK, so it must run before dropPrivileges().

#include <string>
#include <tl/expected.hpp>

namespace carp::os::lnx {

// A modest priority: above ordinary work, below the kernel's own real-time threads (50).
inline constexpr int kRealtimePriority = 10;

tl::expected<void, std::string> enableRealtime();

}  // namespace carp::os::lnx
