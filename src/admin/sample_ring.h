// SampleRing: the last `capacity` CPU and memory samples of each worker slot
// (default 90 x 10 s = 15 minutes), for the status page's charts. Memory is
// fixed: at most `max_slots` slots (higher ones are not kept), each ring
// allocated once on first use and then overwritten in place. Thread-safe: the
// sampler thread adds, HTTP threads read (one mutex, held for copies only).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

namespace corefork {

class SampleRing {
 public:
  struct Sample {
    double unix_seconds = 0;
    pid_t pid = -1;                     // -1: the slot had no process
    std::optional<double> cpu_percent;  // of one CPU, over the last interval
    std::optional<uint64_t> rss_bytes;
  };

  // What was read for one slot's process at one instant (/proc/PID/stat).
  struct Reading {
    pid_t pid = -1;          // -1: no process
    double cpu_seconds = 0;  // utime + stime so far
    uint64_t rss_bytes = 0;
    double start_unix_seconds = 0;  // when the process started
  };

  SampleRing(size_t max_slots, size_t capacity);

  // Records slot `slot`'s reading at `unix_seconds` (nullopt: no process,
  // or it could not be read). CPU% is the CPU time used since this pid's
  // previous sample divided by the time between them; for a pid's first
  // sample, since the process started.
  void Add(int slot, double unix_seconds, std::optional<Reading> reading);

  // Oldest first; empty for a slot never sampled or over max_slots.
  std::vector<Sample> History(int slot) const;
  // The newest sample, if any.
  std::optional<Sample> Latest(int slot) const;

  size_t max_slots() const { return max_slots_; }
  size_t capacity() const { return capacity_; }

 private:
  struct Ring {
    std::vector<Sample> samples;  // capacity_ once allocated
    size_t next = 0;              // where the next sample goes
    size_t size = 0;
    Reading last;  // the raw reading behind the newest sample
  };

  const size_t max_slots_;
  const size_t capacity_;
  mutable std::mutex mu_;
  std::vector<Ring> rings_;  // index = slot id, grows up to max_slots_
};

}  // namespace corefork
