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
  EXPECT_TRUE(s.IsAlreadyExists());
  EXPECT_TRUE(s.Wrap("listener http").IsAlreadyExists());  // Wrap keeps it
}

TEST(StatusTest, ErrnoMapsToTheCodeCallersActOn) {
  EXPECT_TRUE(PosixError("open x", ENOENT).IsNotFound());
  EXPECT_TRUE(PosixError("open x", EACCES).IsPermissionDenied());
  EXPECT_TRUE(PosixError("connect", ECONNREFUSED).IsUnavailable());
  EXPECT_TRUE(PosixError("connect", ETIMEDOUT).IsDeadlineExceeded());
  EXPECT_EQ(PosixError("socket", EMFILE).code(),
            StatusCode::kResourceExhausted);
  EXPECT_EQ(PosixError("x", EIO).code(), StatusCode::kUnknown);
  EXPECT_FALSE(PosixError("x", EIO).ok());
}

TEST(StatusTest, ErrorIsNeverOkEvenWithCodeOk) {
  EXPECT_FALSE(Status::Error(StatusCode::kOk, "confused caller").ok());
  EXPECT_TRUE(Status::NotFound("no job x").IsNotFound());
  EXPECT_FALSE(Status::NotFound("no job x").IsInvalidArgument());
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
