#include "net/listener.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

namespace corefork {
namespace {

Fd ConnectLoopback(int port) {
  Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr),
            0);
  return fd;
}

// Accepts whatever is queued on `fd` without blocking; returns the count.
int DrainAccepts(int fd) {
  int count = 0;
  pollfd p = {fd, POLLIN, 0};
  while (poll(&p, 1, 0) == 1) {
    Fd conn(accept4(fd, nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn.valid()) break;
    ++count;
  }
  return count;
}

ListenerConfig Loopback(ShareMode mode) {
  ListenerConfig c;
  c.host = "127.0.0.1";
  c.port = 0;
  c.mode = mode;
  return c;
}

TEST(ListenerTest, ReusePortGivesEachSlotItsOwnSocketOnOnePort) {
  ListenerSet set({Loopback(ShareMode::kReusePort)});
  ASSERT_TRUE(set.Open(2).ok());
  int a = set.FdsForSlot(0)[0], b = set.FdsForSlot(1)[0];
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  EXPECT_NE(a, b);
  EXPECT_EQ(LocalPort(a).value(), LocalPort(b).value());
  EXPECT_EQ(set.FirstPort(), LocalPort(a).value());

  // The kernel spreads connections over the group: both sockets get some.
  std::vector<Fd> clients;
  for (int i = 0; i < 64; ++i)
    clients.push_back(ConnectLoopback(set.FirstPort()));
  int on_a = DrainAccepts(a), on_b = DrainAccepts(b);
  EXPECT_EQ(on_a + on_b, 64);
  EXPECT_GT(on_a, 0);
  EXPECT_GT(on_b, 0);
}

TEST(ListenerTest, QueuedConnectionsSurviveWhileCoreforkHoldsTheSlot) {
  ListenerSet set({Loopback(ShareMode::kReusePort)});
  ASSERT_TRUE(set.Open(1).ok());
  // No worker is accepting: connections wait in the slot socket's backlog.
  Fd client = ConnectLoopback(set.FirstPort());
  EXPECT_EQ(DrainAccepts(set.FdsForSlot(0)[0]), 1);
}

TEST(ListenerTest, SharedModeUsesOneSocketForAllSlots) {
  ListenerSet set({Loopback(ShareMode::kShared)});
  ASSERT_TRUE(set.Open(3).ok());
  EXPECT_EQ(set.FdsForSlot(0), set.FdsForSlot(2));
  set.CloseAll();
  EXPECT_EQ(set.FdsForSlot(0)[0], -1);
}

TEST(ListenerTest, ScalingAddsAndRemovesSlotSockets) {
  ListenerSet set({Loopback(ShareMode::kReusePort)});
  ASSERT_TRUE(set.Open(1).ok());
  EXPECT_EQ(set.FdsForSlot(1)[0], -1);
  ASSERT_TRUE(set.EnsureSlot(1).ok());
  EXPECT_GE(set.FdsForSlot(1)[0], 0);
  set.CloseSlot(1);
  EXPECT_EQ(set.FdsForSlot(1)[0], -1);
}

TEST(ListenerTest, NamesFollowConfigOrder) {
  ListenerConfig web = Loopback(ShareMode::kShared), grpc = web;
  web.name = "web";
  grpc.name = "grpc";
  ListenerSet set({web, grpc});
  ASSERT_TRUE(set.Open(1).ok());
  EXPECT_EQ(set.FdNames(), "web:grpc");
  EXPECT_EQ(set.FdsForSlot(0).size(), 2u);
}

TEST(ListenerTest, PortInUseNamesTheAddress) {
  Result<Fd> taken = BindListener("127.0.0.1", 0, 16, false);
  ASSERT_TRUE(taken.ok());
  int port = LocalPort(taken->get()).value();
  Result<Fd> again = BindListener("127.0.0.1", port, 16, true);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().message(), "bind 127.0.0.1:" + std::to_string(port) +
                                          ": Address already in use");
}

TEST(ListenerTest, DualStackAnyAcceptsIpv4) {
  Result<Fd> any = BindListener("::", 0, 16, false);
  if (!any.ok()) GTEST_SKIP() << "no IPv6 here: " << any.status().message();
  Fd client = ConnectLoopback(LocalPort(any->get()).value());
  EXPECT_EQ(DrainAccepts(any->get()), 1);
}

}  // namespace
}  // namespace corefork
