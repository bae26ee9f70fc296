#pragma once
// Event hooks: on every state change carpd runs the configured commands, then every
// executable in hooks_dir, without ever blocking the event loop.
//
// What keepalived and ucarp hook users run into (design/peers.md 5.6) decides the shape:
// notify scripts that run concurrently and out of order (keepalived#996, #1055, #584), and a
// script that blocks the daemon's own advertisements (keepalived#1934, ucarp's blocking
// up-script). So here the hooks of one (interface, vhid) run strictly one after another, event
// after event, while different VHIDs run side by side; and a hook is a child process watched
// through a pidfd and an output pipe in the event loop, with a timeout, so the loop never
// waits for it.
//
// A hook is started as `<path> <vhid>@<interface> <STATE>` (FreeBSD devd's
// `subsystem=<vhid>@<if> type=<STATE>`), with an environment of its own (not the daemon's):
//   PATH=/usr/sbin:/usr/bin:/sbin:/bin  LANG=C.UTF-8
//   CARP_INTERFACE CARP_VHID CARP_STATE CARP_OLD_STATE CARP_REASON
// stdin is /dev/null, stdout and stderr go to a pipe whose lines carpd logs (at most
// kMaxOutputBytes per hook), the working directory is /, no other descriptor is inherited,
// signals are reset to their defaults and unblocked, the scheduling policy is SCHED_OTHER
// (a realtime carpd does not hand SCHED_FIFO to a shell script) and the hook leads a process
// group of its own, which the timeout signals as a whole.
//
// With ucarp's scripts (carpd --ucarp, setUcarpScripts) the hooks are instead ucarp's upscript
// and downscript, started as ucarp starts them, `<script> <interface> <address> [xparam]`
// (jedisct1/UCarp spawn.c), with the same environment:
//   upscript    on becoming MASTER
//   downscript  on leaving MASTER (at carpd's own stop only with `shutdown`, ucarp's -z), and
//               on the first BACKUP after start unless `neutral` (ucarp's -n)

#include <spdlog/logger.h>
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "os/linux/event_loop.h"
#include "os/linux/fd.h"

namespace carp::os::lnx {

// One state change of one VHID, as hooks see it (the shell converts the engine's
// TransitionEvent; os/linux does not depend on the daemon layer).
struct HookEvent {
  std::string interface;
  int vhid = 0;
  std::string state;      // the new state: INIT, BACKUP or MASTER
  std::string old_state;  // INIT, BACKUP or MASTER
  std::string reason;     // proto::toString(reason)
  bool stopping = false;  // the transition of carpd's graceful stop
};

// ucarp's up and down scripts (config::UcarpScripts, which os/linux does not see).
struct UcarpHooks {
  std::string upscript;    // absolute; empty: none
  std::string downscript;  // absolute; empty: none
  std::string address;
  std::optional<std::string> xparam;
  bool neutral = false;
  bool shutdown = false;
};

class HookRunner {
 public:
  // Events of one VHID waiting for their turn; when full the oldest waiting one is dropped
  // (with a warning): the latest state matters most, and memory must stay bounded when hooks
  // are slower than the transitions.
  static constexpr std::size_t kMaxPending = 64;
  // Output of one hook that is logged; the rest is read (so the hook never blocks on a full
  // pipe) and counted as truncated.
  static constexpr std::size_t kMaxOutputBytes = 4096;
  // Between SIGTERM at the timeout and SIGKILL.
  static constexpr std::chrono::milliseconds kKillGrace{2000};

  // commands: absolute paths, run in order on every event; hooks_dir: a directory whose
  // executables run after them in name order (empty: none); timeout: per hook run.
  // The runner registers its descriptors with loop while hooks run; it must be destroyed
  // before the loop. Nothing runs until onTransition().
  HookRunner(EventLoop& loop, std::vector<std::string> commands, std::string hooks_dir,
             std::chrono::milliseconds timeout, std::shared_ptr<spdlog::logger> log);
  // Kills whatever still runs (SIGKILL to each hook's process group) and reaps it: no zombie
  // and no hook outlives the runner. Call shutdown() first to give them time.
  ~HookRunner();
  HookRunner(const HookRunner&) = delete;
  HookRunner& operator=(const HookRunner&) = delete;

