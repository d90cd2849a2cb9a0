#include "admin/json_lite.h"

#include <charconv>
#include <cmath>

#include "util/log.h"

namespace corefork {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Length of the valid UTF-8 sequence at s[i], or 0 when it is not one
// (truncated, overlong, surrogate or beyond U+10FFFF).
size_t Utf8Length(std::string_view s, size_t i) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return 1;
  size_t len = (c >> 5) == 0x6    ? 2
               : (c >> 4) == 0xE  ? 3
               : (c >> 3) == 0x1E ? 4
                                  : 0;
  if (len == 0 || i + len > s.size()) return 0;
  uint32_t cp = c & (0x7F >> len);
  for (size_t k = 1; k < len; ++k) {
    unsigned char next = static_cast<unsigned char>(s[i + k]);
    if ((next & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (next & 0x3F);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
    return 0;
  }
  return len;
}

std::string ValidUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    size_t len = Utf8Length(s, i);
    out += len == 0 ? kReplacement : s.substr(i, len);
    i += len == 0 ? 1 : len;
  }
  return out;
}

void AppendUtf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// A recursive-descent reader for one flat object; errors name the offset.
class FlatReader {
 public:
  explicit FlatReader(std::string_view text) : s_(text) {}

  Result<std::map<std::string, JsonScalar>> Object() {
    std::map<std::string, JsonScalar> members;
    if (!Consume('{')) return Expected("'{'");
    if (Consume('}')) return End(std::move(members));
    do {
      SkipSpace();
      size_t at = pos_;
      auto key = String();
      if (!key.ok()) return key.status();
      if (!Consume(':')) return Expected("':'");
      auto value = Value();
      if (!value.ok()) return value.status();
      if (!members.emplace(*key, std::move(*value)).second) {
        return Error("duplicate key \"" + *key + "\"", at);
      }
    } while (Consume(','));
    if (!Consume('}')) return Expected("',' or '}'");
    return End(std::move(members));
  }

 private:
  Result<std::map<std::string, JsonScalar>> End(
      std::map<std::string, JsonScalar> members) {
    SkipSpace();
    if (pos_ != s_.size()) return Error("unexpected text after the object");
    return members;
  }

  Result<JsonScalar> Value() {
    SkipSpace();
    JsonScalar v;
    if (pos_ < s_.size() && s_[pos_] == '"') {
      auto text = String();
      if (!text.ok()) return text.status();
      v.type = JsonScalar::Type::kString;
      v.text = std::move(*text);
    } else if (Literal("true")) {
      v.type = JsonScalar::Type::kBool;
      v.boolean = true;
    } else if (Literal("false")) {
      v.type = JsonScalar::Type::kBool;
    } else if (Literal("null")) {
      v.type = JsonScalar::Type::kNull;
    } else if (pos_ < s_.size() && (s_[pos_] == '{' || s_[pos_] == '[')) {
      return Error("nested objects and arrays are not supported");
    } else {
      auto number = Number();
      if (!number.ok()) return number.status();
      v.type = JsonScalar::Type::kNumber;
      v.text = std::move(*number);
    }
    return v;
  }

  Result<std::string> String() {
    if (pos_ >= s_.size() || s_[pos_] != '"') return Expected("a string");
    std::string out;
    for (++pos_; pos_ < s_.size(); ++pos_) {
      unsigned char c = static_cast<unsigned char>(s_[pos_]);
      if (c == '"') {
        ++pos_;
        return ValidUtf8(out);
      }
      if (c < 0x20) return Error("control character in a string");
      if (c != '\\') {
        out += static_cast<char>(c);
        continue;
      }
      Status s = Escape(out);
      if (!s.ok()) return s;
    }
    return Error("unterminated string");
  }

  // At the backslash; leaves pos_ on the escape's last character.
  Status Escape(std::string& out) {
    if (++pos_ >= s_.size()) return Error("unterminated string");
    static constexpr std::string_view kFrom = "\"\\/bfnrt",
                                      kTo = "\"\\/\b\f\n\r\t";
    size_t simple = kFrom.find(s_[pos_]);
    if (simple != std::string_view::npos) {
      out += kTo[simple];
      return Status::Ok();
    }
    if (s_[pos_] != 'u') return Error("bad escape in a string");
    uint32_t cp = 0;
    if (!Hex4(cp)) return Error("bad \\u escape");
    if (cp >= 0xD800 && cp <= 0xDBFF) {  // a surrogate pair
      uint32_t low = 0;
      if (s_.substr(pos_ + 1, 2) != "\\u") return Error("lone surrogate");
      pos_ += 2;
      if (!Hex4(low) || low < 0xDC00 || low > 0xDFFF) {
        return Error("lone surrogate");
      }
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
      return Error("lone surrogate");
    }
    AppendUtf8(cp, out);
    return Status::Ok();
  }

