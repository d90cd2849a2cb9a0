// The control API's own routes: POST /reload and POST /scale turn into
// Commands for the event loop, and the loop's reply becomes the response.
// The handlers run on control-server threads and only wait on futures.
#pragma once

#include <chrono>
#include <future>

#include "admin/http_lite.h"
#include "admin/router.h"
#include "supervisor/commands.h"
#include "util/status.h"

namespace corefork {

inline constexpr int kMinScaleWorkers = 1;
inline constexpr int kMaxScaleWorkers = 1024;

// The target of POST /scale: {"workers":N} in the body or ?workers=N (not
// both), N an integer in [kMinScaleWorkers, kMaxScaleWorkers]. The error
// message is meant for the 400 body.
Result<int> ParseScaleRequest(const HttpRequest& request);

// The loop's reply as a response; 503 when it does not answer within
// `timeout` or drops the command.
HttpResponse AwaitReply(std::future<CommandReply> reply,
                        std::chrono::milliseconds timeout);

// Registers POST /reload and POST /scale.
void AddControlRoutes(Router& router, CommandQueue* commands,
                      std::chrono::milliseconds timeout);

}  // namespace corefork
