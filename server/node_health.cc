// Named-service health of master and slave nodes (see node_health.h).
#include "server/node_health.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace semisync {

bool SlaveReplicating(const v1::SlaveStatus& status, std::string* reason) {
  if (!status.io_running() && !status.sql_running()) {
    *reason = "replication stopped (io_running=false, sql_running=false)";
  } else if (!status.io_running()) {
    *reason =
        absl::StrCat("receiver stopped: ",
                     status.last_io_error().empty() ? "io_running=false" : status.last_io_error());
  } else if (!status.sql_running()) {
    *reason = absl::StrCat("applier stopped: ", status.last_sql_error().empty()
                                                    ? "sql_running=false"
                                                    : status.last_sql_error());
  } else if (!status.last_io_error().empty()) {
    *reason = absl::StrCat("stream to the master failed: ", status.last_io_error());
  } else {
    return true;
  }
  return false;
}

HealthWatcher::HealthWatcher(grpc::HealthCheckServiceInterface* health, std::string service,
                             Predicate serving, absl::Duration period, std::string log_name)
    : health_(health),
      service_(std::move(service)),
      serving_(std::move(serving)),
      period_(period),
      log_name_(std::move(log_name)) {}

HealthWatcher::~HealthWatcher() { Stop(); }

void HealthWatcher::Start() {
  Update();
  thread_ = std::thread([this] { Loop(); });
}

void HealthWatcher::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

void HealthWatcher::Loop() {
  while (!stop_.WaitForNotificationWithTimeout(period_)) Update();
}

void HealthWatcher::Update() {
  std::string reason;
  const bool serving = serving_(&reason);
  if (known_ && serving == last_) return;
  known_ = true;
  last_ = serving;
  health_->SetServingStatus(service_, serving);
  if (serving) {
    LOG(INFO) << log_name_ << ": health " << service_ << " SERVING";
  } else {
    LOG(WARNING) << log_name_ << ": health " << service_ << " NOT_SERVING: " << reason;
  }
}

}  // namespace semisync
