// logs.workers (issue 13, part 3): the real corefork with shell workers.
// raw leaves the workers' output untouched; tagged prefixes each line with
// the slot; json makes one object per line (an app's JSON line merged, a
// line over 16 KiB split into marked pieces, the unterminated last line
// flushed when the worker dies). With corefork's stdout a pipe nobody reads
// and a worker printing as fast as it can, /livez stays fast, corefork's
// memory stays bounded and the lost lines are counted.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "support/admin_fixture.h"
#include "util/json.h"

namespace corefork::harness {
namespace {

using std::chrono::duration;
using std::chrono::milliseconds;

// Prints a bit of everything, then waits (sleep holds stdout open, so the
// unterminated line stays pending until the worker is killed).
const char kChattyWorker[] =
    "echo \"plain $COREFORK_WORKER_ID\"; "
    "echo '{\"level\":\"info\",\"msg\":\"structured\",\"time\":1}'; "
    "echo \"to stderr $COREFORK_WORKER_ID\" >&2; "
    "head -c 40000 /dev/zero | tr '\\0' a; echo; "
    "printf 'tail-no-newline'; "
    "exec sleep 600";

std::vector<Json> JsonLines(const std::string& text) {
  std::vector<Json> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    Result<Json> j = JsonParse(line);
    if (j.ok() && j->is_object() && j->contains("stream")) {
      out.push_back(std::move(j).value());
    }
  }
  return out;
}

// The first line whose fields include every one of `want`; null if none.
Json Find(const std::vector<Json>& lines, const Json& want) {
  for (const Json& line : lines) {
    bool all = true;
    for (const auto& [key, value] : want.items()) {
      all = all && line.contains(key) && line[key] == value;
    }
    if (all) return line;
  }
  return nullptr;
}

// The pieces of worker `slot`'s long line of 'a's, in order.
std::vector<Json> LongLinePieces(const std::vector<Json>& lines, int slot) {
  std::vector<Json> pieces;
  for (const Json& line : lines) {
    if (line["worker"] != slot || !line.contains("msg")) continue;
    const std::string msg = line["msg"];
    if (!msg.empty() && msg[0] == 'a') pieces.push_back(line);
  }
  return pieces;
}

long RssKb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:") {
      long kb = 0;
      in >> kb;
      return kb;
    }
  }
  return -1;
}

class WorkerLogsTest : public AdminTest {
 protected:
  Process& StartChatty(const std::string& mode, int workers) {
    return StartWith(
        "ready: {mode: none}\n"
        "shutdown: {drain_delay: 0s, timeout: 5s}\n"
        "logs: {workers: " +
            mode + "}\n",
        workers, Sh(kChattyWorker));
  }
};

TEST_F(WorkerLogsTest, JsonNamesWorkerPidAndStreamAndSplitsLongLines) {
  Process& cf = StartChatty("json", 2);
  ASSERT_TRUE(WaitStatus([](const CoreforkStatus& s) { return s.AllReady(2); },
                         milliseconds(10000)));
  std::vector<Json> out;
  ASSERT_TRUE(PollUntil(
      [&] {
        // The long line comes last: both workers' pieces are there.
        out = JsonLines(cf.Stdout());
        return LongLinePieces(out, 0).size() >= 3 &&
               LongLinePieces(out, 1).size() >= 3;
      },
      milliseconds(10000)))
      << cf.Stdout();
  const CoreforkStatus status = Status();
  for (int slot : {0, 1}) {
    const pid_t pid = status.Slot(slot).at(0).pid;
    Json plain = Find(out, {{"worker", slot}, {"stream", "stdout"}});
    ASSERT_FALSE(plain.is_null()) << slot;
    EXPECT_EQ(plain["msg"], "plain " + std::to_string(slot));
    EXPECT_EQ(plain["pid"], pid);
    EXPECT_TRUE(plain["time"].is_string());
    // The app's object, merged: its fields kept, its "time" renamed.
    Json structured = Find(out, {{"worker", slot}, {"msg", "structured"}});
    EXPECT_EQ(structured["level"], "info");
    EXPECT_EQ(structured["app_time"], 1);
    EXPECT_EQ(structured["pid"], pid);
    EXPECT_TRUE(structured["time"].is_string());
    // 40,000 bytes: two 16 KiB pieces marked partial, then the rest.
    std::string long_line;
    int partial = 0;
    const std::vector<Json> pieces = LongLinePieces(out, slot);
    for (const Json& piece : pieces) {
      const std::string msg = piece["msg"];
      EXPECT_LE(msg.size(), 16384u);
      if (piece.value("partial", false)) ++partial;
      long_line += msg;
    }
    EXPECT_EQ(pieces.size(), 3u) << slot;
    EXPECT_EQ(partial, 2) << slot;
    EXPECT_TRUE(long_line == std::string(40000, 'a'))
        << slot << ": " << long_line.size() << " bytes";
  }
  // stderr lines go to corefork's stderr, among its own log.
  ASSERT_TRUE(PollUntil(
      [&] {
        return !Find(JsonLines(cf.Stderr()), {{"worker", 1},
                                              {"stream", "stderr"},
                                              {"msg", "to stderr 1"}})
                    .is_null();
      },
      milliseconds(5000)))
      << cf.Stderr();
  EXPECT_TRUE(Find(JsonLines(cf.Stdout()), {{"stream", "stderr"}}).is_null());

  // The worker dies: its unterminated last line comes out whole.
  EXPECT_TRUE(Find(out, {{"msg", "tail-no-newline"}}).is_null());
  ASSERT_EQ(kill(-status.Slot(0).at(0).pid, SIGKILL), 0);
  EXPECT_TRUE(PollUntil(
      [&] {
        return !Find(JsonLines(cf.Stdout()),
                     {{"worker", 0}, {"msg", "tail-no-newline"}})
                    .is_null();
      },
      milliseconds(5000)))
      << cf.Stdout();
}

