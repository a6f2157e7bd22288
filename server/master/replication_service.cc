// ReplicationServiceImpl (see replication_service.h).
#include "server/master/replication_service.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "server/process_util.h"

namespace semisync {

bool IsValidSlaveId(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == '-';
  });
}

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
      status_(std::move(status)) {}

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

grpc::Status ReplicationServiceImpl::SubscribeBinlog(
    grpc::ServerContext* ctx, const v1::SubscribeBinlogRequest* req,
    grpc::ServerWriter<v1::SubscribeBinlogResponse>* writer) {
  const std::string& id = req->slave_id();
  if (!IsValidSlaveId(id)) return BadSlaveId(id);
  if (absl::Status s = slaves_->CheckRegistered(id); !s.ok()) return ToGrpcStatus(s);
  uint64_t end = binlog_->EndPosition();
  if (req->after_position() > end) {
    return grpc::Status(
        grpc::StatusCode::OUT_OF_RANGE,
        absl::StrCat("slave ", id, " asks for events after position ", req->after_position(),
                     " but the master's binlog ends at ", end,
                     ": the slave has data this master never wrote (wrong master?)"));
  }
  absl::StatusOr<std::unique_ptr<BinlogReader>> reader =
      binlog_->NewReader(req->after_position());
  if (!reader.ok()) return ReaderError(reader.status());

  const bool semi = slaves_->IsSemiSync(id);
  slaves_->StreamOpened(id);
  semi_sync_->SlaveConnected(id, semi);
  LOG(INFO) << "master " << options_.server_uuid << ": slave " << id
            << " streaming from position " << req->after_position();

  grpc::Status result = grpc::Status::OK;
  std::vector<v1::BinlogEvent> events;
  v1::SubscribeBinlogResponse msg;
  absl::Time last_sent = absl::Now();
  while (true) {
    if (ctx->IsCancelled()) {
      result = grpc::Status(grpc::StatusCode::CANCELLED, "slave went away");
      break;
    }
    if (binlog_->stopped()) {
      result = grpc::Status(grpc::StatusCode::UNAVAILABLE, "master is shutting down");
      break;
    }
    uint64_t pos = (*reader)->position();
    // Wake at least every 200 ms to notice cancellation, and on time for heartbeats.
    absl::Time now = absl::Now();
    absl::Time wake = std::min(last_sent + options_.heartbeat_period, now + absl::Milliseconds(200));
    end = binlog_->WaitForEnd(pos, wake);
    msg.Clear();
    if (end > pos) {
      events.clear();
      absl::Status s = (*reader)->Read(end, options_.max_batch_events, options_.max_batch_bytes,
                                       &events);
      if (!s.ok()) {
        LOG(ERROR) << "master " << options_.server_uuid << ": binlog read for slave " << id
                   << " failed: " << s;
        result = ToGrpcStatus(s);
        break;
      }
      for (auto& e : events) *msg.add_events() = std::move(e);
    } else if (absl::Now() - last_sent >= options_.heartbeat_period) {
      msg.mutable_heartbeat()->set_binlog_end_position(end);
      msg.mutable_heartbeat()->set_timestamp_us(absl::ToUnixMicros(absl::Now()));
    } else {
      continue;
    }
    if (!writer->Write(msg)) {
      result = grpc::Status(grpc::StatusCode::CANCELLED, "stream closed by the slave");
      break;
    }
    last_sent = absl::Now();
  }
  semi_sync_->SlaveDisconnected(id);
  slaves_->StreamClosed(id);
  LOG(INFO) << "master " << options_.server_uuid << ": slave " << id
            << " stream ended at position " << (*reader)->position() << ": "
            << result.error_message();
  return result;
}

void ReplicationServiceImpl::Register(grpc::ServerBuilder* builder, AsyncRpcLoop* loop) {
  builder->RegisterService(this);
  loop->AddUnary<v1::AckRequest, v1::AckResponse>(
      [this](auto* ctx, auto* req, auto* w, auto* cq, void* tag) {
        RequestAck(ctx, req, w, cq, cq, tag);
      },
      [this](grpc::ServerContext*, const auto& req, auto* resp, Responder* done) {
        done->Finish(HandleAck(req, resp));
      });
}

grpc::Status ReplicationServiceImpl::HandleAck(const v1::AckRequest& req,
                                               v1::AckResponse* resp) {
  const std::string& id = req.slave_id();
  if (!IsValidSlaveId(id)) return BadSlaveId(id);
  if (absl::Status s = slaves_->CheckRegistered(id); !s.ok()) return ToGrpcStatus(s);
  uint64_t end = binlog_->EndPosition();
  if (req.received_position() > end) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("received_position ", req.received_position(),
                                     " is beyond the binlog end ", end));
  }
  if (req.applied_position() > req.received_position()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("applied_position ", req.applied_position(),
                                     " is beyond received_position ", req.received_position()));
  }
  slaves_->OnAck(id, req.received_position(), req.applied_position(),
                 req.applied_timestamp_us(), absl::Now());
  if (slaves_->IsSemiSync(id)) semi_sync_->OnAck(id, req.received_position());
  resp->set_binlog_end_position(end);
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
