// ParseCommandLine and UsageText.

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"
#include "config/settings.h"

namespace corefork {
namespace {

using Overrides = std::vector<std::pair<std::string, std::string>>;
using Strings = std::vector<std::string>;

struct Parsed {
  bool ok = false;
  Invocation invocation;
  Strings errors;  // ToString() of each
};

// Runs ParseCommandLine over "corefork" + args.
Parsed Parse(Strings args) {
  args.insert(args.begin(), "corefork");
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  Parsed parsed;
  std::vector<ConfigError> errors;
  parsed.ok = ParseCommandLine(static_cast<int>(args.size()), argv.data(),
                               &parsed.invocation, &errors);
  for (const ConfigError& e : errors) parsed.errors.push_back(e.ToString());
  return parsed;
}

TEST(FlagsTest, RunModeSplitsOptionsFromTheCommand) {
  struct Case {
    const char* name;
    Strings args;
    Overrides overrides;
    Strings command;
  };
  const Case cases[] = {
      {"nothing", {}, {}, {}},
      {"double dash", {"--", "node", "server.js"}, {}, {"node", "server.js"}},
      {"first non-option",
       {"node", "server.js", "--port", "1"},
       {},
       {"node", "server.js", "--port", "1"}},
      {"options then double dash",
       {"--workers", "4", "--port=9000", "--", "node", "-e", "x"},
       {{"workers", "4"}, {"port", "9000"}},
       {"node", "-e", "x"}},
      {"options then program",
       {"--host", "::", "./app", "--", "x"},
       {{"host", "::"}},
       {"./app", "--", "x"}},
      {"double dash after double dash", {"--", "--", "x"}, {}, {"--", "x"}},
      {"lone dash is a program", {"-", "x"}, {}, {"-", "x"}},
      {"subcommand name later is a program",
       {"--workers=2", "detect"},
       {{"workers", "2"}},
       {"detect"}},
      {"every override",
       {"--workers=auto", "--port", "1", "--host", "h", "--admin", "a:1",
        "--log-format", "json", "--log-level=warn", "--drain-delay", "1s",
        "--shutdown-timeout=2s", "--", "x"},
       {{"workers", "auto"},
        {"port", "1"},
        {"host", "h"},
        {"admin", "a:1"},
        {"log_format", "json"},
        {"log_level", "warn"},
        {"drain_delay", "1s"},
        {"shutdown_timeout", "2s"}},
       {"x"}},
      {"repeated flag kept in order",
       {"--port", "1", "--port=2"},
       {{"port", "1"}, {"port", "2"}},
       {}},
      {"value with equals sign", {"--host=a=b"}, {{"host", "a=b"}}, {}},
      {"empty inline value", {"--port="}, {{"port", ""}}, {}},
  };
  for (const Case& c : cases) {
    Parsed p = Parse(c.args);
    EXPECT_TRUE(p.ok) << c.name << ": " << ::testing::PrintToString(p.errors);
    EXPECT_EQ(p.invocation.mode, Invocation::Mode::kRun) << c.name;
    EXPECT_EQ(p.invocation.flag_overrides, c.overrides) << c.name;
    EXPECT_EQ(p.invocation.command, c.command) << c.name;
  }
}

// ENTRYPOINT ["corefork", "--"] with options in CMD would exec "--config".
TEST(FlagsTest, RefusesACommandThatIsOneOfOurOptions) {
  const Strings cases[] = {{"--", "--config", "/etc/c.yaml", "--", "node"},
                           {"--", "--workers=2", "node"},
                           {"--", "--compat-listen", "off"}};
  for (const Strings& args : cases) {
    Parsed p = Parse(args);
    EXPECT_FALSE(p.ok) << args[1];
    ASSERT_EQ(p.errors.size(), 1u) << args[1];
    EXPECT_NE(p.errors[0].find("is a corefork option"), std::string::npos)
        << p.errors[0];
    EXPECT_NE(p.errors[0].find("ENTRYPOINT [\"corefork\"]"), std::string::npos)
        << p.errors[0];
  }
  // Anything else that starts with dashes is the app's business.
  EXPECT_TRUE(Parse({"--", "--inspect", "x"}).ok);
}

TEST(FlagsTest, ConfigAndRootAreNotOverrides) {
  Parsed p = Parse({"--config", "/etc/c.yaml", "--root=/tmp/fake", "app"});
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.invocation.config_path, "/etc/c.yaml");
  EXPECT_EQ(p.invocation.root, "/tmp/fake");
  EXPECT_TRUE(p.invocation.flag_overrides.empty());
  EXPECT_EQ(p.invocation.command, Strings{"app"});
}

TEST(FlagsTest, HelpAndVersion) {
  struct Case {
    const char* name;
    Strings args;
    Invocation::Mode mode;
  };
  const Case cases[] = {
      {"-h", {"-h"}, Invocation::Mode::kHelp},
      {"--help after options",
       {"--port", "1", "--help"},
       Invocation::Mode::kHelp},
      {"-V", {"-V"}, Invocation::Mode::kVersion},
      {"--version", {"--version"}, Invocation::Mode::kVersion},
      {"help of detect", {"detect", "--help"}, Invocation::Mode::kHelp},
      {"help of check-config", {"check-config", "-h"}, Invocation::Mode::kHelp},
      {"-h of the program", {"--", "app", "-h"}, Invocation::Mode::kRun},
  };
  for (const Case& c : cases) {
    Parsed p = Parse(c.args);
    EXPECT_TRUE(p.ok) << c.name;
    EXPECT_EQ(p.invocation.mode, c.mode) << c.name;
  }
}

TEST(FlagsTest, Subcommands) {
  Parsed detect = Parse({"detect", "--root", "/fake", "--json"});
  ASSERT_TRUE(detect.ok) << ::testing::PrintToString(detect.errors);
  EXPECT_EQ(detect.invocation.mode, Invocation::Mode::kDetect);
  EXPECT_EQ(detect.invocation.root, "/fake");
  EXPECT_TRUE(detect.invocation.json);

  Parsed plain = Parse({"detect"});
  ASSERT_TRUE(plain.ok);
  EXPECT_EQ(plain.invocation.mode, Invocation::Mode::kDetect);
  EXPECT_EQ(plain.invocation.root, "/");
  EXPECT_FALSE(plain.invocation.json);

  Parsed check = Parse({"check-config", "corefork.yaml"});
  ASSERT_TRUE(check.ok);
  EXPECT_EQ(check.invocation.mode, Invocation::Mode::kCheckConfig);
  EXPECT_EQ(check.invocation.config_path, "corefork.yaml");
}

TEST(FlagsTest, ErrorsNameTheOption) {
  struct Case {
    const char* name;
    Strings args;
    Strings errors;
  };
  const Case cases[] = {
      {"unknown",
       {"--foo", "x"},
       {"command line: unknown option --foo (see --help)"}},
      {"unknown short",
       {"-x"},
       {"command line: unknown option -x (see --help)"}},
      {"typo",
       {"--wokers=2"},
       {"command line: unknown option --wokers; did you mean --workers? (see "
        "--help)"}},
      {"missing value at end",
       {"--workers"},
       {"command line: option --workers needs a value"}},
      {"missing value before option",
       {"--config", "--port", "1"},
       {"command line: option --config needs a value"}},
      {"value on a switch",
       {"--help=yes"},
       {"command line: option --help takes no value"}},
      {"several",
       {"--bogus", "--port", "--", "x"},
       {"command line: unknown option --bogus (see --help)",
        "command line: option --port needs a value"}},
      {"detect positional",
       {"detect", "now"},
       {"command line: detect: unexpected argument \"now\""}},
      {"detect unknown",
       {"detect", "--jsn"},
       {"command line: unknown option --jsn; did you mean --json? (see "
        "--help)"}},
      {"detect json value",
       {"detect", "--json=1"},
       {"command line: option --json takes no value"}},
      {"check-config without file",
       {"check-config"},
       {"command line: check-config: missing FILE (corefork check-config "
        "FILE)"}},
      {"check-config two files",
       {"check-config", "a", "b"},
       {"command line: check-config: unexpected argument \"b\""}},
      {"check-config option",
       {"check-config", "--workers", "2", "a"},
       {"command line: unknown option --workers (see --help)",
        "command line: check-config: unexpected argument \"a\""}},
  };
  for (const Case& c : cases) {
    Parsed p = Parse(c.args);
    EXPECT_FALSE(p.ok) << c.name;
    EXPECT_EQ(p.errors, c.errors) << c.name;
  }
}

TEST(FlagsTest, UsageMentionsEveryFlag) {
  const std::string usage = UsageText();
  for (const Setting& setting : Settings()) {
    EXPECT_NE(usage.find(setting.flag), std::string::npos) << setting.flag;
  }
  for (const char* other : {"--config", "--root", "--json", "--help",
                            "--version", "check-config", "detect", "--"}) {
    EXPECT_NE(usage.find(other), std::string::npos) << other;
  }
}

}  // namespace
}  // namespace corefork

