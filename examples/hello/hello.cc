// hello: the tiny HTTP/1.1 server bundled with corefork, its demo app and the
// integration tests' workhorse. It follows the worker contract: listening
// sockets from systemd socket activation (or its own bind on $PORT when run by
// hand), READY=1/STOPPING=1 on NOTIFY_SOCKET and COREFORK_NOTIFY_FD, and a
// graceful drain on SIGTERM. Needs nothing beyond libc, libstdc++ and pthread.

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr size_t kMaxHead = 16 * 1024;      // request line + headers
constexpr uint64_t kMaxBody = 1024 * 1024;  // read and discarded
constexpr size_t kReadChunk = 4096;
constexpr milliseconds kIdleTimeout{10'000};
// After shutdown begins, how long an idle connection may still bring a request.
constexpr milliseconds kStopGrace{1000};
constexpr milliseconds kDrainTimeout{30'000};
constexpr long kMaxSlowMs = 60'000;

// State shared by the accept loop, the signal thread and connection threads.
// Everything but the atomics is written once in main before threads start.
struct Server {
  std::vector<int> listen_fds;
  int stop_fd = -1;     // eventfd; stays readable once shutdown has begun
  int drained_fd = -1;  // eventfd; written when the last connection closes
  std::atomic<bool> stopping{false};
  std::atomic<int> connections{0};
  std::string body;  // {"worker":W,"pid":P}\n, fixed for the process' life
  std::string notify_socket;  // NOTIFY_SOCKET, "" if unset
  int notify_fd = -1;         // COREFORK_NOTIFY_FD, -1 if unset
  int worker_id = -1;
};

// True when all of `text` is one decimal number that fits in *out.
template <typename T>
bool ParseNumber(std::string_view text, T* out) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, *out);
  return ec == std::errc() && ptr == end && !text.empty();
}

int EnvInt(const char* name, int fallback) {
  const char* text = std::getenv(name);
  int value = 0;
  return text != nullptr && ParseNumber(text, &value) ? value : fallback;
}

// Makes an eventfd readable; it stays so until someone reads it.
void Wake(int event_fd) {
  uint64_t one = 1;
  if (write(event_fd, &one, sizeof(one)) < 0) {
    std::fprintf(stderr, "hello: eventfd: %s\n", std::strerror(errno));
  }
}

// Milliseconds until `deadline` for poll(), rounded up; <= 0 once past it.
int MillisLeft(Clock::time_point deadline) {
  auto left = std::chrono::ceil<milliseconds>(deadline - Clock::now());
  return static_cast<int>(left.count());
}

// --- readiness: sd_notify datagrams and the corefork notify fd -------------

void SendDatagram(const std::string& path, std::string_view message) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() > sizeof(addr.sun_path) - (path[0] == '@' ? 0 : 1)) {
    std::fprintf(stderr, "hello: NOTIFY_SOCKET path too long\n");
    return;
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  // An abstract address ('@' -> '\0') is exactly as long as its name.
  if (path[0] == '@') addr.sun_path[0] = '\0';
  auto len =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || sendto(fd, message.data(), message.size(), MSG_NOSIGNAL,
                       reinterpret_cast<sockaddr*>(&addr), len) < 0) {
    std::fprintf(stderr, "hello: notify %s: %s\n", path.c_str(),
                 std::strerror(errno));
  }
  if (fd >= 0) close(fd);
}

void Notify(const Server& server, std::string_view message) {
  if (!server.notify_socket.empty()) {
    SendDatagram(server.notify_socket, message);
  }
  if (server.notify_fd >= 0) {
    std::string line = std::string(message) + "\n";
    if (write(server.notify_fd, line.data(), line.size()) < 0) {
      std::fprintf(stderr, "hello: notify fd %d: %s\n", server.notify_fd,
                   std::strerror(errno));
    }
  }
}

// --- listening sockets ------------------------------------------------------

