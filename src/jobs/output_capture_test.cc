// OutputCapture and LogBudget: bounded reads from a real pipe, the kept
// bytes, cut lines, and the log budget with its "not logged" summary.

#include "jobs/output_capture.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <memory>
#include <sstream>
#include <string>

namespace corefork {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::seconds;

// Routes spdlog's default logger to a string for the test's lifetime.
class CapturedLog {
 public:
  CapturedLog() : previous_(spdlog::default_logger()) {
    auto logger = std::make_shared<spdlog::logger>(
        "test", std::make_shared<spdlog::sinks::ostream_sink_st>(out_));
    logger->set_pattern("%l %v");
    spdlog::set_default_logger(logger);
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }
  std::string text() const { return out_.str(); }
  size_t Count(const std::string& needle) const {
    size_t n = 0;
    const std::string t = text();
    for (size_t at = t.find(needle); at != std::string::npos;
         at = t.find(needle, at + 1)) {
      ++n;
    }
    return n;
  }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> previous_;
};

struct Pipe {
  Pipe() {
    int fds[2];
    EXPECT_EQ(pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
    read_end = fds[0];
    write_end = fds[1];
  }
  ~Pipe() {
    if (read_end >= 0) close(read_end);
    if (write_end >= 0) close(write_end);
  }
  int read_end = -1;
  int write_end = -1;
};

TEST(LogBudgetTest, AllowsABurstThenTheRefillRate) {
  const Clock::time_point t0 = Clock::now();
  LogBudget budget({.burst_lines = 3,
                    .lines_per_second = 2,
                    .burst_bytes = 1000,
                    .bytes_per_second = 1000},
                   t0);
  EXPECT_TRUE(budget.Take(10, t0));
  EXPECT_TRUE(budget.Take(10, t0));
  EXPECT_TRUE(budget.Take(10, t0));
  EXPECT_FALSE(budget.Take(10, t0));
  EXPECT_TRUE(budget.Take(10, t0 + std::chrono::milliseconds(500)));
  EXPECT_FALSE(budget.Take(10, t0 + std::chrono::milliseconds(500)));
  // Bytes count too: a long line waits for enough bytes.
  EXPECT_FALSE(budget.Take(5000, t0 + seconds(10)));
  EXPECT_TRUE(budget.Take(900, t0 + seconds(10)));
}

TEST(OutputCaptureTest, ReadsAtMostTheSliceAndReportsEof) {
  CapturedLog log;
  Pipe p;
  const std::string chunk(60000, 'x');
  ASSERT_EQ(write(p.write_end, chunk.data(), chunk.size()),
            static_cast<ssize_t>(chunk.size()));
  OutputCapture out("job j run 1 stdout", 1 << 20);
  LogBudget budget;
  const Clock::time_point now = Clock::now();
  EXPECT_TRUE(out.Read(p.read_end, 16384, budget, now));
  EXPECT_EQ(out.kept().size(), 16384u) << "one slice per call";
  EXPECT_TRUE(out.Read(p.read_end, 1 << 20, budget, now));  // EAGAIN
  EXPECT_EQ(out.kept().size(), 60000u);
  close(p.write_end);
  p.write_end = -1;
  EXPECT_FALSE(out.Read(p.read_end, 1 << 20, budget, now));  // EOF
}

TEST(OutputCaptureTest, KeepsUpToMaxOutputAndLogsEveryLine) {
  CapturedLog log;
  OutputCapture out("job j run 1 stdout", 8);
  LogBudget budget;
  const Clock::time_point now = Clock::now();
  const std::string text = "one\ntwo\nthree\nfour";
  out.Consume(text.data(), 6, budget, now);
  out.Consume(text.data() + 6, text.size() - 6, budget, now);
  EXPECT_EQ(out.kept(), "one\ntwo\n");
  EXPECT_TRUE(out.truncated());
  EXPECT_EQ(log.text(),
            "info job j run 1 stdout: one\n"
            "info job j run 1 stdout: two\n"
            "info job j run 1 stdout: three\n");
  out.EndAttempt(budget, now);  // the last line had no newline
  EXPECT_EQ(log.Count("stdout: four\n"), 1u);
  out.Clear();
  EXPECT_EQ(out.kept(), "");
  EXPECT_FALSE(out.truncated());
}

TEST(OutputCaptureTest, CutsLongLinesAndSkipsTheirRest) {
  CapturedLog log;
  OutputCapture out("job j run 1 stderr", 1 << 20);
  LogBudget budget;
  const Clock::time_point now = Clock::now();
  const std::string long_line(3 * OutputCapture::kMaxLogLine, 'a');
  // Fed in pieces: the cut happens once, however the line arrives.
  for (size_t at = 0; at < long_line.size(); at += 1000) {
    out.Consume(long_line.data() + at,
                std::min<size_t>(1000, long_line.size() - at), budget, now);
  }
  out.Consume("\nshort\n", 7, budget, now);
  const std::string expected = "info job j run 1 stderr: " +
                               std::string(OutputCapture::kMaxLogLine, 'a') +
                               OutputCapture::kCutMark +
                               "\ninfo job j run 1 stderr: short\n";
  EXPECT_EQ(log.text(), expected);
  EXPECT_EQ(out.kept().size(), long_line.size() + 7) << "kept whole";
}

TEST(OutputCaptureTest, TheBudgetHoldsBackAFloodAndSaysHowMuch) {
  CapturedLog log;
  OutputCapture out("job y run 1 stdout", 1 << 20);
  const Clock::time_point t0 = Clock::now();
  LogBudget budget({.burst_lines = 10,
                    .lines_per_second = 10,
                    .burst_bytes = 1 << 20,
                    .bytes_per_second = 1 << 20},
                   t0);
  std::string flood;
  for (int i = 0; i < 10000; ++i) flood += "y\n";
  out.Consume(flood.data(), flood.size(), budget, t0);
  EXPECT_EQ(log.Count("stdout: y\n"), 10u);
  EXPECT_EQ(out.suppressed(), 9990u);
  // A second later the budget allows lines again: the summary comes first.
  out.Consume("y\n", 2, budget, t0 + seconds(1));
  EXPECT_EQ(log.Count("stdout: 9990 line(s) not logged"), 1u) << log.text();
  EXPECT_EQ(log.Count("stdout: y\n"), 11u);
  out.Consume(flood.data(), flood.size(), budget, t0 + seconds(1));
  out.EndAttempt(budget, t0 + seconds(1));
  EXPECT_EQ(log.Count(" line(s) not logged"), 2u) << log.text();
  EXPECT_EQ(out.kept().size(), 2 * flood.size() + 2);
}

// Under a steady flood a line passes each time the budget refills (every
// 100 ms here): the "not logged" count is reported once a second, not before
// each of those lines (it was 10 warnings a second).
TEST(OutputCaptureTest, AFloodIsSummarizedOnceASecond) {
  CapturedLog log;
  OutputCapture out("job z run 1 stderr", 0);
  const Clock::time_point t0 = Clock::now();
  LogBudget budget({.burst_lines = 1,
                    .lines_per_second = 10,
                    .burst_bytes = 1 << 20,
                    .bytes_per_second = 1 << 20},
                   t0);
  std::string flood;
  for (int i = 0; i < 100; ++i) flood += "z\n";
  for (int tick = 0; tick < 30; ++tick) {  // 3 s, every 100 ms
    out.Consume(flood.data(), flood.size(), budget,
                t0 + std::chrono::milliseconds(100 * tick));
  }
  EXPECT_EQ(log.Count("stderr: z\n"), 30u) << log.text();
  EXPECT_LE(log.Count(" line(s) not logged"), 3u) << log.text();
  EXPECT_GE(log.Count(" line(s) not logged"), 2u) << log.text();
  out.EndAttempt(budget, t0 + seconds(3));
  EXPECT_EQ(out.suppressed(), 30u * 99);
}

TEST(OutputCaptureTest, SetOutputKeepsWhatMaxOutputAllows) {
  OutputCapture out("job p run 1 stdout", 4);
  out.set_output("abc");
  EXPECT_EQ(out.kept(), "abc");
  EXPECT_FALSE(out.truncated());
  out.set_output("abcdef");
  EXPECT_EQ(out.kept(), "abcd");
  EXPECT_TRUE(out.truncated());
}

TEST(OutputCaptureTest, DropFreesTheKeptBytes) {
  OutputCapture out("job j run 1 stdout", 1 << 20);
  out.set_kept(std::string(100000, 'z'));
  EXPECT_EQ(out.Drop(), 100000u);
  EXPECT_EQ(out.kept(), "");
  EXPECT_EQ(out.kept().capacity(), std::string().capacity());
}

}  // namespace
}  // namespace corefork
