// HttpServer: the one HTTP/1.1 server of corefork (admin port and control
// socket). One thread runs an epoll loop over non-blocking sockets: idle,
// slow and waiting connections cost a bounded amount of memory, never a
// thread. Every phase of a connection has a size limit and a deadline. The
// handler runs on the server thread and must not block: it answers at once
// or keeps the Responder and answers later from any thread (e.g. from the
// event loop through a ReplyTo callback). Start/Stop from the owner's thread.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "admin/http_lite.h"
#include "os/fd.h"
#include "util/status.h"

namespace corefork {

namespace http_internal {
struct Completions;
}

// The answer to one request, sent once, from any thread. Move-only.
// Destroyed unanswered it sends 500, so no request is left hanging.
class Responder {
 public:
  Responder() = default;
  // A Responder that hands the response to `done` on the thread that
  // sends it (tests, and callers that are no HTTP server).
  static Responder Capture(std::function<void(HttpResponse)> done);
  Responder(Responder&&) noexcept = default;
  Responder& operator=(Responder&& other) noexcept;
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;
  ~Responder();

  // Any thread. Dropped when the connection is gone or the request already
  // timed out. Later calls are ignored.
  void Send(HttpResponse response);
  // Server thread, inside the handler only: when no Send() came within
  // `timeout`, the server sends `on_timeout` instead (default:
  // HttpServerOptions::answer_timeout and a 503). `long_wait` marks a
  // long-poll (a job run's end): those have a cap of their own
  // (max_long_waits) so that they never crowd out short requests; false
  // when that cap is reached (nothing was set; answer 429 and do not start
  // what would be waited for).
  bool SetTimeout(std::chrono::milliseconds timeout, HttpResponse on_timeout,
                  bool long_wait = false);
  bool valid() const { return sink_ != nullptr; }

 private:
  friend class HttpServer;
  Responder(std::shared_ptr<http_internal::Completions> sink, uint64_t conn,
            uint64_t serial)
      : sink_(std::move(sink)), conn_(conn), serial_(serial) {}

  std::shared_ptr<http_internal::Completions> sink_;
  uint64_t conn_ = 0;
  uint64_t serial_ = 0;
};

struct HttpServerOptions {
  std::string name = "http";            // for log lines
  size_t max_header_bytes = 16 * 1024;  // request line + headers: else 431
  size_t max_body_bytes = 0;            // else 413
  // The head must arrive within this of its first byte (for a
  // connection's first request: of accept); the body within body_timeout
  // of the end of the head. Past it: 408 when part of the request came, a
  // silent close when nothing did.
  std::chrono::milliseconds header_timeout{5'000};
  std::chrono::milliseconds body_timeout{5'000};
  std::chrono::milliseconds idle_timeout{
      5'000};  // kept alive, between requests
  std::chrono::milliseconds write_timeout{5'000};  // a whole response
  // A handler that does not answer at once: 503 after this unless it set
  // its own (Responder::SetTimeout).
  std::chrono::milliseconds answer_timeout{5'000};
  bool keep_alive = true;  // false: every response closes
  size_t max_requests_per_connection = 100;
  // Open connections. At the cap a new connection evicts the one idle the
  // longest (kept alive, or sent nothing yet), else the slowest one still
  // sending its request; with neither it is closed at once.
  size_t max_connections = 4096;
  // Requests waiting for an answer at once, long waits not counted; beyond
  // it 503 at once.
  size_t max_waiting = 1024;
  size_t max_long_waits = 512;  // see Responder::SetTimeout
  int listen_backlog = 1024;
  bool tcp_nodelay = false;  // TCP: responses are one send(), no Nagle delay
  // On accept: "" admits the connection; else the reason it gets 403 (the
  // control socket's SO_PEERCRED check).
  std::function<std::string(int fd)> check_peer;
};

class HttpServer {
 public:
  // Server thread. `request` may be moved from.
  using Handler = std::function<void(HttpRequest& request, Responder reply)>;

  HttpServer(HttpServerOptions options, Handler handler);
  ~HttpServer();  // Stop()s
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Takes a bound socket (made non-blocking here), listens and serves on a
  // thread of its own.
  Status Start(Fd listen_socket);
  // Closes every connection (late answers are dropped) and joins the thread.
  void Stop();

  // Any thread (diagnostics and tests).
  int connections() const { return connections_.load(); }
  int waiting() const { return waiting_.load(); }  // long waits included

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::atomic<int> connections_{0};
  std::atomic<int> waiting_{0};
};

}  // namespace corefork
