// Per-method RPC counts and latencies through a gRPC server interceptor (see rpc_metrics.h).
#include "server/metrics/rpc_metrics.h"

#include <chrono>
#include <utility>

#include "absl/strings/strip.h"

namespace semisync {
namespace metrics {
namespace {

using grpc::experimental::InterceptionHookPoints;

class MetricsInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit MetricsInterceptor(RpcMetrics::Method* method)
      : method_(method), start_(std::chrono::steady_clock::now()) {}

  ~MetricsInterceptor() override {
    if (!recorded_) Finish(grpc::StatusCode::CANCELLED);
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (!recorded_ &&
        methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      Finish(methods->GetSendStatus().error_code());
    }
    methods->Proceed();
  }

 private:
  void Finish(grpc::StatusCode code) {
    recorded_ = true;
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start_;
    method_->Record(code, elapsed.count());
  }

  RpcMetrics::Method* const method_;
  const std::chrono::steady_clock::time_point start_;
  // Interception of one call's batches is sequential, and the destructor runs after the last.
  bool recorded_ = false;
};

class MetricsInterceptorFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit MetricsInterceptorFactory(RpcMetrics* metrics) : metrics_(metrics) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    const char* method = info->method();
    if (method == nullptr) return nullptr;
    return new MetricsInterceptor(metrics_->ForMethod(method));
  }

 private:
  RpcMetrics* const metrics_;
};

}  // namespace

absl::string_view GrpcCodeName(grpc::StatusCode code) {
  static constexpr absl::string_view kNames[] = {"OK",
                                                 "CANCELLED",
                                                 "UNKNOWN",
                                                 "INVALID_ARGUMENT",
                                                 "DEADLINE_EXCEEDED",
                                                 "NOT_FOUND",
                                                 "ALREADY_EXISTS",
                                                 "PERMISSION_DENIED",
                                                 "RESOURCE_EXHAUSTED",
                                                 "FAILED_PRECONDITION",
                                                 "ABORTED",
                                                 "OUT_OF_RANGE",
                                                 "UNIMPLEMENTED",
                                                 "INTERNAL",
                                                 "UNAVAILABLE",
                                                 "DATA_LOSS",
                                                 "UNAUTHENTICATED"};
  const int i = static_cast<int>(code);
  if (i < 0 || i >= static_cast<int>(sizeof(kNames) / sizeof(kNames[0]))) return "UNKNOWN";
  return kNames[i];
}

RpcMetrics::RpcMetrics(Registry* registry)
    : handled_(registry->AddCounterFamily(
          "grpc_server_handled_total",
          "RPCs completed by the server (gRPC clients and the HTTP gateway alike), by method and "
          "gRPC status code.",
          {"method", "code"})),
      latency_(registry->AddHistogramFamily(
          "grpc_server_handling_seconds",
          "Time from receiving an RPC to sending its status, seconds, by method (the whole "
          "stream for server-streaming methods).",
          {"method"}, LatencyBuckets())) {}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
RpcMetrics::NewInterceptorFactory() {
  return std::make_unique<MetricsInterceptorFactory>(this);
}

RpcMetrics::Method::Method(RpcMetrics* owner, std::string label)
    : owner_(owner), label_(std::move(label)), latency_(owner->latency_->WithLabels({label_})) {
  // OK is always exported (as 0 until the first success), so rates work from the first scrape.
  handled_[0].store(owner_->handled_->WithLabels({label_, "OK"}), std::memory_order_release);
}

void RpcMetrics::Method::Record(grpc::StatusCode code, double seconds) {
  latency_->Observe(seconds);
  int i = static_cast<int>(code);
  if (i < 0 || i >= kCodes) i = static_cast<int>(grpc::StatusCode::UNKNOWN);
  Counter* counter = handled_[i].load(std::memory_order_acquire);
  if (counter == nullptr) {
    // First call with this code: racing threads get the same child from the family.
    counter = owner_->handled_->WithLabels(
        {label_, std::string(GrpcCodeName(static_cast<grpc::StatusCode>(i)))});
    handled_[i].store(counter, std::memory_order_release);
  }
  counter->Increment();
}

RpcMetrics::Method* RpcMetrics::ForMethod(absl::string_view grpc_method) {
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = methods_.find(grpc_method);
    if (it != methods_.end()) return it->second.get();
  }
  absl::MutexLock lock(&mu_);
  std::unique_ptr<Method>& m = methods_[grpc_method];
  if (m == nullptr) {
    m = std::make_unique<Method>(this, std::string(absl::StripPrefix(grpc_method, "/")));
  }
  return m.get();
}

}  // namespace metrics
}  // namespace semisync
