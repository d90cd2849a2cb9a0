#include "admin/control_server.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "admin/admin_test_support.h"

namespace corefork {
namespace {

using std::chrono::milliseconds;
using testing::Clock;
using testing::ConnectUnix;
using testing::Exchange;
using testing::FakeLoop;
using testing::RawResponse;
using testing::Reply;
using testing::WaitUntil;

// The real loop's answers (supervisor_control.cc), in miniature.
std::optional<CommandReply> LoopReplies(const Command& command) {
  switch (command.kind) {
    case Command::Kind::kReload:
      return Reply(202, R"({"reload":"started","workers":2})");
    case Command::Kind::kScaleBy:  // from 2
      return Reply(200,
                   "{\"workers\":" + std::to_string(2 + command.count) + "}");
    case Command::Kind::kScale:
      if (command.count == 7) {
        return Reply(409, R"({"error":"a reload is in progress"})");
      }
      return Reply(200, "{\"workers\":" + std::to_string(command.count) +
                            ",\"previous\":2}");
    default:
      return Reply(200, "{}");
  }
}
std::optional<CommandReply> Stuck(const Command&) { return std::nullopt; }

std::string Post(const std::string& target, const std::string& body = "") {
  return "POST " + target + " HTTP/1.1\r\nHost: localhost\r\n" +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

class ControlServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/corefork-control-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/run/control.sock";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  ControlOptions Options() const {
    ControlOptions o;
    o.path = path_;
    return o;
  }
  std::unique_ptr<ControlServer> Serve(ControlOptions options) {
    auto server = std::make_unique<ControlServer>(options, queue_.get());
    Status s = server->Start();
    EXPECT_TRUE(s.ok()) << s.message();
    return server;
  }
  RawResponse Send(const std::string& request) {
    return Exchange(ConnectUnix(path_), request);
  }

