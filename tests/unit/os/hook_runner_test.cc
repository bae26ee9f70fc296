#include "os/linux/hook_runner.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "os/linux/event_loop.h"
#include "os/linux/fd.h"
#include "os/linux/monotonic_clock.h"

namespace carp::os::lnx {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

// The pids of this process's children (zombies included), from /proc.
std::vector<int> children() {
  std::vector<int> out;
  const int self = static_cast<int>(::getpid());
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string text;
    std::getline(stat, text);
    const auto close = text.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(text.substr(close + 2));
    char state = 0;
    int ppid = 0;
    rest >> state >> ppid;
    if (ppid == self) out.push_back(std::stoi(name));
  }
  return out;
}

// True when pid is gone or a zombie (reparented to an init that has not reaped it yet).
bool deadOrZombie(int pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(stat, text)) return true;
  const auto close = text.rfind(')');
  return close != std::string::npos && close + 2 < text.size() && text[close + 2] == 'Z';
}

std::string readFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::vector<std::string> fields(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  for (std::string f; in >> f;) out.push_back(f);
  return out;
}

HookEvent event(int vhid, std::string old_state, std::string state, std::string reason,
                std::string iface = "eth0") {
  return {std::move(iface), vhid, std::move(state), std::move(old_state), std::move(reason)};
}

class HookRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/carpd-hook-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    log_ = std::make_shared<spdlog::logger>(
        "hooks", std::make_shared<spdlog::sinks::ostream_sink_mt>(log_text_));
    log_->set_level(spdlog::level::debug);
    log_->set_pattern("%l %v");
    // As in carpd, the loop blocks these for its signalfd; hooks must not inherit the mask
    // (the timeout's SIGTERM would never arrive), nor an ignored SIGPIPE.
    ASSERT_TRUE(loop_.onSignal(SIGTERM, [] {}).has_value());
    ASSERT_TRUE(loop_.onSignal(SIGHUP, [] {}).has_value());
    ::signal(SIGPIPE, SIG_IGN);
  }

  void TearDown() override {
    EXPECT_EQ(children(), std::vector<int>{}) << "a hook was left unreaped";
    fs::remove_all(dir_);
  }

  // Writes an executable bash script into dir (default: the temp dir).
  std::string script(const std::string& name, const std::string& body, const fs::path& dir = {},
                     mode_t mode = 0755) {
    const fs::path path = (dir.empty() ? dir_ : dir) / name;
    std::ofstream(path) << "#!/bin/bash\n" << body << "\n";
    ::chmod(path.c_str(), mode);
    return path.string();
  }

  // A hook that appends "<vhid> <old> <new> $1 $2 start|end <time> <reason>" to rec, sleeping
  // `sleep` seconds in between.
  std::string recorder(const std::string& name, const std::string& rec, const char* sleep = "0",
                       const fs::path& dir = {}) {
    const std::string line = R"("$CARP_VHID $CARP_OLD_STATE $CARP_STATE $1 $2 )";
    // $EPOCHREALTIME: date +%s.%N without a fork, so that 60 hook runs stay quick.
    const std::string tail = R"( $EPOCHREALTIME $CARP_REASON")";
    return script(name,
                  "echo " + line + "start" + tail + " >> " + rec + "\nsleep " + sleep + "\necho " +
                      line + "end" + tail + " >> " + rec,
                  dir);
  }

  // Runs the loop until done() or `limit`; returns done().
  bool runUntil(const std::function<bool()>& done, milliseconds limit = 10s) {
    UniqueFd tick(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
    itimerspec spec{};
    spec.it_value.tv_nsec = 5'000'000;
    spec.it_interval.tv_nsec = 5'000'000;
    ::timerfd_settime(tick.get(), 0, &spec, nullptr);
    const auto end = Clock::now() + limit;
    EXPECT_TRUE(loop_
                    .addReader(tick.get(),
                               [&] {
                                 std::uint64_t n;
                                 (void)!::read(tick.get(), &n, sizeof n);
                                 if (done() || Clock::now() >= end) loop_.stop();
                               })
                    .has_value());
    EXPECT_TRUE(loop_.run().has_value());
    loop_.removeReader(tick.get());
    return done();
  }

  bool runUntilIdle(HookRunner& runner, milliseconds limit = 10s) {
    return runUntil([&] { return runner.running() == 0 && runner.pending() == 0; }, limit);
  }

  std::string logText() const { return log_text_.str(); }

  fs::path dir_;
  std::ostringstream log_text_;
  std::shared_ptr<spdlog::logger> log_;
  EventLoop loop_;
};

