#include "support/admin_fixture.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "support/http_client.h"

namespace corefork::harness {

namespace {

JsonValue ParseOrEmpty(const std::string& text) {
  std::optional<JsonValue> v = ParseJson(text);
  return v ? *v : JsonValue{};
}

}  // namespace

// ---- free functions --------------------------------------------------------

UnixHttpResponse TcpHttpRequest(const std::string& host, int port,
                                const std::string& method,
                                const std::string& target, Millis timeout) {
  HttpExchange x = TcpExchange(host, port, method, target, "", timeout);
  UnixHttpResponse resp;
  resp.status = x.status;
  resp.headers = std::move(x.headers);
  resp.body = std::move(x.body);
  resp.error = std::move(x.error);
  return resp;
}

KeepAliveConnection::~KeepAliveConnection() {
  if (fd_ >= 0) close(fd_);
}

bool KeepAliveConnection::Connect(int port, Millis timeout) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{static_cast<time_t>(timeout.count() / 1000),
             static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
  setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (fd_ < 0 ||
      connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    error_ = Errno("connect");
    return false;
  }
  return true;
}

UnixHttpResponse KeepAliveConnection::Get(const std::string& path,
                                          Millis timeout) {
  UnixHttpResponse resp;
  const std::string req =
      "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  if (fd_ < 0 || send(fd_, req.data(), req.size(), MSG_NOSIGNAL) !=
                     static_cast<ssize_t>(req.size())) {
    resp.error = fd_ < 0 ? "not connected" : Errno("send");
    return resp;
  }
  const auto deadline = Clock::now() + timeout;
  std::string raw;
  size_t need = std::string::npos;
  char buf[16384];
  while (need == std::string::npos || raw.size() < need) {
    int left = static_cast<int>(
        std::chrono::duration_cast<Millis>(deadline - Clock::now()).count());
    pollfd p{fd_, POLLIN, 0};
    if (left <= 0 || poll(&p, 1, left) <= 0) {
      resp.error =
          "no complete answer within " + std::to_string(timeout.count()) + "ms";
      return resp;
    }
    ssize_t got = recv(fd_, buf, sizeof buf, 0);
    if (got <= 0) {
      resp.error = got == 0 ? (raw.empty() ? "closed before any answer"
                                           : "closed mid-answer")
                            : Errno("recv");
      close(fd_);
      fd_ = -1;
      return resp;
    }
    raw.append(buf, static_cast<size_t>(got));
    size_t head_end = raw.find("\r\n\r\n");
    if (need == std::string::npos && head_end != std::string::npos) {
      std::string head = Lower(raw.substr(0, head_end));
      size_t cl = head.find("content-length:");
      if (cl == std::string::npos) {
        resp.error = "no Content-Length";
        return resp;
      }
      need = head_end + 4 + std::stoul(head.substr(cl + 15));
    }
  }
  if (!ParseHttpResponse(raw.substr(0, need), true, &resp) &&
      resp.error.empty()) {
    resp.error = "truncated answer: " + raw.substr(0, need);
  }
  return resp;
}

std::vector<double> KeepAliveTimes(int port, const std::string& path, int n,
                                   std::string* error) {
  std::vector<double> times;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    *error = Errno("connect");
    if (fd >= 0) close(fd);
    return {};
  }
  const std::string req =
      "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  char buf[16384];
  for (int i = 0; i < n; ++i) {
    const auto start = Clock::now();
    const auto deadline = start + Millis(3000);
    if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(req.size())) {
      *error = Errno("send");
      close(fd);
      return {};
    }
    std::string raw;
    size_t need = std::string::npos;  // head + body, once the head is in
    while (need == std::string::npos || raw.size() < need) {
      int left = static_cast<int>(
          std::chrono::duration_cast<Millis>(deadline - Clock::now()).count());
      pollfd p{fd, POLLIN, 0};
      if (left <= 0 || poll(&p, 1, left) <= 0) {
        *error = "request " + std::to_string(i) + ": no complete answer in 3s";
        close(fd);
        return {};
      }
      ssize_t got = recv(fd, buf, sizeof buf, 0);
      if (got <= 0) {
        *error = "request " + std::to_string(i) + ": connection closed";
        close(fd);
        return {};
      }
      raw.append(buf, static_cast<size_t>(got));
      size_t head_end = raw.find("\r\n\r\n");
      if (need == std::string::npos && head_end != std::string::npos) {
        std::string head = Lower(raw.substr(0, head_end));
        size_t cl = head.find("content-length:");
        if (cl == std::string::npos) {
          *error = "no Content-Length: " + raw.substr(0, head_end);
          close(fd);
          return {};
        }
        need = head_end + 4 + std::stoul(head.substr(cl + 15));
      }
    }
    times.push_back(
        std::chrono::duration<double, std::milli>(Clock::now() - start)
            .count());
  }
  close(fd);
  return times;
}

