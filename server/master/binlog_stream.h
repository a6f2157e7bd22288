// BinlogStreamer: serves ReplicationService.SubscribeBinlog on the AsyncRpcLoop, one Call per open
// stream, with no thread of its own.
//
// A stream sends batches of consecutive binlog events after the slave's position, and a heartbeat
// after heartbeat_period without a message. A slave that is behind is served from the binlog
// files (never from an ever-growing buffer: a stopped slave costs no memory). A slave that is
// caught up is served from memory: the committer hands every group it has made durable to
// OnFlushed, and a stream with no write in flight starts the write right there, on the committer
// thread (non-blocking), so the live tail costs no thread wake-up and no disk read. Groups that
// arrive while a write is in flight wait in a bounded per-stream tail (kMaxTailEvents); past that
// the stream falls back to the files until it has caught up again. The loop thread continues
// after each write and handles heartbeats (a grpc::Alarm per stream).
//
// Every message carries the binlog's durable end (durable_position); a group the committer hands
// over before its fsync (send_before_fsync_when_idle) goes out ahead of it, and OnDurable then
// sends a heartbeat to each stream not yet told. A stream's first message goes out at once (a
// heartbeat when there is nothing to send). Start() checks the slave's last event (after_gtid,
// after_timestamp_us) against the binlog, or against the events being synced, and refuses with
// ABORTED when this master does not hold it.
//
// At most one write is in flight per stream; the message being written is owned by the Call.
// A stream ends when the slave goes away (CANCELLED), a binlog read fails (its status, e.g.
// OUT_OF_RANGE for purged positions), or Shutdown() (UNAVAILABLE).
//
// Thread-safety: OnFlushed (the pipeline's committer role: its thread, or an rpc thread leading an
// idle insert), OnDurable (committer thread), Shutdown (main) and the loop's tags run concurrently;
// each Call has its own mutex, taken after the streamer's. Binlog, SemiSyncMaster and
// SlaveRegistry outlive the streamer; the streamer outlives the loop's drain.
#ifndef SEMISYNC_SERVER_MASTER_BINLOG_STREAM_H_
#define SEMISYNC_SERVER_MASTER_BINLOG_STREAM_H_

#include <cstddef>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/async_stream.h"
#include "semisync/v1/replication.grpc.pb.h"
#include "server/async_rpc.h"
#include "server/master/binlog.h"
#include "server/master/semi_sync_master.h"
#include "server/master/slave_registry.h"

namespace semisync {

struct BinlogStreamOptions {
  std::string server_uuid;
  absl::Duration heartbeat_period = absl::Seconds(1);
  // Most events / payload bytes in one stream message.
  size_t max_batch_events = 2048;
  size_t max_batch_bytes = 4 << 20;
};

// The generated RequestSubscribeBinlog, bound to its service.
using SubscribeBinlogRequestFn = std::function<void(
    grpc::ServerContext* ctx, v1::SubscribeBinlogRequest* req,
    grpc::ServerAsyncWriter<v1::SubscribeBinlogResponse>* writer,
    grpc::ServerCompletionQueue* cq, void* tag)>;

class BinlogStreamer {
 public:
  BinlogStreamer(const BinlogStreamOptions& options, Binlog* binlog, SemiSyncMaster* semi_sync,
                 SlaveRegistry* slaves);
  ~BinlogStreamer();

  // Serves SubscribeBinlog on `loop` (before BuildAndStart).
  void Register(AsyncRpcLoop* loop, SubscribeBinlogRequestFn request);
  // Committer role (the committer thread, or an rpc thread leading an idle insert; one at a
  // time): `events` (consecutive positions) were just written to the binlog: made
  // durable, or (an idle master overlapping its fsync with the slaves') about to be, in which
  // case OnDurable follows the fsync. Each message tells the slave the durable end
  // (SubscribeBinlogResponse.durable_position); a slave applies nothing past it.
  // `durable`: false when the group is handed over ahead of its fsync (only streams whose slave
  // declared accepts_events_ahead_of_fsync take it then).
  void OnFlushed(const std::vector<v1::BinlogEvent>& events, bool durable);
  // Committer thread: the binlog's durable end moved past events sent ahead of the fsync; streams
  // that have not said so yet send a heartbeat with it.
  void OnDurable();
  // Ends every open stream with UNAVAILABLE; streams opened later are refused.
  void Shutdown();
  // After the gRPC server has shut down and before the loop drains: waits until every stream's
  // call has finished and been released (a call still finishing during the drain would start an
  // operation on a shut-down queue). False if some remain after `timeout`.
  bool WaitUntilEnded(absl::Duration timeout);

  // Events a caught-up stream may hold in memory while its previous write is in flight.
  static constexpr size_t kMaxTailEvents = 16384;

 private:
  class Call;
  void Add(Call* call);
  void Remove(Call* call);
  bool shut_down() const;

  const BinlogStreamOptions options_;
  Binlog* const binlog_;
  SemiSyncMaster* const semi_sync_;
  SlaveRegistry* const slaves_;
  AsyncRpcLoop* loop_ = nullptr;
  SubscribeBinlogRequestFn request_;

  mutable absl::Mutex mu_;
  std::set<Call*> calls_ ABSL_GUARDED_BY(mu_);
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

// Validates a slave id: 1-64 characters of [A-Za-z0-9_.-].
bool IsValidSlaveId(const std::string& id);

}  // namespace semisync

#endif  // SEMISYNC_SERVER_MASTER_BINLOG_STREAM_H_
