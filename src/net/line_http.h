// LineRequest: one HTTP/1.0 GET to a worker over a "line" (a connection
// whose source port steers it to one slot; see net/steering.h), driven by
// whoever owns the fd: the event loop through epoll (worker probes) or a
// scraper thread through poll (FetchAll). Non-blocking throughout, bounded
// in bytes; the owner bounds it in time. HTTP/1.0 with Connection: close so
// the worker closes first and the TIME_WAIT is the worker's, not the line
// port's. Not thread-safe; one owner.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "os/fd.h"
#include "util/status.h"

namespace corefork {

struct HttpReply {
  int status = 0;
  std::string body;
};

// Parses a whole HTTP/1.x response (the connection has closed): status line,
// headers, then a body by Content-Length, chunked, or up to the end.
Result<HttpReply> ParseHttpReply(std::string_view raw);

class LineRequest {
 public:
  // `fd` is connected or connecting (ConnectFrom); `path` like "/metrics".
  LineRequest(Fd fd, std::string_view path, size_t max_response);

  int fd() const { return fd_.get(); }
  // What to wait for: POLLOUT while the request is going out, else POLLIN.
  short events() const;
  // Call when fd() is ready (or on any event); true once it is done.
  bool OnReady();
  bool done() const { return done_; }
  // When done: the reply, or why there is none.
  Result<HttpReply> Take();

 private:
  bool Fail(Status status);

  Fd fd_;
  std::string request_;
  size_t sent_ = 0;
  size_t max_response_;
  std::string response_;
  bool done_ = false;
  Status failure_;
};

// Runs `requests` concurrently until each is done or `deadline` passes (the
// unfinished ones then fail with DeadlineExceeded). Blocks the calling
// thread: for a thread of its own, never for the event loop.
std::vector<Result<HttpReply>> FetchAll(
    std::vector<LineRequest> requests,
    std::chrono::steady_clock::time_point deadline);

}  // namespace corefork
