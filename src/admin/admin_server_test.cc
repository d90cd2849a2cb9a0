#include "admin/admin_server.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "admin/admin_test_support.h"

namespace corefork {
namespace {

using std::chrono::milliseconds;
using testing::Clock;
using testing::ConnectTcp;
using testing::Exchange;
using testing::FakeLoop;
using testing::RawResponse;
using testing::Reply;
using testing::WaitUntil;

std::optional<CommandReply> AnswerPings(const Command&) {
  return Reply(200, R"({"live":true})");
}
std::optional<CommandReply> Stuck(const Command&) { return std::nullopt; }

StateView View(int desired, int ready, int min_ready, bool draining = false) {
  StateView v;
  v.desired_workers = desired;
  v.ready_workers = ready;
  v.min_ready_workers = min_ready;
  v.draining = draining;
  for (int id = 0; id < desired; ++id) {
    WorkerView w;
    w.id = id;
    w.pid = id == 0 ? getpid() : -1;  // a live pid for /proc readers
    w.state = id < ready ? "ready" : "starting";
    w.ready = id < ready;
    v.workers.push_back(w);
  }
  return v;
}

class AdminServerTest : public ::testing::Test {
 protected:
  static AdminOptions Options() {
    AdminOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    return o;
  }
  void Publish(const StateView& view) {
    board_.Publish(std::make_shared<const StateView>(view));
  }
  // Starts a server on an ephemeral port; the test fails if it cannot.
  std::unique_ptr<AdminServer> Serve(AdminOptions options = Options()) {
    auto server = std::make_unique<AdminServer>(options, &board_, queue_.get(),
                                                &metrics_);
    Status s = server->Start();
    EXPECT_TRUE(s.ok()) << s.message();
    return server;
  }
  RawResponse Get(int port, const std::string& path,
                  const std::string& method = "GET") {
    return Exchange(ConnectTcp(port), method + " " + path +
                                          " HTTP/1.1\r\nHost: t\r\n"
                                          "Connection: close\r\n\r\n");
  }

