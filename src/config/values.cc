#include "config/values.h"

#include <fmt/format.h>

#include <array>
#include <cctype>
#include <charconv>
#include <climits>
#include <cmath>
#include <csignal>
#include <utility>

namespace corefork {
namespace {

Status Expected(std::string_view what, std::string_view got) {
  return Status::InvalidArgument(
      fmt::format("expected {}, got {}", what, Quote(got)));
}

// Length of the leading unsigned decimal in `text` ("12", "1.5", ".5"), 0
// when there is none. Exponents, signs, "inf" and "nan" are not numbers here.
size_t ScanDecimal(std::string_view text) {
  size_t i = 0;
  size_t digits = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    ++i;
    ++digits;
  }
  if (i < text.size() && text[i] == '.') {
    ++i;
    while (i < text.size() &&
           std::isdigit(static_cast<unsigned char>(text[i]))) {
      ++i;
      ++digits;
    }
  }
  return digits == 0 ? 0 : i;
}

// Parses all of `text` as a double; nullopt unless finite and fully used.
std::optional<double> ToDouble(std::string_view text) {
  if (text.empty()) return std::nullopt;
  // from_chars accepts "inf"/"nan"; insist on a digit or '.' up front.
  size_t start = text[0] == '-' ? 1 : 0;
  if (start >= text.size() ||
      !(std::isdigit(static_cast<unsigned char>(text[start])) ||
        text[start] == '.')) {
    return std::nullopt;
  }
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(),
                                   value, std::chars_format::general);
  if (ec != std::errc() || end != text.data() + text.size() ||
      !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(c));
  return out;
}

struct NamedSignal {
  std::string_view name;
  int number;
};

constexpr std::array<NamedSignal, 31> kSignals = {{
    {"HUP", SIGHUP},       {"INT", SIGINT},       {"QUIT", SIGQUIT},
    {"ILL", SIGILL},       {"TRAP", SIGTRAP},     {"ABRT", SIGABRT},
    {"BUS", SIGBUS},       {"FPE", SIGFPE},       {"KILL", SIGKILL},
    {"USR1", SIGUSR1},     {"SEGV", SIGSEGV},     {"USR2", SIGUSR2},
    {"PIPE", SIGPIPE},     {"ALRM", SIGALRM},     {"TERM", SIGTERM},
    {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD},     {"CONT", SIGCONT},
    {"STOP", SIGSTOP},     {"TSTP", SIGTSTP},     {"TTIN", SIGTTIN},
    {"TTOU", SIGTTOU},     {"URG", SIGURG},       {"XCPU", SIGXCPU},
    {"XFSZ", SIGXFSZ},     {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
    {"WINCH", SIGWINCH},   {"IO", SIGIO},         {"PWR", SIGPWR},
    {"SYS", SIGSYS},
}};

// Picks one of `names` (exact, lower case); `what` describes the choices.
template <typename T, size_t N>
Result<T> ParseChoice(
    std::string_view text,
    const std::array<std::pair<std::string_view, T>, N>& names,
    std::string_view what) {
  for (const auto& [name, value] : names) {
    if (text == name) return value;
  }
  return Expected(what, text);
}

// "8760h", "90s", "250ms": the largest unit that divides `d` exactly.
std::string FormatLimit(Duration d) {
  const int64_t ms = d.count();
  if (ms != 0 && ms % 3'600'000 == 0) return fmt::format("{}h", ms / 3'600'000);
  if (ms != 0 && ms % 60'000 == 0) return fmt::format("{}m", ms / 60'000);
  if (ms % 1000 == 0) return fmt::format("{}s", ms / 1000);
  return fmt::format("{}ms", ms);
}

}  // namespace

