#include "os/runtime_paths.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace corefork {
namespace {

TEST(RuntimePathsTest, SocketsLiveBesideTheControlSocketAndStaleOnesGo) {
  char dir_template[] = "/tmp/runtime_paths_test.XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string dir = std::string(dir_template) + "/sub";
  Config config;
  config.control.socket = dir + "/control.sock";
  std::filesystem::create_directories(dir);
  // pid_max is at most 2^22: this pid cannot exist. getppid() does.
  const std::string stale = dir + "/notify-99999999.sock";
  const std::string live =
      dir + "/notify-" + std::to_string(getppid()) + ".sock";
  std::ofstream(stale) << "";
  std::ofstream(live) << "";

  Result<RuntimePaths> paths = PrepareRuntimePaths(config);
  ASSERT_TRUE(paths.ok()) << paths.status().message();
  EXPECT_EQ(paths->control_socket, dir + "/control.sock");
  EXPECT_EQ(paths->notify_socket,
            dir + "/notify-" + std::to_string(getpid()) + ".sock");
  EXPECT_FALSE(std::filesystem::exists(stale)) << "a dead corefork's socket";
  EXPECT_TRUE(std::filesystem::exists(live)) << "a live process's socket";
  std::filesystem::remove_all(dir_template);
}

}  // namespace
}  // namespace corefork
