// How the event loop tells its epoll sources apart: each registration
// carries a tag (what kind of fd) and a serial (which worker's pipe).
#pragma once

#include <sys/epoll.h>

#include <cstdint>
#include <utility>

#include "util/status.h"

namespace corefork {

enum class LoopTag : uint8_t {
  kSignal = 1,
  kCommands = 2,
  kNotifySocket = 3,
  kNotifyPipe = 4,
  kJobPipe = 5,
  kNodeIpc = 6,       // a worker's Node IPC channel (serial = the worker's)
  kProbe = 7,         // a worker probe's connection (serial = the worker's)
  kWorkerOutput = 8,  // a worker's stdout/stderr pipe (serial =
                      // WorkerOutput::Key(worker serial, stream))
  kJobPipeOut = 9,    // a job pool process's stdin, writable again
};

inline uint64_t MakeTag(LoopTag tag, uint64_t serial) {
  return (static_cast<uint64_t>(tag) << 56) | (serial & ((1ull << 56) - 1));
}

inline std::pair<LoopTag, uint64_t> SplitTag(uint64_t data) {
  return {static_cast<LoopTag>(data >> 56), data & ((1ull << 56) - 1)};
}

// Adds `fd` to the epoll set, level-triggered: readable, or `events`.
inline Status Watch(int epoll_fd, int fd, LoopTag tag, uint64_t serial = 0,
                    uint32_t events = EPOLLIN) {
  epoll_event ev = {};
  ev.events = events;
  ev.data.u64 = MakeTag(tag, serial);
  if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
    return PosixError("epoll_ctl ADD");
  }
  return Status::Ok();
}

}  // namespace corefork