// sd_listen_fds(): fds 3.. if LISTEN_PID names us. Unsets LISTEN_* so a
// child we might start does not take them for its own.
bool TakeActivatedFds(std::vector<int>* fds) {
  int listen_pid = EnvInt("LISTEN_PID", -1);
  int count = EnvInt("LISTEN_FDS", 0);
  unsetenv("LISTEN_PID");
  unsetenv("LISTEN_FDS");
  unsetenv("LISTEN_FDNAMES");
  if (listen_pid != getpid()) return false;
  for (int fd = 3; fd < 3 + count; ++fd) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
        fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
      std::fprintf(stderr, "hello: inherited fd %d: %s\n", fd,
                   std::strerror(errno));
      std::exit(1);
    }
    fds->push_back(fd);
  }
  return count > 0;
}

int BindPort(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (fd < 0 ||
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
      bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) < 0 ||
      listen(fd, SOMAXCONN) < 0) {
    std::fprintf(stderr, "hello: bind 0.0.0.0:%d: %s\n", port,
                 std::strerror(errno));
    std::exit(1);
  }
  return fd;
}

// --- HTTP -------------------------------------------------------------------

enum class Route { kWorker, kSlow, kHealth, kNotFound, kBadQuery };

// What a request head says; plain values, so nothing points into the buffer.
struct Request {
  Route route = Route::kNotFound;
  long slow_ms = 0;
  bool http10 = false;
  bool close = false;       // "Connection: close", or HTTP/1.0 without
  bool keep_alive = false;  // "Connection: keep-alive"
  bool chunked = false;     // any Transfer-Encoding; answered with 501
  bool has_length = false;
  uint64_t content_length = 0;
};

char AsciiLower(char c) { return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return AsciiLower(x) == AsciiLower(y);
  });
}

std::string_view Trim(std::string_view s) {
  size_t first = s.find_first_not_of(" \t");
  if (first == s.npos) return {};
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

// Whether a comma-separated header value lists `token`.
bool HasToken(std::string_view list, std::string_view token) {
  for (;;) {
    size_t comma = list.find(',');
    if (EqualsIgnoreCase(Trim(list.substr(0, comma)), token)) return true;
    if (comma == list.npos) return false;
    list.remove_prefix(comma + 1);
  }
}

void RouteTarget(std::string_view target, Request* req) {
  std::string_view path = target.substr(0, target.find('?'));
  if (path == "/") req->route = Route::kWorker;
  if (path == "/healthz") req->route = Route::kHealth;
  if (path != "/slow") return;
  req->route = Route::kSlow;
  std::string_view query = target.substr(path.size());  // "" or "?..."
  size_t at = query.find("ms=");
  if (at == query.npos || (query[at - 1] != '?' && query[at - 1] != '&')) {
    return;  // no ms: answer at once
  }
  std::string_view value = query.substr(at + 3, query.find('&', at) - at - 3);
  if (!ParseNumber(value, &req->slow_ms)) req->route = Route::kBadQuery;
  req->slow_ms = std::clamp(req->slow_ms, 0L, kMaxSlowMs);
}

// "GET /path HTTP/1.1". Methods other than GET parse but route nowhere (404).
bool ParseRequestLine(std::string_view line, Request* req) {
  size_t sp1 = line.find(' ');
  size_t sp2 = line.find(' ', sp1 + 1);
  if (sp1 == 0 || sp2 == line.npos || sp2 == sp1 + 1) return false;
  std::string_view version = line.substr(sp2 + 1);
  if (version != "HTTP/1.1" && version != "HTTP/1.0") return false;
  req->http10 = version == "HTTP/1.0";
  if (line.starts_with("GET ")) RouteTarget(line.substr(4, sp2 - 4), req);
  return true;
}

bool ParseHeader(std::string_view line, Request* req) {
  size_t colon = line.find(':');
  if (colon == 0 || colon == line.npos) return false;
  std::string_view name = line.substr(0, colon);
  std::string_view value = Trim(line.substr(colon + 1));
  if (name.find_first_of(" \t") != name.npos) return false;
  if (EqualsIgnoreCase(name, "Transfer-Encoding")) req->chunked = true;
  if (EqualsIgnoreCase(name, "Connection")) {
    req->close = req->close || HasToken(value, "close");
    req->keep_alive = req->keep_alive || HasToken(value, "keep-alive");
  }
  if (!EqualsIgnoreCase(name, "Content-Length")) return true;
  uint64_t length = 0;
  if (!ParseNumber(value, &length)) return false;
  if (req->has_length && length != req->content_length) return false;
  req->has_length = true;
  req->content_length = length;
  return true;
}

// `head` is the request line and headers, ending with the blank line.
bool ParseRequest(std::string_view head, Request* req) {
  size_t eol = head.find("\r\n");
  if (!ParseRequestLine(head.substr(0, eol), req)) return false;
  for (head.remove_prefix(eol + 2); !head.starts_with("\r\n");
       head.remove_prefix(eol + 2)) {
    eol = head.find("\r\n");
    if (!ParseHeader(head.substr(0, eol), req)) return false;
  }
  if (req->http10 && !req->keep_alive) req->close = true;
  return true;
}

// --- one connection ----------------------------------------------------------

struct Reply {
  int status;
  std::string_view body;  // static text or Server::body
};

const char* Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 413:
      return "Content Too Large";
    case 431:
      return "Request Header Fields Too Large";
    default:
      return "Not Implemented";
  }
}

