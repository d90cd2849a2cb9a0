// RunHistory: count, age and output-byte limits, oldest first.

#include "jobs/run_history.h"

#include <gtest/gtest.h>

#include <vector>

namespace corefork {
namespace {

using Ids = std::vector<uint64_t>;

JobHistoryConfig Limits(int max_runs, int64_t max_age_ms, uint64_t max_bytes) {
  JobHistoryConfig c;
  c.max_runs = max_runs;
  c.max_age = Duration(max_age_ms);
  c.max_bytes = max_bytes;
  return c;
}

TEST(RunHistoryTest, DropsTheOldestOutputFirstAndKeepsTheRecords) {
  RunHistory h(Limits(100, 3'600'000, 250));
  EXPECT_EQ(h.Add(1, 10, 100, 10).drop_output, Ids{});
  EXPECT_EQ(h.Add(2, 11, 100, 11).drop_output, Ids{});
  RunHistory::Evictions e = h.Add(3, 12, 100, 12);
  EXPECT_EQ(e.drop_output, Ids{1});
  EXPECT_EQ(e.forget, Ids{});
  EXPECT_EQ(h.output_bytes(), 200u);
  EXPECT_EQ(h.size(), 3u);
  // Runs without output cost nothing and are never reported.
  EXPECT_EQ(h.Add(4, 13, 0, 13).drop_output, Ids{});
  EXPECT_EQ(h.Add(5, 14, 200, 14).drop_output, (Ids{2, 3}));
  EXPECT_EQ(h.output_bytes(), 200u);
}

TEST(RunHistoryTest, ARunAloneOverTheBudgetLosesItsOutputToo) {
  RunHistory h(Limits(100, 3'600'000, 50));
  EXPECT_EQ(h.Add(1, 1, 40, 1).drop_output, Ids{});
  EXPECT_EQ(h.Add(2, 2, 80, 2).drop_output, (Ids{1, 2}));
  EXPECT_EQ(h.output_bytes(), 0u);
  EXPECT_EQ(h.Add(3, 3, 10, 3).drop_output, Ids{});
  EXPECT_EQ(h.output_bytes(), 10u);
}

TEST(RunHistoryTest, ForgetsByCountAndByAge) {
  RunHistory h(Limits(2, 60'000, 1000));
  h.Add(1, 100, 10, 100);
  h.Add(2, 101, 10, 101);
  RunHistory::Evictions e = h.Add(3, 102, 10, 102);
  EXPECT_EQ(e.forget, Ids{1});
  EXPECT_EQ(h.output_bytes(), 20u);
  EXPECT_EQ(h.Prune(161.5).forget, Ids{2});  // 60 s after run 2
  EXPECT_EQ(h.Prune(300).forget, Ids{3});
  EXPECT_EQ(h.size(), 0u);
  EXPECT_EQ(h.output_bytes(), 0u);
}

TEST(RunHistoryTest, ForgettingRunsWhoseOutputWasDroppedKeepsTheBooks) {
  RunHistory h(Limits(3, 3'600'000, 100));
  for (uint64_t id = 1; id <= 20; ++id) {
    RunHistory::Evictions e = h.Add(id, id, 60, id);
    EXPECT_LE(h.output_bytes(), 100u) << "after run " << id;
    EXPECT_LE(h.size(), 3u);
    if (id > 1) {
      EXPECT_EQ(e.drop_output, Ids{id - 1}) << "after run " << id;
    }
  }
  EXPECT_EQ(h.output_bytes(), 60u);
}

TEST(RunHistoryTest, ZeroRunsKeepsNothing) {
  RunHistory h(Limits(0, 3'600'000, 100));
  EXPECT_EQ(h.Add(1, 1, 10, 1).forget, Ids{1});
  EXPECT_EQ(h.size(), 0u);
  EXPECT_EQ(h.output_bytes(), 0u);
}

}  // namespace
}  // namespace corefork
