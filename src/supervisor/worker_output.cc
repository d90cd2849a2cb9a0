#include "supervisor/worker_output.h"

#include <errno.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <time.h>
#include <unistd.h>

#include <optional>

#include "metrics/metrics.h"
#include "util/json.h"

namespace corefork {
namespace {

using std::chrono::duration_cast;
using std::chrono::microseconds;

// One read per readiness: a pipe holds 64 KiB by default, so this usually
// empties it, and no worker can keep the loop longer than one read.
constexpr size_t kReadSize = 64 * 1024;
// DrainAll: reads per pipe at exit (a child still writing cannot hold it).
constexpr int kMaxDrainReads = 16;
// Queued lines per output stream, besides the byte bound.
constexpr size_t kMaxQueuedLines = 16384;
// A stream that keeps dropping is reported at most this often.
constexpr std::chrono::seconds kDropWarningEvery{10};

constexpr const char* kOurKeys[] = {"time", "worker", "pid", "stream"};

// "2026-12-03T18:43:50.123456Z", as corefork's own JSON log lines. The date
// part changes once a second: it is cached for the loop thread.
std::string IsoTime(std::chrono::system_clock::time_point now) {
  const int64_t us =
      duration_cast<microseconds>(now.time_since_epoch()).count();
  const time_t secs = static_cast<time_t>(us / 1'000'000);
  static thread_local time_t cached_secs = -1;
  static thread_local std::string cached;
  if (secs != cached_secs) {
    tm parts{};
    gmtime_r(&secs, &parts);
    cached = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                         parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                         parts.tm_hour, parts.tm_min, parts.tm_sec);
    cached_secs = secs;
  }
  return fmt::format("{}.{:06}Z", cached, us % 1'000'000);
}

// The line as a JSON object, when it is one (checked cheaply first: most
// lines do not start with '{').
std::optional<Json> AsObject(std::string_view text) {
  const size_t start = text.find_first_not_of(" \t");
  if (start == std::string_view::npos || text[start] != '{') {
    return std::nullopt;
  }
  Result<Json> parsed = JsonParse(text);
  if (!parsed.ok() || !parsed->is_object()) return std::nullopt;
  return std::move(parsed).value();
}

// Appends `text` as a JSON string, as JsonDump would write it, when it is
// printable ASCII (and tabs): most log lines, 10x cheaper than building a
// Json. False for anything else (nlohmann then escapes control bytes and
// repairs invalid UTF-8); *out is then unchanged.
bool AppendAsciiJsonString(std::string_view text, std::string* out) {
  const size_t size_before = out->size();
  out->reserve(size_before + text.size() + 8);
  out->push_back('"');
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(c);
    } else if (c == '\t') {
      out->append("\\t");
    } else if (c >= 0x20 && c < 0x7f) {
      out->push_back(c);
    } else {
      out->resize(size_before);
      return false;
    }
  }
  out->push_back('"');
  return true;
}

// The common case (a text line) without a Json value; nullopt when the text
// needs nlohmann's escaping.
std::optional<std::string> FastJsonText(
    const WorkerLine& line, std::chrono::system_clock::time_point now) {
  std::string out = fmt::format(
      R"({{"time":"{}","worker":{},"pid":{},"stream":"{}","msg":)",
      IsoTime(now), line.slot, line.pid, WorkerStreamName(line.stream));
  if (!AppendAsciiJsonString(line.text, &out)) return std::nullopt;
  out.append(line.last ? "}\n" : ",\"partial\":true}\n");
  return out;
}

