#include "supervisor/commands.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>

namespace corefork {

CommandQueue::CommandQueue()
    : event_fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

std::future<CommandReply> CommandQueue::Post(Command::Kind kind, int count) {
  auto command = std::make_unique<Command>();
  command->kind = kind;
  command->count = count;
  return Post(std::move(command));
}

std::future<CommandReply> CommandQueue::Post(std::unique_ptr<Command> command) {
  std::future<CommandReply> reply = command->reply.get_future();
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending_.push_back(std::move(command));
  }
  uint64_t one = 1;
  ssize_t n = write(event_fd_.get(), &one, sizeof one);
  (void)n;  // EAGAIN: the counter is already non-zero, the loop will wake
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
