#include "os/trim.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

namespace corefork {
namespace {

// Resident kB of every mapping of `library` in this process (smaps).
long ResidentKb(const std::string& library) {
  std::ifstream smaps("/proc/self/smaps");
  long total = 0;
  bool in_library = false;
  for (std::string line; std::getline(smaps, line);) {
    if (!line.empty() && std::isxdigit(static_cast<unsigned char>(line[0])) &&
        line.find('-') != std::string::npos &&
        line.find(' ') > line.find('-')) {
      in_library = line.find(library) != std::string::npos;
    } else if (in_library && line.rfind("Rss:", 0) == 0) {
      total += std::stol(line.substr(4));
    }
  }
  return total;
}

TEST(TrimTest, DropsTheTlsLibraryPagesFromRss) {
  // This binary links libcpp-httplib like corefork, so libcrypto is mapped
  // and its start-up code has run.
  const long before = ResidentKb("/libcrypto.so");
  if (before == 0) GTEST_SKIP() << "libcrypto is not mapped in this build";
  EXPECT_GT(ReleaseStartupOnlyLibraries(), 0u);
  const long after = ResidentKb("/libcrypto.so");
  EXPECT_LT(after, before / 2)
      << "before " << before << " kB, after " << after << " kB";
}

}  // namespace
}  // namespace corefork
