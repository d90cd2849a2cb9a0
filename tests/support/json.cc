#include "support/json.h"

#include <cmath>
#include <cstdlib>
#include <cstring>

namespace corefork::harness {

namespace {

const JsonValue& NullValue() {
  static const JsonValue null;
  return null;
}

class Parser {
 public:
  explicit Parser(const std::string& text) : s_(text) {}

  bool Document(JsonValue* out, std::string* error) {
    bool ok = Value(out, 0);
    SkipSpace();
    if (ok && pos_ != s_.size()) ok = Fail("trailing characters");
    if (!ok && error != nullptr) *error = error_;
    return ok;
  }

 private:
  bool Fail(const std::string& what) {
    if (error_.empty()) error_ = what + " at offset " + std::to_string(pos_);
    return false;
  }
  void SkipSpace() {
    while (pos_ < s_.size() && std::strchr(" \t\r\n", s_[pos_]) != nullptr &&
           s_[pos_] != '\0') {
      ++pos_;
    }
  }
  bool Literal(const char* word) {
    size_t n = std::strlen(word);
    if (s_.compare(pos_, n, word) != 0) return Fail("bad literal");
    pos_ += n;
    return true;
  }

  bool Value(JsonValue* out, int depth) {
    if (depth > 64) return Fail("nesting too deep");
    SkipSpace();
    if (pos_ >= s_.size()) return Fail("unexpected end");
    switch (s_[pos_]) {
      case '{':
        return Object(out, depth);
      case '[':
        return Array(out, depth);
      case '"':
        out->type = JsonValue::Type::kString;
        return String(&out->string);
      case 't':
        out->type = JsonValue::Type::kBool;
        out->boolean = true;
        return Literal("true");
      case 'f':
        out->type = JsonValue::Type::kBool;
        out->boolean = false;
        return Literal("false");
      case 'n':
        out->type = JsonValue::Type::kNull;
        return Literal("null");
      default:
        return Number(out);
    }
  }

  bool Number(JsonValue* out) {
    const char c = s_[pos_];
    if (c != '-' && (c < '0' || c > '9')) return Fail("unexpected character");
    const char* begin = s_.c_str() + pos_;
    char* end = nullptr;
    double v = std::strtod(begin, &end);
    if (end == begin) return Fail("bad number");
    pos_ += static_cast<size_t>(end - begin);
    out->type = JsonValue::Type::kNumber;
    out->number = v;
    return true;
  }

  bool String(std::string* out) {
    ++pos_;  // the opening quote
    while (pos_ < s_.size()) {
      char c = s_[pos_++];
      if (c == '"') return true;
      if (c != '\\') {
        *out += c;
        continue;
      }
      if (pos_ >= s_.size()) break;
      char e = s_[pos_++];
      switch (e) {
        case 'n':
          *out += '\n';
          break;
        case 't':
          *out += '\t';
          break;
        case 'r':
          *out += '\r';
          break;
        case 'b':
          *out += '\b';
          break;
        case 'f':
          *out += '\f';
          break;
        case 'u': {
          if (pos_ + 4 > s_.size()) return Fail("bad \\u escape");
          long cp = std::strtol(s_.substr(pos_, 4).c_str(), nullptr, 16);
          pos_ += 4;
          *out += cp < 0x80 ? static_cast<char>(cp) : '?';
          break;
        }
        default:
          *out += e;  // \" \\ \/
      }
    }
    return Fail("unterminated string");
  }

  bool Array(JsonValue* out, int depth) {
    out->type = JsonValue::Type::kArray;
    ++pos_;
    SkipSpace();
    if (pos_ < s_.size() && s_[pos_] == ']') {
      ++pos_;
      return true;
    }
    for (;;) {
      JsonValue item;
      if (!Value(&item, depth + 1)) return false;
      out->array.push_back(std::move(item));
      SkipSpace();
      if (pos_ >= s_.size()) return Fail("unterminated array");
      char c = s_[pos_++];
      if (c == ']') return true;
      if (c != ',') return Fail("expected , or ]");
    }
  }

  bool Object(JsonValue* out, int depth) {
    out->type = JsonValue::Type::kObject;
    ++pos_;
    SkipSpace();
    if (pos_ < s_.size() && s_[pos_] == '}') {
      ++pos_;
      return true;
    }
    for (;;) {
      SkipSpace();
      if (pos_ >= s_.size() || s_[pos_] != '"') return Fail("expected a key");
      std::string key;
      if (!String(&key)) return false;
      SkipSpace();
      if (pos_ >= s_.size() || s_[pos_] != ':') return Fail("expected :");
      ++pos_;
      JsonValue value;
      if (!Value(&value, depth + 1)) return false;
      out->object[key] = std::move(value);
      SkipSpace();
      if (pos_ >= s_.size()) return Fail("unterminated object");
      char c = s_[pos_++];
      if (c == '}') return true;
      if (c != ',') return Fail("expected , or }");
    }
  }

  const std::string& s_;
  size_t pos_ = 0;
  std::string error_;
};

}  // namespace

std::optional<JsonValue> ParseJson(const std::string& text,
                                   std::string* error) {
  JsonValue out;
  Parser parser(text);
  if (!parser.Document(&out, error)) return std::nullopt;
  return out;
}

const JsonValue* JsonValue::Get(const std::string& key) const {
  if (!is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &it->second;
}

std::optional<double> JsonValue::Num(const std::string& key) const {
  const JsonValue* v = Get(key);
  if (v == nullptr || !v->is_number()) return std::nullopt;
  return v->number;
}

std::optional<std::string> JsonValue::Str(const std::string& key) const {
  const JsonValue* v = Get(key);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return v->string;
}

std::optional<bool> JsonValue::Bool(const std::string& key) const {
  const JsonValue* v = Get(key);
  if (v == nullptr || !v->is_bool()) return std::nullopt;
  return v->boolean;
}

const JsonValue& JsonValue::operator[](const std::string& key) const {
  const JsonValue* v = Get(key);
  return v == nullptr ? NullValue() : *v;
}

const JsonValue& JsonValue::operator[](size_t index) const {
  if (!is_array() || index >= array.size()) return NullValue();
  return array[index];
}

size_t JsonValue::size() const {
  if (is_array()) return array.size();
  if (is_object()) return object.size();
  return 0;
}

long long JsonValue::AsInt(long long fallback) const {
  return is_number() ? std::llround(number) : fallback;
}

}  // namespace corefork::harness
