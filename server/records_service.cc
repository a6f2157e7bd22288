// RecordsService handlers (see records_service.h).
#include "server/records_service.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "server/process_util.h"

namespace semisync {
namespace {

grpc::Status ValidateId(int64_t id) {
  if (id <= 0) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("id must be a positive integer, got ", id));
  }
  return grpc::Status::OK;
}

grpc::Status ValidateContent(const std::string& content) {
  if (content.size() > kMaxContentBytes) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("content is ", content.size(), " bytes; the limit is ",
                                     kMaxContentBytes));
  }
  return grpc::Status::OK;
}

// Runs `call` (which returns the call's status) and finishes the call with it: here when `pool`
// is null, else on a worker of `pool` (the call's request and response live until Finish).
// UNAVAILABLE when the pool has stopped.
template <class F>
void RunRead(WorkerPool* pool, Responder* done, F call) {
  if (pool == nullptr) {
    done->Finish(call());
    return;
  }
  if (!pool->Schedule([done, call = std::move(call)] { done->Finish(call()); })) {
    done->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "server is shutting down"));
  }
}

}  // namespace

RecordsServiceImpl::RecordsServiceImpl(Storage* storage, RecordWriter* writer,
                                       std::function<std::string()> master_address)
    : storage_(storage), writer_(writer), master_address_(std::move(master_address)) {}

void RecordsServiceImpl::Register(grpc::ServerBuilder* builder, AsyncRpcLoop* loop,
                                  WorkerPool* read_pool) {
  builder->RegisterService(&service_);
  using S = v1::RecordsService::AsyncService;
  S* svc = &service_;
  loop->AddUnary(AsyncRequest(svc, &S::RequestListRecords),
                 [this, read_pool](grpc::ServerContext*, const auto& req, auto* resp,
                                   Responder* done) {
                   RunRead(read_pool, done, [this, &req, resp] { return ListRecords(req, resp); });
                 });
  loop->AddUnary(AsyncRequest(svc, &S::RequestGetRecord),
                 [this, read_pool](grpc::ServerContext*, const auto& req, auto* resp,
                                   Responder* done) {
                   RunRead(read_pool, done, [this, &req, resp] { return GetRecord(req, resp); });
                 });
  loop->AddUnary(AsyncRequest(svc, &S::RequestCreateRecord),
                 [this](grpc::ServerContext*, const auto& req, auto* resp, Responder* done) {
                   CreateRecord(req, resp, done);
                 });
  loop->AddUnary(AsyncRequest(svc, &S::RequestUpdateRecord),
                 [this](grpc::ServerContext*, const auto& req, auto* resp, Responder* done) {
                   UpdateRecord(req, resp, done);
                 });
  loop->AddUnary(AsyncRequest(svc, &S::RequestDeleteRecord),
                 [this](grpc::ServerContext*, const auto& req, auto* resp, Responder* done) {
                   DeleteRecord(req, resp, done);
                 });
}

grpc::Status RecordsServiceImpl::ListRecords(const v1::ListRecordsRequest& req,
                                             v1::ListRecordsResponse* resp) {
  if (req.after_id() < 0) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("after_id must be >= 0, got ", req.after_id()));
  }
  if (req.limit() < 0 || req.limit() > kMaxListLimit) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("limit must be between 0 and ", kMaxListLimit, ", got ",
                                     req.limit()));
  }
  int limit = req.limit() == 0 ? kDefaultListLimit : req.limit();
  // One extra row tells whether there is a next page.
  auto rows = storage_->ListRecords(req.after_id(), limit + 1);
  if (!rows.ok()) return ToGrpcStatus(rows.status());
  bool more = static_cast<int>(rows->size()) > limit;
  if (more) rows->resize(limit);
  for (auto& r : *rows) *resp->add_records() = std::move(r);
  resp->set_next_after_id(more ? resp->records(limit - 1).id() : 0);
  return grpc::Status::OK;
}

grpc::Status RecordsServiceImpl::GetRecord(const v1::GetRecordRequest& req, v1::Record* resp) {
  if (auto s = ValidateId(req.id()); !s.ok()) return s;
  auto record = storage_->GetRecord(req.id());
  if (!record.ok()) return ToGrpcStatus(record.status());
  *resp = std::move(*record);
  return grpc::Status::OK;
}

grpc::Status RecordsServiceImpl::RefuseWrite() const {
  return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                      absl::StrCat("this node is a read-only slave; send writes to the master at ",
                                   master_address_ ? master_address_() : "unknown"));
}

namespace {

void FillWrite(const v1::BinlogEvent& e, bool acked, v1::WriteResult* w) {
  w->set_gtid(e.gtid());
  w->set_position(e.position());
  w->set_semi_sync_acked(acked);
}

}  // namespace

void RecordsServiceImpl::CreateRecord(const v1::CreateRecordRequest& req,
                                      v1::RecordWriteResponse* resp, Responder* done) {
  grpc::Status invalid = writer_ == nullptr ? RefuseWrite() : ValidateContent(req.content());
  if (!invalid.ok()) {
    done->Finish(invalid);
    return;
  }
  writer_->Submit(v1::ROW_OP_INSERT, 0, req.content(),
                  [done, resp](const absl::Status& s, const v1::BinlogEvent& e, bool acked) {
                    if (s.ok()) {
                      *resp->mutable_record() = e.record();
                      FillWrite(e, acked, resp->mutable_write());
                    }
                    done->Finish(ToGrpcStatus(s));
                  });
}

void RecordsServiceImpl::UpdateRecord(const v1::UpdateRecordRequest& req,
                                      v1::RecordWriteResponse* resp, Responder* done) {
  grpc::Status invalid = writer_ == nullptr ? RefuseWrite() : ValidateId(req.id());
  if (invalid.ok()) invalid = ValidateContent(req.content());
  if (!invalid.ok()) {
    done->Finish(invalid);
    return;
  }
  writer_->Submit(v1::ROW_OP_UPDATE, req.id(), req.content(),
                  [done, resp](const absl::Status& s, const v1::BinlogEvent& e, bool acked) {
                    if (s.ok()) {
                      *resp->mutable_record() = e.record();
                      FillWrite(e, acked, resp->mutable_write());
                    }
                    done->Finish(ToGrpcStatus(s));
                  });
}

void RecordsServiceImpl::DeleteRecord(const v1::DeleteRecordRequest& req,
                                      v1::DeleteRecordResponse* resp, Responder* done) {
  grpc::Status invalid = writer_ == nullptr ? RefuseWrite() : ValidateId(req.id());
  if (!invalid.ok()) {
    done->Finish(invalid);
    return;
  }
  const int64_t id = req.id();
  writer_->Submit(v1::ROW_OP_DELETE, id, std::string(),
                  [done, resp, id](const absl::Status& s, const v1::BinlogEvent& e, bool acked) {
                    if (s.ok()) {
                      resp->set_id(id);
                      FillWrite(e, acked, resp->mutable_write());
                    }
                    done->Finish(ToGrpcStatus(s));
                  });
}

}  // namespace semisync
