#include "admin/router.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>
#include <utility>

namespace corefork {
namespace {

// "/jobs/x/runs" -> {"jobs", "x", "runs"}; "/" -> {}; "/a/" -> {"a", ""}.
std::vector<std::string> Split(std::string_view path) {
  std::vector<std::string> segments;
  if (!path.empty() && path[0] == '/') path.remove_prefix(1);
  if (path.empty()) return segments;
  for (;;) {
    size_t slash = path.find('/');
    segments.emplace_back(path.substr(0, slash));
    if (slash == std::string_view::npos) return segments;
    path.remove_prefix(slash + 1);
  }
}

bool IsParam(const std::string& segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

std::string Join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += sep;
    out += item;
  }
  return out;
}

}  // namespace

void Router::Handle(std::string method, const std::string& pattern,
                    HttpHandler handler) {
  routes_.push_back({std::move(method), Split(pattern), std::move(handler)});
}

bool Router::Match(const std::vector<std::string>& segments,
                   const std::vector<std::string>& path,
                   std::map<std::string, std::string>& params) {
  for (size_t i = 0; i < segments.size(); ++i) {
    const std::string& segment = segments[i];
    if (segment == "*" && i + 1 == segments.size()) {
      std::vector<std::string> rest(path.begin() + std::min(i, path.size()),
                                    path.end());
      params["*"] = Join(rest, "/");
      return true;
    }
    if (i >= path.size()) return false;
    if (IsParam(segment)) {
      auto value = PercentDecode(path[i], false);
      if (path[i].empty() || !value) return false;
      params[segment.substr(1, segment.size() - 2)] = std::move(*value);
    } else if (segment != path[i]) {
      return false;
    }
  }
  return path.size() == segments.size();
}

void Router::Route(HttpRequest request, Responder reply) const {
  const std::vector<std::string> path = Split(request.path);
  std::vector<std::string> allowed;
  for (const Entry& entry : routes_) {
    std::map<std::string, std::string> params;
    if (!Match(entry.segments, path, params)) continue;
    if (entry.method != request.method) {
      if (std::find(allowed.begin(), allowed.end(), entry.method) ==
          allowed.end()) {
        allowed.push_back(entry.method);
      }
      continue;
    }
    request.path_params = std::move(params);
    try {
      entry.handler(request, std::move(reply));
    } catch (const std::exception& e) {
      // The Responder went down with the handler's frame and answered 500.
      spdlog::error("{} {}: internal error: {}", request.method, request.path,
                    e.what());
    }
    return;
  }
  if (allowed.empty()) return reply.Send(ErrorResponse(404, "not found"));
  HttpResponse response = ErrorResponse(405, "method " + request.method +
                                                 " is not allowed here; use " +
                                                 Join(allowed, " or "));
  response.headers.emplace_back("Allow", Join(allowed, ", "));
  reply.Send(std::move(response));
}

}  // namespace corefork
