#include "supervisor/compat.h"

#include <unistd.h>

#include <climits>

#include "os/executable.h"

namespace corefork {
namespace {

constexpr const char* kShimName = "libcorefork-listen.so";
// The same source built with musl-gcc: musl's loader cannot load the glibc
// build (it needs libc.so.6 and glibc's symbol versions), nor glibc's the
// musl one.
constexpr const char* kMuslShimName = "libcorefork-listen-musl.so";

std::string DirOfSelf() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "";
  std::string path(buf, static_cast<size_t>(n));
  return path.substr(0, path.rfind('/'));
}

std::string BaseName(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool IsNodeLauncher(const std::string& argv0) {
  const std::string name = BaseName(argv0);
  return name == "node" || name == "nodejs" || name == "npm" || name == "npx" ||
         name == "yarn";
}

}  // namespace

std::string FindShim() {
  const std::string dir = DirOfSelf();
  if (dir.empty()) return "";
  for (const char* sub : {"/", "/../lib/corefork/", "/../lib/"}) {
    std::string candidate = dir + sub + kShimName;
    if (access(candidate.c_str(), R_OK) == 0) {
      char real[PATH_MAX];
      if (realpath(candidate.c_str(), real) != nullptr) return real;
      return candidate;
    }
  }
  return "";
}

std::string MuslShimBeside(const std::string& shim_path) {
  size_t slash = shim_path.rfind('/');
  if (shim_path.empty() || slash == std::string::npos) return "";
  std::string candidate = shim_path.substr(0, slash + 1) + kMuslShimName;
  return access(candidate.c_str(), R_OK) == 0 ? candidate : "";
}

CompatPlan PlanCompat(const Config& config, const std::string& executable,
                      const std::string& path_env,
                      const std::string& shim_path) {
  CompatPlan plan;
  if (config.compat.listen == CompatListen::kAuto) {
    std::string why;
    if (shim_path.empty()) {
      plan.no_shim_reason =
          "the listen shim (libcorefork-listen.so) is not installed next to "
          "corefork";
    } else {
      switch (PreloadTarget(executable, path_env, &why)) {
        case PreloadLibc::kNone:
          plan.no_shim_reason = executable + " is " + why;
          break;
        case PreloadLibc::kGlibc:
          plan.shim_path = shim_path;
          break;
        case PreloadLibc::kMusl:
          plan.shim_path = MuslShimBeside(shim_path);
          if (plan.shim_path.empty()) {
            plan.no_shim_reason =
                executable +
                " is linked against musl, and the musl build of the listen "
                "shim (" +
                kMuslShimName + ") is not installed next to corefork";
          }
          break;
      }
    }
  }
  plan.node_ipc =
      config.compat.node_ipc == NodeIpc::kOn ||
      (config.compat.node_ipc == NodeIpc::kAuto && !config.command.empty() &&
       IsNodeLauncher(config.command[0]));
  plan.ready_mode = config.ready.mode;
  if (plan.ready_mode == ReadyMode::kAuto) {
    plan.ready_mode = plan.shim() ? ReadyMode::kListen : ReadyMode::kNone;
  }
  return plan;
}

std::string AppendPreload(const std::string& existing,
                          const std::string& library) {
  if (existing.empty()) return library;
  return existing + ":" + library;
}

std::string ShimPorts(const std::vector<int>& ports, int first_fd) {
  std::string out;
  for (size_t i = 0; i < ports.size(); ++i) {
    if (!out.empty()) out += ',';
    out += std::to_string(ports[i]) + ":" +
           std::to_string(first_fd + static_cast<int>(i));
  }
  return out;
}

}  // namespace corefork
