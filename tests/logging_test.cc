// corefork's own logging never blocks it (issue 9): LogWriter on a real pipe
// that nobody reads (bounded memory, drops counted, a flush with a deadline),
// and the whole binary with its stderr on such a pipe: /livez and /readyz
// stay fast, a reload completes, SIGTERM exits on time, and once someone
// reads again the log says how many lines were lost.
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "support/jobs.h"
#include "util/log.h"

namespace corefork::harness {
namespace {

using std::chrono::duration;
using std::chrono::milliseconds;

// Both ends of a pipe; the read end is non-blocking.
struct Pipe {
  Pipe() {
    int fds[2];
    EXPECT_EQ(pipe2(fds, O_CLOEXEC), 0);
    read_end = fds[0];
    write_end = fds[1];
    fcntl(read_end, F_SETFL, O_NONBLOCK);
  }
  ~Pipe() {
    if (read_end >= 0) close(read_end);
    if (write_end >= 0) close(write_end);
  }
  // Reads what is there now, at most `max` bytes.
  std::string Drain(size_t max = 1 << 24) {
    std::string out;
    char buf[65536];
    ssize_t n;
    while (out.size() < max && (n = read(read_end, buf, sizeof buf)) > 0) {
      out.append(buf, n);
    }
    return out;
  }
  int read_end = -1;
  int write_end = -1;
};

int Queued(int fd) {
  int n = 0;
  return ioctl(fd, FIONREAD, &n) == 0 ? n : -1;
}

TEST(LogWriterTest, NeverWaitsForAStuckReaderAndCountsWhatItDrops) {
  Pipe pipe;
  const std::string line(100, 'x');
  uint64_t accepted = 0;
  {
    LogWriter writer(pipe.write_end,
                     {.max_bytes = 256 * 1024, .max_lines = 100000});
    const Clock::time_point t0 = Clock::now();
    for (int i = 0; i < 20000; ++i) {
      if (writer.Enqueue(line + "\n")) ++accepted;
    }
    const double ms = duration<double, std::milli>(Clock::now() - t0).count();
    EXPECT_LT(ms, 500) << "20000 lines into a full pipe";
    // The pipe (64 KiB) plus the bound (256 KiB) hold what was accepted.
    EXPECT_LE(accepted * 101, 64 * 1024 + 256 * 1024 + 101u);
    EXPECT_GE(accepted, 600u);
    EXPECT_EQ(writer.dropped(), 20000 - accepted);

    const Clock::time_point f0 = Clock::now();
    EXPECT_FALSE(writer.Flush(milliseconds(200)));
    const double flush_ms =
        duration<double, std::milli>(Clock::now() - f0).count();
    EXPECT_GE(flush_ms, 190);
    EXPECT_LT(flush_ms, 1000) << "the flush deadline holds";

    // A reader again: everything accepted arrives, in order, whole.
    std::string read;
    ASSERT_TRUE(PollUntil(
        [&] {
          read += pipe.Drain();
          return writer.Flush(milliseconds(0)) && read.size() == accepted * 101;
        },
        milliseconds(5000), milliseconds(1)));
    EXPECT_EQ(read, [&] {
      std::string all;
      for (uint64_t i = 0; i < accepted; ++i) all += line + "\n";
      return all;
    }());
  }  // the destructor joins: nothing is left to write
}

TEST(LogWriterTest, AClosedReaderMakesLinesDropNotBlockOrKill) {
  Pipe pipe;
  LogWriter writer(pipe.write_end, {});
  close(pipe.read_end);
  pipe.read_end = -1;
  // The writer thread gets EPIPE (its SIGPIPE is blocked) and gives up.
  writer.Enqueue("one\n");
  EXPECT_TRUE(
      PollUntil([&] { return writer.dropped() >= 1; }, milliseconds(2000)));
  EXPECT_FALSE(writer.Enqueue("two\n"));
  EXPECT_TRUE(writer.Flush(milliseconds(1000)));
}

// corefork's log and the workers' lines (logs.workers tagged/json) are two
// writers on one stderr. Each write(2) is whole lines of at most PIPE_BUF
// bytes, which a pipe writes atomically, so neither lands inside a line of
// the other, however slowly the pipe is read. (With 64 KiB writes a full
// pipe takes each in pieces and the two interleave mid-line.)
TEST(LogWriterTest, TwoWritersOnOnePipeNeverSplitALine) {
  Pipe pipe;
  std::string read;
  {
    const LogWriter::Limits limits{.max_bytes = 4 << 20, .max_lines = 100000};
    LogWriter a(pipe.write_end, limits);
    LogWriter b(pipe.write_end, limits);
    for (int i = 0; i < 20000; ++i) {
      ASSERT_TRUE(a.Enqueue(std::string(90, 'a') + "\n"));
      ASSERT_TRUE(b.Enqueue(std::string(120, 'b') + "\n"));
    }
    // A slow reader: 1000 bytes at a time, so the pipe stays full and each
    // writer often finds only part of the room it needs.
    ASSERT_TRUE(PollUntil(
        [&] {
          char buf[1000];
          const ssize_t n = ::read(pipe.read_end, buf, sizeof buf);
          if (n > 0) read.append(buf, static_cast<size_t>(n));
          return a.Flush(milliseconds(0)) && b.Flush(milliseconds(0)) &&
                 Queued(pipe.read_end) == 0;
        },
        milliseconds(30000), milliseconds(0)));
  }
  size_t as = 0, bs = 0, broken = 0;
  size_t start = 0;
  for (size_t nl; (nl = read.find('\n', start)) != std::string::npos;
       start = nl + 1) {
    const std::string_view line(read.data() + start, nl - start);
    if (line == std::string(90, 'a')) {
      ++as;
    } else if (line == std::string(120, 'b')) {
      ++bs;
    } else {
      ++broken;
    }
  }
  EXPECT_EQ(broken, 0u);
  EXPECT_EQ(as, 20000u);
  EXPECT_EQ(bs, 20000u);
}

class LoggingTest : public JobsTest {};

TEST_F(LoggingTest, AStderrNobodyReadsNeverStallsCorefork) {
  const std::string fifo = Path("stderr.fifo");
  // Read only at the end.
  HeldFifo held(fifo);
  ASSERT_GE(held.fd(), 0) << held.error();
  const int reader = held.fd();

  const std::string config = WriteConfig(
      "jobs:\n"
      "  chatty:\n"
      "    command: " +
      ShCommand("seq 1 50000") +
      "\n"
      "    on_demand: true\n"
      "shutdown: {drain_delay: 0s, timeout: 5s}\n");
  const int port = FreePort();
  Process& cf = Spawn({"/bin/sh", "-c", "exec \"$0\" \"$@\" 2>" + fifo,
                       COREFORK_BIN, "--config", config, "--workers", "1",
                       "--host", "127.0.0.1", "--port", std::to_string(port),
                       "--log-level", "debug", "--", "/bin/sh", "-c",
                       // The worker's own stderr is not under test: hello
                       // writes to it when it drains and would block.
                       "exec \"$0\" 2>/dev/null", HELLO_BIN});
  ASSERT_TRUE(WaitControl(cf));
  // The admin port is the kernel's pick, logged at start to the fifo: read
  // that far (a few hundred bytes; the flood below fills the pipe again).
  std::string head;
  ASSERT_TRUE(PollUntil(
      [&] {
        char buf[4096];
        ssize_t n;
        while (head.size() < 65536 && (n = read(reader, buf, sizeof buf)) > 0) {
          head.append(buf, static_cast<size_t>(n));
        }
        return AdminPortInLog(head).has_value();
      },
      milliseconds(5000)))
      << "no admin port in the log: " << head;
  set_admin_port(*AdminPortInLog(head));

  // Each run logs a burst of ~100 KB (its log budget): 20 runs are far
  // more than the pipe (64 KiB) and the log queue (1 MiB) hold.
  UnixHttpResponse r;
  for (int i = 0; i < 20; ++i) {
    r = Submit("chatty", "", /*wait=*/true);
    ASSERT_EQ(r.status, 200) << r.ToString();
    EXPECT_EQ(Body(r).Str("state").value_or(""), "succeeded");
  }
  ASSERT_TRUE(
      PollUntil([&] { return Queued(reader) >= 40000; }, milliseconds(3000)))
      << "stderr pipe not full: " << Queued(reader) << " bytes";

  // Health answers stay fast: stderr is full and nobody reads it.
  std::vector<double> ms;
  int failures = 0;
  for (int i = 0; i < 100; ++i) {
    for (const char* path : {"/livez", "/readyz"}) {
      const Clock::time_point t = Clock::now();
      HttpResponse h =
          HttpGet("127.0.0.1", admin_port(), path, milliseconds(2000));
      ms.push_back(duration<double, std::milli>(Clock::now() - t).count());
      if (h.status != 200) ++failures;
    }
  }
  std::sort(ms.begin(), ms.end());
  std::printf(
      "[ figures  ] stderr blocked: /livez+/readyz n=%zu p50 %.1f ms p99 "
      "%.1f ms max %.1f ms, %d failed\n",
      ms.size(), ms[ms.size() / 2], ms[ms.size() * 99 / 100], ms.back(),
      failures);
  EXPECT_EQ(failures, 0);
  EXPECT_LT(ms[ms.size() * 99 / 100], 100);

  // A reload through the control socket completes (it logs all along).
  r = Control("POST", "/reload");
  EXPECT_EQ(r.status, 202) << r.ToString();
  EXPECT_TRUE(PollUntil(
      [&] {
        return Metric("corefork_worker_restarts_total",
                      {{"reason", "reload"}}) == 1 &&
               HttpGet("127.0.0.1", admin_port(), "/readyz").status == 200;
      },
      milliseconds(10000)))
      << "GET /metrics: " << [&] {
           const Clock::time_point t = Clock::now();
           HttpResponse m = HttpGet("127.0.0.1", admin_port(), "/metrics",
                                    milliseconds(3000));
           return std::to_string(m.status) + " " + m.error + " in " +
                  std::to_string(
                      duration<double, std::milli>(Clock::now() - t).count()) +
                  " ms; /status: " +
                  HttpGet("127.0.0.1", admin_port(), "/status").body;
         }();
  const double dropped = Metric("corefork_log_lines_dropped_total");
  std::printf("[ figures  ] corefork_log_lines_dropped_total %.0f\n", dropped);
  EXPECT_GT(dropped, 1000);

  // Someone reads again: later lines arrive, after a count of the lost ones.
  std::string log;
  ASSERT_TRUE(PollUntil(
      [&] {
        char buf[65536];
        ssize_t n;
        while ((n = read(reader, buf, sizeof buf)) > 0) log.append(buf, n);
        if (log.find(" log line(s) dropped: stderr is not keeping up") !=
            std::string::npos) {
          return true;
        }
        Control("GET", "/jobs");  // something to log at debug level
        Submit("chatty", "", /*wait=*/false);
        return false;
      },
      milliseconds(10000), milliseconds(50)))
      << log.substr(log.size() > 2000 ? log.size() - 2000 : 0);

  // Blocked again, then SIGTERM: corefork exits on time (flush bounded).
  for (int i = 0; i < 3; ++i) Submit("chatty", "", /*wait=*/true);
  EXPECT_TRUE(
      PollUntil([&] { return Queued(reader) >= 40000; }, milliseconds(5000)))
      << Queued(reader) << " bytes in the pipe";
  const Clock::time_point term = Clock::now();
  ASSERT_TRUE(cf.Signal(SIGTERM));
  std::optional<int> code = cf.WaitExit(milliseconds(8000));
  ASSERT_TRUE(code.has_value()) << "no exit 8 s after SIGTERM";
  const double exit_s = duration<double>(Clock::now() - term).count();
  std::printf("[ figures  ] stderr blocked: SIGTERM to exit %.3f s, code %d\n",
              exit_s, *code);
  EXPECT_LT(exit_s, 2.5);
  EXPECT_EQ(*code, 0);
}

}  // namespace
}  // namespace corefork::harness
