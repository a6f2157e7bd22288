// process_util: how --read_threads resolves per storage backend, and its bounds.
#include "server/process_util.h"

#include "gtest/gtest.h"

namespace semisync {
namespace {

TEST(ReadThreadsForTest, AutoGivesMySqlAPoolAndSqliteNone) {
  EXPECT_EQ(ReadThreadsFor(-1, "mysql").value(), kRemoteReadThreads);
  EXPECT_EQ(ReadThreadsFor(-1, "sqlite3").value(), 0);
}

TEST(ReadThreadsForTest, AnExplicitCountWinsOnEitherBackend) {
  EXPECT_EQ(ReadThreadsFor(0, "mysql").value(), 0);
  EXPECT_EQ(ReadThreadsFor(2, "sqlite3").value(), 2);
  EXPECT_EQ(ReadThreadsFor(64, "mysql").value(), 64);
}

TEST(ReadThreadsForTest, OutOfRangeIsAnError) {
  for (int bad : {-2, 65}) {
    absl::StatusOr<int> r = ReadThreadsFor(bad, "mysql");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_TRUE(absl::IsInvalidArgument(r.status()));
    EXPECT_NE(r.status().message().find("--read_threads"), absl::string_view::npos);
  }
}

}  // namespace
}  // namespace semisync
