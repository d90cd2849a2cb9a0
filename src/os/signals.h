// The signals corefork handles, and the signalfd the event loop reads them
// from. BlockHandledSignals() must run in main before any thread starts, so
// every thread inherits the mask and only the loop ever sees them.
// Synchronous fault signals (SIGSEGV, SIGBUS, ...) are left alone.
#pragma once

#include <signal.h>

#include "os/fd.h"
#include "util/status.h"

namespace corefork {

sigset_t HandledSignals();

// Blocks HandledSignals() and ignores SIGPIPE (writes to closed sockets
// return EPIPE instead of killing corefork).
Status BlockHandledSignals();

// A non-blocking, close-on-exec signalfd for HandledSignals().
Result<Fd> OpenSignalFd();

// Makes corefork the reaper of its orphaned descendants, unless it is PID 1
// (which already is). Returns whether it is now a reaper.
Status BecomeChildSubreaper();

}  // namespace corefork
