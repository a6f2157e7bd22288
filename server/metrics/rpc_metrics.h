// RpcMetrics: per-method request counts and latency histograms for every RPC a grpc::Server
// handles, through a server interceptor. The HTTP gateway calls the same server through its
// in-process channel, so HTTP requests are counted here too (as the gRPC method they became).
//
//   grpc_server_handled_total{method="semisync.v1.RecordsService/CreateRecord",code="OK"} 12
//   grpc_server_handling_seconds_bucket{method="...",le="0.005"} 10   (+ _sum, _count)
//
// Latency runs from the interceptor's creation (the server has the call and is about to run the
// handler) to the status being sent; for server-streaming methods that is the stream's lifetime.
// A call that ends without sending a status (cancelled before its handler answered) counts as
// CANCELLED.
//
// Cost per RPC: one interceptor allocation, a reader-locked hash lookup of the method, two clock
// reads, one histogram observation and one counter increment. Thread-safety: thread-safe; the
// RpcMetrics must outlive the grpc::Server the factory is installed on.
#ifndef SEMISYNC_SERVER_METRICS_RPC_METRICS_H_
#define SEMISYNC_SERVER_METRICS_RPC_METRICS_H_

#include <array>
#include <atomic>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/support/server_interceptor.h"
#include "grpcpp/support/status.h"
#include "server/metrics/metrics.h"

namespace semisync {
namespace metrics {

// "OK", "CANCELLED", ..., "UNAUTHENTICATED"; "UNKNOWN" for a code out of range.
absl::string_view GrpcCodeName(grpc::StatusCode code);

class RpcMetrics {
 public:
  // Registers grpc_server_handled_total and grpc_server_handling_seconds in `registry`, which
  // must outlive this object.
  explicit RpcMetrics(Registry* registry);
  RpcMetrics(const RpcMetrics&) = delete;
  RpcMetrics& operator=(const RpcMetrics&) = delete;

  // For ServerBuilder::experimental().SetInterceptorCreators(). Install one per server.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> NewInterceptorFactory();

  // The statistics of one method ("/pkg.Service/Method" as gRPC names it).
  class Method {
   public:
    Method(RpcMetrics* owner, std::string label);
    // Records one finished call.
    void Record(grpc::StatusCode code, double seconds);

   private:
    static constexpr int kCodes = 17;  // OK .. UNAUTHENTICATED
    RpcMetrics* const owner_;
    const std::string label_;  // without the leading '/'
    Histogram* const latency_;
    std::array<std::atomic<Counter*>, kCodes> handled_{};  // filled on first use per code
  };
  Method* ForMethod(absl::string_view grpc_method) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  Family<Counter>* const handled_;
  Family<Histogram>* const latency_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<Method>> methods_ ABSL_GUARDED_BY(mu_);
};

}  // namespace metrics
}  // namespace semisync

#endif  // SEMISYNC_SERVER_METRICS_RPC_METRICS_H_
