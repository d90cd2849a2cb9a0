#include "admin/waiting_room.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <vector>

#include "admin/admin_test_support.h"

namespace corefork {
namespace {

using std::chrono::milliseconds;
using testing::WaitUntil;
using Clock = WaitingRoom::Clock;

struct Pair {
  Pair() {
    int fds[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    parked.Reset(fds[0]);
    peer.Reset(fds[1]);
  }
  Fd parked, peer;
};

TEST(AdminWaitingRoomTest, ReadyOrExpired) {
  struct Case {
    std::string name;
    milliseconds deadline;
    std::function<void(Pair&)> client;  // what the peer does once parked
    bool ready;
  };
  const std::vector<Case> cases = {
      {"data arrives", milliseconds(10'000),
       [](Pair& p) { ASSERT_EQ(write(p.peer.get(), "x", 1), 1); }, true},
      {"peer hangs up", milliseconds(10'000), [](Pair& p) { p.peer.Reset(); },
       true},
      {"nothing comes", milliseconds(30), [](Pair&) {}, false},
  };
  WaitingRoom room;
  for (const Case& c : cases) {
    Pair pair;
    std::atomic<int> ready{0}, expired{0};
    ASSERT_TRUE(room.Park(
        pair.parked.get(), Clock::now() + c.deadline, [&] { ++ready; },
        [&] { ++expired; }))
        << c.name;
    EXPECT_EQ(room.parked(), 1u) << c.name;
    c.client(pair);
    EXPECT_TRUE(WaitUntil([&] { return ready + expired == 1; })) << c.name;
    EXPECT_EQ(ready, c.ready ? 1 : 0) << c.name;
    EXPECT_EQ(expired, c.ready ? 0 : 1) << c.name;
    EXPECT_EQ(room.parked(), 0u) << c.name;
  }
}

TEST(AdminWaitingRoomTest, ANearerDeadlineWakesTheRoom) {
  WaitingRoom room;
  Pair far, near;
  std::atomic<bool> near_expired{false};
  room.Park(
      far.parked.get(), Clock::now() + milliseconds(60'000), [] {}, [] {});
  auto start = Clock::now();
  room.Park(
      near.parked.get(), Clock::now() + milliseconds(20), [] {},
      [&] { near_expired = true; });
  EXPECT_TRUE(WaitUntil([&] { return near_expired.load(); }));
  EXPECT_LT(Clock::now() - start, milliseconds(1'000));
  EXPECT_EQ(room.parked(), 1u);
}

TEST(AdminWaitingRoomTest, ShutdownExpiresEverythingAndRefusesMore) {
  WaitingRoom room;
  std::vector<Pair> pairs(5);
  std::atomic<int> expired{0};
  for (Pair& p : pairs) {
    room.Park(
        p.parked.get(), Clock::now() + milliseconds(60'000), [] {},
        [&] { ++expired; });
  }
  room.Shutdown();
  EXPECT_EQ(expired, 5);
  EXPECT_EQ(room.parked(), 0u);
  Pair late;
  EXPECT_FALSE(room.Park(
      late.parked.get(), Clock::now(), [] {}, [] {}));
}

// A callback may park again (the server re-parks a kept-alive connection
// from a pool thread, but nothing stops it from happening on the room's).
TEST(AdminWaitingRoomTest, CallbacksMayParkAgain) {
  WaitingRoom room;
  Pair pair;
  std::atomic<int> rounds{0};
  std::function<void()> on_ready = [&] {
    char c;
    ASSERT_EQ(read(pair.parked.get(), &c, 1), 1);
    if (++rounds < 3) {
      room.Park(pair.parked.get(), Clock::now() + milliseconds(10'000),
                on_ready, [] {});
    }
  };
  room.Park(pair.parked.get(), Clock::now() + milliseconds(10'000), on_ready,
            [] {});
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(write(pair.peer.get(), "x", 1), 1);
    EXPECT_TRUE(WaitUntil([&] { return rounds == i + 1; })) << i;
  }
}

}  // namespace
}  // namespace corefork
