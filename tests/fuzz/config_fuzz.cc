// libFuzzer target for the config loader: arbitrary bytes as a config file
// through corefork::ApplyYaml (YAML parse, every key's value parser, the
// cross-field checks). A crash, sanitizer report, leak, uncaught exception
// or a slow input is a finding; rejecting the input with errors is not.
// Built only with -DCOREFORK_FUZZ=ON (tests/fuzz/CMakeLists.txt).

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // corefork refuses config files over 1 MiB before parsing them.
  if (size > (1u << 20)) return 0;
  const std::string text(reinterpret_cast<const char*>(data), size);
  corefork::Config config;
  std::vector<corefork::ConfigError> errors;
  const bool ok = corefork::ApplyYaml(text, "fuzz.yaml", &config, &errors);
  // Every error must render (FILE:LINE:COL: message) without trouble, and a
  // rejected config must say why.
  size_t total = 0;
  for (const corefork::ConfigError& e : errors) total += e.ToString().size();
  if (!ok && errors.empty()) __builtin_trap();
  return static_cast<int>(total & 0);
}
