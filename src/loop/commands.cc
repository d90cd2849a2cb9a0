#include "loop/commands.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>

namespace corefork {

ReplyTo ReplyTo::WithFuture(std::future<CommandReply>* future) {
  // std::function needs a copyable callable, hence the shared promise.
  auto promise = std::make_shared<std::promise<CommandReply>>();
  *future = promise->get_future();
  return ReplyTo([promise](std::optional<CommandReply> reply) {
    // Unanswered: the promise dies with this callback and the future
    // reports broken_promise.
    if (reply) promise->set_value(std::move(*reply));
  });
}

ReplyTo& ReplyTo::operator=(ReplyTo&& other) noexcept {
  if (this != &other) {
    Finish(std::nullopt);
    done_ = std::move(other.done_);
    other.done_ = nullptr;
  }
  return *this;
}

void ReplyTo::Finish(std::optional<CommandReply> reply) noexcept {
  if (!done_) return;
  Callback done = std::move(done_);
  done_ = nullptr;
  try {
    done(std::move(reply));
  } catch (...) {
    // A poster's callback must not take the loop down; the poster's own
    // deadline answers its client.
  }
}

Result<std::unique_ptr<CommandQueue>> CommandQueue::Create() {
  Fd fd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!fd.valid()) return PosixError("eventfd (command queue)");
  return std::unique_ptr<CommandQueue>(new CommandQueue(std::move(fd)));
}

void CommandQueue::Send(std::unique_ptr<Command> command) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending_.push_back(std::move(command));
  }
  uint64_t one = 1;
  ssize_t n = write(event_fd_.get(), &one, sizeof one);
  (void)n;  // EAGAIN: the counter is already non-zero, the loop will wake
}

std::future<CommandReply> CommandQueue::Post(Command::Kind kind, int count) {
  auto command = std::make_unique<Command>();
  command->kind = kind;
  command->count = count;
  return Post(std::move(command));
}

std::future<CommandReply> CommandQueue::Post(std::unique_ptr<Command> command) {
  std::future<CommandReply> reply;
  command->reply = ReplyTo::WithFuture(&reply);
  Send(std::move(command));
  return reply;
}

std::vector<std::unique_ptr<Command>> CommandQueue::TakeAll() {
  uint64_t count;
  ssize_t n = read(event_fd_.get(), &count, sizeof count);
  (void)n;  // EAGAIN: nothing was signalled, but take what is there anyway
  std::lock_guard<std::mutex> lock(mu_);
  return std::exchange(pending_, {});
}

}  // namespace corefork
