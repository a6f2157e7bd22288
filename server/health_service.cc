// HealthService (see health_service.h).
#include "server/health_service.h"

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace semisync {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

HealthService::HealthService() { serving_[""] = true; }

void HealthService::Register(grpc::ServerBuilder* builder, AsyncRpcLoop* loop) {
  builder->RegisterService(static_cast<HealthServiceBase*>(this));
  loop->AddUnary(
      AsyncRequest(static_cast<HealthServiceBase*>(this), &HealthServiceBase::RequestCheck),
      [this](grpc::ServerContext*, const auto& req, auto* resp, Responder* done) {
        done->Finish(CheckStatus(req, resp));
      });
}

void HealthService::SetServingStatus(const std::string& service_name, bool serving) {
  absl::MutexLock lock(&mu_);
  if (shut_down_) return;
  auto it = serving_.find(service_name);
  if (it != serving_.end() && it->second == serving) return;
  serving_[service_name] = serving;
  ++version_;
}

void HealthService::SetServingStatus(bool serving) {
  absl::MutexLock lock(&mu_);
  if (shut_down_) return;
  for (auto& [name, s] : serving_) s = serving;
  ++version_;
}

void HealthService::Shutdown() {
  absl::MutexLock lock(&mu_);
  if (shut_down_) return;
  for (auto& [name, s] : serving_) s = false;
  shut_down_ = true;
  ++version_;
}

HealthService::ServingStatus HealthService::StatusOf(const std::string& service) const {
  auto it = serving_.find(service);
  if (it == serving_.end()) return HealthCheckResponse::SERVICE_UNKNOWN;
  return it->second ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING;
}

grpc::Status HealthService::CheckStatus(const HealthCheckRequest& req,
                                        HealthCheckResponse* resp) {
  absl::ReaderMutexLock lock(&mu_);
  ServingStatus status = StatusOf(req.service());
  if (status == HealthCheckResponse::SERVICE_UNKNOWN) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("unknown service '", req.service(), "'"));
  }
  resp->set_status(status);
  return grpc::Status::OK;
}

grpc::Status HealthService::Watch(grpc::ServerContext* ctx, const HealthCheckRequest* req,
                                  grpc::ServerWriter<HealthCheckResponse>* writer) {
  uint64_t seen = 0;
  bool first = true;
  ServingStatus last = HealthCheckResponse::UNKNOWN;
  while (!ctx->IsCancelled()) {
    ServingStatus status;
    {
      absl::MutexLock lock(&mu_);
      // Wake on a change, or every 100 ms to notice that the caller went away.
      auto changed = [this, seen]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return version_ != seen;
      };
      if (!first) mu_.AwaitWithTimeout(absl::Condition(&changed), absl::Milliseconds(100));
      seen = version_;
      status = StatusOf(req->service());
    }
    if (!first && status == last) continue;
    first = false;
    last = status;
    HealthCheckResponse resp;
    resp.set_status(status);
    if (!writer->Write(resp)) break;
  }
  return grpc::Status(grpc::StatusCode::CANCELLED, "watch ended by the caller");
}

}  // namespace semisync
