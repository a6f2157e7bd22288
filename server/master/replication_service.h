// ReplicationServiceImpl: the master's semisync.v1.ReplicationService.
//
// SubscribeBinlog is served by a BinlogStreamer (binlog_stream.h) and Ack by the AsyncRpcLoop
// (both are on every write's path: see server/async_rpc.h); the other methods are synchronous.
//
// Thread-safety: handlers run concurrently on gRPC threads; everything they touch is thread-safe.
// Binlog, SemiSyncMaster, SlaveRegistry and the status callback outlive the service.
#ifndef SEMISYNC_SERVER_MASTER_REPLICATION_SERVICE_H_
#define SEMISYNC_SERVER_MASTER_REPLICATION_SERVICE_H_

#include <functional>
#include <string>

#include "absl/time/time.h"
#include "semisync/v1/replication.grpc.pb.h"
#include "server/async_rpc.h"
#include "server/master/binlog.h"
#include "server/master/binlog_stream.h"
#include "server/master/semi_sync_master.h"
#include "server/master/slave_registry.h"

namespace semisync {

// The service's settings are its binlog streams' (server uuid, heartbeat, batch limits).
using ReplicationServiceOptions = BinlogStreamOptions;

using ReplicationServiceBase = v1::ReplicationService::WithAsyncMethod_SubscribeBinlog<
    v1::ReplicationService::WithAsyncMethod_Ack<v1::ReplicationService::Service>>;

class ReplicationServiceImpl final : public ReplicationServiceBase {
 public:
  ReplicationServiceImpl(const ReplicationServiceOptions& options, Binlog* binlog,
                         SemiSyncMaster* semi_sync, SlaveRegistry* slaves,
                         std::function<v1::MasterStatus()> status);

  grpc::Status RegisterSlave(grpc::ServerContext* ctx, const v1::RegisterSlaveRequest* req,
                             v1::RegisterSlaveResponse* resp) override;
  // Registers the service on `builder`, SubscribeBinlog and Ack on `loop` (before BuildAndStart).
  void Register(grpc::ServerBuilder* builder, AsyncRpcLoop* loop);
  // Committer thread: a group of events was made durable (feeds caught-up streams).
  void OnFlushed(const std::vector<v1::BinlogEvent>& events, bool durable) {
    streamer_.OnFlushed(events, durable);
  }
  void OnDurable() { streamer_.OnDurable(); }
  // Ends every binlog stream with UNAVAILABLE (master shutdown).
  void Shutdown() { streamer_.Shutdown(); }
  // After the gRPC server shut down, before the RPC loop drains (BinlogStreamer::WaitUntilEnded).
  bool WaitForStreamsToEnd(absl::Duration timeout) { return streamer_.WaitUntilEnded(timeout); }
  grpc::Status HandleAck(const v1::AckRequest& req, v1::AckResponse* resp);
  grpc::Status GetBinlog(grpc::ServerContext* ctx, const v1::GetBinlogRequest* req,
                         v1::GetBinlogResponse* resp) override;
  grpc::Status GetStatus(grpc::ServerContext* ctx, const v1::GetMasterStatusRequest* req,
                         v1::MasterStatus* resp) override;

 private:
  const ReplicationServiceOptions options_;
  Binlog* const binlog_;
  SemiSyncMaster* const semi_sync_;
  SlaveRegistry* const slaves_;
  const std::function<v1::MasterStatus()> status_;
  BinlogStreamer streamer_;
};

}  // namespace semisync

#endif  // SEMISYNC_SERVER_MASTER_REPLICATION_SERVICE_H_