  // pos_ on the 'u'; reads 4 hex digits, leaves pos_ on the last one.
  bool Hex4(uint32_t& cp) {
    if (pos_ + 4 >= s_.size()) return false;
    auto [end, ec] =
        std::from_chars(s_.data() + pos_ + 1, s_.data() + pos_ + 5, cp, 16);
    if (ec != std::errc() || end != s_.data() + pos_ + 5) return false;
    pos_ += 4;
    return true;
  }

  Result<std::string> Number() {
    size_t start = pos_;
    Consume1('-');
    if (!Consume1('0') && !Digits()) return Expected("a value");
    if (Consume1('.') && !Digits()) return Expected("a digit");
    if (Consume1('e') || Consume1('E')) {
      if (!Consume1('+')) Consume1('-');
      if (!Digits()) return Expected("a digit");
    }
    return std::string(s_.substr(start, pos_ - start));
  }

  bool Digits() {
    size_t start = pos_;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
    return pos_ > start;
  }
  bool Literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }
  bool Consume1(char c) {
    if (pos_ >= s_.size() || s_[pos_] != c) return false;
    ++pos_;
    return true;
  }
  bool Consume(char c) {
    SkipSpace();
    return Consume1(c);
  }
  void SkipSpace() {
    while (pos_ < s_.size() && std::string_view(" \t\r\n").find(s_[pos_]) !=
                                   std::string_view::npos) {
      ++pos_;
    }
  }
  Status Error(const std::string& what, size_t at) const {
    return Status::InvalidArgument(what + " at offset " + std::to_string(at));
  }
  Status Error(const std::string& what) const { return Error(what, pos_); }
  Status Expected(const std::string& what) const {
    return Error("expected " + what);
  }

  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

std::string JsonString(std::string_view s) { return JsonEscape(ValidUtf8(s)); }

void JsonWriter::BeforeValue() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!first_.empty()) {
    if (!first_.back()) out_ += ',';
    first_.back() = false;
  }
}

JsonWriter& JsonWriter::Raw(std::string_view text) {
  BeforeValue();
  out_ += text;
  return *this;
}

JsonWriter& JsonWriter::BeginObject() {
  Raw("{");
  first_.push_back(true);
  return *this;
}

JsonWriter& JsonWriter::EndObject() {
  first_.pop_back();
  out_ += '}';
  return *this;
}

JsonWriter& JsonWriter::BeginArray() {
  Raw("[");
  first_.push_back(true);
  return *this;
}

JsonWriter& JsonWriter::EndArray() {
  first_.pop_back();
  out_ += ']';
  return *this;
}

JsonWriter& JsonWriter::Key(std::string_view key) {
  BeforeValue();
  out_ += '"' + JsonString(key) + "\":";
  after_key_ = true;
  return *this;
}

JsonWriter& JsonWriter::String(std::string_view value) {
  return Raw('"' + JsonString(value) + '"');
}

JsonWriter& JsonWriter::Int(int64_t value) {
  return Raw(std::to_string(value));
}

JsonWriter& JsonWriter::Uint(uint64_t value) {
  return Raw(std::to_string(value));
}

JsonWriter& JsonWriter::Double(double value) {
  if (!std::isfinite(value)) return Null();
  char buf[32];  // the shortest round-trip form needs at most 24
  char* end = std::to_chars(buf, buf + sizeof buf, value).ptr;
  return Raw(std::string_view(buf, static_cast<size_t>(end - buf)));
}

JsonWriter& JsonWriter::Bool(bool value) {
  return Raw(value ? "true" : "false");
}

JsonWriter& JsonWriter::Null() { return Raw("null"); }

Result<std::map<std::string, JsonScalar>> ParseFlatJsonObject(
    std::string_view text) {
  return FlatReader(text).Object();
}

}  // namespace corefork