// Status line, headers and body built in one stack buffer, sent with one send.
void SendReply(int fd, Reply reply, bool close) {
  // Only the worker body is JSON, and it is the only one starting with '{'.
  const char* type = reply.body.starts_with('{') ? "application/json"
                                                 : "text/plain; charset=utf-8";
  char out[512];
  int n = std::snprintf(out, sizeof(out),
                        "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
                        "Content-Length: %zu\r\nConnection: %s\r\n\r\n%.*s",
                        reply.status, Reason(reply.status), type,
                        reply.body.size(), close ? "close" : "keep-alive",
                        static_cast<int>(reply.body.size()), reply.body.data());
  const char* data = out;
  size_t left = std::min(static_cast<size_t>(n), sizeof(out) - 1);
  while (left > 0) {
    ssize_t sent = send(fd, data, left, MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    if (sent <= 0) return;  // the client is gone; the read side will notice
    data += sent;
    left -= static_cast<size_t>(sent);
  }
}

// Waits until `fd` has bytes (or EOF). An idle connection stops waiting
// shortly after shutdown begins: the grace answers a request that was already
// on its way (with Connection: close) instead of closing the connection under
// it. A half-read request gets until the deadline.
bool WaitReadable(int fd, const Server& server, bool idle,
                  Clock::time_point deadline) {
  pollfd fds[2] = {{fd, POLLIN, 0}, {server.stop_fd, POLLIN, 0}};
  bool watch_stop = idle;
  for (int left; (left = MillisLeft(deadline)) > 0;) {
    if (poll(fds, watch_stop ? 2 : 1, left) < 0 && errno != EINTR) return false;
    if (fds[0].revents != 0) return true;
    if (watch_stop && fds[1].revents != 0) {
      watch_stop = false;
      deadline = std::min(deadline, Clock::now() + kStopGrace);
    }
  }
  return false;
}

// Appends what one recv() brings; false on EOF or error.
bool ReadMore(int fd, std::string& buffer) {
  size_t old_size = buffer.size();
  buffer.resize(old_size + kReadChunk);
  ssize_t n;
  do {
    n = recv(fd, buffer.data() + old_size, kReadChunk, 0);
  } while (n < 0 && errno == EINTR);
  buffer.resize(old_size + static_cast<size_t>(std::max<ssize_t>(n, 0)));
  return n > 0;
}

enum class HeadResult { kReady, kClosed, kTooLarge };

// Reads until `buffer` starts with a whole request head of *head_len bytes.
HeadResult ReadHead(int fd, const Server& server, std::string& buffer,
                    size_t* head_len) {
  auto deadline = Clock::now() + kIdleTimeout;
  for (size_t scanned = 0;;) {
    size_t end = buffer.find("\r\n\r\n", scanned);
    if (end != buffer.npos) {
      *head_len = end + 4;
      return *head_len > kMaxHead ? HeadResult::kTooLarge : HeadResult::kReady;
    }
    if (buffer.size() >= kMaxHead) return HeadResult::kTooLarge;
    scanned = std::max<size_t>(buffer.size(), 3) - 3;  // "\r\n\r" may end it
    if (!WaitReadable(fd, server, buffer.empty(), deadline) ||
        !ReadMore(fd, buffer)) {
      return HeadResult::kClosed;
    }
  }
}

// Drops the head and a body of `length` bytes, part of which may be buffered.
bool DiscardRequest(int fd, const Server& server, std::string& buffer,
                    size_t head_len, uint64_t length) {
  uint64_t buffered = std::min<uint64_t>(buffer.size() - head_len, length);
  buffer.erase(0, head_len + buffered);
  auto deadline = Clock::now() + kIdleTimeout;
  char scratch[8192];
  for (length -= buffered; length > 0;) {
    if (!WaitReadable(fd, server, false, deadline)) return false;
    ssize_t n =
        recv(fd, scratch, std::min<uint64_t>(sizeof(scratch), length), 0);
    if (n == 0 || (n < 0 && errno != EINTR)) return false;
    length -= static_cast<uint64_t>(std::max<ssize_t>(n, 0));
  }
  return true;
}

// The reply that ends the connection for a head we will not serve, if any.
std::optional<Reply> Reject(HeadResult result, std::string_view head,
                            Request* req) {
  if (result == HeadResult::kTooLarge) {
    return Reply{431, "request header fields too large\n"};
  }
  if (!ParseRequest(head, req)) return Reply{400, "bad request\n"};
  if (req->chunked) return Reply{501, "transfer-encoding not supported\n"};
  if (req->content_length > kMaxBody) return Reply{413, "body too large\n"};
  return std::nullopt;
}

Reply Answer(const Request& req, const Server& server) {
  switch (req.route) {
    case Route::kWorker:
    case Route::kSlow:
      return {200, server.body};
    case Route::kHealth:
      return {200, "ok\n"};
    case Route::kBadQuery:
      return {400, "ms must be a number\n"};
    case Route::kNotFound:
      break;
  }
  return {404, "not found\n"};
}

// Serves the next request on `fd`; false when the connection must close.
bool ServeOneRequest(int fd, const Server& server, std::string& buffer) {
  size_t head_len = 0;
  HeadResult result = ReadHead(fd, server, buffer, &head_len);
  if (result == HeadResult::kClosed) return false;
  Request req;
  std::string_view head(buffer.data(), head_len);
  if (std::optional<Reply> error = Reject(result, head, &req)) {
    SendReply(fd, *error, true);
    return false;
  }
  if (!DiscardRequest(fd, server, buffer, head_len, req.content_length)) {
    return false;
  }
  if (req.route == Route::kSlow) {
    std::this_thread::sleep_for(milliseconds(req.slow_ms));
  }
  // Decided after the work: a request still in flight when shutdown begins
  // gets its answer, with "Connection: close".
  bool close = req.close || server.stopping.load();
  SendReply(fd, Answer(req, server), close);
  return !close;
}

// Closing with unread input makes the kernel send RST, which can destroy a
// response the client has not read yet (a 400 or 431). So: FIN first, then
// swallow what the client still sends, for up to a second, until it closes.
void LingeringClose(int fd) {
  shutdown(fd, SHUT_WR);
  auto deadline = Clock::now() + milliseconds(1000);
  char scratch[4096];
  pollfd p = {fd, POLLIN, 0};
  for (int left; (left = MillisLeft(deadline)) > 0;) {
    if (poll(&p, 1, left) <= 0 || recv(fd, scratch, sizeof(scratch), 0) <= 0) {
      break;
    }
  }
  close(fd);
}

void ServeConnection(int fd, Server& server) {
  std::string buffer;
  buffer.reserve(kReadChunk);
  while (ServeOneRequest(fd, server, buffer)) {
  }
  LingeringClose(fd);
  if (server.connections.fetch_sub(1) == 1 && server.stopping.load()) {
    Wake(server.drained_fd);
  }
}

// --- accepting, signals, shutdown -------------------------------------------

void AcceptOne(int listen_fd, Server& server) {
  int fd = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0) {
    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
        errno == ENOMEM) {
      std::fprintf(stderr, "hello: accept: %s\n", std::strerror(errno));
      std::this_thread::sleep_for(milliseconds(100));  // let fds free up
    }
    return;  // EAGAIN: another worker won the race; ECONNABORTED etc.
  }
  server.connections.fetch_add(1);
  try {
    std::thread(ServeConnection, fd, std::ref(server)).detach();
  } catch (const std::system_error& e) {
    std::fprintf(stderr, "hello: thread: %s\n", e.what());
    close(fd);
    server.connections.fetch_sub(1);
  }
}