std::string FormatJson(const WorkerLine& line,
                       std::chrono::system_clock::time_point now) {
  std::optional<Json> app;
  if (line.first && line.last) app = AsObject(line.text);
  if (!app) {
    if (std::optional<std::string> fast = FastJsonText(line, now)) {
      return std::move(*fast);
    }
  }
  Json out;
  out["time"] = IsoTime(now);
  out["worker"] = line.slot;
  out["pid"] = line.pid;
  out["stream"] = WorkerStreamName(line.stream);
  if (app) {
    for (auto& [key, value] : app->items()) {
      bool ours = false;
      for (const char* k : kOurKeys) ours = ours || key == k;
      out[ours ? "app_" + key : key] = std::move(value);
    }
  } else {
    out["msg"] = std::string(line.text);
  }
  if (!line.last) out["partial"] = true;
  std::string text = JsonDump(out);
  text += '\n';
  return text;
}

}  // namespace

const char* WorkerStreamName(WorkerStream stream) {
  return stream == WorkerStream::kStdout ? "stdout" : "stderr";
}

std::string FormatWorkerLine(WorkerLogMode mode, const WorkerLine& line,
                             std::chrono::system_clock::time_point now) {
  switch (mode) {
    case WorkerLogMode::kJson:
      return FormatJson(line, now);
    case WorkerLogMode::kTagged: {
      std::string text = fmt::format("[worker {}] ", line.slot);
      text.append(line.text);
      text += '\n';
      return text;
    }
    case WorkerLogMode::kRaw:
      break;
  }
  std::string text(line.text);
  text += '\n';
  return text;
}

WorkerOutput::WorkerOutput(Options options)
    : options_(options), buffer_(kReadSize) {
  LogWriter::Limits limits;
  limits.max_bytes = options_.max_buffered;
  limits.max_lines = kMaxQueuedLines;
  writers_[0] = std::make_unique<LogWriter>(options_.stdout_fd, limits);
  writers_[1] = std::make_unique<LogWriter>(options_.stderr_fd, limits);
}

WorkerOutput::~WorkerOutput() {
  pipes_.clear();
  for (auto& writer : writers_) {
    // Joining a writer blocked in write(2) on a stdout nobody reads would
    // hang corefork's exit: such a writer is left to the process's end.
    if (!writer->Flush(kExitFlush)) (void)writer.release();
  }
}

Result<WorkerOutput::Pipes> WorkerOutput::OpenPipes() {
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0) return PosixError("pipe (worker stdout)");
  Pipes pipes;
  pipes.out_read.Reset(out[0]);
  pipes.out_write.Reset(out[1]);
  if (pipe2(err, O_CLOEXEC) != 0) return PosixError("pipe (worker stderr)");
  pipes.err_read.Reset(err[0]);
  pipes.err_write.Reset(err[1]);
  for (const Fd* fd : {&pipes.out_read, &pipes.err_read}) {
    if (fcntl(fd->get(), F_SETFL, O_NONBLOCK) != 0) {
      return PosixError("fcntl O_NONBLOCK (worker output)");
    }
  }
  return pipes;
}

Status WorkerOutput::Add(uint64_t serial, int slot, Pipes* pipes) {
  for (WorkerStream stream : {WorkerStream::kStdout, WorkerStream::kStderr}) {
    Fd& fd =
        stream == WorkerStream::kStdout ? pipes->out_read : pipes->err_read;
    const uint64_t key = Key(serial, stream);
    if (Status s =
            Watch(options_.epoll_fd, fd.get(), LoopTag::kWorkerOutput, key);
        !s.ok()) {
      Remove(serial);
      return s;
    }
    Pipe pipe{std::move(fd),
              serial,
              slot,
              -1,
              stream,
              false,
              WorkerLineFramer(options_.max_line)};
    pipes_.emplace(key, std::move(pipe));
  }
  return Status::Ok();
}

void WorkerOutput::SetPid(uint64_t serial, pid_t pid) {
  for (WorkerStream stream : {WorkerStream::kStdout, WorkerStream::kStderr}) {
    auto it = pipes_.find(Key(serial, stream));
    if (it != pipes_.end()) it->second.pid = pid;
  }
}

void WorkerOutput::Remove(uint64_t serial) {
  pipes_.erase(Key(serial, WorkerStream::kStdout));
  pipes_.erase(Key(serial, WorkerStream::kStderr));
}

