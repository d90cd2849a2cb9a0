// The jobs part of the control API: HTTP routes on the control socket that
// become job Commands for the event loop (docs/jobs.md lists them). The
// handlers run on the control server's thread and never wait: a
// `?wait=true` run is a pending response, answered when the run ends, and
// freed at once when its client hangs up.
#pragma once

#include <chrono>

#include "admin/control_server.h"
#include "loop/commands.h"

namespace corefork {

// `timeout`: how long to wait for the loop's answer; `wait_timeout`: how long
// a `?wait=true` request may wait for its run to end (then 504, the run goes
// on and can still be looked up).
void AddJobRoutes(ControlServer& server, CommandQueue* commands,
                  std::chrono::milliseconds timeout,
                  std::chrono::milliseconds wait_timeout);

}  // namespace corefork
