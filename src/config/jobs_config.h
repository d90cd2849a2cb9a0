// The `jobs:` and `job_history:` sections of the config file: a map from job
// name to its spec (maps merge cleanly in Helm values, lists do not). Used by
// yaml_config.cc; one YamlReader, one thread.
#pragma once

#include "config/config.h"
#include "config/yaml_reader.h"

namespace corefork {

void ApplyJobs(YamlReader& r, const YamlEntry& section, Config* config);
void ApplyJobHistory(YamlReader& r, const YamlEntry& section, Config* config);

}  // namespace corefork
