// Whole-binary tests of config hardening (issue 9): durations past a year
// are refused with FILE:LINE:COL before anything starts (they overflowed the
// nanosecond deadlines: a job firing continuously, an instant SIGKILL at
// shutdown), and a config "file" that is a FIFO or /dev/zero is refused at
// once instead of hanging start-up or being read without end.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <optional>
#include <string>

#include "support/process.h"
#include "support/util.h"

namespace corefork::harness {
namespace {

struct Outcome {
  std::optional<int> code;  // nullopt: still running after the deadline
  std::string err;
};

// Runs `corefork ARGS...` and waits at most 10 s for it to exit.
Outcome RunCorefork(std::vector<std::string> args) {
  args.insert(args.begin(), COREFORK_BIN);
  Process p(args, {{"COREFORK_ADMIN", "127.0.0.1:0"}});
  EXPECT_TRUE(p.ok()) << p.error();
  Outcome o;
  o.code = p.WaitExit(Millis(10000));
  o.err = p.Stderr();
  return o;
}

TEST(ConfigHardeningTest, DurationsPastAYearAreConfigErrorsWithTheirPlace) {
  TempDir dir;
  struct Case {
    const char* name;
    std::string yaml;
    std::string where;  // "LINE:COL: key"
  };
  const Case cases[] = {
      {"every",
       "jobs:\n  tick:\n    command: [\"true\"]\n    every: 9999999h\n",
       "4:12: "},
      {"job timeout",
       "jobs:\n  j:\n    command: [\"true\"]\n    on_demand: true\n"
       "    timeout: 9999999h\n",
       "5:14: "},
      {"shutdown.timeout", "shutdown:\n  timeout: 9999999h\n", "2:12: "},
      {"shutdown.drain_delay", "shutdown: {drain_delay: 9999999h}\n", "1:25: "},
      {"restart.max_delay", "restart:\n  max_delay: 9999999h\n", "2:14: "},
  };
  for (const Case& c : cases) {
    const std::string path = dir.Path("c.yaml");
    ASSERT_TRUE(WriteFile(path, "command: [\"true\"]\n" + c.yaml)) << c.name;
    // The command line comes first in the file: one line down.
    Outcome o = RunCorefork({"check-config", path});
    ASSERT_TRUE(o.code.has_value()) << c.name << ": still running";
    EXPECT_EQ(*o.code, 2) << c.name << "\n" << o.err;
    const std::string line_col = std::to_string(std::stoi(c.where) + 1) +
                                 c.where.substr(c.where.find(':'));
    EXPECT_NE(o.err.find(path + ":" + line_col), std::string::npos)
        << c.name << ": expected " << path << ":" << line_col << " in\n"
        << o.err;
    EXPECT_NE(o.err.find("expected a duration up to 8760h, got \"9999999h\""),
              std::string::npos)
        << c.name << "\n"
        << o.err;
  }
  // A year exactly is still fine.
  const std::string path = dir.Path("ok.yaml");
  ASSERT_TRUE(WriteFile(path,
                        "command: [\"true\"]\nshutdown: {timeout: 8760h}\n"
                        "jobs:\n  tick:\n    command: [\"true\"]\n"
                        "    every: 8760h\n"));
  Outcome o = RunCorefork({"check-config", path});
  ASSERT_TRUE(o.code.has_value());
  EXPECT_EQ(*o.code, 0) << o.err;
}

TEST(ConfigHardeningTest, FifoAndDevZeroConfigFilesFailAtOnce) {
  TempDir dir;
  const std::string fifo = dir.Path("corefork.yaml");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  struct Case {
    std::string path;
    std::string message;
  };
  const Case cases[] = {
      {fifo, fifo + ": cannot read: is a FIFO, not a regular file"},
      {"/dev/zero",
       "/dev/zero: cannot read: is a character device, not a regular file"},
  };
  for (const Case& c : cases) {
    for (const char* mode : {"check-config", "run"}) {
      std::vector<std::string> args =
          std::string(mode) == "run"
              ? std::vector<std::string>{"--config", c.path, "--", "true"}
              : std::vector<std::string>{"check-config", c.path};
      auto start = Clock::now();
      Outcome o = RunCorefork(args);
      ASSERT_TRUE(o.code.has_value())
          << mode << " " << c.path << ": still reading after 10 s";
      EXPECT_EQ(*o.code, 2) << mode << " " << c.path << "\n" << o.err;
      EXPECT_NE(o.err.find(c.message), std::string::npos) << mode << "\n"
                                                          << o.err;
      EXPECT_LT(Clock::now() - start, Millis(5000)) << mode << " " << c.path;
    }
  }
}

// A stray "," sent yaml-cpp 0.7's LoadAll into an endless loop of empty
// documents (found by tests/fuzz/config_fuzz): start-up hung forever.
TEST(ConfigHardeningTest, StrayCommaIsASyntaxErrorNotAHang) {
  TempDir dir;
  const std::string path = dir.Path("comma.yaml");
  ASSERT_TRUE(WriteFile(path, "# corefork\n  ,\n"));
  Outcome o = RunCorefork({"check-config", path});
  ASSERT_TRUE(o.code.has_value()) << "check-config still parsing after 10 s";
  EXPECT_EQ(*o.code, 2) << o.err;
  EXPECT_NE(o.err.find(path + ":"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("invalid YAML"), std::string::npos) << o.err;
}

TEST(ConfigHardeningTest, ConfigFileOverOneMebibyteIsRefused) {
  TempDir dir;
  const std::string path = dir.Path("big.yaml");
  ASSERT_TRUE(WriteFile(
      path, "command: [\"true\"]\n#" + std::string(1 << 20, 'x') + "\n"));
  Outcome o = RunCorefork({"check-config", path});
  ASSERT_TRUE(o.code.has_value());
  EXPECT_EQ(*o.code, 2) << o.err;
  EXPECT_NE(o.err.find(path + ": cannot read: larger than 1048576 bytes"),
            std::string::npos)
      << o.err;
}

}  // namespace
}  // namespace corefork::harness
