#include "os/linux/hook_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

// glibc 2.36 (Debian 12) declares pidfd_open and pidfd_send_signal without extern "C"
// (fixed in 2.37); the wrapper is harmless where the header has it itself.
extern "C" {
#include <sys/pidfd.h>
}

namespace carp::os::lnx {
namespace {

// Sub-second granularity is only for the tests; configuration gives whole seconds.
std::string describe(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + " s";
  return std::to_string(d.count()) + " ms";
}

std::string errnoText(int error) { return std::system_category().message(error); }

std::string signalName(int signo) {
  const char* abbrev = ::sigabbrev_np(signo);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(signo);
}

bool hasSuffix(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix.data(), suffix.size()) == 0;
}

// Names in hooks_dir that are never hooks: what editors and package managers leave beside a
// file (run-parts(8) skips the same), so that editing a hook never runs its backup as well.
bool ignoredName(const std::string& name) {
  if (name.empty() || name.front() == '.' || name.back() == '~') return true;
  for (std::string_view marker : {".dpkg-", ".ucf-"}) {
    if (name.find(marker) != std::string::npos) return true;
  }
  for (std::string_view suffix : {".rpmnew", ".rpmsave", ".rpmorig", ".swp"}) {
    if (hasSuffix(name, suffix)) return true;
  }
  return false;
}

// A hook runs as root: a file that someone else may rewrite, or a hooks_dir where someone
// else may add a file (or a symlink to any root-owned program), would hand them root
// (keepalived's enable_script_security refuses such scripts for the same reason). Empty when
// it is fine.
std::string unsafeReason(const std::string& path, bool directory = false) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return errnoText(errno);
  if (directory ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)) {
    return directory ? "not a directory" : "not a regular file";
  }
  if (st.st_uid != 0 && st.st_uid != ::geteuid()) {
    return "owned by uid " + std::to_string(st.st_uid) + ", not by root";
  }
  if ((st.st_mode & S_IWOTH) != 0) return "writable by everyone";
  if ((st.st_mode & S_IWGRP) != 0 && st.st_gid != 0 && st.st_gid != ::getegid()) {
    return "writable by group " + std::to_string(st.st_gid);
  }
  return {};
}

// RAII for the spawn attribute objects.
struct SpawnSetup {
  posix_spawnattr_t attr{};
  posix_spawn_file_actions_t actions{};
  SpawnSetup() {
    ::posix_spawnattr_init(&attr);
    ::posix_spawn_file_actions_init(&actions);
  }
  ~SpawnSetup() {
    ::posix_spawn_file_actions_destroy(&actions);
    ::posix_spawnattr_destroy(&attr);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
};

}  // namespace

HookRunner::HookRunner(EventLoop& loop, std::vector<std::string> commands, std::string hooks_dir,
                       std::chrono::milliseconds timeout, std::shared_ptr<spdlog::logger> log)
    : loop_(loop),
      commands_(std::move(commands)),
      hooks_dir_(std::move(hooks_dir)),
      timeout_(timeout),
      log_(std::move(log)) {}

HookRunner::~HookRunner() {
  stopped_ = true;
  for (auto& [key, q] : queues_) {
    if (q->run) killAndReap(*q, "carpd is exiting");
    if (!q->waiting.empty()) {
      log_->warn("hooks of {}@{}: {} waiting events dropped at exit", key.second, key.first,
                 q->waiting.size());
    }
  }
}

void HookRunner::configure(std::vector<std::string> commands, std::string hooks_dir,
                           std::chrono::milliseconds timeout) {
  commands_ = std::move(commands);
  hooks_dir_ = std::move(hooks_dir);
  timeout_ = timeout;
}

void HookRunner::setUcarpScripts(std::optional<UcarpHooks> scripts) { ucarp_ = std::move(scripts); }

std::size_t HookRunner::running() const noexcept {
  return static_cast<std::size_t>(
      std::count_if(queues_.begin(), queues_.end(),
                    [](const auto& entry) { return entry.second->run != nullptr; }));
}

std::size_t HookRunner::pending() const noexcept {
  std::size_t n = 0;
  for (const auto& entry : queues_) n += entry.second->waiting.size();
  return n;
}

