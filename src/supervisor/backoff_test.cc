#include "supervisor/backoff.h"

#include <gtest/gtest.h>

namespace corefork {
namespace {

using std::chrono::milliseconds;
constexpr RestartBackoff::Cause kApp = RestartBackoff::Cause::kApp;
constexpr RestartBackoff::Cause kOutside = RestartBackoff::Cause::kOutside;

RestartConfig Policy(int max_failures) {
  RestartConfig c;
  c.initial_delay = milliseconds(100);
  c.factor = 2;
  c.max_delay = milliseconds(500);
  c.reset_after = milliseconds(1'000);
  c.max_failures = max_failures;
  return c;
}

TEST(BackoffTest, FirstFailureIsAtOnceThenDelaysGrowThenCap) {
  RestartBackoff backoff(Policy(0));
  const int expected[] = {0, 100, 200, 400, 500, 500};
  for (int i = 0; i < 6; ++i) {
    std::optional<Duration> delay = backoff.OnExit(milliseconds(10), kApp);
    ASSERT_TRUE(delay.has_value()) << "failure " << i;
    EXPECT_EQ(delay->count(), expected[i]) << "failure " << i;
  }
  EXPECT_EQ(backoff.consecutive_failures(), 6);
}

TEST(BackoffTest, NeverReadyCountsAsAFailure) {
  RestartBackoff backoff(Policy(0));
  EXPECT_EQ(backoff.OnExit(milliseconds(0), kApp)->count(), 0);
  EXPECT_EQ(backoff.OnExit(milliseconds(0), kApp)->count(), 100);
  EXPECT_EQ(backoff.consecutive_failures(), 2);
}

TEST(BackoffTest, GivesUpAtMaxFailuresInARow) {
  RestartBackoff backoff(Policy(3));
  EXPECT_TRUE(backoff.OnExit(milliseconds(1), kApp).has_value());
  EXPECT_TRUE(backoff.OnExit(milliseconds(1), kApp).has_value());
  EXPECT_FALSE(backoff.OnExit(milliseconds(1), kApp).has_value());
}

// A worker killed from outside every few seconds (a chaos test, the OOM
// killer on a leak) is restarted at once every time and never makes
// corefork give up.
TEST(BackoffTest, AGoodRunResetsTheCountAndRestartsAtOnce) {
  RestartBackoff backoff(Policy(3));
  backoff.OnExit(milliseconds(1), kApp);
  backoff.OnExit(milliseconds(1), kApp);
  for (int i = 0; i < 10; ++i) {
    std::optional<Duration> delay = backoff.OnExit(milliseconds(1'000), kApp);
    ASSERT_TRUE(delay.has_value()) << "a worker that served is forgiven";
    EXPECT_EQ(delay->count(), 0);
    EXPECT_EQ(backoff.consecutive_failures(), 1);
  }
  EXPECT_EQ(backoff.OnExit(milliseconds(999), kApp)->count(), 100)
      << "ready for less than reset_after: a failure in a row";
}

TEST(BackoffTest, KillsFromOutsideAfterReadyAreFreeAndNeverGiveUp) {
  RestartBackoff backoff(Policy(2));
  EXPECT_EQ(backoff.OnExit(milliseconds(1), kApp)->count(), 0);
  for (int i = 0; i < 20; ++i) {
    std::optional<Duration> delay = backoff.OnExit(milliseconds(50), kOutside);
    ASSERT_TRUE(delay.has_value());
    EXPECT_EQ(delay->count(), 0) << "kill " << i;
  }
  EXPECT_EQ(backoff.consecutive_failures(), 1) << "kills do not count";
  EXPECT_FALSE(backoff.OnExit(milliseconds(1), kApp).has_value())
      << "nor do they forgive: the app's second failure in a row";
}

// Killed while starting, again and again: each replacement waits
// initial_delay (no spinning), the delay does not grow (the slot's queued
// connections wait for a start, not for a back-off), and corefork never
// gives up.
TEST(BackoffTest, KillsFromOutsideBeforeReadyWaitInitialDelayAndNeverGiveUp) {
  RestartBackoff backoff(Policy(2));
  const int expected[] = {0, 100, 100, 100, 100, 100, 100, 100};
  for (int i = 0; i < 8; ++i) {
    std::optional<Duration> delay = backoff.OnExit(milliseconds(0), kOutside);
    ASSERT_TRUE(delay.has_value()) << "kill " << i;
    EXPECT_EQ(delay->count(), expected[i]) << "kill " << i;
  }
  EXPECT_EQ(backoff.consecutive_failures(), 0);
}

// Kills while starting do not grow the delay the app's own failures then
// pay either.
TEST(BackoffTest, KillsBeforeReadyDoNotGrowTheAppsDelay) {
  RestartBackoff backoff(Policy(0));
  EXPECT_EQ(backoff.OnExit(milliseconds(0), kOutside)->count(), 0);
  for (int i = 0; i < 5; ++i) backoff.OnExit(milliseconds(0), kOutside);
  EXPECT_EQ(backoff.OnExit(milliseconds(0), kApp)->count(), 100);
  EXPECT_EQ(backoff.OnExit(milliseconds(0), kApp)->count(), 200);
}

TEST(BackoffTest, FactorOneKeepsTheDelay) {
  RestartConfig c = Policy(0);
  c.factor = 1;
  RestartBackoff backoff(c);
  EXPECT_EQ(backoff.OnExit(milliseconds(1), kApp)->count(), 0);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(backoff.OnExit(milliseconds(1), kApp)->count(), 100);
}

}  // namespace
}  // namespace corefork
