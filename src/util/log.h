// Logging setup: spdlog to stderr, as plain text for people or one JSON
// object per line for log collectors. Call once from main before any thread
// starts; afterwards use spdlog::info(...) etc. from any thread.
#pragma once

#include <string>

#include "config/config.h"
#include "util/status.h"

namespace corefork {

Status SetupLogging(LogFormat format, const std::string& level);

// Escapes `s` for use inside a JSON string literal (no surrounding quotes).
std::string JsonEscape(const std::string& s);

}  // namespace corefork
