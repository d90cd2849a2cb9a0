#include "loop/line_splitter.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace corefork {
namespace {

using Lines = std::vector<std::pair<std::string, bool>>;

Lines FeedAll(LineSplitter& splitter, std::string_view data) {
  Lines lines;
  splitter.Feed(data, [&](std::string_view line, bool cut) {
    lines.emplace_back(std::string(line), cut);
    return true;
  });
  return lines;
}

TEST(LineSplitterTest, JoinsPiecesAndSplitsLines) {
  LineSplitter splitter(16);
  EXPECT_TRUE(FeedAll(splitter, "REA").empty());
  EXPECT_EQ(splitter.partial(), "REA");
  EXPECT_EQ(FeedAll(splitter, "DY=1\n\nSTATUS=x\nWAT"),
            (Lines{{"READY=1", false}, {"", false}, {"STATUS=x", false}}));
  EXPECT_EQ(splitter.partial(), "WAT");
}

TEST(LineSplitterTest, CutsALongLineOnceAndDropsItsRest) {
  LineSplitter splitter(8);
  // The rest of the long line arrives over several reads.
  EXPECT_EQ(FeedAll(splitter, "0123456789"), (Lines{{"01234567", true}}));
  EXPECT_TRUE(FeedAll(splitter, "abcdef").empty());
  EXPECT_TRUE(splitter.partial().empty());
  EXPECT_EQ(FeedAll(splitter, "gh\nok\n"), (Lines{{"ok", false}}));
}

TEST(LineSplitterTest, ALineOfExactlyMaxIsNotCut) {
  LineSplitter splitter(4);
  EXPECT_EQ(FeedAll(splitter, "abcd\n"), (Lines{{"abcd", false}}));
  // Its newline may come in the next read.
  EXPECT_TRUE(FeedAll(splitter, "wxyz").empty());
  EXPECT_EQ(FeedAll(splitter, "\nnext\n"),
            (Lines{{"wxyz", false}, {"next", false}}));
  EXPECT_TRUE(FeedAll(splitter, "wxyz").empty());
  EXPECT_EQ(FeedAll(splitter, "!\n"), (Lines{{"wxyz", true}}));
}

TEST(LineSplitterTest, StopsWhenTheCallbackSaysSo) {
  LineSplitter splitter(16);
  int calls = 0;
  splitter.Feed("a\nb\nc\n", [&](std::string_view, bool) {
    ++calls;
    return false;
  });
  EXPECT_EQ(calls, 1);
}

TEST(LineSplitterTest, ResetForgetsTheUnfinishedLine) {
  LineSplitter splitter(16);
  FeedAll(splitter, "half");
  splitter.Reset();
  EXPECT_EQ(FeedAll(splitter, "new\n"), (Lines{{"new", false}}));
}

}  // namespace
}  // namespace corefork
