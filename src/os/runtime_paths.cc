#include "os/runtime_paths.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace corefork {
namespace {

std::string DefaultDirectory() {
  if (access("/run", W_OK) == 0) return "/run/corefork";
  const char* tmp = std::getenv("TMPDIR");
  return std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") +
         "/corefork-" + std::to_string(geteuid());
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

Result<RuntimePaths> PrepareRuntimePaths(const Config& config) {
  RuntimePaths paths;
  const char* env = std::getenv("COREFORK_CONTROL_SOCKET");
  if (!config.control.socket.empty()) {
    paths.control_socket = config.control.socket;
  } else if (env != nullptr && *env == '/') {
    paths.control_socket = env;
  } else {
    paths.control_socket = DefaultDirectory() + "/control.sock";
  }
  std::string dir =
      paths.control_socket.substr(0, paths.control_socket.rfind('/'));
  if (dir.empty()) dir = "/";
  Status s = MakeDirectories(dir);
  if (!s.ok()) return s;
  RemoveStaleNotifySockets(dir);
  paths.notify_socket =
      (dir == "/" ? "" : dir) + "/notify-" + std::to_string(getpid()) + ".sock";
  constexpr size_t kMaxUnixPath = 107;
  if (paths.notify_socket.size() > kMaxUnixPath) {
    return Status::Error("socket directory path too long: " + dir);
  }
  return paths;
}

}  // namespace corefork
