#include "os/executable.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "os/fd.h"
#include "os/spawn.h"

namespace corefork {
namespace {

// Bounds for what is read from a file that may be anything.
constexpr size_t kMaxTable = 64 * 1024;  // program/section headers, names
constexpr size_t kMaxShebang = 256;

bool ReadAt(int fd, void* out, size_t size, off_t offset) {
  return size <= kMaxTable &&
         pread(fd, out, size, offset) == static_cast<ssize_t>(size);
}

std::string Trim(const std::string& s) {
  size_t begin = s.find_first_not_of(" \t");
  if (begin == std::string::npos) return "";
  size_t end = s.find_last_not_of(" \t\r");
  return s.substr(begin, end - begin + 1);
}

// Whether any section is named like Go's build info or build id.
bool HasGoSections(int fd, const Elf64_Ehdr& eh) {
  if (eh.e_shoff == 0 || eh.e_shentsize != sizeof(Elf64_Shdr) ||
      eh.e_shstrndx >= eh.e_shnum) {
    return false;
  }
  std::vector<Elf64_Shdr> sections(eh.e_shnum);
  if (!ReadAt(fd, sections.data(), sections.size() * sizeof(Elf64_Shdr),
              static_cast<off_t>(eh.e_shoff))) {
    return false;
  }
  const Elf64_Shdr& names = sections[eh.e_shstrndx];
  std::vector<char> table(std::min<size_t>(names.sh_size, kMaxTable) + 1, 0);
  if (!ReadAt(fd, table.data(), table.size() - 1,
              static_cast<off_t>(names.sh_offset))) {
    return false;
  }
  for (const Elf64_Shdr& s : sections) {
    if (s.sh_name >= table.size() - 1) continue;
    const char* name = table.data() + s.sh_name;
    if (std::strcmp(name, ".go.buildinfo") == 0 ||
        std::strcmp(name, ".note.go.buildid") == 0) {
      return true;
    }
  }
  return false;
}

Result<ExecutableInfo> InspectElf(int fd, const std::string& path) {
  Elf64_Ehdr eh;
  if (!ReadAt(fd, &eh, sizeof eh, 0) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
      eh.e_phentsize != sizeof(Elf64_Phdr)) {
    return Status::InvalidArgument(
        path + ": not a 64-bit ELF binary for this machine");
  }
  ExecutableInfo info;
  std::vector<Elf64_Phdr> headers(eh.e_phnum);
  if (!ReadAt(fd, headers.data(), headers.size() * sizeof(Elf64_Phdr),
              static_cast<off_t>(eh.e_phoff))) {
    return Status::InvalidArgument(path + ": truncated ELF program headers");
  }
  for (const Elf64_Phdr& ph : headers) {
    if (ph.p_type != PT_INTERP || ph.p_filesz == 0 || ph.p_filesz > 4096) {
      continue;
    }
    std::string interp(ph.p_filesz, '\0');
    if (ReadAt(fd, interp.data(), interp.size(),
               static_cast<off_t>(ph.p_offset))) {
      info.interpreter = interp.c_str();  // drop the trailing NUL
    }
  }
  info.go = HasGoSections(fd, eh);
  return info;
}

}  // namespace

Result<ExecutableInfo> InspectExecutable(const std::string& path) {
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!fd.valid()) return PosixError(path);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return PosixError(path);
  if (S_ISDIR(st.st_mode))
    return Status::InvalidArgument(path + ": is a directory");
  if (!S_ISREG(st.st_mode))
    return Status::InvalidArgument(path + ": not a regular file");
  char head[kMaxShebang + 1] = {};
  ssize_t n = pread(fd.get(), head, kMaxShebang, 0);
  if (n >= 4 && std::memcmp(head, ELFMAG, SELFMAG) == 0) {
    return InspectElf(fd.get(), path);
  }
  if (n >= 2 && head[0] == '#' && head[1] == '!') {
    std::string line(head + 2, static_cast<size_t>(n) - 2);
    line = Trim(line.substr(0, line.find('\n')));
    ExecutableInfo info;
    info.kind = ExecutableInfo::Kind::kScript;
    size_t space = line.find_first_of(" \t");
    info.script_program = line.substr(0, space);
    if (space != std::string::npos) {
      info.script_argument = Trim(line.substr(space));
    }
    return info;
  }
  return Status::InvalidArgument(
      path + ": not an ELF binary or a script starting with #!");
}

PreloadLibc PreloadTarget(const std::string& path, const std::string& path_env,
                          std::string* why) {
  std::string current = path;
  for (int depth = 0; depth < 4; ++depth) {
    Result<ExecutableInfo> info = InspectExecutable(current);
    if (!info.ok()) {
      *why = info.status().message();
      return PreloadLibc::kNone;
    }
    if (info->kind == ExecutableInfo::Kind::kElf) {
      // Go first: a cgo binary has a loader, yet its net package still
      // calls the kernel directly.
      if (info->go) {
        *why = "a Go binary (Go calls the kernel, not libc)";
        return PreloadLibc::kNone;
      }
      if (!info->dynamic()) {
        *why = "statically linked";
        return PreloadLibc::kNone;
      }
      return info->musl() ? PreloadLibc::kMusl : PreloadLibc::kGlibc;
    }
    // `#!/usr/bin/env node`: what matters is the program env runs.
    std::string next = info->script_program;
    if (next.ends_with("/env") && !info->script_argument.empty() &&
        info->script_argument.front() != '-') {
      Result<std::string> resolved =
          ResolveExecutable(info->script_argument.substr(
                                0, info->script_argument.find_first_of(" \t")),
                            path_env);
      if (resolved.ok()) next = *resolved;
    }
    current = next;
  }
  *why = "too many #! levels";
  return PreloadLibc::kNone;
}

bool CanPreload(const std::string& path, const std::string& path_env,
                std::string* why) {
  PreloadLibc libc = PreloadTarget(path, path_env, why);
  if (libc == PreloadLibc::kMusl)
    *why = "linked against musl (the shim is built for glibc)";
  return libc == PreloadLibc::kGlibc;
}

}  // namespace corefork