PeerAttempt TryControlSocketAs(uid_t uid, gid_t gid, const std::string& path) {
  PeerAttempt result;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    result.error = "socket path too long";
    return result;
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) {
    result.error = Errno("pipe2");
    return result;
  }
  pid_t pid = fork();
  if (pid < 0) {
    result.error = Errno("fork");
    close(report[0]);
    close(report[1]);
    return result;
  }
  if (pid == 0) {
    // Child: system calls only, then _exit.
    int out[2] = {0, 0};  // connect errno, HTTP status
    if (setgroups(0, nullptr) != 0 || setgid(gid) != 0 || setuid(uid) != 0 ||
        getuid() != uid) {
      out[0] = -1;
      (void)!write(report[1], out, sizeof out);
      _exit(1);
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      out[0] = errno;
    } else {
      static const char kReq[] =
          "POST /scale?workers=5 HTTP/1.1\r\nHost: x\r\n"
          "Content-Length: 0\r\nConnection: close\r\n\r\n";
      (void)!send(fd, kReq, sizeof kReq - 1, MSG_NOSIGNAL);
      char buf[64] = {0};
      size_t got = 0;
      pollfd p{fd, POLLIN, 0};
      while (got < 12 && poll(&p, 1, 3000) == 1) {
        ssize_t n = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        if (n <= 0) break;
        got += static_cast<size_t>(n);
      }
      // "HTTP/1.1 403"
      if (got >= 12 && std::memcmp(buf, "HTTP/1.", 7) == 0) {
        out[1] = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
      }
    }
    (void)!write(report[1], out, sizeof out);
    _exit(0);
  }
  close(report[1]);
  int in[2] = {0, 0};
  pollfd p{report[0], POLLIN, 0};
  ssize_t n = -1;
  if (poll(&p, 1, 10000) == 1) n = read(report[0], in, sizeof in);
  close(report[0]);
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  if (n != sizeof in) {
    result.error = "the child reported nothing";
  } else if (in[0] == -1) {
    result.error = "the child could not become uid " + std::to_string(uid);
  } else {
    result.connect_errno = in[0];
    result.http_status = in[1];
  }
  return result;
}

double MetricOr(const PromScrape& scrape, const std::string& name,
                const Labels& labels, double fallback) {
  return scrape.Get(name, labels).value_or(fallback);
}

// ---- CoreforkStatus --------------------------------------------------------
std::vector<SlotStatus> CoreforkStatus::Slot(int id) const {
  std::vector<SlotStatus> out;
  for (const SlotStatus& s : slots) {
    if (s.id == id) out.push_back(s);
  }
  return out;
}

std::vector<pid_t> CoreforkStatus::Pids() const {
  std::vector<pid_t> out;
  for (const SlotStatus& s : slots) {
    if (s.pid > 0) out.push_back(s.pid);
  }
  return out;
}

bool CoreforkStatus::AllReady(int n) const {
  if (!ok || static_cast<int>(slots.size()) != n || desired != n ||
      ready_workers != n) {
    return false;
  }
  for (int i = 0; i < n; ++i) {
    const SlotStatus& s = slots[i];
    if (s.id != i || s.pid <= 0 || s.state != "ready" || !s.ready) return false;
  }
  return true;
}

// ---- AdminTest -------------------------------------------------------------
std::vector<std::string> AdminTest::Sh(const std::string& script) {
  return {"/bin/sh", "-c", script};
}

Process& AdminTest::StartWith(const std::string& yaml, int workers,
                              const std::vector<std::string>& command) {
  const std::string config = WriteConfig(yaml);
  return StartCoreforkOnFreePort([&](int port) {
    std::vector<std::string> args = {
        "--config",    config,      "--workers", std::to_string(workers),
        "--host",      "127.0.0.1", "--port",    std::to_string(port),
        "--log-level", "debug",     "--"};
    args.insert(args.end(), command.begin(), command.end());
    return args;
  });
}

