// ParseCommandLine and UsageText (declared in config/config.h).
//
// Like tini, options end at `--` or at the first argument that is not an
// option, so `corefork node server.js --port 1` hands `--port 1` to node.
// Override flags are stored raw; LoadConfig parses them with the same value
// parsers as the config file and environment.

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "config/settings.h"
#include "config/suggest.h"

namespace corefork {
namespace {

constexpr std::string_view kCommandLine = "command line";

bool IsOption(std::string_view arg) { return arg.size() > 1 && arg[0] == '-'; }

// Walks argv and reports problems; one per parse.
class ArgParser {
 public:
  ArgParser(int argc, char** argv, Invocation* out,
            std::vector<ConfigError>* errors)
      : argc_(argc), argv_(argv), out_(out), errors_(errors) {}

  void ParseRun(int first);
  void ParseDetect(int first);
  void ParseCheckConfig(int first);
  void ParseClient(int first, std::string_view command);

 private:
  // One "--name[=value]" argument, split.
  struct Option {
    std::string_view name;
    std::optional<std::string_view> inline_value;
  };

  Option Split(std::string_view arg) const;
  void Error(std::string message) {
    errors_->push_back(
        ConfigError{std::string(kCommandLine), 0, 0, std::move(message)});
  }
  // The option's value: inline, or the next argument (consumed).
  std::optional<std::string> TakeValue(const Option& option);
  // Handles options every mode knows (help, version); false if not one.
  bool HandleCommon(const Option& option);
  void RejectValue(const Option& option);
  void Unknown(std::string_view name,
               const std::vector<std::string_view>& known);
  void RejectOptionAsCommand();
  // A client command's positional argument; false when it is not one.
  bool TakeClientArgument(std::string_view command, std::string_view arg);
  void CheckClientArgument(std::string_view command);

