#include "support/json.h"

#include <cmath>

namespace corefork::harness {

std::optional<JsonValue> ParseJson(const std::string& text,
                                   std::string* error) {
  try {
    return JsonValue(nlohmann::json::parse(text));
  } catch (const nlohmann::json::parse_error& e) {
    if (error != nullptr) *error = e.what();
    return std::nullopt;
  }
}

bool JsonValue::Has(const std::string& key) const {
  return json_.is_object() && json_.contains(key);
}

std::optional<double> JsonValue::Num(const std::string& key) const {
  if (!Has(key) || !json_[key].is_number()) return std::nullopt;
  return json_[key].get<double>();
}

std::optional<std::string> JsonValue::Str(const std::string& key) const {
  if (!Has(key) || !json_[key].is_string()) return std::nullopt;
  return json_[key].get<std::string>();
}

std::optional<bool> JsonValue::Bool(const std::string& key) const {
  if (!Has(key) || !json_[key].is_boolean()) return std::nullopt;
  return json_[key].get<bool>();
}

bool JsonValue::IsNull(const std::string& key) const {
  return Has(key) && json_[key].is_null();
}

JsonValue JsonValue::operator[](const std::string& key) const {
  return Has(key) ? JsonValue(json_[key]) : JsonValue();
}

JsonValue JsonValue::operator[](size_t index) const {
  if (!json_.is_array() || index >= json_.size()) return JsonValue();
  return JsonValue(json_[index]);
}

std::vector<JsonValue> JsonValue::Items() const {
  std::vector<JsonValue> items;
  if (!json_.is_array()) return items;
  items.reserve(json_.size());
  for (const nlohmann::json& item : json_) items.emplace_back(item);
  return items;
}

size_t JsonValue::size() const {
  return json_.is_array() || json_.is_object() ? json_.size() : 0;
}

double JsonValue::AsNumber(double fallback) const {
  return json_.is_number() ? json_.get<double>() : fallback;
}

long long JsonValue::AsInt(long long fallback) const {
  if (json_.is_number_integer()) return json_.get<long long>();
  return json_.is_number() ? std::llround(json_.get<double>()) : fallback;
}

std::string JsonValue::AsString(const std::string& fallback) const {
  return json_.is_string() ? json_.get<std::string>() : fallback;
}

bool JsonValue::AsBool(bool fallback) const {
  return json_.is_boolean() ? json_.get<bool>() : fallback;
}

}  // namespace corefork::harness
