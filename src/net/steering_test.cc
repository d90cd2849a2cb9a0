#include "net/steering.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <set>
#include <string>
#include <vector>

#include "net/listener.h"

namespace corefork {
namespace {

constexpr int kGroup = 4;
// Line ports per test process, so tests running side by side (ctest -j)
// do not share them.
const LinePorts kLines{static_cast<uint16_t>(8000 + (getpid() % 400) * 32), 8};

// A reuseport group of kGroup sockets on one port, in slot order.
struct Group {
  std::vector<Fd> fds;
  int port = 0;

  explicit Group(const std::string& host) {
    for (int slot = 0; slot < kGroup; ++slot) {
      Result<Fd> fd = BindListener(host, port, 64, /*reuseport=*/true);
      EXPECT_TRUE(fd.ok()) << fd.status().message();
      if (!fd.ok()) return;
      if (port == 0) port = *LocalPort(fd->get());
      fds.push_back(std::move(fd).value());
    }
  }
  std::vector<int> raw() const {
    std::vector<int> out;
    for (const Fd& fd : fds) out.push_back(fd.get());
    return out;
  }
  // Which socket the next connection arrived on (accepts and closes it);
  // -1 when none did within a second.
  int Arrived() const {
    std::vector<pollfd> p;
    for (const Fd& fd : fds) p.push_back({fd.get(), POLLIN, 0});
    if (poll(p.data(), p.size(), 1000) <= 0) return -1;
    for (size_t i = 0; i < p.size(); ++i) {
      if (p[i].revents & POLLIN) {
        close(accept4(fds[i].get(), nullptr, nullptr, SOCK_CLOEXEC));
        return static_cast<int>(i);
      }
    }
    return -1;
  }
};

sockaddr_storage Loopback(bool ipv6, int port, socklen_t* length) {
  sockaddr_storage to{};
  if (ipv6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&to);
    in6->sin6_family = AF_INET6;
    in6->sin6_addr = in6addr_loopback;
    in6->sin6_port = htons(port);
    *length = sizeof(sockaddr_in6);
  } else {
    auto* in = reinterpret_cast<sockaddr_in*>(&to);
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    in->sin_port = htons(port);
    *length = sizeof(sockaddr_in);
  }
  return to;
}

// An ordinary client: the kernel picks the source port.
Fd ConnectEphemeral(bool ipv6, int port) {
  socklen_t length;
  sockaddr_storage to = Loopback(ipv6, port, &length);
  Fd fd(socket(to.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_EQ(connect(fd.get(), reinterpret_cast<sockaddr*>(&to), length), 0);
  return fd;
}

void Attach(const Group& group, std::vector<int> serving) {
  Result<std::vector<sock_filter>> program =
      BuildSteeringProgram({kGroup, std::move(serving), kLines});
  ASSERT_TRUE(program.ok()) << program.status().message();
  Status s = AttachSteering(group.fds[0].get(), *program);
  ASSERT_TRUE(s.ok()) << s.message();
}

class SteeringTest : public testing::TestWithParam<bool> {};  // IPv6?

TEST_P(SteeringTest, SpreadsOnlyOverServingSlots) {
  const bool ipv6 = GetParam();
  Group group(ipv6 ? "::1" : "127.0.0.1");
  ASSERT_EQ(group.fds.size(), size_t{kGroup});
  Attach(group, {1, 3});
  std::multiset<int> arrived;
  for (int i = 0; i < 40; ++i) {
    Fd client = ConnectEphemeral(ipv6, group.port);
    arrived.insert(group.Arrived());
  }
  EXPECT_EQ(arrived.count(0) + arrived.count(2) + arrived.count(-1), 0u);
  EXPECT_GT(arrived.count(1), 0u);
  EXPECT_GT(arrived.count(3), 0u);
}

TEST_P(SteeringTest, ALinePortReachesItsSlotEvenIfNotServing) {
  const bool ipv6 = GetParam();
  Group group(ipv6 ? "::1" : "127.0.0.1");
  ASSERT_EQ(group.fds.size(), size_t{kGroup});
  Attach(group, {1});
  socklen_t length;
  sockaddr_storage to = Loopback(ipv6, group.port, &length);
  for (int round = 0; round < 3; ++round) {
    for (int slot = 0; slot < kGroup; ++slot) {
      // Each round uses the slot's next port (TIME_WAIT of the last one).
      Result<Fd> line =
          ConnectFrom(to, length, kLines.Port(slot, kGroup, round));
      ASSERT_TRUE(line.ok()) << line.status().message();
      EXPECT_EQ(group.Arrived(), slot) << "round " << round;
    }
  }
}

TEST_P(SteeringTest, SelfTestPassesInSlotOrderAndCatchesAnotherOrder) {
  const bool ipv6 = GetParam();
  Group group(ipv6 ? "::1" : "127.0.0.1");
  ASSERT_EQ(group.fds.size(), size_t{kGroup});
  Attach(group, {0, 1, 2, 3});
  Status s = SelfTest(group.raw(), group.port, ipv6, kLines, 2000);
  EXPECT_TRUE(s.ok()) << s.message();
  std::vector<int> swapped = group.raw();
  std::swap(swapped[1], swapped[2]);
  s = SelfTest(swapped, group.port, ipv6, kLines, 2000);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.message();
}

INSTANTIATE_TEST_SUITE_P(Families, SteeringTest, testing::Bool(),
                         [](const auto& info) {
                           return info.param ? "IPv6" : "IPv4";
                         });

TEST(SteeringProgramTest, NoServingSlotLeavesTheChoiceToTheKernel) {
  Group group("127.0.0.1");
  ASSERT_EQ(group.fds.size(), size_t{kGroup});
  Attach(group, {});
  std::set<int> arrived;
  for (int i = 0; i < 40; ++i) {
    Fd client = ConnectEphemeral(false, group.port);
    arrived.insert(group.Arrived());
  }
  EXPECT_EQ(arrived.count(-1), 0u) << "every connection still lands";
  EXPECT_GT(arrived.size(), 1u) << "spread by the kernel's own hash";
}

TEST(SteeringProgramTest, RefusesWhatDoesNotFit) {
  EXPECT_FALSE(BuildSteeringProgram({0, {}, kLines}).ok());
  EXPECT_FALSE(BuildSteeringProgram({2, {2}, kLines}).ok());
  EXPECT_FALSE(BuildSteeringProgram({8, {0}, LinePorts{65530, 8}}).ok());
  // 1000 slots with every other one serving still fit BPF_MAXINSNS.
  SteeringPlan big{1000, {}, kLines};
  for (int i = 0; i < 1000; i += 2) big.serving.push_back(i);
  big.lines.base = 1024;
  Result<std::vector<sock_filter>> program = BuildSteeringProgram(big);
  ASSERT_TRUE(program.ok()) << program.status().message();
  EXPECT_LE(program->size(), size_t{BPF_MAXINSNS});
}

}  // namespace
}  // namespace corefork
