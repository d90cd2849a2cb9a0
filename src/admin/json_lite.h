// json_lite: just enough JSON for the admin and control servers. JsonWriter
// builds one document with correct commas, escaping (invalid UTF-8 becomes
// U+FFFD) and numbers (non-finite doubles become null); ParseFlatJsonObject
// reads request bodies such as {"workers":3}. Plain values, no shared state.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace corefork {

class JsonWriter {
 public:
  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(std::string_view key);  // inside an object, before a value

  JsonWriter& String(std::string_view value);
  JsonWriter& Int(int64_t value);
  JsonWriter& Uint(uint64_t value);
  JsonWriter& Double(double value);  // shortest form that reads back exactly
  JsonWriter& Bool(bool value);
  JsonWriter& Null();
  // The value, or null when absent.
  template <typename T, typename Write>
  JsonWriter& Optional(const std::optional<T>& value, Write write) {
    return value ? (this->*write)(*value) : Null();
  }

  const std::string& str() const { return out_; }

 private:
  void BeforeValue();
  JsonWriter& Raw(std::string_view text);

  std::string out_;
  std::vector<bool> first_;  // per open container: nothing written yet
  bool after_key_ = false;
};

// `s` as the inside of a JSON string literal: escaped, valid UTF-8.
std::string JsonString(std::string_view s);

struct JsonScalar {
  enum class Type { kNull, kBool, kNumber, kString };
  Type type = Type::kNull;
  std::string text;  // kNumber: the literal as written; kString: decoded
  bool boolean = false;
};

// A JSON object whose values are strings, numbers, booleans or null. Nested
// objects/arrays, duplicate keys and trailing garbage are errors that say
// where ("expected ':' at offset 11").
Result<std::map<std::string, JsonScalar>> ParseFlatJsonObject(
    std::string_view text);

}  // namespace corefork
