#include "admin/http_server.h"

#include <dirent.h>
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "admin/admin_test_support.h"
#include "net/listener.h"

namespace corefork {
namespace {

using std::chrono::milliseconds;
using testing::Clock;
using testing::ConnectTcp;
using testing::ParseRawResponse;
using testing::RawResponse;
using testing::ReadAll;
using testing::SendAll;
using testing::WaitUntil;

int ThreadCount() {
  int n = 0;
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return -1;
  while (dirent* e = readdir(dir)) n += e->d_name[0] != '.';
  closedir(dir);
  return n;
}

size_t Count(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos;
       at = text.find(part, at + 1)) {
    ++n;
  }
  return n;
}

// An HttpServer on 127.0.0.1: GET /now answers at once, GET /later keeps
// the Responder for the test to answer (or not).
class HttpServerTest : public ::testing::Test {
 protected:
  static HttpServerOptions Options() {
    HttpServerOptions o;
    o.name = "test";
    o.max_body_bytes = 64;
    o.tcp_nodelay = true;
    return o;
  }

  void Serve(HttpServerOptions options = Options()) {
    Result<Fd> fd = BindListener("127.0.0.1", 0, 128, false);
    ASSERT_TRUE(fd.ok()) << fd.status().message();
    port_ = LocalPort(fd->get()).value();
    server_ = std::make_unique<HttpServer>(options, [this](HttpRequest& req,
                                                           Responder reply) {
      if (req.path == "/now") {
        return reply.Send(JsonResponse(200, "{\"body\":\"" + req.body + "\"}"));
      }
      if (req.query.count("timeout")) {
        reply.SetTimeout(milliseconds(std::stoi(req.query["timeout"])),
                         ErrorResponse(504, "too late"));
      }
      if (req.query.count("long")) {
        if (!reply.SetTimeout(milliseconds(60'000),
                              ErrorResponse(504, "too late"), true)) {
          return reply.Send(ErrorResponse(429, "no room"));
        }
      }
      std::lock_guard<std::mutex> lock(mu_);
      held_.push_back(std::move(reply));
    });
    Status s = server_->Start(std::move(fd).value());
    ASSERT_TRUE(s.ok()) << s.message();
  }

  std::vector<Responder> TakeHeld() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::exchange(held_, {});
  }
  size_t held() {
    std::lock_guard<std::mutex> lock(mu_);
    return held_.size();
  }

  void TearDown() override {
    if (server_) server_->Stop();
  }

