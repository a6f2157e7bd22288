// RecordsServiceImpl: the semisync.v1.RecordsService gRPC handlers, shared by master and slave.
// Reads go to the node's own Storage (synchronous handlers). Writes use gRPC's callback API: the
// handler hands the write to a RecordWriter (the master's commit pipeline) and returns; the
// pipeline finishes the RPC when the write's group completes, so no thread waits per write. On a
// slave (writer == nullptr) writes are refused with FAILED_PRECONDITION naming the master.
//
// Thread-safety: handlers run on gRPC's threads concurrently; Storage and RecordWriter are
// thread-safe. Storage, the writer and the master address outlive the service.
#ifndef SEMISYNC_SERVER_RECORDS_SERVICE_H_
#define SEMISYNC_SERVER_RECORDS_SERVICE_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "semisync/v1/binlog.pb.h"
#include "semisync/v1/records.grpc.pb.h"
#include "server/storage/storage.h"

namespace semisync {

// The master's write path, as seen by the RPC layer.
class RecordWriter {
 public:
  // Runs exactly once with the outcome: on success the transaction's event (row image, position,
  // GTID) and whether slaves acknowledged it. It may run on another thread, or inline for
  // immediate refusals; it must not block.
  using Done = std::function<void(const absl::Status& status, const v1::BinlogEvent& event,
                                  bool semi_sync_acked)>;
  virtual ~RecordWriter() = default;
  // op INSERT ignores `id`; UPDATE and DELETE fail with NOT_FOUND for a missing id.
  virtual void Submit(v1::RowOp op, int64_t id, std::string content, Done done) = 0;
};

// Largest accepted record content, bytes.
inline constexpr size_t kMaxContentBytes = 1 << 20;
// ListRecords page size when the request says 0, and the largest allowed.
inline constexpr int kDefaultListLimit = 100;
inline constexpr int kMaxListLimit = 1000;

// Writes are callback methods, reads stay synchronous.
using RecordsServiceBase = v1::RecordsService::WithCallbackMethod_CreateRecord<
    v1::RecordsService::WithCallbackMethod_UpdateRecord<
        v1::RecordsService::WithCallbackMethod_DeleteRecord<v1::RecordsService::Service>>>;

class RecordsServiceImpl final : public RecordsServiceBase {
 public:
  // `writer` may be null (slave). `master_address` returns where writes should go (slave only).
  RecordsServiceImpl(Storage* storage, RecordWriter* writer,
                     std::function<std::string()> master_address);

  grpc::Status ListRecords(grpc::ServerContext* ctx, const v1::ListRecordsRequest* req,
                           v1::ListRecordsResponse* resp) override;
  grpc::Status GetRecord(grpc::ServerContext* ctx, const v1::GetRecordRequest* req,
                         v1::Record* resp) override;
  grpc::ServerUnaryReactor* CreateRecord(grpc::CallbackServerContext* ctx,
                                         const v1::CreateRecordRequest* req,
                                         v1::RecordWriteResponse* resp) override;
  grpc::ServerUnaryReactor* UpdateRecord(grpc::CallbackServerContext* ctx,
                                         const v1::UpdateRecordRequest* req,
                                         v1::RecordWriteResponse* resp) override;
  grpc::ServerUnaryReactor* DeleteRecord(grpc::CallbackServerContext* ctx,
                                         const v1::DeleteRecordRequest* req,
                                         v1::DeleteRecordResponse* resp) override;

 private:
  grpc::Status RefuseWrite() const;

  Storage* const storage_;
  RecordWriter* const writer_;
  const std::function<std::string()> master_address_;
};

}  // namespace semisync

#endif  // SEMISYNC_SERVER_RECORDS_SERVICE_H_
