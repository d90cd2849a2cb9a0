#include "os/trim.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

namespace corefork {
namespace {

// Private clean (file-backed, mapped by this process only) resident kB of every
// mapping of `library` (smaps). MADV_PAGEOUT leaves pages that other processes
// map too, such as a test running in parallel: only private pages can be
// asserted on.
long PrivateResidentKb(const std::string& library) {
  std::ifstream smaps("/proc/self/smaps");
  long total = 0;
  bool in_library = false;
  for (std::string line; std::getline(smaps, line);) {
    if (!line.empty() && std::isxdigit(static_cast<unsigned char>(line[0])) &&
        line.find('-') != std::string::npos &&
        line.find(' ') > line.find('-')) {
      in_library = line.find(library) != std::string::npos;
    } else if (in_library && line.rfind("Private_Clean:", 0) == 0) {
      total += std::stol(line.substr(line.find(':') + 1));
    }
  }
  return total;
}

TEST(TrimTest, DropsTheTlsLibraryPagesFromRss) {
  // This binary links libcpp-httplib like corefork, so libcrypto is mapped
  // and its start-up code has run.
  const long before = PrivateResidentKb("/libcrypto.so");
  EXPECT_GT(ReleaseStartupOnlyLibraries(), 0u);
  const long after = PrivateResidentKb("/libcrypto.so");
  if (before < 256) {
    GTEST_SKIP() << "only " << before << " kB of libcrypto are private to this "
                 << "process (others map it too); nothing to measure";
  }
  EXPECT_LT(after, before / 2)
      << "before " << before << " kB, after " << after << " kB";
}

}  // namespace
}  // namespace corefork