TEST_F(HookRunnerTest, EnvironmentArgumentsAndDescriptorsAreExactlyAsDocumented) {
  const std::string out = (dir_ / "out").string();
  // /proc/$$/environ is what execve handed over, before bash adds PWD, SHLVL and _.
  // The descriptor list comes first, before bash opens anything itself (it keeps the script
  // open as 255).
  const std::string hook = script("hook", R"sh(
ls /proc/$$/fd > )sh" + out + R"sh(.fds
tr '\0' '\n' < /proc/$$/environ | sort > )sh" +
                                              out + R"sh(.env
{
  echo "argc $#"
  echo "argv $0|$1|$2"
  echo "cwd $(pwd)"
  echo "stdin $(readlink /proc/$$/fd/0)"
  echo "pgrp $(cut -d' ' -f5 /proc/$$/stat) pid $$"
} > )sh" + out);
  // Signal state as the hook received it: awk changes none, bash (above) would.
  const fs::path awk_hook = dir_ / "awk-hook";
  std::ofstream(awk_hook)
      << "#!/usr/bin/awk -f\nBEGIN { while ((getline l < \"/proc/self/status\") "
         "> 0) if (l ~ /^Sig(Blk|Ign):/) print l > \""
      << out << ".sig\" }\n";
  ::chmod(awk_hook.c_str(), 0755);
  // A descriptor without O_CLOEXEC in the daemon must not reach the hook.
  const int leaked = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(leaked, 3);
  HookRunner runner(loop_, {hook, awk_hook.string()}, "", 5s, log_);
  runner.onTransition(event(7, "BACKUP", "MASTER", "master down: no advertisement", "eth1"));
  ASSERT_TRUE(runUntilIdle(runner));
  ::close(leaked);

  EXPECT_EQ(readFile(out + ".env"),
            "CARP_INTERFACE=eth1\n"
            "CARP_OLD_STATE=BACKUP\n"
            "CARP_REASON=master down: no advertisement\n"
            "CARP_STATE=MASTER\n"
            "CARP_VHID=7\n"
            "LANG=C.UTF-8\n"
            "PATH=/usr/sbin:/usr/bin:/sbin:/bin\n");
  EXPECT_EQ(readFile(out + ".fds"), "0\n1\n2\n255\n") << "only stdin, stdout, stderr";
  const auto got = lines(readFile(out));
  ASSERT_EQ(got.size(), 5u) << readFile(out);
  EXPECT_EQ(got[0], "argc 2");
  EXPECT_EQ(got[1], "argv " + hook + "|7@eth1|MASTER");
  EXPECT_EQ(got[2], "cwd /");
  EXPECT_EQ(got[3], "stdin /dev/null");
  const auto pg = fields(got[4]);
  ASSERT_EQ(pg.size(), 4u);
  EXPECT_EQ(pg[1], pg[3]) << "the hook leads its own process group";
  const auto sig = lines(readFile(out + ".sig"));
  ASSERT_EQ(sig.size(), 2u);
  EXPECT_EQ(sig[0], "SigBlk:\t0000000000000000");
  // glibc's posix_spawn leaves its own two internal signals (32 and 33, below SIGRTMIN) at
  // SIG_IGN; every standard signal must be at its default.
  ASSERT_EQ(sig[1].substr(0, 8), "SigIgn:\t");
  EXPECT_EQ(std::stoull(sig[1].substr(8), nullptr, 16) & ~0x180000000ULL, 0u) << sig[1];
  EXPECT_NE(logText().find("exit 0"), std::string::npos) << logText();
}

