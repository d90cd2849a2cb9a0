// What kind of program a path holds, read from its first bytes: an ELF binary
// (dynamically linked or static, glibc or musl, Go), a script (#!), or
// neither. corefork asks before binding any port, so a directory or a file
// the kernel cannot exec fails fast with 126, and so it knows whether an
// LD_PRELOAD library can reach the app at all. Pure reads; any thread.
#pragma once

#include <string>

#include "util/status.h"

namespace corefork {

struct ExecutableInfo {
  enum class Kind { kElf, kScript };
  Kind kind = Kind::kElf;
  // ELF: the PT_INTERP path ("" = statically linked, no dynamic loader).
  std::string interpreter;
  bool go = false;  // built by Go: calls the kernel directly, not libc
  // Script: the #! line's program and its first argument ("/usr/bin/env",
  // "node").
  std::string script_program;
  std::string script_argument;

  bool dynamic() const { return kind == Kind::kElf && !interpreter.empty(); }
  bool musl() const { return interpreter.find("ld-musl") != std::string::npos; }
};

// Errors read like "/app: is a directory" or "/app: not an ELF binary or a
// script starting with #!"; both mean exit code 126.
Result<ExecutableInfo> InspectExecutable(const std::string& path);

// Which libc an LD_PRELOAD library must be built for to be loaded into the
// program that `path` finally runs: follows #! (and `/usr/bin/env NAME`
// through `path_env`) up to a few levels, then reads that ELF's PT_INTERP. A
// musl loader (/lib/ld-musl-<arch>.so.1) means kMusl; any other loader
// kGlibc. kNone when no loader reads LD_PRELOAD at all; *why then says what
// stands in the way ("statically linked", "a Go binary").
enum class PreloadLibc { kNone, kGlibc, kMusl };
PreloadLibc PreloadTarget(const std::string& path, const std::string& path_env,
                          std::string* why);

// Whether a glibc LD_PRELOAD library is loaded into that program:
// PreloadTarget() == kGlibc, with *why "linked against musl (...)" for kMusl.
bool CanPreload(const std::string& path, const std::string& path_env,
                std::string* why);

}  // namespace corefork
