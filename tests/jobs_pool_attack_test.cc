// Whole-binary tests of job pools (docs/jobs.md "Pools") under hostile
// workers and clients: what an adversarial pass found. Each test pins one
// bug that pass found (all fixed); the comment above it says what it was.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>

#include "support/jobs.h"

namespace corefork::harness {
namespace {

using std::chrono::milliseconds;

constexpr char kPython[] = "/usr/bin/python3";

// A pool worker for each hostile behaviour, chosen by argv[1]:
//   early   reads only the head of its first request (64 bytes), answers it
//           at once and never reads stdin again
//   stub F  ignores SIGTERM, then creates file F; never answers (a run on it
//           only ends by SIGKILL)
//   slow    answers every request after 3 s
//   deep    answers every request with output [[[...]]], 400,000 deep
//           (800 KB: under the default max_answer of 1 MiB)
//   echo    answers every request with output "ok"
//   sip     reads its stdin 4 KiB every 50 ms, answers each line "ok"
//   stubborn answers every request "ok", ignores SIGTERM and end of input
const char kWorker[] = R"PY(import os, re, signal, sys, time
mode = sys.argv[1]
if mode == "early":
    head = os.read(0, 64)
    rid = re.match(rb'\{"id":(\d+)', head).group(1)
    os.write(1, b'{"id":%s,"output":"early"}\n' % rid)
    while True:
        time.sleep(1000)
if mode == "stub":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    open(sys.argv[2], "w").close()
    while True:
        time.sleep(1000)
if mode == "slow":
    import json
    for line in sys.stdin:
        time.sleep(3)
        rid = json.loads(line)["id"]
        sys.stdout.write('{"id":%d,"output":"slow"}\n' % rid)
        sys.stdout.flush()
if mode == "sip":
    import json
    buf = b""
    while True:
        data = os.read(0, 4096)
        if not data:
            break
        buf += data
        time.sleep(0.05)
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            rid = json.loads(line)["id"]
            os.write(1, b'{"id":%d,"output":"ok"}\n' % rid)
if mode == "stubborn":
    import json
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    for line in sys.stdin:
        rid = json.loads(line)["id"]
        os.write(1, b'{"id":%d,"output":"ok"}\n' % rid)
    while True:
        time.sleep(1000)
if mode in ("deep", "echo"):
    import json
    for line in sys.stdin:
        rid = json.loads(line)["id"]
        out = b"[" * 400000 + b"]" * 400000 if mode == "deep" else b'"ok"'
        os.write(1, b'{"id":%d,"output":%s}\n' % (rid, out))
)PY";

// utime + stime of `pid` in seconds (/proc/PID/stat), -1 if unreadable.
double CpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return -1;
  std::istringstream fields(stat.substr(paren + 2));
  std::string field;
  long utime = 0, stime = 0;
  // Fields after the command: state is field 3; utime 14, stime 15.
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::stol(field);
    if (i == 15) stime = std::stol(field);
  }
  return static_cast<double>(utime + stime) / sysconf(_SC_CLK_TCK);
}

// Writes `request` to the unix socket at `path` and reads until EOF or
// `timeout`: the raw answer ("" when it cannot connect or nothing came).
std::string RawExchange(const std::string& path, const std::string& request,
                        Millis timeout) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  std::string raw;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    for (size_t off = 0; off < request.size();) {
      const ssize_t n = write(fd, request.data() + off, request.size() - off);
      if (n <= 0) break;  // an early answer may still be there to read
      off += static_cast<size_t>(n);
    }
    const auto deadline = Clock::now() + timeout;
    char buf[65536];
    for (;;) {
      const auto left =
          std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
      pollfd p{fd, POLLIN, 0};
      if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) <= 0)
        break;
      const ssize_t n = read(fd, buf, sizeof buf);
      if (n <= 0) break;
      raw.append(buf, static_cast<size_t>(n));
    }
  }
  close(fd);
  return raw;
}

class JobsPoolAttackTest : public JobsTest {
 protected:
  void SetUp() override {
    JobsTest::SetUp();
    if (access(kPython, X_OK) != 0) GTEST_SKIP() << kPython << " is missing";
    ASSERT_TRUE(WriteFile(Path("worker.py"), kWorker));
  }
  std::string Job(const std::string& name, const std::string& mode,
                  const std::string& pool, const std::string& extra = "") {
    return "  " + name + ":\n    command: [" + YamlQuote(kPython) + ", " +
           YamlQuote(Path("worker.py")) + ", " + mode +
           "]\n    on_demand: true\n    pool: " + pool + "\n" + extra;
  }
};

