// PlanCompat and the shim's environment values.
#include "supervisor/compat.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <fstream>
#include <optional>

#include "os/elf_for_tests.h"

namespace corefork {
namespace {

Config WithCommand(std::vector<std::string> command) {
  Config config;
  config.command = std::move(command);
  return config;
}

TEST(CompatTest, ShimForDynamicCommandsAndListenReadiness) {
  Config config = WithCommand({"sh", "-c", "exec app"});
  CompatPlan plan = PlanCompat(config, "/bin/sh", "/usr/bin:/bin", "/x/l.so");
  EXPECT_EQ(plan.shim_path, "/x/l.so");
  EXPECT_EQ(plan.ready_mode, ReadyMode::kListen);
  EXPECT_FALSE(plan.node_ipc);

  // A choice the user made is kept.
  config.ready.mode = ReadyMode::kNotify;
  EXPECT_EQ(PlanCompat(config, "/bin/sh", "", "/x/l.so").ready_mode,
            ReadyMode::kNotify);

  config.ready.mode = ReadyMode::kAuto;
  config.compat.listen = CompatListen::kOff;
  plan = PlanCompat(config, "/bin/sh", "", "/x/l.so");
  EXPECT_FALSE(plan.shim());
  EXPECT_EQ(plan.no_shim_reason, "");  // the user's choice: nothing to say
  EXPECT_EQ(plan.ready_mode, ReadyMode::kNone);
}

TEST(CompatTest, NoShimSaysWhy) {
  Config config = WithCommand({"app"});
  CompatPlan plan = PlanCompat(config, "/bin/sh", "", "");
  EXPECT_FALSE(plan.shim());
  EXPECT_NE(plan.no_shim_reason.find("not installed"), std::string::npos);
  plan = PlanCompat(config, "/nonexistent/app", "", "/x/l.so");
  EXPECT_FALSE(plan.shim());
  EXPECT_NE(plan.no_shim_reason.find("/nonexistent/app"), std::string::npos);
}

// A directory with both shim builds (empty files: only their presence
// counts) and a copy of /bin/sh whose PT_INTERP is musl's loader.
class MuslCompatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/compat_test.XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    std::ofstream(dir_ + "/libcorefork-listen.so") << "";
    std::ofstream(dir_ + "/libcorefork-listen-musl.so") << "";
    std::optional<std::string> bytes =
        WithInterpreter("/bin/sh", "/lib/ld-musl-x86_64.so.1");
    ASSERT_TRUE(bytes.has_value());
    musl_app_ = dir_ + "/app";
    std::ofstream(musl_app_, std::ios::binary) << *bytes;
    chmod(musl_app_.c_str(), 0755);
  }
  void TearDown() override {
    std::string cmd = "rm -rf " + dir_;
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }
  std::string dir_;
  std::string musl_app_;
};

TEST_F(MuslCompatTest, MuslProgramsGetTheMuslBuild) {
  Config config = WithCommand({"app"});
  const std::string glibc_shim = dir_ + "/libcorefork-listen.so";
  CompatPlan plan = PlanCompat(config, musl_app_, "", glibc_shim);
  EXPECT_EQ(plan.shim_path, dir_ + "/libcorefork-listen-musl.so");
  EXPECT_EQ(plan.ready_mode, ReadyMode::kListen);
  // A glibc program beside it keeps the glibc build.
  EXPECT_EQ(PlanCompat(config, "/bin/sh", "", glibc_shim).shim_path,
            glibc_shim);

  // Without the musl build, no shim rather than one musl cannot load.
  ASSERT_EQ(unlink((dir_ + "/libcorefork-listen-musl.so").c_str()), 0);
  EXPECT_EQ(MuslShimBeside(glibc_shim), "");
  plan = PlanCompat(config, musl_app_, "", glibc_shim);
  EXPECT_FALSE(plan.shim());
  EXPECT_NE(plan.no_shim_reason.find("libcorefork-listen-musl.so"),
            std::string::npos)
      << plan.no_shim_reason;
  EXPECT_EQ(plan.ready_mode, ReadyMode::kNone);
}

TEST(CompatTest, NodeIpcForNodeLaunchers) {
  const struct {
    const char* argv0;
    NodeIpc setting;
    bool ipc;
  } cases[] = {
      {"node", NodeIpc::kAuto, true},
      {"/usr/bin/npm", NodeIpc::kAuto, true},
      {"npx", NodeIpc::kAuto, true},
      {"yarn", NodeIpc::kAuto, true},
      {"python3", NodeIpc::kAuto, false},
      {"node", NodeIpc::kOff, false},
      {"python3", NodeIpc::kOn, true},
      {"nodemon", NodeIpc::kAuto, false},
  };
  for (const auto& c : cases) {
    Config config = WithCommand({c.argv0});
    config.compat.node_ipc = c.setting;
    EXPECT_EQ(PlanCompat(config, "/bin/sh", "", "").node_ipc, c.ipc) << c.argv0;
  }
}

TEST(CompatTest, EnvironmentValues) {
  EXPECT_EQ(AppendPreload("", "/l.so"), "/l.so");
  EXPECT_EQ(AppendPreload("/a.so", "/l.so"), "/a.so:/l.so");
  EXPECT_EQ(ShimPorts({8080}, 3), "8080:3");
  EXPECT_EQ(ShimPorts({8080, 9090}, 3), "8080:3,9090:4");
}

}  // namespace
}  // namespace corefork