TEST_F(HookRunnerTest, CommandsThenDirectoryInNameOrderForEveryEventStrictlyInOrder) {
  const std::string rec = (dir_ / "rec").string();
  const fs::path hooks_dir = dir_ / "hooks.d";
  fs::create_directory(hooks_dir);
  const std::string first = recorder("first", rec, "0.05");
  recorder("20-b", rec, "0", hooks_dir);
  recorder("10-a", rec, "0", hooks_dir);
  HookRunner runner(loop_, {first}, hooks_dir.string(), 5s, log_);
  constexpr std::size_t kEvents = 20;
  for (std::size_t i = 0; i < kEvents; ++i) {
    runner.onTransition(event(1, i % 2 ? "MASTER" : "BACKUP", i % 2 ? "BACKUP" : "MASTER",
                              "seq" + std::to_string(i)));
  }
  EXPECT_EQ(runner.running(), 1u);
  EXPECT_EQ(runner.pending(), kEvents - 1);
  ASSERT_TRUE(runUntilIdle(runner, 30s)) << logText();

  const auto got = lines(readFile(rec));
  ASSERT_EQ(got.size(), kEvents * 3 * 2) << readFile(rec);
  double last_end = 0;
  for (std::size_t i = 0; i < kEvents; ++i) {
    const std::string state = i % 2 ? "BACKUP" : "MASTER";
    for (std::size_t h = 0; h < 3; ++h) {
      const auto start = fields(got[(i * 3 + h) * 2]);
      const auto end = fields(got[(i * 3 + h) * 2 + 1]);
      ASSERT_EQ(start.size(), 8u);
      EXPECT_EQ(start[0], "1");
      EXPECT_EQ(start[2], state);
      EXPECT_EQ(start[3], "1@eth0");
      EXPECT_EQ(start[4], state);
      EXPECT_EQ(start[5], "start");
      EXPECT_EQ(start[7], "seq" + std::to_string(i)) << "events out of order";
      EXPECT_EQ(end[5], "end");
      EXPECT_EQ(end[7], start[7]) << "two hooks of one VHID overlapped";
      // Never two at once: each starts after the previous one ended.
      EXPECT_GE(std::stod(start[6]), last_end);
      last_end = std::stod(end[6]);
    }
  }
  const std::string log = logText();
  const auto a = log.find(hooks_dir.string() + "/10-a 1@eth0 MASTER: exit 0");
  const auto b = log.find(hooks_dir.string() + "/20-b 1@eth0 MASTER: exit 0");
  EXPECT_TRUE(a != std::string::npos && b != std::string::npos && a < b) << log;
}

TEST_F(HookRunnerTest, TheQueueGoesOnWhenTheHookExitsEvenIfItsChildKeepsTheOutputOpen) {
  const std::string rec = (dir_ / "rec").string();
  // The background sleep inherits stdout: the pipe stays open after the hook has exited.
  const std::string hook =
      script("hook", "echo \"$CARP_STATE\" >> " + rec +
                         "\n[ \"$CARP_STATE\" = MASTER ] && sleep 3 &\nexit 0");
  HookRunner runner(loop_, {hook}, "", 10s, log_);
  runner.onTransition(event(1, "BACKUP", "MASTER", "x"));
  runner.onTransition(event(1, "MASTER", "BACKUP", "y"));
  const auto t0 = Clock::now();
  ASSERT_TRUE(runUntilIdle(runner));
  EXPECT_LT(Clock::now() - t0, 1s);
  EXPECT_EQ(readFile(rec), "MASTER\nBACKUP\n");
}

