// BoundedHttpServer: an httplib::Server with the limits an admin port needs
// that cpp-httplib 0.11 lacks. A connection holds a thread only while a
// request is arriving or being answered: idle connections (new or kept
// alive) wait in a WaitingRoom with no thread of their own. Each request must
// arrive whole within read_timeout, its head is capped in bytes (431), the
// connection threads form an elastic TaskPool, and Shutdown() wakes every
// connection at once. Requests that pass go to the one handler given to the
// constructor (its own routing); errors get {"error":"..."} bodies.
// Bind() and Serve() from the owner; Shutdown() from any thread.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <string>

#include "admin/http_connection.h"
#include "admin/task_pool.h"
#include "os/fd.h"
#include "util/status.h"

namespace corefork {

struct BoundedHttpOptions {
  // The whole request (head and body) must arrive within this; for a new
  // connection the clock starts at accept.
  std::chrono::milliseconds read_timeout{5'000};
  std::chrono::milliseconds write_timeout{5'000};       // the whole response
  std::chrono::milliseconds keep_alive_timeout{5'000};  // idle between requests
  size_t keep_alive_max_count = 100;   // requests per connection
  size_t max_header_bytes = 8 * 1024;  // request line + headers
  // Requests declaring a larger body get 413; smaller bodies are ignored and
  // the connection closes after the response (handlers never see bodies).
  size_t max_body_bytes = 0;
  int listen_backlog = 1024;  // httplib's own is 5
  TaskPoolOptions pool;       // threads serving requests
};

class BoundedHttpServer : public httplib::Server {
 public:
  using RequestHandler =
      std::function<void(const httplib::Request&, httplib::Response&)>;

  BoundedHttpServer(BoundedHttpOptions options, RequestHandler handler);
  ~BoundedHttpServer() override;

  // Errors read "bind 0.0.0.0:9180: Address already in use".
  Status Bind(const std::string& host, int port);
  int bound_port() const { return bound_port_; }
  // Serves until Shutdown(); run it on a thread of its own.
  void Serve();
  // Stops accepting, wakes every connection (each finishes or drops its
  // current request) and makes Serve() return once its threads are joined.
  void Shutdown();
  int open_connections() const { return open_connections_; }

 private:
  class Queue;  // httplib's TaskQueue: our TaskPool plus the WaitingRoom

  bool process_and_close_socket(socket_t sock) override;
  void ServeConnection(std::shared_ptr<HttpConnection> conn);
  bool ServeRequest(HttpConnection& conn);  // false: close the connection
  void Park(std::shared_ptr<HttpConnection> conn);
  HandlerResponse PreRoute(const httplib::Request& req, httplib::Response& res);
  HandlerResponse OnError(const httplib::Request& req, httplib::Response& res);
  void OnException(httplib::Response& res, std::exception_ptr error);

  const BoundedHttpOptions options_;
  RequestHandler handler_;
  Fd stop_fd_;                          // eventfd; readable once Shutdown() ran
  std::atomic<Queue*> queue_{nullptr};  // while Serve() runs
  std::atomic<int> open_connections_{0};
  std::atomic<bool> stopping_{false};
  int bound_port_ = 0;
};

}  // namespace corefork
