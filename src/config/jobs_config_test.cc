// The `jobs:` section: job specs, their defaults and their errors.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/config.h"

namespace corefork {
namespace {

std::vector<std::string> JobErrors(const std::string& yaml, Config* config) {
  std::vector<ConfigError> errors;
  ApplyYaml(yaml, "jobs.yaml", config, &errors);
  std::vector<std::string> lines;
  for (const ConfigError& e : errors) lines.push_back(e.ToString());
  return lines;
}

TEST(ConfigJobsTest, FullJobSpec) {
  Config config;
  std::vector<std::string> errors = JobErrors(R"(jobs:
  fib:
    command: [node, fib.js, "30"]
    env: {MODE: fast}
    workdir: /app
    timeout: 10s
    kill_grace: 2s
    concurrency: 3
    queue: 50
    retries: 2
    retry_delay: 500ms
    max_output: 64Ki
    on_demand: true
  report:
    command: "tar c /data | gzip > /tmp/x"
    shell: true
    schedule: "*/5 * * * MON-FRI"
    timezone: Europe/Berlin
    overlap: queue
  migrate:
    command: [./migrate]
    at_start: true
    required: false
job_history: {max_runs: 10, max_age: 5m}
)",
                                              &config);
  ASSERT_TRUE(errors.empty()) << errors[0];
  ASSERT_EQ(config.jobs.size(), 3u);
  const JobConfig& fib = config.jobs.at("fib");
  EXPECT_EQ(fib.command, (std::vector<std::string>{"node", "fib.js", "30"}));
  EXPECT_EQ(fib.env.at("MODE"), "fast");
  EXPECT_EQ(fib.timeout.count(), 10'000);
  EXPECT_EQ(fib.kill_grace.count(), 2'000);
  EXPECT_EQ(fib.concurrency, 3);
  EXPECT_EQ(fib.queue, 50);
  EXPECT_EQ(fib.retries, 2);
  EXPECT_EQ(fib.max_output, 64u * 1024);
  EXPECT_TRUE(fib.on_demand);
  const JobConfig& report = config.jobs.at("report");
  EXPECT_EQ(report.command,
            (std::vector<std::string>{"/bin/sh", "-c",
                                      "tar c /data | gzip > /tmp/x"}));
  EXPECT_EQ(report.overlap, Overlap::kQueue);
  ASSERT_TRUE(report.schedule.has_value());
  EXPECT_TRUE(*report.schedule == *CronSchedule::Parse("*/5 * * * 1-5"));
  EXPECT_EQ(report.timezone.name(), "Europe/Berlin");
  EXPECT_EQ(report.timezone.OffsetAt(1'720'000'000), 7200);  // July 2024
  EXPECT_FALSE(fib.schedule.has_value());
  EXPECT_EQ(fib.timezone.name(), "UTC");
  EXPECT_TRUE(config.jobs.at("migrate").at_start);
  EXPECT_FALSE(config.jobs.at("migrate").required);
  EXPECT_EQ(config.job_history.max_runs, 10);
}

TEST(ConfigJobsTest, ErrorsNameTheJobAndTheKey) {
  struct Case {
    const char* yaml;
    const char* error;
  } cases[] = {
      {"jobs:\n  a:\n    command: \"x | y\"\n    on_demand: true\n",
       "jobs.yaml:2:3: jobs.a: command is a string: make it a list (argv), or "
       "set shell: true"},
      {"jobs:\n  a:\n    command: [x]\n",
       "jobs.yaml:2:3: jobs.a: no trigger: set at_start, schedule, every or "
       "on_demand"},
      {"jobs:\n  a:\n    command: [x]\n    on_demand: maybe\n",
       "jobs.yaml:4:16: jobs.a.on_demand: expected true or false, got "
       "\"maybe\""},
      {"jobs:\n  a:\n    command: [x]\n    every: 100ms\n",
       "jobs.yaml:4:12: jobs.a.every: expected a duration of at least 1s, got "
       "\"100ms\""},
      {"jobs:\n  a:\n    command: [x]\n    schedule: \"* * *\"\n",
       "jobs.yaml:4:15: jobs.a.schedule: expected 5 fields (minute hour "
       "day-of-month month day-of-week) or a macro like @hourly, got 3"},
      {"jobs:\n  a:\n    command: [x]\n    schedule: \"61 * * * *\"\n",
       "jobs.yaml:4:15: jobs.a.schedule: minute field \"61\": expected 0-59"},
      {"jobs:\n  a:\n    command: [x]\n    schedule: \"@daily\"\n"
       "    timezone: Mars/Base\n",
       "jobs.yaml:5:15: jobs.a.timezone: unknown timezone \"Mars/Base\": "
       "/usr/share/zoneinfo/Mars/Base: No such file or directory"},
      {"jobs:\n  a:\n    command: [x]\n    schedule: \"@daily\"\n"
       "    timezone: ../etc/passwd\n",
       "jobs.yaml:5:15: jobs.a.timezone: timezone \"../etc/passwd\": expected "
       "a zone name like Europe/Berlin, without \"..\" or a leading \"/\""},
      {"jobs:\n  a:\n    command: [x]\n    schedule: \"@daily\"\n"
       "    every: 1m\n",
       "jobs.yaml:2:3: jobs.a: set either schedule or every, not both"},
      {"jobs: [a, b]\n",
       "jobs.yaml:1:7: jobs: expected a map from job name to its spec, got a "
       "list"},
  };
  for (const Case& c : cases) {
    Config config;
    std::vector<std::string> errors = JobErrors(c.yaml, &config);
    ASSERT_FALSE(errors.empty()) << c.yaml;
    EXPECT_EQ(errors[0], c.error) << c.yaml;
  }
}

TEST(ConfigJobsTest, TimezonesParseOnce) {
  struct Case {
    const char* zone;
    const char* name;
    int64_t offset_july_2024;
  } cases[] = {
      {"UTC", "UTC", 0},
      {"Etc/UTC", "Etc/UTC", 0},
      {"Europe/Berlin", "Europe/Berlin", 7200},
      {"\"Asia/Kolkata\"", "Asia/Kolkata", 19800},
  };
  for (const Case& c : cases) {
    Config config;
    std::vector<std::string> errors =
        JobErrors(std::string("jobs:\n  a:\n    command: [x]\n    schedule: "
                              "\"@hourly\"\n    timezone: ") +
                      c.zone + "\n",
                  &config);
    ASSERT_TRUE(errors.empty()) << c.zone << ": " << errors[0];
    const JobConfig& job = config.jobs.at("a");
    ASSERT_TRUE(job.schedule.has_value()) << c.zone;
    EXPECT_EQ(job.schedule->ToString(), "0 * * * *");
    EXPECT_EQ(job.timezone.name(), c.name);
    EXPECT_EQ(job.timezone.OffsetAt(1'720'000'000), c.offset_july_2024)
        << c.zone;
  }
}

}  // namespace
}  // namespace corefork