UnixHttpResponse AdminTest::Admin(const std::string& path, Millis timeout) {
  return TcpHttpRequest("127.0.0.1", admin_port(), "GET", path, timeout);
}

CoreforkStatus AdminTest::Status() {
  CoreforkStatus st;
  UnixHttpResponse r = Admin("/status");
  st.raw = r.status == 200 ? r.body : r.ToString();
  if (r.status != 200) return st;
  std::optional<JsonValue> v = ParseJson(r.body);
  if (!v || !v->is_object()) return st;
  st.ok = true;
  st.desired = static_cast<int>((*v)["desired_workers"].AsInt(-1));
  st.actual = static_cast<int>((*v)["actual_workers"].AsInt(-1));
  st.ready_workers = static_cast<int>((*v)["ready_workers"].AsInt(-1));
  st.reloading = (*v)["reloading"].AsBool();
  st.draining = (*v)["draining"].AsBool();
  // docs/endpoints.md: per-slot entries under "slots" ("workers" accepted).
  const JsonValue list =
      (*v)["slots"].is_array() ? (*v)["slots"] : (*v)["workers"];
  for (const JsonValue& e : list.Items()) {
    SlotStatus s;
    s.id = static_cast<int>(e["id"].AsInt(-1));
    s.pid = static_cast<pid_t>(e["pid"].AsInt(-1));
    s.state = e["state"].AsString();
    s.ready = e["ready"].AsBool();
    s.restarts = static_cast<int>(e["restarts"].AsInt(0));
    s.last_exit = e["last_exit"].AsString();
    s.uptime_seconds = e["uptime_seconds"].AsNumber();
    st.slots.push_back(s);
  }
  return st;
}

ReadyzAnswer AdminTest::Readyz() {
  ReadyzAnswer a;
  UnixHttpResponse r = Admin("/readyz");
  a.status = r.status;
  a.body = r.status ? r.body : r.error;
  JsonValue v = ParseOrEmpty(r.body);
  a.reason = v["reason"].AsString();
  a.ready_workers = static_cast<int>(v["ready_workers"].AsInt(-1));
  return a;
}

PromScrape AdminTest::Scrape(std::string* raw) {
  UnixHttpResponse r = Admin("/metrics");
  EXPECT_EQ(r.status, 200) << "GET /metrics: " << r.ToString();
  if (raw != nullptr) *raw = r.body;
  return r.status == 200 ? ParsePromText(r.body) : PromScrape{};
}

bool AdminTest::WaitStatus(
    const std::function<bool(const CoreforkStatus&)>& pred, Millis timeout,
    CoreforkStatus* last) {
  CoreforkStatus st;
  bool ok = PollUntil(
      [&] {
        st = Status();
        return pred(st);
      },
      timeout, Millis(20));
  if (last != nullptr) *last = st;
  return ok;
}

bool AdminTest::WaitAllReady(Process& cf, int n, Millis timeout,
                             CoreforkStatus* last) {
  CoreforkStatus st;
  bool ok = PollUntil(
      [&] {
        if (!cf.Running()) return true;
        st = Status();
        return st.AllReady(n) && Readyz().status == 200;
      },
      timeout, Millis(20));
  if (last != nullptr) *last = st;
  return ok && cf.Running();
}

bool AdminTest::WaitMetrics(const std::function<bool(const PromScrape&)>& pred,
                            Millis timeout, PromScrape* last) {
  PromScrape s;
  bool ok = PollUntil(
      [&] {
        UnixHttpResponse r = Admin("/metrics");
        if (r.status != 200) return false;
        s = ParsePromText(r.body);
        return pred(s);
      },
      timeout, Millis(25));
  if (last != nullptr) *last = s;
  return ok;
}

UnixHttpResponse AdminTest::Control(const std::string& method,
                                    const std::string& target,
                                    const std::string& body, Millis timeout) {
  return UnixHttpRequest(ControlSocket(), method, target, body, timeout);
}

void AdminTest::Touch(const std::string& name) {
  ASSERT_TRUE(WriteFile(Path(name), "")) << Path(name);
}

}  // namespace corefork::harness
