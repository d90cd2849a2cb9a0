// Test helper: a copy of an ELF executable whose PT_INTERP names another
// loader. Only the headers matter to InspectExecutable and PlanCompat, and
// rewriting them needs neither musl-gcc nor patchelf. Header-only, for the
// tests of os/ and the modules above it.
#pragma once

#include <elf.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>

namespace corefork {

// The bytes of `source` (a 64-bit ELF file) with its PT_INTERP set to
// `interp`, or nullopt when it cannot be read, has no PT_INTERP, or `interp`
// does not fit in the original's place.
inline std::optional<std::string> WithInterpreter(const std::string& source,
                                                  const std::string& interp) {
  std::ifstream in(source, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)),
                    std::istreambuf_iterator<char>());
  Elf64_Ehdr eh;
  if (bytes.size() < sizeof eh) return std::nullopt;
  std::memcpy(&eh, bytes.data(), sizeof eh);
  bool rewritten = false;
  for (int i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph;
    const size_t at = eh.e_phoff + i * sizeof ph;
    if (at + sizeof ph > bytes.size()) return std::nullopt;
    std::memcpy(&ph, bytes.data() + at, sizeof ph);
    if (ph.p_type != PT_INTERP) continue;
    if (interp.size() >= ph.p_filesz ||
        ph.p_offset + ph.p_filesz > bytes.size()) {
      return std::nullopt;
    }
    std::memset(bytes.data() + ph.p_offset, 0, ph.p_filesz);
    std::memcpy(bytes.data() + ph.p_offset, interp.data(), interp.size());
    rewritten = true;
  }
  if (!rewritten) return std::nullopt;
  return bytes;
}

}  // namespace corefork
