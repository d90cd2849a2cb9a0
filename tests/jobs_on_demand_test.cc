// Whole-binary tests of on-demand runs through the control socket
// (docs/jobs.md "Control API"): wait and async modes, stdin in and stdout
// out, exit codes and signals, the output cap, timeouts that kill the run's
// whole process group, and cancelling queued and running runs.
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "support/jobs.h"

namespace corefork::harness {
namespace {

using std::chrono::milliseconds;

const std::regex kTimestamp(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)");

class JobsOnDemandTest : public JobsTest {
 protected:
  // A script file in the temp dir, for commands too long for one line.
  std::string Script(const std::string& name, const std::string& body) {
    const std::string path = Path(name);
    EXPECT_TRUE(WriteFile(path, "#!/bin/sh\n" + body, 0755)) << path;
    return path;
  }
};

TEST_F(JobsOnDemandTest, WaitModeFeedsStdinAndAnswersWithTheFinishedRun) {
  const std::string yaml =
      "jobs:\n"
      "  upper:\n"
      "    command: [tr, a-z, A-Z]\n"
      "    on_demand: true\n"
      "  count:\n"
      "    command: [wc, -c]\n"
      "    on_demand: true\n"
      "  binary:\n"
      "    command: " +
      ShCommand("printf 'caf\\303\\251 \\377 \"q\" \\\\ \\001\\n'") +
      "\n"
      "    on_demand: true\n";
  Process& cf = StartJobs(yaml);
  ASSERT_TRUE(WaitControl(cf));

  UnixHttpResponse r = Submit("upper", "hello\nworld\n", /*wait=*/true);
  ASSERT_EQ(r.status, 200) << r.ToString();
  JsonValue run = Body(r);
  EXPECT_GT(RunId(run), 0u) << r.body;
  EXPECT_EQ(run.Str("job").value_or(""), "upper");
  EXPECT_EQ(run.Str("trigger").value_or(""), "on_demand");
  EXPECT_EQ(run.Str("state").value_or(""), "succeeded");
  EXPECT_EQ(run.Num("attempt").value_or(0), 1);
  EXPECT_EQ(run.Num("exit_code").value_or(-1), 0);
  EXPECT_TRUE(run.IsNull("signal")) << r.body;
  EXPECT_EQ(run.Str("stdout").value_or(""), "HELLO\nWORLD\n");
  EXPECT_EQ(run.Bool("stdout_truncated"), std::optional<bool>(false));
  EXPECT_EQ(run.Str("stderr").value_or("x"), "");
  EXPECT_EQ(run.Bool("stderr_truncated"), std::optional<bool>(false));
  for (const char* key : {"queued_at", "started_at", "finished_at"}) {
    EXPECT_TRUE(std::regex_match(run.Str(key).value_or(""), kTimestamp))
        << key << " in " << r.body;
  }
  EXPECT_GE(run.Num("duration_seconds").value_or(-1), 0) << r.body;
  EXPECT_LT(run.Num("duration_seconds").value_or(99), 5) << r.body;
  // Each output line is also logged with the job name and run id.
  const std::string logged = "job upper run " + std::to_string(RunId(run));
  EXPECT_TRUE(PollUntil(
      [&] {
        return cf.Stderr().find(logged + " stdout: HELLO") !=
                   std::string::npos &&
               cf.Stderr().find(logged + " stdout: WORLD") != std::string::npos;
      },
      milliseconds(2000)))
      << "output lines not logged as '" << logged << " stdout: ...'";

  // A large body (held in a memfd, not a pipe) reaches stdin whole.
  const std::string big(900 * 1024, 'x');
  r = Submit("count", big, /*wait=*/true);
  ASSERT_EQ(r.status, 200) << r.ToString();
  EXPECT_EQ(Body(r).Str("stdout").value_or(""),
            std::to_string(big.size()) + "\n");
  // No body: stdin is empty (/dev/null), not inherited.
  r = Submit("count", "", /*wait=*/true);
  ASSERT_EQ(r.status, 200) << r.ToString();
  EXPECT_EQ(Body(r).Str("stdout").value_or(""), "0\n");

  // Any output gives valid JSON: quotes, backslashes and control characters
  // escaped, invalid UTF-8 replaced by U+FFFD, valid UTF-8 kept.
  r = Submit("binary", "", /*wait=*/true);
  ASSERT_EQ(r.status, 200) << r.ToString();
  EXPECT_EQ(Body(r).Str("stdout").value_or(""),
            "caf\xC3\xA9 \xEF\xBF\xBD \"q\" \\ \x01\n");
}

TEST_F(JobsOnDemandTest, AsyncModeAnswers202WithALocationToPoll) {
  const std::string yaml =
      "jobs:\n"
      "  slow-cat:\n"
      "    command: " +
      ShCommand("sleep 0.3; cat") +
      "\n"
      "    on_demand: true\n";
  Process& cf = StartJobs(yaml);
  ASSERT_TRUE(WaitControl(cf));

  const auto before = Clock::now();
  UnixHttpResponse r = Submit("slow-cat", "abc");
  EXPECT_LT(Clock::now() - before, milliseconds(250))
      << "the async request waited for the run";
  ASSERT_EQ(r.status, 202) << r.ToString();
  JsonValue run = Body(r);
  const uint64_t id = RunId(run);
  ASSERT_GT(id, 0u) << r.body;
  EXPECT_EQ(r.Header("Location"), "/jobs/runs/" + std::to_string(id));
  const std::string state = run.Str("state").value_or("");
  EXPECT_TRUE(state == "queued" || state == "running") << r.body;

  JsonValue done = WaitRunEnded(id);
  EXPECT_EQ(done.Str("state").value_or(""), "succeeded");
  EXPECT_EQ(done.Str("stdout").value_or(""), "abc");
  EXPECT_EQ(RunId(done), id);
  // The same answer through the Location.
  UnixHttpResponse again = Control("GET", r.Header("Location"));
  ASSERT_EQ(again.status, 200) << again.ToString();
  EXPECT_EQ(Body(again).Str("stdout").value_or(""), "abc");
}

TEST_F(JobsOnDemandTest, RunsGetTheirEnvironmentAndWorkdir) {
  const std::string dir = Path("work");
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
  const std::string yaml =
      "jobs:\n"
      "  env:\n"
      "    command: " +
      ShCommand("echo \"$COREFORK_JOB $COREFORK_RUN_ID $GREETING $(pwd)\"") +
      "\n"
      "    env: {GREETING: hi there}\n"
      "    workdir: " +
      YamlQuote(dir) +
      "\n"
      "    on_demand: true\n";
  Process& cf = StartJobs(yaml);
  ASSERT_TRUE(WaitControl(cf));
  UnixHttpResponse r = Submit("env", "", true);
  ASSERT_EQ(r.status, 200) << r.ToString();
  JsonValue run = Body(r);
  EXPECT_EQ(run.Str("stdout").value_or(""),
            "env " + std::to_string(RunId(run)) + " hi there " + dir + "\n");
}

TEST_F(JobsOnDemandTest, ShellCommandsAndUserDrop) {
  if (geteuid() != 0) GTEST_SKIP() << "user/group need corefork to run as root";
  const std::string yaml =
      "jobs:\n"
      "  shell:\n"
      "    command: \"echo $((1 + 2)) | tr 3 x\"\n"
      "    shell: true\n"
      "    on_demand: true\n"
      "  as-nobody:\n"
      "    command: [id, -u]\n"
      "    user: nobody\n"
      "    on_demand: true\n"
      "  as-ghost:\n"
      "    command: [id, -u]\n"
      "    user: no-such-user-here\n"
      "    on_demand: true\n";
  Process& cf = StartJobs(yaml);
  ASSERT_TRUE(WaitControl(cf));
  UnixHttpResponse r = Submit("shell", "", true);
  ASSERT_EQ(r.status, 200) << r.ToString();
  EXPECT_EQ(Body(r).Str("stdout").value_or(""), "x\n") << r.body;

  r = Submit("as-nobody", "", true);
  ASSERT_EQ(r.status, 200) << r.ToString();
  const passwd* nobody = getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  EXPECT_EQ(Body(r).Str("stdout").value_or(""),
            std::to_string(nobody->pw_uid) + "\n")
      << r.body;

  // An unknown user: the run fails to start, with the reason in stderr.
  r = Submit("as-ghost", "", true);
  ASSERT_EQ(r.status, 200) << r.ToString();
  JsonValue run = Body(r);
  EXPECT_EQ(run.Str("state").value_or(""), "failed") << r.body;
  EXPECT_NE(run.Str("stderr").value_or("").find("no-such-user-here"),
            std::string::npos)
      << r.body;
  EXPECT_TRUE(cf.Running());
}

// A bounded history: job_history.max_runs finished runs stay visible.
TEST_F(JobsOnDemandTest, FinishedRunsAreKeptBoundedByJobHistory) {
  Process& cf = StartJobs(
      "jobs:\n  echo:\n    command: [cat]\n    on_demand: true\n"
      "job_history: {max_runs: 3}\n");
  ASSERT_TRUE(WaitControl(cf));
  for (int i = 1; i <= 5; ++i) {
    ASSERT_EQ(Submit("echo", std::to_string(i), true).status, 200);
  }
  for (int id = 1; id <= 2; ++id) {
    UnixHttpResponse old = Control("GET", "/jobs/runs/" + std::to_string(id));
    EXPECT_EQ(old.status, 404) << "run " << id << ": " << old.ToString();
  }
  for (int id = 3; id <= 5; ++id) {
    UnixHttpResponse kept = Control("GET", "/jobs/runs/" + std::to_string(id));
    ASSERT_EQ(kept.status, 200) << "run " << id << ": " << kept.ToString();
    EXPECT_EQ(Body(kept).Str("stdout").value_or(""), std::to_string(id));
  }
}

// docs/jobs.md "Execution": each run is its own process group with a clean
// signal mask, default dispositions and no fd of corefork's but 0, 1, 2.
TEST_F(JobsOnDemandTest, RunsStartCleanInTheirOwnProcessGroup) {
  // Each job looks at its own process (no shell in between, whose own
  // forks would block signals and open fds for a moment).
  Process& cf = StartJobs(
      "jobs:\n"
      "  status:\n"
      "    command: [cat, /proc/self/status]\n"
      "    on_demand: true\n"
      "  fds:\n"
      "    command: [ls, /proc/self/fd]\n"
      "    on_demand: true\n"
      "  group:\n"
      "    command: [cut, -d, ' ', -f, '1,5', /proc/self/stat]\n"
      "    on_demand: true\n");
  ASSERT_TRUE(WaitControl(cf));
  UnixHttpResponse r = Submit("status", "", true);
  ASSERT_EQ(r.status, 200) << r.ToString();
  const std::string status = Body(r).Str("stdout").value_or("");
  EXPECT_NE(status.find("\nSigBlk:\t0000000000000000\n"), std::string::npos)
      << "signals blocked in the run:\n"
      << status;
  EXPECT_NE(status.find("\nSigIgn:\t0000000000000000\n"), std::string::npos)
      << "signals ignored in the run:\n"
      << status;
  // 0, 1, 2, and 3: the directory ls itself opened to list them.
  r = Submit("fds", "", true);
  ASSERT_EQ(r.status, 200) << r.ToString();
  EXPECT_EQ(Body(r).Str("stdout").value_or(""), "0\n1\n2\n3\n")
      << "fds other than 0, 1, 2 leaked into the run";
  // pid == process group id: the run leads its own group.
  r = Submit("group", "", true);
  ASSERT_EQ(r.status, 200) << r.ToString();
  const std::string group = Body(r).Str("stdout").value_or("");
  const size_t space = group.find(' ');
  ASSERT_NE(space, std::string::npos) << group;
  EXPECT_EQ(group.substr(0, space) + "\n", group.substr(space + 1))
      << "pid and process group differ: " << group;
}

// A failed run is retried after retry_delay, doubled each time; a waiting
// request gets the final outcome.
TEST_F(JobsOnDemandTest, FailedRunsAreRetriedWithBackoff) {
  const std::string counter = Path("attempts");
  const std::string yaml =
      "jobs:\n"
      "  flaky:\n"
      "    command: " +
      ShCommand("n=$(cat '" + counter +
                "' 2>/dev/null || echo 0); "
                "n=$((n + 1)); echo $n > '" +
                counter +
                "'; "
                "echo attempt $n; [ $n -ge 3 ]") +
      "\n"
      "    retries: 2\n"
      "    retry_delay: 200ms\n"
      "    on_demand: true\n"
      "  broken:\n"
      "    command: " +
      ShCommand("exit 4") +
      "\n"
      "    retries: 1\n"
      "    retry_delay: 100ms\n"
      "    on_demand: true\n";
  Process& cf = StartJobs(yaml);
  ASSERT_TRUE(WaitControl(cf));
  const auto start = Clock::now();
  UnixHttpResponse r = Submit("flaky", "", true);
  const auto took = Clock::now() - start;
  ASSERT_EQ(r.status, 200) << r.ToString();
  JsonValue run = Body(r);
  EXPECT_EQ(run.Str("state").value_or(""), "succeeded") << r.body;
  EXPECT_EQ(run.Num("attempt").value_or(0), 3) << r.body;
  // (Output of every attempt is kept, one after the other; the last
  // attempt's comes last.)
  EXPECT_TRUE(run.Str("stdout").value_or("").ends_with("attempt 3\n"))
      << r.body;
  EXPECT_GE(took, milliseconds(550)) << "200ms + 400ms of backoff";
  EXPECT_LT(took, milliseconds(3000));

  r = Submit("broken", "", true);
  ASSERT_EQ(r.status, 200) << r.ToString();
  run = Body(r);
  EXPECT_EQ(run.Str("state").value_or(""), "failed") << r.body;
  EXPECT_EQ(run.Num("attempt").value_or(0), 2) << r.body;
  EXPECT_EQ(run.Num("exit_code").value_or(-1), 4) << r.body;
  EXPECT_EQ(Metric("corefork_job_runs_total",
                   {{"job", "broken"}, {"result", "failed"}}),
            1)
      << "a retried run counts once, with its final result";
}

TEST_F(JobsOnDemandTest, ExitCodesAndSignalsAreReported) {
  const std::string yaml =
      "jobs:\n"
      "  exit3:\n"
      "    command: " +
      ShCommand("echo 'disk full' >&2; exit 3") +
      "\n"
      "    on_demand: true\n"
      "  term:\n"
      "    command: " +
      ShCommand("kill -TERM $$") +
      "\n"
      "    on_demand: true\n"
      "  kill:\n"
      "    command: " +
      ShCommand("kill -KILL $$") +
      "\n"
      "    on_demand: true\n"
      "  missing:\n"
      "    command: [/nonexistent/program]\n"
      "    on_demand: true\n";
  Process& cf = StartJobs(yaml);
  ASSERT_TRUE(WaitControl(cf));

  UnixHttpResponse r = Submit("exit3", "", true);
  ASSERT_EQ(r.status, 200) << r.ToString();
  JsonValue run = Body(r);
  EXPECT_EQ(run.Str("state").value_or(""), "failed");
  EXPECT_EQ(run.Num("exit_code").value_or(-1), 3);
  EXPECT_TRUE(run.IsNull("signal")) << r.body;
  EXPECT_EQ(run.Str("stderr").value_or(""), "disk full\n");

  for (const std::string sig : {"TERM", "KILL"}) {
    r = Submit(sig == "TERM" ? "term" : "kill", "", true);
    ASSERT_EQ(r.status, 200) << r.ToString();
    run = Body(r);
    EXPECT_EQ(run.Str("state").value_or(""), "failed") << r.body;
    EXPECT_TRUE(run.IsNull("exit_code")) << r.body;
    EXPECT_EQ(run.Str("signal").value_or(""), "SIG" + sig) << r.body;
  }

  // A command that cannot be started fails like a shell would say: 127.
  r = Submit("missing", "", true);
  ASSERT_EQ(r.status, 200) << r.ToString();
  run = Body(r);
  EXPECT_EQ(run.Str("state").value_or(""), "failed") << r.body;
  EXPECT_EQ(run.Num("exit_code").value_or(-1), 127) << r.body;
  EXPECT_NE(run.Str("stderr").value_or("").find("/nonexistent/program"),
            std::string::npos)
      << r.body;
  EXPECT_TRUE(cf.Running());
}

TEST_F(JobsOnDemandTest, OutputIsCappedAndMarkedTruncated) {
  const std::string yaml =
      "jobs:\n"
      "  chatty:\n"
      "    command: " +
      ShCommand(
          "head -c 100000 /dev/zero | tr '\\000' a; "
          "head -c 5000 /dev/zero | tr '\\000' b >&2") +
      "\n"
      "    max_output: 1Ki\n"
      "    on_demand: true\n"
      "  exact:\n"
      "    command: " +
      ShCommand("head -c 1024 /dev/zero | tr '\\000' c") +
      "\n"
      "    max_output: 1Ki\n"
      "    on_demand: true\n"
      "  default-cap:\n"
      "    command: " +
      ShCommand("head -c 3000000 /dev/zero | tr '\\000' d") +
      "\n"
      "    on_demand: true\n";
  Process& cf = StartJobs(yaml);
  ASSERT_TRUE(WaitControl(cf));

  UnixHttpResponse r = Submit("chatty", "", true);
  ASSERT_EQ(r.status, 200) << r.ToString();
  JsonValue run = Body(r);
  EXPECT_EQ(run.Str("state").value_or(""), "succeeded");
  EXPECT_EQ(run.Str("stdout").value_or(""), std::string(1024, 'a'));
  EXPECT_EQ(run.Bool("stdout_truncated"), std::optional<bool>(true));
  EXPECT_EQ(run.Str("stderr").value_or(""), std::string(1024, 'b'));
  EXPECT_EQ(run.Bool("stderr_truncated"), std::optional<bool>(true));

  r = Submit("exact", "", true);
  ASSERT_EQ(r.status, 200) << r.ToString();
  run = Body(r);
  EXPECT_EQ(run.Str("stdout").value_or(""), std::string(1024, 'c'));
  EXPECT_EQ(run.Bool("stdout_truncated"), std::optional<bool>(false))
      << "exactly max_output bytes is not truncated";

  // Default max_output: 1Mi.
  r = Submit("default-cap", "", true);
  ASSERT_EQ(r.status, 200) << r.ToString();
  run = Body(r);
  EXPECT_EQ(run.Str("stdout").value_or("").size(), 1024u * 1024u);
  EXPECT_EQ(run.Bool("stdout_truncated"), std::optional<bool>(true));
}

// The run's shell ignores SIGTERM (and so do its children, which inherit
// that): after the timeout's SIGTERM, only the SIGKILL after kill_grace ends
// them. The children and a grandchild record their pids.
TEST_F(JobsOnDemandTest, TimeoutKillsTheWholeProcessGroup) {
  const std::string pids = Path("pids");
  const std::string stubborn = Script("stubborn.sh",
                                      "trap '' TERM\n"
                                      "sleep 30 & echo $! >> '" +
                                          pids +
                                          "'\n"
                                          "sleep 30 & echo $! >> '" +
                                          pids +
                                          "'\n"
                                          "sh -c 'sleep 30 & echo $! >> \"" +
                                          pids +
                                          "\"; wait' &\n"
                                          "echo $! >> '" +
                                          pids +
                                          "'\n"
                                          "echo started\n"
                                          "wait\n");
  const std::string polite_pids = Path("polite-pids");
  const std::string polite =
      Script("polite.sh", "sleep 30 & echo $! >> '" + polite_pids +
                              "'\n"
                              "sleep 30 & echo $! >> '" +
                              polite_pids +
                              "'\n"
                              "wait\n");
  const std::string yaml =
      "jobs:\n"
      "  stubborn:\n"
      "    command: [/bin/sh, " +
      YamlQuote(stubborn) +
      "]\n"
      "    timeout: 500ms\n"
      "    kill_grace: 300ms\n"
      "    on_demand: true\n"
      "  polite:\n"
      "    command: [/bin/sh, " +
      YamlQuote(polite) +
      "]\n"
      "    timeout: 300ms\n"
      "    kill_grace: 10s\n"
      "    on_demand: true\n";
  Process& cf = StartJobs(yaml);
  ASSERT_TRUE(WaitControl(cf));

  const auto start = Clock::now();
  UnixHttpResponse r = Submit("stubborn", "", true);
  const auto took = Clock::now() - start;
  ASSERT_EQ(r.status, 200) << r.ToString();
  JsonValue run = Body(r);
  EXPECT_EQ(run.Str("state").value_or(""), "timed_out") << r.body;
  EXPECT_EQ(run.Str("signal").value_or(""), "SIGKILL") << r.body;
  EXPECT_EQ(run.Str("stdout").value_or(""), "started\n");
  EXPECT_GE(took, milliseconds(750)) << "killed before timeout + kill_grace";
  EXPECT_LT(took, milliseconds(3000));
  std::vector<pid_t> left = ReadPids(pids);
  EXPECT_EQ(left.size(), 4u) << ReadFile(pids);
  EXPECT_TRUE(PollUntil([&] { return AllGone(left); }, milliseconds(2000)))
      << "processes of the timed-out run still exist (or are unreaped "
         "zombies): "
      << States(left);

  // A run that takes SIGTERM ends with it (no need for the kill grace), and
  // its children go with the group.
  const auto polite_start = Clock::now();
  r = Submit("polite", "", true);
  ASSERT_EQ(r.status, 200) << r.ToString();
  run = Body(r);
  EXPECT_EQ(run.Str("state").value_or(""), "timed_out") << r.body;
  EXPECT_EQ(run.Str("signal").value_or(""), "SIGTERM") << r.body;
  EXPECT_LT(Clock::now() - polite_start, milliseconds(3000));
  left = ReadPids(polite_pids);
  EXPECT_EQ(left.size(), 2u);
  EXPECT_TRUE(PollUntil([&] { return AllGone(left); }, milliseconds(2000)))
      << States(left);
  EXPECT_TRUE(cf.Running());
}

// A run ends when its process exits, even while a background child still
// holds its stdout; that child is killed with the group.
TEST_F(JobsOnDemandTest, AFinishedRunLeavesNoChildBehind) {
  const std::string pid_file = Path("child.pid");
  const std::string yaml =
      "jobs:\n"
      "  leaky:\n"
      "    command: " +
      ShCommand("sleep 30 & echo $! > '" + pid_file + "'; echo done") +
      "\n"
      "    on_demand: true\n";
  Process& cf = StartJobs(yaml);
  ASSERT_TRUE(WaitControl(cf));
  const auto start = Clock::now();
  UnixHttpResponse r = Submit("leaky", "", true);
  ASSERT_EQ(r.status, 200) << r.ToString();
  EXPECT_LT(Clock::now() - start, milliseconds(3000));
  JsonValue run = Body(r);
  EXPECT_EQ(run.Str("state").value_or(""), "succeeded") << r.body;
  EXPECT_EQ(run.Str("stdout").value_or(""), "done\n");
  const pid_t child = std::atoi(ReadFile(pid_file).c_str());
  ASSERT_GT(child, 0);
  EXPECT_TRUE(PollUntil([&] { return ProcessGone(child); }, milliseconds(2000)))
      << "the run's background child " << States({child});
}

TEST_F(JobsOnDemandTest, CancelQueuedAndRunningRuns) {
  const std::string pids = Path("pids");
  const std::string gate = Script("gate.sh", "echo $$ >> '" + pids +
                                                 "'\n"
                                                 "sleep 30 & echo $! >> '" +
                                                 pids +
                                                 "'\n"
                                                 "wait\n");
  const std::string stubborn_pid = Path("stubborn.pid");
  const std::string yaml =
      "jobs:\n"
      "  gate:\n"
      "    command: [/bin/sh, " +
      YamlQuote(gate) +
      "]\n"
      "    concurrency: 1\n"
      "    on_demand: true\n"
      "  stubborn:\n"
      "    command: " +
      ShCommand("trap '' TERM; echo $$ > '" + stubborn_pid +
                "'; sleep 30 & wait") +
      "\n"
      "    kill_grace: 400ms\n"
      "    on_demand: true\n";
  Process& cf = StartJobs(yaml);
  ASSERT_TRUE(WaitControl(cf));

  // Run A runs; B (a held ?wait=true request) and C wait behind it.
  UnixHttpResponse a = Submit("gate", "");
  ASSERT_EQ(a.status, 202) << a.ToString();
  const uint64_t a_id = RunId(Body(a));
  ASSERT_TRUE(WaitRunState(a_id, "running")) << "run A never started";
  UnixHttpResponse c = Submit("gate", "");
  ASSERT_EQ(c.status, 202) << c.ToString();
  const uint64_t c_id = RunId(Body(c));
  EXPECT_EQ(Body(c).Str("state").value_or(""), "queued") << c.body;
  UnixHttpConnection b_conn;
  ASSERT_TRUE(b_conn.Connect(ControlSocket(), milliseconds(2000)))
      << b_conn.error();
  ASSERT_TRUE(b_conn.Send("POST", "/jobs/gate/runs?wait=true", ""))
      << b_conn.error();
  // B's id: the next queued run of gate after C.
  uint64_t b_id = 0;
  ASSERT_TRUE(PollUntil(
      [&] {
        for (uint64_t id = c_id + 1; id < c_id + 4; ++id) {
          UnixHttpResponse g =
              Control("GET", "/jobs/runs/" + std::to_string(id));
          if (g.status == 200 &&
              Body(g).Str("state").value_or("") == "queued") {
            b_id = id;
            return true;
          }
        }
        return false;
      },
      milliseconds(3000)))
      << "the waiting request's run never showed up as queued";

  // Cancelling a queued run removes it at once: 200, cancelled.
  UnixHttpResponse del =
      Control("DELETE", "/jobs/runs/" + std::to_string(c_id));
  ASSERT_EQ(del.status, 200) << del.ToString();
  EXPECT_EQ(Body(del).Str("state").value_or(""), "cancelled") << del.body;
  UnixHttpResponse get = Control("GET", "/jobs/runs/" + std::to_string(c_id));
  EXPECT_EQ(Body(get).Str("state").value_or(""), "cancelled") << get.body;
  EXPECT_TRUE(Body(get).IsNull("started_at")) << "never started: " << get.body;
  // A finished run cannot be cancelled again.
  UnixHttpResponse again =
      Control("DELETE", "/jobs/runs/" + std::to_string(c_id));
  EXPECT_EQ(again.status, 409) << again.ToString();
  EXPECT_FALSE(Body(again).Str("error").value_or("").empty()) << again.body;

  // The waiting request of a cancelled queued run gets its answer.
  del = Control("DELETE", "/jobs/runs/" + std::to_string(b_id));
  ASSERT_EQ(del.status, 200) << del.ToString();
  UnixHttpResponse b = b_conn.ReadResponse(milliseconds(3000));
  ASSERT_EQ(b.status, 200) << b.ToString();
  EXPECT_EQ(Body(b).Str("state").value_or(""), "cancelled") << b.body;
  EXPECT_EQ(RunId(Body(b)), b_id);

  // Cancelling the running run: 202, SIGTERM to its group; it ends
  // cancelled and its child is gone too.
  // Both of run A's pids are written once it runs, but not necessarily yet.
  std::vector<pid_t> a_pids;
  ASSERT_TRUE(PollUntil(
      [&] {
        a_pids = ReadPids(pids);
        return a_pids.size() >= 2;
      },
      milliseconds(3000)))
      << ReadFile(pids);
  ASSERT_EQ(a_pids.size(), 2u) << ReadFile(pids);
  del = Control("DELETE", "/jobs/runs/" + std::to_string(a_id));
  ASSERT_EQ(del.status, 202) << del.ToString();
  JsonValue a_done = WaitRunEnded(a_id, milliseconds(3000));
  EXPECT_EQ(a_done.Str("state").value_or(""), "cancelled");
  EXPECT_EQ(a_done.Str("signal").value_or(""), "SIGTERM");
  EXPECT_TRUE(PollUntil([&] { return AllGone(a_pids); }, milliseconds(2000)))
      << States(a_pids);

  // A running run that ignores SIGTERM is SIGKILLed after kill_grace.
  UnixHttpResponse s = Submit("stubborn", "");
  ASSERT_EQ(s.status, 202) << s.ToString();
  const uint64_t s_id = RunId(Body(s));
  ASSERT_TRUE(
      PollUntil([&] { return FileExists(stubborn_pid); }, milliseconds(3000)));
  const auto cancel_at = Clock::now();
  del = Control("DELETE", "/jobs/runs/" + std::to_string(s_id));
  ASSERT_EQ(del.status, 202) << del.ToString();
  JsonValue s_done = WaitRunEnded(s_id, milliseconds(3000));
  EXPECT_EQ(s_done.Str("state").value_or(""), "cancelled");
  EXPECT_EQ(s_done.Str("signal").value_or(""), "SIGKILL");
  EXPECT_GE(Clock::now() - cancel_at, milliseconds(350))
      << "killed before kill_grace";
  EXPECT_TRUE(cf.Running());
}

}  // namespace
}  // namespace corefork::harness
