// CommandQueue: how other threads ask the event loop to do something. Any
// thread may Post(); the loop watches fd() in its epoll set and calls
// TakeAll() when it is readable, then answers each command through its
// ReplyTo. The loop never blocks on a poster: a ReplyTo either runs the
// poster's callback (on the loop thread; it must be quick and must not
// block, e.g. queue the reply for the poster's own thread) or fulfils a
// std::future for a synchronous poster that waits with a deadline of its own.
#pragma once

#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "os/fd.h"
#include "util/status.h"

namespace corefork {

struct CommandReply {
  int http_status = 200;
  std::string body;                            // JSON object
  std::map<std::string, std::string> headers;  // e.g. Location, Retry-After
};

// Where a command's answer goes: move-only, answered at most once. The loop
// calls set_value() (or keeps the ReplyTo, e.g. until a job run ends); one
// destroyed unanswered reports "dropped" (nullopt to a callback, a
// broken_promise to a future), so a poster never waits forever.
class ReplyTo {
 public:
  // Runs on the thread that answers (the loop) or destroys the ReplyTo.
  using Callback = std::function<void(std::optional<CommandReply>)>;

  ReplyTo() = default;  // answers nobody
  explicit ReplyTo(Callback done) : done_(std::move(done)) {}
  // A ReplyTo that fulfils the returned future.
  static ReplyTo WithFuture(std::future<CommandReply>* future);

  ReplyTo(ReplyTo&& other) noexcept : done_(std::move(other.done_)) {
    other.done_ = nullptr;
  }
  ReplyTo& operator=(ReplyTo&& other) noexcept;
  ReplyTo(const ReplyTo&) = delete;
  ReplyTo& operator=(const ReplyTo&) = delete;
  ~ReplyTo() { Finish(std::nullopt); }

  // The first call answers; later ones (and calls on an empty ReplyTo) are
  // ignored. Named like std::promise's, which ReplyTo replaced.
  void set_value(CommandReply reply) { Finish(std::move(reply)); }
  bool answered() const { return !done_; }

 private:
  void Finish(std::optional<CommandReply> reply) noexcept;

  Callback done_;
};

struct Command {
  enum class Kind {
    kPing,       // liveness: the loop answers as soon as it turns
    kReload,     // rolling restart of every worker
    kScale,      // set the number of workers to `count`
    kScaleBy,    // add `count` workers (remove, when negative)
    kRunJob,     // start a run of job `name` with `body` as stdin
    kGetRun,     // describe run `run_id`
    kCancelRun,  // cancel run `run_id`
    kListJobs,   // every job and its state
  };
  Kind kind = Kind::kPing;
  int count = 0;
  std::string name;           // kRunJob
  std::string body;           // kRunJob: the run's stdin
  bool body_is_json = false;  // kRunJob: sent as Content-Type: ...json
  bool wait = false;          // kRunJob: reply when the run has ended
  uint64_t run_id = 0;        // kGetRun, kCancelRun
  ReplyTo reply;
};

class CommandQueue {
 public:
  // Creates the eventfd (close-on-exec, non-blocking); fails like eventfd.
  static Result<std::unique_ptr<CommandQueue>> Create();

  int fd() const { return event_fd_.get(); }

  // Any thread, never blocks on the loop. The command's own `reply` says
  // where the answer goes.
  void Send(std::unique_ptr<Command> command);
  // Any thread: Send() with a ReplyTo that fulfils the returned future (for
  // tests and synchronous callers).
  std::future<CommandReply> Post(Command::Kind kind, int count = 0);
  std::future<CommandReply> Post(std::unique_ptr<Command> command);

  // Loop thread: every command posted so far, oldest first.
  std::vector<std::unique_ptr<Command>> TakeAll();

 private:
  explicit CommandQueue(Fd event_fd) : event_fd_(std::move(event_fd)) {}

  Fd event_fd_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Command>> pending_;
};

}  // namespace corefork