TEST_F(HookRunnerTest, DifferentVhidsRunConcurrently) {
  const std::string rec = (dir_ / "rec").string();
  HookRunner runner(loop_, {recorder("hook", rec, "0.5")}, "", 5s, log_);
  const auto t0 = Clock::now();
  for (int i = 0; i < 3; ++i) {
    runner.onTransition(event(1, "INIT", "BACKUP", "a" + std::to_string(i)));
    runner.onTransition(event(2, "INIT", "BACKUP", "b" + std::to_string(i)));
  }
  EXPECT_EQ(runner.running(), 2u);
  ASSERT_TRUE(runUntilIdle(runner));
  const auto took = Clock::now() - t0;
  // One after another would take 6 x 0.5 s; two queues side by side take about 1.5 s.
  EXPECT_LT(took, 2500ms);
  EXPECT_GE(took, 1500ms);
  EXPECT_EQ(lines(readFile(rec)).size(), 12u);
}

TEST_F(HookRunnerTest, TimeoutTerminatesTheWholeProcessGroupAndTheQueueGoesOn) {
  const std::string rec = (dir_ / "rec").string();
  const std::string child_pid = (dir_ / "child").string();
  // The background sleep is the hook's child: the SIGTERM to the group must reach it too.
  const std::string hook = script("hook",
                                  "if [ \"$CARP_STATE\" = MASTER ]; then\n"
                                  "  sleep 60 & echo $! > " +
                                      child_pid +
                                      "\n  sleep 60\nfi\n"
                                      "echo \"$CARP_STATE\" >> " +
                                      rec);
  HookRunner runner(loop_, {hook}, "", 1s, log_);
  runner.onTransition(event(1, "BACKUP", "MASTER", "x"));
  runner.onTransition(event(1, "MASTER", "BACKUP", "y"));
  const auto t0 = Clock::now();
  ASSERT_TRUE(runUntilIdle(runner));
  const auto took = Clock::now() - t0;
  EXPECT_GE(took, 1s);
  EXPECT_LT(took, 2s) << "SIGTERM should have been enough";
  EXPECT_EQ(readFile(rec), "BACKUP\n") << "the next event's hook must still run";
  const std::string log = logText();
  EXPECT_NE(log.find("still running after 1 s: SIGTERM to its process group"), std::string::npos)
      << log;
  EXPECT_NE(log.find("killed by SIGTERM (timeout 1 s)"), std::string::npos) << log;
  const int child = std::stoi(readFile(child_pid));
  EXPECT_TRUE(runUntil([&] { return deadOrZombie(child); }, 2s)) << "the hook's child survived";
}

TEST_F(HookRunnerTest, HookIgnoringSigtermIsKilledTwoSecondsLater) {
  const std::string hook = script("hook", "trap '' TERM\nwhile :; do sleep 0.05; done");
  HookRunner runner(loop_, {hook}, "", milliseconds(300), log_);
  runner.onTransition(event(1, "BACKUP", "MASTER", "x"));
  const auto t0 = Clock::now();
  ASSERT_TRUE(runUntilIdle(runner));
  const auto took = Clock::now() - t0;
  EXPECT_GE(took, milliseconds(300) + HookRunner::kKillGrace);
  EXPECT_LT(took, milliseconds(300) + HookRunner::kKillGrace + 1s);
  const std::string log = logText();
  EXPECT_NE(log.find("SIGKILL"), std::string::npos) << log;
  EXPECT_NE(log.find("killed by SIGKILL (timeout 300 ms)"), std::string::npos) << log;
}

