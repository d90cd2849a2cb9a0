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

TEST(ConfigJobsTest, PoolEveryKey) {
  Config config;
  std::vector<std::string> errors = JobErrors(R"(jobs:
  fib:
    command: [node, pool_worker.js]
    on_demand: true
    pool:
      size: 4
      min: 2
      max_runs: 0
      idle_timeout: 30s
      warm: true
      readiness: true
      max_rss: 512Mi
      max_answer: 64Ki
)",
                                              &config);
  ASSERT_TRUE(errors.empty()) << errors[0];
  const JobConfig& fib = config.jobs.at("fib");
  ASSERT_TRUE(fib.pool.has_value());
  EXPECT_EQ(fib.pool->size, 4);
  EXPECT_EQ(fib.pool->min, 2);
  EXPECT_EQ(fib.pool->max_runs, 0);
  EXPECT_EQ(fib.pool->idle_timeout.count(), 30'000);
  EXPECT_TRUE(fib.pool->warm);
  EXPECT_TRUE(fib.pool->readiness);
  EXPECT_EQ(fib.pool->max_rss, uint64_t{512} << 20);
  EXPECT_EQ(fib.pool->max_answer, 64u * 1024);
  EXPECT_EQ(fib.concurrency, 0);
}

TEST(ConfigJobsTest, PoolDefaults) {
  struct Case {
    const char* name;
    const char* pool;  // the text after "pool:"
    int size;
    bool warm;
  } cases[] = {
      {"empty map", " {}", 0, false},
      {"null", "", 0, false},
      {"explicit null", " null", 0, false},
      {"auto size", "\n      size: auto", 0, false},
      {"numeric size", "\n      size: 1024", 1024, false},
      {"readiness implies warm", "\n      readiness: true", 0, true},
      {"warm without min", "\n      warm: yes", 0, true},
  };
  for (const Case& c : cases) {
    Config config;
    std::vector<std::string> errors = JobErrors(
        std::string("jobs:\n  a:\n    command: [x]\n    on_demand: true\n"
                    "    pool:") +
            c.pool + "\n",
        &config);
    ASSERT_TRUE(errors.empty()) << c.name << ": " << errors[0];
    const JobConfig& a = config.jobs.at("a");
    ASSERT_TRUE(a.pool.has_value()) << c.name;
    EXPECT_EQ(a.pool->size, c.size) << c.name;
    EXPECT_EQ(a.pool->warm, c.warm) << c.name;
    EXPECT_FALSE(a.pool->min.has_value()) << c.name;
    EXPECT_EQ(a.pool->max_runs, 0) << c.name;
    EXPECT_EQ(a.pool->idle_timeout.count(), 300'000) << c.name;
    EXPECT_FALSE(a.pool->max_rss.has_value()) << c.name;
    EXPECT_EQ(a.pool->max_answer, 1024u * 1024) << c.name;
  }
  Config config;
  std::vector<std::string> errors = JobErrors(
      "jobs:\n  a:\n    command: [x]\n    on_demand: true\n", &config);
  ASSERT_TRUE(errors.empty()) << errors[0];
  EXPECT_FALSE(config.jobs.at("a").pool.has_value()) << "no pool key";
}

TEST(ConfigJobsTest, PoolErrors) {
  struct Case {
    const char* name;
    const char* pool;  // lines under "pool:", indented by 6
    const char* error;
  } cases[] = {
      {"size 0", "      size: 0\n",
       "jobs.yaml:6:13: jobs.a.pool.size: expected an integer 1..1024 or "
       "auto, got \"0\""},
      {"size too big", "      size: 1025\n",
       "jobs.yaml:6:13: jobs.a.pool.size: expected an integer 1..1024 or "
       "auto, got \"1025\""},
      {"min negative", "      min: -1\n",
       "jobs.yaml:6:12: jobs.a.pool.min: expected an integer 0..1024, got "
       "\"-1\""},
      {"min above size", "      size: 2\n      min: 3\n",
       "jobs.yaml:5:5: jobs.a.pool: pool.min (3) is larger than pool.size "
       "(2)"},
      {"readiness with min 0", "      readiness: true\n      min: 0\n",
       "jobs.yaml:5:5: jobs.a.pool: pool.readiness needs min >= 1"},
      {"max_runs too big", "      max_runs: 1000000001\n",
       "jobs.yaml:6:17: jobs.a.pool.max_runs: expected an integer "
       "0..1000000000, got \"1000000001\""},
      {"idle_timeout", "      idle_timeout: soon\n",
       "jobs.yaml:6:21: jobs.a.pool.idle_timeout: expected a duration like "
       "250ms, 1.5s, 2m or 1h, got \"soon\""},
      {"warm", "      warm: maybe\n",
       "jobs.yaml:6:13: jobs.a.pool.warm: expected true or false, got "
       "\"maybe\""},
      {"max_rss too small", "      max_rss: 512Ki\n",
       "jobs.yaml:6:16: jobs.a.pool.max_rss: expected a size of at least 1Mi "
       "like 512Mi (or null), got \"512Ki\""},
      {"max_answer too small", "      max_answer: 1000\n",
       "jobs.yaml:6:19: jobs.a.pool.max_answer: expected a size 1Ki..4Mi, "
       "got \"1000\""},
      {"max_answer too big", "      max_answer: 5Mi\n",
       "jobs.yaml:6:19: jobs.a.pool.max_answer: expected a size 1Ki..4Mi, "
       "got \"5Mi\""},
      {"unknown key", "      max_run: 5\n",
       "jobs.yaml:6:7: unknown key \"jobs.a.pool.max_run\" (did you mean "
       "\"jobs.a.pool.max_runs\"?)"},
      {"not a map", "      - 2\n",
       "jobs.yaml:6:7: jobs.a.pool: expected a map (the pool's settings), or "
       "{} for defaults, got a list"},
  };
  for (const Case& c : cases) {
    Config config;
    std::vector<std::string> errors = JobErrors(
        std::string("jobs:\n  a:\n    command: [x]\n    on_demand: true\n"
                    "    pool:\n") +
            c.pool,
        &config);
    ASSERT_FALSE(errors.empty()) << c.name;
    EXPECT_EQ(errors[0], c.error) << c.name;
    EXPECT_EQ(errors.size(), 1u) << c.name << ": " << errors.back();
  }
}

TEST(ConfigJobsTest, PoolAndConcurrencyConflict) {
  Config config;
  std::vector<std::string> errors = JobErrors(
      "jobs:\n  a:\n    command: [x]\n    on_demand: true\n"
      "    pool: {size: 2}\n    concurrency: 2\n",
      &config);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0],
            "jobs.yaml:2:3: jobs.a: set pool.size, not concurrency: a pool's "
            "size is its concurrency");
}

}  // namespace
}  // namespace corefork