  int argc_;
  char** argv_;
  int next_ = 1;  // index of the argument after the current one
  Invocation* out_;
  std::vector<ConfigError>* errors_;
};

ArgParser::Option ArgParser::Split(std::string_view arg) const {
  size_t eq = arg.find('=');
  if (!arg.starts_with("--") || eq == std::string_view::npos) {
    return Option{arg, std::nullopt};
  }
  return Option{arg.substr(0, eq), arg.substr(eq + 1)};
}

std::optional<std::string> ArgParser::TakeValue(const Option& option) {
  if (option.inline_value) return std::string(*option.inline_value);
  // `--workers --port 80` means the value was forgotten, not "--port".
  if (next_ >= argc_ || std::string_view(argv_[next_]).starts_with("--")) {
    Error(fmt::format("option {} needs a value", option.name));
    return std::nullopt;
  }
  return std::string(argv_[next_++]);
}

void ArgParser::RejectValue(const Option& option) {
  if (option.inline_value) {
    Error(fmt::format("option {} takes no value", option.name));
  }
}

bool ArgParser::HandleCommon(const Option& option) {
  if (option.name == "-h" || option.name == "--help") {
    RejectValue(option);
    out_->mode = Invocation::Mode::kHelp;
    return true;
  }
  if (option.name == "-V" || option.name == "--version") {
    RejectValue(option);
    out_->mode = Invocation::Mode::kVersion;
    return true;
  }
  return false;
}

void ArgParser::Unknown(std::string_view name,
                        const std::vector<std::string_view>& known) {
  // Compare without the dashes: they would make "--foo" look like "--root".
  auto bare = [](std::string_view option) {
    size_t start = option.find_first_not_of('-');
    return start == std::string_view::npos ? std::string_view()
                                           : option.substr(start);
  };
  std::vector<std::string_view> bare_known;
  for (std::string_view option : known) bare_known.push_back(bare(option));
  std::optional<std::string> near = ClosestMatch(bare(name), bare_known);
  if (near) near = "--" + *near;
  Error(near ? fmt::format("unknown option {}; did you mean {}? (see --help)",
                           name, *near)
             : fmt::format("unknown option {} (see --help)", name));
}

void ArgParser::ParseRun(int first) {
  std::vector<std::string_view> known = {"--config", "--root", "--help",
                                         "--version"};
  for (const Setting& setting : Settings()) known.push_back(setting.flag);
  for (next_ = first; next_ < argc_;) {
    std::string_view arg = argv_[next_++];
    if (arg == "--" || !IsOption(arg)) {
      if (arg != "--") --next_;  // the first non-option is the program
      out_->command.assign(argv_ + next_, argv_ + argc_);
      RejectOptionAsCommand();
      return;
    }
    Option option = Split(arg);
    if (HandleCommon(option)) return;
    const Setting* setting = FindSettingByFlag(option.name);
    if (option.name == "--config" || option.name == "--root" || setting) {
      std::optional<std::string> value = TakeValue(option);
      if (!value) continue;
      if (option.name == "--config") {
        out_->config_path = *value;
      } else if (option.name == "--root") {
        out_->root = *value;
      } else {
        out_->flag_overrides.emplace_back(setting->key, *value);
      }
      continue;
    }
    Unknown(option.name, known);
  }
}

// `ENTRYPOINT ["corefork", "--"]` plus options in CMD or the chart's args
// would exec "--config" as the app: refuse it and say how to fix it.
void ArgParser::RejectOptionAsCommand() {
  if (out_->command.empty()) return;
  std::string_view word = out_->command[0];
  std::string_view flag = word.substr(0, word.find('='));
  if (!flag.starts_with("--")) return;
  if (flag != "--config" && flag != "--root" && !FindSettingByFlag(flag)) {
    return;
  }
  Error(fmt::format(
      "the worker command starts with {}, which is a corefork option: "
      "options go before `--` and the app after it (corefork --config FILE "
      "-- node server.js). In a Dockerfile use ENTRYPOINT [\"corefork\"] "
      "without \"--\", so CMD or the chart's args can carry options",
      flag));
}

void ArgParser::ParseDetect(int first) {
  out_->mode = Invocation::Mode::kDetect;
  const std::vector<std::string_view> known = {"--root", "--json", "--config",
                                               "--help"};
  for (next_ = first; next_ < argc_;) {
    std::string_view arg = argv_[next_++];
    if (!IsOption(arg)) {
      Error(fmt::format("detect: unexpected argument \"{}\"", arg));
      continue;
    }
    Option option = Split(arg);
    if (HandleCommon(option)) return;
    if (option.name == "--json") {
      RejectValue(option);
      out_->json = true;
    } else if (option.name == "--root" || option.name == "--config") {
      std::optional<std::string> value = TakeValue(option);
      if (!value) continue;
      (option.name == "--root" ? out_->root : out_->config_path) = *value;
    } else {
      Unknown(option.name, known);
    }
  }
}

void ArgParser::ParseCheckConfig(int first) {
  out_->mode = Invocation::Mode::kCheckConfig;
  bool have_file = false;
  for (next_ = first; next_ < argc_;) {
    std::string_view arg = argv_[next_++];
    if (IsOption(arg)) {
      Option option = Split(arg);
      if (HandleCommon(option)) return;
      Unknown(option.name, {"--help"});
    } else if (have_file) {
      Error(fmt::format("check-config: unexpected argument \"{}\"", arg));
    } else {
      out_->config_path = std::string(arg);
      have_file = true;
    }
  }
  if (!have_file)
    Error("check-config: missing FILE (corefork check-config FILE)");
}

// What each client command accepts (docs/cli.md).
struct ClientSpec {
  std::string_view name;
  std::vector<std::string_view> options;  // besides --help
  std::string_view argument;              // "" = none; else its usage name
  bool argument_required;
};

const std::vector<ClientSpec>& ClientSpecs() {
  static const std::vector<ClientSpec> kSpecs = {
      {"status", {"--json", "--socket", "--admin", "--config"}, "", false},
      {"reload", {"--wait", "--socket", "--admin", "--config"}, "", false},
      {"scale", {"--socket", "--admin", "--config"}, "N|+N|-N", true},
      {"jobs", {"--json", "--socket", "--config"}, "", false},
      {"run",
       {"--wait", "--input", "--json", "--socket", "--config"},
       "JOB",
       true},
      {"cancel", {"--socket", "--config"}, "RUN", true},
      {"probe", {"--admin", "--config"}, "livez|readyz", false},
  };
  return kSpecs;
}

const ClientSpec* FindClientSpec(std::string_view name) {
  for (const ClientSpec& spec : ClientSpecs()) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

// "3", "+2", "-1": scale's count (absolute or relative), at most 4 digits.
bool IsScaleCount(std::string_view arg) {
  if (!arg.empty() && (arg[0] == '+' || arg[0] == '-')) arg.remove_prefix(1);
  if (arg.empty() || arg.size() > 4) return false;
  for (char c : arg) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool ArgParser::TakeClientArgument(std::string_view command,
                                   std::string_view arg) {
  const ClientSpec* spec = FindClientSpec(command);
  if (spec->argument.empty()) {
    Error(fmt::format("{}: unexpected argument \"{}\"", command, arg));
    return true;
  }
  if (!out_->client.argument.empty()) {
    Error(fmt::format("{}: unexpected argument \"{}\" (one {} only)", command,
                      arg, spec->argument));
    return true;
  }
  out_->client.argument = std::string(arg);
  return true;
}

void ArgParser::CheckClientArgument(std::string_view command) {
  const ClientSpec* spec = FindClientSpec(command);
  const std::string& arg = out_->client.argument;
  if (arg.empty()) {
    if (spec->argument_required) {
      Error(fmt::format("{}: missing {} (corefork {} {})", command,
                        spec->argument, command, spec->argument));
    }
    return;
  }
  if (command == "scale" && !IsScaleCount(arg)) {
    Error(fmt::format(
        "scale: expected N, +N or -N (a worker count), got \"{}\"", arg));
  } else if (command == "cancel" &&
             (arg.size() > 19 ||
              arg.find_first_not_of("0123456789") != std::string::npos ||
              arg == std::string(arg.size(), '0'))) {
    Error(fmt::format("cancel: expected a run id (a number > 0), got \"{}\"",
                      arg));
  } else if (command == "probe") {
    std::string_view what = arg;
    if (what.starts_with('/')) what.remove_prefix(1);
    if (what != "livez" && what != "readyz") {
      Error(fmt::format("probe: expected livez or readyz, got \"{}\"", arg));
    } else {
      out_->client.argument = std::string(what);
    }
  }
}

void ArgParser::ParseClient(int first, std::string_view command) {
  out_->mode = Invocation::Mode::kClient;
  out_->client.name = std::string(command);
  const ClientSpec* spec = FindClientSpec(command);
  std::vector<std::string_view> known = spec->options;
  known.push_back("--help");
  bool options_done = false;
  for (next_ = first; next_ < argc_;) {
    std::string_view arg = argv_[next_++];
    // `scale -1` is a count, not an option.
    if (options_done || !IsOption(arg) ||
        (command == "scale" && IsScaleCount(arg))) {
      TakeClientArgument(command, arg);
      continue;
    }
    if (arg == "--") {
      options_done = true;
      continue;
    }
    Option option = Split(arg);
    if (HandleCommon(option)) return;
    if (std::find(known.begin(), known.end(), option.name) == known.end()) {
      Unknown(option.name, known);
      continue;
    }
    if (option.name == "--json" || option.name == "--wait") {
      RejectValue(option);
      (option.name == "--json" ? out_->json : out_->client.wait) = true;
      continue;
    }
    // --input - (stdin) is a value, not a forgotten one.
    std::optional<std::string> value;
    if (option.name == "--input" && !option.inline_value && next_ < argc_ &&
        std::string_view(argv_[next_]) == "-") {
      value = argv_[next_++];
    } else {
      value = TakeValue(option);
    }
    if (!value) continue;
    if (value->empty()) {
      Error(fmt::format("option {} needs a value", option.name));
    } else if (option.name == "--socket") {
      out_->client.socket = *value;
    } else if (option.name == "--config") {
      out_->config_path = *value;
    } else if (option.name == "--input") {
      out_->client.input = *value;
    } else if (option.name == "--admin") {
      out_->flag_overrides.emplace_back("admin", *value);
    }
  }
  CheckClientArgument(command);
}

bool IsClientCommand(std::string_view word) {
  return FindClientSpec(word) != nullptr;
}

}  // namespace

bool ParseCommandLine(int argc, char** argv, Invocation* out,
                      std::vector<ConfigError>* errors) {
  *out = Invocation{};
  const size_t errors_before = errors->size();
  ArgParser parser(argc, argv, out, errors);
  std::string_view first = argc > 1 ? argv[1] : "";
  // Subcommands count only as the first argument: after options, "detect"
  // is a program name like any other.
  if (first == "detect") {
    parser.ParseDetect(2);
  } else if (first == "check-config") {
    parser.ParseCheckConfig(2);
  } else if (IsClientCommand(first)) {
    parser.ParseClient(2, first);
  } else {
    parser.ParseRun(1);
  }
  return errors->size() == errors_before;
}

std::string UsageText() {
  return R"(Usage: corefork [OPTIONS] [--] COMMAND [ARGS...]
       corefork detect [--root DIR] [--config FILE] [--json]
       corefork check-config FILE
       corefork status|reload|scale|jobs|run|cancel|probe ... (see below)

Runs COMMAND as a pool of prefork workers, as many as the container's CPU
limit allows, all serving one port: an app that binds PORT itself gets its
worker's socket, and one written for socket activation finds it at fd 3.
Options end at `--` or at the first argument that is not an option.

Options:
  --config FILE                config file (default: $COREFORK_CONFIG, else none)
  --workers auto|N             number of workers (default: auto, from the CPU limit)
  --port PORT                  port of the first listener (default: 8080)
  --host ADDR                  address of the first listener (default: 0.0.0.0)
  --admin ADDR:PORT            admin HTTP server (default: 0.0.0.0:9180)
  --log-format text|json       log format (default: text)
  --log-level LEVEL            trace|debug|info|warn|error|critical|off (default: info)
  --logs-workers raw|tagged|json  the workers' stdout/stderr: as is (default),
                               each line prefixed with the worker, or JSON
  --drain-delay DURATION       keep serving this long after SIGTERM (default: 5s)
  --shutdown-timeout DURATION  then wait this long before SIGKILL (default: 30s)
  --ready-mode MODE            auto|listen|notify|none: when a worker counts as
                               ready (default: auto = listen with the shim)
  --compat-listen auto|off     hand the port to apps that bind it themselves
                               (LD_PRELOAD shim; default: auto)
  --compat-node-ipc auto|on|off  NODE_CHANNEL_FD for process.send (default:
                               auto = on for node, npm, npx, yarn)
  --root DIR                   read /proc and /sys under DIR (for tests)
  -h, --help                   show this help and exit
  -V, --version                show the version and exit

Every option but --root also reads COREFORK_<NAME> (COREFORK_WORKERS,
COREFORK_DRAIN_DELAY, ...). Flags win over the environment, which wins over
the config file, which wins over the defaults.
Values take --opt VALUE or --opt=VALUE. Durations: 250ms, 1.5s, 2m, 1h; a bare
number is seconds.

Subcommands:
  detect        show the CPU and memory limits found and the worker count
                they give (--json for a machine-readable object)
  check-config  validate FILE and exit

Client commands (talk to a running corefork; docs/cli.md):
  status [--json]              workers: pid, state, uptime, restarts, CPU%, RSS,
                               last exit; and a jobs summary
  reload [--wait]              rolling restart (--wait: until it is done)
  scale N|+N|-N                set, add or remove workers
  jobs [--json]                every job, its triggers and last result
  run JOB [--wait] [--input FILE|-] [--json]
                               start a run (--wait: print its output and exit
                               0 if it succeeded)
  cancel RUN                   cancel a queued or running run
  probe [livez|readyz]         exit 0 when the admin port answers 200, else 1
                               (default readyz; for HEALTHCHECK)
  They reach the control socket (--socket PATH, else control.socket from
  --config or $COREFORK_CONFIG, else $COREFORK_CONTROL_SOCKET, else the
  default) and the admin port (--admin ADDR:PORT, else the `admin` setting).
  Exit codes: 0 ok, 1 refused or failed, 2 usage, 69 nothing answers.
  A program named like a client command runs as `corefork -- NAME`.

See docs/configuration.md for the config file.
)";
}

}  // namespace corefork