  std::string dir_, path_;
  std::unique_ptr<CommandQueue> queue_ = CommandQueue::Create().value();
};

TEST_F(ControlServerTest, SocketIsPrivateAndRemovedOnStop) {
  auto server = Serve(Options());
  struct stat st;
  ASSERT_EQ(lstat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  ASSERT_EQ(stat((dir_ + "/run").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u) << "a directory we create is private";
  EXPECT_EQ(server->path(), path_);
  server->Stop();
  EXPECT_NE(lstat(path_.c_str(), &st), 0) << "Stop() unlinks the socket";
}

TEST_F(ControlServerTest, PathInUseIsRefused) {
  FakeLoop loop(queue_.get(), LoopReplies);
  auto first = Serve(Options());
  ControlServer second(Options(), queue_.get());
  Status s = second.Start();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(),
            "control socket " + path_ + " is in use by another process");
  EXPECT_EQ(Send(Post("/reload")).status, 202) << "the first still serves";
}

TEST_F(ControlServerTest, StaleSocketIsReplaced) {
  std::filesystem::create_directories(dir_ + "/run");
  {
    Fd stale(socket(AF_UNIX, SOCK_STREAM, 0));
    sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    path_.copy(addr.sun_path, sizeof addr.sun_path - 1);
    ASSERT_EQ(
        bind(stale.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  }  // closed without unlink, as after a crash
  FakeLoop loop(queue_.get(), LoopReplies);
  auto server = Serve(Options());
  EXPECT_EQ(Send(Post("/reload")).status, 202);
}

TEST_F(ControlServerTest, OtherFilesAreNotTouched) {
  std::filesystem::create_directories(dir_ + "/run");
  std::ofstream(path_) << "not a socket";
  ControlServer server(Options(), queue_.get());
  Status s = server.Start();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "control: " + path_ + " exists and is not a socket");
  EXPECT_TRUE(std::filesystem::is_regular_file(path_));
}

TEST_F(ControlServerTest, ReloadAndScaleGoThroughTheLoop) {
  struct Case {
    std::string name, request;
    int status;
    std::string body;
    Command::Kind kind;
    int count;
  };
  const std::vector<Case> cases = {
      {"reload", Post("/reload"), 202,
       "{\"reload\":\"started\",\"workers\":2}\n", Command::Kind::kReload, 0},
      {"scale by body", Post("/scale", R"({"workers":5})"), 200,
       "{\"workers\":5,\"previous\":2}\n", Command::Kind::kScale, 5},
      {"scale by query", Post("/scale?workers=3"), 200,
       "{\"workers\":3,\"previous\":2}\n", Command::Kind::kScale, 3},
      {"spaces in the body", Post("/scale", " { \"workers\" : 1024 }\n"), 200,
       "{\"workers\":1024,\"previous\":2}\n", Command::Kind::kScale, 1024},
      {"the loop says no", Post("/scale", R"({"workers":7})"), 409,
       "{\"error\":\"a reload is in progress\"}\n", Command::Kind::kScale, 7},
      {"scale by +N", Post("/scale?by=%2B2"), 200, "{\"workers\":4}\n",
       Command::Kind::kScaleBy, 2},
      {"scale by N, its '+' read as a space", Post("/scale?by=+1"), 200,
       "{\"workers\":3}\n", Command::Kind::kScaleBy, 1},
      {"scale by -N", Post("/scale?by=-1"), 200, "{\"workers\":1}\n",
       Command::Kind::kScaleBy, -1},
  };
  FakeLoop loop(queue_.get(), LoopReplies);
  auto server = Serve(Options());
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    RawResponse r = Send(c.request);
    EXPECT_EQ(r.status, c.status) << c.name;
    EXPECT_EQ(r.body, c.body) << c.name;
    EXPECT_EQ(r.headers["connection"], "close") << c.name;
    EXPECT_EQ(r.headers["content-type"], "application/json") << c.name;
    auto seen = loop.seen();
    ASSERT_EQ(seen.size(), i + 1) << c.name;
    EXPECT_EQ(seen.back().first, c.kind) << c.name;
    EXPECT_EQ(seen.back().second, c.count) << c.name;
  }
}

TEST_F(ControlServerTest, BadScaleRequestsAre400) {
  struct Case {
    std::string name, request, message;
  };
  const std::vector<Case> cases = {
      {"zero", Post("/scale", R"({"workers":0})"),
       "workers must be an integer from 1 to 1024, got \\\"0\\\""},
      {"too many", Post("/scale", R"({"workers":1025})"), "got \\\"1025\\\""},
      {"negative", Post("/scale", R"({"workers":-2})"), "got \\\"-2\\\""},
      {"huge", Post("/scale", R"({"workers":99999999999999999999})"),
       "1 to 1024"},
      {"fraction", Post("/scale", R"({"workers":2.5})"), "got \\\"2.5\\\""},
      {"exponent", Post("/scale", R"({"workers":1e2})"), "got \\\"1e2\\\""},
      {"string", Post("/scale", R"({"workers":"3"})"), "(a JSON number)"},
      {"null", Post("/scale", R"({"workers":null})"), "(a JSON number)"},
      {"no field", Post("/scale", "{}"), "no \\\"workers\\\" field"},
      {"unknown field", Post("/scale", R"({"workers":2,"extra":1})"),
       "unknown field \\\"extra\\\""},
      {"not JSON", Post("/scale", "workers=3"),
       "the body must be a JSON object like {\\\"workers\\\":3}: expected "
       "'{' at offset 0"},
      {"bad query value", Post("/scale?workers=abc"), "got \\\"abc\\\""},
      {"empty query value", Post("/scale?workers="), "got \\\"\\\""},
      {"both query and body", Post("/scale?workers=3", R"({"workers":3})"),
       "not both"},
      {"nothing", Post("/scale"), "missing worker count"},
      {"by zero", Post("/scale?by=0"), "by must be +N or -N"},
      {"by a word", Post("/scale?by=two"), "got \\\"two\\\""},
      {"by twice signed", Post("/scale?by=--1"), "by must be +N or -N"},
      {"by too many", Post("/scale?by=2000"), "from 1 to 1024"},
      {"by and workers", Post("/scale?by=1&workers=3"), "not two"},
      {"by and a body", Post("/scale?by=1", R"({"workers":3})"), "not two"},
  };
  FakeLoop loop(queue_.get(), LoopReplies);
  auto server = Serve(Options());
  for (const Case& c : cases) {
    RawResponse r = Send(c.request);
    EXPECT_EQ(r.status, 400) << c.name;
    EXPECT_NE(r.body.find(c.message), std::string::npos)
        << c.name << ": " << r.body;
  }
  EXPECT_TRUE(loop.seen().empty()) << "nothing reached the loop";
}

TEST_F(ControlServerTest, ProtocolErrors) {
  struct Case {
    std::string name, request;
    int status;
    std::string message, allow;
  };
  const std::string big_head =
      "POST /reload HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(600, 'a') +
      "\r\n\r\n";
  const std::vector<Case> cases = {
      {"unknown path", Post("/nope"), 404, "not found", ""},
      {"wrong method", "GET /reload HTTP/1.1\r\nHost: x\r\n\r\n", 405,
       "method GET is not allowed here; use POST", "POST"},
      {"body over the limit", Post("/scale", std::string(65, ' ')), 413,
       "request body of 65 bytes is over the limit of 64 bytes", ""},
      {"head over the limit", big_head, 431,
       "request head is over the limit of 512 bytes", ""},
      {"chunked",
       "POST /scale HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
       "0\r\n\r\n",
       400, "Transfer-Encoding is not supported", ""},
      {"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400,
       "the request target must be a path", ""},
  };
  FakeLoop loop(queue_.get(), LoopReplies);
  ControlOptions options = Options();
  options.max_header_bytes = 512;
  options.max_body_bytes = 64;
  auto server = Serve(options);
  for (const Case& c : cases) {
    RawResponse r = Send(c.request);
    EXPECT_EQ(r.status, c.status) << c.name;
    EXPECT_NE(r.body.find("{\"error\":\"" + c.message), std::string::npos)
        << c.name << ": " << r.body;
    if (!c.allow.empty()) {
      EXPECT_EQ(r.headers["allow"], c.allow) << c.name;
    }
  }
}

TEST_F(ControlServerTest, ExpectContinue) {
  FakeLoop loop(queue_.get(), LoopReplies);
  auto server = Serve(Options());
  Fd fd = ConnectUnix(path_);
  ASSERT_TRUE(testing::SendAll(
      fd.get(),
      "POST /scale HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
      "Content-Length: 13\r\n\r\n"));
  std::string interim;
  auto deadline = Clock::now() + milliseconds(5'000);
  while (interim.find("\r\n\r\n") == std::string::npos &&
         Clock::now() < deadline) {
    char buf[64];
    ssize_t n = recv(fd.get(), buf, sizeof buf, 0);
    if (n <= 0) break;
    interim.append(buf, static_cast<size_t>(n));
  }
  EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_TRUE(testing::SendAll(fd.get(), R"({"workers":4})"));
  RawResponse r = testing::ParseRawResponse(testing::ReadAll(fd.get()));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"workers\":4,\"previous\":2}\n");
}

TEST_F(ControlServerTest, SlowClientGets408) {
  ControlOptions options = Options();
  options.read_timeout = milliseconds(300);
  auto server = Serve(options);
  Fd fd = ConnectUnix(path_);
  auto start = Clock::now();
  ASSERT_TRUE(testing::SendAll(fd.get(), "POST /reload HTTP/1.1\r\nHo"));
  RawResponse r = testing::ParseRawResponse(testing::ReadAll(fd.get()));
  auto took = Clock::now() - start;
  EXPECT_EQ(r.status, 408);
  EXPECT_EQ(r.body, "{\"error\":\"request not received within 300ms\"}\n");
  EXPECT_GE(took, milliseconds(300));
  EXPECT_LT(took, milliseconds(1'000));
}

TEST_F(ControlServerTest, LoopThatDoesNotAnswerGives503) {
  FakeLoop loop(queue_.get(), Stuck);
  ControlOptions options = Options();
  options.command_timeout = milliseconds(200);
  auto server = Serve(options);
  RawResponse r = Send(Post("/reload"));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "{\"error\":\"event loop did not answer within 200ms\"}\n");
}

TEST_F(ControlServerTest, AtTheConnectionCapTheIdleOneMakesRoom) {
  FakeLoop loop(queue_.get(), LoopReplies);
  ControlOptions options = Options();
  options.max_connections = 1;
  auto server = Serve(options);
  Fd idle = ConnectUnix(path_);  // holds the only place, sends nothing
  ASSERT_TRUE(idle.valid());
  ASSERT_TRUE(WaitUntil([&] { return server->connections() == 1; }));
  auto start = Clock::now();
  RawResponse r = Send(Post("/reload"));
  EXPECT_EQ(r.status, 202) << "served at once: the idle one was closed";
  EXPECT_LT(Clock::now() - start, milliseconds(1'000));
  EXPECT_EQ(testing::ReadAll(idle.get(), milliseconds(1'000)), "")
      << "closed without an answer";
}

// Exit codes of the child that tries the socket as user nobody.
constexpr int kRefusedByMode = 10;
constexpr int kRefusedBy403 = 11;
constexpr int kServed = 12;
constexpr int kOther = 13;

int TryAsNobody(const std::string& path) {
  pid_t pid = fork();
  if (pid == 0) {
    alarm(10);
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(kOther);
    Fd fd = ConnectUnix(path);
    if (!fd.valid()) _exit(errno == EACCES ? kRefusedByMode : kOther);
    const char request[] = "POST /reload HTTP/1.1\r\nHost: x\r\n\r\n";
    if (write(fd.get(), request, sizeof request - 1) < 0) _exit(kOther);
    char reply[16] = {};
    ssize_t n = read(fd.get(), reply, sizeof reply - 1);
    if (n >= 12 && std::memcmp(reply, "HTTP/1.1 403", 12) == 0) {
      _exit(kRefusedBy403);
    }
    _exit(n > 0 ? kServed : kOther);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST_F(ControlServerTest, OtherUsersAreRefused) {
  ASSERT_EQ(geteuid(), 0u) << "needs root to become another user";
  FakeLoop loop(queue_.get(), LoopReplies);
  auto server = Serve(Options());
  // Let nobody reach the socket file, so that only the socket stops it.
  ASSERT_EQ(chmod(dir_.c_str(), 0755), 0);
  ASSERT_EQ(chmod((dir_ + "/run").c_str(), 0755), 0);
  EXPECT_EQ(TryAsNobody(path_), kRefusedByMode) << "mode 0600";
  // Were the mode loosened, the peer check still refuses.
  ASSERT_EQ(chmod(path_.c_str(), 0666), 0);
  EXPECT_EQ(TryAsNobody(path_), kRefusedBy403) << "SO_PEERCRED";
  EXPECT_TRUE(loop.seen().empty());
}

}  // namespace
}  // namespace corefork