  std::mutex mu_;
  std::vector<Responder> held_;
  std::unique_ptr<HttpServer> server_;
  int port_ = 0;
};

constexpr char kLater[] = "GET /later HTTP/1.1\r\nHost: t\r\n\r\n";

TEST_F(HttpServerTest, AnswerFromAnotherThreadLater) {
  Serve();
  Fd fd = ConnectTcp(port_);
  ASSERT_TRUE(SendAll(fd.get(), kLater));
  ASSERT_TRUE(WaitUntil([&] { return held() == 1; }));
  EXPECT_EQ(server_->waiting(), 1);
  std::thread answer([&] {
    for (Responder& r : TakeHeld()) r.Send(JsonResponse(200, "{\"late\":1}"));
  });
  answer.join();
  // Kept alive: the same connection serves the next request.
  ASSERT_TRUE(SendAll(
      fd.get(), "GET /now HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
  std::string both = ReadAll(fd.get());
  EXPECT_NE(both.find("{\"late\":1}"), std::string::npos) << both;
  EXPECT_NE(both.find("{\"body\":\"\"}"), std::string::npos) << both;
  EXPECT_EQ(server_->waiting(), 0);
}

TEST_F(HttpServerTest, ClientThatHangsUpFreesItsPlaceAtOnce) {
  Serve();
  std::vector<Fd> clients;
  for (int i = 0; i < 50; ++i) {
    clients.push_back(ConnectTcp(port_));
    ASSERT_TRUE(SendAll(clients.back().get(), kLater));
  }
  ASSERT_TRUE(WaitUntil([&] { return held() == 50; }));
  EXPECT_EQ(server_->waiting(), 50);
  clients.clear();  // every client hangs up, no answer sent yet
  EXPECT_TRUE(WaitUntil([&] { return server_->connections() == 0; },
                        milliseconds(1'000)))
      << server_->connections() << " still open";
  EXPECT_EQ(server_->waiting(), 0);
  // The late answers go nowhere, and the server goes on serving.
  for (Responder& r : TakeHeld()) r.Send(JsonResponse(200, "{}"));
  RawResponse r = testing::Exchange(
      ConnectTcp(port_),
      "GET /now HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.status, 200);
}

TEST_F(HttpServerTest, UnansweredRequestTimesOut) {
  Serve();
  auto start = Clock::now();
  RawResponse r = testing::Exchange(ConnectTcp(port_),
                                    "GET /later?timeout=150 HTTP/1.1\r\nHost: "
                                    "t\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.status, 504);
  EXPECT_GE(Clock::now() - start, milliseconds(150));
  EXPECT_LT(Clock::now() - start, milliseconds(1'000));
  // The default: answer_timeout and a 503.
  HttpServerOptions options = Options();
  options.answer_timeout = milliseconds(100);
  server_->Stop();
  Serve(options);
  r = testing::Exchange(ConnectTcp(port_),
                        "GET /later HTTP/1.1\r\nHost: t\r\n"
                        "Connection: close\r\n\r\n");
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("no answer within 100ms"), std::string::npos);
}

TEST_F(HttpServerTest, LongWaitsHaveACapOfTheirOwn) {
  HttpServerOptions options = Options();
  options.max_long_waits = 2;
  options.max_waiting = 1;
  Serve(options);
  std::vector<Fd> waits;
  for (int i = 0; i < 2; ++i) {
    waits.push_back(ConnectTcp(port_));
    ASSERT_TRUE(SendAll(waits.back().get(),
                        "GET /later?long=1 HTTP/1.1\r\nHost: t\r\n\r\n"));
  }
  ASSERT_TRUE(WaitUntil([&] { return held() == 2; }));
  RawResponse third = testing::Exchange(
      ConnectTcp(port_), "GET /later?long=1 HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_EQ(third.status, 429);
  // Short requests still find room: long waits do not count against them.
  Fd shortone = ConnectTcp(port_);
  ASSERT_TRUE(SendAll(shortone.get(), kLater));
  ASSERT_TRUE(WaitUntil([&] { return held() == 3; }));
  RawResponse busy = testing::Exchange(ConnectTcp(port_), kLater);
  EXPECT_EQ(busy.status, 503) << "max_waiting short requests already wait";
}

TEST_F(HttpServerTest, IdleConnectionsCostNoThread) {
  Serve();
  const int threads = ThreadCount();
  std::vector<Fd> idle;
  for (int i = 0; i < 500; ++i) idle.push_back(ConnectTcp(port_));
  ASSERT_TRUE(WaitUntil([&] { return server_->connections() == 500; }));
  EXPECT_EQ(ThreadCount(), threads);
  auto start = Clock::now();
  RawResponse r = testing::Exchange(
      ConnectTcp(port_),
      "GET /now HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_LT(Clock::now() - start, milliseconds(50));
}

TEST_F(HttpServerTest, AtTheCapTheLongestIdleConnectionMakesRoom) {
  HttpServerOptions options = Options();
  options.max_connections = 3;
  Serve(options);
  Fd oldest = ConnectTcp(port_);
  ASSERT_TRUE(WaitUntil([&] { return server_->connections() == 1; }));
  Fd waiting = ConnectTcp(port_);
  ASSERT_TRUE(SendAll(waiting.get(), kLater));
  ASSERT_TRUE(WaitUntil([&] { return held() == 1; }));
  Fd newer = ConnectTcp(port_);
  ASSERT_TRUE(WaitUntil([&] { return server_->connections() == 3; }));
  RawResponse r = testing::Exchange(
      ConnectTcp(port_),
      "GET /now HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(ReadAll(oldest.get(), milliseconds(500)), "") << "evicted";
  pollfd p = {newer.get(), POLLIN, 0};
  EXPECT_EQ(poll(&p, 1, 0), 0) << "the newer idle one stays";
  EXPECT_EQ(server_->waiting(), 1) << "a waiting request is never evicted";
}

TEST_F(HttpServerTest, SlowHeadGets408AndSilentOneIsClosed) {
  HttpServerOptions options = Options();
  options.header_timeout = milliseconds(200);
  Serve(options);
  Fd silent = ConnectTcp(port_);
  Fd slow = ConnectTcp(port_);
  ASSERT_TRUE(SendAll(slow.get(), "GET /now HTTP/1.1\r\nHo"));
  auto start = Clock::now();
  RawResponse r = ParseRawResponse(ReadAll(slow.get(), milliseconds(2'000)));
  EXPECT_EQ(r.status, 408);
  EXPECT_EQ(r.body, "{\"error\":\"request not received within 200ms\"}\n");
  EXPECT_EQ(ReadAll(silent.get(), milliseconds(2'000)), "");
  EXPECT_LT(Clock::now() - start, milliseconds(1'500));
}

TEST_F(HttpServerTest, ClientThatDoesNotReadIsDroppedAtTheWriteDeadline) {
  HttpServerOptions options = Options();
  options.write_timeout = milliseconds(200);
  Serve(options);
  Fd fd = ConnectTcp(port_);
  int small = 4096;
  setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  ASSERT_TRUE(SendAll(fd.get(), kLater));
  ASSERT_TRUE(WaitUntil([&] { return held() == 1; }));
  for (Responder& r : TakeHeld()) {
    r.Send(JsonResponse(200, std::string(16 << 20, 'x')));  // 16 MiB
  }
  EXPECT_TRUE(WaitUntil([&] { return server_->connections() == 0; },
                        milliseconds(2'000)));
}

// Every way to frame a body that a proxy in front could read differently
// is refused with 400 and the connection closed, so a second request
// hidden in the body is never served.
TEST_F(HttpServerTest, SmugglingAttemptsAre400AndClose) {
  Serve();
  const std::vector<std::string> framings = {
      "Content-Length: -1",
      "Content-Length: abc",
      "Content-Length: +5",
      "Content-Length:  5 5",
      "Content-Length: 5, 5",
      "Content-Length: 0x5",
      "Content-Length: 99999999999999999999999",
      "Content-Length: 5\r\nContent-Length: 6",
      "Transfer-Encoding: chunked",
      "Transfer-Encoding : chunked",
      "transfer-encoding:\tchunked",
      "Transfer-Encoding: chunked\r\nContent-Length: 5",
      "Content-Length : 5",
      " Content-Length: 5",
      "Content-Length\t: 5",
  };
  for (const std::string& framing : framings) {
    Fd fd = ConnectTcp(port_);
    ASSERT_TRUE(SendAll(fd.get(), "POST /now HTTP/1.1\r\nHost: t\r\n" +
                                      framing +
                                      "\r\n\r\nhello"
                                      "GET /now HTTP/1.1\r\nHost: t\r\n\r\n"));
    std::string reply = ReadAll(fd.get(), milliseconds(3'000));
    RawResponse r = ParseRawResponse(reply);
    EXPECT_EQ(r.status, 400) << framing << ": " << reply;
    EXPECT_EQ(r.headers["connection"], "close") << framing;
    EXPECT_EQ(Count(reply, "HTTP/1.1 "), 1u) << framing << ": " << reply;
  }
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  Serve();
  Fd fd = ConnectTcp(port_);
  std::string requests;
  for (int i = 0; i < 20; ++i) {
    requests += "POST /now HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n" +
                std::to_string(10 + i);
  }
  requests += "GET /now HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
  ASSERT_TRUE(SendAll(fd.get(), requests));
  std::string replies = ReadAll(fd.get());
  EXPECT_EQ(Count(replies, "HTTP/1.1 200"), 21u) << replies;
  size_t at = 0;
  for (int i = 0; i < 20; ++i) {
    size_t next = replies.find("{\"body\":\"" + std::to_string(10 + i), at);
    ASSERT_NE(next, std::string::npos) << i;
    at = next;
  }
}

TEST_F(HttpServerTest, StopWithRequestsWaitingIsPrompt) {
  Serve();
  std::vector<Fd> clients;
  for (int i = 0; i < 20; ++i) {
    clients.push_back(ConnectTcp(port_));
    SendAll(clients.back().get(), kLater);
  }
  ASSERT_TRUE(WaitUntil([&] { return held() == 20; }));
  auto start = Clock::now();
  server_->Stop();
  EXPECT_LT(Clock::now() - start, milliseconds(500));
  for (Responder& r : TakeHeld()) r.Send(JsonResponse(200, "{}"));  // dropped
  EXPECT_EQ(ReadAll(clients[0].get(), milliseconds(500)), "");
}

}  // namespace
}  // namespace corefork
