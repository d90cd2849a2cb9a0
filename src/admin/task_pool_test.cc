#include "admin/task_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "admin/admin_test_support.h"

namespace corefork {
namespace {

using std::chrono::milliseconds;
using testing::WaitUntil;

// Tasks that block until Open(); stands in for connections held by clients.
class Gate {
 public:
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    ++waiting_;
    cv_.wait(lock, [&] { return open_; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  int waiting() {
    std::lock_guard<std::mutex> lock(mu_);
    return waiting_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  int waiting_ = 0;
};

struct GrowthCase {
  std::string name;
  size_t min_threads, max_threads;
  int blocking_tasks;
  size_t threads, queued;  // expected while every thread is blocked
};

TEST(TaskPoolTest, GrowsToMaxThenQueues) {
  const std::vector<GrowthCase> cases = {
      {"below max: one thread per task", 2, 8, 5, 5, 0},
      {"at max: the rest waits", 2, 4, 7, 4, 3},
      {"min threads stay when few tasks", 3, 8, 1, 3, 0},
      {"min above max is clamped", 9, 2, 3, 2, 1},
  };
  for (const GrowthCase& c : cases) {
    Gate gate;
    std::atomic<int> done{0};
    TaskPool pool({c.min_threads, c.max_threads, milliseconds(60'000)});
    for (int i = 0; i < c.blocking_tasks; ++i) {
      ASSERT_TRUE(pool.Enqueue([&] {
        gate.Wait();
        ++done;
      })) << c.name;
    }
    int running =
        static_cast<int>(std::min<size_t>(c.blocking_tasks, c.threads));
    ASSERT_TRUE(WaitUntil([&] { return gate.waiting() == running; })) << c.name;
    EXPECT_EQ(pool.threads(), c.threads) << c.name;
    EXPECT_EQ(pool.queued(), c.queued) << c.name;
    gate.Open();
    ASSERT_TRUE(WaitUntil([&] { return done == c.blocking_tasks; })) << c.name;
  }
}

TEST(TaskPoolTest, IdleThreadsExitDownToMin) {
  Gate gate;
  TaskPool pool({2, 16, milliseconds(50)});
  for (int i = 0; i < 10; ++i) pool.Enqueue([&] { gate.Wait(); });
  ASSERT_TRUE(WaitUntil([&] { return gate.waiting() == 10; }));
  EXPECT_EQ(pool.threads(), 10u);
  gate.Open();
  EXPECT_TRUE(WaitUntil([&] { return pool.threads() == 2; }))
      << pool.threads() << " threads left";
  // The survivors still work.
  std::atomic<bool> ran{false};
  pool.Enqueue([&] { ran = true; });
  EXPECT_TRUE(WaitUntil([&] { return ran.load(); }));
}

TEST(TaskPoolTest, ShutdownRunsQueuedTasksThenRefusesMore) {
  Gate gate;
  std::atomic<int> done{0};
  TaskPool pool({1, 1, milliseconds(60'000)});
  pool.Enqueue([&] { gate.Wait(); });
  for (int i = 0; i < 5; ++i) pool.Enqueue([&] { ++done; });
  ASSERT_TRUE(WaitUntil([&] { return gate.waiting() == 1; }));
  EXPECT_EQ(pool.queued(), 5u);
  gate.Open();
  pool.Shutdown();
  EXPECT_EQ(done, 5);
  EXPECT_EQ(pool.threads(), 0u);
  EXPECT_FALSE(pool.Enqueue([] {}));
  pool.Shutdown();  // idempotent
}

TEST(TaskPoolTest, ThrowingTaskDoesNotKillThePool) {
  TaskPool pool({1, 1, milliseconds(60'000)});
  pool.Enqueue([] { throw std::runtime_error("boom"); });
  std::atomic<bool> ran{false};
  pool.Enqueue([&] { ran = true; });
  EXPECT_TRUE(WaitUntil([&] { return ran.load(); }));
  EXPECT_EQ(pool.threads(), 1u);
}

}  // namespace
}  // namespace corefork