void WorkerOutput::OnReadable(uint64_t key) {
  auto it = pipes_.find(key);
  if (it == pipes_.end()) return;
  if (ReadOnce(it->second) == ReadResult::kDone) Close(it);
}

WorkerOutput::ReadResult WorkerOutput::ReadOnce(Pipe& pipe) {
  ssize_t n;
  do {
    n = read(pipe.fd.get(), buffer_.data(), buffer_.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0 && errno == EAGAIN) return ReadResult::kEmpty;
  if (n <= 0) return ReadResult::kDone;  // end of file, or an error
  pipe.framer.Feed(std::string_view(buffer_.data(), static_cast<size_t>(n)),
                   [&](std::string_view text, bool first, bool last) {
                     Emit(pipe, text, first, last);
                   });
  return ReadResult::kData;
}

void WorkerOutput::Emit(const Pipe& pipe, std::string_view text, bool first,
                        bool last) {
  WorkerLine line;
  line.slot = pipe.slot;
  line.pid = pipe.pid;
  line.stream = pipe.stream;
  line.text = text;
  line.first = first;
  line.last = last;
  const size_t index = static_cast<size_t>(pipe.stream);
  if (!writers_[index]->Enqueue(FormatWorkerLine(
          options_.mode, line, std::chrono::system_clock::now()))) {
    CountDrop(pipe.stream);
  }
}

void WorkerOutput::CountDrop(WorkerStream stream) {
  Drops& drops = drops_[static_cast<size_t>(stream)];
  ++drops.total;
  ++drops.unreported;
  if (options_.metrics != nullptr) {
    options_.metrics->CountWorkerLogLinesDropped(WorkerStreamName(stream), 1);
  }
  const Clock::time_point now = Clock::now();
  if (drops.warned_at == Clock::time_point{} ||
      now - drops.warned_at >= kDropWarningEvery) {
    spdlog::warn(
        "dropped {} worker {} line(s): corefork's {} is not keeping up "
        "(corefork_worker_log_lines_dropped_total; total {})",
        drops.unreported, WorkerStreamName(stream), WorkerStreamName(stream),
        drops.total);
    drops.unreported = 0;
    drops.warned_at = now;
  }
}

void WorkerOutput::Close(std::map<uint64_t, Pipe>::iterator it) {
  Pipe& pipe = it->second;
  pipe.framer.Finish([&](std::string_view text, bool first, bool last) {
    Emit(pipe, text, first, last);
  });
  pipes_.erase(it);  // closing the fd also removes it from the epoll set
}

void WorkerOutput::OnWorkerExit(uint64_t serial) {
  size_t orphans = 0;
  for (auto& [key, pipe] : pipes_) {
    if (pipe.serial == serial) pipe.orphan = true;
    if (pipe.orphan) ++orphans;
  }
  // A daemon that a worker left behind may hold its pipes forever: keep a
  // bounded number, closing the oldest (its writes then fail with EPIPE).
  for (auto it = pipes_.begin();
       orphans > options_.max_orphans && it != pipes_.end();) {
    auto next = std::next(it);
    if (it->second.orphan) {
      Close(it);
      --orphans;
    }
    it = next;
  }
}

void WorkerOutput::DrainAll() {
  for (auto it = pipes_.begin(); it != pipes_.end();) {
    auto next = std::next(it);
    Pipe& pipe = it->second;
    for (int i = 0; i < kMaxDrainReads && ReadOnce(pipe) == ReadResult::kData;
         ++i) {
    }
    Close(it);
    it = next;
  }
}

bool WorkerOutput::Flush(std::chrono::milliseconds timeout) {
  const auto until = Clock::now() + timeout;
  bool all = true;
  for (auto& writer : writers_) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - Clock::now());
    all = writer->Flush(std::max(left, std::chrono::milliseconds(0))) && all;
  }
  return all;
}

}  // namespace corefork
