// WorkerOutput: framing into bounded pieces, the tagged and JSON formats,
// and the whole path over real pipes (no processes): lines in, lines out,
// the unterminated tail at end of file, drops counted when nobody reads
// corefork's output, and the bound on pipes left behind by dead workers.

#include "supervisor/worker_output.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "metrics/metrics.h"
#include "util/json.h"

namespace corefork {
namespace {

using std::chrono::milliseconds;
using std::chrono::system_clock;

struct Piece {
  std::string text;
  bool first;
  bool last;
  bool operator==(const Piece&) const = default;
};

std::vector<Piece> Frame(size_t max, const std::vector<std::string>& chunks,
                         bool finish) {
  WorkerLineFramer framer(max);
  std::vector<Piece> out;
  auto add = [&](std::string_view text, bool first, bool last) {
    out.push_back(Piece{std::string(text), first, last});
  };
  for (const std::string& chunk : chunks) framer.Feed(chunk, add);
  if (finish) framer.Finish(add);
  EXPECT_LE(framer.buffered(), max);
  return out;
}

TEST(WorkerLineFramerTest, SplitsLinesIntoBoundedPieces) {
  struct Case {
    const char* name;
    std::vector<std::string> chunks;
    bool finish;
    std::vector<Piece> want;
  };
  const Case cases[] = {
      {"lines", {"a\nbb\n"}, false, {{"a", 1, 1}, {"bb", 1, 1}}},
      {"across chunks",
       {"ab", "c\nd", "e\n"},
       false,
       {{"abc", 1, 1}, {"de", 1, 1}}},
      {"empty line", {"\n\n"}, false, {{"", 1, 1}, {"", 1, 1}}},
      {"exactly the cap", {"abcd\n"}, false, {{"abcd", 1, 1}}},
      {"cap, newline later", {"abcd", "\n"}, false, {{"abcd", 1, 1}}},
      {"one over", {"abcde\n"}, false, {{"abcd", 1, 0}, {"e", 1 == 0, 1}}},
      {"twice the cap",
       {"abcdefgh\n"},
       false,
       {{"abcd", 1, 0}, {"efgh", 0, 1}}},
      {"long, in pieces",
       {"ab", "cdef", "ghijk\nz\n"},
       false,
       {{"abcd", 1, 0}, {"efgh", 0, 0}, {"ijk", 0, 1}, {"z", 1, 1}}},
      {"tail kept", {"ab\ncd"}, false, {{"ab", 1, 1}}},
      {"tail flushed", {"ab\ncd"}, true, {{"ab", 1, 1}, {"cd", 1, 1}}},
      {"long tail flushed", {"abcdef"}, true, {{"abcd", 1, 0}, {"ef", 0, 1}}},
      {"nothing to flush", {"ab\n"}, true, {{"ab", 1, 1}}},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Frame(4, c.chunks, c.finish), c.want) << c.name;
  }
}

WorkerLine Line(std::string_view text, bool first = true, bool last = true) {
  WorkerLine line;
  line.slot = 3;
  line.pid = 4242;
  line.stream = WorkerStream::kStderr;
  line.text = text;
  line.first = first;
  line.last = last;
  return line;
}

const system_clock::time_point kTestTime =
    system_clock::time_point(std::chrono::seconds(1'796'313'600)) +
    std::chrono::microseconds(123'456);  // 2026-12-03T16:00:00.123456Z

TEST(FormatWorkerLineTest, Tagged) {
  EXPECT_EQ(FormatWorkerLine(WorkerLogMode::kTagged, Line("hello"), kTestTime),
            "[worker 3] hello\n");
  EXPECT_EQ(FormatWorkerLine(WorkerLogMode::kTagged, Line(""), kTestTime),
            "[worker 3] \n");
}

TEST(FormatWorkerLineTest, JsonText) {
  EXPECT_EQ(FormatWorkerLine(WorkerLogMode::kJson, Line("a \"b\""), kTestTime),
            R"({"time":"2026-12-03T16:00:00.123456Z","worker":3,"pid":4242,)"
            R"("stream":"stderr","msg":"a \"b\""})"
            "\n");
}

// Text lines take a short path that must write what nlohmann would.
TEST(FormatWorkerLineTest, JsonTextIsWhatJsonDumpWrites) {
  const std::string texts[] = {"",         "plain",        "a \"q\" b",
                               "back\\sl", "tab\there",    "ctl\x01",
                               "del\x7f",  "caf\xc3\xa9",  "bad\xff",
                               "{\"a\":",  "  {not json}", "/slash/"};
  for (const std::string& text : texts) {
    for (bool last : {true, false}) {
      Json want;
      want["time"] = "2026-12-03T16:00:00.123456Z";
      want["worker"] = 3;
      want["pid"] = 4242;
      want["stream"] = "stderr";
      want["msg"] = text;
      if (!last) want["partial"] = true;
      EXPECT_EQ(FormatWorkerLine(WorkerLogMode::kJson,
                                 Line(text, /*first=*/true, last), kTestTime),
                JsonDump(want) + "\n")
          << text;
    }
  }
}

TEST(FormatWorkerLineTest, JsonMergesAnObject) {
  // pino's shape: the app's time and pid are kept under app_*.
  const std::string out = FormatWorkerLine(
      WorkerLogMode::kJson,
      Line(
          R"( {"level":30,"time":1700000000000,"pid":7,"msg":"hi","x":{"y":[1]}})"),
      kTestTime);
  EXPECT_EQ(out,
            R"({"time":"2026-12-03T16:00:00.123456Z","worker":3,"pid":4242,)"
            R"("stream":"stderr","level":30,"app_time":1700000000000,)"
            R"("app_pid":7,"msg":"hi","x":{"y":[1]}})"
            "\n");
}

TEST(FormatWorkerLineTest, JsonKeepsWhatIsNotAnObjectAsText) {
  struct Case {
    const char* name;
    WorkerLine line;
  };
  const Case cases[] = {
      {"array", Line("[1,2]")},
      {"broken", Line("{\"a\":")},
      {"trailing text", Line("{\"a\":1} x")},
      {"duplicate keys", Line("{\"a\":1,\"a\":2}")},
      {"first piece of a long object", Line("{\"a\":1}", true, false)},
      {"last piece of a long line", Line("{\"a\":1}", false, true)},
      {"invalid UTF-8", Line("caf\xe9")},
  };
  for (const Case& c : cases) {
    const std::string out =
        FormatWorkerLine(WorkerLogMode::kJson, c.line, kTestTime);
    ASSERT_EQ(out.back(), '\n') << c.name;
    Result<Json> parsed =
        JsonParse(std::string_view(out).substr(0, out.size() - 1));
    ASSERT_TRUE(parsed.ok()) << c.name << ": " << out;
    EXPECT_TRUE(parsed->contains("msg")) << c.name;
    EXPECT_FALSE(parsed->contains("a")) << c.name;
    EXPECT_EQ(parsed->value("partial", false), !c.line.last) << c.name;
  }
}

// A pipe whose read end is non-blocking; both ends closed at the end.
struct TestPipe {
  TestPipe() {
    int fds[2];
    EXPECT_EQ(pipe2(fds, O_CLOEXEC), 0);
    read_end.Reset(fds[0]);
    write_end.Reset(fds[1]);
    fcntl(read_end.get(), F_SETFL, O_NONBLOCK);
  }
  // Reads until `want` bytes arrived or 5 s passed.
  std::string ReadSome(size_t want) {
    std::string got;
    const auto until =
        std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (got.size() < want && std::chrono::steady_clock::now() < until) {
      pollfd p = {read_end.get(), POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      char buf[4096];
      ssize_t n = read(read_end.get(), buf, sizeof buf);
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
    }
    return got;
  }
  Fd read_end, write_end;
};

class WorkerOutputTest : public testing::Test {
 protected:
  void SetUp() override { epoll_.Reset(epoll_create1(EPOLL_CLOEXEC)); }

  WorkerOutput::Options Options(WorkerLogMode mode) {
    WorkerOutput::Options o;
    o.mode = mode;
    o.epoll_fd = epoll_.get();
    o.stdout_fd = out_.write_end.get();
    o.stderr_fd = err_.write_end.get();
    return o;
  }

  // Adds a worker and returns the write ends its "process" would have.
  WorkerOutput::Pipes AddWorker(WorkerOutput& output, uint64_t serial, int slot,
                                pid_t pid) {
    Result<WorkerOutput::Pipes> pipes = WorkerOutput::OpenPipes();
    EXPECT_TRUE(pipes.ok());
    EXPECT_TRUE(output.Add(serial, slot, &*pipes).ok());
    output.SetPid(serial, pid);
    return std::move(pipes).value();
  }

  // What the loop does: dispatch every ready pipe, a bounded number of turns.
  void Turn(WorkerOutput& output, int turns = 4) {
    for (int i = 0; i < turns; ++i) {
      epoll_event events[8];
      int n = epoll_wait(epoll_.get(), events, 8, 0);
      if (n <= 0) return;
      for (int e = 0; e < n; ++e) {
        auto [tag, key] = SplitTag(events[e].data.u64);
        EXPECT_EQ(tag, LoopTag::kWorkerOutput);
        output.OnReadable(key);
      }
    }
  }

  Fd epoll_;
  TestPipe out_, err_;
};

TEST_F(WorkerOutputTest, TagsLinesOfEachStreamAndFlushesTheTail) {
  WorkerOutput output(Options(WorkerLogMode::kTagged));
  WorkerOutput::Pipes child = AddWorker(output, 1, 2, 100);
  ASSERT_EQ(write(child.out_write.get(), "one\ntwo\npart", 12), 12);
  ASSERT_EQ(write(child.err_write.get(), "oops\n", 5), 5);
  Turn(output);
  ASSERT_TRUE(output.Flush(milliseconds(2000)));
  EXPECT_EQ(out_.ReadSome(30), "[worker 2] one\n[worker 2] two\n");
  EXPECT_EQ(err_.ReadSome(16), "[worker 2] oops\n");
  // The worker's end: the unterminated line comes out at end of file.
  output.OnWorkerExit(1);
  child.out_write.Reset();
  child.err_write.Reset();
  Turn(output);
  ASSERT_TRUE(output.Flush(milliseconds(2000)));
  EXPECT_EQ(out_.ReadSome(16), "[worker 2] part\n");
  EXPECT_EQ(output.open_pipes(), 0u);
}

TEST_F(WorkerOutputTest, JsonLinesNameWorkerPidAndStream) {
  WorkerOutput output(Options(WorkerLogMode::kJson));
  WorkerOutput::Pipes child = AddWorker(output, 7, 1, 321);
  const std::string input = "plain\n{\"level\":\"info\",\"msg\":\"m\"}\n";
  ASSERT_EQ(write(child.out_write.get(), input.data(), input.size()),
            static_cast<ssize_t>(input.size()));
  Turn(output);
  ASSERT_TRUE(output.Flush(milliseconds(2000)));
  std::string got = out_.ReadSome(150);
  size_t newline = got.find('\n');
  ASSERT_NE(newline, std::string::npos) << got;
  Result<Json> first = JsonParse(got.substr(0, newline));
  Result<Json> second =
      JsonParse(got.substr(newline + 1, got.size() - newline - 2));
  ASSERT_TRUE(first.ok() && second.ok()) << got;
  EXPECT_EQ((*first)["worker"], 1);
  EXPECT_EQ((*first)["pid"], 321);
  EXPECT_EQ((*first)["stream"], "stdout");
  EXPECT_EQ((*first)["msg"], "plain");
  EXPECT_EQ((*second)["level"], "info");
  EXPECT_EQ((*second)["msg"], "m");
  EXPECT_EQ((*second)["worker"], 1);
}

TEST_F(WorkerOutputTest, DropsAndCountsWhenNobodyReadsOurOutput) {
  Metrics metrics("0.0.0-test");
  WorkerOutput::Options options = Options(WorkerLogMode::kTagged);
  options.max_buffered = 64 * 1024;
  options.metrics = &metrics;
  auto output = std::make_unique<WorkerOutput>(options);
  WorkerOutput::Pipes child = AddWorker(*output, 1, 0, 100);
  fcntl(child.out_write.get(), F_SETFL, O_NONBLOCK);
  // Nobody reads out_: its pipe (64 KiB) fills, then the 64 KiB queue.
  // Every read must still return at once; 1,000 turns of 4 KiB = 4 MiB.
  const std::string chunk(4095, 'x');
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 1000 && output->dropped(WorkerStream::kStdout) < 100;
       ++i) {
    std::string line = chunk + "\n";
    ASSERT_EQ(write(child.out_write.get(), line.data(), line.size()),
              static_cast<ssize_t>(line.size()));
    Turn(*output, 1);
  }
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(output->dropped(WorkerStream::kStdout), 100u);
  EXPECT_EQ(output->dropped(WorkerStream::kStderr), 0u);
  EXPECT_LT(took, std::chrono::seconds(2));
  const std::string scrape = metrics.Scrape({});
  EXPECT_NE(scrape.find("corefork_worker_log_lines_dropped_total{stream="
                        "\"stdout\"} 100"),
            std::string::npos)
      << scrape;
  EXPECT_NE(scrape.find("corefork_worker_log_lines_dropped_total{stream="
                        "\"stderr\"} 0"),
            std::string::npos);
  // Our reader goes away: the writer sees EPIPE, and destruction is quick.
  out_.read_end.Reset();
  const auto before = std::chrono::steady_clock::now();
  output.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - before, milliseconds(1500));
}

TEST_F(WorkerOutputTest, AddKeepsNothingWhenThePipesCannotBeWatched) {
  WorkerOutput::Options options = Options(WorkerLogMode::kJson);
  options.epoll_fd = -1;
  WorkerOutput output(options);
  Result<WorkerOutput::Pipes> pipes = WorkerOutput::OpenPipes();
  ASSERT_TRUE(pipes.ok());
  EXPECT_FALSE(output.Add(1, 0, &*pipes).ok());
  EXPECT_EQ(output.open_pipes(), 0u);
  // A spawn that failed: its pipes go.
  WorkerOutput watched(Options(WorkerLogMode::kJson));
  Result<WorkerOutput::Pipes> more = WorkerOutput::OpenPipes();
  ASSERT_TRUE(more.ok());
  ASSERT_TRUE(watched.Add(2, 0, &*more).ok());
  EXPECT_EQ(watched.open_pipes(), 2u);
  watched.Remove(2);
  EXPECT_EQ(watched.open_pipes(), 0u);
}

TEST_F(WorkerOutputTest, KeepsABoundedNumberOfPipesAfterTheirWorkers) {
  WorkerOutput::Options options = Options(WorkerLogMode::kTagged);
  options.max_orphans = 3;
  WorkerOutput output(options);
  std::vector<WorkerOutput::Pipes> children;
  for (uint64_t serial = 1; serial <= 4; ++serial) {
    children.push_back(AddWorker(output, serial, 0, 100 + serial));
  }
  EXPECT_EQ(output.open_pipes(), 8u);
  // Children of the dead workers keep the write ends open.
  output.OnWorkerExit(1);
  EXPECT_EQ(output.open_pipes(), 8u);
  output.OnWorkerExit(2);
  output.OnWorkerExit(3);
  // 6 pipes of dead workers, 3 kept: the newest (3's two, 2's stderr).
  EXPECT_EQ(output.open_pipes(), 5u);
  ASSERT_EQ(write(children[2].out_write.get(), "late\n", 5), 5);
  Turn(output);
  ASSERT_TRUE(output.Flush(milliseconds(2000)));
  EXPECT_EQ(out_.ReadSome(16), "[worker 0] late\n");
}

}  // namespace
}  // namespace corefork