  // Queues the hooks of one transition behind those of earlier transitions of the same VHID
  // and starts them when the VHID has nothing running. Never blocks (a spawn is a vfork and
  // an exec) and never throws; failures are logged. Ignored after shutdown().
  void onTransition(HookEvent event) noexcept;

  // New hooks for reload: they apply to events whose hooks have not started yet; what runs
  // now finishes with the list and timeout it started with.
  void configure(std::vector<std::string> commands, std::string hooks_dir,
                 std::chrono::milliseconds timeout);

  // Runs ucarp's scripts instead of the commands and hooks_dir (which are then ignored);
  // nullopt goes back to them. Applies to events whose hooks have not started yet.
  void setUcarpScripts(std::optional<UcarpHooks> scripts);

  // The per-hook timeout that events starting now get.
  std::chrono::milliseconds timeout() const noexcept { return timeout_; }
  // Hook processes running now (at most one per VHID).
  std::size_t running() const noexcept;
  // Events waiting behind a running hook, over all VHIDs (the running one not counted).
  std::size_t pending() const noexcept;

  // For carpd's stop, after the engine's last transitions were queued: keeps running the
  // queues (each hook within its own timeout) without the event loop, blocking the caller
  // for at most `grace`; then kills what still runs, reaps it and drops what still waits.
  // Later events are ignored.
  void shutdown(std::chrono::milliseconds grace) noexcept;

 private:
  enum class Phase : std::uint8_t { kRunning, kTerminated, kKilled };

  // One started hook process.
  struct Run {
    std::uint64_t serial = 0;
    std::string path;
    std::string label;  // "<path> <vhid>@<if> <STATE>" for the log
    pid_t pid = -1;
    UniqueFd pidfd;
    UniqueFd output;  // read end of the stdout/stderr pipe; invalid after EOF
    UniqueFd timer;   // timerfd: the timeout, then the SIGKILL grace
    Phase phase = Phase::kRunning;
    std::chrono::steady_clock::time_point started;
    std::chrono::milliseconds timeout{};
    std::string line;            // an incomplete output line
    std::size_t kept_bytes = 0;  // output bytes logged or waiting in line
    std::size_t truncated_bytes = 0;
  };

  // The hooks of one (interface, vhid).
  struct Queue {
    std::deque<HookEvent> waiting;
    HookEvent current;               // the event whose hooks run now (when busy)
    bool busy = false;               // current is set
    std::vector<std::string> hooks;  // current's hooks, fixed when it started
    std::vector<std::string> args;   // their arguments after argv[0]
    bool was_backup = false;         // for ucarp's downscript at the first BACKUP
    std::size_t next_hook = 0;
    std::chrono::milliseconds timeout{};
    std::unique_ptr<Run> run;
  };

  using Key = std::pair<std::string, int>;

  // Starts the next hook of q (or of q's next event); returns when one runs or q is empty.
  void advance(Queue& q) noexcept;
  std::vector<std::string> hooksNow() const;
  // Sets q.hooks and q.args for q.current.
  void chooseHooks(Queue& q) const;
  std::unique_ptr<Run> spawn(const std::string& path, const std::vector<std::string>& args,
                             const HookEvent& event, std::chrono::milliseconds timeout) noexcept;
  bool watch(Queue& q) noexcept;
  void onOutput(Queue& q) noexcept;
  void onTimer(Queue& q) noexcept;
  void onExit(Queue& q) noexcept;
  // Reaps q.run (which has exited), logs its end and moves on to the next hook.
  void finish(Queue& q) noexcept;
  void drainOutput(Run& run) noexcept;
  void logOutput(Run& run, bool flush) noexcept;
  void unwatch(Run& run) noexcept;
  void killAndReap(Queue& q, const char* why) noexcept;
  void armTimer(Run& run, std::chrono::milliseconds after) noexcept;

  EventLoop& loop_;
  std::vector<std::string> commands_;
  std::string hooks_dir_;
  std::chrono::milliseconds timeout_;
  std::optional<UcarpHooks> ucarp_;
  std::shared_ptr<spdlog::logger> log_;
  // Queues live as long as the runner: the loop's callbacks hold plain pointers to them.
  std::map<Key, std::unique_ptr<Queue>> queues_;
  std::uint64_t last_serial_ = 0;
  bool stopped_ = false;
};

}  // namespace carp::os::lnx
