// The text the client commands print, from /status and GET /jobs answers as
// the servers send them (docs/endpoints.md, docs/jobs.md).
#include "client/views.h"

#include <gtest/gtest.h>

#include <string>

namespace corefork {
namespace {

Json Parse(const std::string& text) {
  Result<Json> json = JsonParse(text);
  EXPECT_TRUE(json.ok()) << json.status().message();
  return json.ok() ? *json : Json();
}

TEST(ViewsTest, UptimeAndBytesReadLikePm2) {
  struct Case {
    Json value;
    const char* uptime;
  };
  const Case uptimes[] = {{Json(0.37), "0.4s"},   {Json(12.9), "12s"},
                          {Json(184), "3m 4s"},   {Json(3725), "1h 2m"},
                          {Json(90000), "1d 1h"}, {Json(), "-"},
                          {Json(-1), "-"},        {Json("x"), "-"}};
  for (const Case& c : uptimes) {
    EXPECT_EQ(FormatUptime(c.value), c.uptime) << c.value.dump();
  }
  EXPECT_EQ(FormatBytes(Json(512)), "512 B");
  EXPECT_EQ(FormatBytes(Json(856064)), "836 KiB");
  EXPECT_EQ(FormatBytes(Json(48234496)), "46.0 MiB");
  EXPECT_EQ(FormatBytes(Json(3221225472.0)), "3.00 GiB");
  EXPECT_EQ(FormatBytes(Json()), "-");
}

TEST(ViewsTest, StatusTableHasOneRowPerSlotEntryAndAJobsLine) {
  const Json status = Parse(R"({"version":"0.1.0","uptime_seconds":3600.25,
    "ready":true,"draining":false,"stopping":false,"reloading":true,
    "desired_workers":2,"ready_workers":1,
    "sizing":{"workers":2,"cpus_used":2,"reason":"CPU quota 2 cores"},
    "slots":[
      {"id":0,"pid":41,"state":"ready","ready":true,"restarts":0,
       "last_exit":null,"uptime_seconds":3599.9,"rss_bytes":48234496},
      {"id":1,"pid":null,"state":"backoff","ready":false,"restarts":3,
       "last_exit":"exited with 1","uptime_seconds":0,"rss_bytes":null}]})");
  const Json jobs = Parse(R"({"jobs":[
      {"name":"a","running":1,"queued":2,"last_result":"failed"},
      {"name":"b","running":0,"queued":0,"last_result":"succeeded"}]})");
  const std::string text = StatusText(status, {{41, 12.5}}, jobs);
  EXPECT_EQ(text,
            "corefork 0.1.0, up 1h 0m, 1 of 2 workers ready (ready), "
            "reloading\n"
            "sizing: CPU quota 2 cores\n"
            "\n"
            "SLOT  PID  STATE    UPTIME   RESTARTS  CPU%  RSS       LAST EXIT\n"
            "0     41   ready    59m 59s  0         12.5  46.0 MiB  -\n"
            "1     -    backoff  -        3         -     -         exited "
            "with 1\n"
            "\n"
            "jobs: 2 defined, 1 running, 2 queued, 1 whose last run did not "
            "succeed (corefork jobs)\n")
      << text;
}

TEST(ViewsTest, OddStatusPrintsDashesInsteadOfThrowing) {
  const std::string text =
      StatusText(Parse(R"({"slots":[{"id":"x","pid":"y"}, 3]})"), {}, {});
  EXPECT_NE(text.find("SLOT"), std::string::npos) << text;
  EXPECT_NE(StatusText(Json(), {}, Json()).find("jobs: 0 defined"),
            std::string::npos);
}

TEST(ViewsTest, JobsTableAndRunLine) {
  const Json jobs = Parse(R"({"jobs":[{"name":"fib","triggers":["every 5m",
    "on_demand"],"concurrency":2,"queue":100,"running":0,"queued":0,
    "last_result":"succeeded","last_finished_at":"2026-11-23T13:00:42Z",
    "next_run_at":null},{"name":"pool","triggers":["on_demand"],
    "running":1,"queued":0,"last_result":null,"last_finished_at":null,
    "next_run_at":null,"pool":{"size":4,"min":0,"processes":2,"idle":1,
    "busy":1,"retiring":0,"starts":2,"backoff_seconds":0}}]})");
  EXPECT_EQ(JobsText(jobs),
            "NAME  TRIGGERS             RUNNING  QUEUED  POOL         "
            "LAST RESULT  LAST FINISHED         NEXT RUN\n"
            "fib   every 5m, on_demand  0        0       -            "
            "succeeded    2026-11-23T13:00:42Z  -\n"
            "pool  on_demand            1        0       2/4, 1 busy  "
            "-            -                     -\n");
  EXPECT_EQ(JobsText(Parse(R"({"jobs":[]})")), "no jobs configured\n");
  EXPECT_EQ(RunLine(Parse(R"({"id":7,"job":"fib","state":"succeeded",
    "exit_code":0,"signal":null,"duration_seconds":0.021})")),
            "run 7 (fib): succeeded, exit 0, 0.021s");
  EXPECT_EQ(RunLine(Parse(R"({"id":8,"job":"x","state":"failed",
    "exit_code":null,"signal":"SIGKILL","duration_seconds":null})")),
            "run 8 (x): failed, signal SIGKILL");
  EXPECT_EQ(RunLine(Parse(R"({"id":9,"job":"p","state":"failed",
    "exit_code":null,"signal":null,"error":"bad n","duration_seconds":0.001})")),
            "run 9 (p): failed, 0.001s: bad n");
}

}  // namespace
}  // namespace corefork
