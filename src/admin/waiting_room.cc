#include "admin/waiting_room.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <vector>

namespace corefork {

WaitingRoom::WaitingRoom()
    : epoll_(epoll_create1(EPOLL_CLOEXEC)),
      wake_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  epoll_event ev = {};
  ev.events = EPOLLIN;
  ev.data.fd = wake_.get();
  epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, wake_.get(), &ev);
  thread_ = std::thread([this] { Run(); });
}

WaitingRoom::~WaitingRoom() { Shutdown(); }

bool WaitingRoom::Park(int fd, Clock::time_point deadline, Callback on_ready,
                       Callback on_expire) {
  bool nearest = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shutdown_) return false;
    epoll_event ev = {};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.fd = fd;
    if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) return false;
    nearest = by_deadline_.empty() || deadline < by_deadline_.begin()->first;
    parked_[fd] = Entry{deadline, std::move(on_ready), std::move(on_expire)};
    by_deadline_.emplace(deadline, fd);
  }
  if (nearest) Wake();  // the thread may be sleeping towards a later one
  return true;
}

void WaitingRoom::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutdown_ = true;
  }
  Wake();
  if (thread_.joinable()) thread_.join();
}

size_t WaitingRoom::parked() const {
  std::lock_guard<std::mutex> lock(mu_);
  return parked_.size();
}

void WaitingRoom::Wake() {
  uint64_t one = 1;
  ssize_t n = write(wake_.get(), &one, sizeof one);
  (void)n;  // EAGAIN: already awake-pending
}

int WaitingRoom::TimeoutMs() const {
  if (by_deadline_.empty()) return -1;
  auto left = std::chrono::ceil<std::chrono::milliseconds>(
      by_deadline_.begin()->first - Clock::now());
  return static_cast<int>(std::clamp<int64_t>(left.count(), 0, 60'000));
}

void WaitingRoom::Remove(int fd) {
  auto it = parked_.find(fd);
  epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
  by_deadline_.erase({it->second.deadline, fd});
  parked_.erase(it);
}

void WaitingRoom::Run() {
  std::vector<epoll_event> events(64);
  for (bool stop = false; !stop;) {
    int timeout;
    {
      std::lock_guard<std::mutex> lock(mu_);
      timeout = shutdown_ ? 0 : TimeoutMs();
    }
    int n = epoll_wait(epoll_.get(), events.data(),
                       static_cast<int>(events.size()), timeout);
    std::vector<Callback> due;  // run without the lock: they may Park()
    {
      std::lock_guard<std::mutex> lock(mu_);
      TakeReady(events.data(), std::max(n, 0), due);
      stop = shutdown_;
      TakeExpired(stop, due);
    }
    for (Callback& callback : due) callback();
  }
}

void WaitingRoom::TakeReady(const epoll_event* events, int n,
                            std::vector<Callback>& due) {
  for (int i = 0; i < n; ++i) {
    int fd = events[i].data.fd;
    if (fd == wake_.get()) {
      uint64_t count;
      ssize_t r = read(wake_.get(), &count, sizeof count);
      (void)r;  // only resets the eventfd
    } else if (parked_.count(fd) != 0) {
      due.push_back(std::move(parked_[fd].on_ready));
      Remove(fd);
    }
  }
}

void WaitingRoom::TakeExpired(bool all, std::vector<Callback>& due) {
  auto now = Clock::now();
  while (!by_deadline_.empty() && (all || by_deadline_.begin()->first <= now)) {
    int fd = by_deadline_.begin()->second;
    due.push_back(std::move(parked_[fd].on_expire));
    Remove(fd);
  }
}

}  // namespace corefork
