// JSON for everything corefork reads or writes: nlohmann::ordered_json (the
// field order callers build is the order clients see), dumped compact, with
// invalid UTF-8 turned into U+FFFD instead of an exception, and parsed into
// a Result so no exception ever reaches the event loop. Plain functions, no
// shared state: any thread.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "util/status.h"

namespace corefork {

using Json = nlohmann::ordered_json;

// Compact, as on the wire: {"a":1,"b":[true,null]}. Strings that are not
// valid UTF-8 (job output, worker STATUS= text, log messages) get U+FFFD for
// each bad sequence; never throws.
std::string JsonDump(const Json& value);

// A double as a JSON number: null when not finite, and in integer form when
// it is a whole number ("2", not nlohmann's "2.0"), as corefork has always
// written them and as docs/endpoints.md shows.
Json JsonNumber(double value);

// The value, or null when absent.
template <typename T>
Json JsonOptional(const std::optional<T>& value) {
  return value ? Json(*value) : Json(nullptr);
}

inline constexpr size_t kMaxJsonParseBytes = 1 << 20;
// Arrays and objects nested deeper than this are refused: dumping a value
// recurses once per level, and 400,000 levels fit in 1 MiB of text.
inline constexpr int kMaxJsonDepth = 128;

// One JSON document (strict: nothing but whitespace after it, valid UTF-8,
// no duplicate keys in an object, at most kMaxJsonDepth levels). Errors say
// what and where, e.g. "syntax error while parsing object separator -
// unexpected number literal; expected ':' at offset 5". Texts over
// `max_bytes` are refused unread.
Result<Json> JsonParse(std::string_view text,
                       size_t max_bytes = kMaxJsonParseBytes);

}  // namespace corefork
