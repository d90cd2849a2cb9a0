#include "admin/control_routes.h"

#include <charconv>
#include <optional>
#include <string>

#include "admin/json_lite.h"

namespace corefork {
namespace {

const std::string kRange = "an integer from " +
                           std::to_string(kMinScaleWorkers) + " to " +
                           std::to_string(kMaxScaleWorkers);

// `text` in quotes for an error message, cut short when long.
std::string Quote(std::string_view text) {
  if (text.size() > 32) return "\"" + std::string(text.substr(0, 32)) + "...\"";
  return "\"" + std::string(text) + "\"";
}

Result<int> WorkerCount(std::string_view text) {
  int64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() ||
      n < kMinScaleWorkers || n > kMaxScaleWorkers) {
    return Status::Error("workers must be " + kRange + ", got " + Quote(text));
  }
  return static_cast<int>(n);
}

// The "workers" member of a JSON body, as its literal text.
Result<std::string> WorkersFromBody(const std::string& body) {
  auto object = ParseFlatJsonObject(body);
  if (!object.ok()) {
    return object.status().Wrap(
        "the body must be a JSON object like {\"workers\":3}");
  }
  for (const auto& [key, value] : *object) {
    if (key != "workers") {
      return Status::Error("unknown field " + Quote(key));
    }
  }
  auto workers = object->find("workers");
  if (workers == object->end()) {
    return Status::Error("the body has no \"workers\" field");
  }
  if (workers->second.type != JsonScalar::Type::kNumber) {
    return Status::Error("workers must be " + kRange + " (a JSON number)");
  }
  return workers->second.text;
}

}  // namespace

Result<int> ParseScaleRequest(const HttpRequest& request) {
  auto query = request.query.find("workers");
  bool in_query = query != request.query.end();
  bool in_body = request.body.find_first_not_of(" \t\r\n") != std::string::npos;
  if (in_query && in_body) {
    return Status::Error("give workers in the body or in the query, not both");
  }
  if (in_query) return WorkerCount(query->second);
  if (!in_body) {
    return Status::Error(
        "missing worker count: send {\"workers\":N} or ?workers=N");
  }
  Result<std::string> text = WorkersFromBody(request.body);
  if (!text.ok()) return text.status();
  return WorkerCount(*text);
}

HttpResponse AwaitReply(std::future<CommandReply> reply,
                        std::chrono::milliseconds timeout) {
  if (reply.wait_for(timeout) != std::future_status::ready) {
    return ErrorResponse(503, "event loop did not answer within " +
                                  std::to_string(timeout.count()) + "ms");
  }
  try {
    CommandReply answer = reply.get();
    if (answer.body.empty()) answer.body = "{}";
    HttpResponse response =
        JsonResponse(answer.http_status, std::move(answer.body));
    for (auto& [name, value] : answer.headers) {
      response.headers.emplace_back(name, std::move(value));
    }
    return response;
  } catch (const std::future_error&) {
    return ErrorResponse(503, "event loop dropped the command");
  }
}

void AddControlRoutes(Router& router, CommandQueue* commands,
                      std::chrono::milliseconds timeout) {
  router.Handle("POST", "/reload", [commands, timeout](const HttpRequest&) {
    return AwaitReply(commands->Post(Command::Kind::kReload), timeout);
  });
  router.Handle("POST", "/scale", [commands, timeout](const HttpRequest& req) {
    Result<int> count = ParseScaleRequest(req);
    if (!count.ok()) return ErrorResponse(400, count.status().message());
    return AwaitReply(commands->Post(Command::Kind::kScale, *count), timeout);
  });
}

}  // namespace corefork
