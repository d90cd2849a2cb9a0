// A small walker over yaml-cpp nodes for schema-checked config files: lists
// the entries of a map (reporting unknown and duplicate keys, with a
// did-you-mean), applies scalar fields through value parsers, and turns
// every problem into a ConfigError at the node's file:line:col with the full
// key path. Borrows the error list; one Reader per document, one thread.
#pragma once

#include <yaml-cpp/yaml.h>

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "config/validate.h"
#include "util/status.h"

namespace corefork {

// One `key: value` of a YAML map, with its full key path.
struct YamlEntry {
  std::string key;   // "max_failures"
  std::string path;  // "restart.max_failures"
  YAML::Node key_node;
  YAML::Node value;
};

// A scalar key of a section and how to apply it to the section's struct T.
template <typename T>
struct YamlField {
  std::string_view key;
  Status (*apply)(std::string_view value, T* target);
  // When set, an explicit null (`key: null`, `key:`) is allowed and does this.
  void (*on_null)(T* target) = nullptr;
};

// "a map", "a list", "nothing" (null) or the quoted scalar: what was found.
std::string DescribeNode(const YAML::Node& node);

// The documents of a config text, read without YAML::LoadAll: yaml-cpp
// 0.7's LoadAll never returns on some inputs (a stray "," at block level
// yields empty documents forever without consuming input: corefork hung at
// start-up). Counts documents, at most `max_count`, with an event handler;
// a document that starts where the previous one did is a syntax error.
// Throws YAML::Exception (with a mark) like LoadAll.
struct YamlDocuments {
  YAML::Node first;   // the first document; null when there is none
  size_t count = 0;   // documents found, at most max_count
  YAML::Mark second;  // where the second one starts, when count >= 2
};
YamlDocuments LoadYamlDocuments(const std::string& text, size_t max_count = 16);

// "parent.key", or "key" at the top level.
std::string JoinPath(std::string_view parent, std::string_view key);

class YamlReader {
 public:
  // Suggests a better key for an unknown one (e.g. "shutdown.timeout" for a
  // top-level "timeout"); nullopt to fall back to edit distance.
  using Hint = std::optional<std::string> (*)(std::string_view key);

  YamlReader(std::string file, std::vector<ConfigError>* errors)
      : file_(std::move(file)), errors_(errors) {}

  const std::string& file() const { return file_; }

  // Position of `node` (1-based); line 0 if yaml-cpp has none.
  Origin At(const YAML::Node& node, std::string path) const;
  Origin At(const YAML::Mark& mark, std::string path) const;
  // The value's position, or the key's when the value is null: yaml-cpp
  // marks an empty value at the token after it.
  Origin At(const YamlEntry& entry) const;

  void Error(const Origin& at, std::string_view message);
  // "PATH: expected WHAT, got <what the entry holds>".
  void Expected(const YamlEntry& entry, std::string_view what);

  // The entries of `map` under `path`. Keys not in `known` (when given) and
  // repeated keys are reported and left out.
  std::vector<YamlEntry> Entries(const YAML::Node& map, std::string_view path,
                                 const std::vector<std::string_view>* known,
                                 Hint hint = nullptr);

  // Applies one scalar entry through `field`; reports a wrong type or value.
  template <typename T>
  void ApplyScalar(const YamlEntry& entry, const YamlField<T>& field,
                   T* target) {
    if (entry.value.IsNull() && field.on_null != nullptr) {
      field.on_null(target);
      return;
    }
    if (!entry.value.IsScalar() && !entry.value.IsNull()) {
      Expected(entry, "a single value");
      return;
    }
    std::string text = entry.value.IsNull() ? "" : entry.value.Scalar();
    Status status = field.apply(text, target);
    if (!status.ok()) ReportValue(entry, status.message());
  }

  // Applies the section map in `section` (null: nothing to do) field by
  // field; returns its entries so callers can look up positions.
  template <typename T>
  std::vector<YamlEntry> ApplyFields(const YamlEntry& section,
                                     std::span<const YamlField<T>> fields,
                                     T* target) {
    if (section.value.IsNull()) return {};
    if (!section.value.IsMap()) {
      Expected(section, "a map");
      return {};
    }
    std::vector<std::string_view> keys;
    for (const YamlField<T>& field : fields) keys.push_back(field.key);
    std::vector<YamlEntry> entries =
        Entries(section.value, section.path, &keys);
    for (const YamlEntry& entry : entries) {
      for (const YamlField<T>& field : fields) {
        if (field.key == entry.key) ApplyScalar(entry, field, target);
      }
    }
    return entries;
  }

 private:
  // Reports a value parser's message, saying "got nothing" for a null.
  void ReportValue(const YamlEntry& entry, std::string message);
  void ReportUnknownKey(const YAML::Node& key_node, std::string_view path,
                        std::string_view key,
                        const std::vector<std::string_view>& known, Hint hint);

  std::string file_;
  std::vector<ConfigError>* errors_;
};

}  // namespace corefork
