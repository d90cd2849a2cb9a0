#include "os/runtime_paths.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>

#include "util/in_child_for_tests.h"

namespace corefork {
namespace {

TEST(RuntimePathsTest, SocketsLiveBesideTheControlSocketAndStaleOnesGo) {
  char dir_template[] = "/tmp/runtime_paths_test.XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string dir = std::string(dir_template) + "/sub";
  std::filesystem::create_directories(dir);
  // pid_max is at most 2^22: this pid cannot exist. getppid() does.
  const std::string stale = dir + "/notify-99999999.sock";
  const std::string live =
      dir + "/notify-" + std::to_string(getppid()) + ".sock";
  std::ofstream(stale) << "";
  std::ofstream(live) << "";

  Result<RuntimePaths> paths = PrepareRuntimePaths(dir + "/control.sock");
  ASSERT_TRUE(paths.ok()) << paths.status().message();
  EXPECT_EQ(paths->control_socket, dir + "/control.sock");
  EXPECT_EQ(paths->notify_socket,
            dir + "/notify-" + std::to_string(getpid()) + ".sock");
  EXPECT_FALSE(std::filesystem::exists(stale)) << "a dead corefork's socket";
  EXPECT_TRUE(std::filesystem::exists(live)) << "a live process's socket";
  std::filesystem::remove_all(dir_template);
}

// Another user's uid, the one a hostile local user would have.
constexpr uid_t kNobody = 65534;

// Runs PrepareRuntimePaths (default directory: no control.socket, no
// COREFORK_CONTROL_SOCKET) in a child that became uid/gid 65534 with `env`
// set, and returns "ok <control socket>" or "error <message>". nullopt when
// the child did not report within the deadline.
std::optional<std::string> PrepareAsNobody(
    const std::map<std::string, std::string>& env) {
  return InChild([&env] {
    unsetenv("COREFORK_CONTROL_SOCKET");
    unsetenv("XDG_RUNTIME_DIR");
    for (const auto& [key, value] : env) setenv(key.c_str(), value.c_str(), 1);
    // Raw syscalls: only this (single-threaded) child changes identity.
    if (syscall(SYS_setgroups, 0, nullptr) != 0 ||
        syscall(SYS_setresgid, kNobody, kNobody, kNobody) != 0 ||
        syscall(SYS_setresuid, kNobody, kNobody, kNobody) != 0) {
      return std::string("error setresuid failed");
    }
    Result<RuntimePaths> paths = PrepareRuntimePaths("");
    return paths.ok() ? "ok " + paths->control_socket
                      : "error " + paths.status().message();
  });
}

class RuntimeDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to act as two users";
    // uid 65534 cannot write /run, so it takes the XDG/TMPDIR branches.
    char tmpl[] = "/tmp/runtime_dir_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    // A shared /tmp-like directory: everyone may create entries.
    tmp_ = root_ + "/tmp";
    ASSERT_EQ(mkdir(tmp_.c_str(), 0777), 0);
    ASSERT_EQ(chmod(tmp_.c_str(), 01777), 0);
    ASSERT_EQ(chmod(root_.c_str(), 0755), 0);
    mine_ = tmp_ + "/corefork-" + std::to_string(kNobody);
  }
  void TearDown() override {
    if (!root_.empty()) std::filesystem::remove_all(root_);
  }
  // A directory at `path` owned by `uid` with `mode`.
  void MakeDir(const std::string& path, uid_t uid, mode_t mode) {
    ASSERT_EQ(mkdir(path.c_str(), 0700), 0) << path;
    ASSERT_EQ(chown(path.c_str(), uid, uid), 0) << path;
    ASSERT_EQ(chmod(path.c_str(), mode), 0) << path;
  }
  std::string root_, tmp_, mine_;
};

TEST_F(RuntimeDirTest, CreatesAPrivateDirectoryUnderTmpdir) {
  std::optional<std::string> r = PrepareAsNobody({{"TMPDIR", tmp_}});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, "ok " + mine_ + "/control.sock");
  struct stat st {};
  ASSERT_EQ(lstat(mine_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_uid, kNobody);
  EXPECT_EQ(st.st_mode & 07777, 0700u) << std::oct << st.st_mode;
}

// `mkdir -m 777 /tmp/corefork-UID` by another user before corefork starts:
// that user could replace the sockets in it. Refused, naming the directory.
TEST_F(RuntimeDirTest, RefusesADirectoryMadeByAnotherUser) {
  MakeDir(mine_, 0, 0777);
  std::optional<std::string> r = PrepareAsNobody({{"TMPDIR", tmp_}});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->rfind("error runtime directory " + mine_ +
                         " is owned by uid 0, not by corefork's uid 65534",
                     0),
            0u)
      << *r;
  EXPECT_NE(r->find("COREFORK_CONTROL_SOCKET"), std::string::npos) << *r;
}

TEST_F(RuntimeDirTest, RefusesOurOwnDirectoryWhenOthersCanUseIt) {
  MakeDir(mine_, kNobody, 0755);
  std::optional<std::string> r = PrepareAsNobody({{"TMPDIR", tmp_}});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->rfind("error runtime directory " + mine_ + " has mode 0755", 0),
            0u)
      << *r;
}

TEST_F(RuntimeDirTest, RefusesASymlinkEvenToOurOwnPrivateDirectory) {
  const std::string target = tmp_ + "/elsewhere";
  MakeDir(target, kNobody, 0700);
  ASSERT_EQ(symlink(target.c_str(), mine_.c_str()), 0);
  ASSERT_EQ(lchown(mine_.c_str(), kNobody, kNobody), 0);
  std::optional<std::string> r = PrepareAsNobody({{"TMPDIR", tmp_}});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->rfind("error runtime directory " + mine_ + " is a symlink", 0),
            0u)
      << *r;
}

TEST_F(RuntimeDirTest, PrefersAPrivateXdgRuntimeDir) {
  const std::string xdg = root_ + "/xdg";
  MakeDir(xdg, kNobody, 0700);
  std::optional<std::string> r =
      PrepareAsNobody({{"TMPDIR", tmp_}, {"XDG_RUNTIME_DIR", xdg}});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, "ok " + xdg + "/corefork/control.sock");
  // One that others can write is no runtime dir of ours: $TMPDIR instead.
  ASSERT_EQ(chmod(xdg.c_str(), 0777), 0);
  r = PrepareAsNobody({{"TMPDIR", tmp_}, {"XDG_RUNTIME_DIR", xdg}});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, "ok " + mine_ + "/control.sock");
}

TEST(CheckPrivateDirectoryTest, NamesWhatIsWrong) {
  char tmpl[] = "/tmp/private_dir_test.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  EXPECT_TRUE(CheckPrivateDirectory(dir, geteuid(), 077).ok());
  Status other = CheckPrivateDirectory(dir, geteuid() + 1, 077);
  EXPECT_EQ(other.message(), "runtime directory " + dir + " is owned by uid " +
                                 std::to_string(geteuid()) +
                                 ", not by corefork's uid " +
                                 std::to_string(geteuid() + 1));
  std::ofstream(dir + "/file") << "x";
  EXPECT_EQ(CheckPrivateDirectory(dir + "/file", geteuid(), 077).message(),
            "runtime directory " + dir + "/file is not a directory");
  EXPECT_FALSE(CheckPrivateDirectory(dir + "/missing", geteuid(), 077).ok());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace corefork
