// Drop-in compatibility for apps that were never written for corefork: the
// decision, made once at start-up, whether each worker gets the listen shim
// (LD_PRELOAD, so `listen(PORT)` takes over the slot's socket; ready.mode
// `auto` then means `listen`) and a Node IPC channel (so process.send exists,
// as under PM2). Plain values; main computes the plan, the loop applies it.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"

namespace corefork {

struct CompatPlan {
  std::string shim_path;  // "" = no shim for these workers
  // Why there is no shim although compat.listen is auto ("" when there is
  // one, or when the user turned it off).
  std::string no_shim_reason;
  bool node_ipc = false;
  ReadyMode ready_mode = ReadyMode::kNone;  // never kAuto

  bool shim() const { return !shim_path.empty(); }
};

// Where the shim library is, next to the running corefork binary:
// BIN_DIR/libcorefork-listen.so (build tree), BIN_DIR/../lib/corefork/ (an
// install) or BIN_DIR/../lib/ (the relocatable bundle). "" when absent.
// That is the glibc build; the musl build, libcorefork-listen-musl.so, sits
// in the same directory when it was built (MuslShimBeside).
std::string FindShim();

// The musl build of the shim in the directory of `shim_path` (the glibc
// build), "" when it is not there.
std::string MuslShimBeside(const std::string& shim_path);

// `executable` is config.command[0] resolved; `path_env` the PATH to follow
// `#!/usr/bin/env node` with; `shim_path` what FindShim() returned. The
// shim's build follows the program's ELF interpreter: a musl loader gets
// MuslShimBeside(shim_path), any other loader `shim_path`.
CompatPlan PlanCompat(const Config& config, const std::string& executable,
                      const std::string& path_env,
                      const std::string& shim_path);

// LD_PRELOAD with `library` appended to whatever the user already preloads.
std::string AppendPreload(const std::string& existing,
                          const std::string& library);

// "8080:3,9090:4": each listener's port and the fd the worker gets it at,
// for the shim (COREFORK_SHIM_PORTS).
std::string ShimPorts(const std::vector<int>& ports, int first_fd);

}  // namespace corefork
