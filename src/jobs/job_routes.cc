#include "jobs/job_routes.h"

#include <charconv>
#include <memory>

#include "admin/control_routes.h"
#include "admin/http_lite.h"

namespace corefork {
namespace {

// A run id from the path: a positive decimal integer, else 0.
uint64_t RunId(const HttpRequest& request) {
  auto it = request.path_params.find("id");
  if (it == request.path_params.end()) return 0;
  uint64_t id = 0;
  const std::string& s = it->second;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), id);
  return ec == std::errc() && end == s.data() + s.size() ? id : 0;
}

std::unique_ptr<Command> MakeCommand(Command::Kind kind) {
  auto command = std::make_unique<Command>();
  command->kind = kind;
  return command;
}

}  // namespace

void AddJobRoutes(ControlServer& server, CommandQueue* commands,
                  std::chrono::milliseconds timeout,
                  std::chrono::milliseconds wait_timeout) {
  server.Handle("POST", "/jobs/{name}/runs", [=](const HttpRequest& req) {
    auto command = MakeCommand(Command::Kind::kRunJob);
    command->name = req.path_params.at("name");
    command->body = req.body;
    auto wait = req.query.find("wait");
    command->wait = wait != req.query.end() &&
                    (wait->second == "true" || wait->second == "1");
    const bool waiting = command->wait;
    HttpResponse response = AwaitReply(commands->Post(std::move(command)),
                                       waiting ? wait_timeout : timeout);
    if (waiting && response.status == 503 &&
        response.body.find("did not answer") != std::string::npos) {
      return ErrorResponse(504, "the run did not end in time; it goes on");
    }
    return response;
  });
  server.Handle("GET", "/jobs/runs/{id}", [=](const HttpRequest& req) {
    auto command = MakeCommand(Command::Kind::kGetRun);
    command->run_id = RunId(req);
    if (command->run_id == 0) return ErrorResponse(404, "no such run");
    return AwaitReply(commands->Post(std::move(command)), timeout);
  });
  server.Handle("DELETE", "/jobs/runs/{id}", [=](const HttpRequest& req) {
    auto command = MakeCommand(Command::Kind::kCancelRun);
    command->run_id = RunId(req);
    if (command->run_id == 0) return ErrorResponse(404, "no such run");
    return AwaitReply(commands->Post(std::move(command)), timeout);
  });
  server.Handle("GET", "/jobs", [=](const HttpRequest&) {
    return AwaitReply(commands->Post(MakeCommand(Command::Kind::kListJobs)),
                      timeout);
  });
}

}  // namespace corefork
