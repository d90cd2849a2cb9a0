// CommandQueue: how other threads ask the event loop to do something. Any
// thread may Post(); the loop watches fd() in its epoll set and calls
// TakeAll() when it is readable, then answers each command through its
// promise. The loop never blocks on a poster; a poster waits on its future
// with a deadline of its own choosing.
#pragma once

#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "os/fd.h"

namespace corefork {

struct CommandReply {
  int http_status = 200;
  std::string body;                            // JSON object
  std::map<std::string, std::string> headers;  // e.g. Location, Retry-After
};

struct Command {
  enum class Kind {
    kPing,       // liveness: the loop answers as soon as it turns
    kReload,     // rolling restart of every worker
    kScale,      // set the number of workers to `count`
    kRunJob,     // start a run of job `name` with `body` as stdin
    kGetRun,     // describe run `run_id`
    kCancelRun,  // cancel run `run_id`
    kListJobs,   // every job and its state
  };
  Kind kind = Kind::kPing;
  int count = 0;
  std::string name;     // kRunJob
  std::string body;     // kRunJob: the run's stdin
  bool wait = false;    // kRunJob: reply when the run has ended
  uint64_t run_id = 0;  // kGetRun, kCancelRun
  std::promise<CommandReply> reply;
};

class CommandQueue {
 public:
  CommandQueue();  // creates the eventfd (close-on-exec, non-blocking)

  int fd() const { return event_fd_.get(); }

  // Any thread. The future is fulfilled by the loop.
  std::future<CommandReply> Post(Command::Kind kind, int count = 0);
  std::future<CommandReply> Post(std::unique_ptr<Command> command);

  // Loop thread: every command posted so far, oldest first.
  std::vector<std::unique_ptr<Command>> TakeAll();

 private:
  Fd event_fd_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Command>> pending_;
};

}  // namespace corefork
