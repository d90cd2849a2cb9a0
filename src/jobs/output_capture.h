// OutputCapture: one stream (stdout or stderr) of a job run, read from its
// non-blocking pipe by the event loop in bounded slices, so a job that
// writes without pause (`yes`) costs the loop at most one slice per turn.
// It keeps the first `max_output` bytes for the run's record and logs each
// line under the run's LogBudget, so no job can flood corefork's log either.
// Loop thread only; the caller owns the fd.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "loop/line_splitter.h"

namespace corefork {

// A token bucket over lines and bytes: a burst is logged whole, a steady
// flood at the refill rate. One per run, shared by its two streams.
class LogBudget {
 public:
  using Clock = std::chrono::steady_clock;

  struct Limits {
    double burst_lines = 1000;
    double lines_per_second = 100;
    double burst_bytes = 256 * 1024;
    double bytes_per_second = 64 * 1024;
  };

  LogBudget() : LogBudget(Limits{}, Clock::now()) {}
  LogBudget(Limits limits, Clock::time_point now);

  // True (and charged) when a line of `bytes` may be logged at `now`.
  bool Take(size_t bytes, Clock::time_point now);

 private:
  Limits limits_;
  double lines_;
  double bytes_;
  Clock::time_point last_;
};

class OutputCapture {
 public:
  using Clock = std::chrono::steady_clock;

  // Longer lines are logged cut, with kCutMark appended; the bytes kept for
  // the record are not cut.
  static constexpr size_t kMaxLogLine = 4096;
  static constexpr const char* kCutMark = " [line cut]";

  OutputCapture() = default;
  // `label` prefixes each logged line ("job NAME run ID stdout").
  OutputCapture(std::string label, uint64_t max_output);

  // Reads at most `max_bytes` from the non-blocking `fd`. False at end of
  // file (or a read error): nothing more will come.
  bool Read(int fd, size_t max_bytes, LogBudget& budget, Clock::time_point now);
  // The run's attempt ended: logs a last line that had no newline, and how
  // many lines the budget held back.
  void EndAttempt(LogBudget& budget, Clock::time_point now);
  // A new attempt starts: its output replaces the last one's.
  void Clear();
  // Frees the kept bytes for good (the history's byte budget); returns how
  // many there were.
  size_t Drop();
  // Returns unused capacity after the run ended.
  void Shrink() { kept_.shrink_to_fit(); }

  const std::string& kept() const { return kept_; }
  // Replaces the kept bytes (e.g. why the run could not start).
  void set_kept(std::string text) { kept_ = std::move(text); }
  // Replaces them as if `text` had been read (a pool answer's output): the
  // first max_output bytes are kept, truncated() if there were more. Not
  // logged.
  void set_output(std::string_view text) {
    truncated_ = text.size() > max_output_;
    kept_.assign(text.substr(0, max_output_));
  }
  bool truncated() const { return truncated_; }
  uint64_t suppressed() const { return suppressed_total_; }

  // Feeds bytes as if read (what Read() does with each slice).
  void Consume(const char* data, size_t size, LogBudget& budget,
               Clock::time_point now);

 private:
  void Emit(const std::string& line, LogBudget& budget, Clock::time_point now);
  void ReportSuppressed();

  std::string label_;
  uint64_t max_output_ = 0;
  std::string kept_;
  bool truncated_ = false;
  LineSplitter lines_{kMaxLogLine};
  uint64_t suppressed_ = 0;  // lines held back since the last report
  Clock::time_point last_report_{};
  uint64_t suppressed_total_ = 0;
};

}  // namespace corefork