void HookRunner::onTransition(HookEvent event) noexcept {
  if (stopped_ || (commands_.empty() && hooks_dir_.empty() && !ucarp_)) return;
  try {
    auto& slot = queues_[Key{event.interface, event.vhid}];
    if (!slot) slot = std::make_unique<Queue>();
    Queue& q = *slot;
    if (q.waiting.size() >= kMaxPending) {
      const HookEvent& oldest = q.waiting.front();
      log_->warn("hooks of {}@{}: {} events waiting; dropping the oldest ({} -> {})", event.vhid,
                 event.interface, q.waiting.size(), oldest.old_state, oldest.state);
      q.waiting.pop_front();
    }
    q.waiting.push_back(std::move(event));
    if (!q.busy) advance(q);
  } catch (const std::exception& e) {
    log_->error("hooks of {}@{} not run: {}", event.vhid, event.interface, e.what());
  }
}

std::vector<std::string> HookRunner::hooksNow() const {
  std::vector<std::string> hooks = commands_;
  if (hooks_dir_.empty()) return hooks;
  if (std::string why = unsafeReason(hooks_dir_, true); !why.empty()) {
    log_->error("hooks_dir {}: not used: {}", hooks_dir_, why);
    return hooks;
  }
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<std::string> names;
  for (fs::directory_iterator it(hooks_dir_, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (ignoredName(name)) continue;
    std::error_code status_ec;
    const fs::file_status st = fs::status(it->path(), status_ec);  // follows symlinks
    if (status_ec || !fs::is_regular_file(st)) continue;
    constexpr auto kAnyExec =
        fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec;
    if ((st.permissions() & kAnyExec) == fs::perms::none) continue;
    names.push_back(std::move(name));
  }
  if (ec) log_->warn("hooks_dir {}: {}", hooks_dir_, ec.message());
  // Byte order, as run-parts(8) under LC_ALL=C: "10-a" before "20-b" whatever the locale.
  std::sort(names.begin(), names.end());
  for (const auto& name : names) hooks.push_back((fs::path(hooks_dir_) / name).string());
  return hooks;
}

void HookRunner::advance(Queue& q) noexcept {
  try {
    for (;;) {
      if (!q.busy) {
        if (q.waiting.empty()) return;
        q.current = std::move(q.waiting.front());
        q.waiting.pop_front();
        q.busy = true;
        chooseHooks(q);
        q.next_hook = 0;
        q.timeout = timeout_;
      }
      while (q.next_hook < q.hooks.size()) {
        const std::string& path = q.hooks[q.next_hook++];
        q.run = spawn(path, q.args, q.current, q.timeout);
        if (q.run && watch(q)) return;
      }
      q.busy = false;
    }
  } catch (const std::exception& e) {
    // Only allocation can throw here; the event is abandoned, the queue stays usable.
    log_->error("hooks of {}@{}: {}", q.current.vhid, q.current.interface, e.what());
    q.run.reset();
    q.busy = false;
  }
}

void HookRunner::chooseHooks(Queue& q) const {
  const HookEvent& e = q.current;
  q.hooks.clear();
  q.args.clear();
  if (!ucarp_) {
    q.hooks = hooksNow();
    q.args = {std::to_string(e.vhid) + "@" + e.interface, e.state};
    return;
  }
  // ucarp's carp_set_state and its exit handler (jedisct1/UCarp carp.c).
  const UcarpHooks& u = *ucarp_;
  const bool first_backup = e.state == "BACKUP" && !q.was_backup;
  if (e.state == "BACKUP") q.was_backup = true;
  const std::string* script = nullptr;
  if (e.state == "MASTER") {
    script = &u.upscript;
  } else if (e.old_state == "MASTER") {
    if (!e.stopping || u.shutdown) script = &u.downscript;
  } else if (first_backup && e.old_state == "INIT" && !u.neutral) {
    script = &u.downscript;
  }
  if (script == nullptr || script->empty()) return;
  q.hooks = {*script};
  q.args = {e.interface, u.address};
  if (u.xparam) q.args.push_back(*u.xparam);
}

std::unique_ptr<HookRunner::Run> HookRunner::spawn(const std::string& path,
                                                   const std::vector<std::string>& args,
                                                   const HookEvent& event,
                                                   std::chrono::milliseconds timeout) noexcept {
  auto run = std::make_unique<Run>();
  run->serial = ++last_serial_;
  run->path = path;
  run->label = path;
  for (const auto& a : args) run->label += " " + a;
  run->timeout = timeout;

  if (std::string why = unsafeReason(path); !why.empty()) {
    log_->error("hook {}: not run: {}", run->label, why);
    return nullptr;
  }

  // The write end must block in the child (a hook's echo must not fail with EAGAIN); only
  // our read end is non-blocking.
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    log_->error("hook {}: not run: pipe: {}", run->label, errnoText(errno));
    return nullptr;
  }
  run->output.reset(fds[0]);
  UniqueFd write_end(fds[1]);
  ::fcntl(run->output.get(), F_SETFL, O_NONBLOCK);
  if (write_end.get() <= STDERR_FILENO) {
    // Only when carpd was started with 0, 1 or 2 closed: the dup2s below would clobber it.
    write_end.reset(::fcntl(write_end.get(), F_DUPFD_CLOEXEC, STDERR_FILENO + 1));
  }

  SpawnSetup setup;
  ::posix_spawn_file_actions_addopen(&setup.actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  ::posix_spawn_file_actions_adddup2(&setup.actions, write_end.get(), STDOUT_FILENO);
  ::posix_spawn_file_actions_adddup2(&setup.actions, write_end.get(), STDERR_FILENO);
  // Sockets, the epoll set, netlink: nothing of carpd's leaks into a hook, even a descriptor
  // that some library opened without O_CLOEXEC.
  ::posix_spawn_file_actions_addclosefrom_np(&setup.actions, STDERR_FILENO + 1);
  ::posix_spawn_file_actions_addchdir_np(&setup.actions, "/");
  // The event loop blocks SIGTERM/SIGINT/SIGHUP for its signalfd, and a blocked mask is
  // inherited: without this the timeout's SIGTERM would never reach the hook.
  sigset_t none;
  sigemptyset(&none);
  ::posix_spawnattr_setsigmask(&setup.attr, &none);
  sigset_t all;
  sigfillset(&all);
  ::posix_spawnattr_setsigdefault(&setup.attr, &all);
  // A process group of its own, so that the timeout also reaches what the hook started.
  ::posix_spawnattr_setpgroup(&setup.attr, 0);
  // With realtime = true carpd runs SCHED_FIFO; a busy hook must not inherit that and starve
  // the host (or carpd itself).
  sched_param param{};
  param.sched_priority = 0;
  ::posix_spawnattr_setschedpolicy(&setup.attr, SCHED_OTHER);
  ::posix_spawnattr_setschedparam(&setup.attr, &param);
  ::posix_spawnattr_setflags(&setup.attr,
                             static_cast<short>(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                                POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSCHEDULER));

  std::vector<std::string> env = {
      "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8",
      "CARP_INTERFACE=" + event.interface,  "CARP_VHID=" + std::to_string(event.vhid),
      "CARP_STATE=" + event.state,          "CARP_OLD_STATE=" + event.old_state,
      "CARP_REASON=" + event.reason,
  };
  std::vector<char*> envp;
  envp.reserve(env.size() + 1);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> arg_strings;
  arg_strings.reserve(args.size() + 1);
  arg_strings.push_back(path);
  arg_strings.insert(arg_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  argv.reserve(arg_strings.size() + 1);
  for (auto& a : arg_strings) argv.push_back(a.data());
  argv.push_back(nullptr);

  // glibc's posix_spawn is clone(CLONE_VM | CLONE_VFORK) + execve: it returns as soon as the
  // exec happened and reports an exec failure (ENOENT, EACCES, ENOEXEC) as its result.
  pid_t pid = -1;
  if (const int error =
          ::posix_spawn(&pid, path.c_str(), &setup.actions, &setup.attr, argv.data(), envp.data());
      error != 0) {
    log_->error("hook {}: cannot start: {}", run->label, errnoText(error));
    return nullptr;
  }
  run->pid = pid;
  run->started = std::chrono::steady_clock::now();
  write_end.reset();  // the child has its copy; EOF comes when the last writer is gone

  // Nothing else in carpd reaps children, so the pid stays valid (at worst a zombie) until
  // we do: pidfd_open cannot race with a reuse of the pid.
  run->pidfd.reset(::pidfd_open(pid, 0));
  if (!run->pidfd) {
    const int error = errno;
    ::kill(-pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    log_->error("hook {}: killed: pidfd_open: {} (Linux 5.3 or newer is needed)", run->label,
                errnoText(error));
    return nullptr;
  }
  run->timer.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  if (!run->timer) {
    log_->error("hook {}: timerfd: {}", run->label, errnoText(errno));
    Queue tmp;
    tmp.run = std::move(run);
    killAndReap(tmp, "no timer for its timeout");
    return nullptr;
  }
  armTimer(*run, timeout);
  log_->debug("hook {}: started, pid {}", run->label, pid);
  return run;
}

bool HookRunner::watch(Queue& q) noexcept {
  Run& run = *q.run;
  Queue* qp = &q;
  for (auto [fd, what] : {std::pair{run.pidfd.get(), 0}, std::pair{run.output.get(), 1},
                          std::pair{run.timer.get(), 2}}) {
    EventLoop::Callback cb;
    switch (what) {
      case 0:
        cb = [this, qp] { onExit(*qp); };
        break;
      case 1:
        cb = [this, qp] { onOutput(*qp); };
        break;
      default:
        cb = [this, qp] { onTimer(*qp); };
        break;
    }
    if (auto added = loop_.addReader(fd, std::move(cb)); !added) {
      log_->error("hook {}: cannot watch it: {}", run.label, errnoText(added.error()));
      killAndReap(q, "cannot be watched");
      return false;
    }
  }
  return true;
}

void HookRunner::armTimer(Run& run, std::chrono::milliseconds after) noexcept {
  itimerspec spec{};
  spec.it_value.tv_sec = static_cast<time_t>(after.count() / 1000);
  spec.it_value.tv_nsec = static_cast<long>((after.count() % 1000) * 1000000);
  if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) spec.it_value.tv_nsec = 1;
  ::timerfd_settime(run.timer.get(), 0, &spec, nullptr);
}

void HookRunner::onOutput(Queue& q) noexcept {
  if (!q.run) return;
  drainOutput(*q.run);
  logOutput(*q.run, false);
}

void HookRunner::drainOutput(Run& run) noexcept {
  // Bounded per call so that a hook printing without pause cannot hold the loop; the
  // level-triggered loop calls again while more is there.
  constexpr int kMaxReads = 16;
  char buf[4096];
  for (int i = 0; i < kMaxReads && run.output; ++i) {
    const ssize_t n = ::read(run.output.get(), buf, sizeof buf);
    if (n > 0) {
      const auto got = static_cast<std::size_t>(n);
      const std::size_t keep = std::min(got, kMaxOutputBytes - run.kept_bytes);
      run.line.append(buf, keep);
      run.kept_bytes += keep;
      run.truncated_bytes += got - keep;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    // EOF (every writer gone) or an error: nothing more will come.
    loop_.removeReader(run.output.get());
    run.output.reset();
  }
}

void HookRunner::logOutput(Run& run, bool flush) noexcept {
  try {
    std::size_t start = 0;
    for (std::size_t nl; (nl = run.line.find('\n', start)) != std::string::npos; start = nl + 1) {
      std::string_view text(run.line.data() + start, nl - start);
      if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
      log_->info("hook {}: {}", run.label, text);
    }
    run.line.erase(0, start);
    if (flush && !run.line.empty()) {
      log_->info("hook {}: {}", run.label, run.line);
      run.line.clear();
    }
  } catch (const std::exception&) {
    run.line.clear();  // a formatting failure loses the output, never the daemon
  }
}

void HookRunner::onTimer(Queue& q) noexcept {
  if (!q.run) return;
  Run& run = *q.run;
  std::uint64_t expirations = 0;
  if (::read(run.timer.get(), &expirations, sizeof expirations) < 0) return;  // EAGAIN
  if (run.phase == Phase::kRunning) {
    log_->warn("hook {}: still running after {}: SIGTERM to its process group", run.label,
               describe(run.timeout));
    ::kill(-run.pid, SIGTERM);
    run.phase = Phase::kTerminated;
    armTimer(run, kKillGrace);
  } else if (run.phase == Phase::kTerminated) {
    log_->warn("hook {}: still running {} after SIGTERM: SIGKILL", run.label, describe(kKillGrace));
    ::kill(-run.pid, SIGKILL);
    // In case the hook left its process group (setsid): the leader is ours to end.
    ::pidfd_send_signal(run.pidfd.get(), SIGKILL, nullptr, 0);
    run.phase = Phase::kKilled;
  }
}

void HookRunner::onExit(Queue& q) noexcept {
  if (!q.run) return;
  Run& run = *q.run;
  if (run.phase != Phase::kRunning) {
    // A timed-out hook's leader is gone; its group goes with it. The leader is not reaped
    // yet, so the group id cannot have been reused.
    ::kill(-run.pid, SIGKILL);
  }
  siginfo_t info{};
  if (::waitid(P_PIDFD, static_cast<id_t>(run.pidfd.get()), &info, WEXITED | WNOHANG) != 0) {
    if (errno == EINTR || errno == EAGAIN) return;
    log_->error("hook {}: waitid: {}", run.label, errnoText(errno));
    finish(q);
    return;
  }
  if (info.si_pid == 0) return;  // not exited after all
  drainOutput(run);
  logOutput(run, true);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - run.started);
  const std::string after = "after " + std::to_string(took.count()) + " ms";
  if (info.si_code == CLD_EXITED && info.si_status == 0) {
    log_->info("hook {}: exit 0 {}", run.label, after);
  } else if (info.si_code == CLD_EXITED) {
    log_->warn("hook {}: exit {} {}", run.label, info.si_status, after);
  } else {
    log_->warn("hook {}: killed by {}{} {}", run.label, signalName(info.si_status),
               run.phase != Phase::kRunning ? " (timeout " + describe(run.timeout) + ")" : "",
               after);
  }
  finish(q);
}

void HookRunner::finish(Queue& q) noexcept {
  Run& run = *q.run;
  if (run.truncated_bytes > 0) {
    log_->warn("hook {}: {} more bytes of output not logged (the first {} were)", run.label,
               run.truncated_bytes, kMaxOutputBytes);
  }
  unwatch(run);
  q.run.reset();
  if (!stopped_) advance(q);
}

void HookRunner::unwatch(Run& run) noexcept {
  for (const UniqueFd* fd : {&run.pidfd, &run.output, &run.timer}) {
    if (*fd) loop_.removeReader(fd->get());
  }
}

void HookRunner::killAndReap(Queue& q, const char* why) noexcept {
  Run& run = *q.run;
  ::kill(-run.pid, SIGKILL);
  if (run.pidfd) {
    ::pidfd_send_signal(run.pidfd.get(), SIGKILL, nullptr, 0);
    siginfo_t info{};
    while (::waitid(P_PIDFD, static_cast<id_t>(run.pidfd.get()), &info, WEXITED) != 0 &&
           errno == EINTR) {
    }
  } else {
    ::kill(run.pid, SIGKILL);
    int status = 0;
    while (::waitpid(run.pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  drainOutput(run);
  logOutput(run, true);
  log_->warn("hook {}: killed: {}", run.label, why);
  unwatch(run);
  q.run.reset();
}

void HookRunner::shutdown(std::chrono::milliseconds grace) noexcept {
  if (stopped_) return;
  const auto deadline = std::chrono::steady_clock::now() + grace;
  // The event loop has stopped (and must not dispatch the engine's sockets any more), so the
  // remaining hooks are driven here, by poll over their own descriptors.
  struct Watched {
    Queue* q;
    std::uint64_t serial;  // of the run, so that a run started in between is told apart
    int what;              // 0 exit, 1 output, 2 timer
  };
  std::vector<pollfd> fds;
  std::vector<Watched> owners;
  for (;;) {
    fds.clear();
    owners.clear();
    for (auto& [key, q] : queues_) {
      if (!q->run) continue;
      Run& run = *q->run;
      fds.push_back({run.pidfd.get(), POLLIN, 0});
      owners.push_back({q.get(), run.serial, 0});
      if (run.output) {
        fds.push_back({run.output.get(), POLLIN, 0});
        owners.push_back({q.get(), run.serial, 1});
      }
      fds.push_back({run.timer.get(), POLLIN, 0});
      owners.push_back({q.get(), run.serial, 2});
    }
    if (fds.empty()) break;  // nothing runs, so nothing waits either (advance starts it)
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    const int ready = ::poll(fds.data(), fds.size(), static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR) break;
    for (std::size_t i = 0; ready > 0 && i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      Queue& q = *owners[i].q;
      // An earlier handler of this round may have finished the run and started the next.
      if (!q.run || q.run->serial != owners[i].serial) continue;
      switch (owners[i].what) {
        case 0:
          onExit(q);
          break;
        case 1:
          onOutput(q);
          break;
        default:
          onTimer(q);
          break;
      }
    }
  }
  stopped_ = true;
  for (auto& [key, q] : queues_) {
    if (q->run) killAndReap(*q, "carpd is stopping");
    if (!q->waiting.empty()) {
      log_->warn("hooks of {}@{}: {} waiting events dropped at stop", key.second, key.first,
                 q->waiting.size());
      q->waiting.clear();
    }
    q->busy = false;
  }
}

}  // namespace carp::os::lnx