Result<Duration> ParseDuration(std::string_view text, Duration max) {
  constexpr std::string_view kWhat = "a duration like 250ms, 1.5s, 2m or 1h";
  if (!text.empty() && text[0] == '-') {
    return Expected("a duration >= 0", text);
  }
  size_t number_len = ScanDecimal(text);
  if (number_len == 0) return Expected(kWhat, text);
  std::string_view unit = text.substr(number_len);
  double scale = 0;
  if (unit == "ms") {
    scale = 1;
  } else if (unit == "s" || unit.empty()) {
    scale = 1000;
  } else if (unit == "m") {
    scale = 60'000;
  } else if (unit == "h") {
    scale = 3'600'000;
  } else {
    return Expected(kWhat, text);
  }
  std::optional<double> number = ToDouble(text.substr(0, number_len));
  if (!number) return Expected(kWhat, text);
  // Compared as doubles before any conversion: "1e300h" must not reach
  // llround. Rounding first keeps "8760h" itself (and 8759.9999h) in.
  double ms = std::round(*number * scale);
  if (!(ms <= static_cast<double>(max.count()))) {
    return Expected(fmt::format("a duration up to {}", FormatLimit(max)), text);
  }
  return Duration(static_cast<Duration::rep>(ms));
}

Result<uint64_t> ParseMaxRss(std::string_view text) {
  Result<uint64_t> bytes = ParseSize(text);
  if (bytes.ok() && *bytes < (uint64_t{1} << 20)) {
    return Status::InvalidArgument(fmt::format(
        "expected a size of at least 1Mi like 512Mi (or null), got {}",
        Quote(text)));
  }
  return bytes;
}

