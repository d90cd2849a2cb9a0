// ResourceSampler: a thread that, every `interval`, reads each worker's CPU
// time and RSS from /proc (the pids of the StateBoard's current view) into a
// SampleRing. Off the event loop: the loop never waits for /proc. Owns its
// thread; Start/Stop from the owner's thread. The board and the ring are
// borrowed and must outlive Stop().
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "admin/sample_ring.h"
#include "supervisor/state.h"

namespace corefork {

class ResourceSampler {
 public:
  ResourceSampler(const StateBoard* board, SampleRing* ring,
                  std::chrono::milliseconds interval,
                  std::string proc_root = "/proc");
  ~ResourceSampler();  // Stop()s
  ResourceSampler(const ResourceSampler&) = delete;
  ResourceSampler& operator=(const ResourceSampler&) = delete;

  // Takes the first sample at once, then one per interval (every second
  // while no worker process has been read yet, so the charts start when the
  // workers do, not up to an interval later).
  void Start();
  void Stop();  // wakes the thread and joins it; at most one /proc round late
  // One round now, on the caller's thread (tests); how many processes it
  // read. Rounds that read nothing are recorded only once one has.
  int SampleOnce();

 private:
  void Run();

  const StateBoard* board_;
  SampleRing* ring_;
  const std::chrono::milliseconds interval_;
  const std::string proc_root_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  bool warm_ = false;  // a process has been read: record every round now
  std::thread thread_;
};

}  // namespace corefork
