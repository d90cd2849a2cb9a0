#include "util/log.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/details/log_msg.h>
#include <spdlog/details/os.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>

#include "util/json.h"

namespace corefork {
namespace {

// One JSON object per line: {"time","level","logger","pid","msg"} in that
// order. The time keeps spdlog's pattern (UTC, microseconds); the rest is
// built as JSON, so any message (invalid UTF-8 too) gives a valid line.
class JsonLineFormatter : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg,
              spdlog::memory_buf_t& dest) override {
    spdlog::memory_buf_t time;
    time_->format(msg, time);
    Json line;
    line["time"] = std::string(time.data(), time.size());
    const auto level = spdlog::level::to_string_view(msg.level);
    line["level"] = std::string(level.data(), level.size());
    line["logger"] =
        std::string(msg.logger_name.data(), msg.logger_name.size());
    line["pid"] = spdlog::details::os::pid();
    line["msg"] = std::string(msg.payload.data(), msg.payload.size());
    std::string text = JsonDump(line);
    text += '\n';
    dest.append(text.data(), text.data() + text.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonLineFormatter>();
  }

 private:
  std::unique_ptr<spdlog::pattern_formatter> time_ =
      std::make_unique<spdlog::pattern_formatter>(
          "%Y-%m-%dT%H:%M:%S.%fZ", spdlog::pattern_time_type::utc, "");
};

// Formats on the caller's thread (cheap, and keeps each thread's order) and
// hands the line to the writer. After a gap it first queues a line saying
// how many were lost, in the logger's own format.
class QueueSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit QueueSink(LogWriter* writer) : writer_(writer) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    const uint64_t dropped = writer_->dropped();
    if (dropped > reported_) {
      std::string text = fmt::format(
          "{} log line(s) dropped: stderr is not keeping up (total {})",
          dropped - reported_, dropped);
      spdlog::details::log_msg notice(msg.time, spdlog::source_loc{},
                                      msg.logger_name, spdlog::level::warn,
                                      text);
      if (writer_->Enqueue(Format(notice))) reported_ = dropped;
    }
    writer_->Enqueue(Format(msg));
  }
  // Flushing would mean waiting for the writer: FlushLogs() does that with
  // a deadline; spdlog's flush_on() must not.
  void flush_() override {}

 private:
  std::string Format(const spdlog::details::log_msg& msg) {
    spdlog::memory_buf_t buf;
    formatter_->format(msg, buf);
    return std::string(buf.data(), buf.size());
  }

  LogWriter* writer_;
  uint64_t reported_ = 0;  // dropped lines already announced
};

// The default logger's writer: created once, never destroyed, so no exit
// path waits for a thread stuck in write(2).
LogWriter* StderrWriter() {
  static LogWriter* writer = new LogWriter(STDERR_FILENO, LogWriter::Limits{});
  return writer;
}

void FlushAtExit() { FlushLogs(kExitFlush); }

}  // namespace

LogWriter::LogWriter(int fd, Limits limits) : fd_(fd), limits_(limits) {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  thread_ = std::thread([this] { Loop(); });
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

LogWriter::~LogWriter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  work_.notify_one();
  thread_.join();
}

bool LogWriter::Enqueue(std::string line) {
  std::unique_lock<std::mutex> lock(mu_);
  if (broken_ || held_lines_ >= limits_.max_lines ||
      held_bytes_ + line.size() > limits_.max_bytes) {
    ++dropped_;
    return false;
  }
  held_bytes_ += line.size();
  ++held_lines_;
  queue_.push_back(std::move(line));
  lock.unlock();
  work_.notify_one();
  return true;
}

bool LogWriter::Flush(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return idle_.wait_for(lock, timeout,
                        [this] { return queue_.empty() && !writing_; });
}

uint64_t LogWriter::dropped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return dropped_;
}

void LogWriter::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    work_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and everything is written
    // One write(2) per batch of whole lines up to max_write bytes: fewer
    // syscalls under load, and, at PIPE_BUF, a write that a pipe makes
    // atomically, so another writer on the same pipe (the workers' lines in
    // logs.workers tagged/json, a worker in raw mode) never lands inside a
    // line shorter than that.
    std::string batch;
    size_t lines = 0;
    while (!queue_.empty() &&
           (batch.empty() ||
            batch.size() + queue_.front().size() <= limits_.max_write)) {
      batch += queue_.front();
      queue_.pop_front();
      ++lines;
    }
    writing_ = true;
    lock.unlock();
    WriteAll(batch, lines);
    lock.lock();
    writing_ = false;
    held_bytes_ -= batch.size();
    held_lines_ -= lines;
    if (queue_.empty()) idle_.notify_all();
  }
}

void LogWriter::WriteAll(const std::string& data, size_t lines) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd_, data.data() + done, data.size() - done);
    const int err = n < 0 ? errno : EIO;
    if (n > 0) {
      done += static_cast<size_t>(n);
    } else if (err == EINTR) {
      continue;
    } else if (err == EAGAIN) {
      // A worker made the shared file description non-blocking: wait here,
      // on this thread, as a blocking write would have.
      pollfd p = {fd_, POLLOUT, 0};
      poll(&p, 1, -1);
    } else {
      // EPIPE, EBADF...: nobody will ever read these lines; later ones are
      // counted as dropped instead of being retried forever. ENOSPC may
      // pass: only this batch is lost.
      std::lock_guard<std::mutex> lock(mu_);
      dropped_ += lines;  // the batch is lost
      broken_ = err != ENOSPC;
      return;
    }
  }
}

Status SetupLogging(LogFormat format, const std::string& level) {
  spdlog::level::level_enum lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off") {
    return Status::InvalidArgument("unknown log level \"" + level + "\"");
  }
  auto logger = std::make_shared<spdlog::logger>(
      "corefork", std::make_shared<QueueSink>(StderrWriter()));
  if (format == LogFormat::kJson) {
    logger->set_formatter(std::make_unique<JsonLineFormatter>());
  } else {
    logger->set_formatter(std::make_unique<spdlog::pattern_formatter>(
        "%Y-%m-%dT%H:%M:%S.%eZ corefork[%P] %l: %v",
        spdlog::pattern_time_type::utc));
  }
  logger->set_level(lvl);
  spdlog::set_default_logger(std::move(logger));
  static const bool registered = std::atexit(FlushAtExit) == 0;
  (void)registered;
  return Status::Ok();
}

uint64_t LogLinesDropped() { return StderrWriter()->dropped(); }

bool FlushLogs(std::chrono::milliseconds timeout) {
  return StderrWriter()->Flush(timeout);
}

}  // namespace corefork
