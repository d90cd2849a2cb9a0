// A minimal blocking HTTP/1.1 client over real TCP sockets, for talking to
// the workers through corefork's port. Every call is bounded by a timeout.
#pragma once

#include <string>

#include "support/util.h"

namespace corefork::harness {

// A minimal blocking HTTP/1.1 client over a real TCP socket.
struct HttpResponse {
  int status = 0;     // 0 when there was no complete response
  std::string body;   // de-chunked when Transfer-Encoding: chunked
  std::string error;  // why status is 0 ("connect: Connection refused", ...)
  std::string ToString() const;
};

// One connection that a test can open first and use later (e.g. to queue
// connections in a listen backlog while no worker is accepting).
class HttpConnection {
 public:
  HttpConnection() = default;
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // TCP connect within `timeout`; false with error() set on failure.
  bool Connect(const std::string& host, int port, Millis timeout);
  // Sends "GET path HTTP/1.1" with Connection: close.
  bool SendGet(const std::string& path);
  // Reads until the response is complete or EOF, bounded by `timeout`.
  HttpResponse ReadResponse(Millis timeout);
  const std::string& error() const { return error_; }
  void Close();

 private:
  int fd_ = -1;
  std::string error_;
};

HttpResponse HttpGet(const std::string& host, int port, const std::string& path,
                     Millis timeout = Millis(5000));

}  // namespace corefork::harness
