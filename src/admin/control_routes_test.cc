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

TEST(ControlRoutesTest, CommandResponsePassesTheLoopsAnswerOn) {
  CommandReply reply;
  reply.http_status = 201;
  reply.body = R"({"run":7})";
  reply.headers["Location"] = "/jobs/runs/7";
  HttpResponse res = CommandResponse(reply);
  EXPECT_EQ(res.status, 201);
  EXPECT_EQ(res.body, "{\"run\":7}\n");
  ASSERT_EQ(res.headers.size(), 1u);
  EXPECT_EQ(res.headers[0].first, "Location");
  EXPECT_EQ(res.headers[0].second, "/jobs/runs/7");
}

TEST(ControlRoutesTest, ForwardCommandWhenTheLoopDropsTheCommand) {
  std::unique_ptr<CommandQueue> queue = CommandQueue::Create().value();
  HttpResponse sent{0, "", {}};
  auto command = std::make_unique<Command>();
  command->kind = Command::Kind::kReload;
  ForwardCommand(queue.get(), std::move(command),
                 Responder::Capture([&](HttpResponse r) { sent = r; }),
                 milliseconds(10));
  EXPECT_EQ(sent.status, 0) << "nothing is sent before the loop acts";
  queue->TakeAll();  // the loop drops it unanswered
  EXPECT_EQ(sent.status, 503);
  EXPECT_EQ(sent.body, "{\"error\":\"event loop dropped the command\"}\n");
}

TEST(ControlRoutesTest, ForwardCommandAnswersFromTheLoop) {
  std::unique_ptr<CommandQueue> queue = CommandQueue::Create().value();
  HttpResponse sent{0, "", {}};
  auto command = std::make_unique<Command>();
  command->kind = Command::Kind::kScale;
  command->count = 3;
  ForwardCommand(queue.get(), std::move(command),
                 Responder::Capture([&](HttpResponse r) { sent = r; }),
                 milliseconds(10));
  auto taken = queue->TakeAll();
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0]->count, 3);
  taken[0]->reply.set_value(CommandReply{200, R"({"workers":3})", {}});
  EXPECT_EQ(sent.status, 200);
  EXPECT_EQ(sent.body, "{\"workers\":3}\n");
  taken[0]->reply.set_value(CommandReply{500, "{}", {}});
  EXPECT_EQ(sent.status, 200) << "answered once";
}

}  // namespace
}  // namespace corefork
