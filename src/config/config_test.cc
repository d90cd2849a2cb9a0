// LoadConfig: defaults < file < environment < flags, and ConfigError.

#include "config/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace corefork {
namespace {

using Strings = std::vector<std::string>;

class ConfigLoadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/corefork_config_test.XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Writes `text` to a file in the test's directory; returns its path.
  std::string WriteFile(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  // LoadConfig; the errors' ToString() go to errors_.
  Config Load(const Invocation& invocation, const Strings& env) {
    Config config;
    std::vector<ConfigError> errors;
    ok_ = LoadConfig(invocation, env, &config, &errors);
    errors_.clear();
    for (const ConfigError& e : errors) errors_.push_back(e.ToString());
    return config;
  }

  static Invocation Run(Strings command = {"app"}) {
    Invocation invocation;
    invocation.command = std::move(command);
    return invocation;
  }

  std::string dir_;
  bool ok_ = false;
  Strings errors_;
};

TEST(ConfigErrorTest, ToStringShowsWhatIsKnown) {
  struct Case {
    ConfigError error;
    const char* text;
  };
  const Case cases[] = {
      {{"c.yaml", 7, 17, "restart.max_failures: bad"},
       "c.yaml:7:17: restart.max_failures: bad"},
      {{"c.yaml", 3, 0, "m"}, "c.yaml:3: m"},
      {{"environment", 0, 0, "COREFORK_PORT: bad"},
       "environment: COREFORK_PORT: bad"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(c.error.ToString(), c.text) << c.text;
  }
}

TEST_F(ConfigLoadTest, DefaultsWithOnlyACommand) {
  Invocation invocation = Run({"node", "server.js"});
  invocation.root = "/tmp/fake-root";
  Config c = Load(invocation, {"PATH=/bin", "HOME=/root"});
  ASSERT_TRUE(ok_) << ::testing::PrintToString(errors_);
  EXPECT_EQ(c.command, (Strings{"node", "server.js"}));
  EXPECT_EQ(c.cgroup_root, "/tmp/fake-root");
  EXPECT_EQ(c.config_file, "");
  EXPECT_EQ(c.workers.count, std::nullopt);
  ASSERT_EQ(c.listeners.size(), 1u);
  EXPECT_EQ(c.listeners[0].port, 8080);
  EXPECT_EQ(c.admin, "0.0.0.0:9180");
  EXPECT_EQ(c.shutdown.drain_delay, Duration(5'000));
}

// Each case sets `workers` (and `port`) in some of file, env and flags.
TEST_F(ConfigLoadTest, FlagsBeatEnvironmentBeatFileBeatDefaults) {
  struct Case {
    const char* name;
    const char* file;  // "" for no file
    Strings env;
    Strings flags;  // "key=value"
    std::optional<int> workers;
    int port;
  };
  const Case cases[] = {
      {"defaults", "", {}, {}, std::nullopt, 8080},
      {"file", "workers: 2\nport: 1002\n", {}, {}, 2, 1002},
      {"env beats file",
       "workers: 2\nport: 1002\n",
       {"COREFORK_WORKERS=3"},
       {},
       3,
       1002},
      {"flag beats env and file",
       "workers: 2\nport: 1002\n",
       {"COREFORK_WORKERS=3", "COREFORK_PORT=1003"},
       {"workers=4"},
       4,
       1003},
      {"flag auto beats file count",
       "workers: 2\n",
       {},
       {"workers=auto"},
       std::nullopt,
       8080},
      {"env without file", "", {"COREFORK_PORT=1003"}, {}, std::nullopt, 1003},
      {"empty env is unset",
       "workers: 2\n",
       {"COREFORK_WORKERS="},
       {},
       2,
       8080},
      {"first duplicate env wins",
       "",
       {"COREFORK_WORKERS=5", "COREFORK_WORKERS=6"},
       {},
       5,
       8080},
      {"last flag wins", "", {}, {"port=1", "port=2"}, std::nullopt, 2},
  };
  for (const Case& c : cases) {
    Invocation invocation = Run();
    if (*c.file) invocation.config_path = WriteFile("c.yaml", c.file);
    for (const std::string& flag : c.flags) {
      size_t eq = flag.find('=');
      invocation.flag_overrides.emplace_back(flag.substr(0, eq),
                                             flag.substr(eq + 1));
    }
    Config config = Load(invocation, c.env);
    ASSERT_TRUE(ok_) << c.name << ": " << ::testing::PrintToString(errors_);
    EXPECT_EQ(config.workers.count, c.workers) << c.name;
    EXPECT_EQ(config.listeners[0].port, c.port) << c.name;
  }
}

TEST_F(ConfigLoadTest, EveryEnvironmentVariableAndFlagLands) {
  const Strings env = {
      "COREFORK_WORKERS=7",         "COREFORK_PORT=81",
      "COREFORK_HOST=127.0.0.1",    "COREFORK_ADMIN=127.0.0.1:9999",
      "COREFORK_LOG_FORMAT=json",   "COREFORK_LOG_LEVEL=error",
      "COREFORK_DRAIN_DELAY=250ms", "COREFORK_SHUTDOWN_TIMEOUT=1m",
      "COREFORK_WORKER_ID=3",       "COREFORK_SOMETHING_ELSE=x",
  };
  Config from_env = Load(Run(), env);
  ASSERT_TRUE(ok_) << ::testing::PrintToString(errors_);

  Invocation invocation = Run();
  invocation.flag_overrides = {
      {"workers", "7"},         {"port", "81"},
      {"host", "127.0.0.1"},    {"admin", "127.0.0.1:9999"},
      {"log_format", "json"},   {"log_level", "error"},
      {"drain_delay", "250ms"}, {"shutdown_timeout", "1m"}};
  Config from_flags = Load(invocation, {});
  ASSERT_TRUE(ok_) << ::testing::PrintToString(errors_);

  for (const Config* c : {&from_env, &from_flags}) {
    const char* name = c == &from_env ? "env" : "flags";
    EXPECT_EQ(c->workers.count, 7) << name;
    EXPECT_EQ(c->listeners[0].port, 81) << name;
    EXPECT_EQ(c->listeners[0].host, "127.0.0.1") << name;
    EXPECT_EQ(c->admin, "127.0.0.1:9999") << name;
    EXPECT_EQ(c->log.format, LogFormat::kJson) << name;
    EXPECT_EQ(c->log.level, "error") << name;
    EXPECT_EQ(c->shutdown.drain_delay, Duration(250)) << name;
    EXPECT_EQ(c->shutdown.timeout, Duration(60'000)) << name;
  }
}

TEST_F(ConfigLoadTest, LogsWorkersFromFileEnvironmentAndFlag) {
  EXPECT_EQ(Load(Run(), {}).log.workers, WorkerLogMode::kRaw);
  Invocation from_file = Run();
  from_file.config_path = WriteFile("c.yaml", "logs:\n  workers: tagged\n");
  EXPECT_EQ(Load(from_file, {}).log.workers, WorkerLogMode::kTagged);
  ASSERT_TRUE(ok_) << ::testing::PrintToString(errors_);
  EXPECT_EQ(Load(from_file, {"COREFORK_LOGS_WORKERS=json"}).log.workers,
            WorkerLogMode::kJson);
  Invocation flag = from_file;
  flag.flag_overrides = {{"logs_workers", "raw"}};
  EXPECT_EQ(Load(flag, {"COREFORK_LOGS_WORKERS=json"}).log.workers,
            WorkerLogMode::kRaw);

  Invocation bad = Run();
  bad.config_path = WriteFile("bad.yaml", "logs:\n  workers: pretty\n");
  Load(bad, {});
  EXPECT_FALSE(ok_);
  EXPECT_EQ(errors_, Strings{bad.config_path +
                             ":2:12: logs.workers: expected raw, tagged or "
                             "json, got \"pretty\""});
  Invocation typo = Run();
  typo.config_path = WriteFile("typo.yaml", "logs:\n  worker: json\n");
  Load(typo, {});
  EXPECT_FALSE(ok_);
}

TEST_F(ConfigLoadTest, ConfigFileFromFlagOrEnvironment) {
  std::string by_env = WriteFile("env.yaml", "workers: 2\n");
  std::string by_flag = WriteFile("flag.yaml", "workers: 3\n");
  struct Case {
    const char* name;
    std::string flag_path;
    Strings env;
    std::string file;
    std::optional<int> workers;
  };
  const Case cases[] = {
      {"env", "", {"COREFORK_CONFIG=" + by_env}, by_env, 2},
      {"flag wins", by_flag, {"COREFORK_CONFIG=" + by_env}, by_flag, 3},
      {"none", "", {"COREFORK_CONFIG="}, "", std::nullopt},
  };
  for (const Case& c : cases) {
    Invocation invocation = Run();
    invocation.config_path = c.flag_path;
    Config config = Load(invocation, c.env);
    ASSERT_TRUE(ok_) << c.name << ": " << ::testing::PrintToString(errors_);
    EXPECT_EQ(config.config_file, c.file) << c.name;
    EXPECT_EQ(config.workers.count, c.workers) << c.name;
  }
}

TEST_F(ConfigLoadTest, CommandComesFromFileUnlessGivenAfterDashes) {
  std::string path = WriteFile("c.yaml", "command: [node, server.js]\n");
  Invocation from_file;
  from_file.config_path = path;
  EXPECT_EQ(Load(from_file, {}).command, (Strings{"node", "server.js"}));
  EXPECT_TRUE(ok_) << ::testing::PrintToString(errors_);

  Invocation from_flags = Run({"python", "app.py"});
  from_flags.config_path = path;
  EXPECT_EQ(Load(from_flags, {}).command, (Strings{"python", "app.py"}));
  EXPECT_TRUE(ok_) << ::testing::PrintToString(errors_);
}

TEST_F(ConfigLoadTest, ErrorsSaySourceAndKey) {
  struct Case {
    const char* name;
    Invocation::Mode mode;
    const char* file;  // "" for none
    Strings command;
    Strings env;
    std::vector<std::pair<std::string, std::string>> flags;
    Strings errors;  // "@" stands for the config file's path
  };
  const Case cases[] = {
      {"no command",
       Invocation::Mode::kRun,
       "",
       {},
       {},
       {},
       {"command line: no command given: set `command:` in the config file "
        "or pass -- COMMAND"}},
      {"no command in file either",
       Invocation::Mode::kRun,
       "workers: 2\n",
       {},
       {},
       {},
       {"@: no command given: set `command:` in the config file or pass -- "
        "COMMAND"}},
      {"empty command list",
       Invocation::Mode::kRun,
       "\ncommand: []\n",
       {},
       {},
       {},
       {"@:2:10: no command given: set `command:` in the config file or pass "
        "-- COMMAND"}},
      {"detect needs no command",
       Invocation::Mode::kDetect,
       "",
       {},
       {},
       {},
       {}},
      {"check-config needs no command",
       Invocation::Mode::kCheckConfig,
       "workers: 2\n",
       {},
       {},
       {},
       {}},
      {"syntax error hides the missing command",
       Invocation::Mode::kRun,
       "command: [node\n",
       {},
       {},
       {},
       {"@:2:1: invalid YAML: end of sequence flow not found"}},
      {"schema error and missing command",
       Invocation::Mode::kRun,
       "workers: x\n",
       {},
       {},
       {},
       {"@:1:10: workers: expected auto or an integer >= 1, got \"x\"",
        "@: no command given: set `command:` in the config file or pass -- "
        "COMMAND"}},
      {"bad env",
       Invocation::Mode::kRun,
       "",
       {"a"},
       {"COREFORK_WORKERS=x"},
       {},
       {"environment: COREFORK_WORKERS: expected auto or an integer >= 1, got "
        "\"x\""}},
      {"bad flag",
       Invocation::Mode::kRun,
       "",
       {"a"},
       {},
       {{"workers", "x"}},
       {"command line: --workers: expected auto or an integer >= 1, got "
        "\"x\""}},
      {"every source at once",
       Invocation::Mode::kRun,
       "port: high\n",
       {"a"},
       {"COREFORK_DRAIN_DELAY=soon"},
       {{"log_level", "loud"}},
       {"@:1:7: port: expected a port number 1..65535, got \"high\"",
        "environment: COREFORK_DRAIN_DELAY: expected a duration like 250ms, "
        "1.5s, 2m or 1h, got \"soon\"",
        "command line: --log-level: expected one of trace, debug, info, warn, "
        "error, critical, off, got \"loud\""}},
      {"flag port clashes with file listener",
       Invocation::Mode::kRun,
       "listeners:\n  - {name: a, port: 80}\n  - {name: b, port: 81}\n",
       {"a"},
       {},
       {{"port", "81"}},
       {"@:3:5: listeners[1]: address 0.0.0.0:81 of listener \"b\" overlaps "
        "listener \"a\" (0.0.0.0:81)"}},
      {"env port clashes with default admin",
       Invocation::Mode::kRun,
       "",
       {"a"},
       {"COREFORK_PORT=9180"},
       {},
       {"environment: COREFORK_PORT: address 0.0.0.0:9180 of listener "
        "\"http\" overlaps the admin server (0.0.0.0:9180); move one of them "
        "(admin: or --admin)"}},
      {"flag admin clashes with file port",
       Invocation::Mode::kRun,
       "port: 7000\n",
       {"a"},
       {},
       {{"admin", "0.0.0.0:7000"}},
       {"@:1:7: port: address 0.0.0.0:7000 of listener \"http\" overlaps the "
        "admin server (0.0.0.0:7000); move one of them (admin: or --admin)"}},
  };
  for (const Case& c : cases) {
    Invocation invocation = Run(c.command);
    invocation.mode = c.mode;
    invocation.flag_overrides = c.flags;
    std::string path;
    if (*c.file) path = invocation.config_path = WriteFile("c.yaml", c.file);
    Load(invocation, c.env);
    Strings expected;
    for (std::string e : c.errors) {
      if (e[0] == '@') e.replace(0, 1, path);
      expected.push_back(e);
    }
    EXPECT_EQ(ok_, expected.empty()) << c.name;
    EXPECT_EQ(errors_, expected) << c.name;
  }
}

TEST_F(ConfigLoadTest, UnreadableFileIsOneError) {
  struct Case {
    const char* name;
    std::string path;
    const char* error;
  };
  const Case cases[] = {
      {"missing", dir_ + "/nope.yaml",
       "cannot read: No such file or directory"},
      {"directory", dir_, "cannot read: is a directory, not a regular file"},
      // Neither may hang start-up or read without end.
      {"fifo", dir_ + "/fifo.yaml",
       "cannot read: is a FIFO, not a regular file"},
      {"/dev/zero", "/dev/zero",
       "cannot read: is a character device, not a regular file"},
      {"over 1 MiB", dir_ + "/big.yaml",
       "cannot read: larger than 1048576 bytes"},
  };
  ASSERT_EQ(mkfifo((dir_ + "/fifo.yaml").c_str(), 0600), 0);
  // Valid YAML all the way (a comment), just too much of it.
  WriteFile("big.yaml", "#" + std::string(1 << 20, 'x') + "\n");
  for (const Case& c : cases) {
    Invocation invocation;  // no command: that error would only be noise
    invocation.config_path = c.path;
    Load(invocation, {});
    EXPECT_FALSE(ok_) << c.name;
    EXPECT_EQ(errors_, Strings{c.path + ": " + c.error}) << c.name;
  }
}

}  // namespace
}  // namespace corefork
