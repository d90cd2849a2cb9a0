// A minimal blocking HTTP/1.1 client over a unix stream socket, for
// corefork's control socket (COREFORK_CONTROL_SOCKET): one request per
// connection (Connection: close), any method, a body, response headers.
// Every call is bounded by a timeout. No shared state: separate objects (and
// UnixHttpRequest) may be used from several threads at once, e.g. to send a
// burst of requests.
#pragma once

#include <map>
#include <string>

#include "support/util.h"

namespace corefork::harness {

struct UnixHttpResponse {
  int status = 0;  // 0 when there was no complete response
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;   // de-chunked when Transfer-Encoding: chunked
  std::string error;  // why status is 0
  // The header's value ("" when absent); `name` in any case.
  std::string Header(const std::string& name) const;
  std::string ToString() const;
};

// One connection that a test can open, send on, and read from later: e.g. a
// `?wait=true` request held open while the test does something else.
class UnixHttpConnection {
 public:
  UnixHttpConnection() = default;
  ~UnixHttpConnection();
  UnixHttpConnection(const UnixHttpConnection&) = delete;
  UnixHttpConnection& operator=(const UnixHttpConnection&) = delete;

  // connect() to the socket at `path` within `timeout` (retrying while the
  // listen backlog is full); false with error() set on failure.
  bool Connect(const std::string& path, Millis timeout);
  // Sends "METHOD target HTTP/1.1" with Host, Connection: close and, when
  // there is a body or the method is POST/PUT, Content-Length. A send that
  // fails half-way (the server answered early and closed) returns false but
  // keeps the connection, so ReadResponse can still get that answer.
  bool Send(const std::string& method, const std::string& target,
            const std::string& body = "", Millis timeout = Millis(5000));
  // Reads until the response is complete or EOF, bounded by `timeout`.
  UnixHttpResponse ReadResponse(Millis timeout);
  const std::string& error() const { return error_; }
  void Close();

 private:
  int fd_ = -1;
  std::string error_;
};

// Connect, send, read: one whole exchange within `timeout`.
UnixHttpResponse UnixHttpRequest(const std::string& socket_path,
                                 const std::string& method,
                                 const std::string& target,
                                 const std::string& body = "",
                                 Millis timeout = Millis(5000));

}  // namespace corefork::harness
