#include "util/file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

namespace corefork {
namespace {

class ReadFileBoundedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/file_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  // Every case must come back at once: none of them may block.
  Result<std::string> Read(const std::string& path, size_t max,
                           ReadFileOptions options = {}) {
    auto start = std::chrono::steady_clock::now();
    Result<std::string> r = ReadFileBounded(path, max, options);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2))
        << path;
    return r;
  }
  std::string dir_;
};

TEST_F(ReadFileBoundedTest, ReadsARegularFileUpToTheCapExactly) {
  std::string text(1000, 'x');
  text += "\n\0tail";
  std::string path = Write("a.yaml", text);
  Result<std::string> r = Read(path, text.size());
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, text);
  Result<std::string> empty = Read(Write("empty", ""), 10);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, "");
}

TEST_F(ReadFileBoundedTest, RefusesAFileOverTheCap) {
  std::string path = Write("big", std::string(4097, 'x'));
  Result<std::string> r = Read(path, 4096);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "larger than 4096 bytes");
}

TEST_F(ReadFileBoundedTest, RefusesAFifoWithoutWaitingForAWriter) {
  std::string path = dir_ + "/fifo";
  ASSERT_EQ(mkfifo(path.c_str(), 0600), 0);
  Result<std::string> r = Read(path, 1 << 20);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "is a FIFO, not a regular file");
}

TEST_F(ReadFileBoundedTest, RefusesDevZeroInsteadOfReadingForever) {
  Result<std::string> r = Read("/dev/zero", 1 << 20);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "is a character device, not a regular file");
}

TEST_F(ReadFileBoundedTest, RefusesADirectoryAndASocket) {
  Result<std::string> r = Read(dir_, 1 << 20);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "is a directory, not a regular file");

  std::string sock_path = dir_ + "/sock";
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(s, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, sock_path.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  r = Read(sock_path, 1 << 20);
  close(s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "is a socket, not a regular file");
}

TEST_F(ReadFileBoundedTest, SymlinksAreFollowedUnlessToldNotTo) {
  std::string target = Write("target", "data");
  std::string link = dir_ + "/link";
  ASSERT_EQ(symlink(target.c_str(), link.c_str()), 0);
  Result<std::string> followed = Read(link, 100);
  ASSERT_TRUE(followed.ok()) << followed.status().message();
  EXPECT_EQ(*followed, "data");
  Result<std::string> refused = Read(link, 100, {.no_follow = true});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message(), "is a symlink, not a regular file");
  // A link to /dev/zero is still /dev/zero.
  std::string zero_link = dir_ + "/zero";
  ASSERT_EQ(symlink("/dev/zero", zero_link.c_str()), 0);
  EXPECT_FALSE(Read(zero_link, 100).ok());
}

TEST_F(ReadFileBoundedTest, ProcFilesReportSizeZeroButAreReadToTheEnd) {
  Result<std::string> status = Read("/proc/self/status", 64 << 10);
  ASSERT_TRUE(status.ok()) << status.status().message();
  EXPECT_NE(status->find("\nPid:\t"), std::string::npos);
  // A cap below the real length is an error, never a silent truncation.
  Result<std::string> capped = Read("/proc/self/status", 16);
  ASSERT_FALSE(capped.ok());
  EXPECT_EQ(capped.status().message(), "larger than 16 bytes");
}

TEST_F(ReadFileBoundedTest, MissingFileSaysWhy) {
  Result<std::string> r = Read(dir_ + "/missing", 100);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "No such file or directory");
}

}  // namespace
}  // namespace corefork
