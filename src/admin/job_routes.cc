#include "admin/job_routes.h"

#include <algorithm>
#include <cctype>
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

// application/json, or any +json type (application/problem+json), with or
// without parameters, in any case.
bool IsJson(const std::string* content_type) {
  if (content_type == nullptr) return false;
  std::string type = content_type->substr(0, content_type->find(';'));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) {
    type.pop_back();
  }
  std::transform(type.begin(), type.end(), type.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return type == "application/json" ||
         (type.size() > 5 && type.compare(type.size() - 5, 5, "+json") == 0);
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
  server.Handle(
      "POST", "/jobs/{name}/runs",
      [=](const HttpRequest& req, Responder reply) {
        auto command = MakeCommand(Command::Kind::kRunJob);
        command->name = req.path_params.at("name");
        command->body = req.body;
        command->body_is_json = IsJson(req.Header("content-type"));
        auto wait = req.query.find("wait");
        command->wait = wait != req.query.end() &&
                        (wait->second == "true" || wait->second == "1");
        if (!command->wait) {
          return ForwardCommand(commands, std::move(command), std::move(reply),
                                timeout);
        }
        ForwardCommand(
            commands, std::move(command), std::move(reply), wait_timeout,
            ErrorResponse(504, "the run did not end in time; it goes on"),
            /*long_wait=*/true);
      });
  server.Handle(
      "GET", "/jobs/runs/{id}", [=](const HttpRequest& req, Responder reply) {
        auto command = MakeCommand(Command::Kind::kGetRun);
        command->run_id = RunId(req);
        if (command->run_id == 0) {
          return reply.Send(ErrorResponse(404, "no such run"));
        }
        ForwardCommand(commands, std::move(command), std::move(reply), timeout);
      });
  server.Handle("DELETE", "/jobs/runs/{id}",
                [=](const HttpRequest& req, Responder reply) {
                  auto command = MakeCommand(Command::Kind::kCancelRun);
                  command->run_id = RunId(req);
                  if (command->run_id == 0) {
                    return reply.Send(ErrorResponse(404, "no such run"));
                  }
                  ForwardCommand(commands, std::move(command), std::move(reply),
                                 timeout);
                });
  server.Handle("GET", "/jobs", [=](const HttpRequest&, Responder reply) {
    ForwardCommand(commands, MakeCommand(Command::Kind::kListJobs),
                   std::move(reply), timeout);
  });
}

}  // namespace corefork
