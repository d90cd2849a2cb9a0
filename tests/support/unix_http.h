// HTTP over a unix stream socket, for corefork's control socket
// (COREFORK_CONTROL_SOCKET): the same response and raw connection types as
// TCP (support/http.h), and one whole exchange through httplib::Client. No
// shared state: calls from several threads at once are fine (e.g. a burst).
#pragma once

#include <cstddef>
#include <string>

#include "support/http.h"
#include "support/util.h"

namespace corefork::harness {

using UnixHttpResponse = HttpResponse;
using UnixHttpConnection = HttpConnection;

// Bodies over this go over an HttpConnection: corefork may answer one (413)
// before reading it all and close, which httplib reports as a failed write,
// dropping the answer; the raw connection reads it anyway.
inline constexpr size_t kRawBodyOver = 64 << 10;

// Connect, send, read: one whole exchange within `timeout` (connect, and
// each read), any method, a body, response headers.
UnixHttpResponse UnixHttpRequest(const std::string& socket_path,
                                 const std::string& method,
                                 const std::string& target,
                                 const std::string& body = "",
                                 Millis timeout = Millis(5000));

}  // namespace corefork::harness
