#include "util/json.h"

#include <cmath>
#include <set>
#include <vector>

namespace corefork {

std::string JsonDump(const Json& value) {
  return value.dump(-1, ' ', /*ensure_ascii=*/false,
                    Json::error_handler_t::replace);
}

Json JsonNumber(double value) {
  if (!std::isfinite(value)) return nullptr;
  // 2^53: beyond it not every whole number is a double, and the integer
  // form would claim a precision the value does not have.
  constexpr double kExact = 9007199254740992.0;
  if (std::trunc(value) == value && std::fabs(value) < kExact) {
    return static_cast<int64_t>(value);
  }
  return value;
}

Result<Json> JsonParse(std::string_view text, size_t max_bytes) {
  if (text.size() > max_bytes) {
    return Status::InvalidArgument(
        "JSON text of " + std::to_string(text.size()) +
        " bytes is over the limit of " + std::to_string(max_bytes));
  }
  // nlohmann keeps the last of duplicate keys; a request that says two
  // things at once is refused instead. One set of keys per open object.
  std::vector<std::set<std::string>> keys;
  std::string duplicate;
  bool too_deep = false;
  auto check = [&](int depth, Json::parse_event_t event, Json& parsed) {
    if (depth > kMaxJsonDepth) {
      too_deep = true;
      return false;  // nothing below this depth is kept
    }
    switch (event) {
      case Json::parse_event_t::object_start:
        keys.emplace_back();
        break;
      case Json::parse_event_t::object_end:
        if (!keys.empty()) keys.pop_back();
        break;
      case Json::parse_event_t::key:
        if (!keys.empty() &&
            !keys.back().insert(parsed.get_ref<const std::string&>()).second &&
            duplicate.empty()) {
          duplicate = parsed.get<std::string>();
        }
        break;
      default:
        break;
    }
    return true;
  };
  try {
    Json value = Json::parse(text.begin(), text.end(), check);
    if (too_deep) {
      return Status::InvalidArgument("nested deeper than " +
                                     std::to_string(kMaxJsonDepth) + " levels");
    }
    if (!duplicate.empty()) {
      return Status::InvalidArgument("duplicate key \"" + duplicate + "\"");
    }
    return value;
  } catch (const Json::parse_error& e) {
    // what() is "[json.exception.parse_error.101] parse error at line 1,
    // column 6: <the description>"; the offset says the same, shorter.
    std::string_view what = e.what();
    size_t colon = what.find(": ");
    std::string description(
        colon == std::string_view::npos ? what : what.substr(colon + 2));
    size_t offset = e.byte > 0 ? e.byte - 1 : 0;
    return Status::InvalidArgument(description + " at offset " +
                                   std::to_string(offset));
  } catch (const Json::exception& e) {
    return Status::InvalidArgument(e.what());
  } catch (const std::exception& e) {  // std::bad_alloc and the like
    return Status::Error(StatusCode::kResourceExhausted,
                         std::string("parsing JSON: ") + e.what());
  }
}

}  // namespace corefork
