// Parsers for the scalar values that appear in the config file, COREFORK_*
// variables and flags: durations, sizes, signals, worker counts, ports...
// Pure functions, safe from any thread. On failure the Status message reads
// `expected <what>, got "<text>"`; callers prefix the key or flag name.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "config/config.h"
#include "util/status.h"

namespace corefork {

// "250ms", "1.5s", "2m", "1h", or a bare number of seconds ("30", "0.5").
// Must be >= 0; rounded to the nearest millisecond.
Result<Duration> ParseDuration(std::string_view text);

// Bytes: "1048576", or a Kubernetes-style quantity with a decimal (k, M, G,
// T) or binary (Ki, Mi, Gi, Ti) suffix: "512Mi", "1.5G". Rounded down.
Result<uint64_t> ParseSize(std::string_view text);

// "SIGTERM", "TERM" (either case) or a number 1..SIGRTMAX ("15").
Result<int> ParseSignal(std::string_view text);

// "auto" -> nullopt, or an integer >= 1.
Result<std::optional<int>> ParseWorkers(std::string_view text);

// A decimal integer within [min, max].
Result<int> ParseInt(std::string_view text, int min, int max);

// A finite decimal number (e.g. "1", "0.5", "2.5e1") with value > min when
// `exclusive`, else >= min.
Result<double> ParseNumber(std::string_view text, double min, bool exclusive);

// "none" | "notify" | "fd" (fd is notify: both channels are always offered).
Result<ReadyMode> ParseReadyMode(std::string_view text);

// ready.min_workers: an integer >= 0 ("2") or a percentage 0..100 ("50%").
struct CountOrPercent {
  int value = 0;
  bool percent = false;
};
Result<CountOrPercent> ParseCountOrPercent(std::string_view text);

// A TCP port, 1..65535.
Result<int> ParsePort(std::string_view text);

// A host name or address to bind: non-empty, no spaces ("0.0.0.0", "::").
Result<std::string> ParseHost(std::string_view text);

// "ADDR:PORT" or "[IPV6]:PORT" (e.g. "0.0.0.0:9180", "[::]:9180"); the port
// is 0..65535, 0 meaning "any free port".
struct HostPort {
  std::string host;  // without brackets
  int port = 0;
};
Result<HostPort> ParseHostPort(std::string_view text);

// trace|debug|info|warn|error|critical|off.
Result<std::string> ParseLogLevel(std::string_view text);
Result<LogFormat> ParseLogFormat(std::string_view text);  // text|json
Result<Rounding> ParseRounding(std::string_view text);    // floor|ceil|nearest
Result<ShareMode> ParseShareMode(std::string_view text);  // reuseport|shared

// Stores a parsed value into *out, or passes the parser's complaint on:
// `return StoreParsed(ParsePort(v), &listener->port);`
template <typename T, typename U>
Status StoreParsed(Result<T> parsed, U* out) {
  if (!parsed.ok()) return parsed.status();
  *out = std::move(parsed).value();
  return Status::Ok();
}

// `text` in double quotes with `"`, `\` and control bytes escaped, cut to
// 60 characters: how error messages show what they found.
std::string Quote(std::string_view text);

}  // namespace corefork