Result<uint64_t> ParseSize(std::string_view text) {
  constexpr std::string_view kWhat =
      "a size in bytes like 1073741824, 512Mi or 2G";
  static constexpr std::array<std::pair<std::string_view, uint64_t>, 9> kUnits =
      {{{"", 1},
        {"k", 1000},
        {"M", 1000'000},
        {"G", 1000'000'000},
        {"T", 1000'000'000'000},
        {"Ki", 1ULL << 10},
        {"Mi", 1ULL << 20},
        {"Gi", 1ULL << 30},
        {"Ti", 1ULL << 40}}};
  size_t number_len = ScanDecimal(text);
  if (number_len == 0) return Expected(kWhat, text);
  std::string_view number = text.substr(0, number_len);
  std::string_view unit = text.substr(number_len);
  for (const auto& [suffix, scale] : kUnits) {
    if (unit != suffix) continue;
    if (number.find('.') == std::string_view::npos) {
      uint64_t value = 0;
      auto [end, ec] =
          std::from_chars(number.data(), number.data() + number.size(), value);
      uint64_t bytes = 0;
      if (ec != std::errc() || __builtin_mul_overflow(value, scale, &bytes)) {
        return Expected(kWhat, text);
      }
      return bytes;
    }
    std::optional<double> value = ToDouble(number);
    if (!value || *value * static_cast<double>(scale) >= 1.8e19) {
      return Expected(kWhat, text);
    }
    return static_cast<uint64_t>(*value * static_cast<double>(scale));
  }
  return Expected(kWhat, text);
}

Result<int> ParseSignal(std::string_view text) {
  constexpr std::string_view kWhat = "a signal like SIGTERM, TERM or 15";
  if (!text.empty() && std::isdigit(static_cast<unsigned char>(text[0]))) {
    Result<int> number = ParseInt(text, 1, SIGRTMAX);
    if (!number.ok()) return Expected(kWhat, text);
    return number;
  }
  std::string name = Lower(text);
  if (name.starts_with("sig")) name.erase(0, 3);
  for (const NamedSignal& signal : kSignals) {
    if (Lower(signal.name) == name) return signal.number;
  }
  return Expected(kWhat, text);
}

Result<ReadyMode> ParseReadyMode(std::string_view text) {
  static constexpr std::array<std::pair<std::string_view, ReadyMode>, 5>
      kModes = {{{"auto", ReadyMode::kAuto},
                 {"none", ReadyMode::kNone},
                 {"notify", ReadyMode::kNotify},
                 {"fd", ReadyMode::kNotify},
                 {"listen", ReadyMode::kListen}}};
  return ParseChoice(text, kModes, "auto, none, notify, fd or listen");
}

Result<bool> ParseBool(std::string_view text) {
  static constexpr std::array<std::pair<std::string_view, bool>, 6> kValues = {
      {{"true", true},
       {"yes", true},
       {"on", true},
       {"false", false},
       {"no", false},
       {"off", false}}};
  return ParseChoice(text, kValues, "true or false");
}

Result<CompatListen> ParseCompatListen(std::string_view text) {
  static constexpr std::array<std::pair<std::string_view, CompatListen>, 2>
      kModes = {{{"auto", CompatListen::kAuto}, {"off", CompatListen::kOff}}};
  return ParseChoice(text, kModes, "auto or off");
}

Result<NodeIpc> ParseNodeIpc(std::string_view text) {
  static constexpr std::array<std::pair<std::string_view, NodeIpc>, 3> kModes =
      {{{"auto", NodeIpc::kAuto},
        {"on", NodeIpc::kOn},
        {"off", NodeIpc::kOff}}};
  return ParseChoice(text, kModes, "auto, on or off");
}

Result<WorkerLogMode> ParseWorkerLogMode(std::string_view text) {
  static constexpr std::array<std::pair<std::string_view, WorkerLogMode>, 3>
      kModes = {{{"raw", WorkerLogMode::kRaw},
                 {"tagged", WorkerLogMode::kTagged},
                 {"json", WorkerLogMode::kJson}}};
  return ParseChoice(text, kModes, "raw, tagged or json");
}

Result<SteeringMode> ParseSteeringMode(std::string_view text) {
  static constexpr std::array<std::pair<std::string_view, SteeringMode>, 2>
      kModes = {{{"auto", SteeringMode::kAuto}, {"off", SteeringMode::kOff}}};
  return ParseChoice(text, kModes, "auto or off");
}

Result<std::string> ParseRequestPath(std::string_view text) {
  bool visible = true;
  for (char c : text) visible &= c > ' ' && c < 0x7f;
  if (text.empty() || text.front() != '/' || text.size() > 1024 || !visible) {
    return Status::InvalidArgument(fmt::format(
        "expected a path like /metrics (\"/\" then visible ASCII, at most "
        "1024 bytes), got {}",
        Quote(text)));
  }
  return std::string(text);
}

Result<CountOrPercent> ParseCountOrPercent(std::string_view text) {
  constexpr std::string_view kWhat = "a count like 2 or a percentage like 50%";
  bool percent = text.ends_with('%');
  if (percent) text.remove_suffix(1);
  Result<int> value = ParseInt(text, 0, percent ? 100 : INT_MAX);
  if (!value.ok())
    return Expected(kWhat,
                    percent ? std::string(text) + "%" : std::string(text));
  return CountOrPercent{*value, percent};
}

Result<double> ParsePercent(std::string_view text, double min, double max) {
  const std::string what = fmt::format("a percentage {:g}%..{:g}%", min, max);
  if (!text.ends_with('%')) return Expected(what, text);
  Result<double> value =
      ParseNumber(text.substr(0, text.size() - 1), min, false, max);
  if (!value.ok()) return Expected(what, text);
  return *value / 100;
}

Result<std::optional<int>> ParseWorkers(std::string_view text) {
  if (text == "auto") return std::optional<int>();
  Result<int> count = ParseInt(text, 1, INT_MAX);
  if (!count.ok()) return Expected("auto or an integer >= 1", text);
  return std::optional<int>(*count);
}

Result<int> ParseInt(std::string_view text, int min, int max) {
  std::string what = max == INT_MAX
                         ? fmt::format("an integer >= {}", min)
                         : fmt::format("an integer {}..{}", min, max);
  int value = 0;
  auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() ||
      value < min || value > max) {
    return Expected(what, text);
  }
  return value;
}

Result<double> ParseNumber(std::string_view text, double min, bool exclusive,
                           double max) {
  std::optional<double> value = ToDouble(text);
  if (!value || *value < min || (exclusive && *value == min)) {
    return Expected(fmt::format("a number {} {}", exclusive ? ">" : ">=", min),
                    text);
  }
  if (*value > max) {
    return Expected(fmt::format("a number up to {}", max), text);
  }
  return *value;
}

Result<int> ParsePort(std::string_view text) {
  Result<int> port = ParseInt(text, 1, 65535);
  if (!port.ok()) return Expected("a port number 1..65535", text);
  return port;
}

Result<std::string> ParseHost(std::string_view text) {
  std::string_view host = text;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  bool ok = !host.empty();
  for (char c : host) {
    if (std::isspace(static_cast<unsigned char>(c)) ||
        std::iscntrl(static_cast<unsigned char>(c)) || c == '[' || c == ']' ||
        c == '/') {
      ok = false;
    }
  }
  if (!ok) return Expected("a host name or IP address like 0.0.0.0", text);
  return std::string(host);
}

Result<HostPort> ParseHostPort(std::string_view text) {
  constexpr std::string_view kWhat = "ADDR:PORT like 0.0.0.0:9180 or [::]:9180";
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return Expected(kWhat, text);
  std::string_view host = text.substr(0, colon);
  bool bracketed = host.starts_with('[') && host.ends_with(']');
  // An unbracketed IPv6 address leaves no way to tell where the port starts.
  if (!bracketed && host.find(':') != std::string_view::npos) {
    return Expected(kWhat, text);
  }
  Result<std::string> parsed_host = ParseHost(host);
  // Port 0 is allowed here: the admin server then takes any free port.
  Result<int> port = ParseInt(text.substr(colon + 1), 0, 65535);
  if (!parsed_host.ok() || !port.ok()) return Expected(kWhat, text);
  return HostPort{*parsed_host, *port};
}

Result<std::string> ParseLogLevel(std::string_view text) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 7>
      kLevels = {{{"trace", "trace"},
                  {"debug", "debug"},
                  {"info", "info"},
                  {"warn", "warn"},
                  {"error", "error"},
                  {"critical", "critical"},
                  {"off", "off"}}};
  Result<std::string_view> level = ParseChoice(
      text, kLevels, "one of trace, debug, info, warn, error, critical, off");
  if (!level.ok()) return level.status();
  return std::string(*level);
}

