// TaskPool: an elastic thread pool for the HTTP servers. Enqueue() never
// blocks: it hands the task to an idle thread, or starts a new one while
// fewer than max_threads exist, or else queues it. Threads idle for longer
// than idle_timeout exit, down to min_threads. Any thread may Enqueue();
// Shutdown() (or the destructor) runs what is queued, then joins every thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <list>
#include <mutex>
#include <thread>

namespace corefork {

struct TaskPoolOptions {
  size_t min_threads = 2;   // kept alive while idle
  size_t max_threads = 64;  // tasks beyond this many wait in the queue
  std::chrono::milliseconds idle_timeout{30'000};
};

class TaskPool {
 public:
  explicit TaskPool(TaskPoolOptions options);
  ~TaskPool();  // Shutdown()s
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;

  // False (and the task is dropped) after Shutdown().
  bool Enqueue(std::function<void()> task);
  // Runs every queued task, then joins all threads. Idempotent.
  void Shutdown();

  size_t threads() const;  // alive now
  size_t idle() const;     // waiting for work now
  size_t queued() const;   // tasks no thread has taken yet

 private:
  using ThreadList = std::list<std::thread>;

  void StartThread();  // mu_ held
  void Run(ThreadList::iterator self);
  void JoinExited();  // joins threads that have left Run()

  const TaskPoolOptions options_;
  mutable std::mutex mu_;
  std::condition_variable work_;
  std::deque<std::function<void()>> tasks_;
  ThreadList threads_;  // every thread not yet joined
  ThreadList exited_;   // finished Run(); join before dropping
  size_t alive_ = 0;    // threads inside Run()
  size_t idle_ = 0;     // alive threads not running a task
  bool shutdown_ = false;
};

}  // namespace corefork
