// LoadConfig and ConfigError (declared in config/config.h): merges defaults <
// config file < COREFORK_* environment < flags, then runs the checks that
// need the merged result. The pieces live beside it: yaml_config.cc (file),
// settings.cc (what env and flags can set), validate.cc (cross-field checks).

#include "config/config.h"

#include <fmt/format.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "config/settings.h"
#include "config/validate.h"
#include "config/yaml_config.h"
#include "util/file.h"
#include "util/status.h"

namespace corefork {
namespace {

// A config file is a few kilobytes; the cap stops `--config /dev/zero`-like
// mistakes and a runaway generated file. FIFOs and devices are refused
// outright (ReadFileBounded), so reading never blocks start-up.
constexpr size_t kMaxConfigBytes = 1 << 20;

Result<std::string> ReadConfigFile(const std::string& path) {
  Result<std::string> text = ReadFileBounded(path, kMaxConfigBytes);
  if (!text.ok()) return text.status().Wrap("cannot read");
  return text;
}

// COREFORK_* variables with a non-empty value. An empty value counts as
// unset, as `VAR=` from an unset compose/Helm substitution usually means.
// The first of duplicate entries wins, as with getenv().
std::map<std::string, std::string> CoreforkVariables(
    const std::vector<std::string>& environ_vars) {
  std::map<std::string, std::string> vars;
  for (const std::string& entry : environ_vars) {
    size_t eq = entry.find('=');
    if (eq == std::string::npos || !entry.starts_with("COREFORK_")) continue;
    if (eq + 1 == entry.size()) continue;
    vars.emplace(entry.substr(0, eq), entry.substr(eq + 1));
  }
  return vars;
}

// Applies one override; `at` names its source for messages and for
// CheckClashes, which blames clashing listeners on whoever set them.
void ApplyOverride(const Setting& setting, const std::string& value,
                   const Origin& at, Config* config, Origins* origins,
                   std::vector<ConfigError>* errors) {
  Status status = setting.apply(value, config);
  if (!status.ok()) {
    errors->push_back(ErrorAt(at, status.message()));
    return;
  }
  if (setting.key == "port" || setting.key == "host") {
    origins->listeners.resize(config->listeners.size());
    origins->listeners[0] = at;
  } else if (setting.key == "admin") {
    origins->admin = at;
  }
}

void ApplyEnvironment(const std::map<std::string, std::string>& vars,
                      Config* config, Origins* origins,
                      std::vector<ConfigError>* errors) {
  // Table order, not environ order, so messages come out the same each run.
  // Unknown COREFORK_* names are ignored: workers get COREFORK_WORKER_ID...
  for (const Setting& setting : Settings()) {
    auto it = vars.find(std::string(setting.env_var));
    if (it == vars.end()) continue;
    Origin at{"environment", 0, 0, std::string(setting.env_var)};
    ApplyOverride(setting, it->second, at, config, origins, errors);
  }
}

void ApplyFlags(const Invocation& invocation, Config* config, Origins* origins,
                std::vector<ConfigError>* errors) {
  for (const auto& [key, value] : invocation.flag_overrides) {
    const Setting* setting = FindSettingByKey(key);
    if (setting == nullptr) {
      errors->push_back(ConfigError{"command line", 0, 0,
                                    fmt::format("unknown setting {}", key)});
      continue;
    }
    Origin at{"command line", 0, 0, std::string(setting->flag)};
    ApplyOverride(*setting, value, at, config, origins, errors);
  }
}

// Reads and applies the file; false when it could not be read or was not
// YAML, so nothing is known about what it meant to set.
bool ApplyFile(const std::string& path, Config* config, Origins* origins,
               std::vector<ConfigError>* errors) {
  Result<std::string> text = ReadConfigFile(path);
  if (!text.ok()) {
    errors->push_back(ConfigError{path, 0, 0, text.status().message()});
    return false;
  }
  return ParseYaml(*text, path, config, origins, errors);
}

}  // namespace

std::string ConfigError::ToString() const {
  if (line <= 0) return fmt::format("{}: {}", file, message);
  if (column <= 0) return fmt::format("{}:{}: {}", file, line, message);
  return fmt::format("{}:{}:{}: {}", file, line, column, message);
}

bool LoadConfig(const Invocation& invocation,
                const std::vector<std::string>& environ_vars, Config* out,
                std::vector<ConfigError>* errors) {
  const size_t errors_before = errors->size();
  std::map<std::string, std::string> vars = CoreforkVariables(environ_vars);
  Config config;
  Origins origins;
  config.config_file = invocation.config_path;
  if (config.config_file.empty() && vars.contains("COREFORK_CONFIG")) {
    config.config_file = vars["COREFORK_CONFIG"];
  }
  bool file_ok = true;
  if (!config.config_file.empty()) {
    file_ok = ApplyFile(config.config_file, &config, &origins, errors);
  }
  ApplyEnvironment(vars, &config, &origins, errors);
  ApplyFlags(invocation, &config, &origins, errors);
  if (!invocation.command.empty()) {
    config.command = invocation.command;
    origins.command = Origin{"command line", 0, 0, ""};
  }
  config.cgroup_root = invocation.root;
  if (errors->size() == errors_before) CheckClashes(config, origins, errors);
  // Without a readable file we cannot know whether it named a command.
  if (file_ok && invocation.mode == Invocation::Mode::kRun) {
    CheckCommand(config, origins, errors);
  }
  *out = std::move(config);
  return errors->size() == errors_before;
}

}  // namespace corefork
