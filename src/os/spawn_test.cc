#include "os/spawn.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "os/fd.h"
#include "os/fd_limit.h"
#include "util/in_child_for_tests.h"

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

// corefork raises its own fd limit for the admin server's connections; its
// children get the limit it started with back.
TEST(SpawnTest, ChildrenGetTheOriginalFdLimit) {
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  if (saved.rlim_max <= 1024) GTEST_SKIP() << "hard limit too low to test";
  rlimit lowered = {1000, saved.rlim_max};
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lowered), 0);
  EXPECT_EQ(RaiseFdLimit(), saved.rlim_max);
  EXPECT_EQ(OriginalFdLimit(), 1000u);
  rlimit now{};
  getrlimit(RLIMIT_NOFILE, &now);
  EXPECT_EQ(now.rlim_cur, saved.rlim_max);
  EXPECT_EQ(RunCaptured("ulimit -n"), "1000\n");
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
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

// A working directory that cannot be entered is named as such (it used to
// read "chdir /bin/true: No such file or directory").
TEST(SpawnTest, AChdirFailureNamesTheDirectory) {
  SpawnOptions options;
  options.path = "/bin/true";
  options.argv = {"/bin/true"};
  options.workdir = "/nonexistent/dir";
  SpawnFailure failure;
  Result<pid_t> pid = Spawn(options, &failure);
  ASSERT_FALSE(pid.ok());
  EXPECT_EQ(failure.step, "chdir");
  EXPECT_EQ(failure.error, ENOENT);
  EXPECT_EQ(pid.status().message().rfind("chdir /nonexistent/dir: ", 0), 0u)
      << pid.status().message();
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

// ---- Under seccomp: what older kernels and container profiles do ----------

// Installs a seccomp filter on the calling (forked, test-only) process:
// syscall `nr` returns -1/`err`, or, when `arg2` >= 0, the process is
// killed when it makes syscall `nr` with that third argument.
bool InstallFilter(int nr, int err, int arg2 = -1) {
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return false;
  const unsigned action =
      arg2 >= 0
          ? SECCOMP_RET_KILL_PROCESS
          : SECCOMP_RET_ERRNO | (static_cast<unsigned>(err) & SECCOMP_RET_DATA);
  const unsigned wanted_nr = static_cast<unsigned>(nr);
  std::vector<sock_filter> filter = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
  };
  if (arg2 < 0) {
    filter.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, wanted_nr, 0, 1));
  } else {
    filter.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, wanted_nr, 0, 3));
    // Low 32 bits of args[2] (little-endian).
    filter.push_back(
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[2])));
    filter.push_back(
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<unsigned>(arg2), 0, 1));
  }
  filter.push_back(BPF_STMT(BPF_RET | BPF_K, action));
  filter.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  sock_fprog prog{static_cast<unsigned short>(filter.size()), filter.data()};
  return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) == 0;
}

// Spawns /bin/sh -c `script` with stdout captured; returns its output and
// puts its wait status in *status.
std::string SpawnAndRead(SpawnOptions options, const std::string& script,
                         int* status) {
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return "pipe failed";
  Fd read_end(out[0]), write_end(out[1]);
  options.path = "/bin/sh";
  options.argv = {"sh", "-c", script};
  options.env = {"PATH=/usr/bin:/bin"};
  options.stdout_fd = write_end.get();
  Result<pid_t> pid = Spawn(options);
  if (!pid.ok()) return "spawn failed: " + pid.status().message();
  write_end.Reset();
  std::string output;
  char buf[4096];
  ssize_t n;
  while ((n = read(read_end.get(), buf, sizeof buf)) > 0) output.append(buf, n);
  waitpid(*pid, status, 0);
  return output;
}

// With close_range refused (ENOSYS before Linux 5.9, EPERM under older
// seccomp profiles) an fd without O_CLOEXEC far above the passed ones must
// still not reach the child.
TEST(SpawnTest, ClosesStrayFdsWhenCloseRangeIsRefused) {
  for (int err : {ENOSYS, EPERM}) {
    std::optional<std::string> fds = InChild([err]() -> std::string {
      rlimit limit{1024, 1024};
      if (setrlimit(RLIMIT_NOFILE, &limit) != 0) return "setrlimit failed";
      int devnull = open("/dev/null", O_RDONLY);  // no O_CLOEXEC on purpose
      if (devnull < 0 || dup2(devnull, 1000) != 1000 ||
          dup2(devnull, 40) != 40) {
        return "dup2 failed";
      }
      if (!InstallFilter(SYS_close_range, err)) return "seccomp failed";
      if (syscall(SYS_close_range, 5000, 5001, 0) != -1 || errno != err) {
        return "filter not in effect";
      }
      int status = 0;
      std::string out = SpawnAndRead({}, "ls /proc/$$/fd", &status);
      return out + (WIFEXITED(status) && WEXITSTATUS(status) == 0
                        ? ""
                        : "child failed\n");
    });
    ASSERT_TRUE(fds.has_value()) << "errno " << err;
    std::string list = "\n" + *fds;
    EXPECT_EQ(list.find("\n40\n"), std::string::npos)
        << "errno " << err << ": fd 40 leaked:" << list;
    EXPECT_EQ(list.find("\n1000\n"), std::string::npos)
        << "errno " << err << ": fd 1000 leaked:" << list;
    EXPECT_NE(list.find("\n0\n"), std::string::npos) << list;
  }
}

// Dropping to another user in the vfork child must not go through glibc's
// setgroups/setgid/setuid: with other threads alive those run the
// all-threads credential broadcast (tgkill with SIGSETXID, __SIGRTMIN + 1)
// from inside the child, on the parent's thread list. The filter kills the
// child if it tries; the raw syscalls never do.
TEST(SpawnTest, DropsPrivilegesWithoutTheThreadBroadcast) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to change user";
  std::optional<std::string> out = InChild([]() -> std::string {
    int wake[2];
    if (pipe2(wake, O_CLOEXEC) != 0) return "pipe failed";
    // A second thread: corefork always has some (admin, control, logging).
    std::thread other([fd = wake[0]] {
      char c;
      while (read(fd, &c, 1) < 0 && errno == EINTR) {
      }
    });
    constexpr int kSigSetXid = 33;
    std::string result;
    if (!InstallFilter(SYS_tgkill, 0, kSigSetXid)) {
      result = "seccomp failed";
    } else {
      SpawnOptions options;
      options.uid = 65534;
      options.gid = 65534;
      int status = 0;
      result = SpawnAndRead(options, "id -u; id -g; id -G", &status);
      if (WIFSIGNALED(status)) {
        result +=
            "child killed by signal " + std::to_string(WTERMSIG(status)) + "\n";
      }
    }
    // This thread kept its identity.
    result += "parent uid " + std::to_string(geteuid()) + "\n";
    if (write(wake[1], "x", 1) != 1) result += "wake failed\n";
    other.join();
    return result;
  });
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(*out, "65534\n65534\n65534\nparent uid 0\n");
}

}  // namespace
}  // namespace corefork
