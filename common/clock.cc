// Real and fake clocks (see clock.h).
#include "common/clock.h"

#include <algorithm>

namespace semisync {
namespace {

class RealClockImpl : public Clock {
 public:
  absl::Time Now() override { return absl::Now(); }
  bool AwaitWithDeadline(absl::Mutex* mu, const absl::Condition& cond, absl::Time deadline) override
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return mu->AwaitWithDeadline(cond, deadline);
  }
};

}  // namespace

Clock* RealClock() {
  static Clock* clock = new RealClockImpl();
  return clock;
}

FakeClock::FakeClock(absl::Time start) : now_ns_(absl::ToUnixNanos(start)) {}

absl::Time FakeClock::Now() { return absl::FromUnixNanos(now_ns_.load()); }

bool FakeClock::AwaitWithDeadline(absl::Mutex* mu, const absl::Condition& cond,
                                  absl::Time deadline) {
  struct Args {
    const absl::Condition* cond;
    FakeClock* clock;
    absl::Time deadline;
  } args{&cond, this, deadline};
  mu->Await(absl::Condition(
      +[](Args* a) { return a->cond->Eval() || a->clock->Now() >= a->deadline; }, &args));
  return cond.Eval();
}

void FakeClock::RegisterMutex(absl::Mutex* mu) {
  absl::MutexLock l(&mutexes_mu_);
  mutexes_.push_back(mu);
}

void FakeClock::UnregisterMutex(absl::Mutex* mu) {
  absl::MutexLock l(&mutexes_mu_);
  mutexes_.erase(std::remove(mutexes_.begin(), mutexes_.end(), mu), mutexes_.end());
}

void FakeClock::Advance(absl::Duration d) {
  now_ns_.fetch_add(absl::ToInt64Nanoseconds(d));
  std::vector<absl::Mutex*> mus;
  {
    absl::MutexLock l(&mutexes_mu_);
    mus = mutexes_;
  }
  // Releasing a mutex makes absl re-evaluate its waiters' conditions.
  for (absl::Mutex* mu : mus) {
    mu->Lock();
    mu->Unlock();
  }
}

}  // namespace semisync
