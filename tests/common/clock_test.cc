#include "common/clock.h"

#include <thread>

#include "gtest/gtest.h"

namespace semisync {
namespace {

TEST(FakeClockTest, AwaitReturnsWhenTimeReachesDeadline) {
  FakeClock clock;
  absl::Mutex mu;
  clock.RegisterMutex(&mu);
  bool flag = false;
  absl::Time deadline = clock.Now() + absl::Seconds(5);
  std::thread advancer([&] { clock.Advance(absl::Seconds(6)); });
  bool result;
  {
    absl::MutexLock l(&mu);
    result = clock.AwaitWithDeadline(&mu, absl::Condition(&flag), deadline);
  }
  advancer.join();
  EXPECT_FALSE(result);
  EXPECT_GE(clock.Now(), deadline);
  clock.UnregisterMutex(&mu);
}

TEST(FakeClockTest, AwaitReturnsTrueWhenConditionHolds) {
  FakeClock clock;
  absl::Mutex mu;
  bool flag = false;
  std::thread setter([&] {
    absl::MutexLock l(&mu);
    flag = true;
  });
  bool result;
  {
    absl::MutexLock l(&mu);
    result = clock.AwaitWithDeadline(&mu, absl::Condition(&flag), clock.Now() + absl::Hours(1));
  }
  setter.join();
  EXPECT_TRUE(result);
}

}  // namespace
}  // namespace semisync
