// Logging setup: spdlog to stderr, as plain text for people or one JSON
// object per line for log collectors. Lines go through a bounded queue to a
// writer thread, so a stderr that nobody reads never blocks a caller (the
// event loop above all): past the bound, lines are dropped and counted. Call
// SetupLogging once from main; afterwards use spdlog::info(...) etc. from any
// thread. LogLinesDropped() and FlushLogs() may be called from any thread.
#pragma once

#include <limits.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "util/status.h"

namespace corefork {

enum class LogFormat { kText, kJson };

// Installs the default logger. Also registers an exit handler that gives the
// queued lines kExitFlush to reach stderr, so exiting never hangs on it.
Status SetupLogging(LogFormat format, const std::string& level);

// Lines the default logger dropped because stderr did not keep up.
uint64_t LogLinesDropped();

// Waits until every line logged so far is written to stderr, at most
// `timeout`; true when it all was.
bool FlushLogs(std::chrono::milliseconds timeout);

inline constexpr std::chrono::milliseconds kExitFlush{500};

// The queue and writer thread behind the default logger's sink. Enqueue()
// never waits for the writer: the mutex is held only to move strings. The
// bound counts queued lines plus the batch being written, so a writer stuck
// in write(2) holds at most `max_bytes` (plus one line) in memory. The fd is
// never made non-blocking: corefork's workers share stderr's file description
// and would see EAGAIN.
class LogWriter {
 public:
  struct Limits {
    size_t max_bytes = 1 << 20;  // queued + being written
    size_t max_lines = 16384;
    // Bytes of whole lines per write(2) (one longer line goes alone).
    size_t max_write = PIPE_BUF;
  };

  // Starts the thread, with every signal blocked in it (a SIGPIPE from a
  // closed reader becomes EPIPE; process signals stay with the main thread).
  LogWriter(int fd, Limits limits);
  // Stops the thread after it has written what is queued: waits as long as
  // a write blocks. The default logger's writer is never destroyed.
  ~LogWriter();
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;

  // Queues one line (with its newline). False when it was dropped.
  bool Enqueue(std::string line);
  bool Flush(std::chrono::milliseconds timeout);
  uint64_t dropped() const;

 private:
  void Loop();
  void WriteAll(const std::string& data, size_t lines);

  const int fd_;
  const Limits limits_;
  mutable std::mutex mu_;
  std::condition_variable work_;  // queue non-empty or stopping
  std::condition_variable idle_;  // queue empty and nothing being written
  std::deque<std::string> queue_;
  size_t held_bytes_ = 0;  // queued + in the batch being written
  size_t held_lines_ = 0;
  bool writing_ = false;
  bool stopping_ = false;
  bool broken_ = false;  // the fd failed for good (EPIPE, EBADF...): discard
  uint64_t dropped_ = 0;
  std::thread thread_;
};

}  // namespace corefork