namespace corefork {
namespace {

TEST(FlagsTest, ClientCommandsParseTheirArgumentsAndOptions) {
  struct Case {
    const char* name;
    Strings args;
    std::string command;
    std::string argument;
    std::string socket;
    bool wait;
    bool json;
    std::optional<std::string> input;
    Overrides overrides;
  };
  const Case cases[] = {
      {"status", {"status"}, "status", "", "", false, false, {}, {}},
      {"status json admin",
       {"status", "--json", "--admin", "127.0.0.1:1"},
       "status",
       "",
       "",
       false,
       true,
       {},
       {{"admin", "127.0.0.1:1"}}},
      {"reload wait socket",
       {"reload", "--wait", "--socket=/s.sock"},
       "reload",
       "",
       "/s.sock",
       true,
       false,
       {},
       {}},
      {"scale absolute",
       {"scale", "3"},
       "scale",
       "3",
       "",
       false,
       false,
       {},
       {}},
      {"scale up", {"scale", "+2"}, "scale", "+2", "", false, false, {}, {}},
      {"scale down is not an option",
       {"scale", "-1", "--socket", "/x"},
       "scale",
       "-1",
       "/x",
       false,
       false,
       {},
       {}},
      {"jobs json", {"jobs", "--json"}, "jobs", "", "", false, true, {}, {}},
      {"run wait stdin",
       {"run", "fib", "--wait", "--input", "-"},
       "run",
       "fib",
       "",
       true,
       false,
       std::string("-"),
       {}},
      {"run input file first",
       {"run", "--input=/tmp/in", "fib"},
       "run",
       "fib",
       "",
       false,
       false,
       std::string("/tmp/in"),
       {}},
      {"cancel", {"cancel", "42"}, "cancel", "42", "", false, false, {}, {}},
      {"probe default", {"probe"}, "probe", "", "", false, false, {}, {}},
      {"probe path form",
       {"probe", "/livez", "--admin", "[::1]:9180"},
       "probe",
       "livez",
       "",
       false,
       false,
       {},
       {{"admin", "[::1]:9180"}}},
  };
  for (const Case& c : cases) {
    Parsed p = Parse(c.args);
    ASSERT_TRUE(p.ok) << c.name << ": " << ::testing::PrintToString(p.errors);
    const Invocation& inv = p.invocation;
    EXPECT_EQ(inv.mode, Invocation::Mode::kClient) << c.name;
    EXPECT_EQ(inv.client.name, c.command) << c.name;
    EXPECT_EQ(inv.client.argument, c.argument) << c.name;
    EXPECT_EQ(inv.client.socket, c.socket) << c.name;
    EXPECT_EQ(inv.client.wait, c.wait) << c.name;
    EXPECT_EQ(inv.json, c.json) << c.name;
    EXPECT_EQ(inv.client.input, c.input) << c.name;
    EXPECT_EQ(inv.flag_overrides, c.overrides) << c.name;
  }
}

TEST(FlagsTest, ClientCommandsRefuseBadArgumentsWithOneClearError) {
  struct Case {
    Strings args;
    std::string error;
  };
  const Case cases[] = {
      {{"scale"},
       "command line: scale: missing N|+N|-N (corefork scale N|+N|-N)"},
      {{"scale", "many"},
       "command line: scale: expected N, +N or -N (a worker count), got "
       "\"many\""},
      {{"scale", "2", "3"},
       "command line: scale: unexpected argument \"3\" (one N|+N|-N only)"},
      {{"run"}, "command line: run: missing JOB (corefork run JOB)"},
      {{"run", "fib", "--input"}, "command line: option --input needs a value"},
      {{"cancel", "0"},
       "command line: cancel: expected a run id (a number > 0), got \"0\""},
      {{"cancel", "x1"},
       "command line: cancel: expected a run id (a number > 0), got \"x1\""},
      {{"probe", "metrics"},
       "command line: probe: expected livez or readyz, got \"metrics\""},
      {{"status", "extra"},
       "command line: status: unexpected argument \"extra\""},
      {{"jobs", "--wait"}, "command line: unknown option --wait (see --help)"},
      {{"reload", "--wait=yes"}, "command line: option --wait takes no value"},
  };
  for (const Case& c : cases) {
    Parsed p = Parse(c.args);
    EXPECT_FALSE(p.ok) << c.args[0];
    ASSERT_EQ(p.errors.size(), 1u) << ::testing::PrintToString(c.args) << ": "
                                   << ::testing::PrintToString(p.errors);
    EXPECT_EQ(p.errors[0], c.error) << ::testing::PrintToString(c.args);
  }
}

TEST(FlagsTest, ClientCommandNamesAreProgramsAfterOptionsOrDoubleDash) {
  Parsed p = Parse({"--", "status"});
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.invocation.mode, Invocation::Mode::kRun);
  EXPECT_EQ(p.invocation.command, Strings({"status"}));
  p = Parse({"--workers", "2", "run"});
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.invocation.mode, Invocation::Mode::kRun);
  EXPECT_EQ(p.invocation.command, Strings({"run"}));
  p = Parse({"status", "--help"});
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.invocation.mode, Invocation::Mode::kHelp);
  EXPECT_NE(UsageText().find("corefork status|reload|scale"),
            std::string::npos);
}

}  // namespace
}  // namespace corefork
