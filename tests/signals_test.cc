// Whole-binary tests of corefork's signal handling: graceful shutdown with
// requests in flight, the drain delay and its short-cut, fast shutdown,
// forwarding, and workers dying with a SIGKILLed corefork.
#include <signal.h>

#include <string>

#include "support/harness.h"

namespace corefork::harness {
namespace {

using std::chrono::milliseconds;

class SignalsTest : public CoreforkTest {
 protected:
  // hello with `workers` workers on a free port (*port) and the given extra
  // flags.
  Process& StartHello(int* port, int workers,
                      const std::vector<std::string>& flags) {
    return StartCoreforkOnFreePort(
        [&](int p) {
          std::vector<std::string> args = flags;
          std::vector<std::string> hello = HelloArgs(p, workers);
          args.insert(args.end(), hello.begin(), hello.end());
          return args;
        },
        {}, port);
  }
};

TEST_F(SignalsTest, SigtermFinishesInFlightRequestsAndExits0) {
  int port = 0;
  Process& cf = StartHello(
      &port, 2, {"--drain-delay", "300ms", "--shutdown-timeout", "5s"});
  ASSERT_TRUE(WaitServing(cf, port));
  std::vector<pid_t> workers = WaitChildren(cf, 2);
  ASSERT_EQ(workers.size(), 2u);

  constexpr int kInFlight = 3;
  std::vector<std::unique_ptr<HttpConnection>> slow;
  for (int i = 0; i < kInFlight; ++i) {
    auto c = std::make_unique<HttpConnection>();
    ASSERT_TRUE(c->Connect("127.0.0.1", port, milliseconds(1000)));
    ASSERT_TRUE(c->SendGet("/slow?ms=1500"));
    slow.push_back(std::move(c));
  }
  // In flight = accepted by a worker, not merely queued.
  ASSERT_TRUE(PollUntil([&] { return AcceptedConnections(port) >= kInFlight; },
                        milliseconds(1000)))
      << "only " << AcceptedConnections(port)
      << " slow requests accepted (does hello serve concurrently?)";

  const auto sigterm_at = Clock::now();
  ASSERT_TRUE(cf.Signal(SIGTERM));

  // The drain delay keeps serving new requests.
  HttpResponse during = HttpGet("127.0.0.1", port, "/", milliseconds(2000));
  const auto answered_after = Clock::now() - sigterm_at;
  EXPECT_EQ(during.status, 200)
      << "request during the drain delay: " << during.ToString();
  EXPECT_LT(answered_after, milliseconds(300))
      << "the request during drain was not answered within the drain delay";

  for (int i = 0; i < kInFlight; ++i) {
    HttpResponse r = slow[i]->ReadResponse(milliseconds(5000));
    EXPECT_EQ(r.status, 200)
        << "in-flight request " << i << ": " << r.ToString();
  }
  std::optional<int> code = cf.WaitExit(milliseconds(5000));
  ASSERT_TRUE(code.has_value()) << "corefork still running after SIGTERM";
  EXPECT_EQ(*code, 0);
  // corefork waited for (and reaped) its workers before exiting.
  EXPECT_TRUE(AllGone(workers)) << States(workers);
}

TEST_F(SignalsTest, SignalsAreForwardedToEveryWorker) {
  const std::string dir = tmp_.path();
  const std::string script = "f=" + dir +
                             "/sig.$COREFORK_WORKER_ID; "
                             "trap 'echo usr1 >> $f' USR1; "
                             "trap 'echo usr2 >> $f' USR2; "
                             "trap 'echo winch >> $f' WINCH; "
                             "echo $$ > " +
                             dir +
                             "/ready.$COREFORK_WORKER_ID; "
                             "while :; do sleep 1 & wait $!; done";
  Process& cf = StartCoreforkOnFreePort([&](int port) {
    return std::vector<std::string>{
        "--workers",          "2",  "--host",  "127.0.0.1", "--port",
        std::to_string(port), "--", "/bin/sh", "-c",        script};
  });
  ASSERT_TRUE(PollUntil(
      [&] {
        return FileExists(dir + "/ready.0") && FileExists(dir + "/ready.1");
      },
      milliseconds(5000)))
      << "workers did not start";

  struct Case {
    int sig;
    std::string word;
  };
  for (const Case& c : {Case{SIGUSR1, "usr1"}, Case{SIGUSR2, "usr2"},
                        Case{SIGWINCH, "winch"}}) {
    ASSERT_TRUE(cf.Signal(c.sig)) << c.word;
    for (const char* id : {"0", "1"}) {
      const std::string file = dir + "/sig." + id;
      EXPECT_TRUE(PollUntil(
          [&] { return ReadFile(file).find(c.word) != std::string::npos; },
          milliseconds(3000)))
          << "worker " << id << " never got " << c.word << "; file: '"
          << ReadFile(file) << "'";
    }
    EXPECT_TRUE(cf.Running()) << "corefork died of " << c.word;
  }
}

// A second SIGTERM (or SIGINT) during a long drain skips the rest of it.
class SecondSignalTest : public SignalsTest,
                         public ::testing::WithParamInterface<int> {};

TEST_P(SecondSignalTest, SecondSignalSkipsTheDrain) {
  const int sig = GetParam();
  int port = 0;
  Process& cf = StartHello(
      &port, 1, {"--drain-delay", "30s", "--shutdown-timeout", "5s"});
  ASSERT_TRUE(WaitServing(cf, port));

  ASSERT_TRUE(cf.Signal(sig));
  // Signals of one kind merge while pending: the second must come after
  // corefork took the first.
  ASSERT_TRUE(PollUntil([&] { return !SignalPending(cf.pid(), sig); },
                        milliseconds(2000)))
      << "corefork never took the first signal";
  // Still draining: serving, not exiting.
  HttpResponse r = HttpGet("127.0.0.1", port, "/", milliseconds(2000));
  EXPECT_EQ(r.status, 200) << "during drain: " << r.ToString();
  // Nothing ends the drain early: corefork and its worker stay up.
  EXPECT_FALSE(cf.WaitExit(milliseconds(300)).has_value())
      << "exited on the first signal despite a 30s drain delay";
  EXPECT_EQ(HttpGet("127.0.0.1", port, "/", milliseconds(2000)).status, 200)
      << "stopped serving during the drain delay";

  const auto second_at = Clock::now();
  ASSERT_TRUE(cf.Signal(sig));
  std::optional<int> code = cf.WaitExit(milliseconds(5000));
  ASSERT_TRUE(code.has_value()) << "second signal did not end the drain";
  EXPECT_EQ(*code, 0);
  EXPECT_LT(Clock::now() - second_at, milliseconds(4000));
}

INSTANTIATE_TEST_SUITE_P(Signals, SecondSignalTest,
                         ::testing::Values(SIGTERM, SIGINT),
                         [](const auto& info) {
                           return std::string(sigabbrev_np(info.param));
                         });

TEST_F(SignalsTest, SigquitIsFastShutdown) {
  int port = 0;
  Process& cf = StartHello(
      &port, 2, {"--drain-delay", "30s", "--shutdown-timeout", "30s"});
  ASSERT_TRUE(WaitServing(cf, port));
  std::vector<pid_t> workers = WaitChildren(cf, 2);
  ASSERT_EQ(workers.size(), 2u);

  const auto quit_at = Clock::now();
  ASSERT_TRUE(cf.Signal(SIGQUIT));
  std::optional<int> code = cf.WaitExit(milliseconds(3000));
  ASSERT_TRUE(code.has_value()) << "SIGQUIT did not stop corefork fast";
  EXPECT_EQ(*code, 131);
  EXPECT_LT(Clock::now() - quit_at, milliseconds(2000));
  EXPECT_TRUE(PollUntil(
      [&] {
        ReapOrphans();
        return AllGone(workers);
      },
      milliseconds(2000)))
      << "workers left after SIGQUIT: " << States(workers);
}

TEST_F(SignalsTest, WorkersDieWithCorefork) {
  int port = 0;
  Process& cf = StartHello(&port, 2, {});
  ASSERT_TRUE(WaitServing(cf, port));
  std::vector<pid_t> workers = WaitChildren(cf, 2);
  ASSERT_EQ(workers.size(), 2u);

  ASSERT_TRUE(cf.Signal(SIGKILL));
  EXPECT_EQ(cf.WaitExit(milliseconds(3000)), std::optional<int>(137));
  // Orphans come to the test (subreaper); PR_SET_PDEATHSIG must kill them.
  EXPECT_TRUE(PollUntil(
      [&] {
        ReapOrphans();
        return AllGone(workers);
      },
      milliseconds(3000)))
      << "workers outlived corefork: " << States(workers);
  EXPECT_NE(HttpGet("127.0.0.1", port, "/", milliseconds(500)).status, 200);
}

}  // namespace
}  // namespace corefork::harness
