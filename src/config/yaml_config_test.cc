// ApplyYaml: the config file schema, its defaults and its error messages.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/config.h"
#include "config/values.h"

namespace corefork {
namespace {

constexpr char kFile[] = "corefork.yaml";

// Every error of applying `yaml` over a default Config, as main prints them.
std::vector<std::string> ErrorsOf(const std::string& yaml) {
  Config config;
  std::vector<ConfigError> errors;
  bool ok = ApplyYaml(yaml, kFile, &config, &errors);
  EXPECT_EQ(ok, errors.empty()) << yaml;
  std::vector<std::string> lines;
  for (const ConfigError& e : errors) lines.push_back(e.ToString());
  return lines;
}

TEST(ConfigYamlTest, FullFileGivesExpectedConfig) {
  const std::string yaml = R"(# every key
command: [node, server.js, --flag]
workers: 4
admin: 127.0.0.1:9999
listeners:
  - name: http
    host: "::"
    port: 3000
    backlog: 128
    mode: shared
  - name: metrics.v2
    port: 3001
sizing:
  per_cpu: 1.5
  rounding: ceil
  min: 2
  max: 16
  memory_per_worker: 512Mi
restart:
  initial_delay: 250ms
  factor: 1.5
  max_delay: 1m
  reset_after: 10s
  max_failures: 0
shutdown:
  drain_delay: 2.5
  timeout: 1m
  stop_signal: SIGQUIT
log_format: json
log_level: debug
env:
  NODE_ENV: production
  THREADS: 4
  EMPTY:
)";
  Config c;
  std::vector<ConfigError> errors;
  ASSERT_TRUE(ApplyYaml(yaml, kFile, &c, &errors))
      << (errors.empty() ? "" : errors[0].ToString());
  EXPECT_EQ(c.command,
            (std::vector<std::string>{"node", "server.js", "--flag"}));
  EXPECT_EQ(c.workers.count, 4);
  EXPECT_EQ(c.admin, "127.0.0.1:9999");
  ASSERT_EQ(c.listeners.size(), 2u);
  EXPECT_EQ(c.listeners[0].name, "http");
  EXPECT_EQ(c.listeners[0].host, "::");
  EXPECT_EQ(c.listeners[0].port, 3000);
  EXPECT_EQ(c.listeners[0].backlog, 128);
  EXPECT_EQ(c.listeners[0].mode, ShareMode::kShared);
  EXPECT_EQ(c.listeners[1].name, "metrics.v2");
  EXPECT_EQ(c.listeners[1].host, "0.0.0.0");
  EXPECT_EQ(c.listeners[1].port, 3001);
  EXPECT_EQ(c.listeners[1].backlog, 511);
  EXPECT_EQ(c.listeners[1].mode, ShareMode::kReusePort);
  EXPECT_DOUBLE_EQ(c.workers.per_cpu, 1.5);
  EXPECT_EQ(c.workers.rounding, Rounding::kCeil);
  EXPECT_EQ(c.workers.min, 2);
  EXPECT_EQ(c.workers.max, 16);
  EXPECT_EQ(c.workers.memory_per_worker, 512ULL << 20);
  EXPECT_EQ(c.restart.initial_delay, Duration(250));
  EXPECT_DOUBLE_EQ(c.restart.factor, 1.5);
  EXPECT_EQ(c.restart.max_delay, Duration(60'000));
  EXPECT_EQ(c.restart.reset_after, Duration(10'000));
  EXPECT_EQ(c.restart.max_failures, 0);
  EXPECT_EQ(c.shutdown.drain_delay, Duration(2'500));
  EXPECT_EQ(c.shutdown.timeout, Duration(60'000));
  EXPECT_EQ(c.shutdown.stop_signal, 3);
  EXPECT_EQ(c.log.format, LogFormat::kJson);
  EXPECT_EQ(c.log.level, "debug");
  EXPECT_EQ(c.env,
            (std::map<std::string, std::string>{
                {"NODE_ENV", "production"}, {"THREADS", "4"}, {"EMPTY", ""}}));
}

TEST(ConfigYamlTest, EmptyDocumentsMeanDefaults) {
  const char* cases[] = {
      "",      "\n",  "# only a comment\n",
      "---\n", "~\n", "sizing:\nrestart:\nlisteners:\nenv:\ncommand:\n"};
  for (const char* yaml : cases) {
    Config c;
    std::vector<ConfigError> errors;
    EXPECT_TRUE(ApplyYaml(yaml, kFile, &c, &errors)) << Quote(yaml);
    EXPECT_TRUE(c.command.empty()) << yaml;
    ASSERT_EQ(c.listeners.size(), 1u) << yaml;
    EXPECT_EQ(c.listeners[0].port, 8080) << yaml;
    EXPECT_EQ(c.workers.count, std::nullopt) << yaml;
    EXPECT_EQ(c.shutdown.timeout, Duration(30'000)) << yaml;
    EXPECT_EQ(c.admin, "0.0.0.0:9180") << yaml;
  }
}

TEST(ConfigYamlTest, PortAndHostRefineTheFirstListenerInAnyOrder) {
  const char* cases[] = {
      "port: 9000\nhost: 127.0.0.1\nlisteners:\n  - name: web\n    port: 1\n",
      "listeners:\n  - name: web\n    port: 1\nport: 9000\nhost: 127.0.0.1\n",
  };
  for (const char* yaml : cases) {
    Config c;
    std::vector<ConfigError> errors;
    ASSERT_TRUE(ApplyYaml(yaml, kFile, &c, &errors)) << yaml;
    ASSERT_EQ(c.listeners.size(), 1u) << yaml;
    EXPECT_EQ(c.listeners[0].name, "web") << yaml;
    EXPECT_EQ(c.listeners[0].port, 9000) << yaml;
    EXPECT_EQ(c.listeners[0].host, "127.0.0.1") << yaml;
  }
}

TEST(ConfigYamlTest, NullMemoryPerWorkerMeansUnset) {
  Config c;
  c.workers.memory_per_worker = 1;
  std::vector<ConfigError> errors;
  ASSERT_TRUE(
      ApplyYaml("sizing:\n  memory_per_worker: null\n", kFile, &c, &errors));
  EXPECT_EQ(c.workers.memory_per_worker, std::nullopt);
}

// One bad value (or shape) per case: position, key path, expectation.
TEST(ConfigYamlTest, ErrorsNamePositionKeyAndExpectation) {
  struct Case {
    const char* name;
    const char* yaml;
    const char* error;
  };
  const Case cases[] = {
      {"negative max_failures", "restart:\n  max_failures: -3\n",
       "corefork.yaml:2:17: restart.max_failures: expected an integer >= 0, "
       "got \"-3\""},
      {"bad workers", "workers: lots\n",
       "corefork.yaml:1:10: workers: expected auto or an integer >= 1, got "
       "\"lots\""},
      {"zero workers", "workers: 0\n",
       "corefork.yaml:1:10: workers: expected auto or an integer >= 1, got "
       "\"0\""},
      {"port out of range", "port: 70000\n",
       "corefork.yaml:1:7: port: expected a port number 1..65535, got "
       "\"70000\""},
      {"bad duration", "shutdown:\n  drain_delay: 5 seconds\n",
       "corefork.yaml:2:16: shutdown.drain_delay: expected a duration like "
       "250ms, 1.5s, 2m or 1h, got \"5 seconds\""},
      {"bad signal", "shutdown:\n  stop_signal: SIGNOPE\n",
       "corefork.yaml:2:16: shutdown.stop_signal: expected a signal like "
       "SIGTERM, TERM or 15, got \"SIGNOPE\""},
      {"bad size", "sizing:\n  memory_per_worker: 1GB\n",
       "corefork.yaml:2:22: sizing.memory_per_worker: expected a size in bytes "
       "like 1073741824, 512Mi or 2G, got \"1GB\""},
      {"zero size", "sizing:\n  memory_per_worker: 0\n",
       "corefork.yaml:2:22: sizing.memory_per_worker: expected a size > 0 like "
       "512Mi or 2G (or null), got \"0\""},
      {"per_cpu zero", "sizing: {per_cpu: 0}\n",
       "corefork.yaml:1:19: sizing.per_cpu: expected a number > 0, got \"0\""},
      {"factor below one", "restart:\n  factor: 0.5\n",
       "corefork.yaml:2:11: restart.factor: expected a number >= 1, got "
       "\"0.5\""},
      {"bad rounding", "sizing:\n  rounding: up\n",
       "corefork.yaml:2:13: sizing.rounding: expected floor, ceil or nearest, "
       "got \"up\""},
      {"bad log level", "log_level: verbose\n",
       "corefork.yaml:1:12: log_level: expected one of trace, debug, info, "
       "warn, error, critical, off, got \"verbose\""},
      {"bad admin", "admin: 9180\n",
       "corefork.yaml:1:8: admin: expected ADDR:PORT like 0.0.0.0:9180 or "
       "[::]:9180, got \"9180\""},
      {"missing value", "log_format:\n",
       "corefork.yaml:1:1: log_format: expected text or json, got nothing"},
      {"command as string", "command: node server.js\n",
       "corefork.yaml:1:10: command: expected a list of strings (argv), e.g. "
       "[node, server.js], got \"node server.js\""},
      {"command item map", "command: [node, {a: 1}]\n",
       "corefork.yaml:1:17: command[1]: expected a string, got a map"},
      {"command empty program", "command: ['', x]\n",
       "corefork.yaml:1:11: command[0]: expected a program name, got \"\""},
      {"section as scalar", "restart: fast\n",
       "corefork.yaml:1:10: restart: expected a map, got \"fast\""},
      {"scalar as map", "workers:\n  count: 3\n",
       "corefork.yaml:2:3: workers: expected a single value, got a map"},
      {"scalar as list", "port: [1, 2]\n",
       "corefork.yaml:1:7: port: expected a single value, got a list"},
      {"listeners as map", "listeners:\n  http: 8080\n",
       "corefork.yaml:2:3: listeners: expected a list of listeners (maps of "
       "name, host, port, backlog, mode), got a map"},
      {"listeners empty", "listeners: []\n",
       "corefork.yaml:1:12: listeners: expected at least one listener, got an "
       "empty list"},
      {"listener as scalar", "listeners:\n  - 8080\n",
       "corefork.yaml:2:5: listeners[0]: expected a map of name, host, port, "
       "backlog, mode, got \"8080\""},
      {"listener bad port",
       "listeners:\n  - name: a\n  - name: b\n    port: "
       "http\n",
       "corefork.yaml:4:11: listeners[1].port: expected a port number "
       "1..65535, "
       "got \"http\""},
      {"listener bad name", "listeners:\n  - name: my web\n",
       "corefork.yaml:2:11: listeners[0].name: expected a name of letters, "
       "digits, '_', '.' or '-', got \"my web\""},
      {"listener bad mode", "listeners:\n  - mode: fork\n",
       "corefork.yaml:2:11: listeners[0].mode: expected reuseport or shared, "
       "got \"fork\""},
      {"listener backlog", "listeners:\n  - backlog: 0\n",
       "corefork.yaml:2:14: listeners[0].backlog: expected an integer "
       "1..65535, got \"0\""},
      {"env as list", "env: [A=1]\n",
       "corefork.yaml:1:6: env: expected a map of NAME: value, got a list"},
      {"env value map", "env:\n  A:\n    b: 1\n",
       "corefork.yaml:3:5: env.A: expected a string, got a map"},
      {"env bad name", "env:\n  A=B: 1\n",
       "corefork.yaml:2:3: env: expected a variable name without '=', got "
       "\"A=B\""},
      {"env reserved PORT", "env:\n  PORT: 80\n",
       "corefork.yaml:2:3: env: PORT is set by corefork for every worker "
       "(LISTEN_*, NOTIFY_SOCKET, PORT, WATCHDOG_*, NODE_CHANNEL_*, "
       "COREFORK_* are reserved); use `port:`, `ready:` or `compat:` instead"},
      {"env reserved prefix", "env:\n  COREFORK_WORKER_ID: 1\n",
       "corefork.yaml:2:3: env: COREFORK_WORKER_ID is set by corefork for "
       "every worker (LISTEN_*, NOTIFY_SOCKET, PORT, WATCHDOG_*, "
       "NODE_CHANNEL_*, COREFORK_* are reserved); use `port:`, `ready:` or "
       "`compat:` instead"},
      {"compat listen", "compat:\n  listen: on\n",
       "corefork.yaml:2:11: compat.listen: expected auto or off, got \"on\""},
      {"shutdown message", "shutdown:\n  message: maybe\n",
       "corefork.yaml:2:12: shutdown.message: expected true or false, got "
       "\"maybe\""},
      {"top level list", "- workers: 2\n",
       "corefork.yaml:1:1: expected a map of settings (key: value) at the top "
       "level, got a list"},
      {"top level scalar", "hello\n",
       "corefork.yaml:1:1: expected a map of settings (key: value) at the top "
       "level, got \"hello\""},
      {"two documents", "workers: 2\n---\nworkers: 3\n",
       "corefork.yaml:2:1: expected one YAML document, found 2"},
      {"duplicate key", "workers: 2\nport: 80\nworkers: 3\n",
       "corefork.yaml:3:1: duplicate key \"workers\" (first set on line 1)"},
      {"non-scalar key", "? [a, b]\n: 1\n",
       "corefork.yaml:1:3: expected a key name, got a list"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> errors = ErrorsOf(c.yaml);
    ASSERT_EQ(errors.size(), 1u)
        << c.name << ": " << ::testing::PrintToString(errors);
    EXPECT_EQ(errors[0], c.error) << c.name;
  }
}

TEST(ConfigYamlTest, UnknownKeysSuggestTheNearestKnownOne) {
  struct Case {
    const char* name;
    const char* yaml;
    const char* error;
  };
  const Case cases[] = {
      {"typo", "port: 80\nhost: 0.0.0.0\nwrokers: 2\n",
       "corefork.yaml:3:1: unknown key \"wrokers\" (did you mean "
       "\"workers\"?)"},
      {"nested typo", "restart:\n  max_failurs: 2\n",
       "corefork.yaml:2:3: unknown key \"restart.max_failurs\" (did you mean "
       "\"restart.max_failures\"?)"},
      {"listener typo", "listeners:\n  - prot: 80\n",
       "corefork.yaml:2:5: unknown key \"listeners[0].prot\" (did you mean "
       "\"listeners[0].port\"?)"},
      {"section key at top", "drain_delay: 5s\n",
       "corefork.yaml:1:1: unknown key \"drain_delay\" (did you mean "
       "\"shutdown.drain_delay\"?)"},
      {"flag name at top", "shutdown_timeout: 5s\n",
       "corefork.yaml:1:1: unknown key \"shutdown_timeout\" (did you mean "
       "\"shutdown.timeout\"?)"},
      {"nothing close", "colour: blue\n",
       "corefork.yaml:1:1: unknown key \"colour\""},
  };
  for (const Case& c : cases) {
    std::vector<std::string> errors = ErrorsOf(c.yaml);
    ASSERT_EQ(errors.size(), 1u)
        << c.name << ": " << ::testing::PrintToString(errors);
    EXPECT_EQ(errors[0], c.error) << c.name;
  }
}

TEST(ConfigYamlTest, ReportsEveryProblemNotJustTheFirst) {
  const std::string yaml = R"(workers: zero
wrokers: 2
restart:
  max_failures: -3
  factor: x
listeners:
  - name: a
    port: 0
shutdown:
  stop_signal: NOPE
)";
  std::vector<std::string> expected = {
      "corefork.yaml:2:1: unknown key \"wrokers\" (did you mean "
      "\"workers\"?)",
      "corefork.yaml:1:10: workers: expected auto or an integer >= 1, got "
      "\"zero\"",
      "corefork.yaml:4:17: restart.max_failures: expected an integer >= 0, "
      "got \"-3\"",
      "corefork.yaml:5:11: restart.factor: expected a number >= 1, got \"x\"",
      "corefork.yaml:8:11: listeners[0].port: expected a port number "
      "1..65535, got \"0\"",
      "corefork.yaml:10:16: shutdown.stop_signal: expected a signal like "
      "SIGTERM, TERM or 15, got \"NOPE\"",
  };
  EXPECT_EQ(ErrorsOf(yaml), expected);
}

TEST(ConfigYamlTest, SyntaxErrorsCarryYamlCppsPosition) {
  struct Case {
    const char* name;
    const char* yaml;
    const char* error;
  };
  const Case cases[] = {
      {"unclosed flow", "command: [node, server.js\nworkers: 2\n",
       "corefork.yaml:2:8: invalid YAML: end of sequence flow not found"},
      {"bad nesting", "workers: a: b\n",
       "corefork.yaml:1:11: invalid YAML: illegal map value"},
      {"tab indent", "sizing:\n\tmin: 2\n",
       "corefork.yaml:2:5: invalid YAML: illegal map value"},
      {"undefined alias", "workers: *nope\n",
       "corefork.yaml:1:10: invalid YAML: the referenced anchor is not "
       "defined"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> errors = ErrorsOf(c.yaml);
    ASSERT_EQ(errors.size(), 1u)
        << c.name << ": " << ::testing::PrintToString(errors);
    EXPECT_EQ(errors[0], c.error) << c.name;
  }
}

TEST(ConfigYamlTest, HostileInputsDoNotCrash) {
  const std::string cases[] = {
      std::string(100'000, '['),
      "command: &a [*a]\nenv: &e {x: *e}\n",
      std::string("workers: \"\0\"\n", 13),
      "\xff\xfe garbage: \x01\n",
  };
  for (const std::string& yaml : cases) {
    Config c;
    std::vector<ConfigError> errors;
    EXPECT_FALSE(ApplyYaml(yaml, kFile, &c, &errors)) << yaml.substr(0, 40);
    EXPECT_FALSE(errors.empty()) << yaml.substr(0, 40);
  }
}

TEST(ConfigYamlTest, ClashingValuesPointAtTheLaterOne) {
  struct Case {
    const char* name;
    const char* yaml;
    const char* error;
  };
  const Case cases[] = {
      {"duplicate names", "listeners:\n  - port: 80\n  - port: 81\n",
       "corefork.yaml:3:5: listeners[1]: listener name \"http\" is used twice "
       "(also by listeners[0]); give each listener its own `name:`"},
      {"duplicate address",
       "listeners:\n  - {name: a, port: 80}\n  - {name: b, port: 80, host: "
       "0.0.0.0}\n",
       "corefork.yaml:3:5: listeners[1]: address 0.0.0.0:80 of listener \"b\" "
       "overlaps listener \"a\" (0.0.0.0:80)"},
      {"wildcard covers specific",
       "listeners:\n  - {name: a, port: 80, host: 127.0.0.1}\n  - {name: b, "
       "port: 80, host: \"::\"}\n",
       "corefork.yaml:3:5: listeners[1]: address [::]:80 of listener \"b\" "
       "overlaps listener \"a\" (127.0.0.1:80)"},
      {"shorthand makes a clash",
       "listeners:\n  - {name: a, port: 80}\n  - {name: b, port: 81}\nport: "
       "81\n",
       "corefork.yaml:3:5: listeners[1]: address 0.0.0.0:81 of listener \"b\" "
       "overlaps listener \"a\" (0.0.0.0:81)"},
      {"admin clash", "port: 9180\n",
       "corefork.yaml:1:7: port: address 0.0.0.0:9180 of listener \"http\" "
       "overlaps the admin server (0.0.0.0:9180); move one of them (admin: or "
       "--admin)"},
      {"max below min", "sizing:\n  min: 4\n  max: 2\n",
       "corefork.yaml:3:8: sizing.max: expected an integer >= sizing.min (4), "
       "got \"2\""},
      {"min above default max", "sizing:\n  min: 2000\n",
       "corefork.yaml:2:8: sizing.min: expected an integer <= sizing.max "
       "(1024), got \"2000\""},
  };
  for (const Case& c : cases) {
    std::vector<std::string> errors = ErrorsOf(c.yaml);
    ASSERT_EQ(errors.size(), 1u)
        << c.name << ": " << ::testing::PrintToString(errors);
    EXPECT_EQ(errors[0], c.error) << c.name;
  }
}

TEST(ConfigYamlTest, DistinctAddressesDoNotClash) {
  const char* cases[] = {
      "listeners:\n  - {name: a, port: 80}\n  - {name: b, port: 81}\n",
      "listeners:\n  - {name: a, port: 80, host: 127.0.0.1}\n  - {name: b, "
      "port: 80, host: 127.0.0.2}\n",
      "listeners:\n  - {name: a, port: 80, host: 0.0.0.0}\n  - {name: b, "
      "port: 80, host: \"::1\"}\n",
      "port: 9180\nadmin: 127.0.0.1:0\n",
  };
  for (const char* yaml : cases) {
    EXPECT_EQ(ErrorsOf(yaml), std::vector<std::string>{}) << yaml;
  }
}

}  // namespace
}  // namespace corefork

namespace corefork {
namespace {

TEST(ConfigYamlTest, ReadinessWatchdogAndControlSections) {
  Config config;
  std::vector<ConfigError> errors;
  ASSERT_TRUE(ApplyYaml(R"(ready: {mode: fd, timeout: 20s, min_workers: 50%}
watchdog: {timeout: 3s, grace: 1s}
control: {socket: /run/app/control.sock}
)",
                        kFile, &config, &errors));
  EXPECT_EQ(config.ready.mode, ReadyMode::kNotify);
  EXPECT_EQ(config.ready.timeout.count(), 20'000);
  EXPECT_EQ(config.ready.min_workers, 50);
  EXPECT_TRUE(config.ready.min_workers_percent);
  EXPECT_EQ(config.watchdog.timeout.count(), 3'000);
  EXPECT_EQ(config.watchdog.grace.count(), 1'000);
  EXPECT_EQ(config.control.socket, "/run/app/control.sock");

  struct Case {
    const char* yaml;
    const char* error;
  } cases[] = {
      {"ready: {mode: maybe}\n",
       "corefork.yaml:1:15: ready.mode: expected auto, none, notify, fd or "
       "listen, got "
       "\"maybe\""},
      {"ready: {min_workers: 150%}\n",
       "corefork.yaml:1:22: ready.min_workers: expected a count like 2 or a "
       "percentage like 50%, got \"150%\""},
      {"control: {socket: run/x.sock}\n",
       "corefork.yaml:1:19: control.socket: expected an absolute path of at "
       "most 107 bytes, got \"run/x.sock\""},
      {"watchdog: {timeout: soon}\n",
       "corefork.yaml:1:21: watchdog.timeout: expected a duration like 250ms, "
       "1.5s, 2m or 1h, got \"soon\""},
  };
  for (const Case& c : cases) {
    std::vector<std::string> got = ErrorsOf(c.yaml);
    ASSERT_EQ(got.size(), 1u) << c.yaml;
    EXPECT_EQ(got[0], c.error) << c.yaml;
  }
}

}  // namespace
}  // namespace corefork

namespace corefork {
namespace {

TEST(ConfigYamlRecycleTest, EveryKeyLands) {
  Config config;
  std::vector<ConfigError> errors;
  ASSERT_TRUE(ApplyYaml(R"(recycle:
  max_rss: 512Mi
  max_lifetime: 6h
  jitter: 12.5%
  schedule: "0 4 * * *"
  timezone: Europe/Berlin
  memory_pressure: 90%
  check_interval: 2s
)",
                        "corefork.yaml", &config, &errors))
      << (errors.empty() ? "" : errors[0].ToString());
  const RecycleConfig& r = config.recycle;
  EXPECT_EQ(r.max_rss, std::optional<uint64_t>(512ull << 20));
  EXPECT_EQ(r.max_lifetime, std::chrono::hours(6));
  EXPECT_DOUBLE_EQ(r.jitter, 0.125);
  ASSERT_TRUE(r.schedule.has_value());
  EXPECT_EQ(r.schedule->ToString(), "0 4 * * *");
  EXPECT_EQ(r.timezone.name(), "Europe/Berlin");
  EXPECT_DOUBLE_EQ(r.memory_pressure.value_or(0), 0.9);
  EXPECT_EQ(r.check_interval, Duration(2'000));
  EXPECT_TRUE(r.On());
}

TEST(ConfigYamlRecycleTest, DefaultsAreOff) {
  Config config;
  EXPECT_FALSE(config.recycle.On());
  EXPECT_DOUBLE_EQ(config.recycle.jitter, 0.1);
  EXPECT_EQ(config.recycle.check_interval, Duration(5'000));
  std::vector<ConfigError> errors;
  ASSERT_TRUE(ApplyYaml("recycle: {max_rss: null, memory_pressure: null}\n",
                        "corefork.yaml", &config, &errors));
  EXPECT_FALSE(config.recycle.On());
}

TEST(ConfigYamlRecycleTest, BadValuesAreNamedWithTheirPlace) {
  struct Case {
    std::string yaml;
    std::string error;
  } cases[] = {
      {"recycle:\n  max_rss: 1k\n", "corefork.yaml:2:12: recycle.max_rss"},
      {"recycle:\n  max_rss: lots\n", "corefork.yaml:2:12: recycle.max_rss"},
      {"recycle:\n  max_lifetime: 500ms\n",
       "corefork.yaml:2:17: recycle.max_lifetime"},
      {"recycle:\n  max_lifetime: 9000h\n",
       "corefork.yaml:2:17: recycle.max_lifetime"},
      {"recycle:\n  jitter: 95%\n", "corefork.yaml:2:11: recycle.jitter"},
      {"recycle:\n  jitter: 0.1\n", "corefork.yaml:2:11: recycle.jitter"},
      {"recycle:\n  schedule: \"61 * * * *\"\n",
       "corefork.yaml:2:13: recycle.schedule"},
      {"recycle:\n  timezone: Mars/Olympus\n",
       "corefork.yaml:2:13: recycle.timezone"},
      {"recycle:\n  memory_pressure: 0%\n",
       "corefork.yaml:2:20: recycle.memory_pressure"},
      {"recycle:\n  memory_pressure: 101%\n",
       "corefork.yaml:2:20: recycle.memory_pressure"},
      {"recycle:\n  check_interval: 10ms\n",
       "corefork.yaml:2:19: recycle.check_interval"},
      {"recycle:\n  check_interval: 2h\n",
       "corefork.yaml:2:19: recycle.check_interval"},
      {"recycle:\n  max_rsss: 1Gi\n", "corefork.yaml:2:3:"},
  };
  for (const Case& c : cases) {
    Config config;
    std::vector<ConfigError> errors;
    EXPECT_FALSE(ApplyYaml(c.yaml, "corefork.yaml", &config, &errors))
        << c.yaml;
    ASSERT_EQ(errors.size(), 1u) << c.yaml;
    EXPECT_EQ(errors[0].ToString().rfind(c.error, 0), 0u)
        << c.yaml << " -> " << errors[0].ToString();
  }
}

}  // namespace
}  // namespace corefork
