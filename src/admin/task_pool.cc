#include "admin/task_pool.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <system_error>
#include <utility>

namespace corefork {
namespace {

TaskPoolOptions Normalize(TaskPoolOptions options) {
  options.max_threads = std::max<size_t>(options.max_threads, 1);
  options.min_threads = std::min(options.min_threads, options.max_threads);
  return options;
}

}  // namespace

TaskPool::TaskPool(TaskPoolOptions options) : options_(Normalize(options)) {
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = 0; i < options_.min_threads; ++i) StartThread();
}

TaskPool::~TaskPool() { Shutdown(); }

bool TaskPool::Enqueue(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shutdown_) return false;
    tasks_.push_back(std::move(task));
    // Idle threads already woken but not yet running count as idle, so
    // compare with the whole queue: each queued task needs its own thread.
    if (tasks_.size() > idle_ && alive_ < options_.max_threads) StartThread();
  }
  work_.notify_one();
  JoinExited();
  return true;
}

void TaskPool::StartThread() {
  threads_.emplace_back();
  auto self = std::prev(threads_.end());
  try {
    // Run() touches `self` only under mu_, which the caller holds until the
    // std::thread has been stored.
    *self = std::thread(&TaskPool::Run, this, self);
    ++alive_;
    ++idle_;  // available from now on, even before it first waits
  } catch (const std::system_error& e) {
    threads_.erase(self);
    spdlog::warn("http: cannot start a thread ({}); {} running", e.what(),
                 alive_);
  }
}

void TaskPool::Run(ThreadList::iterator self) {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    bool woken = work_.wait_for(lock, options_.idle_timeout,
                                [&] { return !tasks_.empty() || shutdown_; });
    if (!tasks_.empty()) {
      std::function<void()> task = std::move(tasks_.front());
      tasks_.pop_front();
      --idle_;
      lock.unlock();
      try {
        task();
      } catch (const std::exception& e) {
        spdlog::error("http: task failed: {}", e.what());
      }
      task = nullptr;  // release what it captured before taking the lock
      lock.lock();
      ++idle_;
      continue;
    }
    if (shutdown_) break;
    if (!woken && alive_ > options_.min_threads) break;  // idle too long
  }
  --idle_;
  --alive_;
  exited_.splice(exited_.end(), threads_, self);
  work_.notify_all();  // Shutdown() waits for alive_ == 0 on work_ too
}

void TaskPool::JoinExited() {
  ThreadList done;
  {
    std::lock_guard<std::mutex> lock(mu_);
    done.swap(exited_);
  }
  for (std::thread& t : done) t.join();
}

void TaskPool::Shutdown() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    shutdown_ = true;
    work_.notify_all();
    work_.wait(lock, [&] { return alive_ == 0; });
  }
  JoinExited();
}

size_t TaskPool::threads() const {
  std::lock_guard<std::mutex> lock(mu_);
  return alive_;
}

size_t TaskPool::idle() const {
  std::lock_guard<std::mutex> lock(mu_);
  return idle_;
}

size_t TaskPool::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return tasks_.size();
}

}  // namespace corefork
