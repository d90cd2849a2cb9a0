#include "admin/control_routes.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <string>

#include "util/json.h"

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
    return Status::InvalidArgument("workers must be " + kRange + ", got " +
                                   Quote(text));
  }
  return static_cast<int>(n);
}

// A signed change of the worker count: "2", "-1", "+3" (an unescaped '+'
// in a query reads as a space, which counts as '+' here).
Result<int> WorkerDelta(std::string_view text) {
  std::string_view digits = text;
  const bool negative = !digits.empty() && digits[0] == '-';
  if (!digits.empty() &&
      (digits[0] == '+' || digits[0] == ' ' || digits[0] == '-')) {
    digits.remove_prefix(1);
  }
  int64_t n = 0;
  auto [end, ec] =
      std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (digits.empty() || digits[0] == '-' || ec != std::errc() ||
      end != digits.data() + digits.size() || n < 1 || n > kMaxScaleWorkers) {
    return Status::InvalidArgument(
        "by must be +N or -N with N an integer from 1 to " +
        std::to_string(kMaxScaleWorkers) + ", got " + Quote(text));
  }
  return static_cast<int>(negative ? -n : n);
}

// The "workers" member of a JSON body; bodies are capped by the server.
Result<int> WorkersFromBody(const std::string& body) {
  const std::string_view kContext =
      "the body must be a JSON object like {\"workers\":3}";
  // Anything but an object fails here, with a shorter word than the
  // parser's ("syntax error while parsing value - invalid literal ...").
  size_t start = body.find_first_not_of(" \t\r\n");
  if (start == std::string::npos || body[start] != '{') {
    return Status::InvalidArgument("expected '{' at offset " +
                                   std::to_string(std::min(start, body.size())))
        .Wrap(kContext);
  }
  Result<Json> object = JsonParse(body);
  if (!object.ok()) return object.status().Wrap(kContext);
  for (const auto& [key, value] : object->items()) {
    if (key != "workers") {
      return Status::InvalidArgument("unknown field " + Quote(key));
    }
  }
  auto workers = object->find("workers");
  if (workers == object->end()) {
    return Status::InvalidArgument("the body has no \"workers\" field");
  }
  if (!workers->is_number()) {
    return Status::InvalidArgument("workers must be " + kRange +
                                   " (a JSON number)");
  }
  // The number as written, so 2.5, 1e2 and 3.0 are refused like "+3" in a
  // query, and the error quotes the client's text. The body is a valid
  // object whose one member is a number: the text after its last ':' and
  // before its last '}' is that number.
  size_t colon = body.rfind(':');
  size_t close = body.rfind('}');
  std::string_view literal =
      std::string_view(body).substr(colon + 1, close - colon - 1);
  literal.remove_prefix(
      std::min(literal.find_first_not_of(" \t\r\n"), literal.size()));
  literal.remove_suffix(literal.size() -
                        (literal.find_last_not_of(" \t\r\n") + 1));
  return WorkerCount(literal);
}

}  // namespace

Result<int> ParseScaleRequest(const HttpRequest& request) {
  auto query = request.query.find("workers");
  bool in_query = query != request.query.end();
  bool in_body = request.body.find_first_not_of(" \t\r\n") != std::string::npos;
  if (in_query && in_body) {
    return Status::InvalidArgument(
        "give workers in the body or in the query, not both");
  }
  if (in_query) return WorkerCount(query->second);
  if (!in_body) {
    return Status::InvalidArgument(
        "missing worker count: send {\"workers\":N} or ?workers=N");
  }
  return WorkersFromBody(request.body);
}

HttpResponse CommandResponse(std::optional<CommandReply> reply) {
  if (!reply) return ErrorResponse(503, "event loop dropped the command");
  if (reply->body.empty()) reply->body = "{}";
  HttpResponse response =
      JsonResponse(reply->http_status, std::move(reply->body));
  for (auto& [name, value] : reply->headers) {
    response.headers.emplace_back(name, std::move(value));
  }
  return response;
}

HttpResponse LoopTimeoutResponse(std::chrono::milliseconds timeout) {
  return ErrorResponse(503, "event loop did not answer within " +
                                std::to_string(timeout.count()) + "ms");
}

void ForwardCommand(CommandQueue* commands, std::unique_ptr<Command> command,
                    Responder reply, std::chrono::milliseconds timeout,
                    HttpResponse on_timeout, bool long_wait) {
  if (!reply.SetTimeout(timeout, std::move(on_timeout), long_wait)) {
    HttpResponse busy =
        ErrorResponse(429, "too many requests are waiting for runs to end");
    busy.headers.emplace_back("Retry-After", "1");
    return reply.Send(std::move(busy));
  }
  // std::function wants a copyable callable; the Responder is move-only.
  auto responder = std::make_shared<Responder>(std::move(reply));
  command->reply = ReplyTo([responder](std::optional<CommandReply> answer) {
    responder->Send(CommandResponse(std::move(answer)));
  });
  commands->Send(std::move(command));
}

void ForwardCommand(CommandQueue* commands, std::unique_ptr<Command> command,
                    Responder reply, std::chrono::milliseconds timeout) {
  ForwardCommand(commands, std::move(command), std::move(reply), timeout,
                 LoopTimeoutResponse(timeout));
}

namespace {

std::unique_ptr<Command> MakeCommand(Command::Kind kind, int count = 0) {
  auto command = std::make_unique<Command>();
  command->kind = kind;
  command->count = count;
  return command;
}

}  // namespace

void AddControlRoutes(Router& router, CommandQueue* commands,
                      std::chrono::milliseconds timeout) {
  router.Handle("POST", "/reload",
                [commands, timeout](const HttpRequest&, Responder reply) {
                  ForwardCommand(commands, MakeCommand(Command::Kind::kReload),
                                 std::move(reply), timeout);
                });
  router.Handle(
      "POST", "/scale",
      [commands, timeout](const HttpRequest& req, Responder reply) {
        // ?by=+N / -N: relative to the count the loop has when it gets
        // the command, so two of them at once both count.
        if (auto by = req.query.find("by"); by != req.query.end()) {
          Result<int> delta = WorkerDelta(by->second);
          if (!delta.ok() || req.query.count("workers") > 0 ||
              req.body.find_first_not_of(" \t\r\n") != std::string::npos) {
            return reply.Send(ErrorResponse(
                400, delta.ok() ? "give ?by=, ?workers= or a body, not two"
                                : delta.status().message()));
          }
          return ForwardCommand(commands,
                                MakeCommand(Command::Kind::kScaleBy, *delta),
                                std::move(reply), timeout);
        }
        Result<int> count = ParseScaleRequest(req);
        if (!count.ok()) {
          return reply.Send(ErrorResponse(400, count.status().message()));
        }
        ForwardCommand(commands, MakeCommand(Command::Kind::kScale, *count),
                       std::move(reply), timeout);
      });
}

}  // namespace corefork
