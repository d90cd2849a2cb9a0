// One whole HTTP exchange through cpp-httplib's httplib::Client, over TCP or
// a unix stream socket: what HttpGet, UnixHttpRequest and TcpHttpRequest are
// built on. A fresh client (and connection) per call, so calls from several
// threads at once share nothing. Every call is bounded: connect, read and
// write timeouts on the client, and a cap on the response body.
#pragma once

#include <map>
#include <string>

#include "support/util.h"

namespace corefork::harness {

struct HttpExchange {
  int status = 0;  // 0 when there was no complete response
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;                            // de-chunked
  std::string error;                           // why status is 0
};

// Responses larger than this fail (error set): no test reads more.
inline constexpr size_t kMaxResponseBody = 64 << 20;

// `method` `target` to host:port (an IP literal) with Connection: close.
HttpExchange TcpExchange(const std::string& host, int port,
                         const std::string& method, const std::string& target,
                         const std::string& body, Millis timeout);

// The same over the unix socket at `socket_path`. A connect that fails while
// the socket exists (a full listen backlog) is retried for up to a second
// within `timeout`.
HttpExchange UnixExchange(const std::string& socket_path,
                          const std::string& method, const std::string& target,
                          const std::string& body, Millis timeout);

}  // namespace corefork::harness
