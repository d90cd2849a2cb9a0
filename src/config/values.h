// Parsers for the scalar values that appear in the config file, COREFORK_*
// variables and flags: durations, sizes, signals, worker counts, ports...
// Pure functions, safe from any thread. On failure the Status message reads
// `expected <what>, got "<text>"`; callers prefix the key or flag name.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "config/config.h"
#include "util/status.h"

namespace corefork {

// The longest duration any key accepts: one year. Every deadline corefork
// computes is steady_clock::now() (nanoseconds) plus a configured duration,
// sometimes times a small factor (retries double up to 2^16); past this,
// sums overflow and a job fires continuously or a SIGKILL comes at once.
constexpr Duration kMaxDuration = std::chrono::hours(24 * 365);

// "250ms", "1.5s", "2m", "1h", or a bare number of seconds ("30", "0.5").
// Must be >= 0 and at most `max`; rounded to the nearest millisecond. Past
// `max` the message reads `expected a duration up to 8760h, got "..."`.
Result<Duration> ParseDuration(std::string_view text,
                               Duration max = kMaxDuration);

// Bytes: "1048576", or a Kubernetes-style quantity with a decimal (k, M, G,
// T) or binary (Ki, Mi, Gi, Ti) suffix: "512Mi", "1.5G". Rounded down.
Result<uint64_t> ParseSize(std::string_view text);
// A memory bound (recycle.max_rss, a job pool's max_rss): a size of at
// least 1Mi; smaller would replace every process after every check.
Result<uint64_t> ParseMaxRss(std::string_view text);

// "SIGTERM", "TERM" (either case) or a number 1..SIGRTMAX ("15").
Result<int> ParseSignal(std::string_view text);

// "auto" -> nullopt, or an integer >= 1.
Result<std::optional<int>> ParseWorkers(std::string_view text);

// A decimal integer within [min, max].
Result<int> ParseInt(std::string_view text, int min, int max);

// The largest number ParseNumber accepts unless told otherwise: factors and
// multipliers (restart.factor, per_cpu) past this only overflow what they
// multiply.
constexpr double kMaxNumber = 1e6;

// A finite decimal number (e.g. "1", "0.5", "2.5e1") with value > min when
// `exclusive`, else >= min, and at most `max`.
Result<double> ParseNumber(std::string_view text, double min, bool exclusive,
                           double max = kMaxNumber);

// "auto" | "none" | "notify" | "fd" | "listen" (fd is notify: both channels
// are always offered).
Result<ReadyMode> ParseReadyMode(std::string_view text);

// "true"/"yes"/"on" or "false"/"no"/"off".
Result<bool> ParseBool(std::string_view text);

Result<CompatListen> ParseCompatListen(std::string_view text);  // auto|off
Result<NodeIpc> ParseNodeIpc(std::string_view text);            // auto|on|off
Result<SteeringMode> ParseSteeringMode(std::string_view text);  // auto|off
// An HTTP path corefork itself requests: "/" then visible ASCII, at most
// 1024 bytes (it goes into a request line as it is).
Result<std::string> ParseRequestPath(std::string_view text);

// ready.min_workers: an integer >= 0 ("2") or a percentage 0..100 ("50%").
struct CountOrPercent {
  int value = 0;
  bool percent = false;
};
Result<CountOrPercent> ParseCountOrPercent(std::string_view text);

// A percentage "90%" or "12.5%" (the % is required) within [min, max]
// percent; returned as a fraction (0.9).
Result<double> ParsePercent(std::string_view text, double min, double max);

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
// raw|tagged|json
Result<WorkerLogMode> ParseWorkerLogMode(std::string_view text);
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