// Returns once shutdown has begun.
void AcceptLoop(Server& server) {
  std::vector<pollfd> fds;
  for (int fd : server.listen_fds) fds.push_back({fd, POLLIN, 0});
  fds.push_back({server.stop_fd, POLLIN, 0});
  for (;;) {
    if (poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) {
      std::fprintf(stderr, "hello: poll: %s\n", std::strerror(errno));
      std::_Exit(1);
    }
    if (fds.back().revents != 0) return;
    for (size_t i = 0; i + 1 < fds.size(); ++i) {
      if (fds[i].revents != 0) AcceptOne(fds[i].fd, server);
    }
  }
}

// First SIGTERM/SIGINT starts the drain; a second one ends the process now.
void HandleSignals(sigset_t signals, Server& server) {
  int sig = 0;
  sigwait(&signals, &sig);
  std::fprintf(stderr, "hello: worker %d got %s, draining\n", server.worker_id,
               strsignal(sig));
  Notify(server, "STOPPING=1");
  server.stopping.store(true);
  Wake(server.stop_fd);
  sigwait(&signals, &sig);
  std::fprintf(stderr, "hello: worker %d got a second %s, exiting now\n",
               server.worker_id, strsignal(sig));
  _exit(1);
}

// True once every connection has closed, false if some are still open when
// kDrainTimeout runs out.
bool WaitForDrain(const Server& server) {
  auto deadline = Clock::now() + kDrainTimeout;
  pollfd p = {server.drained_fd, POLLIN, 0};
  while (server.connections.load() > 0) {
    int left = MillisLeft(deadline);
    if (left <= 0) return false;
    uint64_t count;
    if (poll(&p, 1, left) > 0 && read(p.fd, &count, sizeof(count)) < 0) {
      return false;
    }
  }
  return true;
}