TEST_F(WorkerLogsTest, TaggedPrefixesTheSlotAndRawLeavesLinesAlone) {
  Process& tagged = StartChatty("tagged", 1);
  EXPECT_TRUE(PollUntil(
      [&] {
        const std::string out = tagged.Stdout();
        return out.find("[worker 0] plain 0\n") != std::string::npos &&
               out.find(
                   "[worker 0] {\"level\":\"info\",\"msg\":\"structured\","
                   "\"time\":1}\n") != std::string::npos;
      },
      milliseconds(10000)))
      << tagged.Stdout();
  EXPECT_TRUE(PollUntil(
      [&] {
        return tagged.Stderr().find("[worker 0] to stderr 0\n") !=
               std::string::npos;
      },
      milliseconds(5000)));
  tagged.Kill();

  Process& raw = StartChatty("raw", 1);
  EXPECT_TRUE(PollUntil(
      [&] {
        const std::string out = raw.Stdout();
        return out.find("tail-no-newline") != std::string::npos;
      },
      milliseconds(10000)))
      << raw.Stdout();
  const std::string out = raw.Stdout();
  EXPECT_EQ(out.rfind("plain 0\n{\"level\"", 0), 0u) << out;
  EXPECT_EQ(out.find("[worker"), std::string::npos);
  EXPECT_NE(out.find(std::string(40000, 'a') + "\n"), std::string::npos);
}

TEST_F(WorkerLogsTest, AStdoutNobodyReadsDropsLinesNotCorefork) {
  const std::string fifo = Path("stdout.fifo");
  // Never read.
  HeldFifo held(fifo);
  ASSERT_GE(held.fd(), 0) << held.error();

  const std::string config = WriteConfig(
      "ready: {mode: none}\n"
      "shutdown: {drain_delay: 0s, timeout: 5s}\n"
      "logs: {workers: json}\n");
  const int port = FreePort();
  Process& cf = Spawn(
      {"/bin/sh", "-c", "exec \"$0\" \"$@\" >" + fifo, COREFORK_BIN, "--config",
       config, "--workers", "2", "--host", "127.0.0.1", "--port",
       std::to_string(port), "--", "/bin/sh", "-c",
       "exec yes 'a line of worker output, as fast as the pipe takes it'"});
  ASSERT_GT(admin_port(), 0);
  ASSERT_TRUE(PollUntil(
      [&] {
        return Metric("corefork_worker_log_lines_dropped_total",
                      {{"stream", "stdout"}}) > 10000;
      },
      milliseconds(15000)))
      << cf.Stderr();
  const long rss_early = RssKb(cf.pid());

  std::vector<double> ms;
  int failures = 0;
  for (int i = 0; i < 200; ++i) {
    const Clock::time_point t = Clock::now();
    UnixHttpResponse r = Admin("/livez", milliseconds(2000));
    ms.push_back(duration<double, std::milli>(Clock::now() - t).count());
    if (r.status != 200) ++failures;
  }
  const long rss_late = RssKb(cf.pid());
  const double dropped =
      Metric("corefork_worker_log_lines_dropped_total", {{"stream", "stdout"}});
  std::sort(ms.begin(), ms.end());
  std::printf(
      "[ figures  ] stdout blocked, 2 workers running `yes`: /livez n=%zu "
      "p50 %.2f ms p99 %.2f ms max %.2f ms, %d failed; RSS %ld -> %ld KiB; "
      "%.0f lines dropped\n",
      ms.size(), ms[ms.size() / 2], ms[ms.size() * 99 / 100], ms.back(),
      failures, rss_early, rss_late, dropped);
  EXPECT_EQ(failures, 0);
  EXPECT_LT(ms[ms.size() * 99 / 100], 250);
  // Two output queues of 1 MiB (plus line overhead) at most, whatever the
  // workers print.
  EXPECT_LT(rss_late - rss_early, 8 * 1024);
  EXPECT_LT(rss_late, 64 * 1024);
  // One warning, not one per line.
  const std::string log = cf.Stderr();
  size_t warnings = 0;
  for (size_t at = log.find("worker stdout line(s)"); at != std::string::npos;
       at = log.find("worker stdout line(s)", at + 1)) {
    ++warnings;
  }
  EXPECT_GE(warnings, 1u);
  EXPECT_LE(warnings, 3u) << log;

  // Shutdown is not held up by the stuck output either.
  const Clock::time_point t = Clock::now();
  ASSERT_TRUE(cf.Signal(SIGTERM));
  EXPECT_TRUE(cf.WaitExit(milliseconds(10000)).has_value());
  EXPECT_LT(Clock::now() - t, milliseconds(6000));
}

}  // namespace
}  // namespace corefork::harness
