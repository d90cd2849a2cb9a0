#include "jobs/run_history.h"

namespace corefork {

RunHistory::Evictions RunHistory::Add(uint64_t id, double finished_unix,
                                      uint64_t output_bytes, double now_unix) {
  entries_.push_back({id, finished_unix, output_bytes});
  output_bytes_ += output_bytes;
  Evictions out;
  Forget(now_unix, &out);
  DropOutput(&out);
  return out;
}

RunHistory::Evictions RunHistory::Prune(double now_unix) {
  Evictions out;
  Forget(now_unix, &out);
  return out;
}

void RunHistory::Forget(double now_unix, Evictions* out) {
  const double oldest = now_unix - limits_.max_age.count() / 1000.0;
  const size_t max_runs =
      limits_.max_runs > 0 ? static_cast<size_t>(limits_.max_runs) : 0;
  while (!entries_.empty() && (entries_.size() > max_runs ||
                               entries_.front().finished_unix < oldest)) {
    const Entry& e = entries_.front();
    output_bytes_ -= e.output_bytes;
    out->forget.push_back(e.id);
    entries_.pop_front();
    if (dropped_ > 0) --dropped_;
  }
}

void RunHistory::DropOutput(Evictions* out) {
  while (output_bytes_ > limits_.max_bytes && dropped_ < entries_.size()) {
    Entry& e = entries_[dropped_++];
    if (e.output_bytes == 0) continue;
    output_bytes_ -= e.output_bytes;
    e.output_bytes = 0;
    out->drop_output.push_back(e.id);
  }
}

}  // namespace corefork