// Was a bug: a process that answers a run before reading all of its
// request is never Idle() again (PoolProcess::Idle needs `pending` fully
// written) yet stays live and counted in `size`. If it never reads stdin
// again, no timeout applies (its run is over), idle_timeout does not apply
// below `min`, and every later run waits in the queue forever (a ?wait=true
// client gets 504). GET /jobs shows the process as "idle".
TEST_F(JobsPoolAttackTest,
       AProcessThatAnsweredBeforeReadingItsRequestBlocksNoRun) {
  Process& cf = StartJobs(
      "jobs:\n" + Job("early", "early", "{size: 1, min: 1, idle_timeout: 1s}",
                      "    timeout: 2s\n    kill_grace: 1s\n"));
  ASSERT_TRUE(WaitControl(cf));
  // More than the pipe holds: most of it is still pending at the answer.
  const JsonValue first = Body(
      Submit("early", std::string(900 * 1024, 'x'), true, milliseconds(10000)));
  EXPECT_EQ(first.Str("state").value_or(""), "succeeded")
      << first.json().dump();
  const uint64_t second = RunId(Body(Submit("early", "small")));
  ASSERT_NE(second, 0u);
  // Whatever becomes of it (a fresh process, or a failure), the second run
  // must end within its timeout and kill grace, plus slack.
  const JsonValue run = WaitRunEnded(second, milliseconds(10000));
  EXPECT_TRUE(IsFinalState(run.Str("state").value_or("")))
      << "the run still waits behind a process that never reads: "
      << run.json().dump();
  EXPECT_TRUE(cf.Running());
}

// Was a bug (not only pools): a queued run that cannot start yet makes the
// loop spin. JobRunner::NextDeadline() takes min(run.not_before) over every
// queued run, and not_before is the submit time, long past: epoll_wait gets
// a 0 ms timeout every turn while the run waits (a busy pool, a pool in its
// crash back-off, a busy spawn-per-run job). Seen: ~35 % of a core with one
// queued run, ~55 % during a crash back-off with 500 queued.
TEST_F(JobsPoolAttackTest, AQueuedRunDoesNotSpinTheLoop) {
  Process& cf = StartJobs(
      "jobs:\n" + Job("slow", "slow", "{size: 1}", "    timeout: 20s\n"));
  ASSERT_TRUE(WaitControl(cf));
  const uint64_t busy = RunId(Body(Submit("slow", "a")));
  const uint64_t queued = RunId(Body(Submit("slow", "b")));
  ASSERT_TRUE(WaitRunState(busy, "running"));
  const JsonValue waiting =
      Body(Control("GET", "/jobs/runs/" + std::to_string(queued)));
  ASSERT_EQ(waiting.Str("state").value_or(""), "queued")
      << waiting.json().dump();
  const double before = CpuSeconds(cf.pid());
  const auto start = Clock::now();
  // A measuring window, not a synchronisation: the first run holds the
  // process for 3 s, the second stays queued throughout.
  PollUntil([] { return false; }, milliseconds(1500), milliseconds(100));
  const double spent = CpuSeconds(cf.pid()) - before;
  const double wall =
      std::chrono::duration<double>(Clock::now() - start).count();
  std::cout << "[ figures  ] corefork CPU with one queued run: " << spent
            << " s in " << wall << " s\n";
  EXPECT_LT(spent, 0.15 * wall) << "the loop spins while a run is queued";
  EXPECT_EQ(Body(Control("GET", "/jobs/runs/" + std::to_string(queued)))
                .Str("state")
                .value_or(""),
            "queued");
}

