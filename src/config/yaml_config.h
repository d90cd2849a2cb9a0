// The config-file half of LoadConfig: walks one YAML document over a Config,
// reporting every problem with file:line:col and the key path, and records
// where listeners and sizing limits were set so CheckClashes can point at
// them. Catches every yaml-cpp exception. Pure; any thread.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"
#include "config/validate.h"

namespace corefork {

// ApplyYaml without the cross-field checks (CheckClashes runs once all is
// merged). Returns false only when the text is not YAML at all (syntax
// error): then nothing was applied. Schema problems are appended to *errors
// either way.
bool ParseYaml(const std::string& text, const std::string& file_name,
               Config* config, Origins* origins,
               std::vector<ConfigError>* errors);

}  // namespace corefork
