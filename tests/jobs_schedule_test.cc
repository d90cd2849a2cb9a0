// Whole-binary tests of scheduled jobs with a short `every:` interval: they
// fire on time, and `overlap` (skip | queue | allow) decides what happens
// when a run is due while the previous one still runs.
#include <time.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "support/jobs.h"

namespace corefork::harness {
namespace {

using std::chrono::milliseconds;

// Lines "start T" / "end T" (T = seconds since the epoch, from date +%s.%N).
struct Event {
  bool start;
  double at;
};

std::vector<Event> ReadEvents(const std::string& file) {
  std::vector<Event> events;
  std::istringstream in(ReadFile(file));
  std::string word;
  double at;
  while (in >> word >> at) events.push_back({word == "start", at});
  return events;
}

// The most runs that were between their "start" and "end" at once.
int MaxOpen(const std::vector<Event>& events) {
  int open = 0, max = 0;
  for (const Event& e : events) {
    open += e.start ? 1 : -1;
    max = std::max(max, open);
  }
  return max;
}

int Count(const std::vector<Event>& events, bool start) {
  return static_cast<int>(
      std::count_if(events.begin(), events.end(),
                    [&](const Event& e) { return e.start == start; }));
}

std::string Describe(const std::vector<Event>& events) {
  std::string s;
  if (events.empty()) return "(none)";
  for (const Event& e : events) {
    s += (e.start ? "start +" : "end +") +
         std::to_string(e.at - events.front().at) + "s; ";
  }
  return s;
}

class JobsScheduleTest : public JobsTest {
 protected:
  // A job that logs "start T", sleeps `seconds`, logs "end T".
  std::string LoggingJob(const std::string& name, const std::string& log,
                         const std::string& seconds, const std::string& extra) {
    return "jobs:\n  " + name + ":\n    command: " +
           ShCommand("echo start $(date +%s.%N) >> '" + log + "'; sleep " +
                     seconds + "; echo end $(date +%s.%N) >> '" + log + "'") +
           "\n" + extra;
  }
};

TEST_F(JobsScheduleTest, EveryJobFiresOnTime) {
  const std::string ticks = Path("ticks");
  const std::string yaml =
      "jobs:\n"
      "  tick:\n"
      "    command: " +
      ShCommand("date +%s.%N >> '" + ticks + "'") +
      "\n"
      "    every: 1s\n";
  Process& cf = StartJobs(yaml);
  // Schedules start with the event loop, right after the control socket
  // begins to answer.
  ASSERT_TRUE(WaitControl(cf));
  const auto t0 = Clock::now();
  auto tick_times = [&] {
    std::vector<double> times;
    std::istringstream in(ReadFile(ticks));
    double t;
    while (in >> t) times.push_back(t);
    return times;
  };
  // Due at about +1s and +2s.
  const bool two =
      PollUntil([&] { return tick_times().size() >= 2; }, milliseconds(2600));
  const double waited =
      std::chrono::duration<double>(Clock::now() - t0).count();
  ASSERT_TRUE(two) << "only " << tick_times().size()
                   << " run(s) of an every: 1s job within " << waited
                   << "s; corefork " << (cf.Running() ? "running" : "exited");
  std::vector<double> times = tick_times();
  const double interval = times[1] - times[0];
  EXPECT_GT(interval, 0.75) << "fired too early";
  EXPECT_LT(interval, 1.5) << "fired late";

  // The runs are recorded as scheduled runs, and GET /jobs shows the trigger
  // and the next time.
  JsonValue run = Body(Control("GET", "/jobs/runs/1"));
  EXPECT_EQ(run.Str("trigger").value_or(""), "schedule");
  EXPECT_EQ(run.Str("state").value_or(""), "succeeded");
  UnixHttpResponse list = Control("GET", "/jobs");
  ASSERT_EQ(list.status, 200) << list.ToString();
  JsonValue jobs = Body(list);
  ASSERT_TRUE(jobs["jobs"].is_array() && jobs["jobs"].size() == 1) << list.body;
  const JsonValue tick = jobs["jobs"][0];
  EXPECT_EQ(tick.Str("name").value_or(""), "tick");
  EXPECT_TRUE(tick.Str("next_run_at").has_value()) << list.body;
  EXPECT_NE(list.body.find("every"), std::string::npos) << list.body;
}

// A cron job's next time, in its time zone: "0 * * * *" in Asia/Kolkata
// (UTC+05:30) is due at minute 30 of some UTC hour, within the hour.
TEST_F(JobsScheduleTest, CronJobsShowTheirNextRunInTheirTimeZone) {
  Process& cf = StartJobs(
      "jobs:\n"
      "  hourly-utc:\n"
      "    command: [true]\n"
      "    schedule: '0 * * * *'\n"
      "  hourly-kolkata:\n"
      "    command: [true]\n"
      "    schedule: '@hourly'\n"
      "    timezone: Asia/Kolkata\n");
  ASSERT_TRUE(WaitControl(cf));
  const double now = static_cast<double>(time(nullptr));
  UnixHttpResponse list = Control("GET", "/jobs");
  ASSERT_EQ(list.status, 200) << list.ToString();
  const JsonValue listed = Body(list);
  ASSERT_TRUE(listed["jobs"].is_array() && listed["jobs"].size() == 2)
      << list.body;
  for (const JsonValue& job : listed["jobs"].Items()) {
    const std::string name = job.Str("name").value_or("");
    const std::string next = job.Str("next_run_at").value_or("");
    ASSERT_EQ(next.size(), 24u) << name << ": " << list.body;
    EXPECT_EQ(next.substr(13),
              name == "hourly-utc" ? ":00:00.000Z" : ":30:00.000Z")
        << name << ": " << next;
    tm t = {};
    ASSERT_NE(strptime(next.c_str(), "%Y-%m-%dT%H:%M:%S", &t), nullptr) << next;
    const double at = static_cast<double>(timegm(&t));
    EXPECT_GT(at, now - 1) << name << ": " << next;
    EXPECT_LE(at, now + 3600) << name << ": " << next;
  }
}

TEST_F(JobsScheduleTest, OverlapSkipNeverRunsTwoAtOnce) {
  const std::string log = Path("log");
  // concurrency 4: only the overlap rule keeps runs from overlapping.
  Process& cf = StartJobs(LoggingJob("slow", log, "2.5",
                                     "    every: 1s\n"
                                     "    overlap: skip\n"
                                     "    concurrency: 4\n"));
  const std::map<std::string, std::string> slow = {{"job", "slow"}};
  double max_running = 0;
  // First run about +1s..+3.5s: the fires at +2s and +3s are skipped; the
  // one at +4s (or +4.5s) starts a second run.
  bool second_started = PollUntil(
      [&] {
        const std::string text = MetricsText();
        max_running = std::max(
            max_running,
            MetricSample(text, "corefork_jobs_running", slow).value_or(0));
        return Count(ReadEvents(log), true) >= 2;
      },
      milliseconds(6000), milliseconds(50));
  std::vector<Event> events = ReadEvents(log);
  EXPECT_TRUE(second_started)
      << "no second run after the first ended: " << Describe(events)
      << "; corefork " << (cf.Running() ? "running" : "exited");
  EXPECT_EQ(MaxOpen(events), 1) << Describe(events);
  EXPECT_LE(max_running, 1) << "corefork_jobs_running{job=\"slow\"}";
  EXPECT_GE(Metric("corefork_job_rejections_total",
                   {{"job", "slow"}, {"reason", "overlap"}}),
            1)
      << MetricsText();
}

TEST_F(JobsScheduleTest, OverlapAllowRunsThemSideBySide) {
  const std::string log = Path("log");
  Process& cf = StartJobs(LoggingJob("slow", log, "2.5",
                                     "    every: 1s\n"
                                     "    overlap: allow\n"
                                     "    concurrency: 4\n"));
  // Runs start about +1s and +2s; each takes 2.5s.
  EXPECT_TRUE(PollUntil([&] { return MaxOpen(ReadEvents(log)) >= 2; },
                        milliseconds(4000)))
      << "never two runs at once: " << Describe(ReadEvents(log))
      << "; corefork " << (cf.Running() ? "running" : "exited");
  EXPECT_EQ(Metric("corefork_job_rejections_total",
                   {{"job", "slow"}, {"reason", "overlap"}}),
            0);
}

TEST_F(JobsScheduleTest, OverlapQueueStartsTheNextRunRightAfter) {
  const std::string log = Path("log");
  Process& cf = StartJobs(LoggingJob("slow", log, "1.5",
                                     "    every: 1s\n"
                                     "    overlap: queue\n"
                                     "    concurrency: 4\n"));
  // Run 1 about +1s..+2.5s; the fire at +2s waits and starts at +2.5s.
  ASSERT_TRUE(PollUntil([&] { return Count(ReadEvents(log), true) >= 2; },
                        milliseconds(4500)))
      << Describe(ReadEvents(log)) << "; corefork "
      << (cf.Running() ? "running" : "exited");
  std::vector<Event> events = ReadEvents(log);
  EXPECT_EQ(MaxOpen(events), 1) << Describe(events);
  ASSERT_GE(events.size(), 3u) << Describe(events);
  // events: start, end, start: the queued run followed the first at once.
  ASSERT_TRUE(events[0].start && !events[1].start && events[2].start)
      << Describe(events);
  EXPECT_LT(events[2].at - events[1].at, 0.4)
      << "the queued run did not start right after the previous one: "
      << Describe(events);
}

}  // namespace
}  // namespace corefork::harness
