#include "os/exit_codes.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace corefork {
namespace {

// Real children produce the wait statuses, so the mapping is checked against
// what the kernel reports, not against hand-built bit patterns.
int WaitStatusOf(const char* script) {
  pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", script, static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

TEST(ExitCodesTest, WaitStatusMapping) {
  struct Case {
    const char* name;
    const char* script;
    int exit_code;
    const char* description;
  } cases[] = {
      {"clean", "exit 0", 0, "exited with 0"},
      {"failure", "exit 3", 3, "exited with 3"},
      {"high", "exit 255", 255, "exited with 255"},
      {"sigkill", "kill -KILL $$", 128 + SIGKILL, "killed by SIGKILL"},
      {"sigterm", "kill -TERM $$", 128 + SIGTERM, "killed by SIGTERM"},
  };
  for (const Case& c : cases) {
    int status = WaitStatusOf(c.script);
    EXPECT_EQ(ExitCodeFromWaitStatus(status), c.exit_code) << c.name;
    EXPECT_EQ(DescribeWaitStatus(status), c.description) << c.name;
  }
}

TEST(ExitCodesTest, SignalNames) {
  EXPECT_EQ(SignalName(SIGTERM), "SIGTERM");
  EXPECT_EQ(SignalName(SIGUSR1), "SIGUSR1");
  EXPECT_EQ(SignalName(SIGRTMAX + 5), "signal " + std::to_string(SIGRTMAX + 5));
}

TEST(ExitCodesTest, LauncherCodesAreStable) {
  // docs/exit-codes.md promises these numbers to users and their scripts.
  EXPECT_EQ(ToInt(ExitCode::kOk), 0);
  EXPECT_EQ(ToInt(ExitCode::kUsage), 2);
  EXPECT_EQ(ToInt(ExitCode::kCrashLoop), 4);
  EXPECT_EQ(ToInt(ExitCode::kNotFound), 127);
  EXPECT_EQ(ToInt(ExitCode::kCannotExecute), 126);
  EXPECT_EQ(ToInt(ExitCode::kFastShutdown), 128 + SIGQUIT);
}

}  // namespace
}  // namespace corefork
