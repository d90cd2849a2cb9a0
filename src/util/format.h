// Small formatting helpers shared by log messages and JSON bodies.
#pragma once

#include <chrono>
#include <string>

namespace corefork {

// "250ms" below a second, "1.5s" above.
std::string FormatDuration(std::chrono::milliseconds d);

}  // namespace corefork
