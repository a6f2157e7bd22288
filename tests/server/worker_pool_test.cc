// WorkerPool: tasks run on the workers, concurrently; Shutdown runs what is queued and refuses
// what comes after.
#include "server/worker_pool.h"

#include <atomic>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace semisync {
namespace {

TEST(WorkerPoolTest, TasksRunConcurrentlyOnTheWorkers) {
  WorkerPool pool(2, "test");
  // Each task waits for the other to start: both finish only if two workers run them at once.
  absl::Mutex mu;
  int started = 0;
  std::atomic<int> finished{0};
  std::atomic<int> on_caller{0};
  const std::thread::id caller = std::this_thread::get_id();
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(pool.Schedule([&] {
      if (std::this_thread::get_id() == caller) ++on_caller;
      absl::MutexLock l(&mu);
      ++started;
      auto both = [&started]() { return started == 2; };
      if (mu.AwaitWithTimeout(absl::Condition(&both), absl::Seconds(30))) ++finished;
    }));
  }
  pool.Shutdown();
  EXPECT_EQ(finished.load(), 2);
  EXPECT_EQ(on_caller.load(), 0);
}

TEST(WorkerPoolTest, ShutdownRunsQueuedTasksThenRefusesNewOnes) {
  WorkerPool pool(1, "test");
  absl::Notification release;
  std::atomic<int> ran{0};
  // The first task holds the only worker, so the others are still queued at Shutdown.
  ASSERT_TRUE(pool.Schedule([&] {
    release.WaitForNotificationWithTimeout(absl::Seconds(30));
    ++ran;
  }));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(pool.Schedule([&] { ++ran; }));
  std::thread stopper([&] { pool.Shutdown(); });
  release.Notify();
  stopper.join();
  EXPECT_EQ(ran.load(), 6);
  EXPECT_FALSE(pool.Schedule([&] { ++ran; }));
  pool.Shutdown();  // idempotent
  EXPECT_EQ(ran.load(), 6);
}

}  // namespace
}  // namespace semisync
