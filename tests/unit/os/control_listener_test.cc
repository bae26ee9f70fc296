#include "os/linux/control_listener.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "os/linux/fd.h"

namespace carp::os::lnx {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

sockaddr_un addressOf(const fs::path& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
  return address;
}

// A blocking client, as carpctl would be: sends the chunks (pausing between them), optionally
// half-closes, and returns everything received until the server closes.
std::string converse(const fs::path& path, std::vector<std::string> chunks,
                     bool shutdown_write = false) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const sockaddr_un address = addressOf(path);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    return "<connect failed>";
  }
  timeval timeout{5, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    if (i > 0) std::this_thread::sleep_for(milliseconds(50));
    std::size_t offset = 0;
    while (offset < chunks[i].size()) {
      const ssize_t sent =
          ::send(fd.get(), chunks[i].data() + offset, chunks[i].size() - offset, MSG_NOSIGNAL);
      if (sent <= 0) break;  // the server may close early (oversized request)
      offset += static_cast<std::size_t>(sent);
    }
  }
  if (shutdown_write) ::shutdown(fd.get(), SHUT_WR);
  std::string response;
  char buffer[65536];
  for (;;) {
    const ssize_t length = ::recv(fd.get(), buffer, sizeof buffer, 0);
    if (length <= 0) break;
    response.append(buffer, static_cast<std::size_t>(length));
  }
  return response;
}

class ControlListenerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "carpd-control-XXXXXX").native();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    directory_ = pattern;
    path_ = directory_ / "run" / "carpd" / "carpd.sock";
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(directory_, ignored);
  }

  // Serves the listener on this thread while `client` runs on another; returns its result.
  std::string serve(ControlListener& listener, std::function<std::string()> client) {
    std::atomic<bool> done = false;
    std::string result;
    std::thread thread([&] {
      result = client();
      done = true;
    });
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done && std::chrono::steady_clock::now() < give_up) {
      pollfd p{listener.fd(), POLLIN, 0};
      if (::poll(&p, 1, 20) == 1) listener.onReadable();
    }
    thread.join();
    return result;
  }

  fs::path directory_;
  fs::path path_;
};

std::string echo(std::string_view line) { return "got:" + std::string(line); }

TEST_F(ControlListenerTest, AnswersOneRequestLine) {
  ControlListener listener(path_, echo);
  EXPECT_EQ(listener.path(), path_);
  EXPECT_EQ(serve(listener, [&] { return converse(path_, {"hello\n"}); }), "got:hello\n");
  EXPECT_EQ(listener.connectionCount(), 0u);
}

TEST_F(ControlListenerTest, AssemblesALineSentInPiecesAndDropsCarriageReturn) {
  ControlListener listener(path_, echo);
  EXPECT_EQ(serve(listener,
                  [&] {
                    return converse(path_, {"hel", "lo wor", "ld\r\n"});
                  }),
            "got:hello world\n");
}

TEST_F(ControlListenerTest, EndOfFileEndsTheLine) {
  ControlListener listener(path_, echo);
  EXPECT_EQ(serve(listener, [&] { return converse(path_, {"status"}, true); }), "got:status\n");
}

TEST_F(ControlListenerTest, OnlyTheFirstLineIsARequest) {
  int calls = 0;
  ControlListener listener(path_, [&](std::string_view line) {
    ++calls;
    return echo(line);
  });
  EXPECT_EQ(serve(listener, [&] { return converse(path_, {"one\ntwo\n"}); }), "got:one\n");
  EXPECT_EQ(calls, 1);
}

TEST_F(ControlListenerTest, SendsLargeResponsesCompletely) {
  const std::string big(4 * 1024 * 1024, 'x');
  ControlListener listener(path_, [&](std::string_view) { return big; });
  EXPECT_EQ(serve(listener, [&] { return converse(path_, {"dump\n"}); }), big + "\n");
}

TEST_F(ControlListenerTest, OversizedRequestIsDroppedWithoutCallingTheHandler) {
  int calls = 0;
  ControlListener listener(path_, [&](std::string_view line) {
    ++calls;
    return echo(line);
  });
  const std::string huge(ControlListener::kMaxRequestBytes + 1024, 'a');
  EXPECT_EQ(serve(listener, [&] { return converse(path_, {huge}); }), "");
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(listener.connectionCount(), 0u);
}

