// WorkerOutput: with `logs.workers: tagged` or `json`, each worker's stdout
// and stderr are pipes whose read ends sit in the loop's epoll set. Every
// line is split into pieces of at most `max_line` bytes, reformatted (slot
// prefix, or one JSON object) and queued for corefork's own fd 1 or fd 2 on
// a bounded LogWriter (a thread per stream): a full queue drops the line and
// counts it, so neither the loop nor the workers ever wait for a slow reader.
// Owned by the Supervisor; loop thread only (the writers are internal).
#pragma once

#include <sys/types.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "loop/loop_tags.h"
#include "os/fd.h"
#include "util/log.h"
#include "util/status.h"

namespace corefork {

class Metrics;

enum class WorkerStream : uint8_t { kStdout = 0, kStderr = 1 };
const char* WorkerStreamName(WorkerStream stream);  // "stdout", "stderr"

// One piece of a worker's line: the whole line, or a part of one longer than
// the cap (first: it starts the line; last: it ends it).
struct WorkerLine {
  int slot = 0;
  pid_t pid = -1;
  WorkerStream stream = WorkerStream::kStdout;
  std::string_view text;  // without the newline
  bool first = true;
  bool last = true;
};

// The output line, newline included. kTagged: "[worker 3] text". kJson:
// {"time","worker","pid","stream"} then, for a whole line that is a JSON
// object, the app's fields in its order (an app key named like one of ours
// is kept as "app_<key>"), else "msg": text; a piece that does not end its
// line has "partial":true. kRaw is never formatted (returns text + '\n').
std::string FormatWorkerLine(WorkerLogMode mode, const WorkerLine& line,
                             std::chrono::system_clock::time_point now);

// Cuts bytes into lines, and lines longer than `max_piece` into pieces of
// exactly max_piece bytes (nothing is dropped), holding at most max_piece
// bytes. on_piece(std::string_view text, bool first, bool last).
class WorkerLineFramer {
 public:
  explicit WorkerLineFramer(size_t max_piece) : max_piece_(max_piece) {}

  template <typename OnPiece>
  void Feed(std::string_view data, OnPiece&& on_piece);
  // An unterminated last line (the pipe's end): handed over as ending.
  template <typename OnPiece>
  void Finish(OnPiece&& on_piece);

  size_t buffered() const { return partial_.size(); }

 private:
  size_t max_piece_;
  std::string partial_;
  bool continuing_ = false;  // pieces of the current line were handed over
};

class WorkerOutput {
 public:
  using Clock = std::chrono::steady_clock;

  struct Options {
    WorkerLogMode mode = WorkerLogMode::kTagged;  // never kRaw
    int epoll_fd = -1;
    int stdout_fd = 1;  // where the lines go (tests pass pipes)
    int stderr_fd = 2;
    size_t max_line = 16 * 1024;    // longer lines are split
    size_t max_buffered = 1 << 20;  // per output stream, queued + writing
    size_t max_orphans = 64;        // pipes kept open after their worker
    Metrics* metrics = nullptr;     // may be null
  };

  // The ends of one worker's two pipes, made before it is spawned.
  struct Pipes {
    Fd out_read, err_read;    // ours, O_NONBLOCK
    Fd out_write, err_write;  // the child's stdout and stderr
  };

  explicit WorkerOutput(Options options);
  // Gives the queued lines kExitFlush to be written; a writer still stuck in
  // write(2) after that is left behind (never joined), so exit never hangs.
  ~WorkerOutput();
  WorkerOutput(const WorkerOutput&) = delete;
  WorkerOutput& operator=(const WorkerOutput&) = delete;

  static Result<Pipes> OpenPipes();
  // Before the spawn: takes the read ends and watches them under
  // Key(serial, stream). On an error nothing is kept (the worker should then
  // get corefork's own fds). The caller closes the write ends after the spawn.
  Status Add(uint64_t serial, int slot, Pipes* pipes);
  // After it: the worker's pid (JSON's "pid"), or Remove() when it failed.
  void SetPid(uint64_t serial, pid_t pid);
  void Remove(uint64_t serial);
  // From the loop's dispatch: one bounded read of that pipe.
  void OnReadable(uint64_t key);
  // The worker was reaped. Its pipes stay until their end of file, since
  // its children may still write; past max_orphans the oldest are closed.
  void OnWorkerExit(uint64_t serial);
  // Reads whatever is in every pipe now (bounded) and flushes unterminated
  // lines: for corefork's exit.
  void DrainAll();
  // Waits (at most `timeout`) until the queued lines are written.
  bool Flush(std::chrono::milliseconds timeout);

  uint64_t dropped(WorkerStream stream) const {
    return drops_[static_cast<size_t>(stream)].total;
  }
  size_t open_pipes() const { return pipes_.size(); }

  static uint64_t Key(uint64_t serial, WorkerStream stream) {
    return (serial << 1) | static_cast<uint64_t>(stream);
  }

 private:
  struct Pipe {
    Fd fd;
    uint64_t serial = 0;
    int slot = 0;
    pid_t pid = -1;
    WorkerStream stream = WorkerStream::kStdout;
    bool orphan = false;  // its worker was reaped
    WorkerLineFramer framer;
  };
  struct Drops {
    uint64_t total = 0;
    uint64_t unreported = 0;  // since the last warning
    Clock::time_point warned_at{};
  };

  enum class ReadResult { kData, kEmpty, kDone };  // kDone: EOF or an error
  ReadResult ReadOnce(Pipe& pipe);
  void Emit(const Pipe& pipe, std::string_view text, bool first, bool last);
  void CountDrop(WorkerStream stream);
  void Close(std::map<uint64_t, Pipe>::iterator it);

  Options options_;
  std::array<std::unique_ptr<LogWriter>, 2> writers_;  // by WorkerStream
  std::array<Drops, 2> drops_;
  std::map<uint64_t, Pipe> pipes_;  // by Key(); serials grow, so oldest first
  std::vector<char> buffer_;        // one read
};

template <typename OnPiece>
void WorkerLineFramer::Feed(std::string_view data, OnPiece&& on_piece) {
  while (!data.empty()) {
    const size_t newline = data.find('\n');
    std::string_view piece = data.substr(0, newline);
    // Whole pieces straight from `data` when nothing is pending: no copy.
    while (partial_.size() + piece.size() > max_piece_) {
      const size_t take = max_piece_ - partial_.size();
      if (partial_.empty()) {
        on_piece(piece.substr(0, take), !continuing_, false);
      } else {
        partial_.append(piece.substr(0, take));
        on_piece(std::string_view(partial_), !continuing_, false);
        partial_.clear();
      }
      continuing_ = true;
      piece.remove_prefix(take);
    }
    if (newline == std::string_view::npos) {
      partial_.append(piece);
      return;
    }
    if (partial_.empty()) {
      on_piece(piece, !continuing_, true);
    } else {
      partial_.append(piece);
      on_piece(std::string_view(partial_), !continuing_, true);
      partial_.clear();
    }
    continuing_ = false;
    data.remove_prefix(newline + 1);
  }
}

template <typename OnPiece>
void WorkerLineFramer::Finish(OnPiece&& on_piece) {
  if (partial_.empty() && !continuing_) return;
  on_piece(std::string_view(partial_), !continuing_, true);
  partial_.clear();
  continuing_ = false;
}

}  // namespace corefork
