#include "os/spawn.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "os/fd.h"

namespace corefork {
namespace {

// Runs `script` under /bin/sh through Spawn with stdout captured, and
// returns what it printed. `pass` become fds 3, 4, ...
std::string RunCaptured(const std::string& script, std::vector<int> pass = {},
                        pid_t* pgid = nullptr) {
  int out[2];
  EXPECT_EQ(pipe2(out, O_CLOEXEC), 0);
  Fd read_end(out[0]), write_end(out[1]);
  SpawnOptions options;
  options.path = "/bin/sh";
  options.argv = {"sh", "-c", script};
  options.env = {"PATH=/usr/bin:/bin"};
  options.pass_fds = std::move(pass);
  options.stdout_fd = write_end.get();
  Result<pid_t> pid = Spawn(options);
  EXPECT_TRUE(pid.ok()) << pid.status().message();
  if (!pid.ok()) return "";
  if (pgid != nullptr) *pgid = getpgid(*pid);
  write_end.Reset();
  std::string output;
  char buf[4096];
  ssize_t n;
  while ((n = read(read_end.get(), buf, sizeof buf)) > 0) output.append(buf, n);
  int status = 0;
  waitpid(*pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << script;
  return output;
}

// The fds a live process has open, read from outside it (listing from inside
// would show the listing's own directory fd).
std::string OpenFds(pid_t pid) {
  std::vector<int> fds;
  for (const auto& entry : std::filesystem::directory_iterator(
           "/proc/" + std::to_string(pid) + "/fd")) {
    fds.push_back(std::stoi(entry.path().filename().string()));
  }
  std::sort(fds.begin(), fds.end());
  std::string out;
  for (int fd : fds) out += std::to_string(fd) + " ";
  return out;
}

TEST(SpawnTest, PassesFdsFromThreeAndNothingElse) {
  int leaky = open("/dev/null", O_RDONLY);  // no O_CLOEXEC on purpose
  ASSERT_GE(leaky, 0);
  Fd leaky_fd(leaky);
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  Fd pr(p[0]), pw(p[1]);
  // The pipe goes in twice; the second copy sits at a low fd that collides
  // with a target slot, and placement must not clobber it.
  SpawnOptions options;
  options.path = "/bin/sleep";
  options.argv = {"sleep", "30"};
  options.pass_fds = {pw.get(), pw.get()};
  Result<pid_t> pid = Spawn(options);
  ASSERT_TRUE(pid.ok()) << pid.status().message();
  const std::string proc = "/proc/" + std::to_string(*pid) + "/fd/";
  const std::string pipe_name = std::filesystem::read_symlink(
      "/proc/self/fd/" + std::to_string(pw.get()));
  EXPECT_EQ(std::filesystem::read_symlink(proc + "3"), pipe_name);
  EXPECT_EQ(std::filesystem::read_symlink(proc + "4"), pipe_name);
  // Spawn returns once execve succeeded, but sleep's own start-up may still
  // hold a file briefly: poll for the steady state.
  std::string fds;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  do {
    fds = OpenFds(*pid);
  } while (fds != "0 1 2 3 4 " && std::chrono::steady_clock::now() < deadline);
  EXPECT_EQ(fds, "0 1 2 3 4 ");
  kill(*pid, SIGKILL);
  waitpid(*pid, nullptr, 0);
}

TEST(SpawnTest, CleanSignalStateAndOwnProcessGroup) {
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGUSR1);
  sigprocmask(SIG_BLOCK, &block, &old);
  struct sigaction ignore = {}, old_pipe;
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ignore, &old_pipe);

  pid_t pgid = 0;
  std::string status = RunCaptured(
      "grep -E '^Sig(Blk|Ign):' /proc/$$/status | tr -s '\\t ' ' '", {}, &pgid);
  EXPECT_EQ(status, "SigBlk: 0000000000000000\nSigIgn: 0000000000000000\n");
  EXPECT_NE(pgid, getpgid(0)) << "child should lead its own process group";

  sigaction(SIGPIPE, &old_pipe, nullptr);
  sigprocmask(SIG_SETMASK, &old, nullptr);
}

TEST(SpawnTest, PidEnvVarHoldsTheChildsOwnPid) {
  int out[2];
  ASSERT_EQ(pipe2(out, O_CLOEXEC), 0);
  Fd read_end(out[0]), write_end(out[1]);
  SpawnOptions options;
  options.path = "/bin/sh";
  options.argv = {"sh", "-c", "echo $LISTEN_PID"};
  options.env = {"A=1"};
  options.pid_env_var = "LISTEN_PID";
  options.stdout_fd = write_end.get();
  Result<pid_t> pid = Spawn(options);
  ASSERT_TRUE(pid.ok());
  write_end.Reset();
  char buf[32] = {};
  ASSERT_GT(read(read_end.get(), buf, sizeof buf - 1), 0);
  waitpid(*pid, nullptr, 0);
  EXPECT_EQ(std::string(buf), std::to_string(*pid) + "\n");
}

TEST(SpawnTest, ExecFailuresAreReportedWithErrno) {
  struct Case {
    const char* name;
    const char* path;
    int error;
    int exit_code;
  } cases[] = {
      {"missing", "/nonexistent/app", ENOENT, 127},
      {"not executable", "/tmp/corefork_spawn_test_noexec", EACCES, 126},
      {"directory", "/tmp", EACCES, 126},
  };
  std::ofstream(cases[1].path) << "data\n";
  chmod(cases[1].path, 0644);
  for (const Case& c : cases) {
    SpawnOptions options;
    options.path = c.path;
    options.argv = {c.path};
    SpawnFailure failure;
    Result<pid_t> pid = Spawn(options, &failure);
    ASSERT_FALSE(pid.ok()) << c.name;
    EXPECT_EQ(failure.error, c.error) << c.name;
    EXPECT_EQ(failure.step, "execve") << c.name;
    EXPECT_NE(pid.status().message().find(c.path), std::string::npos)
        << c.name << ": " << pid.status().message();
    EXPECT_EQ(ExitCodeForExecError(failure.error), c.exit_code) << c.name;
  }
  unlink(cases[1].path);
}

TEST(SpawnTest, ResolveExecutableSearchesPath) {
  char dir_template[] = "/tmp/spawn_test.XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  std::string dir = dir_template;
  std::ofstream(dir + "/noexec") << "#!/bin/sh\n";
  chmod((dir + "/noexec").c_str(), 0644);

  int error = 0;
  Result<std::string> sh = ResolveExecutable("sh", dir + ":/bin", &error);
  ASSERT_TRUE(sh.ok()) << sh.status().message();
  EXPECT_EQ(*sh, "/bin/sh");

  Result<std::string> missing =
      ResolveExecutable("no-such-app", "/bin", &error);
  EXPECT_FALSE(missing.ok());
  EXPECT_EQ(error, ENOENT);
  EXPECT_NE(missing.status().message().find("no-such-app"), std::string::npos);

  Result<std::string> noexec = ResolveExecutable("noexec", dir, &error);
  EXPECT_FALSE(noexec.ok());
  EXPECT_EQ(error, EACCES);

  unlink((dir + "/noexec").c_str());
  rmdir(dir.c_str());
}

}  // namespace
}  // namespace corefork
