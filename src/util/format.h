// Small formatting helpers shared by log messages and JSON bodies.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace corefork {

// "250ms" below a second, "1.5s" above.
std::string FormatDuration(std::chrono::milliseconds d);

// Bytes as whole mebibytes, rounded: "12 MiB".
std::string FormatMiB(uint64_t bytes);

}  // namespace corefork
