#include "os/linux/file_master_record.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace carp::os::lnx {
namespace {

using std::chrono::seconds;

const proto::Vhid kVhid1 = *proto::Vhid::make(1);
const proto::Vhid kVhid7 = *proto::Vhid::make(7);
const proto::TimePoint kT = proto::TimePoint(seconds(12345));

class FileMasterRecordTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/file_master_record_test.XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    file_ = dir_ / "masters";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path dir_;
  std::filesystem::path file_;
};

TEST_F(FileMasterRecordTest, ANewDaemonOfTheSameBootReadsWhatTheDeadOneWrote) {
  {
    FileMasterRecord dead(file_, "boot-a");
    EXPECT_FALSE(dead.lastMasterAdvert("eth0", kVhid1));
    dead.masterAdvertised("eth0", kVhid1, kT);
    dead.masterAdvertised("eth0.100", kVhid7, kT);
    dead.masterAdvertised("eth0", kVhid1, kT + seconds(1));  // same slot, rewritten
  }
  FileMasterRecord next(file_, "boot-a");
  EXPECT_EQ(next.lastMasterAdvert("eth0", kVhid1), kT + seconds(1));
  EXPECT_EQ(next.lastMasterAdvert("eth0.100", kVhid7), kT);
  EXPECT_FALSE(next.lastMasterAdvert("eth0", kVhid7));
  EXPECT_FALSE(next.lastMasterAdvert("eth1", kVhid1));
  // Two slots of 32 bytes after the 64-byte header: rewriting does not grow the file.
  EXPECT_EQ(std::filesystem::file_size(file_), 64u);  // started afresh by `next`
  struct stat st {};
  ASSERT_EQ(::stat(file_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(FileMasterRecordTest, LeavingMasterClearsTheSlot) {
  {
    FileMasterRecord dead(file_, "boot-a");
    dead.masterAdvertised("eth0", kVhid1, kT);
    dead.masterAdvertised("eth0", kVhid7, kT);
    dead.masterLeft("eth0", kVhid1);
    EXPECT_EQ(std::filesystem::file_size(file_), 64u + 2 * 32u);
  }
  FileMasterRecord next(file_, "boot-a");
  EXPECT_FALSE(next.lastMasterAdvert("eth0", kVhid1));
  EXPECT_EQ(next.lastMasterAdvert("eth0", kVhid7), kT);
}

TEST_F(FileMasterRecordTest, AFailedWriteRemovesTheRecordSoThatNoRestartTrustsIt) {
  // In a child: a file size limit at the 64-byte header makes the first slot's pwrite fail
  // (EFBIG), as a full disk would.
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    FileMasterRecord record(file_, "boot-a");
    ::signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{64, 64};
    if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) ::_exit(2);
    record.masterAdvertised("eth0", kVhid1, kT);
    if (std::filesystem::exists(file_)) ::_exit(3);
    record.masterLeft("eth0", kVhid1);  // given up: no new file, no crash
    ::_exit(std::filesystem::exists(file_) ? 4 : 0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  FileMasterRecord next(file_, "boot-a");
  EXPECT_FALSE(next.lastMasterAdvert("eth0", kVhid1));
}

TEST_F(FileMasterRecordTest, ARecordOfAnotherBootOrAnUnknownBootIsNotTrusted) {
  {
    FileMasterRecord dead(file_, "boot-a");
    dead.masterAdvertised("eth0", kVhid1, kT);
  }
  {
    FileMasterRecord after_reboot(file_, "boot-b");
    EXPECT_FALSE(after_reboot.lastMasterAdvert("eth0", kVhid1));
    after_reboot.masterAdvertised("eth0", kVhid1, kT);
  }
  FileMasterRecord unknown_boot(file_, "");
  EXPECT_FALSE(unknown_boot.lastMasterAdvert("eth0", kVhid1));
}

TEST_F(FileMasterRecordTest, GarbageIsIgnored) {
  std::ofstream(file_) << "not a record at all, but long enough to hold a header of 64 bytes.....";
  FileMasterRecord next(file_, "boot-a");
  EXPECT_FALSE(next.lastMasterAdvert("eth0", kVhid1));
}

TEST_F(FileMasterRecordTest, CurrentBootIdIsTheKernels) {
  const std::string id = currentBootId();
  EXPECT_EQ(id.size(), 36u);  // a UUID
  EXPECT_EQ(id, currentBootId());
}

TEST_F(FileMasterRecordTest, AnUnwritableFileThrows) {
  EXPECT_THROW(FileMasterRecord(dir_ / "missing-dir" / "masters", "boot-a"), std::system_error);
}

}  // namespace
}  // namespace carp::os::lnx
