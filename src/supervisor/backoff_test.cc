#include "supervisor/backoff.h"

#include <gtest/gtest.h>

namespace corefork {
namespace {

using std::chrono::milliseconds;

RestartConfig Policy(int max_failures) {
  RestartConfig c;
  c.initial_delay = milliseconds(100);
  c.factor = 2;
  c.max_delay = milliseconds(500);
  c.reset_after = milliseconds(10'000);
  c.max_failures = max_failures;
  return c;
}

TEST(BackoffTest, DelaysGrowThenCap) {
  RestartBackoff backoff(Policy(0));
  const int expected[] = {100, 200, 400, 500, 500};
  for (int i = 0; i < 5; ++i) {
    std::optional<Duration> delay = backoff.OnExit(milliseconds(10));
    ASSERT_TRUE(delay.has_value()) << "failure " << i;
    EXPECT_EQ(delay->count(), expected[i]) << "failure " << i;
  }
  EXPECT_EQ(backoff.consecutive_failures(), 5);
}

TEST(BackoffTest, GivesUpAtMaxFailuresInARow) {
  RestartBackoff backoff(Policy(3));
  EXPECT_TRUE(backoff.OnExit(milliseconds(1)).has_value());
  EXPECT_TRUE(backoff.OnExit(milliseconds(1)).has_value());
  EXPECT_FALSE(backoff.OnExit(milliseconds(1)).has_value());
}

TEST(BackoffTest, ALongRunResetsTheCountAndTheDelay) {
  RestartBackoff backoff(Policy(3));
  backoff.OnExit(milliseconds(1));
  backoff.OnExit(milliseconds(1));
  std::optional<Duration> delay = backoff.OnExit(milliseconds(10'000));
  ASSERT_TRUE(delay.has_value()) << "a worker that ran long enough is forgiven";
  EXPECT_EQ(delay->count(), 100);
  EXPECT_EQ(backoff.consecutive_failures(), 1);
}

TEST(BackoffTest, FactorOneKeepsTheDelay) {
  RestartConfig c = Policy(0);
  c.factor = 1;
  RestartBackoff backoff(c);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(backoff.OnExit(milliseconds(1))->count(), 100);
}

}  // namespace
}  // namespace corefork
