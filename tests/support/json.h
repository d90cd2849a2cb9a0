// A small JSON reader for what the whole-binary tests read back: the control
// socket's job answers, corefork's /status and /readyz, and the Prometheus
// server's HTTP API. Parses all of RFC 8259 except that \u escapes outside
// ASCII become '?'. Values are plain data; nothing here is shared between
// threads.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace corefork::harness {

struct JsonValue {
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };

  Type type = Type::kNull;
  bool boolean = false;
  double number = 0;
  std::string string;
  std::vector<JsonValue> array;
  std::map<std::string, JsonValue> object;

  bool is_null() const { return type == Type::kNull; }
  bool is_bool() const { return type == Type::kBool; }
  bool is_number() const { return type == Type::kNumber; }
  bool is_string() const { return type == Type::kString; }
  bool is_array() const { return type == Type::kArray; }
  bool is_object() const { return type == Type::kObject; }

  // Member `key` of an object; nullptr when absent or when this is no object.
  const JsonValue* Get(const std::string& key) const;
  bool Has(const std::string& key) const { return Get(key) != nullptr; }
  // Typed members: nullopt when absent or of another type.
  std::optional<double> Num(const std::string& key) const;
  std::optional<std::string> Str(const std::string& key) const;
  std::optional<bool> Bool(const std::string& key) const;
  // True when member `key` is present and null.
  bool IsNull(const std::string& key) const {
    const JsonValue* v = Get(key);
    return v != nullptr && v->is_null();
  }

  // Member / element, or a null value when absent (chains safely:
  // v["data"]["result"][0]).
  const JsonValue& operator[](const std::string& key) const;
  const JsonValue& operator[](size_t index) const;
  // Elements of an array or members of an object; 0 otherwise.
  size_t size() const;

  // This value with a fallback for another type.
  double AsNumber(double fallback = 0) const {
    return is_number() ? number : fallback;
  }
  long long AsInt(long long fallback = 0) const;
  std::string AsString(const std::string& fallback = "") const {
    return is_string() ? string : fallback;
  }
  bool AsBool(bool fallback = false) const {
    return is_bool() ? boolean : fallback;
  }
};

// Parses `text` (one value, with optional white space around it). nullopt,
// with *error set when given, when it is not valid JSON.
std::optional<JsonValue> ParseJson(const std::string& text,
                                   std::string* error = nullptr);

}  // namespace corefork::harness
