#include "admin/http_server.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <deque>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace corefork {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace http_internal {

struct Done {
  uint64_t conn;
  uint64_t serial;
  HttpResponse response;
};

// Answers on their way to the server thread, from any thread. Shared with
// every Responder, so it outlives the server when a Responder does (e.g. a
// job waiter still held by the loop); answers after Stop() are dropped.
struct Completions {
  std::mutex mu;
  std::vector<Done> done;
  bool closed = false;
  Fd event{eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
  // Set for Responder::Capture: answers go here instead.
  std::function<void(HttpResponse)> direct;
  // Server thread only, while it serves: Responder::SetTimeout.
  std::function<bool(uint64_t, uint64_t, milliseconds, HttpResponse, bool)>
      set_timeout;

  void Push(Done d) {
    if (direct) return direct(std::move(d.response));
    bool wake;
    {
      std::lock_guard<std::mutex> lock(mu);
      if (closed) return;
      wake = done.empty();
      done.push_back(std::move(d));
    }
    if (wake) {
      uint64_t one = 1;
      ssize_t n = write(event.get(), &one, sizeof one);
      (void)n;  // EAGAIN: already signalled
    }
  }
};

}  // namespace http_internal

Responder Responder::Capture(std::function<void(HttpResponse)> done) {
  auto sink = std::make_shared<http_internal::Completions>();
  sink->direct = std::move(done);
  return Responder(std::move(sink), 0, 0);
}

Responder& Responder::operator=(Responder&& other) noexcept {
  if (this != &other) {
    if (sink_) Send(ErrorResponse(500, "the request was not answered"));
    sink_ = std::move(other.sink_);
    conn_ = other.conn_;
    serial_ = other.serial_;
  }
  return *this;
}

Responder::~Responder() {
  if (sink_) Send(ErrorResponse(500, "the request was not answered"));
}

void Responder::Send(HttpResponse response) {
  if (!sink_) return;
  sink_->Push({conn_, serial_, std::move(response)});
  sink_.reset();
}

bool Responder::SetTimeout(milliseconds timeout, HttpResponse on_timeout,
                           bool long_wait) {
  if (!sink_ || !sink_->set_timeout) return true;
  return sink_->set_timeout(conn_, serial_, timeout, std::move(on_timeout),
                            long_wait);
}

namespace {

constexpr uint64_t kListenTag = 1;
constexpr uint64_t kStopTag = 2;
constexpr uint64_t kDoneTag = 3;
constexpr uint64_t kFirstConnId = 16;
constexpr size_t kReadChunk = 16 * 1024;
constexpr int kReadsPerTurn = 4;  // per connection, then others
constexpr int kAcceptsPerTurn = 64;
constexpr size_t kCarriedPerTurn = 16;     // pipelined requests started
constexpr milliseconds kLinger{500};       // after an error response
constexpr size_t kLingerBytes = 1 << 20;   // read and dropped at most
constexpr milliseconds kAcceptPause{100};  // out of fds, nothing to evict

std::string TimeoutMessage(milliseconds limit) {
  return "request not received within " + std::to_string(limit.count()) + "ms";
}

bool WantsClose(const HttpRequest& request) {
  const std::string* connection = request.Header("connection");
  if (connection == nullptr) return request.version != "HTTP/1.1";
  std::string value = *connection;
  for (char& c : value) c = static_cast<char>(std::tolower(c));
  return value.find("close") != std::string::npos ||
         request.version != "HTTP/1.1";
}

}  // namespace

struct HttpServer::Impl {
  enum class Phase { kIdle, kReading, kWaiting, kWriting, kLinger, kClosed };

