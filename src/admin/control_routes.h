// The control API's own routes: POST /reload and POST /scale turn into
// Commands for the event loop, and the loop's reply becomes the response.
// The handlers run on the server thread and never wait: the reply comes
// back through a ReplyTo callback that hands it to the request's Responder.
#pragma once

#include <chrono>
#include <memory>
#include <optional>

#include "admin/http_lite.h"
#include "admin/http_server.h"
#include "admin/router.h"
#include "loop/commands.h"
#include "util/status.h"

namespace corefork {

inline constexpr int kMinScaleWorkers = 1;
inline constexpr int kMaxScaleWorkers = 1024;

// The target of POST /scale: {"workers":N} in the body or ?workers=N (not
// both), N an integer in [kMinScaleWorkers, kMaxScaleWorkers]. The error
// message is meant for the 400 body.
Result<int> ParseScaleRequest(const HttpRequest& request);

// The loop's reply as a response; nullopt (the loop dropped the command)
// is 503.
HttpResponse CommandResponse(std::optional<CommandReply> reply);

// "event loop did not answer within 5000ms", as a 503.
HttpResponse LoopTimeoutResponse(std::chrono::milliseconds timeout);

// Server thread, inside a handler: sends `command` to the loop; its reply
// answers `reply`. When none comes within `timeout`, `on_timeout` is sent
// (and the late reply dropped). `long_wait`: see Responder::SetTimeout;
// when the server has no room for another, 429 and nothing is sent.
void ForwardCommand(CommandQueue* commands, std::unique_ptr<Command> command,
                    Responder reply, std::chrono::milliseconds timeout,
                    HttpResponse on_timeout, bool long_wait = false);
// The same with the usual 503 on timeout.
void ForwardCommand(CommandQueue* commands, std::unique_ptr<Command> command,
                    Responder reply, std::chrono::milliseconds timeout);

// Registers POST /reload and POST /scale.
void AddControlRoutes(Router& router, CommandQueue* commands,
                      std::chrono::milliseconds timeout);

}  // namespace corefork