Result<LogFormat> ParseLogFormat(std::string_view text) {
  static constexpr std::array<std::pair<std::string_view, LogFormat>, 2>
      kFormats = {{{"text", LogFormat::kText}, {"json", LogFormat::kJson}}};
  return ParseChoice(text, kFormats, "text or json");
}

Result<Rounding> ParseRounding(std::string_view text) {
  static constexpr std::array<std::pair<std::string_view, Rounding>, 3>
      kRoundings = {{{"floor", Rounding::kFloor},
                     {"ceil", Rounding::kCeil},
                     {"nearest", Rounding::kNearest}}};
  return ParseChoice(text, kRoundings, "floor, ceil or nearest");
}

Result<ShareMode> ParseShareMode(std::string_view text) {
  static constexpr std::array<std::pair<std::string_view, ShareMode>, 2>
      kModes = {{{"reuseport", ShareMode::kReusePort},
                 {"shared", ShareMode::kShared}}};
  return ParseChoice(text, kModes, "reuseport or shared");
}

std::string Quote(std::string_view text) {
  constexpr size_t kMaxShown = 60;
  std::string out = "\"";
  for (size_t i = 0; i < text.size() && i < kMaxShown; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > kMaxShown) out += "...";
  out += '"';
  return out;
}

}  // namespace corefork
