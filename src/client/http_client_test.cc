// HttpExchange against real sockets: a unix socket and a TCP port served by
// a thread that reads the request and writes a canned answer (or nothing).
#include "client/http_client.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "os/fd.h"

namespace corefork {
namespace {

using std::chrono::milliseconds;

// A fresh directory for one socket path; both removed at the end.
class TempSocket {
 public:
  explicit TempSocket(const char* name) {
    const char* tmp = std::getenv("TMPDIR");
    dir_ = std::string(tmp && *tmp ? tmp : "/tmp") + "/client-test-XXXXXX";
    EXPECT_NE(mkdtemp(dir_.data()), nullptr);
    path_ = dir_ + "/" + name;
  }
  ~TempSocket() {
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }
  const std::string& path() const { return path_; }

 private:
  std::string dir_;
  std::string path_;
};

Fd ListenUnix(const std::string& path, bool listen_too = true) {
  Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  EXPECT_EQ(bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)),
            0);
  if (listen_too) {
    EXPECT_EQ(listen(fd.get(), 4), 0);
  }
  return fd;
}

Fd ListenTcp(int* port) {
  Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)),
            0);
  socklen_t len = sizeof(addr);
  getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  *port = ntohs(addr.sin_port);
  EXPECT_EQ(listen(fd.get(), 4), 0);
  return fd;
}

// Accepts one connection, reads until the head and `body_bytes` more are in
// (or 2 s pass), writes `answer`, then closes unless `keep_open`, in which
// case it holds the connection until the client goes.
struct OneShotServer {
  std::string request;
  std::thread thread;

  void Start(int listen_fd, std::string answer, size_t body_bytes,
             bool keep_open = false) {
    thread = std::thread([this, listen_fd, answer, body_bytes, keep_open] {
      pollfd p{listen_fd, POLLIN, 0};
      if (poll(&p, 1, 3000) != 1) return;
      Fd conn(accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC));
      const auto deadline =
          std::chrono::steady_clock::now() + std::chrono::seconds(2);
      char buf[4096];
      while (std::chrono::steady_clock::now() < deadline) {
        size_t head = request.find("\r\n\r\n");
        if (head != std::string::npos &&
            request.size() >= head + 4 + body_bytes)
          break;
        pollfd c{conn.get(), POLLIN, 0};
        if (poll(&c, 1, 100) != 1) continue;
        ssize_t n = read(conn.get(), buf, sizeof(buf));
        if (n <= 0) break;
        request.append(buf, static_cast<size_t>(n));
      }
      if (!answer.empty()) {
        (void)!write(conn.get(), answer.data(), answer.size());
      }
      if (keep_open) {
        pollfd c{conn.get(), POLLIN, 0};
        poll(&c, 1, 3000);  // until the client closes
      }
    });
  }
  ~OneShotServer() {
    if (thread.joinable()) thread.join();
  }
};

TEST(HttpClientTest, PostsOverAUnixSocketAndReadsTheAnswer) {
  TempSocket socket_path("c.sock");
  const std::string& path = socket_path.path();
  Fd listener = ListenUnix(path);
  OneShotServer server;
  server.Start(listener.get(),
               "HTTP/1.1 202 Accepted\r\nContent-Length: 9\r\nConnection: "
               "close\r\n\r\n{\"ok\":1}\n",
               5);
  HttpCall call;
  call.method = "POST";
  call.target = "/jobs/x/runs?wait=true";
  call.body = "hello";
  Result<HttpReply> reply = HttpExchange(Endpoint::Unix(path), call);
  ASSERT_TRUE(reply.ok()) << reply.status().message();
  EXPECT_EQ(reply->status, 202);
  EXPECT_EQ(reply->body, "{\"ok\":1}\n");
  server.thread.join();
  EXPECT_TRUE(server.request.starts_with(
      "POST /jobs/x/runs?wait=true HTTP/1.1\r\nHost: localhost\r\n"))
      << server.request;
  EXPECT_NE(server.request.find("Content-Length: 5\r\n"), std::string::npos);
  EXPECT_NE(server.request.find("Connection: close\r\n"), std::string::npos);
  EXPECT_TRUE(server.request.ends_with("\r\n\r\nhello")) << server.request;
}

