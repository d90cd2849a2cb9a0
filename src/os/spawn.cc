#include "os/spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "os/fd_limit.h"

// 32-bit x86 and ARM keep 16-bit ids in the old syscall numbers.
#ifdef SYS_setresuid32
#define COREFORK_SYS_SETGROUPS SYS_setgroups32
#define COREFORK_SYS_SETRESGID SYS_setresgid32
#define COREFORK_SYS_SETRESUID SYS_setresuid32
#else
#define COREFORK_SYS_SETGROUPS SYS_setgroups
#define COREFORK_SYS_SETRESGID SYS_setresgid
#define COREFORK_SYS_SETRESUID SYS_setresuid
#endif

namespace corefork {
namespace {

// Everything the child needs, prepared before vfork: between vfork and exec
// the child may only call async-signal-safe functions and must not allocate.
struct ChildPlan {
  const char* path;
  char* const* argv;
  char* const* envp;
  const int* pass_fds;
  int* scratch_fds;  // one slot per pass fd
  int pass_count;
  int stdio[3];
  bool new_process_group;
  bool die_with_parent;
  pid_t parent_pid;
  const char* workdir;
  char* pid_digits;
  gid_t gid;
  uid_t uid;
  // Highest fd + 1 to close one by one when close_range fails: the
  // RLIMIT_NOFILE soft limit, read by the parent (getrlimit is fine there).
  int close_limit;
  // The RLIMIT_NOFILE (soft, hard) to give the child back: the limit
  // corefork started with (see os/fd_limit.h); soft RLIM_INFINITY = keep.
  rlimit nofile;
  // Written by the child before it gives up; read by the parent after vfork.
  volatile int error;
  volatile const char* step;
};

[[noreturn]] void ChildFail(ChildPlan* plan, const char* step) {
  plan->error = errno;
  plan->step = step;
  _exit(127);
}

// Writes the decimal pid into `out` (async-signal-safe; no snprintf).
void WritePid(char* out, pid_t pid) {
  char reversed[21];
  int n = 0;
  do {
    reversed[n++] = static_cast<char>('0' + pid % 10);
    pid /= 10;
  } while (pid > 0);
  for (int i = 0; i < n; ++i) out[i] = reversed[n - 1 - i];
  out[n] = '\0';
}

// Moves `fd` above every target slot so placing fds at 3.. never clobbers a
// source that happens to sit in that range.
int MoveHigh(int fd, int floor) { return fcntl(fd, F_DUPFD, floor); }

[[noreturn]] void RunChild(ChildPlan* plan) {
  // Default dispositions before unblocking: an ignored SIGPIPE would survive
  // exec, and no handler of ours may ever run in this shared address space.
  struct sigaction dfl = {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, nullptr);
  }
  if (plan->new_process_group && setpgid(0, 0) != 0) {
    ChildFail(plan, "setpgid");
  }
  if (plan->die_with_parent) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) ChildFail(plan, "prctl");
    // The parent may have died before prctl took effect.
    if (getppid() != plan->parent_pid) _exit(1);
  }
  const int floor = 3 + plan->pass_count;
  int stdio[3];
  for (int i = 0; i < 3; ++i) {
    stdio[i] = plan->stdio[i] >= 0 ? MoveHigh(plan->stdio[i], floor) : -1;
  }
  for (int i = 0; i < plan->pass_count; ++i) {
    plan->scratch_fds[i] = MoveHigh(plan->pass_fds[i], floor);
    if (plan->scratch_fds[i] < 0) ChildFail(plan, "fcntl(F_DUPFD)");
  }
  for (int i = 0; i < 3; ++i) {
    if (stdio[i] >= 0 && dup2(stdio[i], i) < 0) ChildFail(plan, "dup2");
  }
  for (int i = 0; i < plan->pass_count; ++i) {
    if (dup2(plan->scratch_fds[i], 3 + i) < 0) ChildFail(plan, "dup2");
  }
  // Whatever else is open (an HTTP thread's socket made without
  // SOCK_CLOEXEC, say) must not leak into the app. close_range is missing
  // before Linux 5.9 (ENOSYS) and refused by older seccomp profiles (EPERM):
  // then close one by one up to the fd limit (no fd can sit above it, and
  // listing /proc/self/fd would need opendir, which allocates).
  if (close_range(floor, UINT_MAX, 0) != 0) {
    for (int fd = floor; fd < plan->close_limit; ++fd) close(fd);
  }
  if (plan->nofile.rlim_cur != RLIM_INFINITY &&
      syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, &plan->nofile, nullptr) != 0) {
    ChildFail(plan, "setrlimit(RLIMIT_NOFILE)");
  }
  // Raw syscalls, as glibc's own posix_spawn uses: the libc wrappers run the
  // all-threads credential broadcast (setxid), which walks and signals the
  // threads of the corefork process this vfork child shares memory with.
  if (plan->gid != static_cast<gid_t>(-1)) {
    if (syscall(COREFORK_SYS_SETGROUPS, 1, &plan->gid) != 0) {
      ChildFail(plan, "setgroups");
    }
    if (syscall(COREFORK_SYS_SETRESGID, plan->gid, plan->gid, plan->gid) != 0) {
      ChildFail(plan, "setresgid");
    }
  }
  if (plan->uid != static_cast<uid_t>(-1) &&
      syscall(COREFORK_SYS_SETRESUID, plan->uid, plan->uid, plan->uid) != 0) {
    ChildFail(plan, "setresuid");
  }
  if (plan->workdir != nullptr && chdir(plan->workdir) != 0) {
    ChildFail(plan, "chdir");
  }
  if (plan->pid_digits != nullptr) WritePid(plan->pid_digits, getpid());
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  execve(plan->path, plan->argv, plan->envp);
  ChildFail(plan, "execve");
}

