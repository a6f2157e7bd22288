// Clock: the source of "now" and of deadline waits, so that time-driven logic (semi-sync timeouts)
// can be tested with a clock the test advances by hand.
//
// Thread-safety: both implementations are thread-safe.
#ifndef SEMISYNC_COMMON_CLOCK_H_
#define SEMISYNC_COMMON_CLOCK_H_

#include <atomic>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace semisync {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() = 0;
  // Waits, with `mu` held, until `cond` holds or Now() >= deadline. Returns cond's value at the end.
  virtual bool AwaitWithDeadline(absl::Mutex* mu, const absl::Condition& cond, absl::Time deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) = 0;
  // Lets the clock wake waiters on `mu` when (fake) time moves. The real clock ignores it.
  virtual void RegisterMutex(absl::Mutex* mu) {}
  virtual void UnregisterMutex(absl::Mutex* mu) {}
};

// The process-wide wall clock. Never deleted.
Clock* RealClock();

// A clock that only moves when Advance() is called. Waiters registered through RegisterMutex()
// re-evaluate their conditions on every Advance().
class FakeClock : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::UnixEpoch() + absl::Hours(24));
  absl::Time Now() override;
  bool AwaitWithDeadline(absl::Mutex* mu, const absl::Condition& cond, absl::Time deadline) override
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void RegisterMutex(absl::Mutex* mu) override;
  void UnregisterMutex(absl::Mutex* mu) override;
  void Advance(absl::Duration d);

 private:
  std::atomic<int64_t> now_ns_;
  absl::Mutex mutexes_mu_;
  std::vector<absl::Mutex*> mutexes_ ABSL_GUARDED_BY(mutexes_mu_);
};

}  // namespace semisync

#endif  // SEMISYNC_COMMON_CLOCK_H_
