// Master: one master node's replication core, assembled and recovered.
//
// Open() does crash recovery the way MySQL does with the binlog as the source of truth:
//   1. read (or create, once) the server uuid in <data_dir>/server_uuid;
//   2. open the binlog (a torn tail left by a crash is truncated; corruption fails the open);
//   3. open the database and re-apply every binlog event after its applied position;
// and then starts the commit pipeline. RegisterServices puts its services on the caller's gRPC
// server (master_main.cc), the hot unary methods on the caller's AsyncRpcLoop.
//
// Threads: the commit pipeline's committer and completer threads (see commit_pipeline.h).
// Thread-safety: all public methods are thread-safe.
#ifndef SEMISYNC_SERVER_MASTER_MASTER_H_
#define SEMISYNC_SERVER_MASTER_MASTER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/master/binlog.h"
#include "server/master/commit_pipeline.h"
#include "server/master/replication_service.h"
#include "server/master/semi_sync_master.h"
#include "server/master/slave_registry.h"
#include "server/records_service.h"
#include "server/storage/storage.h"

namespace semisync {

struct MasterOptions {
  std::string data_dir;
  // SOCI connection string; empty means sqlite3 at <data_dir>/master.db.
  std::string db;
  SemiSyncOptions semi_sync;
  uint64_t binlog_segment_bytes = 64ull << 20;
  uint64_t binlog_retention_bytes = 0;
  absl::Duration binlog_retention_age = absl::ZeroDuration();
  absl::Duration binlog_purge_check_interval = absl::Seconds(10);
  absl::Duration heartbeat_period = absl::Seconds(1);
  // See CommitPipelineOptions::send_before_fsync_when_idle.
  bool send_before_fsync_when_idle = true;
  // See CommitPipelineOptions::submitter_sends_idle_insert.
  bool rpc_thread_sends_idle_insert = true;
  int read_sessions = 4;
};

class Master {
 public:
  static absl::StatusOr<std::unique_ptr<Master>> Open(const MasterOptions& options);
  ~Master();

  const std::string& server_uuid() const { return uuid_; }
  // Registers RecordsService and ReplicationService on `builder`, their hot methods on `loop`
  // (before BuildAndStart), the record reads on `read_pool`'s workers when it is not null
  // (RecordsServiceImpl::Register). The pool, then the loop, are shut down after
  // FinishShutdown().
  void RegisterServices(grpc::ServerBuilder* builder, AsyncRpcLoop* loop,
                        WorkerPool* read_pool = nullptr);
  // The database's SOCI backend: "sqlite3" or "mysql".
  const std::string& storage_backend() const;
  v1::MasterStatus Status() const;

  // Ordered shutdown, part 1 (before the gRPC server shuts down): stop accepting writes, release
  // semi-sync waiters with a definite status, end binlog streams.
  void BeginShutdown();
  // Part 2 (after the gRPC server is down, before the RPC loop drains): join threads, wait for
  // the binlog streams' calls to end, fsync the binlog.
  void FinishShutdown();

 private:
  Master() = default;
  absl::Status Recover();

  MasterOptions options_;
  std::string uuid_;
  std::unique_ptr<Binlog> binlog_;
  std::unique_ptr<Storage> storage_;
  std::unique_ptr<SemiSyncMaster> semi_sync_;
  SlaveRegistry slaves_;
  std::unique_ptr<CommitPipeline> pipeline_;
  std::unique_ptr<RecordsServiceImpl> records_service_;
  std::unique_ptr<ReplicationServiceImpl> replication_service_;
  int64_t max_binlog_id_ = 0;  // highest inserted id seen while re-applying the binlog
};

// Reads <data_dir>/server_uuid, creating it (fsynced) with a new uuid on first start.
absl::StatusOr<std::string> LoadOrCreateServerUuid(const std::string& data_dir);

}  // namespace semisync

#endif  // SEMISYNC_SERVER_MASTER_MASTER_H_
