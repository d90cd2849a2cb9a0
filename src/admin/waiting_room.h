// WaitingRoom: holds idle connections without a thread each. One thread
// epoll()s every parked fd; when one becomes readable (or hangs up) it leaves
// the room and its on_ready runs on that thread (keep it short: enqueue the
// work); when its deadline passes first, on_expire runs instead. Park() from
// any thread; the room never closes an fd itself.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "os/fd.h"

struct epoll_event;

namespace corefork {

class WaitingRoom {
 public:
  using Clock = std::chrono::steady_clock;
  using Callback = std::function<void()>;

  WaitingRoom();
  ~WaitingRoom();  // Shutdown()s
  WaitingRoom(const WaitingRoom&) = delete;
  WaitingRoom& operator=(const WaitingRoom&) = delete;

  // False after Shutdown() (or if epoll refuses the fd): nothing was taken.
  bool Park(int fd, Clock::time_point deadline, Callback on_ready,
            Callback on_expire);
  // Runs on_expire for everything still parked, then stops. Idempotent.
  void Shutdown();
  size_t parked() const;

 private:
  struct Entry {
    Clock::time_point deadline;
    Callback on_ready;
    Callback on_expire;
  };

  void Run();
  // These four with mu_ held.
  int TimeoutMs() const;  // until the nearest deadline
  void TakeReady(const epoll_event* events, int n, std::vector<Callback>& due);
  void TakeExpired(bool all, std::vector<Callback>& due);
  void Remove(int fd);
  void Wake();

  Fd epoll_;
  Fd wake_;  // eventfd: Shutdown(), or a new nearest deadline
  mutable std::mutex mu_;
  std::map<int, Entry> parked_;
  std::set<std::pair<Clock::time_point, int>> by_deadline_;
  bool shutdown_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace corefork
