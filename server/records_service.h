// RecordsServiceImpl: the semisync.v1.RecordsService gRPC handlers, shared by master and slave.
// Reads go to the node's own Storage; writes go to a RecordWriter (the master's commit pipeline)
// or, on a slave (writer == nullptr), are refused with FAILED_PRECONDITION naming the master.
//
// Thread-safety: handlers run on gRPC's threads concurrently; Storage and RecordWriter are
// thread-safe. Storage, the writer and the master address outlive the service.
#ifndef SEMISYNC_SERVER_RECORDS_SERVICE_H_
#define SEMISYNC_SERVER_RECORDS_SERVICE_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "semisync/v1/records.grpc.pb.h"
#include "server/storage/storage.h"

namespace semisync {

// The master's write path, as seen by the RPC layer.
class RecordWriter {
 public:
  virtual ~RecordWriter() = default;
  virtual absl::StatusOr<v1::RecordWriteResponse> Create(const std::string& content) = 0;
  virtual absl::StatusOr<v1::RecordWriteResponse> Update(int64_t id, const std::string& content) = 0;
  virtual absl::StatusOr<v1::DeleteRecordResponse> Delete(int64_t id) = 0;
};

// Largest accepted record content, bytes.
inline constexpr size_t kMaxContentBytes = 1 << 20;
// ListRecords page size when the request says 0, and the largest allowed.
inline constexpr int kDefaultListLimit = 100;
inline constexpr int kMaxListLimit = 1000;

class RecordsServiceImpl final : public v1::RecordsService::Service {
 public:
  // `writer` may be null (slave). `master_address` returns where writes should go (slave only).
  RecordsServiceImpl(Storage* storage, RecordWriter* writer,
                     std::function<std::string()> master_address);

  grpc::Status ListRecords(grpc::ServerContext* ctx, const v1::ListRecordsRequest* req,
                           v1::ListRecordsResponse* resp) override;
  grpc::Status GetRecord(grpc::ServerContext* ctx, const v1::GetRecordRequest* req,
                         v1::Record* resp) override;
  grpc::Status CreateRecord(grpc::ServerContext* ctx, const v1::CreateRecordRequest* req,
                            v1::RecordWriteResponse* resp) override;
  grpc::Status UpdateRecord(grpc::ServerContext* ctx, const v1::UpdateRecordRequest* req,
                            v1::RecordWriteResponse* resp) override;
  grpc::Status DeleteRecord(grpc::ServerContext* ctx, const v1::DeleteRecordRequest* req,
                            v1::DeleteRecordResponse* resp) override;

 private:
  grpc::Status RefuseWrite() const;

  Storage* const storage_;
  RecordWriter* const writer_;
  const std::function<std::string()> master_address_;
};

}  // namespace semisync

#endif  // SEMISYNC_SERVER_RECORDS_SERVICE_H_
