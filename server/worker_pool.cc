// WorkerPool (see worker_pool.h).
#include "server/worker_pool.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/thread_name.h"
#include "glog/logging.h"

namespace semisync {

WorkerPool::WorkerPool(int threads, const std::string& name) {
  CHECK_GE(threads, 1) << "WorkerPool " << name;
  for (int i = 0; i < threads; ++i) {
    workers_.push_back(StartNamedThread(absl::StrCat(name, "-", i), [this] { Run(); }));
  }
}

WorkerPool::~WorkerPool() { Shutdown(); }

bool WorkerPool::Schedule(std::function<void()> task) {
  absl::MutexLock l(&mu_);
  if (stopping_) return false;
  queue_.push_back(std::move(task));
  return true;
}

void WorkerPool::Shutdown() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  for (std::thread& t : workers_) {
    if (t.joinable()) t.join();
  }
}

void WorkerPool::Run() {
  while (true) {
    std::function<void()> task;
    {
      absl::MutexLock l(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !queue_.empty() || stopping_;
      };
      mu_.Await(absl::Condition(&ready));
      if (queue_.empty()) return;  // stopping, and everything queued has run
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

}  // namespace semisync
