#include "admin/sample_ring.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <memory>

#include "admin/resource_sampler.h"

namespace corefork {
namespace {

using Reading = SampleRing::Reading;

TEST(SampleRingTest, KeepsTheLastCapacitySamplesOldestFirst) {
  SampleRing ring(2, 3);
  for (int i = 0; i < 7; ++i) {
    ring.Add(1, 100 + 10 * i, Reading{50, 1.0 * i, uint64_t(i), 0});
  }
  std::vector<SampleRing::Sample> h = ring.History(1);
  ASSERT_EQ(h.size(), 3u);
  EXPECT_EQ(h[0].unix_seconds, 140);
  EXPECT_EQ(h[2].unix_seconds, 160);
  EXPECT_EQ(h[2].rss_bytes, 6u);
  ASSERT_TRUE(ring.Latest(1).has_value());
  EXPECT_EQ(ring.Latest(1)->unix_seconds, 160);
  EXPECT_TRUE(ring.History(0).empty());
  EXPECT_FALSE(ring.Latest(0).has_value());
}

TEST(SampleRingTest, SlotsPastTheCapAreNotKept) {
  SampleRing ring(2, 3);
  ring.Add(2, 1, Reading{5, 0, 1, 0});
  ring.Add(-1, 1, Reading{5, 0, 1, 0});
  EXPECT_TRUE(ring.History(2).empty());
  EXPECT_TRUE(ring.History(-1).empty());
}

TEST(SampleRingTest, CpuPercentPerPid) {
  struct Case {
    const char* name;
    Reading previous;
    double previous_at;
    std::optional<Reading> now;
    std::optional<double> want;
  } cases[] = {
      {"same pid: delta over the interval",
       {7, 2.0, 0, 50},
       100,
       Reading{7, 4.5, 0, 50},
       25.0},
      {"new pid: since it started",
       {7, 2.0, 0, 50},
       100,
       Reading{8, 1.0, 0, 108},
       50.0},
      {"no process", {7, 2.0, 0, 50}, 100, std::nullopt, std::nullopt},
      {"counter went back (pid reuse)",
       {7, 2.0, 0, 50},
       100,
       Reading{7, 1.0, 0, 50},
       std::nullopt},
      {"younger than a tick",
       {7, 2.0, 0, 50},
       100,
       Reading{9, 0, 0, 110},
       std::nullopt},
  };
  for (const Case& c : cases) {
    SampleRing ring(1, 4);
    ring.Add(0, c.previous_at, c.previous);
    ring.Add(0, 110, c.now);
    std::optional<SampleRing::Sample> last = ring.Latest(0);
    ASSERT_TRUE(last.has_value()) << c.name;
    ASSERT_EQ(last->cpu_percent.has_value(), c.want.has_value()) << c.name;
    if (c.want) {
      EXPECT_NEAR(*last->cpu_percent, *c.want, 1e-9) << c.name;
    }
    EXPECT_EQ(last->pid, c.now ? c.now->pid : -1) << c.name;
  }
}

// The sampler reads real /proc entries of the view's pids: this process
// for slot 0, none for slot 1 (backoff).
TEST(ResourceSamplerTest, SamplesTheViewsWorkers) {
  StateBoard board;
  auto view = std::make_shared<StateView>();
  view->desired_workers = 2;
  WorkerView w;
  w.id = 0;
  w.pid = getpid();
  w.state = "ready";
  view->workers.push_back(w);
  board.Publish(view);
  SampleRing ring(4, 90);
  ResourceSampler sampler(&board, &ring, std::chrono::milliseconds(20));
  sampler.Start();
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (ring.History(0).size() < 3 &&
         std::chrono::steady_clock::now() < deadline) {
    // Burn some CPU so the rate is visible; bounded by the deadline.
    volatile double x = 0;
    for (int i = 0; i < 100000; ++i) x = x + i;
  }
  sampler.Stop();
  std::vector<SampleRing::Sample> h = ring.History(0);
  ASSERT_GE(h.size(), 3u);
  EXPECT_EQ(h.back().pid, getpid());
  ASSERT_TRUE(h.back().rss_bytes.has_value());
  EXPECT_GT(*h.back().rss_bytes, 1u << 20);
  EXPECT_TRUE(h.back().cpu_percent.has_value());
  std::vector<SampleRing::Sample> empty_slot = ring.History(1);
  ASSERT_FALSE(empty_slot.empty());
  EXPECT_EQ(empty_slot.back().pid, -1);
  EXPECT_FALSE(empty_slot.back().rss_bytes.has_value());
}

}  // namespace
}  // namespace corefork
