// JSON for what the whole-binary tests read back (the control socket's job
// answers, corefork's /status and /readyz, the Prometheus server's HTTP API):
// nlohmann::json behind the few forgiving accessors the tests use, which
// give nullopt or a null value instead of throwing on a missing member or
// another type. Values are plain data; nothing here is shared between
// threads.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace corefork::harness {

class JsonValue {
 public:
  JsonValue() = default;  // null
  explicit JsonValue(nlohmann::json json) : json_(std::move(json)) {}

  // The document itself, for anything the accessors below do not cover.
  const nlohmann::json& json() const { return json_; }

  bool is_null() const { return json_.is_null(); }
  bool is_bool() const { return json_.is_boolean(); }
  bool is_number() const { return json_.is_number(); }
  bool is_string() const { return json_.is_string(); }
  bool is_array() const { return json_.is_array(); }
  bool is_object() const { return json_.is_object(); }

  // Whether this is an object with member `key`.
  bool Has(const std::string& key) const;
  // Typed members: nullopt when absent or of another type.
  std::optional<double> Num(const std::string& key) const;
  std::optional<std::string> Str(const std::string& key) const;
  std::optional<bool> Bool(const std::string& key) const;
  // True when member `key` is present and null.
  bool IsNull(const std::string& key) const;

  // Member / element (a copy), or a null value when absent (chains safely:
  // v["data"]["result"][0]).
  JsonValue operator[](const std::string& key) const;
  JsonValue operator[](size_t index) const;
  // Elements of an array (copies); empty for anything else.
  std::vector<JsonValue> Items() const;
  // Elements of an array or members of an object; 0 otherwise.
  size_t size() const;

  // This value with a fallback for another type.
  double AsNumber(double fallback = 0) const;
  long long AsInt(long long fallback = 0) const;
  std::string AsString(const std::string& fallback = "") const;
  bool AsBool(bool fallback = false) const;

 private:
  nlohmann::json json_;
};

// Parses `text` (one value, with optional white space around it). nullopt,
// with *error set when given, when it is not valid JSON.
std::optional<JsonValue> ParseJson(const std::string& text,
                                   std::string* error = nullptr);

}  // namespace corefork::harness
