// PlanCompat and the shim's environment values.
#include "supervisor/compat.h"

#include <gtest/gtest.h>

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
