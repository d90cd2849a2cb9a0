#include "jobs/output_capture.h"

#include <errno.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace corefork {

LogBudget::LogBudget(Limits limits, Clock::time_point now)
    : limits_(limits),
      lines_(limits.burst_lines),
      bytes_(limits.burst_bytes),
      last_(now) {}

bool LogBudget::Take(size_t bytes, Clock::time_point now) {
  if (now > last_) {
    const double seconds = std::chrono::duration<double>(now - last_).count();
    lines_ = std::min(limits_.burst_lines,
                      lines_ + seconds * limits_.lines_per_second);
    bytes_ = std::min(limits_.burst_bytes,
                      bytes_ + seconds * limits_.bytes_per_second);
    last_ = now;
  }
  const double cost = static_cast<double>(bytes);
  if (lines_ < 1 || bytes_ < cost) return false;
  lines_ -= 1;
  bytes_ -= cost;
  return true;
}

OutputCapture::OutputCapture(std::string label, uint64_t max_output)
    : label_(std::move(label)), max_output_(max_output) {}

bool OutputCapture::Read(int fd, size_t max_bytes, LogBudget& budget,
                         Clock::time_point now) {
  char buf[16384];
  size_t total = 0;
  while (total < max_bytes) {
    ssize_t n = read(fd, buf, std::min(sizeof buf, max_bytes - total));
    if (n > 0) {
      Consume(buf, static_cast<size_t>(n), budget, now);
      total += static_cast<size_t>(n);
    } else if (n == 0) {
      return false;
    } else if (errno == EAGAIN) {
      return true;
    } else if (errno != EINTR) {
      return false;
    }
  }
  // More may be waiting: the level-triggered epoll brings us back next turn.
  return true;
}

void OutputCapture::Consume(const char* data, size_t size, LogBudget& budget,
                            Clock::time_point now) {
  const size_t room =
      max_output_ > kept_.size() ? max_output_ - kept_.size() : 0;
  kept_.append(data, std::min(size, room));
  if (size > room) truncated_ = true;
  lines_.Feed(std::string_view(data, size), [&](std::string_view line,
                                                bool cut) {
    Emit(cut ? std::string(line) + kCutMark : std::string(line), budget, now);
    return true;
  });
}

void OutputCapture::Emit(const std::string& line, LogBudget& budget,
                         Clock::time_point now) {
  if (!budget.Take(line.size(), now)) {
    ++suppressed_;
    ++suppressed_total_;
    return;
  }
  // Under a flood a line passes whenever the budget refills: the count of
  // those held back is reported once a second, not before every such line.
  if (now - last_report_ >= std::chrono::seconds(1)) {
    ReportSuppressed();
    last_report_ = now;
  }
  spdlog::info("{}: {}", label_, line);
}

void OutputCapture::ReportSuppressed() {
  if (suppressed_ == 0) return;
  spdlog::warn("{}: {} line(s) not logged (job log rate limit)", label_,
               suppressed_);
  suppressed_ = 0;
}

void OutputCapture::EndAttempt(LogBudget& budget, Clock::time_point now) {
  if (!lines_.partial().empty()) Emit(lines_.partial(), budget, now);
  lines_.Reset();
  ReportSuppressed();
}

void OutputCapture::Clear() {
  kept_.clear();
  truncated_ = false;
}

size_t OutputCapture::Drop() {
  const size_t freed = kept_.size();
  std::string().swap(kept_);
  return freed;
}

}  // namespace corefork
