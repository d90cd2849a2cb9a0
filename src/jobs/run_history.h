// RunHistory: which finished job runs to keep, and how much of their output.
// Records are kept by count (max_runs) and age (max_age); the captured output
// of all kept runs together stays within max_bytes: past it, the oldest
// runs' output goes first and their records stay. It holds only ids and
// sizes: the JobRunner owns the runs and applies the Evictions it gets back.
// Loop thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

#include "config/config.h"

namespace corefork {

class RunHistory {
 public:
  struct Evictions {
    std::vector<uint64_t> drop_output;  // free the output, keep the record
    std::vector<uint64_t> forget;       // remove the record (and its output)
  };

  explicit RunHistory(JobHistoryConfig limits) : limits_(limits) {}

  // Run `id` finished at `finished_unix` with `output_bytes` captured.
  // Returns what no longer fits, this run included if it alone is too big.
  Evictions Add(uint64_t id, double finished_unix, uint64_t output_bytes,
                double now_unix);
  // Records older than max_age at `now_unix`.
  Evictions Prune(double now_unix);

  size_t size() const { return entries_.size(); }
  uint64_t output_bytes() const { return output_bytes_; }

 private:
  struct Entry {
    uint64_t id;
    double finished_unix;
    uint64_t output_bytes;  // 0 once dropped
  };

  void Forget(double now_unix, Evictions* out);
  void DropOutput(Evictions* out);

  JobHistoryConfig limits_;
  std::deque<Entry> entries_;  // oldest first
  // entries_[0, dropped_) have no output left: dropping always goes oldest
  // first, so the next candidate is found without a scan.
  size_t dropped_ = 0;
  uint64_t output_bytes_ = 0;
};

}  // namespace corefork
