// HttpConnection: one accepted admin-port connection as cpp-httplib's Stream.
// Reads are buffered, capped per request (the head at max_header_bytes) and
// bound by the request's deadline; writes by the response's; every wait
// gives up when stop_fd becomes readable. It closes its socket when
// destroyed. One thread at a time uses it (it moves between pool threads and
// the WaitingRoom, owned through a shared_ptr).
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <string>

#include "admin/http_lite.h"

namespace corefork {

struct ConnectionLimits {
  std::chrono::milliseconds read_timeout{5'000};   // a whole request
  std::chrono::milliseconds write_timeout{5'000};  // a whole response
  size_t max_header_bytes = 8 * 1024;
  size_t max_body_bytes = 0;
};

class HttpConnection final : public httplib::Stream {
 public:
  enum class Limit { kNone, kHeadTooLarge, kTimedOut };

  // `open` counts live connections (the server's gauge).
  HttpConnection(int sock, int stop_fd, ConnectionLimits limits,
                 std::atomic<int>* open);
  ~HttpConnection() override;
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // Without waiting: kOk when bytes of a next request are here, kTimeout
  // when none are yet, kEof/kError when the peer is gone.
  IoResult Peek();
  // Before each request: the time by which all of it must have arrived.
  void BeginRequest(HttpClock::time_point deadline);
  // httplib's setup_request hook: the head is read, the body is not.
  void OnHead(httplib::Request& req);
  // After each response.
  void EndRequest();
  // Closes now; when a body went unread, first lets the client finish
  // sending (briefly) so that the close does not reset our response away.
  void Close();

  int reject_status() const { return reject_status_; }  // 0: none
  const std::string& reject_message() const { return reject_message_; }
  Limit limit() const { return limit_; }
  bool must_close() const;
  size_t requests() const { return requests_; }  // answered so far
  HttpClock::time_point accepted_at() const { return accepted_at_; }
  HttpClock::time_point idle_since() const { return idle_since_; }

  // httplib::Stream
  bool is_readable() const override;
  bool is_writable() const override;
  ssize_t read(char* ptr, size_t size) override;
  ssize_t write(const char* ptr, size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  socket_t socket() const override { return sock_; }

 private:
  IoResult Fill(HttpClock::time_point deadline);  // one recv() into buf_
  void Reject(int status, std::string message);

  int sock_;  // -1 once closed
  const int stop_fd_;
  const ConnectionLimits limits_;
  std::atomic<int>* const open_;
  const HttpClock::time_point accepted_at_;
  HttpClock::time_point idle_since_;
  char buf_[4096];
  size_t begin_ = 0, end_ = 0;  // unread bytes: buf_[begin_, end_)
  size_t delivered_ = 0;        // bytes of this request handed to httplib
  size_t cap_ = 0;              // ... and the most it may have
  size_t requests_ = 0;
  HttpClock::time_point read_deadline_;
  HttpClock::time_point write_deadline_;
  bool writing_ = false;
  bool eof_ = false;
  bool head_parsed_ = false;  // this request reached OnHead()
  bool body_unread_ = false;  // it declared a body we did not read
  Limit limit_ = Limit::kNone;
  int reject_status_ = 0;
  std::string reject_message_;
};

}  // namespace corefork
