#include "os/runtime_paths.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "os/fd.h"

namespace corefork {
namespace {

constexpr mode_t kNoGroupOrOther = 077;
constexpr mode_t kNoGroupOrOtherWrite = 022;

struct DefaultDir {
  std::string path;
  mode_t forbidden_mode = kNoGroupOrOther;
};

DefaultDir ChooseDefaultDirectory() {
  const uid_t uid = geteuid();
  // Only root (or whoever may write /run) can create /run/corefork, so a
  // world-readable one made by an image build is fine; it must not be
  // writable by others.
  if (access("/run", W_OK) == 0) {
    return {"/run/corefork", kNoGroupOrOtherWrite};
  }
  if (CheckPrivateDirectory("/run/corefork", uid, kNoGroupOrOther).ok()) {
    return {"/run/corefork", kNoGroupOrOther};
  }
  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  if (xdg != nullptr && xdg[0] == '/' &&
      CheckPrivateDirectory(xdg, uid, kNoGroupOrOther).ok()) {
    std::string base = xdg;
    if (base.size() > 1 && base.back() == '/') base.pop_back();
    return {base + "/corefork", kNoGroupOrOther};
  }
  const char* tmp = std::getenv("TMPDIR");
  std::string base = tmp != nullptr && tmp[0] == '/' ? tmp : "/tmp";
  if (base.size() > 1 && base.back() == '/') base.pop_back();
  return {base + "/corefork-" + std::to_string(uid), kNoGroupOrOther};
}

// mkdir -p, new directories private to corefork's user.
Status MakeDirectories(const std::string& dir) {
  for (size_t slash = dir.find('/', 1);; slash = dir.find('/', slash + 1)) {
    std::string prefix = dir.substr(0, slash);
    if (mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) {
      return PosixError("mkdir " + prefix);
    }
    if (slash == std::string::npos) return Status::Ok();
  }
}

// A corefork that was SIGKILLed could not remove its notify socket: remove
// those whose process is gone, so the directory does not fill up over time.
void RemoveStaleNotifySockets(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return;
  while (dirent* entry = readdir(d)) {
    long pid = 0;
    char tail[8] = {};
    if (std::sscanf(entry->d_name, "notify-%ld.sock%7s", &pid, tail) != 1 ||
        pid <= 0) {
      continue;
    }
    if (kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) {
      unlinkat(dirfd(d), entry->d_name, 0);
    }
  }
  closedir(d);
}

}  // namespace

Status CheckPrivateDirectory(const std::string& dir, uid_t uid,
                             mode_t forbidden_mode) {
  Fd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    int err = errno;
    struct stat lst {};
    if ((err == ELOOP || err == ENOTDIR) && lstat(dir.c_str(), &lst) == 0) {
      if (S_ISLNK(lst.st_mode)) {
        return Status::FailedPrecondition(
            fmt::format("runtime directory {} is a symlink", dir));
      }
      return Status::FailedPrecondition(
          fmt::format("runtime directory {} is not a directory", dir));
    }
    return PosixError("runtime directory " + dir, err);
  }
  // fstat on the fd we opened: no window for a swap between check and use
  // of the name's target.
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) return PosixError("fstat " + dir);
  if (st.st_uid != uid) {
    return Status::FailedPrecondition(
        fmt::format("runtime directory {} is owned by uid {}, not by "
                    "corefork's uid {}",
                    dir, st.st_uid, uid));
  }
  if ((st.st_mode & forbidden_mode) != 0) {
    return Status::FailedPrecondition(fmt::format(
        "runtime directory {} has mode {:04o}; it must not grant {} (e.g. "
        "0700)",
        dir, st.st_mode & 07777,
        forbidden_mode == kNoGroupOrOtherWrite
            ? "write access to group or others"
            : "any access to group or others"));
  }
  return Status::Ok();
}

std::string DefaultControlSocketPath() {
  return ChooseDefaultDirectory().path + "/control.sock";
}

Result<RuntimePaths> PrepareRuntimePaths(const std::string& control_socket) {
  RuntimePaths paths;
  const char* env = std::getenv("COREFORK_CONTROL_SOCKET");
  std::string dir;
  if (!control_socket.empty() || (env != nullptr && *env == '/')) {
    paths.control_socket = !control_socket.empty() ? control_socket : env;
    dir = paths.control_socket.substr(0, paths.control_socket.rfind('/'));
    if (dir.empty()) dir = "/";
    Status s = MakeDirectories(dir);
    if (!s.ok()) return s;
  } else {
    DefaultDir chosen = ChooseDefaultDirectory();
    dir = chosen.path;
    paths.control_socket = dir + "/control.sock";
    Status s = MakeDirectories(dir);
    if (!s.ok()) return s;
    s = CheckPrivateDirectory(dir, geteuid(), chosen.forbidden_mode);
    if (!s.ok()) {
      return Status::FailedPrecondition(fmt::format(
          "{}: another user could replace corefork's sockets there; remove "
          "it, or set control.socket (COREFORK_CONTROL_SOCKET) to a path in a "
          "directory only corefork's user can write",
          s.message()));
    }
  }
  RemoveStaleNotifySockets(dir);
  paths.notify_socket =
      (dir == "/" ? "" : dir) + "/notify-" + std::to_string(getpid()) + ".sock";
  constexpr size_t kMaxUnixPath = 107;
  if (paths.notify_socket.size() > kMaxUnixPath) {
    return Status::FailedPrecondition("socket directory path too long: " + dir);
  }
  return paths;
}

}  // namespace corefork
