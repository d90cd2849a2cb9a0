#include "admin/control_routes.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace corefork {
namespace {

using std::chrono::milliseconds;

TEST(ControlRoutesTest, ParseScaleRequest) {
  struct Case {
    std::string name, body;
    std::map<std::string, std::string> query;
    int workers;  // 0: an error is expected
  };
  const std::vector<Case> cases = {
      {"body", R"({"workers":3})", {}, 3},
      {"query", "", {{"workers", "12"}}, 12},
      {"lowest", R"({"workers":1})", {}, 1},
      {"highest", R"({"workers":1024})", {}, 1024},
      {"whitespace-only body counts as none", " \r\n", {{"workers", "2"}}, 2},
      {"zero", R"({"workers":0})", {}, 0},
      {"above the range", "", {{"workers", "1025"}}, 0},
      {"plus sign", "", {{"workers", "+3"}}, 0},
      {"trailing junk", "", {{"workers", "3x"}}, 0},
      {"fraction", R"({"workers":3.0})", {}, 0},
  };
  for (const Case& c : cases) {
    HttpRequest req;
    req.body = c.body;
    req.query = c.query;
    Result<int> n = ParseScaleRequest(req);
    if (c.workers == 0) {
      EXPECT_FALSE(n.ok()) << c.name;
    } else {
      ASSERT_TRUE(n.ok()) << c.name << ": " << n.status().message();
      EXPECT_EQ(*n, c.workers) << c.name;
    }
  }
}

TEST(ControlRoutesTest, AwaitReplyPassesTheLoopsAnswerOn) {
  std::promise<CommandReply> promise;
  CommandReply reply;
  reply.http_status = 201;
  reply.body = R"({"run":7})";
  reply.headers["Location"] = "/jobs/runs/7";
  promise.set_value(reply);
  HttpResponse res = AwaitReply(promise.get_future(), milliseconds(10));
  EXPECT_EQ(res.status, 201);
  EXPECT_EQ(res.body, "{\"run\":7}\n");
  ASSERT_EQ(res.headers.size(), 1u);
  EXPECT_EQ(res.headers[0].first, "Location");
  EXPECT_EQ(res.headers[0].second, "/jobs/runs/7");
}

TEST(ControlRoutesTest, AwaitReplyWhenTheLoopDropsTheCommand) {
  std::future<CommandReply> future;
  {
    std::promise<CommandReply> promise;
    future = promise.get_future();
  }  // broken promise
  HttpResponse res = AwaitReply(std::move(future), milliseconds(10));
  EXPECT_EQ(res.status, 503);
  EXPECT_EQ(res.body, "{\"error\":\"event loop dropped the command\"}\n");
}

}  // namespace
}  // namespace corefork