// Reads the environment and takes (or binds) the listening sockets.
void SetUp(Server& server) {
  server.worker_id = EnvInt("COREFORK_WORKER_ID", -1);
  server.body = "{\"worker\":" + std::to_string(server.worker_id) +
                ",\"pid\":" + std::to_string(getpid()) + "}\n";
  if (const char* path = std::getenv("NOTIFY_SOCKET"); path && *path) {
    server.notify_socket = path;
  }
  server.notify_fd = EnvInt("COREFORK_NOTIFY_FD", -1);
  if (!TakeActivatedFds(&server.listen_fds)) {
    server.listen_fds.push_back(BindPort(EnvInt("PORT", 8080)));
  }
  server.stop_fd = eventfd(0, EFD_CLOEXEC);
  server.drained_fd = eventfd(0, EFD_CLOEXEC);
  if (server.stop_fd < 0 || server.drained_fd < 0) {
    std::fprintf(stderr, "hello: eventfd: %s\n", std::strerror(errno));
    std::exit(1);
  }
}

}  // namespace

int main() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // before any thread starts
  signal(SIGPIPE, SIG_IGN);

  static Server server;  // static: detached threads may use it until _Exit
  SetUp(server);
  std::thread(HandleSignals, signals, std::ref(server)).detach();
  std::fprintf(stderr, "hello: worker %d pid %d serving on %zu fd(s)\n",
               server.worker_id, getpid(), server.listen_fds.size());
  Notify(server, "READY=1");

  AcceptLoop(server);
  for (int fd : server.listen_fds) close(fd);  // stop accepting at once
  bool drained = WaitForDrain(server);
  int code = drained ? 0 : 1;
  std::fprintf(stderr, "hello: worker %d pid %d exiting with %d%s\n",
               server.worker_id, getpid(), code,
               drained ? "" : " (connections still open after 30s)");
  // Detached threads may still be returning; skip the destructors they could
  // race with. stderr is unbuffered, so nothing is lost.
  std::_Exit(code);
}
