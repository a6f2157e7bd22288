// WorkerPool: a fixed set of plain threads running queued closures in order of arrival.
//
// What it is for: work that would hold an RPC loop thread for a network round trip, such as a
// record read on MySQL storage. A handler on the loop hands the read to the pool and returns, and
// the worker finishes the call (Responder::Finish may run on any thread). Why not more completion
// queues instead (another AsyncRpcLoop): every thread that waits on a server completion queue
// also polls the server's sockets, so a write or an ack could be read by a reader thread and
// handed over to the rpc thread, and 16-client inserts on MariaDB storage lost 25 % with four such
// threads. Workers never touch gRPC's polling.
//
// Threads: owns `threads` workers, named "<name>-<i>". Thread-safety: Schedule and Shutdown from
// any thread. Shutdown runs what is queued, then joins; Schedule after it is refused.
#ifndef SEMISYNC_SERVER_WORKER_POOL_H_
#define SEMISYNC_SERVER_WORKER_POOL_H_

#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace semisync {

class WorkerPool {
 public:
  // Starts `threads` (>= 1) workers.
  WorkerPool(int threads, const std::string& name);
  ~WorkerPool();  // Shutdown()

  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `task` for a worker. False (and `task` is not run) once Shutdown has begun.
  bool Schedule(std::function<void()> task);

  // Runs every queued task, then joins the workers. Idempotent.
  void Shutdown();

 private:
  void Run();

  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;
};

}  // namespace semisync

#endif  // SEMISYNC_SERVER_WORKER_POOL_H_
