// A small blocking HTTP/1.1 client for corefork's own servers: one request
// per connection (Connection: close) over a unix socket (the control API) or
// TCP (the admin port). Bounded: one deadline covers connect, write and read
// (poll), and the reply is capped in bytes. For the client commands only
// (src/client/commands.h); the server never calls it. Any thread; no state.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "net/line_http.h"
#include "util/status.h"

namespace corefork {

// Where a request goes: a unix socket path, or host:port over TCP.
struct Endpoint {
  std::string unix_path;  // set: a unix socket; else host and port
  std::string host;       // numeric IPv4 or IPv6 address
  int port = 0;

  static Endpoint Unix(std::string path) {
    return Endpoint{std::move(path), "", 0};
  }
  static Endpoint Tcp(std::string host, int port) {
    return Endpoint{"", std::move(host), port};
  }
  // "/run/corefork/control.sock", "127.0.0.1:9180", "[::1]:9180".
  std::string Describe() const;
};

struct HttpCall {
  std::string method = "GET";
  std::string target = "/";  // path and query
  std::string body;          // sent with Content-Length when not empty
  // For connect, sending and the whole answer together.
  std::chrono::milliseconds timeout{5'000};
  size_t max_reply_bytes = 8 << 20;  // head + body as received
};

// Sends `call` to `to` and reads the answer until the server closes. Errors
// say what failed and where ("connect /run/corefork/control.sock: No such
// file or directory"): Unavailable when nothing answers there (no socket,
// refused, permission denied), DeadlineExceeded when the deadline passed,
// ResourceExhausted when the reply is over the cap, InvalidArgument when it
// is not HTTP.
Result<HttpReply> HttpExchange(const Endpoint& to, const HttpCall& call);

}  // namespace corefork
