#include "support/http_client.h"

#include <httplib.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <thread>

namespace corefork::harness {
namespace {

// httplib takes its timeouts as seconds + microseconds.
void SetTimeouts(httplib::Client& cli, Millis timeout) {
  const auto sec = static_cast<time_t>(timeout.count() / 1000);
  const auto usec = static_cast<time_t>((timeout.count() % 1000) * 1000);
  cli.set_connection_timeout(sec, usec);
  cli.set_read_timeout(sec, usec);
  cli.set_write_timeout(sec, usec);
}

HttpExchange Exchange(httplib::Client& cli, const std::string& method,
                      const std::string& target, const std::string& body,
                      Millis timeout, httplib::Error* error) {
  SetTimeouts(cli, timeout);
  cli.set_keep_alive(false);  // one request per connection: Connection: close
  httplib::Request req;
  req.method = method;
  req.path = target;
  // httplib would send the socket path as Host on a unix socket.
  req.set_header("Host", "corefork");
  req.body = body;
  std::string received;
  bool too_big = false;
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    if (received.size() + n > kMaxResponseBody) {
      too_big = true;
      return false;
    }
    received.append(data, n);
    return true;
  };
  HttpExchange out;
  httplib::Result res = cli.send(req);
  *error = res.error();
  if (too_big) {
    out.error =
        "response body over " + std::to_string(kMaxResponseBody) + " bytes";
    return out;
  }
  if (!res) {
    out.error = "httplib: " + httplib::to_string(res.error());
    return out;
  }
  out.status = res->status;
  for (const auto& [name, value] : res->headers) {
    out.headers[Lower(name)] = value;
  }
  out.body = res->body.empty() ? std::move(received) : res->body;
  return out;
}

bool IsSocket(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

}  // namespace

HttpExchange TcpExchange(const std::string& host, int port,
                         const std::string& method, const std::string& target,
                         const std::string& body, Millis timeout) {
  httplib::Client cli(host, port);
  httplib::Error error;
  return Exchange(cli, method, target, body, timeout, &error);
}

HttpExchange UnixExchange(const std::string& socket_path,
                          const std::string& method, const std::string& target,
                          const std::string& body, Millis timeout) {
  const auto start = Clock::now();
  const auto retry_until = start + std::min(timeout, Millis(1000));
  for (int attempt = 0;; ++attempt) {
    httplib::Client cli(socket_path);
    cli.set_address_family(AF_UNIX);
    auto left =
        timeout - std::chrono::duration_cast<Millis>(Clock::now() - start);
    httplib::Error error;
    HttpExchange out =
        Exchange(cli, method, target, body, std::max(left, Millis(1)), &error);
    // Only a failed connect can be retried: nothing was sent yet.
    if (error != httplib::Error::Connection || !IsSocket(socket_path) ||
        Clock::now() >= retry_until || attempt >= 500) {
      return out;
    }
    std::this_thread::sleep_for(Millis(2));  // retry pacing, not sync
  }
}

}  // namespace corefork::harness