  StateBoard board_;
  std::unique_ptr<CommandQueue> queue_ = CommandQueue::Create().value();
  Metrics metrics_{"0.1.0"};
};

TEST_F(AdminServerTest, Endpoints) {
  struct Case {
    std::string name;
    StateView view;
    std::string method, path;
    int status;
    std::string body;  // exact, newline included; "*" = not checked
  };
  const std::vector<Case> cases = {
      {"ready", View(2, 2, 1), "GET", "/readyz", 200,
       "{\"ready\":true,\"ready_workers\":2,\"desired_workers\":2}\n"},
      {"draining", View(2, 2, 1, true), "GET", "/readyz", 503,
       "{\"ready\":false,\"reason\":\"draining\",\"ready_workers\":2,"
       "\"desired_workers\":2}\n"},
      {"not enough ready", View(3, 2, 3), "GET", "/readyz", 503,
       "{\"ready\":false,\"reason\":\"2 of 3 workers ready, need 3\","
       "\"ready_workers\":2,\"desired_workers\":3}\n"},
      {"live", View(1, 1, 1), "GET", "/livez", 200, "{\"live\":true}\n"},
      {"live while draining", View(1, 0, 1, true), "GET", "/livez", 200,
       "{\"live\":true}\n"},
      {"HEAD has headers only", View(1, 1, 1), "HEAD", "/readyz", 200, ""},
      {"unknown path", View(1, 1, 1), "GET", "/nope", 404,
       "{\"error\":\"not found\"}\n"},
      {"unknown path, other method", View(1, 1, 1), "DELETE", "/x", 404,
       "{\"error\":\"not found\"}\n"},
      {"POST to a known path", View(1, 1, 1), "POST", "/livez", 405,
       "{\"error\":\"method not allowed; use GET or HEAD\"}\n"},
      {"status", View(1, 1, 1), "GET", "/status", 200, "*"},
  };
  FakeLoop loop(queue_.get(), AnswerPings);
  auto server = Serve();
  for (const Case& c : cases) {
    Publish(c.view);
    RawResponse r = Get(server->port(), c.path, c.method);
    EXPECT_EQ(r.status, c.status) << c.name;
    if (c.body != "*") {
      EXPECT_EQ(r.body, c.body) << c.name;
    }
    EXPECT_EQ(r.headers["content-type"], "application/json") << c.name;
    EXPECT_EQ(r.headers["cache-control"], "no-store") << c.name;
    if (c.status == 405) {
      EXPECT_EQ(r.headers["allow"], "GET, HEAD") << c.name;
    }
  }
}

TEST_F(AdminServerTest, StatusShowsSlotsWithRss) {
  StateView view = View(2, 1, 1);
  view.started_unix_seconds = 1.7e9;
  view.cgroup.version = "v2";
  view.workers[1].last_exit = "exited with 3";
  Publish(view);
  FakeLoop loop(queue_.get(), AnswerPings);  // no job list: "jobs": null
  auto server = Serve();
  RawResponse r = Get(server->port(), "/status");
  ASSERT_EQ(r.status, 200) << r.body;
  for (const std::string& part : std::vector<std::string>{
           "\"version\":\"" COREFORK_VERSION "\"",
           "\"started_at\":\"2023-11-14T22:13:20Z\"",
           "\"cgroup\":{\"version\":\"v2\"",
           "\"desired_workers\":2,\"actual_workers\":1,\"ready_workers\":1",
           "{\"id\":0,\"pid\":" + std::to_string(getpid()),
           "{\"id\":1,\"pid\":null,\"state\":\"starting\"",
           "\"last_exit\":\"exited with 3\""}) {
    EXPECT_NE(r.body.find(part), std::string::npos) << part << "\n" << r.body;
  }
  // Slot 0 is this process, so its RSS is known; slot 1 has no process.
  size_t slot0 = r.body.find("{\"id\":0,");
  size_t slot1 = r.body.find("{\"id\":1,");
  ASSERT_NE(slot1, std::string::npos);
  size_t rss0 = r.body.find("\"rss_bytes\":", slot0) + 12;
  size_t rss1 = r.body.find("\"rss_bytes\":", slot1) + 12;
  EXPECT_TRUE(std::isdigit(r.body[rss0])) << r.body;
  EXPECT_EQ(r.body.substr(rss1, 4), "null") << r.body;
}

TEST_F(AdminServerTest, MetricsAreTheRegistryInTextFormat) {
  metrics_.SetWorkers(2, {{"ready", 2}});
  Publish(View(2, 2, 1));
  auto server = Serve();
  httplib::Client client("127.0.0.1", server->port());
  auto res = client.Get("/metrics");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"),
            "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(res->body.find("corefork_workers{"), std::string::npos)
      << res->body;
}

TEST_F(AdminServerTest, LivezFailsWhenTheLoopDoesNotAnswer) {
  FakeLoop loop(queue_.get(), Stuck);
  AdminOptions options = Options();
  options.liveness_timeout = milliseconds(200);
  auto server = Serve(options);
  // Concurrent probes share one ping.
  std::vector<std::future<RawResponse>> probes;
  auto start = Clock::now();
  for (int i = 0; i < 4; ++i) {
    probes.push_back(std::async(std::launch::async,
                                [&] { return Get(server->port(), "/livez"); }));
  }
  for (auto& probe : probes) {
    RawResponse r = probe.get();
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(r.body,
              "{\"live\":false,\"reason\":\"event loop did not answer within "
              "200ms\"}\n");
  }
  EXPECT_GE(Clock::now() - start, milliseconds(200));
  EXPECT_EQ(loop.seen().size(), 1u) << "one ping in flight at most";
}

TEST_F(AdminServerTest, LivezPingsAgainOnceAnswered) {
  FakeLoop loop(queue_.get(), AnswerPings);
  auto server = Serve();
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(Get(server->port(), "/livez").status, 200);
  EXPECT_EQ(loop.seen().size(), 3u);
}

// Opens `idle` connections that send nothing and `slow` ones that send half
// a request and then a byte every 50 ms, and times GET /livez meanwhile.
double LivezMsWhileHeld(AdminServer& server, int idle_count, int slow_count) {
  std::vector<Fd> idle, slow;
  for (int i = 0; i < idle_count; ++i)
    idle.push_back(ConnectTcp(server.port()));
  for (int i = 0; i < slow_count; ++i) {
    slow.push_back(ConnectTcp(server.port()));
    testing::SendAll(slow.back().get(),
                     "GET /livez HTTP/1.1\r\nHost: t\r\nX-Slow: ");
  }
  std::atomic<bool> done{false};
  std::thread trickle([&] {
    while (!done) {
      for (Fd& fd : slow) testing::SendAll(fd.get(), "a");
      std::this_thread::sleep_for(milliseconds(50));
    }
  });
  // Every connection has been accepted before we measure.
  EXPECT_TRUE(WaitUntil([&] {
    return server.connections() >= idle_count + slow_count;
  })) << server.connections()
      << " connections open";
  auto start = Clock::now();
  RawResponse r = Exchange(ConnectTcp(server.port()),
                           "GET /livez HTTP/1.1\r\nHost: t\r\n"
                           "Connection: close\r\n\r\n");
  auto took = std::chrono::duration<double, std::milli>(Clock::now() - start);
  done = true;
  trickle.join();
  EXPECT_EQ(r.status, 200);
  EXPECT_GE(server.connections(), idle_count + slow_count)
      << "none were dropped to make room";
  for (Fd& fd : idle) {  // and none was answered or closed
    pollfd p = {fd.get(), POLLIN, 0};
    EXPECT_EQ(poll(&p, 1, 0), 0);
  }
  return took.count();
}

// The figure from the issue: connections held open by idle or slow clients
// must not keep /livez from answering within a second. Idle ones wait
// without a thread, so even a pool of two threads copes with them.
TEST_F(AdminServerTest, IdleAndSlowConnectionsDoNotStarveLivez) {
  struct Case {
    std::string name;
    int idle, slow;
  };
  const std::vector<Case> cases = {
      {"200 idle + 20 slow", 200, 20},
      {"500 idle", 500, 0},
  };
  FakeLoop loop(queue_.get(), AnswerPings);
  for (const Case& c : cases) {
    auto server = Serve(Options());
    double ms = LivezMsWhileHeld(*server, c.idle, c.slow);
    EXPECT_LT(ms, 1000.0) << c.name;
    std::cout << "[ latency  ] /livez, " << c.name << ": " << ms << " ms\n";
    RecordProperty("livez_ms, " + c.name, std::to_string(ms));
  }
}

TEST_F(AdminServerTest, RequestLimits) {
  struct Case {
    std::string name;
    std::string request;
    int status;
    std::string body_part;
  };
  std::string many_headers;
  for (int i = 0; i < 200; ++i) {
    many_headers += "X-H" + std::to_string(i) + ": " + std::string(50, 'v');
    many_headers += "\r\n";
  }
  const std::vector<Case> cases = {
      {"one huge header",
       "GET /livez HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(10'000, 'a') +
           "\r\n\r\n",
       431, "request head is over the limit of 8192 bytes"},
      {"many headers",
       "GET /livez HTTP/1.1\r\nHost: t\r\n" + many_headers + "\r\n", 431,
       "over the limit"},
      {"a body on the read-only port",
       "POST /livez HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello", 413,
       "request body of 5 bytes is over the limit of 0 bytes"},
      {"chunked body",
       "POST /livez HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
       "5\r\nhello\r\n0\r\n\r\n",
       400, "Transfer-Encoding is not supported"},
      {"garbage", "NOT HTTP\r\n\r\n", 400, "malformed request line"},
  };
  FakeLoop loop(queue_.get(), AnswerPings);
  auto server = Serve();
  for (const Case& c : cases) {
    RawResponse r = Exchange(ConnectTcp(server->port()), c.request);
    EXPECT_EQ(r.status, c.status) << c.name;
    EXPECT_NE(r.body.find(c.body_part), std::string::npos)
        << c.name << ": " << r.body;
  }
}

TEST_F(AdminServerTest, SlowRequestTimesOutWith408) {
  AdminOptions options = Options();
  options.read_timeout = milliseconds(300);
  auto server = Serve(options);
  Fd fd = ConnectTcp(server->port());
  ASSERT_TRUE(testing::SendAll(fd.get(), "GET /livez HTTP/1.1\r\nHost: t\r\n"));
  auto start = Clock::now();
  std::string reply;
  while (reply.empty() && Clock::now() - start < milliseconds(3'000)) {
    testing::SendAll(fd.get(), "X");  // one byte of a header, now and then
    reply = testing::ReadAll(fd.get(), milliseconds(50));
  }
  RawResponse r = testing::ParseRawResponse(reply);
  EXPECT_EQ(r.status, 408) << reply;
  EXPECT_NE(r.body.find("request not received within 300ms"),
            std::string::npos);
  EXPECT_LT(Clock::now() - start, milliseconds(1'000));
}

TEST_F(AdminServerTest, KeepAliveAndPipelining) {
  FakeLoop loop(queue_.get(), AnswerPings);
  Publish(View(1, 1, 1));
  auto server = Serve();
  Fd fd = ConnectTcp(server->port());
  ASSERT_TRUE(testing::SendAll(fd.get(),
                               "GET /livez HTTP/1.1\r\nHost: t\r\n\r\n"
                               "GET /readyz HTTP/1.1\r\nHost: t\r\n"
                               "Connection: close\r\n\r\n"));
  std::string both = testing::ReadAll(fd.get());
  EXPECT_NE(both.find("{\"live\":true}"), std::string::npos) << both;
  EXPECT_NE(both.find("{\"ready\":true"), std::string::npos) << both;
}

TEST_F(AdminServerTest, BindErrorNamesTheAddress) {
  auto first = Serve();
  AdminOptions options = Options();
  options.port = first->port();
  AdminServer second(options, &board_, queue_.get(), &metrics_);
  Status s = second.Start();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(),
            "admin: bind 127.0.0.1:" + std::to_string(first->port()) +
                ": Address already in use");
}

TEST_F(AdminServerTest, StopIsPromptWithConnectionsOpen) {
  auto server = Serve();
  std::vector<Fd> idle;
  for (int i = 0; i < 50; ++i) idle.push_back(ConnectTcp(server->port()));
  ASSERT_EQ(Get(server->port(), "/readyz").status, 503);  // serving
  auto start = Clock::now();
  server->Stop();
  EXPECT_LT(Clock::now() - start, milliseconds(1'000));
  EXPECT_FALSE(ConnectTcp(server->port()).valid());
}

// /status carries the loop's job list; a loop that does not answer costs it
// the list (after liveness_timeout), not the answer.
TEST_F(AdminServerTest, StatusAsksTheLoopForJobs) {
  Publish(View(1, 1, 1));
  AdminOptions o = Options();
  o.liveness_timeout = milliseconds(300);
  {
    FakeLoop loop(queue_.get(),
                  [](const Command& c) -> std::optional<CommandReply> {
                    if (c.kind != Command::Kind::kListJobs)
                      return AnswerPings(c);
                    return Reply(200, R"({"jobs":[{"name":"report"}]})");
                  });
    auto server = Serve(o);
    RawResponse r = Get(server->port(), "/status");
    EXPECT_EQ(r.status, 200);
    EXPECT_NE(r.body.find(R"("jobs":[{"name":"report"}]})"), std::string::npos)
        << r.body;
    EXPECT_EQ(loop.seen().size(), 1u);
  }
  FakeLoop stuck(queue_.get(), Stuck);
  auto server = Serve(o);
  const auto before = Clock::now();
  RawResponse r = Get(server->port(), "/status");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find(R"("slots":[)"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("jobs":null})"), std::string::npos) << r.body;
  EXPECT_LT(Clock::now() - before, milliseconds(2000));
}

TEST_F(AdminServerTest, StatusPageAndHistory) {
  Publish(View(2, 1, 1));  // slot 0 is this process
  AdminOptions o = Options();
  o.history_interval = milliseconds(20);
  FakeLoop loop(queue_.get(), AnswerPings);
  auto server = Serve(o);
  RawResponse page = Get(server->port(), "/");
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.headers["content-type"], "text/html; charset=utf-8");
  EXPECT_EQ(page.headers["x-content-type-options"], "nosniff");
  EXPECT_NE(page.headers["content-security-policy"].find("script-src 'sha256-"),
            std::string::npos);
  EXPECT_NE(page.body.find("<title>corefork status</title>"),
            std::string::npos);
  // The sampler's first round reads slot 0 at once.
  std::string history;
  EXPECT_TRUE(WaitUntil(
      [&] {
        history = Get(server->port(), "/status/history").body;
        return history.find(R"("pid":[)" + std::to_string(getpid())) !=
               std::string::npos;
      },
      milliseconds(3000)))
      << history;
  EXPECT_NE(history.find(R"("capacity":90,"max_slots":64)"), std::string::npos)
      << history;
  o.history_samples = 0;
  auto without = Serve(o);
  EXPECT_EQ(Get(without->port(), "/status/history").status, 404);
}

}  // namespace
}  // namespace corefork