TEST_F(ControlListenerTest, HandlerExceptionClosesOnlyThatConnection) {
  ControlListener listener(path_, [](std::string_view line) -> std::string {
    if (line == "bad") throw std::runtime_error("bad request");
    return echo(line);
  });
  EXPECT_EQ(serve(listener, [&] { return converse(path_, {"bad\n"}); }), "");
  EXPECT_EQ(serve(listener, [&] { return converse(path_, {"good\n"}); }), "got:good\n");
}

TEST_F(ControlListenerTest, StalledClientsNeitherBlockNorAccumulate) {
  ControlListener listener(path_, echo);
  std::vector<UniqueFd> idle;
  for (std::size_t i = 0; i < ControlListener::kMaxConnections + 4; ++i) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    const sockaddr_un address = addressOf(path_);
    ASSERT_EQ(::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address), 0);
    ASSERT_EQ(::send(fd.get(), "partial", 7, 0), 7);
    idle.push_back(std::move(fd));
    // Accept it now: beyond the listen backlog a blocking connect() would wait forever.
    pollfd p{listener.fd(), POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 5000), 1);
    listener.onReadable();
  }
  EXPECT_EQ(listener.connectionCount(), ControlListener::kMaxConnections);
  EXPECT_EQ(serve(listener, [&] { return converse(path_, {"ping\n"}); }), "got:ping\n");
  EXPECT_LE(listener.connectionCount(), ControlListener::kMaxConnections);
}

TEST_F(ControlListenerTest, CreatesParentsAndSetsModesAndRemovesTheSocket) {
  {
    ControlListener listener(path_, echo);
    struct stat info {};
    ASSERT_EQ(::stat(path_.c_str(), &info), 0);
    EXPECT_TRUE(S_ISSOCK(info.st_mode));
    EXPECT_EQ(info.st_mode & 07777, 0660u);
    ASSERT_EQ(::stat(path_.parent_path().c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 07777, 0755u);
    ASSERT_EQ(::stat(path_.parent_path().parent_path().c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 07777, 0755u);
  }
  EXPECT_FALSE(fs::exists(fs::symlink_status(path_)));
}

TEST_F(ControlListenerTest, ReplacesAStaleSocketFile) {
  fs::create_directories(path_.parent_path());
  {
    // A socket file nobody listens on, as a crashed carpd leaves it.
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM, 0));
    const sockaddr_un address = addressOf(path_);
    ASSERT_EQ(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address), 0);
  }
  ASSERT_TRUE(fs::is_socket(path_));
  ControlListener listener(path_, echo);
  EXPECT_EQ(serve(listener, [&] { return converse(path_, {"hi\n"}); }), "got:hi\n");
}

TEST_F(ControlListenerTest, RefusesToTakeOverALiveSocket) {
  ControlListener first(path_, echo);
  try {
    ControlListener second(path_, echo);
    FAIL() << "a second listener started";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("another carpd is running"), std::string::npos);
  }
  // The first one is untouched.
  EXPECT_TRUE(fs::is_socket(path_));
  EXPECT_EQ(serve(first, [&] { return converse(path_, {"still\n"}); }), "got:still\n");
}

TEST_F(ControlListenerTest, RefusesToReplaceSomethingThatIsNotASocket) {
  fs::create_directories(path_.parent_path());
  std::ofstream(path_) << "precious";
  EXPECT_THROW(ControlListener(path_, echo), std::runtime_error);
  std::ifstream in(path_);
  std::string content;
  in >> content;
  EXPECT_EQ(content, "precious");
}

TEST_F(ControlListenerTest, RejectsPathsThatDoNotFitSockaddrUn) {
  const fs::path long_path = directory_ / std::string(200, 'p');
  EXPECT_THROW(ControlListener(long_path, echo), std::system_error);
}

TEST_F(ControlListenerTest, DestructorLeavesAReplacementSocketAlone) {
  auto listener = std::make_unique<ControlListener>(path_, echo);
  // Someone removed our file and another server now lives at the path.
  ASSERT_EQ(::unlink(path_.c_str()), 0);
  UniqueFd other(::socket(AF_UNIX, SOCK_STREAM, 0));
  const sockaddr_un address = addressOf(path_);
  ASSERT_EQ(::bind(other.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address), 0);
  listener.reset();
  EXPECT_TRUE(fs::is_socket(path_));
}

}  // namespace
}  // namespace carp::os::lnx
