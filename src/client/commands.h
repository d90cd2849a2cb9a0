// The client commands (`corefork status`, `reload`, `scale`, `jobs`, `run`,
// `cancel`, `probe`; docs/cli.md): one or a few bounded HTTP requests to a
// running corefork's control socket or admin port, printed for people (or
// as JSON). Called from main on its only thread; blocks until done.
#pragma once

#include "config/config.h"

namespace corefork {

// The client's exit codes (docs/exit-codes.md, "Client commands").
enum class ClientExit : int {
  kOk = 0,
  kFailed = 1,  // corefork said no, a run did not succeed, a probe failed
  kUsage = 2,   // bad arguments, config or --input
  // Nothing answers at the control socket or admin port (no socket file,
  // connection refused, permission denied, no answer in time): 69, sysexits'
  // EX_UNAVAILABLE, apart from corefork's own codes 3-5.
  kUnreachable = 69,
};

// Limits of the client (documented in docs/cli.md).
inline constexpr int kRequestTimeoutMs = 5'000;
inline constexpr int kProbeTimeoutMs = 2'000;
inline constexpr int kRunWaitLimitHours = 24;
inline constexpr int kReloadWaitLimitMinutes = 30;
inline constexpr size_t kMaxInputBytes = 1024 * 1024;  // control body limit

// Runs invocation.client against the corefork `config` points at (loaded
// as the server loads it: --config / $COREFORK_CONFIG, environment,
// --admin). Prints results to stdout and one-line errors to stderr.
int RunClientCommand(const Invocation& invocation, const Config& config);

}  // namespace corefork
