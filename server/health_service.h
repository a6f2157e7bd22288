// HealthService: grpc.health.v1.Health for one server, with the semantics of gRPC's default
// health service (the overall "" service SERVING from the start; Check of an unknown service is
// NOT_FOUND; Watch streams the current status and every change, SERVICE_UNKNOWN for an unknown
// name; Shutdown() turns everything NOT_SERVING and freezes it).
//
// Why not grpc::EnableDefaultHealthCheckService: in gRPC 1.51 it is a callback-API service, and
// its completion queue brings two polling "nexting" threads that take every incoming call's
// socket events and hand them to the thread that serves the call: about 80 µs of CPU per write
// on the master (docs/PERFORMANCE.md). Check runs on the AsyncRpcLoop instead; Watch (rare,
// long-lived) is a synchronous handler that waits for changes.
//
// Thread-safety: all methods are thread-safe.
#ifndef SEMISYNC_SERVER_HEALTH_SERVICE_H_
#define SEMISYNC_SERVER_HEALTH_SERVICE_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/synchronization/mutex.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/server_builder.h"
#include "server/async_rpc.h"

namespace semisync {

using HealthServiceBase =
    grpc::health::v1::Health::WithAsyncMethod_Check<grpc::health::v1::Health::Service>;

class HealthService final : public grpc::HealthCheckServiceInterface, private HealthServiceBase {
 public:
  HealthService();

  // Registers the service on `builder` and Check on `loop` (before BuildAndStart).
  void Register(grpc::ServerBuilder* builder, AsyncRpcLoop* loop);

  void SetServingStatus(const std::string& service_name, bool serving) override;
  void SetServingStatus(bool serving) override;  // every known service
  void Shutdown() override;

  // What Check answers: NOT_FOUND for an unknown service.
  grpc::Status CheckStatus(const grpc::health::v1::HealthCheckRequest& req,
                           grpc::health::v1::HealthCheckResponse* resp);

 private:
  using ServingStatus = grpc::health::v1::HealthCheckResponse::ServingStatus;

  grpc::Status Watch(grpc::ServerContext* ctx, const grpc::health::v1::HealthCheckRequest* req,
                     grpc::ServerWriter<grpc::health::v1::HealthCheckResponse>* writer) override;
  ServingStatus StatusOf(const std::string& service) const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::map<std::string, bool> serving_ ABSL_GUARDED_BY(mu_);
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t version_ ABSL_GUARDED_BY(mu_) = 0;  // bumped on every change, for Watch
};

}  // namespace semisync

#endif  // SEMISYNC_SERVER_HEALTH_SERVICE_H_
