#include "os/trim.h"

#include <sys/mman.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21  // Linux 5.4
#endif

namespace corefork {
namespace {

bool StartupOnly(const std::string& path) {
  for (const char* name :
       {"/libyaml-cpp.so", "/libcrypto.so", "/libssl.so", "/libbrotlienc.so",
        "/libbrotlidec.so", "/libbrotlicommon.so", "/libz.so"}) {
    if (path.find(name) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

size_t ReleaseStartupOnlyLibraries() {
  std::ifstream maps("/proc/self/maps");
  size_t advised = 0;
  for (std::string line; std::getline(maps, line);) {
    std::istringstream in(line);
    std::string range, perms, offset, dev, inode, path;
    in >> range >> perms >> offset >> dev >> inode >> path;
    if (path.empty() || !StartupOnly(path)) continue;
    unsigned long start = 0, end = 0;
    if (std::sscanf(range.c_str(), "%lx-%lx", &start, &end) != 2) continue;
    void* addr = reinterpret_cast<void*>(start);
    if (madvise(addr, end - start, MADV_PAGEOUT) == 0) advised += end - start;
  }
  return advised;
}

}  // namespace corefork
