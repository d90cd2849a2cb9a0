#include "net/line_http.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "net/listener.h"
#include "net/steering.h"

namespace corefork {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

TEST(ParseHttpReplyTest, ReadsEachWayABodyCanEnd) {
  Result<HttpReply> r = ParseHttpReply(
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello, and more");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello");

  r = ParseHttpReply(
      "HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\n"
      "3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\n\r\n");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->body, "abcdefg");

  r = ParseHttpReply("HTTP/1.0 503 Busy\nServer: x\n\nuntil close");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->body, "until close");
}

TEST(ParseHttpReplyTest, RefusesWhatIsNotAWholeResponse) {
  EXPECT_TRUE(ParseHttpReply("").status().IsInvalidArgument());
  EXPECT_FALSE(ParseHttpReply("HTTP/1.1 200 OK\r\nContent-").ok());
  EXPECT_FALSE(ParseHttpReply("SSH-2.0-OpenSSH\r\n\r\n").ok());
  EXPECT_FALSE(
      ParseHttpReply("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort").ok());
  EXPECT_FALSE(ParseHttpReply("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
                              "\r\n\r\nzz\r\nab\r\n")
                   .ok());
}

// A server on 127.0.0.1 that gives each connection `answer` (or nothing,
// holding it open, when `answer` is empty) and then closes it.
class Server {
 public:
  explicit Server(std::string answer) : answer_(std::move(answer)) {
    Result<Fd> fd = BindListener("127.0.0.1", 0, 16, false);
    EXPECT_TRUE(fd.ok());
    listener_ = std::move(fd).value();
    port_ = *LocalPort(listener_.get());
    thread_ = std::thread([this] { Serve(); });
  }
  ~Server() {
    shutdown(listener_.get(), SHUT_RDWR);
    thread_.join();
  }
  int port() const { return port_; }
  std::string last_request;

 private:
  void Serve() {
    Fd held;
    for (;;) {
      Fd c(accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!c.valid()) return;
      char buf[4096];
      ssize_t n = recv(c.get(), buf, sizeof buf, 0);
      if (n > 0) last_request.assign(buf, n);
      if (answer_.empty()) {
        held = std::move(c);  // never answers
        continue;
      }
      for (size_t sent = 0; sent < answer_.size();) {
        ssize_t w = send(c.get(), answer_.data() + sent, answer_.size() - sent,
                         MSG_NOSIGNAL);
        if (w <= 0) break;
        sent += w;
      }
    }
  }
  std::string answer_;
  Fd listener_;
  int port_ = 0;
  std::thread thread_;
};

LineRequest Get(int port, uint16_t source_port, size_t max = 1 << 20) {
  sockaddr_storage to{};
  auto* in = reinterpret_cast<sockaddr_in*>(&to);
  in->sin_family = AF_INET;
  in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  in->sin_port = htons(port);
  Result<Fd> fd = ConnectFrom(to, sizeof(sockaddr_in), source_port);
  EXPECT_TRUE(fd.ok()) << fd.status().message();
  return LineRequest(std::move(fd).value(), "/metrics", max);
}

TEST(LineRequestTest, FetchesConcurrentlyAndBoundsTimeAndSize) {
  Server fine(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "2\r\nok\r\n0\r\n\r\n");
  Server silent("");
  Server huge("HTTP/1.1 200 OK\r\n\r\n" + std::string(300000, 'x'));
  std::vector<LineRequest> requests;
  requests.push_back(Get(fine.port(), 0));
  requests.push_back(Get(silent.port(), 0));
  requests.push_back(Get(huge.port(), 0, 100000));
  const auto start = steady_clock::now();
  std::vector<Result<HttpReply>> replies =
      FetchAll(std::move(requests), start + milliseconds(500));
  const auto took = steady_clock::now() - start;
  ASSERT_EQ(replies.size(), 3u);
  ASSERT_TRUE(replies[0].ok()) << replies[0].status().message();
  EXPECT_EQ(replies[0]->body, "ok");
  EXPECT_TRUE(replies[1].status().IsDeadlineExceeded());
  EXPECT_EQ(replies[2].status().code(), StatusCode::kResourceExhausted);
  EXPECT_GE(took, milliseconds(450));
  EXPECT_LT(took, milliseconds(1500));
  EXPECT_EQ(fine.last_request.substr(0, 30),
            "GET /metrics HTTP/1.0\r\nHost: l");
}

TEST(LineRequestTest, ARefusedConnectionFailsAtOnce) {
  int port;
  {
    Result<Fd> fd = BindListener("127.0.0.1", 0, 1, false);
    ASSERT_TRUE(fd.ok());
    port = *LocalPort(fd->get());
  }  // closed: nothing listens there now
  std::vector<LineRequest> requests;
  requests.push_back(Get(port, 0));
  const auto start = steady_clock::now();
  std::vector<Result<HttpReply>> replies =
      FetchAll(std::move(requests), start + milliseconds(2000));
  EXPECT_TRUE(replies[0].status().IsUnavailable())
      << replies[0].status().message();
  EXPECT_LT(steady_clock::now() - start, milliseconds(1000));
}

}  // namespace
}  // namespace corefork
