// HTTP clients for the whole-binary tests, over TCP (the workers through
// corefork's port, the admin port) or a unix stream socket (the control
// socket). HttpGet and UnixHttpRequest (unix_http.h) are whole exchanges
// through httplib::Client (support/http_client.h). HttpConnection writes and
// reads raw bytes, for tests that must have a connection open or a request
// on the wire before they go on: queued in a listen backlog, accepted before
// a reload, a ?wait=true request held while the test acts. Every call is
// bounded by a timeout; one object per thread, nothing shared.
#pragma once

#include <map>
#include <string>

#include "support/util.h"

namespace corefork::harness {

struct HttpResponse {
  int status = 0;  // 0 when there was no complete response
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;   // de-chunked when Transfer-Encoding: chunked
  std::string error;  // why status is 0 ("connect: Connection refused", ...)
  // The header's value ("" when absent); `name` in any case.
  std::string Header(const std::string& name) const;
  std::string ToString() const;
};

// One connection a test opens first and uses later. One request per
// connection (Connection: close).
class HttpConnection {
 public:
  HttpConnection() = default;
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // TCP connect to host (an IP literal):port within `timeout`; false with
  // error() set on failure.
  bool Connect(const std::string& host, int port, Millis timeout);
  // connect() to the unix socket at `path` within `timeout` (retrying while
  // its listen backlog is full).
  bool Connect(const std::string& path, Millis timeout);
  // Sends "METHOD target HTTP/1.1" with Host, Connection: close and, when
  // there is a body or the method is POST/PUT, Content-Length. A send that
  // fails half-way (the server answered early and closed) returns false but
  // keeps the connection, so ReadResponse can still get that answer.
  bool Send(const std::string& method, const std::string& target,
            const std::string& body = "", Millis timeout = Millis(5000));
  bool SendGet(const std::string& path) { return Send("GET", path); }
  // Reads until the response is complete or EOF, bounded by `timeout`.
  HttpResponse ReadResponse(Millis timeout);
  const std::string& error() const { return error_; }
  void Close();

 private:
  int fd_ = -1;
  std::string error_;
};

// GET `path` with Connection: close, through httplib::Client, within
// `timeout` for the connect and for each read.
HttpResponse HttpGet(const std::string& host, int port, const std::string& path,
                     Millis timeout = Millis(5000));

// Whether `raw` (what came so far; `eof`: all that will come) holds a
// complete response (by Content-Length, the chunked terminator, or EOF for
// neither); fills *out when it does. For raw-socket tests too.
bool ParseHttpResponse(const std::string& raw, bool eof, HttpResponse* out);

}  // namespace corefork::harness