// The fd limit the close loop runs to. An unlimited or huge soft limit is
// cut to the kernel's default fs.nr_open (2^20): fds above it are possible
// only after raising nr_open, and a billion close() calls would stall the
// loop for seconds.
int CloseLimit() {
  constexpr rlim_t kMaxLoop = 1 << 20;
  struct rlimit limit {};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return static_cast<int>(kMaxLoop);
  return static_cast<int>(std::min(limit.rlim_cur, kMaxLoop));
}

std::vector<char*> CStrings(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (const std::string& s : strings)
    out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

}  // namespace

Result<pid_t> Spawn(const SpawnOptions& options, SpawnFailure* failure) {
  std::vector<char*> argv = CStrings(options.argv);
  std::vector<char*> envp = CStrings(options.env);
  std::string pid_entry;
  if (!options.pid_env_var.empty()) {
    pid_entry = options.pid_env_var + "=" + std::string(21, '\0');
    envp.insert(envp.end() - 1, pid_entry.data());
  }
  std::vector<int> scratch(options.pass_fds.size());
  ChildPlan plan{};
  plan.path = options.path.c_str();
  plan.argv = argv.data();
  plan.envp = envp.data();
  plan.pass_fds = options.pass_fds.data();
  plan.scratch_fds = scratch.data();
  plan.pass_count = static_cast<int>(options.pass_fds.size());
  plan.stdio[0] = options.stdin_fd;
  plan.stdio[1] = options.stdout_fd;
  plan.stdio[2] = options.stderr_fd;
  plan.new_process_group = options.new_process_group;
  plan.die_with_parent = options.die_with_parent;
  plan.parent_pid = getpid();
  plan.workdir = options.workdir.empty() ? nullptr : options.workdir.c_str();
  plan.gid = options.gid;
  plan.uid = options.uid;
  plan.close_limit = CloseLimit();
  plan.nofile = {OriginalFdLimit(), RLIM_INFINITY};
  if (plan.nofile.rlim_cur != RLIM_INFINITY) {
    rlimit now{};
    getrlimit(RLIMIT_NOFILE, &now);
    plan.nofile.rlim_max = now.rlim_max;
  }
  plan.pid_digits = pid_entry.empty()
                        ? nullptr
                        : pid_entry.data() + options.pid_env_var.size() + 1;

  pid_t pid = vfork();
  if (pid < 0) return PosixError("vfork " + options.path);
  if (pid == 0) RunChild(&plan);

  // vfork returns here once the child has exec'd or exited.
  if (plan.error == 0) return pid;
  int error = plan.error;
  std::string step = const_cast<const char*>(plan.step);
  waitpid(pid, nullptr, 0);
  if (failure != nullptr) *failure = {error, step};
  // Name what the failing step was about: the directory for chdir, else
  // the program.
  return PosixError(
      step + " " + (step == "chdir" ? options.workdir : options.path), error);
}

Result<std::string> ResolveExecutable(const std::string& name,
                                      const std::string& path_env, int* error) {
  auto fail = [&](int err, Status status) -> Result<std::string> {
    if (error != nullptr) *error = err;
    return status;
  };
  if (name.empty()) return fail(ENOENT, Status::NotFound("empty command"));
  if (name.find('/') != std::string::npos) {
    if (access(name.c_str(), X_OK) != 0) return fail(errno, PosixError(name));
    return name;
  }
  // Like execvp: the first PATH entry holding an executable wins; remember a
  // permission problem in case no entry works.
  int last_error = ENOENT;
  size_t start = 0;
  while (start <= path_env.size()) {
    size_t end = path_env.find(':', start);
    if (end == std::string::npos) end = path_env.size();
    std::string dir = path_env.substr(start, end - start);
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    struct stat st;
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      if (access(candidate.c_str(), X_OK) == 0) return candidate;
      last_error = EACCES;
    }
    start = end + 1;
  }
  if (last_error == ENOENT) {
    return fail(ENOENT,
                Status::NotFound(name + ": command not found in PATH (" +
                                 path_env + ")"));
  }
  return fail(last_error, PosixError(name, last_error));
}

int ExitCodeForExecError(int error) {
  return (error == ENOENT || error == ENOTDIR) ? 127 : 126;
}

}  // namespace corefork