// Was a bug (not only pools): DELETE on a running run resets term_sent and
// re-arms the SIGKILL deadline (JobRunner::Cancel then EnforceRunDeadline).
// A client that repeats DELETE more often than kill_grace keeps a process
// that ignores SIGTERM alive, and its run running, for as long as it likes:
// past `timeout` and `kill_grace` both.
TEST_F(JobsPoolAttackTest, RepeatedCancelsDoNotPostponeTheKill) {
  const std::string ready = Path("stub-ready");
  Process& cf = StartJobs("jobs:\n" + Job("stub", "stub, " + YamlQuote(ready),
                                          "{size: 1}",
                                          "    timeout: 1s\n"
                                          "    kill_grace: 1s\n"));
  ASSERT_TRUE(WaitControl(cf));
  const uint64_t id = RunId(Body(Submit("stub", "x")));
  ASSERT_TRUE(WaitRunState(id, "running"));
  ASSERT_TRUE(PollUntil([&] { return access(ready.c_str(), F_OK) == 0; },
                        milliseconds(10000)))
      << "the worker never got ready";
  const std::string target = "/jobs/runs/" + std::to_string(id);
  // timeout 1 s + kill_grace 1 s: SIGKILL is due by 2 s at the latest.
  const auto start = Clock::now();
  UnixHttpResponse last;
  const bool ended = PollUntil(
      [&] {
        last = Control("DELETE", target);
        return last.status != 202;  // 409: it has ended
      },
      milliseconds(6000), milliseconds(300));
  EXPECT_TRUE(ended)
      << "still running after "
      << std::chrono::duration<double>(Clock::now() - start).count()
      << " s of DELETEs every 300 ms: " << last.ToString()
      << Body(Control("GET", target)).json().dump();
  std::cout << "[ figures  ] DELETE answered " << last.status << " after "
            << std::chrono::duration<double>(Clock::now() - start).count()
            << " s: " << last.body.substr(0, 300) << "\n";
  EXPECT_TRUE(cf.Running());
}

// Was a bug: nesting depth is unbounded on both sides of the protocol, and
// JsonDump (nlohmann's serializer) recurses once per level: corefork dies
// of a stack overflow (SIGSEGV; ASan: stack-overflow in serializer::dump).
//  - a pool process answering {"id":N,"output":[[[...]]]} 400,000 deep
//    (800 KB, within max_answer): ParseAnswer dumps a non-string output;
//  - any control client POSTing 1 MiB of [[[...]]] (within the body limit)
//    with Content-Type: application/json to a pool job: EncodeRequest
//    parses the body and dumps it into the request line.
// corefork is PID 1 in a container: one request ends the container.
TEST_F(JobsPoolAttackTest, DeeplyNestedAnswerDoesNotCrashCorefork) {
  Process& cf = StartJobs(
      "jobs:\n" + Job("deep", "deep", "{size: 1}", "    timeout: 10s\n"));
  ASSERT_TRUE(WaitControl(cf));
  const UnixHttpResponse r = Submit("deep", "x", true, milliseconds(20000));
  EXPECT_EQ(r.status, 200) << r.ToString().substr(0, 500);
  EXPECT_TRUE(cf.Running()) << "corefork died on a deeply nested answer";
}

TEST_F(JobsPoolAttackTest, DeeplyNestedJsonBodyDoesNotCrashCorefork) {
  Process& cf = StartJobs(
      "jobs:\n" + Job("echo", "echo", "{size: 1}", "    timeout: 10s\n"));
  ASSERT_TRUE(WaitControl(cf));
  const std::string body = std::string(500000, '[') + std::string(500000, ']');
  // The raw request: Submit() sends no Content-Type.
  const std::string answer =
      RawExchange(ControlSocket(),
                  "POST /jobs/echo/runs?wait=true HTTP/1.1\r\nHost: x\r\n"
                  "Connection: close\r\nContent-Type: application/json\r\n"
                  "Content-Length: " +
                      std::to_string(body.size()) + "\r\n\r\n" + body,
                  milliseconds(20000));
  EXPECT_EQ(answer.rfind("HTTP/1.1 200", 0), 0u) << answer.substr(0, 500);
  EXPECT_TRUE(cf.Running()) << "corefork died on a deeply nested JSON body";
}

// Was a bug: a run cancelled (or timed out) while its request is still
// being written counts as a protocol break. The SIGTERM kills the process;
// its stdin's read end closes, WritePending gets EPIPE first and calls
// BreakProtocol("closed its stdin") before OnPoolExit sees the run was
// cancelled: logged as an error, counted as
// corefork_job_pool_process_exits_total{reason="protocol"} instead of
// "cancelled", and it adds to the crash back-off (100 ms, 200 ms, 400 ms...
// for cancels in a row), delaying the runs behind it.
TEST_F(JobsPoolAttackTest,
       CancellingARunWhileItsRequestIsWrittenIsNoProtocolBreak) {
  Process& cf = StartJobs("jobs:\n" + Job("sip", "sip", "{size: 1}",
                                          "    timeout: 30s\n"
                                          "    kill_grace: 1s\n"));
  ASSERT_TRUE(WaitControl(cf));
  // 900 KiB at 80 KiB/s: being written for about 10 s.
  const uint64_t id = RunId(Body(Submit("sip", std::string(900 * 1024, 'q'))));
  ASSERT_TRUE(WaitRunState(id, "running"));
  EXPECT_EQ(Control("DELETE", "/jobs/runs/" + std::to_string(id)).status, 202);
  const JsonValue run = WaitRunEnded(id);
  EXPECT_EQ(run.Str("state").value_or(""), "cancelled") << run.json().dump();
  const std::map<std::string, std::string> cancelled = {
      {"job", "sip"}, {"reason", "cancelled"}};
  EXPECT_TRUE(PollUntil(
      [&] {
        return Metric("corefork_job_pool_process_exits_total", cancelled) == 1;
      },
      milliseconds(5000)))
      << MetricsText();
  EXPECT_EQ(Metric("corefork_job_pool_process_exits_total",
                   {{"job", "sip"}, {"reason", "protocol"}}),
            0)
      << "a cancel counted as a protocol break";
  EXPECT_TRUE(cf.Running());
}

