// Checks that need the whole merged Config: listeners that clash (same name,
// overlapping address, the admin address), sizing.max < sizing.min, and a
// missing command. Messages point at where each value came from, which is
// why the file parser and LoadConfig keep Origins. Pure; any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace corefork {

// Where a value was set: a file position, or "environment" / "command line"
// / "defaults" without one. `path` names it there: "listeners[1]", "port",
// "COREFORK_PORT", "--port".
struct Origin {
  std::string file;
  int line = 0;  // 1-based; 0 when unknown
  int column = 0;
  std::string path;
};

struct Origins {
  std::vector<Origin> listeners{{"defaults", 0, 0, "listeners[0]"}};
  // sizing.max if the file set it, else sizing.min (path says which).
  Origin sizing_max{"defaults", 0, 0, "sizing.max"};
  Origin admin{"defaults", 0, 0, "admin"};
  Origin command{"command line", 0, 0, ""};  // the file, once one is read
};

// A ConfigError at `origin` reading "PATH: message" (just message without a
// path).
ConfigError ErrorAt(const Origin& origin, std::string_view message);

// Appends one error per pair of values that clash. Run it only once every
// value parsed: a listener left at its default port by a typo would clash
// with another for no reason the user could see.
void CheckClashes(const Config& config, const Origins& origins,
                  std::vector<ConfigError>* errors);

// Appends an error when there is no command to run.
void CheckCommand(const Config& config, const Origins& origins,
                  std::vector<ConfigError>* errors);

}  // namespace corefork