TEST_F(HookRunnerTest, LoopKeepsDispatchingWhileAHookRuns) {
  HookRunner runner(loop_, {script("hook", "sleep 1")}, "", 5s, log_);
  MonotonicClock clock;
  runner.onTransition(event(1, "BACKUP", "MASTER", "x"));
  const auto armed = clock.now();
  proto::TimePoint fired{};
  std::size_t running_then = 0;
  loop_.onDeadline([&] {
    fired = clock.now();
    running_then = runner.running();
  });
  loop_.setDeadline(armed + std::chrono::milliseconds(100));
  ASSERT_TRUE(runUntilIdle(runner));
  ASSERT_NE(fired, proto::TimePoint{});
  EXPECT_EQ(running_then, 1u) << "the deadline should fire while the hook sleeps";
  EXPECT_LT(fired - armed, std::chrono::milliseconds(200)) << "the deadline was delayed";
}

TEST_F(HookRunnerTest, OutputLinesAreLoggedWithTheHookNameAndCutAfterTheLimit) {
  const std::string talk = script("talk", "echo hello\necho oops >&2\nprintf 'no newline'");
  // 10000 bytes in 100-byte lines, then more than a pipe's worth: must be read, not block.
  const std::string flood = script("flood",
                                   "for i in $(seq 100); do printf '%099d\\n' $i; done\n"
                                   "head -c 200000 /dev/zero | tr '\\0' x\necho; echo done");
  HookRunner runner(loop_, {talk, flood}, "", 5s, log_);
  runner.onTransition(event(3, "INIT", "BACKUP", "started"));
  ASSERT_TRUE(runUntilIdle(runner));
  const std::string log = logText();
  EXPECT_NE(log.find("info hook " + talk + " 3@eth0 BACKUP: hello\n"), std::string::npos) << log;
  EXPECT_NE(log.find("info hook " + talk + " 3@eth0 BACKUP: oops\n"), std::string::npos) << log;
  EXPECT_NE(log.find("info hook " + talk + " 3@eth0 BACKUP: no newline\n"), std::string::npos)
      << log;
  // 40 full lines fit in 4096 bytes; the 41st is cut at the limit.
  EXPECT_NE(log.find(std::string(97, '0') + "40\n"), std::string::npos);
  EXPECT_EQ(log.find(std::string(97, '0') + "41\n"), std::string::npos);
  const std::size_t total = 100 * 100 + 200000 + 1 + 5;
  EXPECT_NE(log.find(std::to_string(total - HookRunner::kMaxOutputBytes) +
                     " more bytes of output not logged"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("flood 3@eth0 BACKUP: exit 0"), std::string::npos) << log;
}

TEST_F(HookRunnerTest, DirectorySkipsNonExecutablesDotfilesAndPackageLeftovers) {
  const std::string rec = (dir_ / "rec").string();
  const fs::path hooks_dir = dir_ / "hooks.d";
  fs::create_directory(hooks_dir);
  const std::string body = "echo \"$(basename \"$0\")\" >> " + rec;
  script("50-run", body, hooks_dir);
  script("40-not-executable", body, hooks_dir, 0644);
  for (const char* name : {".hidden", "60-backup~", "70-x.dpkg-old", "80-y.dpkg-dist",
                           "90-z.rpmnew", "95-w.ucf-dist"}) {
    script(name, body, hooks_dir);
  }
  fs::create_directory(hooks_dir / "30-directory");
  fs::create_symlink(hooks_dir / "50-run", hooks_dir / "55-link");
  HookRunner runner(loop_, {}, hooks_dir.string(), 5s, log_);
  runner.onTransition(event(1, "INIT", "BACKUP", "started"));
  ASSERT_TRUE(runUntilIdle(runner));
  EXPECT_EQ(readFile(rec), "50-run\n55-link\n");
}

TEST_F(HookRunnerTest, AHooksDirOthersCanWriteToIsNotUsed) {
  const std::string rec = (dir_ / "rec").string();
  const fs::path hooks_dir = dir_ / "hooks.d";
  fs::create_directory(hooks_dir);
  script("10-run", "echo ran >> " + rec, hooks_dir);
  ::chmod(hooks_dir.c_str(), 0777);
  HookRunner runner(loop_, {}, hooks_dir.string(), 5s, log_);
  runner.onTransition(event(1, "INIT", "BACKUP", "started"));
  ASSERT_TRUE(runUntilIdle(runner));
  EXPECT_FALSE(fs::exists(rec));
  EXPECT_NE(logText().find("hooks_dir " + hooks_dir.string() + ": not used: writable by everyone"),
            std::string::npos)
      << logText();
  ::chmod(hooks_dir.c_str(), 0755);
  runner.onTransition(event(1, "BACKUP", "MASTER", "x"));
  ASSERT_TRUE(runUntilIdle(runner));
  EXPECT_EQ(readFile(rec), "ran\n");
}

TEST_F(HookRunnerTest, AHookThatCannotStartIsLoggedAndTheNextOneRuns) {
  const std::string rec = (dir_ / "rec").string();
  const std::string missing = (dir_ / "missing").string();
  const std::string no_shebang = (dir_ / "no-shebang").string();
  std::ofstream(no_shebang) << "echo hi\n";
  ::chmod(no_shebang.c_str(), 0755);
  const std::string writable = script("writable", "echo writable >> " + rec);
  ::chmod(writable.c_str(), 0777);
  const std::string failing = script("failing", "exit 3");
  const std::string ok = script("ok", "echo ok >> " + rec);
  HookRunner runner(loop_, {missing, no_shebang, writable, failing, ok}, "", 5s, log_);
  runner.onTransition(event(1, "INIT", "BACKUP", "started"));
  ASSERT_TRUE(runUntilIdle(runner));
  EXPECT_EQ(readFile(rec), "ok\n");
  const std::string log = logText();
  EXPECT_NE(log.find(missing + " 1@eth0 BACKUP: not run: No such file or directory"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find(no_shebang + " 1@eth0 BACKUP: cannot start: Exec format error"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find(writable + " 1@eth0 BACKUP: not run: writable by everyone"), std::string::npos)
      << log;
  EXPECT_NE(log.find("warning hook " + failing + " 1@eth0 BACKUP: exit 3"), std::string::npos)
      << log;
}

TEST_F(HookRunnerTest, QueueKeepsTheNewestEventsWhenFull) {
  const std::string rec = (dir_ / "rec").string();
  HookRunner runner(loop_, {script("hook", "echo \"$CARP_REASON\" >> " + rec)}, "", 5s, log_);
  constexpr int kEvents = static_cast<int>(HookRunner::kMaxPending) + 7;
  // The loop does not turn in between: the first hook runs, the rest waits.
  for (int i = 0; i < kEvents; ++i) {
    runner.onTransition(event(1, "BACKUP", "MASTER", std::to_string(i)));
  }
  EXPECT_EQ(runner.running(), 1u);
  EXPECT_EQ(runner.pending(), HookRunner::kMaxPending);
  ASSERT_TRUE(runUntilIdle(runner, 30s));
  std::string expected = "0\n";
  for (int i = kEvents - static_cast<int>(HookRunner::kMaxPending); i < kEvents; ++i) {
    expected += std::to_string(i) + "\n";
  }
  EXPECT_EQ(readFile(rec), expected);
  EXPECT_NE(logText().find("64 events waiting; dropping the oldest"), std::string::npos);
}

TEST_F(HookRunnerTest, ConfigureAppliesToEventsThatStartLater) {
  const std::string rec = (dir_ / "rec").string();
  const std::string a = script("a", "echo a >> " + rec);
  const std::string b = script("b", "echo b >> " + rec);
  HookRunner runner(loop_, {a}, "", 5s, log_);
  runner.onTransition(event(1, "INIT", "BACKUP", "started"));
  runner.configure({b}, "", 5s);
  runner.onTransition(event(1, "BACKUP", "MASTER", "x"));
  ASSERT_TRUE(runUntilIdle(runner));
  EXPECT_EQ(readFile(rec), "a\nb\n");
  runner.configure({}, "", 5s);
  runner.onTransition(event(1, "MASTER", "BACKUP", "y"));
  EXPECT_EQ(runner.running() + runner.pending(), 0u);
}

TEST_F(HookRunnerTest, ShutdownFinishesQueuedHooksWithinTheGraceThenKills) {
  const std::string rec = (dir_ / "rec").string();
  const std::string hook = script("hook",
                                  "[ \"$CARP_STATE\" = INIT ] && sleep 60\n"
                                  "echo \"$CARP_STATE\" >> " +
                                      rec);
  HookRunner runner(loop_, {hook}, "", 30s, log_);
  runner.onTransition(event(1, "INIT", "BACKUP", "started"));
  runner.onTransition(event(1, "BACKUP", "MASTER", "x"));
  runner.onTransition(event(1, "MASTER", "INIT", "stopped"));
  runner.onTransition(event(1, "INIT", "BACKUP", "never"));
  const auto t0 = Clock::now();
  runner.shutdown(milliseconds(700));  // without the event loop
  const auto took = Clock::now() - t0;
  EXPECT_GE(took, milliseconds(700));
  EXPECT_LT(took, milliseconds(1500));
  EXPECT_EQ(readFile(rec), "BACKUP\nMASTER\n");
  EXPECT_EQ(runner.running() + runner.pending(), 0u);
  const std::string log = logText();
  EXPECT_NE(log.find("killed: carpd is stopping"), std::string::npos) << log;
  EXPECT_NE(log.find("1 waiting events dropped at stop"), std::string::npos) << log;
  runner.onTransition(event(1, "BACKUP", "MASTER", "after"));
  EXPECT_EQ(runner.running() + runner.pending(), 0u) << "no hooks after shutdown";
}

// ucarp's scripts: `<script> <interface> <address> [xparam]`, up on MASTER, down on leaving it.
class UcarpHooksTest : public HookRunnerTest {
 protected:
  UcarpHooks scripts(bool neutral, bool shutdown, std::optional<std::string> xparam) {
    const std::string body = "echo \"$(basename $0) $# $*\" >> " + rec_;
    return UcarpHooks{script("vip-up.sh", body),
                      script("vip-down.sh", body),
                      "192.0.2.1",
                      std::move(xparam),
                      neutral,
                      shutdown};
  }
  HookEvent stop(int vhid, std::string old_state) {
    HookEvent e = event(vhid, std::move(old_state), "INIT", "stopped");
    e.stopping = true;
    return e;
  }
  void SetUp() override {
    HookRunnerTest::SetUp();
    rec_ = (dir_ / "rec").string();
  }
  std::string rec_;
};

TEST_F(UcarpHooksTest, UpOnMasterDownOnLeavingAndOnTheFirstBackupWithUcarpsArguments) {
  // The TOML hooks are ignored while ucarp's scripts are set.
  const std::string toml_hook = script("toml-hook", "echo toml >> " + rec_);
  HookRunner runner(loop_, {toml_hook}, "", 5s, log_);
  runner.setUcarpScripts(scripts(false, false, "extra"));
  runner.onTransition(event(1, "INIT", "BACKUP", "started"));        // first BACKUP: down
  runner.onTransition(event(1, "BACKUP", "MASTER", "master down"));  // up
  runner.onTransition(event(1, "MASTER", "BACKUP", "peer better"));  // down
  runner.onTransition(event(1, "BACKUP", "INIT", "link down"));      // nothing
  runner.onTransition(event(1, "INIT", "BACKUP", "started"));        // not the first: nothing
  runner.onTransition(event(1, "BACKUP", "MASTER", "master down"));  // up
  runner.onTransition(event(1, "MASTER", "INIT", "link down"));      // down
  runner.onTransition(event(1, "INIT", "MASTER", "resumed"));        // up
  runner.onTransition(stop(1, "MASTER"));                            // no -z: nothing
  ASSERT_TRUE(runUntilIdle(runner));
  EXPECT_EQ(readFile(rec_),
            "vip-down.sh 3 eth0 192.0.2.1 extra\n"
            "vip-up.sh 3 eth0 192.0.2.1 extra\n"
            "vip-down.sh 3 eth0 192.0.2.1 extra\n"
            "vip-up.sh 3 eth0 192.0.2.1 extra\n"
            "vip-down.sh 3 eth0 192.0.2.1 extra\n"
            "vip-up.sh 3 eth0 192.0.2.1 extra\n");
}

TEST_F(UcarpHooksTest, NeutralSkipsTheFirstDownscriptAndShutdownRunsItAtStop) {
  HookRunner runner(loop_, {}, "", 5s, log_);
  runner.setUcarpScripts(scripts(true, true, std::nullopt));
  runner.onTransition(event(1, "INIT", "BACKUP", "started"));  // -n: nothing
  runner.onTransition(event(1, "BACKUP", "MASTER", "master down"));
  runner.onTransition(stop(1, "MASTER"));  // -z: down
  runner.onTransition(event(2, "INIT", "BACKUP", "started", "eth1"));
  runner.onTransition(stop(2, "BACKUP"));  // -z, but BACKUP: nothing (ucarp's exit handler)
  ASSERT_TRUE(runUntilIdle(runner));
  EXPECT_EQ(readFile(rec_),
            "vip-up.sh 2 eth0 192.0.2.1\n"
            "vip-down.sh 2 eth0 192.0.2.1\n");
  EXPECT_NE(logText().find("hook " + (dir_ / "vip-up.sh").string() + " eth0 192.0.2.1: "),
            std::string::npos)
      << logText();
}

TEST_F(UcarpHooksTest, NoScriptGivenRunsNothing) {
  HookRunner runner(loop_, {}, "", 5s, log_);
  runner.setUcarpScripts(UcarpHooks{"", "", "192.0.2.1", std::nullopt, false, false});
  runner.onTransition(event(1, "INIT", "BACKUP", "started"));
  runner.onTransition(event(1, "BACKUP", "MASTER", "master down"));
  ASSERT_TRUE(runUntilIdle(runner));
  EXPECT_EQ(children(), std::vector<int>{});
  EXPECT_EQ(logText().find("started, pid"), std::string::npos) << logText();
}

TEST_F(HookRunnerTest, DestructorKillsAndReapsRunningHooks) {
  // Each VHID's hook records its background child in a file of its own.
  const std::string hook =
      script("hook", "sleep 60 & echo $! > " + (dir_ / "child-").string() + "$CARP_VHID\nsleep 60");
  const auto pidFile = [&](int vhid) {
    return (dir_ / ("child-" + std::to_string(vhid))).string();
  };
  // The shell creates the file before it writes the PID: wait for a whole line.
  const auto written = [&](int vhid) {
    const std::string text = fs::exists(pidFile(vhid)) ? readFile(pidFile(vhid)) : std::string();
    return !text.empty() && text.back() == '\n';
  };
  {
    HookRunner runner(loop_, {hook}, "", 30s, log_);
    runner.onTransition(event(1, "BACKUP", "MASTER", "x"));
    runner.onTransition(event(2, "BACKUP", "MASTER", "x"));
    ASSERT_TRUE(runUntil([&] { return written(1) && written(2); }));
    EXPECT_EQ(runner.running(), 2u);
  }
  EXPECT_EQ(children(), std::vector<int>{});
  for (int vhid : {1, 2}) {
    const int child = std::stoi(readFile(pidFile(vhid)));
    EXPECT_TRUE(runUntil([&] { return deadOrZombie(child); }, 2s)) << "vhid " << vhid;
  }
  EXPECT_NE(logText().find("killed: carpd is exiting"), std::string::npos);
}

}  // namespace
}  // namespace carp::os::lnx
