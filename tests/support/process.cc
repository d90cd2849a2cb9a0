#include "support/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "support/proc.h"

extern char** environ;

namespace corefork::harness {

namespace {

std::string ResolveInPath(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return name;  // exec reports ENOENT
}

int ExitCodeOf(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Child side of Process: only async-signal-safe calls, ends in exec or _exit.
[[noreturn]] void ExecChild(int out_fd, int err_fd, int null_fd, int report_fd,
                            const char* file, char* const* argv,
                            char* const* envp) {
  setpgid(0, 0);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  sigset_t empty;
  sigemptyset(&empty);
  sigprocmask(SIG_SETMASK, &empty, nullptr);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &dfl, nullptr);
  dup2(null_fd, 0);
  dup2(out_fd, 1);
  dup2(err_fd, 2);
  // No stray fd of the test runner may reach corefork: it is corefork's own
  // fds the tests check. Keep only the CLOEXEC report pipe.
  if (report_fd > 3) close_range(3, report_fd - 1, 0);
  close_range(report_fd + 1, ~0U, 0);
  execve(file, argv, envp);
  int err = errno;
  (void)!write(report_fd, &err, sizeof err);
  _exit(127);
}

}  // namespace

Process::Process(std::vector<std::string> argv,
                 const std::map<std::string, std::string>& env)
    : argv_(std::move(argv)) {
  if (argv_.empty()) {
    error_ = "empty argv";
    return;
  }
  std::string file = ResolveInPath(argv_[0]);

  // Everything the child needs is built before fork.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    std::string key = kv.substr(0, kv.find('='));
    if (!env.count(key)) env_strings.push_back(kv);
  }
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> cargv, cenv;
  for (auto& a : argv_) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  for (auto& e : env_strings) cenv.push_back(e.data());
  cenv.push_back(nullptr);

  const int flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC;
  int out_fd = open(logs_.Path("stdout").c_str(), flags, 0644);
  int err_fd = open(logs_.Path("stderr").c_str(), flags, 0644);
  int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  int report[2];
  if (out_fd < 0 || err_fd < 0 || null_fd < 0 || pipe2(report, O_CLOEXEC)) {
    error_ = Errno("opening child files");
    for (int fd : {out_fd, err_fd, null_fd}) {
      if (fd >= 0) close(fd);
    }
    return;
  }

  // Owned from its first instant: no other thread's orphan sweep in between.
  std::unique_lock<std::recursive_mutex> owning = HoldOwnedPids();
  pid_t pid = fork();
  if (pid == 0) {
    ExecChild(out_fd, err_fd, null_fd, report[1], file.c_str(), cargv.data(),
              cenv.data());
  }
  int fork_errno = errno;
  close(out_fd);
  close(err_fd);
  close(null_fd);
  close(report[1]);
  if (pid < 0) {
    close(report[0]);
    error_ = Errno("fork", fork_errno);
    return;
  }
  setpgid(pid, pid);  // also here, so the group exists before we signal it
  pid_ = pid;
  MarkOwned(pid_);
  owning.unlock();

  int child_errno = 0;
  ssize_t n;
  do {
    n = read(report[0], &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  close(report[0]);
  if (n == sizeof child_errno) {
    error_ = Errno("exec " + file, child_errno);
    WaitExit(Millis(5000));
    pid_ = -1;
  }
}

Process::~Process() { Kill(); }

std::string Process::CommandLine() const {
  std::string s;
  for (const auto& a : argv_) {
    if (!s.empty()) s += ' ';
    s += a;
  }
  return s;
}

bool Process::Signal(int sig) {
  if (pid_ <= 0 || reaped_) return false;
  return kill(pid_, sig) == 0;
}

bool Process::Running() {
  if (pid_ <= 0 || reaped_) return false;
  int status;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    reaped_ = true;
    exit_code_ = ExitCodeOf(status);
    UnmarkOwned(pid_);
    return false;
  }
  if (r < 0 && errno == ECHILD) {
    reaped_ = true;  // reaped elsewhere; status unknown
    UnmarkOwned(pid_);
    return false;
  }
  return true;
}

std::optional<int> Process::WaitExit(Millis timeout) {
  if (pid_ <= 0 && exit_code_) return exit_code_;
  PollUntil([&] { return !Running(); }, timeout, Millis(10));
  return exit_code_;
}

std::string Process::Stdout() const { return ReadFile(logs_.Path("stdout")); }
std::string Process::Stderr() const { return ReadFile(logs_.Path("stderr")); }

void Process::Kill() {
  if (pid_ <= 0) return;
  // Snapshot the tree first: once the root dies its children re-parent.
  std::vector<pid_t> tree =
      reaped_ ? std::vector<pid_t>{} : DescendantsOf(pid_);
  if (!reaped_) {
    kill(pid_, SIGKILL);
    kill(-pid_, SIGKILL);
    for (pid_t p : tree) kill(p, SIGKILL);
    int status;
    if (waitpid(pid_, &status, 0) == pid_) exit_code_ = ExitCodeOf(status);
    reaped_ = true;
  }
  UnmarkOwned(pid_);
  // Orphans come to us (subreaper): kill and reap them, bounded. Anything
  // spawned after the snapshot is one of our unowned children by now.
  PollUntil(
      [&] {
        auto hold = HoldOwnedPids();
        for (pid_t child : ChildrenOf(getpid())) {
          if (!IsOwned(child)) kill(child, SIGKILL);
        }
        ReapOrphans();
        for (pid_t child : ChildrenOf(getpid())) {
          if (!IsOwned(child)) return false;
        }
        return std::all_of(tree.begin(), tree.end(),
                           [](pid_t p) { return GoneOrZombie(p); });
      },
      Millis(3000));
  ReapOrphans();
  pid_ = -1;
}

}  // namespace corefork::harness
