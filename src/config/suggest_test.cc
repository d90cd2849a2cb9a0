#include "config/suggest.h"

#include <gtest/gtest.h>

#include <array>

namespace corefork {
namespace {

TEST(ConfigSuggestTest, EditDistanceCountsSwapsAsOne) {
  struct Case {
    const char* a;
    const char* b;
    int distance;
  };
  const Case cases[] = {
      {"workers", "workers", 0},
      {"wrokers", "workers", 1},
      {"worker", "workers", 1},
      {"Workers", "workers", 1},
      {"", "abc", 3},
      {"port", "host", 2},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(EditDistance(c.a, c.b), c.distance) << c.a << " vs " << c.b;
  }
}

TEST(ConfigSuggestTest, ClosestMatchOnlyForLikelyTypos) {
  constexpr std::array<std::string_view, 4> kKeys = {"workers", "port", "host",
                                                     "listeners"};
  struct Case {
    const char* word;
    const char* expected;  // "" for no suggestion
  };
  const Case cases[] = {
      {"wrokers", "workers"},
      {"prot", "port"},
      {"listners", "listeners"},
      {"hots", "host"},
      {"banana", ""},
      {"workers", ""},
      {"xy", ""},
      {"lissteners", "listeners"},
  };
  for (const Case& c : cases) {
    std::optional<std::string> match = ClosestMatch(c.word, kKeys);
    EXPECT_EQ(match.value_or(""), c.expected) << c.word;
  }
}

}  // namespace
}  // namespace corefork
