#include "util/format.h"

#include <fmt/format.h>

namespace corefork {

std::string FormatMiB(uint64_t bytes) {
  return fmt::format("{} MiB", (bytes + (1u << 19)) >> 20);
}

std::string FormatDuration(std::chrono::milliseconds d) {
  if (d.count() < 1000) return std::to_string(d.count()) + "ms";
  return fmt::format("{:.1f}s", static_cast<double>(d.count()) / 1000.0);
}

}  // namespace corefork
