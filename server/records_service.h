// RecordsServiceImpl: the semisync.v1.RecordsService gRPC handlers, shared by master and slave.
// Every method is served by an AsyncRpcLoop (server/async_rpc.h). Reads go to the node's own
// Storage on the loop thread, or on a WorkerPool's thread when the node gives one (MySQL
// storage: see Register). Writes are handed to a RecordWriter (the master's commit pipeline)
// and the handler returns; the pipeline finishes the RPC when the write's group completes, so no
// thread waits per write. On a slave (writer == nullptr) writes are refused with
// FAILED_PRECONDITION naming the master.
//
// Thread-safety: handlers run on the loop's (and the read pool's) threads; Storage and
// RecordWriter are thread-safe.
// Storage, the writer and the master address outlive the service.
#ifndef SEMISYNC_SERVER_RECORDS_SERVICE_H_
#define SEMISYNC_SERVER_RECORDS_SERVICE_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "semisync/v1/binlog.pb.h"
#include "grpcpp/server_builder.h"
#include "semisync/v1/records.grpc.pb.h"
#include "server/async_rpc.h"
#include "server/storage/storage.h"
#include "server/worker_pool.h"

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

class RecordsServiceImpl {
 public:
  // `writer` may be null (slave). `master_address` returns where writes should go (slave only).
  RecordsServiceImpl(Storage* storage, RecordWriter* writer,
                     std::function<std::string()> master_address);

  // Registers the service on `builder` and its methods on `loop` (before BuildAndStart). With a
  // `read_pool`, the reads (GetRecord, ListRecords) run on its workers, which finish the calls:
  // on MySQL storage a read holds its thread for a round trip to the database server, and on the
  // loop thread it would hold up the writes and acks queued behind it (see ReadThreadsFor).
  // Without one they run on the loop thread. The pool must be shut down (drained) before the
  // loop is.
  void Register(grpc::ServerBuilder* builder, AsyncRpcLoop* loop,
                WorkerPool* read_pool = nullptr);

  grpc::Status ListRecords(const v1::ListRecordsRequest& req, v1::ListRecordsResponse* resp);
  grpc::Status GetRecord(const v1::GetRecordRequest& req, v1::Record* resp);
  void CreateRecord(const v1::CreateRecordRequest& req, v1::RecordWriteResponse* resp,
                    Responder* done);
  void UpdateRecord(const v1::UpdateRecordRequest& req, v1::RecordWriteResponse* resp,
                    Responder* done);
  void DeleteRecord(const v1::DeleteRecordRequest& req, v1::DeleteRecordResponse* resp,
                    Responder* done);

 private:
  grpc::Status RefuseWrite() const;

  Storage* const storage_;
  RecordWriter* const writer_;
  const std::function<std::string()> master_address_;
  v1::RecordsService::AsyncService service_;
};

}  // namespace semisync

#endif  // SEMISYNC_SERVER_RECORDS_SERVICE_H_
