#include "admin/bounded_http_server.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>

#include "admin/http_lite.h"
#include "admin/waiting_room.h"
#include "net/listener.h"

namespace corefork {
namespace {

// The connection this thread is serving. httplib calls the pre-routing and
// error handlers on that thread with no way to reach the Stream otherwise.
thread_local HttpConnection* tls_connection = nullptr;

std::string ErrorBody(std::string_view message) {
  return ErrorResponse(0, message).body;
}

std::string LowerReason(int status) {
  std::string reason = StatusReason(status);
  if (reason == "Unknown") return "error";
  std::transform(reason.begin(), reason.end(), reason.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return reason;
}

}  // namespace

class BoundedHttpServer::Queue : public httplib::TaskQueue {
 public:
  explicit Queue(TaskPoolOptions options) : pool_(options) {}
  void enqueue(std::function<void()> fn) override {
    pool_.Enqueue(std::move(fn));
  }
  // Parked connections go first (closed), then the pool runs what is
  // queued (each task sees the stop fd and ends) and joins.
  void shutdown() override {
    room_.Shutdown();
    pool_.Shutdown();
  }
  TaskPool& pool() { return pool_; }
  WaitingRoom& room() { return room_; }

 private:
  TaskPool pool_;
  WaitingRoom room_;
};

BoundedHttpServer::BoundedHttpServer(BoundedHttpOptions options,
                                     RequestHandler handler)
    : options_(std::move(options)),
      handler_(std::move(handler)),
      stop_fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  // httplib owns (and deletes) the queue it gets from here, when Serve()
  // ends; connections reach it through queue_ until then.
  new_task_queue = [this] {
    auto* queue = new Queue(options_.pool);
    queue_ = queue;
    return queue;
  };
  set_socket_options([](socket_t sock) {
    int yes = 1;  // not SO_REUSEPORT: a second corefork must fail to bind
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    // Accepted sockets inherit it: httplib writes a response's head and
    // body separately, and Nagle + the client's delayed ACK would hold the
    // body back ~40 ms on every reused keep-alive connection (Prometheus).
    setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
    fcntl(sock, F_SETFD, FD_CLOEXEC);
  });
  // httplib only advertises these (Keep-Alive header); we enforce them.
  set_keep_alive_max_count(options_.keep_alive_max_count);
  set_keep_alive_timeout(
      std::chrono::ceil<std::chrono::seconds>(options_.keep_alive_timeout)
          .count());
  set_read_timeout(options_.read_timeout);
  set_write_timeout(options_.write_timeout);
  set_payload_max_length(options_.max_body_bytes);
  set_pre_routing_handler(HandlerWithResponse(
      [this](const httplib::Request& req, httplib::Response& res) {
        return PreRoute(req, res);
      }));
  set_exception_handler(
      [this](const httplib::Request&, httplib::Response& res,
             std::exception_ptr error) { OnException(res, error); });
  set_error_handler(HandlerWithResponse(
      [this](const httplib::Request& req, httplib::Response& res) {
        return OnError(req, res);
      }));
}

BoundedHttpServer::~BoundedHttpServer() { Shutdown(); }

Status BoundedHttpServer::Bind(const std::string& host, int port) {
  if (!bind_to_port(host, port)) {
    // httplib says only "false"; binding again names the reason.
    Result<Fd> probe = BindListener(host, port, 1, false);
    if (!probe.ok()) return probe.status();
    return Status::Error("bind " + host + ":" + std::to_string(port) +
                         ": failed");
  }
  if (::listen(svr_sock_, options_.listen_backlog) != 0) {
    return PosixError("listen " + host + ":" + std::to_string(port));
  }
  Result<int> local = LocalPort(svr_sock_);
  bound_port_ = local.ok() ? *local : port;
  return Status::Ok();
}

void BoundedHttpServer::Serve() {
  listen_after_bind();
  queue_ = nullptr;  // deleted by httplib on the way out
}

void BoundedHttpServer::Shutdown() {
  stopping_ = true;
  uint64_t one = 1;
  ssize_t n = ::write(stop_fd_.get(), &one, sizeof one);
  (void)n;  // EAGAIN: already signalled
  // httplib's stop() is a no-op until Serve() has started; this is not.
  socket_t sock = svr_sock_.exchange(INVALID_SOCKET);
  if (sock != INVALID_SOCKET) {
    ::shutdown(sock, SHUT_RDWR);  // wakes accept()
    ::close(sock);
  }
}

bool BoundedHttpServer::process_and_close_socket(socket_t sock) {
  fcntl(sock, F_SETFD, FD_CLOEXEC);
  ConnectionLimits limits{options_.read_timeout, options_.write_timeout,
                          options_.max_header_bytes, options_.max_body_bytes};
  ServeConnection(std::make_shared<HttpConnection>(sock, stop_fd_.get(), limits,
                                                   &open_connections_));
  return true;
}

// On a pool thread: serves requests while they keep coming without a wait,
// then parks the connection until its next request starts to arrive.
void BoundedHttpServer::ServeConnection(std::shared_ptr<HttpConnection> conn) {
  for (;;) {
    IoResult next = conn->Peek();
    if (next == IoResult::kTimeout) return Park(std::move(conn));
    if (next != IoResult::kOk || !ServeRequest(*conn)) return conn->Close();
  }
}

bool BoundedHttpServer::ServeRequest(HttpConnection& conn) {
  const size_t n = conn.requests() + 1;
  // The first request has read_timeout from accept, the others from their
  // first byte.
  conn.BeginRequest((n == 1 ? conn.accepted_at() : HttpClock::now()) +
                    options_.read_timeout);
  const bool last = n >= options_.keep_alive_max_count;
  bool closed = false;
  tls_connection = &conn;
  bool ok = process_request(
      conn, last, closed, [&conn](httplib::Request& req) { conn.OnHead(req); });
  tls_connection = nullptr;
  conn.EndRequest();
  return ok && !closed && !last && !conn.must_close() && !stopping_;
}

void BoundedHttpServer::Park(std::shared_ptr<HttpConnection> conn) {
  Queue* queue = queue_;
  auto deadline = conn->requests() == 0
                      ? conn->accepted_at() + options_.read_timeout
                      : conn->idle_since() + options_.keep_alive_timeout;
  auto on_ready = [this, queue, conn] {
    if (!queue->pool().Enqueue([this, conn] { ServeConnection(conn); })) {
      conn->Close();
    }
  };
  auto on_expire = [conn] { conn->Close(); };
  if (queue == nullptr ||
      !queue->room().Park(conn->socket(), deadline, on_ready, on_expire)) {
    conn->Close();
  }
}

httplib::Server::HandlerResponse BoundedHttpServer::PreRoute(
    const httplib::Request& req, httplib::Response& res) {
  HttpConnection* conn = tls_connection;
  if (conn != nullptr && conn->reject_status() != 0) {
    res.status = conn->reject_status();
    res.set_content(ErrorBody(conn->reject_message()), "application/json");
  } else {
    handler_(req, res);
  }
  return HandlerResponse::Handled;
}

httplib::Server::HandlerResponse BoundedHttpServer::OnError(
    const httplib::Request&, httplib::Response& res) {
  if (!res.body.empty()) return HandlerResponse::Unhandled;  // a handler's
  using Limit = HttpConnection::Limit;
  HttpConnection* conn = tls_connection;
  Limit limit = conn != nullptr ? conn->limit() : Limit::kNone;
  std::string message = LowerReason(res.status);
  if (limit == Limit::kTimedOut) {
    res.status = 408;
    message = "request not received within " +
              std::to_string(options_.read_timeout.count()) + "ms";
  } else if (limit == Limit::kHeadTooLarge) {
    res.status = 431;
    message = "request head is over the limit of " +
              std::to_string(options_.max_header_bytes) + " bytes";
  }
  res.set_content(ErrorBody(message), "application/json");
  return HandlerResponse::Handled;
}

void BoundedHttpServer::OnException(httplib::Response& res,
                                    std::exception_ptr error) {
  std::string what = "unknown exception";
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
  }
  res.status = 500;
  res.set_content(ErrorBody("internal error: " + what), "application/json");
}

}  // namespace corefork