  struct Conn {
    uint64_t id = 0;
    Fd fd;
    Phase phase = Phase::kIdle;
    Clock::time_point deadline = Clock::time_point::max();  // timers_ key
    Clock::time_point since;  // idle or request start, for eviction
    milliseconds limit{0};    // the one running, for the 408 message
    std::unique_ptr<RequestParser> parser;  // while reading
    std::string carry;  // bytes of the next (pipelined) request
    std::string out;    // the response being written
    size_t sent = 0;
    bool close_after = false;  // close once `out` is written
    bool linger = false;       // ... after reading what the client sends
    bool head_only = false;
    bool keep_alive = false;
    bool got_bytes = false;   // of the request being read
    bool long_wait = false;   // counted in long_waits
    uint64_t serial = 0;      // of the request waiting for its answer
    HttpResponse on_timeout;  // sent when the answer does not come
    size_t requests = 0;
    size_t lingered = 0;
    uint32_t events = 0;
    std::string refusal;  // non-empty: every request gets 403
  };

  HttpServer* owner;
  HttpServerOptions options;
  Handler handler;
  Fd listen_fd;
  Fd epoll_fd;
  Fd stop_fd;
  std::shared_ptr<http_internal::Completions> sink;
  std::thread thread;

  // Server thread only from here on.
  std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns;
  std::set<std::pair<Clock::time_point, uint64_t>> timers;
  std::deque<uint64_t> carried;  // kept alive with bytes already here
  std::vector<uint64_t> dead;    // closed this turn, erased at its end
  uint64_t next_id = kFirstConnId;
  uint64_t next_serial = 0;
  Clock::time_point now = Clock::now();
  Clock::time_point accept_resume = Clock::time_point::max();
  int live = 0;
  int waiting = 0;
  size_t long_waits = 0;

  void Serve();
  int WaitMillis() const;
  void Accept();
  bool EvictOne();
  void AddConn(int fd);
  void OnEvent(Conn& c, uint32_t events);
  void ReadSome(Conn& c);
  void Feed(Conn& c, std::string_view bytes);
  void Dispatch(Conn& c);
  void Respond(Conn& c, HttpResponse response, bool error = false);
  void Flush(Conn& c);
  void NextRequest(Conn& c);
  void OnDeadline(Conn& c);
  void DrainCompletions();
  bool SetTimeout(uint64_t id, uint64_t serial, milliseconds timeout,
                  HttpResponse on_timeout, bool long_wait);
  void LeaveWaiting(Conn& c);
  void SetDeadline(Conn& c, Clock::time_point when);
  void Watch(Conn& c, uint32_t events);
  void Close(Conn& c);
  void SetWaiting(int delta);
  Conn* Find(uint64_t id);
};

HttpServer::Impl::Conn* HttpServer::Impl::Find(uint64_t id) {
  auto it = conns.find(id);
  if (it == conns.end() || it->second->phase == Phase::kClosed) return nullptr;
  return it->second.get();
}

void HttpServer::Impl::LeaveWaiting(Conn& c) {
  if (c.phase != Phase::kWaiting) return;
  SetWaiting(-1);
  if (c.long_wait) --long_waits;
  c.long_wait = false;
}

void HttpServer::Impl::SetWaiting(int delta) {
  waiting += delta;
  owner->waiting_.store(waiting);
}

void HttpServer::Impl::SetDeadline(Conn& c, Clock::time_point when) {
  if (c.deadline != Clock::time_point::max()) timers.erase({c.deadline, c.id});
  c.deadline = when;
  if (when != Clock::time_point::max()) timers.insert({when, c.id});
}

void HttpServer::Impl::Watch(Conn& c, uint32_t events) {
  if (c.events == events) return;
  epoll_event ev = {};
  ev.events = events;
  ev.data.u64 = c.id;
  epoll_ctl(epoll_fd.get(), EPOLL_CTL_MOD, c.fd.get(), &ev);
  c.events = events;
}

void HttpServer::Impl::Close(Conn& c) {
  if (c.phase == Phase::kClosed) return;
  LeaveWaiting(c);
  SetDeadline(c, Clock::time_point::max());
  c.phase = Phase::kClosed;
  c.fd.Reset();  // also leaves the epoll set
  c.parser.reset();
  c.out.clear();
  c.carry.clear();
  --live;
  owner->connections_.store(live);
  dead.push_back(c.id);
}

