// ReplicationServiceImpl (see replication_service.h).
#include "server/master/replication_service.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "server/process_util.h"

namespace semisync {

namespace {

grpc::Status BadSlaveId(const std::string& id) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                      absl::StrCat("slave_id must be 1-64 characters of [A-Za-z0-9_.-], got '",
                                   id, "'"));
}

// Lowers stream/read errors on purged positions to a message that names what is still there.
grpc::Status ReaderError(const absl::Status& s) { return ToGrpcStatus(s); }

}  // namespace

ReplicationServiceImpl::ReplicationServiceImpl(const ReplicationServiceOptions& options,
                                               Binlog* binlog, SemiSyncMaster* semi_sync,
                                               SlaveRegistry* slaves,
                                               std::function<v1::MasterStatus()> status)
    : options_(options),
      binlog_(binlog),
      semi_sync_(semi_sync),
      slaves_(slaves),
      status_(std::move(status)),
      streamer_(options, binlog, semi_sync, slaves) {}

grpc::Status ReplicationServiceImpl::RegisterSlave(grpc::ServerContext*,
                                                   const v1::RegisterSlaveRequest* req,
                                                   v1::RegisterSlaveResponse* resp) {
  if (!IsValidSlaveId(req->slave_id())) return BadSlaveId(req->slave_id());
  if (req->address().size() > 256) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "address is longer than 256 bytes");
  }
  slaves_->Register(req->slave_id(), req->address(), req->semi_sync());
  LOG(INFO) << "master " << options_.server_uuid << ": slave " << req->slave_id()
            << " registered from " << req->address()
            << (req->semi_sync() ? " (semi-sync)" : " (async)");
  resp->set_master_uuid(options_.server_uuid);
  resp->set_binlog_end_position(binlog_->EndPosition());
  resp->set_oldest_position(binlog_->OldestPosition());
  return grpc::Status::OK;
}

void ReplicationServiceImpl::Register(grpc::ServerBuilder* builder, AsyncRpcLoop* loop) {
  builder->RegisterService(this);
  streamer_.Register(loop, [this](auto* ctx, auto* req, auto* writer, auto* cq, void* tag) {
    RequestSubscribeBinlog(ctx, req, writer, cq, cq, tag);
  });
  loop->AddUnary(AsyncRequest(this, &ReplicationServiceImpl::RequestAck),
                 [this](grpc::ServerContext*, const auto& req, auto* resp, Responder* done) {
                   done->Finish(HandleAck(req, resp));
                 });
}

grpc::Status ReplicationServiceImpl::HandleAck(const v1::AckRequest& req,
                                               v1::AckResponse* resp) {
  const std::string& id = req.slave_id();
  if (!IsValidSlaveId(id)) return BadSlaveId(id);
  if (absl::Status s = slaves_->CheckRegistered(id); !s.ok()) return ToGrpcStatus(s);
  // Events may be acknowledged before the master's own fsync (sent ahead of it when idle).
  const uint64_t written = binlog_->WrittenPosition();
  if (req.received_position() > written) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("received_position ", req.received_position(),
                                     " is beyond the binlog end ", written));
  }
  if (req.applied_position() > req.received_position()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("applied_position ", req.applied_position(),
                                     " is beyond received_position ", req.received_position()));
  }
  slaves_->OnAck(id, req.received_position(), req.applied_position(),
                 req.applied_timestamp_us(), absl::Now());
  if (slaves_->IsSemiSync(id)) semi_sync_->OnAck(id, req.received_position());
  resp->set_binlog_end_position(binlog_->EndPosition());
  return grpc::Status::OK;
}

grpc::Status ReplicationServiceImpl::GetBinlog(grpc::ServerContext*,
                                               const v1::GetBinlogRequest* req,
                                               v1::GetBinlogResponse* resp) {
  if (req->limit() < 0 || req->limit() > 10000) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("limit must be between 0 and 10000, got ", req->limit()));
  }
  size_t limit = req->limit() == 0 ? 100 : req->limit();
  absl::StatusOr<std::vector<v1::BinlogEvent>> events =
      binlog_->ReadEvents(req->after_position(), limit);
  if (!events.ok()) return ReaderError(events.status());
  for (auto& e : *events) *resp->add_events() = std::move(e);
  resp->set_binlog_end_position(binlog_->EndPosition());
  resp->set_oldest_position(binlog_->OldestPosition());
  return grpc::Status::OK;
}

grpc::Status ReplicationServiceImpl::GetStatus(grpc::ServerContext*,
                                               const v1::GetMasterStatusRequest*,
                                               v1::MasterStatus* resp) {
  *resp = status_();
  return grpc::Status::OK;
}

}  // namespace semisync
