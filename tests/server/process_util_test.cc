// process_util: how --read_threads resolves per storage backend, and its bounds.
#include "server/process_util.h"

#include "gtest/gtest.h"

namespace semisync {
namespace {

TEST(ReadThreadsForTest, AutoGivesMySqlAPoolAndSqliteNone) {
  EXPECT_EQ(ReadThreadsFor(-1, "mysql"), kRemoteReadThreads);
  EXPECT_EQ(ReadThreadsFor(-1, "sqlite3"), 0);
}

TEST(ReadThreadsForTest, AnExplicitCountWinsOnEitherBackend) {
  EXPECT_EQ(ReadThreadsFor(0, "mysql"), 0);
  EXPECT_EQ(ReadThreadsFor(2, "sqlite3"), 2);
  EXPECT_EQ(ReadThreadsFor(64, "mysql"), 64);
}

TEST(ReadThreadsForTest, OutOfRangeIsAnError) {
  for (int good : {-1, 0, 1, 64}) EXPECT_TRUE(CheckReadThreadsFlag(good).ok()) << good;
  for (int bad : {-2, 65}) {
    absl::Status s = CheckReadThreadsFlag(bad);
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << bad << ": " << s;
    EXPECT_NE(s.message().find("--read_threads"), absl::string_view::npos);
  }
}

}  // namespace
}  // namespace semisync
