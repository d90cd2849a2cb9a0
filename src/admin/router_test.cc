#include "admin/router.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace corefork {
namespace {

// Routes `req` and returns what was sent (handlers here answer at once).
HttpResponse Route(const Router& router, const HttpRequest& req) {
  HttpResponse sent{0, "", {}};
  router.Route(req, Responder::Capture([&](HttpResponse r) { sent = r; }));
  return sent;
}

// A router whose handlers answer with their name and the params they got.
Router TestRouter() {
  Router router;
  auto named = [](std::string name) {
    return [name](const HttpRequest& req, Responder reply) {
      std::string body = name;
      for (const auto& [k, v] : req.path_params) body += " " + k + "=" + v;
      reply.Send(HttpResponse{200, body, {}});
    };
  };
  router.Handle("POST", "/reload", named("reload"));
  router.Handle("POST", "/scale", named("scale"));
  router.Handle("GET", "/jobs", named("list"));
  router.Handle("POST", "/jobs/{name}/runs", named("start"));
  router.Handle("GET", "/jobs/runs/{id}", named("get"));
  router.Handle("DELETE", "/jobs/runs/{id}", named("cancel"));
  router.Handle("GET", "/files/*", named("files"));
  return router;
}

TEST(HttpLiteRouterTest, Routes) {
  struct Case {
    std::string name, method, path;
    int status;
    std::string body_or_allow;  // 200: handler body; 405: Allow header
  };
  const std::vector<Case> cases = {
      {"literal", "POST", "/reload", 200, "reload"},
      {"another literal", "POST", "/scale", 200, "scale"},
      {"param in the middle", "POST", "/jobs/backup/runs", 200,
       "start name=backup"},
      {"param is percent-decoded", "POST", "/jobs/a%20b/runs", 200,
       "start name=a b"},
      {"param at the end", "GET", "/jobs/runs/42", 200, "get id=42"},
      {"same path, other method", "DELETE", "/jobs/runs/42", 200,
       "cancel id=42"},
      {"prefix match", "GET", "/files/a/b.txt", 200, "files *=a/b.txt"},
      {"prefix match, empty rest", "GET", "/files", 200, "files *="},
      {"wrong method", "GET", "/reload", 405, "POST"},
      {"wrong method, several allowed", "PUT", "/jobs/runs/7", 405,
       "GET, DELETE"},
      {"unknown path", "POST", "/nope", 404, ""},
      {"trailing slash is another path", "POST", "/reload/", 404, ""},
      {"extra segment", "POST", "/jobs/x/runs/y", 404, ""},
      {"empty param segment", "POST", "/jobs//runs", 404, ""},
      {"root", "GET", "/", 404, ""},
  };
  Router router = TestRouter();
  for (const Case& c : cases) {
    HttpRequest req;
    req.method = c.method;
    req.path = c.path;
    HttpResponse res = Route(router, req);
    EXPECT_EQ(res.status, c.status) << c.name;
    if (c.status == 200) {
      EXPECT_EQ(res.body, c.body_or_allow) << c.name;
    }
    if (c.status == 405) {
      ASSERT_EQ(res.headers.size(), 1u) << c.name;
      EXPECT_EQ(res.headers[0].first, "Allow") << c.name;
      EXPECT_EQ(res.headers[0].second, c.body_or_allow) << c.name;
    }
    if (c.status == 404) {
      EXPECT_EQ(res.body, "{\"error\":\"not found\"}\n") << c.name;
    }
  }
}

TEST(HttpLiteRouterTest, HandlerExceptionIs500) {
  Router router;
  router.Handle("GET", "/boom", [](const HttpRequest&, Responder) {
    throw std::runtime_error("kaput");
  });
  HttpRequest req;
  req.method = "GET";
  req.path = "/boom";
  HttpResponse res = Route(router, req);
  EXPECT_EQ(res.status, 500);
  EXPECT_NE(res.body.find("not answered"), std::string::npos) << res.body;
}

}  // namespace
}  // namespace corefork
