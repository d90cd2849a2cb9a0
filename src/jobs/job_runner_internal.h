// JobRunner's private parts, shared by its two files: job_runner.cc (runs,
// queues, spawn-per-run, history, the control API) and job_pool.cc (pools:
// long-lived processes that take runs over the line protocol). Nothing
// outside src/jobs includes this.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "config/config.h"
#include "jobs/job_runner.h"
#include "jobs/job_schedule.h"
#include "jobs/output_capture.h"
#include "jobs/pool_protocol.h"
#include "loop/commands.h"
#include "os/fd.h"

namespace corefork {

// Read from one pipe per loop turn: a job that writes without pause gets
// this much, then the loop serves everything else (epoll is level-triggered
// and brings it back on the next turn).
constexpr size_t kReadPerTurn = 64 * 1024;
// Read after the run has exited and its group is killed: what is left in
// the pipe (at most its capacity, 1 MiB with F_SETPIPE_SZ) and no more.
constexpr size_t kReadAtExit = 1024 * 1024;

enum class RunState {
  kQueued,
  kRunning,
  kSucceeded,
  kFailed,
  kTimedOut,
  kCancelled
};

const char* StateName(RunState s);

struct JobRunner::Run {
  uint64_t id = 0;
  std::string job;
  std::string trigger;  // "on_demand", "schedule", "at_start"
  RunState state = RunState::kQueued;
  int attempt = 1;
  bool serial = false;  // overlap: queue — start only when none is running
  std::string input;
  bool input_is_json = false;  // the request said Content-Type: ...json
  pid_t pid = -1;              // its process, or the pool process serving it
  int exit_code = -1;          // -1 until it exited normally
  int signal = 0;              // the signal that ended it, 0 if none
  std::string error;  // a pool run's failure: the answer's error, or why
  double queued_at = 0, started_at = 0, finished_at = 0;
  TimePoint started;
  TimePoint not_before;                   // retries wait for their backoff
  TimePoint deadline = TimePoint::max();  // timeout, then kill grace
  bool term_sent = false;
  bool timed_out = false;
  bool cancelled = false;
  Fd pipes[2];  // stdout, stderr read ends (spawn-per-run only)
  uint64_t serials[2] = {0, 0};
  OutputCapture out[2];         // stdout, stderr
  LogBudget log_budget;         // shared by both streams, across attempts
  bool output_dropped = false;  // the history's byte budget freed `out`
  // Whatever Command::reply is (the HTTP layer owns that type).
  std::vector<decltype(Command::reply)> waiters;

  // It runs now, on `process` (its own, or the pool process serving it).
  void Start(pid_t process, Duration timeout);
  // Job output is any bytes: JsonDump makes invalid UTF-8 into U+FFFD.
  std::string Json() const;
};

// One long-lived process of a pool. It serves one run at a time: the run's
// request line goes to its stdin (without blocking: `pending` holds what
// the pipe did not take yet), its answer comes back on stdout.
struct JobRunner::PoolProcess {
  pid_t pid = -1;
  std::string job;
  Fd in, out, err;  // its stdin (write end), stdout and stderr (read ends)
  uint64_t serials[3] = {0, 0, 0};  // stdout, stderr, stdin in the loop
  PoolAnswerReader reader;
  std::string pending;  // request bytes not written yet
  size_t pending_from = 0;
  bool in_watched = false;  // stdin is in the epoll set (for EPOLLOUT)
  uint64_t run = 0;         // the run it serves, 0 while idle
  int runs = 0;             // runs it has answered
  TimePoint idle_since;
  bool retiring = false;
  // Why corefork ended it (a metrics reason: max_runs, memory, idle,
  // shutdown, protocol); empty while it has not been asked to go.
  std::string stop_reason;
  std::string broken;  // the protocol error that ended it
  std::string closed;  // "closed its stdout" (or stdin): it is going away
  TimePoint kill_at = TimePoint::max();  // SIGKILL due (retiring, grace over)
  OutputCapture idle_err;                // stderr between runs: logged only
  LogBudget log_budget;

  explicit PoolProcess(size_t max_answer) : reader(max_answer) {}
  // Takes a run now: not going away, not serving one, and every byte of the
  // last request written (a process that answered before reading all of it
  // must not get the next request spliced into the rest).
  bool Idle() const {
    return !retiring && run == 0 && pending_from >= pending.size();
  }
};

// A job's pool: its processes and the back-off after failures. Pool
// processes get COREFORK_JOB and COREFORK_POOL_SIZE in their environment.
struct JobPool {
  JobPoolConfig config;
  int size = 1;                       // resolved: auto is the CPU count
  int min = 0;                        // resolved: size when warm and unset
  bool started = false;               // warm at start, or after its first run
  std::set<pid_t> processes;          // alive, retiring ones included
  int failures = 0;                   // consecutive crashes or protocol breaks
  JobRunner::TimePoint next_start{};  // no start before (back-off)
  uint64_t starts = 0;
};

struct JobRunner::Job {
  JobConfig config;
  std::string executable;  // resolved; empty with resolve_error set
  std::string resolve_error;
  int resolve_errno = 0;
  int concurrency = 1;
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
  JobSchedule schedule;
  std::deque<uint64_t> queue;
  int running = 0;
  std::string last_result;
  double last_finished = 0;
  std::optional<JobPool> pool;
};

}  // namespace corefork