TEST(HttpClientTest, NothingListeningIsUnavailableAndNamesThePath) {
  TempSocket missing_path("missing.sock");
  const std::string& missing = missing_path.path();
  Result<HttpReply> reply = HttpExchange(Endpoint::Unix(missing), HttpCall{});
  ASSERT_FALSE(reply.ok());
  EXPECT_TRUE(reply.status().IsUnavailable()) << reply.status().message();
  EXPECT_EQ(reply.status().message(),
            "connect " + missing + ": No such file or directory");

  // A socket file nobody listens on (a crashed server's leftover).
  TempSocket stale_path("stale.sock");
  const std::string& stale = stale_path.path();
  Fd bound = ListenUnix(stale, /*listen_too=*/false);
  reply = HttpExchange(Endpoint::Unix(stale), HttpCall{});
  ASSERT_FALSE(reply.ok());
  EXPECT_TRUE(reply.status().IsUnavailable()) << reply.status().message();
  EXPECT_NE(reply.status().message().find("Connection refused"),
            std::string::npos);

  int port = 0;
  { Fd gone = ListenTcp(&port); }  // closed: the port refuses
  reply = HttpExchange(Endpoint::Tcp("127.0.0.1", port), HttpCall{});
  ASSERT_FALSE(reply.ok());
  EXPECT_TRUE(reply.status().IsUnavailable()) << reply.status().message();
  EXPECT_NE(reply.status().message().find("127.0.0.1:" + std::to_string(port)),
            std::string::npos);
}

TEST(HttpClientTest, AServerThatNeverAnswersHitsTheDeadline) {
  TempSocket socket_path("mute.sock");
  const std::string& path = socket_path.path();
  Fd listener = ListenUnix(path);  // accepts (backlog) but never reads
  HttpCall call;
  call.timeout = milliseconds(300);
  const auto start = std::chrono::steady_clock::now();
  Result<HttpReply> reply = HttpExchange(Endpoint::Unix(path), call);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(reply.ok());
  EXPECT_TRUE(reply.status().IsDeadlineExceeded()) << reply.status().message();
  EXPECT_GE(took, milliseconds(290));
  EXPECT_LT(took, milliseconds(2000));
}

TEST(HttpClientTest, AnAnswerOverTheCapIsRefused) {
  int port = 0;
  Fd listener = ListenTcp(&port);
  OneShotServer server;
  server.Start(listener.get(),
               "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" +
                   std::string(5000, 'x'),
               0);
  HttpCall call;
  call.max_reply_bytes = 1024;
  Result<HttpReply> reply =
      HttpExchange(Endpoint::Tcp("127.0.0.1", port), call);
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().code(), StatusCode::kResourceExhausted)
      << reply.status().message();
}

TEST(HttpClientTest, AKeepAliveAnswerEndsAtItsContentLength) {
  int port = 0;
  Fd listener = ListenTcp(&port);
  OneShotServer server;
  server.Start(listener.get(),
               "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 15\r\n\r\n"
               "{\"ready\":false}",
               0, /*keep_open=*/true);
  HttpCall call;
  call.timeout = milliseconds(2000);
  const auto start = std::chrono::steady_clock::now();
  Result<HttpReply> reply =
      HttpExchange(Endpoint::Tcp("127.0.0.1", port), call);
  ASSERT_TRUE(reply.ok()) << reply.status().message();
  EXPECT_EQ(reply->status, 503);
  EXPECT_EQ(reply->body, "{\"ready\":false}");
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(1500));
}

TEST(HttpClientTest, NotHttpIsInvalidArgument) {
  int port = 0;
  Fd listener = ListenTcp(&port);
  OneShotServer server;
  server.Start(listener.get(), "SSH-2.0-OpenSSH\r\n", 0);
  Result<HttpReply> reply =
      HttpExchange(Endpoint::Tcp("127.0.0.1", port), HttpCall{});
  ASSERT_FALSE(reply.ok());
  EXPECT_TRUE(reply.status().IsInvalidArgument()) << reply.status().message();
}

TEST(HttpClientTest, DescribeNamesTheEndpoint) {
  EXPECT_EQ(Endpoint::Unix("/run/corefork/control.sock").Describe(),
            "/run/corefork/control.sock");
  EXPECT_EQ(Endpoint::Tcp("127.0.0.1", 9180).Describe(), "127.0.0.1:9180");
  EXPECT_EQ(Endpoint::Tcp("::1", 9180).Describe(), "[::1]:9180");
}

}  // namespace
}  // namespace corefork
