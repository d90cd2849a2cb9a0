#include "support/unix_http.h"

#include <algorithm>
#include <chrono>

#include "support/http_client.h"

namespace corefork::harness {

UnixHttpResponse UnixHttpRequest(const std::string& socket_path,
                                 const std::string& method,
                                 const std::string& target,
                                 const std::string& body, Millis timeout) {
  UnixHttpResponse resp;
  if (body.size() <= kRawBodyOver) {
    HttpExchange x = UnixExchange(socket_path, method, target, body, timeout);
    resp.status = x.status;
    resp.headers = std::move(x.headers);
    resp.body = std::move(x.body);
    resp.error = std::move(x.error);
    return resp;
  }
  // corefork may answer a body this big (413) before reading it all and
  // close: httplib reports that as a failed write and drops the answer, so
  // this goes over the raw connection, which reads it anyway.
  const auto start = Clock::now();
  UnixHttpConnection conn;
  if (!conn.Connect(socket_path, timeout)) {
    resp.error = conn.error();
    return resp;
  }
  conn.Send(method, target, body, timeout);  // a failed send may still
                                             // have an answer to read
  auto left =
      timeout - std::chrono::duration_cast<Millis>(Clock::now() - start);
  return conn.ReadResponse(std::max(left, Millis(1)));
}

}  // namespace corefork::harness
