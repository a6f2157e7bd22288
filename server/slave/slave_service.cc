// SlaveServiceImpl (see slave_service.h).
#include "server/slave/slave_service.h"

#include "glog/logging.h"
#include "server/process_util.h"

namespace semisync {

grpc::Status SlaveServiceImpl::StartSync(grpc::ServerContext* ctx,
                                         const v1::StartSyncRequest* req,
                                         v1::SyncResponse* resp) {
  LOG(INFO) << "slave " << slave_->options().slave_id << ": StartSync requested by "
            << ctx->peer();
  absl::Status s = slave_->StartSync();
  if (!s.ok()) return ToGrpcStatus(s);
  *resp->mutable_status() = slave_->Status();
  return grpc::Status::OK;
}

grpc::Status SlaveServiceImpl::StopSync(grpc::ServerContext* ctx, const v1::StopSyncRequest* req,
                                        v1::SyncResponse* resp) {
  LOG(INFO) << "slave " << slave_->options().slave_id << ": StopSync requested by "
            << ctx->peer();
  absl::Status s = slave_->StopSync();
  if (!s.ok()) return ToGrpcStatus(s);
  *resp->mutable_status() = slave_->Status();
  return grpc::Status::OK;
}

grpc::Status SlaveServiceImpl::GetStatus(grpc::ServerContext* ctx,
                                         const v1::GetSlaveStatusRequest* req,
                                         v1::SlaveStatus* resp) {
  *resp = slave_->Status();
  return grpc::Status::OK;
}

}  // namespace semisync
