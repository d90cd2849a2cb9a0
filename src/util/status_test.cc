#include "util/status.h"

#include <gtest/gtest.h>

namespace corefork {
namespace {

TEST(StatusTest, PosixErrorNamesContextAndErrno) {
  Status s = PosixError("bind 0.0.0.0:8080", EADDRINUSE);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "bind 0.0.0.0:8080: Address already in use");
  EXPECT_EQ(s.Wrap("listener http").message(),
            "listener http: bind 0.0.0.0:8080: Address already in use");
}

TEST(StatusTest, ResultHoldsValueOrStatus) {
  Result<int> good(7);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 7);
  EXPECT_TRUE(good.status().ok());
  Result<int> bad(Status::Error("no"));
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "no");
}

}  // namespace
}  // namespace corefork