int HttpServer::Impl::WaitMillis() const {
  if (!carried.empty()) return 0;
  Clock::time_point next = accept_resume;
  if (!timers.empty()) next = std::min(next, timers.begin()->first);
  if (next == Clock::time_point::max()) return 60'000;
  auto left = std::chrono::ceil<milliseconds>(next - Clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(left, 0, 60'000));
}

void HttpServer::Impl::Serve() {
  epoll_event events[256];
  for (;;) {
    int n = epoll_wait(epoll_fd.get(), events, 256, WaitMillis());
    // `now` after the wait: deadlines are judged by the time it is, not
    // by the time the wait began.
    now = Clock::now();
    for (int i = 0; i < n; ++i) {
      uint64_t tag = events[i].data.u64;
      if (tag == kStopTag) return;
      if (tag == kListenTag) {
        Accept();
      } else if (tag == kDoneTag) {
        DrainCompletions();
      } else if (Conn* c = Find(tag)) {
        OnEvent(*c, events[i].events);
      }
    }
    now = Clock::now();
    if (accept_resume <= now) {
      accept_resume = Clock::time_point::max();
      epoll_event ev = {};
      ev.events = EPOLLIN;
      ev.data.u64 = kListenTag;
      epoll_ctl(epoll_fd.get(), EPOLL_CTL_MOD, listen_fd.get(), &ev);
    }
    while (!timers.empty() && timers.begin()->first <= now) {
      uint64_t id = timers.begin()->second;
      timers.erase(timers.begin());
      if (Conn* c = Find(id)) {
        c->deadline = Clock::time_point::max();
        OnDeadline(*c);
      }
    }
    for (size_t i = 0; i < kCarriedPerTurn && !carried.empty(); ++i) {
      uint64_t id = carried.front();
      carried.pop_front();
      Conn* c = Find(id);
      if (c == nullptr || c->phase != Phase::kIdle || c->carry.empty()) {
        continue;
      }
      std::string bytes = std::move(c->carry);
      c->carry.clear();
      Feed(*c, bytes);
    }
    for (uint64_t id : dead) conns.erase(id);
    dead.clear();
  }
}

void HttpServer::Impl::Accept() {
  for (int i = 0; i < kAcceptsPerTurn; ++i) {
    int fd = accept4(listen_fd.get(), nullptr, nullptr,
                     SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
          errno == ENOMEM) {
        // Out of fds: make room, or stop accepting for a moment rather
        // than spin on a listen socket that stays readable.
        if (EvictOne()) continue;
        spdlog::warn("{}: accept: {}; pausing accepts", options.name,
                     std::strerror(errno));
        epoll_event ev = {};
        ev.data.u64 = kListenTag;
        epoll_ctl(epoll_fd.get(), EPOLL_CTL_MOD, listen_fd.get(), &ev);
        accept_resume = now + kAcceptPause;
      }
      return;
    }
    if (static_cast<size_t>(live) >= options.max_connections && !EvictOne()) {
      close(fd);  // everything open is being answered: no room
      continue;
    }
    AddConn(fd);
  }
}

bool HttpServer::Impl::EvictOne() {
  Conn* idle = nullptr;
  Conn* slow = nullptr;
  for (auto& [id, conn] : conns) {
    Conn* c = conn.get();
    if (c->phase == Phase::kIdle && (idle == nullptr || c->since < idle->since))
      idle = c;
    if (c->phase == Phase::kReading &&
        (slow == nullptr || c->since < slow->since))
      slow = c;
  }
  Conn* victim = idle != nullptr ? idle : slow;
  if (victim == nullptr) return false;
  Close(*victim);
  return true;
}

void HttpServer::Impl::AddConn(int fd) {
  auto conn = std::make_unique<Conn>();
  Conn& c = *conn;
  c.id = next_id++;
  c.fd.Reset(fd);
  c.since = now;
  c.limit = options.header_timeout;
  if (options.tcp_nodelay) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  if (options.check_peer) c.refusal = options.check_peer(fd);
  epoll_event ev = {};
  ev.events = EPOLLIN | EPOLLRDHUP;
  ev.data.u64 = c.id;
  if (epoll_ctl(epoll_fd.get(), EPOLL_CTL_ADD, fd, &ev) != 0) return;
  c.events = ev.events;
  conns.emplace(c.id, std::move(conn));
  ++live;
  owner->connections_.store(live);
  // A connection's first request must arrive within header_timeout of the
  // accept; until a byte comes, it is idle (first in line for eviction).
  SetDeadline(c, now + options.header_timeout);
}

void HttpServer::Impl::OnEvent(Conn& c, uint32_t events) {
  switch (c.phase) {
    case Phase::kIdle:
    case Phase::kReading:
      ReadSome(c);
      break;
    case Phase::kWaiting:
      // The client is gone (or half-closed): its place is freed now; the
      // answer, when it comes, is dropped.
      if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) Close(c);
      break;
    case Phase::kWriting:
      if (events & (EPOLLHUP | EPOLLERR)) {
        Close(c);
      } else if (events & EPOLLOUT) {
        Flush(c);
      }
      break;
    case Phase::kLinger: {
      char buf[4096];
      for (int i = 0; i < kReadsPerTurn; ++i) {
        ssize_t n = recv(c.fd.get(), buf, sizeof buf, 0);
        if (n > 0) {
          c.lingered += static_cast<size_t>(n);
          if (c.lingered <= kLingerBytes) continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
        Close(c);
        return;
      }
      break;
    }
    case Phase::kClosed:
      break;
  }
}

void HttpServer::Impl::ReadSome(Conn& c) {
  char buf[kReadChunk];
  for (int i = 0; i < kReadsPerTurn; ++i) {
    if (c.phase != Phase::kIdle && c.phase != Phase::kReading) return;
    ssize_t n = recv(c.fd.get(), buf, sizeof buf, 0);
    if (n > 0) {
      Feed(c, std::string_view(buf, static_cast<size_t>(n)));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    Close(c);  // EOF or error: nobody to answer
    return;
  }
}

void HttpServer::Impl::Feed(Conn& c, std::string_view bytes) {
  if (c.phase == Phase::kIdle) {
    c.phase = Phase::kReading;
    c.parser = std::make_unique<RequestParser>(
        HttpLimits{options.max_header_bytes, options.max_body_bytes});
    c.got_bytes = false;
    if (c.requests > 0) {  // the first request's clock started at accept
      c.since = now;
      c.limit = options.header_timeout;
      SetDeadline(c, now + options.header_timeout);
    }
  }
  c.got_bytes = true;
  RequestParser& parser = *c.parser;
  const bool had_head = parser.head_parsed();
  parser.Feed(bytes);
  if (parser.state() == RequestParser::State::kError) {
    HttpResponse error = parser.error();
    Respond(c, std::move(error), /*error=*/true);
    return;
  }
  if (!had_head && parser.head_parsed() &&
      parser.state() == RequestParser::State::kNeedMore) {
    c.limit = options.body_timeout;
    SetDeadline(c, now + options.body_timeout);
  }
  if (parser.WantsContinue()) {
    static constexpr std::string_view kContinue =
        "HTTP/1.1 100 Continue\r\n\r\n";
    ssize_t n = send(c.fd.get(), kContinue.data(), kContinue.size(),
                     MSG_NOSIGNAL | MSG_DONTWAIT);
    // 25 bytes into a fresh socket buffer; when even that does not fit the
    // client is not reading at all.
    if (n != static_cast<ssize_t>(kContinue.size())) return Close(c);
    parser.ContinueSent();
  }
  if (parser.state() == RequestParser::State::kDone) Dispatch(c);
}

void HttpServer::Impl::Dispatch(Conn& c) {
  HttpRequest request = std::move(c.parser->request());
  c.carry = c.parser->TakeLeftover();
  c.parser.reset();
  ++c.requests;
  c.head_only = request.method == "HEAD";
  c.keep_alive = options.keep_alive && !WantsClose(request) &&
                 c.requests < options.max_requests_per_connection;
  c.serial = ++next_serial;
  c.phase = Phase::kWaiting;
  SetWaiting(+1);
  // While waiting, only a hang-up matters; a pipelined request stays in
  // the socket until this one is answered.
  Watch(c, EPOLLRDHUP);
  if (!c.refusal.empty()) return Respond(c, ErrorResponse(403, c.refusal));
  if (static_cast<size_t>(waiting) - long_waits > options.max_waiting) {
    HttpResponse busy = ErrorResponse(
        503, "too many requests are waiting for an answer; retry later");
    busy.headers.emplace_back("Retry-After", "1");
    return Respond(c, std::move(busy));
  }
  c.on_timeout = ErrorResponse(
      503, "no answer within " +
               std::to_string(options.answer_timeout.count()) + "ms");
  SetDeadline(c, now + options.answer_timeout);
  const uint64_t id = c.id;
  handler(request, Responder(sink, id, c.serial));
  // A handler that answered at once: write it now, not a turn later.
  DrainCompletions();
}

bool HttpServer::Impl::SetTimeout(uint64_t id, uint64_t serial,
                                  milliseconds timeout, HttpResponse on_timeout,
                                  bool long_wait) {
  Conn* c = Find(id);
  if (c == nullptr || c->phase != Phase::kWaiting || c->serial != serial) {
    return true;
  }
  if (long_wait && !c->long_wait) {
    if (long_waits >= options.max_long_waits) return false;
    c->long_wait = true;
    ++long_waits;
  }
  c->on_timeout = std::move(on_timeout);
  SetDeadline(*c, now + timeout);
  return true;
}

void HttpServer::Impl::DrainCompletions() {
  uint64_t count;
  ssize_t n = read(sink->event.get(), &count, sizeof count);
  (void)n;  // EAGAIN: not signalled, take what is there anyway
  std::vector<http_internal::Done> batch;
  {
    std::lock_guard<std::mutex> lock(sink->mu);
    batch.swap(sink->done);
  }
  for (http_internal::Done& done : batch) {
    Conn* c = Find(done.conn);
    if (c == nullptr || c->phase != Phase::kWaiting ||
        c->serial != done.serial) {
      continue;  // the client left, or the request timed out
    }
    Respond(*c, std::move(done.response));
  }
}

void HttpServer::Impl::Respond(Conn& c, HttpResponse response, bool error) {
  LeaveWaiting(c);
  if (error) c.keep_alive = false;
  c.out = FormatResponse(response, c.keep_alive, c.head_only);
  c.sent = 0;
  c.close_after = !c.keep_alive;
  c.linger = error;
  c.parser.reset();
  c.phase = Phase::kWriting;
  SetDeadline(c, now + options.write_timeout);
  Flush(c);
}

void HttpServer::Impl::Flush(Conn& c) {
  while (c.sent < c.out.size()) {
    ssize_t n = send(c.fd.get(), c.out.data() + c.sent, c.out.size() - c.sent,
                     MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      c.sent += static_cast<size_t>(n);
    } else if (n < 0 && errno == EAGAIN) {
      Watch(c, EPOLLOUT);
      return;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      return Close(c);
    }
  }
  c.out.clear();
  c.out.shrink_to_fit();
  if (!c.close_after) return NextRequest(c);
  if (!c.linger) return Close(c);
  // After an error the client may still be sending; closing with unread
  // bytes would reset the connection and could cost it our answer. So stop
  // writing and read (and drop) what comes, for a bounded time and size.
  shutdown(c.fd.get(), SHUT_WR);
  c.phase = Phase::kLinger;
  c.lingered = 0;
  Watch(c, EPOLLIN | EPOLLRDHUP);
  SetDeadline(c, now + kLinger);
}

void HttpServer::Impl::NextRequest(Conn& c) {
  c.phase = Phase::kIdle;
  c.since = now;
  c.got_bytes = false;
  Watch(c, EPOLLIN | EPOLLRDHUP);
  SetDeadline(c, now + options.idle_timeout);
  // Pipelined bytes already here: parsed at the end of this turn, so a
  // client sending many requests at once is served one per turn, in turn
  // with everyone else, and the stack stays flat.
  if (!c.carry.empty()) carried.push_back(c.id);
}

void HttpServer::Impl::OnDeadline(Conn& c) {
  switch (c.phase) {
    case Phase::kReading:
      if (!c.got_bytes) return Close(c);
      return Respond(c, ErrorResponse(408, TimeoutMessage(c.limit)),
                     /*error=*/true);
    case Phase::kWaiting: {
      HttpResponse timeout = std::move(c.on_timeout);
      return Respond(c, std::move(timeout));
    }
    case Phase::kIdle:     // kept alive or never sent a byte: close quietly
    case Phase::kWriting:  // the client does not read its answer
    case Phase::kLinger:
    case Phase::kClosed:
      return Close(c);
  }
}

HttpServer::HttpServer(HttpServerOptions options, Handler handler)
    : impl_(std::make_unique<Impl>()) {
  impl_->owner = this;
  impl_->options = std::move(options);
  impl_->handler = std::move(handler);
}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Start(Fd listen_socket) {
  Impl& impl = *impl_;
  if (impl.thread.joinable()) {
    return Status::Error(impl.options.name + ": already started");
  }
  impl.listen_fd = std::move(listen_socket);
  int flags = fcntl(impl.listen_fd.get(), F_GETFL);
  if (flags < 0 ||
      fcntl(impl.listen_fd.get(), F_SETFL, flags | O_NONBLOCK) != 0) {
    return PosixError(impl.options.name + ": fcntl");
  }
  if (listen(impl.listen_fd.get(), impl.options.listen_backlog) != 0) {
    return PosixError(impl.options.name + ": listen");
  }
  impl.epoll_fd.Reset(epoll_create1(EPOLL_CLOEXEC));
  impl.stop_fd.Reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  impl.sink = std::make_shared<http_internal::Completions>();
  if (!impl.epoll_fd.valid() || !impl.stop_fd.valid() ||
      !impl.sink->event.valid()) {
    return PosixError(impl.options.name + ": epoll/eventfd");
  }
  impl.sink->set_timeout = [&impl](uint64_t id, uint64_t serial,
                                   milliseconds timeout, HttpResponse r,
                                   bool long_wait) {
    return impl.SetTimeout(id, serial, timeout, std::move(r), long_wait);
  };
  const std::pair<int, uint64_t> watched[] = {
      {impl.listen_fd.get(), kListenTag},
      {impl.stop_fd.get(), kStopTag},
      {impl.sink->event.get(), kDoneTag}};
  for (auto [fd, tag] : watched) {
    epoll_event ev = {};
    ev.events = EPOLLIN;
    ev.data.u64 = tag;
    if (epoll_ctl(impl.epoll_fd.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
      return PosixError(impl.options.name + ": epoll_ctl");
    }
  }
  impl.thread = std::thread([&impl] { impl.Serve(); });
  return Status::Ok();
}

void HttpServer::Stop() {
  Impl& impl = *impl_;
  if (!impl.thread.joinable()) return;
  uint64_t one = 1;
  ssize_t n = write(impl.stop_fd.get(), &one, sizeof one);
  (void)n;
  impl.thread.join();
  {
    std::lock_guard<std::mutex> lock(impl.sink->mu);
    impl.sink->closed = true;
    impl.sink->done.clear();
  }
  impl.sink->set_timeout = nullptr;
  impl.sink.reset();
  impl.conns.clear();  // closes every connection
  impl.timers.clear();
  impl.carried.clear();
  impl.dead.clear();
  impl.live = 0;
  impl.waiting = 0;
  impl.long_waits = 0;
  connections_.store(0);
  waiting_.store(0);
  impl.listen_fd.Reset();
  impl.epoll_fd.Reset();
  impl.stop_fd.Reset();
}

}  // namespace corefork