// Was a bug: `queue` does not bound a pool's queue while its processes
// cannot take runs. Submit() answers 429 only when `running >= concurrency`
// and the queue is full; a pool in its crash back-off (or whose processes
// are stuck, see above) has running 0, so every request is queued, each
// holding its body (up to 1 MiB): corefork's memory grows without bound.
// Seen: queue: 5, 300 POSTs of 1 MiB, all 202, RSS 6 -> 306 MiB.
TEST_F(JobsPoolAttackTest, TheQueueLimitHoldsDuringTheCrashBackoff) {
  Process& cf =
      StartJobs("jobs:\n  crash:\n    command: " + ShCommand("exit 3") +
                "\n    on_demand: true\n    queue: 3\n"
                "    pool: {size: 1, min: 1, warm: true}\n");
  ASSERT_TRUE(WaitControl(cf));
  // The warm process crashes again and again: wait for a back-off long
  // enough to hold every request below.
  JsonValue pool;
  ASSERT_TRUE(PollUntil(
      [&] {
        UnixHttpResponse r = Control("GET", "/jobs");
        std::optional<JsonValue> v = ParseJson(r.body);
        if (!v) return false;
        pool = (*v)["jobs"].Items().at(0)["pool"];
        return pool.Num("backoff_seconds").value_or(0) >= 2.0;
      },
      milliseconds(15000), milliseconds(20)))
      << pool.json().dump();
  int accepted = 0;
  for (int i = 0; i < 20; ++i) {
    if (Submit("crash", std::string(64 * 1024, 'b')).status == 202) ++accepted;
  }
  EXPECT_LE(accepted, 3) << "queue: 3, yet " << accepted
                         << " runs were queued during the back-off";
  EXPECT_TRUE(cf.Running());
}

// Was a bug: retiring processes were not bounded. With max_runs: 1 and a
// worker that ignores SIGTERM and end of input, each run left a process
// behind for kill_grace: 200 runs made a pool of size 2 hold 200 processes
// (and 400 more fds). Now at most `size` retire at once; new starts wait.
TEST_F(JobsPoolAttackTest, RetiringProcessesArePiledUpToSizeAtMost) {
  Process& cf = StartJobs("jobs:\n" + Job("stubborn", "stubborn",
                                          "{size: 1, max_runs: 1}",
                                          "    kill_grace: 1s\n"));
  ASSERT_TRUE(WaitControl(cf));
  std::vector<uint64_t> ids;
  for (int i = 0; i < 4; ++i)
    ids.push_back(RunId(Body(Submit("stubborn", "x"))));
  size_t most = 0;
  const bool done = PollUntil(
      [&] {
        std::optional<JsonValue> jobs = ParseJson(Control("GET", "/jobs").body);
        if (jobs) {
          const JsonValue pool = (*jobs)["jobs"].Items().at(0)["pool"];
          most = std::max<size_t>(most, pool.Num("processes").value_or(0));
        }
        for (uint64_t id : ids) {
          JsonValue run =
              Body(Control("GET", "/jobs/runs/" + std::to_string(id)));
          if (run.Str("state").value_or("") != "succeeded") return false;
        }
        return true;
      },
      milliseconds(15000), milliseconds(20));
  EXPECT_TRUE(done) << Control("GET", "/jobs").body;
  EXPECT_LE(most, 2u) << "a pool of size 1 held " << most << " processes";
  EXPECT_GE(most, 2u) << "one retiring process and a fresh one were expected";
  EXPECT_TRUE(cf.Running());
}

}  // namespace
}  // namespace corefork::harness
