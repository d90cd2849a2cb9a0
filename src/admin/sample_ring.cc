#include "admin/sample_ring.h"

#include <algorithm>

namespace corefork {
namespace {

std::optional<double> CpuPercent(const SampleRing::Reading& now,
                                 double now_unix,
                                 const std::optional<double>& last_unix,
                                 const SampleRing::Reading& last) {
  double used = now.cpu_seconds;
  double since = now.start_unix_seconds;
  if (last_unix && last.pid == now.pid) {
    used -= last.cpu_seconds;
    since = *last_unix;
  }
  const double wall = now_unix - since;
  // A process younger than a clock tick has no meaningful rate yet.
  if (wall < 0.01 || used < 0) return std::nullopt;
  return 100.0 * used / wall;
}

}  // namespace

SampleRing::SampleRing(size_t max_slots, size_t capacity)
    : max_slots_(max_slots), capacity_(std::max<size_t>(capacity, 1)) {
  rings_.reserve(max_slots_);
}

void SampleRing::Add(int slot, double unix_seconds,
                     std::optional<Reading> reading) {
  if (slot < 0 || static_cast<size_t>(slot) >= max_slots_) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (rings_.size() <= static_cast<size_t>(slot)) rings_.resize(slot + 1);
  Ring& ring = rings_[slot];
  if (ring.samples.empty()) ring.samples.resize(capacity_);
  std::optional<double> last_unix;
  if (ring.size > 0) {
    last_unix =
        ring.samples[(ring.next + capacity_ - 1) % capacity_].unix_seconds;
  }
  Sample sample;
  sample.unix_seconds = unix_seconds;
  if (reading && reading->pid > 0) {
    sample.pid = reading->pid;
    sample.rss_bytes = reading->rss_bytes;
    sample.cpu_percent =
        CpuPercent(*reading, unix_seconds, last_unix, ring.last);
    ring.last = *reading;
  } else {
    ring.last = Reading{};
  }
  ring.samples[ring.next] = sample;
  ring.next = (ring.next + 1) % capacity_;
  ring.size = std::min(ring.size + 1, capacity_);
}

std::vector<SampleRing::Sample> SampleRing::History(int slot) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Sample> out;
  if (slot < 0 || static_cast<size_t>(slot) >= rings_.size()) return out;
  const Ring& ring = rings_[slot];
  out.reserve(ring.size);
  size_t first = (ring.next + capacity_ - ring.size) % capacity_;
  for (size_t i = 0; i < ring.size; ++i) {
    out.push_back(ring.samples[(first + i) % capacity_]);
  }
  return out;
}

std::optional<SampleRing::Sample> SampleRing::Latest(int slot) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (slot < 0 || static_cast<size_t>(slot) >= rings_.size()) {
    return std::nullopt;
  }
  const Ring& ring = rings_[slot];
  if (ring.size == 0) return std::nullopt;
  return ring.samples[(ring.next + capacity_ - 1) % capacity_];
}

}  // namespace corefork
