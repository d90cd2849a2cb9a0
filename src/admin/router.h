// Router: maps a request's method and path to a handler (the control
// server's routing table). A pattern is a list of segments: literal ("runs"),
// a parameter ("{name}", one non-empty segment, percent-decoded into
// request.path_params) or, last only, "*" (the rest of the path, possibly
// empty, as path_params["*"]). The first registered match wins. Register
// every route before serving; Route() is then read-only and thread-safe.
// Handlers run on the server thread and must not block: they answer through
// the Responder, at once or later from any thread (see http_server.h).
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "admin/http_lite.h"
#include "admin/http_server.h"

namespace corefork {

using HttpHandler = std::function<void(const HttpRequest&, Responder)>;

class Router {
 public:
  // e.g. Handle("POST", "/jobs/{name}/runs", ...).
  void Handle(std::string method, const std::string& pattern,
              HttpHandler handler);

  // Hands the request to its handler; 404 when no pattern matches the
  // path, 405 with an Allow header when patterns match but not for this
  // method.
  void Route(HttpRequest request, Responder reply) const;

 private:
  struct Entry {
    std::string method;
    std::vector<std::string> segments;
    HttpHandler handler;
  };
  // Fills params and returns true when `path` fits `segments`.
  static bool Match(const std::vector<std::string>& segments,
                    const std::vector<std::string>& path,
                    std::map<std::string, std::string>& params);

  std::vector<Entry> routes_;
};

}  // namespace corefork
