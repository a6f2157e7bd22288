// Health of the named gRPC services (grpc.health.v1), beyond the overall "" service that the
// health service (server/health_service.h) reports SERVING once the server is built and that
// main() turns NOT_SERVING at shutdown (HealthCheckServiceInterface::Shutdown, which also freezes
// every status). Semantics are documented in docs/operations.md:
//   master: "semisync.v1.ReplicationService" SERVING while the node serves;
//   slave:  "semisync.v1.SlaveService" SERVING only while replication runs (SlaveReplicating).
//
// HealthWatcher keeps one named service in step with a predicate: it evaluates it at Start() and
// then every `period` on its own thread, and calls SetServingStatus only when the answer changes,
// logging each transition with the reason.
//
// Threads: one (the watcher), started by Start, joined by Stop or the destructor. Thread-safety:
// Start/Stop from one thread; the health service must outlive the watcher.
#ifndef SEMISYNC_SERVER_NODE_HEALTH_H_
#define SEMISYNC_SERVER_NODE_HEALTH_H_

#include <functional>
#include <string>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "grpcpp/health_check_service_interface.h"
#include "semisync/v1/slave.pb.h"

namespace semisync {

inline constexpr char kReplicationServiceName[] = "semisync.v1.ReplicationService";
inline constexpr char kSlaveServiceName[] = "semisync.v1.SlaveService";

// Whether a slave is replicating: its receiver and applier both run and the receiver has no
// error (a stream that failed and is being retried sets last_io_error). When not, `*reason` says
// why. Errors the applier skipped (apply_errors, last_sql_error) do not count: replication goes
// on; an error that stops the applier shows as sql_running=false.
bool SlaveReplicating(const v1::SlaveStatus& status, std::string* reason);

class HealthWatcher {
 public:
  // Returns true when serving; otherwise sets *reason.
  using Predicate = std::function<bool(std::string* reason)>;

  HealthWatcher(grpc::HealthCheckServiceInterface* health, std::string service, Predicate serving,
                absl::Duration period, std::string log_name);
  ~HealthWatcher();  // Stop()

  HealthWatcher(const HealthWatcher&) = delete;
  HealthWatcher& operator=(const HealthWatcher&) = delete;

  // Sets the status once from the predicate (synchronously), then starts the thread.
  void Start();
  // Stops and joins the thread. Idempotent. Leaves the last status in place.
  void Stop();

 private:
  void Update();
  void Loop();

  grpc::HealthCheckServiceInterface* const health_;
  const std::string service_;
  const Predicate serving_;
  const absl::Duration period_;
  const std::string log_name_;
  // Only touched by Update(), which runs in Start() before the thread exists and then on it.
  bool known_ = false;
  bool last_ = false;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace semisync

#endif  // SEMISYNC_SERVER_NODE_HEALTH_H_
