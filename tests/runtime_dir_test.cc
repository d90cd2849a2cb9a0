// Whole-binary test of the runtime directory (issue 9): a non-root corefork
// whose default socket directory ($TMPDIR/corefork-UID) was made first by
// another user (`mkdir -m 777`) refuses to start (exit 3, before any port is
// bound) and names the directory; with a clean $TMPDIR it creates the
// directory 0700 and starts. Runs corefork as uid 65534 through setpriv, so
// it needs root and util-linux's setpriv.

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <optional>
#include <string>

#include "support/process.h"
#include "support/util.h"

namespace corefork::harness {
namespace {

constexpr uid_t kNobody = 65534;

class RuntimeDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to run corefork as 65534";
    if (access("/usr/bin/setpriv", X_OK) != 0) GTEST_SKIP() << "no setpriv";
    // A shared, sticky /tmp of our own (the test's TempDir is 0700).
    ASSERT_EQ(chmod(dir_.path().c_str(), 0755), 0);
    tmp_ = dir_.Path("tmp");
    ASSERT_EQ(mkdir(tmp_.c_str(), 0700), 0);
    ASSERT_EQ(chmod(tmp_.c_str(), 01777), 0);
    runtime_ = tmp_ + "/corefork-" + std::to_string(kNobody);
    // The build tree may sit under a 0700 directory (a CI checkout in a
    // mktemp dir) that uid 65534 cannot enter: run copies from our 0755 dir.
    corefork_ = dir_.Path("corefork");
    hello_ = dir_.Path("hello");
    std::filesystem::copy_file(COREFORK_BIN, corefork_);
    std::filesystem::copy_file(HELLO_BIN, hello_);
  }

  // corefork as uid/gid 65534 with $TMPDIR = tmp_ and no explicit control
  // socket, so it picks the default directory.
  std::unique_ptr<Process> StartAsNobody(int port) {
    return std::make_unique<Process>(
        std::vector<std::string>{"/usr/bin/setpriv", "--reuid=65534",
                                 "--regid=65534", "--clear-groups", "--",
                                 corefork_, "--workers", "1", "--port",
                                 std::to_string(port), "--", hello_},
        std::map<std::string, std::string>{{"TMPDIR", tmp_},
                                           {"XDG_RUNTIME_DIR", ""},
                                           {"COREFORK_CONTROL_SOCKET", ""},
                                           {"COREFORK_ADMIN", "127.0.0.1:0"}});
  }

  TempDir dir_;
  std::string tmp_, runtime_, corefork_, hello_;
};

TEST_F(RuntimeDirTest, RefusesADirectoryAnotherUserMadeFirst) {
  // What `mkdir -m 777 /tmp/corefork-65534` by root (any other user) does.
  ASSERT_EQ(mkdir(runtime_.c_str(), 0777), 0);
  ASSERT_EQ(chmod(runtime_.c_str(), 0777), 0);
  const int port = FreePort();
  std::unique_ptr<Process> cf = StartAsNobody(port);
  ASSERT_TRUE(cf->ok()) << cf->error();
  std::optional<int> code = cf->WaitExit(Millis(10000));
  ASSERT_TRUE(code.has_value()) << "corefork started anyway:\n" << cf->Stderr();
  EXPECT_EQ(*code, 3) << cf->Stderr();
  EXPECT_NE(cf->Stderr().find("runtime directory " + runtime_ +
                              " is owned by uid 0, not by corefork's uid "
                              "65534"),
            std::string::npos)
      << cf->Stderr();
  // Nothing of ours landed in the other user's directory.
  EXPECT_FALSE(FileExists(runtime_ + "/control.sock"));
}

TEST_F(RuntimeDirTest, CreatesItPrivateAndStarts) {
  std::unique_ptr<Process> cf;
  // Again on another port when something took FreePort()'s before corefork
  // bound it (it exits saying so).
  for (int attempt = 0; attempt < 5; ++attempt) {
    cf = StartAsNobody(FreePort());
    ASSERT_TRUE(cf->ok()) << cf->error();
    PollUntil(
        [&] {
          return FileExists(runtime_ + "/control.sock") || !cf->Running();
        },
        Millis(10000));
    if (cf->Running() ||
        !ContainsNoCase(cf->Stderr(), "address already in use")) {
      break;
    }
  }
  ASSERT_TRUE(FileExists(runtime_ + "/control.sock")) << cf->Stderr();
  struct stat st {};
  ASSERT_EQ(lstat(runtime_.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kNobody);
  EXPECT_EQ(st.st_mode & 07777, 0700u) << std::oct << (st.st_mode & 07777);
  EXPECT_TRUE(cf->Running()) << cf->Stderr();
}

}  // namespace
}  // namespace corefork::harness
