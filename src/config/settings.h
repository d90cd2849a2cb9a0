// The settings that COREFORK_* variables and command-line flags can override,
// in one table: config-file key, variable, flag, and the parser that applies
// a raw value to a Config. The config file uses the same parsers, so a value
// means the same thing wherever it is written. Immutable; any thread.
#pragma once

#include <span>
#include <string_view>

#include "config/config.h"
#include "util/status.h"

namespace corefork {

struct Setting {
  std::string_view key;      // override key, e.g. "drain_delay"
  std::string_view env_var;  // "COREFORK_DRAIN_DELAY"
  std::string_view flag;     // "--drain-delay"
  // Parses `value` into *config; the Status says what was expected.
  Status (*apply)(std::string_view value, Config* config);
};

// Every overridable setting, in the order --help lists them.
std::span<const Setting> Settings();

// The setting with this key, env var or flag name; nullptr if none.
const Setting* FindSettingByKey(std::string_view key);
const Setting* FindSettingByEnvVar(std::string_view env_var);
const Setting* FindSettingByFlag(std::string_view flag);

}  // namespace corefork
