// Master assembly and crash recovery (see master.h).
#include "server/master/master.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/gtid.h"
#include "common/posix_file.h"
#include "common/status_macros.h"
#include "glog/logging.h"
#include "server/process_util.h"

namespace semisync {

absl::StatusOr<std::string> LoadOrCreateServerUuid(const std::string& data_dir) {
  const std::string path = data_dir + "/server_uuid";
  std::ifstream in(path);
  if (in) {
    std::stringstream ss;
    ss << in.rdbuf();
    std::string uuid(absl::StripAsciiWhitespace(ss.str()));
    if (!IsValidUuid(uuid)) {
      return absl::DataLossError(absl::StrCat(path, " does not hold a valid uuid: '", uuid, "'"));
    }
    return uuid;
  }
  std::string uuid = NewUuid();
  RETURN_IF_ERROR(WriteFileDurably(path, uuid + "\n"));
  return uuid;
}

absl::StatusOr<std::unique_ptr<Master>> Master::Open(const MasterOptions& options) {
  std::unique_ptr<Master> m(new Master());
  m->options_ = options;
  RETURN_IF_ERROR(MakeDirs(options.data_dir));
  ASSIGN_OR_RETURN(m->uuid_, LoadOrCreateServerUuid(options.data_dir));

  LogOptions log_options;
  log_options.dir = options.data_dir + "/binlog";
  log_options.prefix = "binlog";
  log_options.segment_bytes = options.binlog_segment_bytes;
  ASSIGN_OR_RETURN(m->binlog_, Binlog::Open(log_options));

  StorageOptions storage_options;
  storage_options.connection =
      options.db.empty() ? absl::StrCat("sqlite3://db=", options.data_dir, "/master.db")
                         : options.db;
  storage_options.read_sessions = options.read_sessions;
  storage_options.sync_commits = false;  // the binlog is the truth; recovery re-applies it
  ASSIGN_OR_RETURN(m->storage_, Storage::Open(storage_options));

  RETURN_IF_ERROR(m->Recover());

  ASSIGN_OR_RETURN(int64_t max_id, m->storage_->MaxRecordId());
  m->semi_sync_ = std::make_unique<SemiSyncMaster>(options.semi_sync, RealClock());
  m->semi_sync_->OnBinlogFlushed(m->binlog_->EndPosition());

  ReplicationServiceOptions repl_options;
  repl_options.server_uuid = m->uuid_;
  repl_options.heartbeat_period = options.heartbeat_period;
  Master* raw = m.get();
  m->replication_service_ = std::make_unique<ReplicationServiceImpl>(
      repl_options, m->binlog_.get(), m->semi_sync_.get(), &m->slaves_,
      [raw] { return raw->Status(); });

  CommitPipelineOptions pipeline_options;
  pipeline_options.server_uuid = m->uuid_;
  pipeline_options.binlog_retention_bytes = options.binlog_retention_bytes;
  pipeline_options.binlog_retention_age = options.binlog_retention_age;
  pipeline_options.purge_check_interval = options.binlog_purge_check_interval;
  ReplicationServiceImpl* repl = m->replication_service_.get();
  pipeline_options.on_flushed = [repl](const std::vector<v1::BinlogEvent>& events,
                                        bool durable) { repl->OnFlushed(events, durable); };
  pipeline_options.on_durable = [repl] { repl->OnDurable(); };
  pipeline_options.send_before_fsync_when_idle = options.send_before_fsync_when_idle;
  pipeline_options.submitter_sends_idle_insert = options.rpc_thread_sends_idle_insert;
  m->pipeline_ = std::make_unique<CommitPipeline>(pipeline_options, m->binlog_.get(),
                                                  m->storage_.get(), m->semi_sync_.get(),
                                                  std::max<int64_t>(max_id, m->max_binlog_id_) + 1);
  m->pipeline_->Start();

  m->records_service_ =
      std::make_unique<RecordsServiceImpl>(m->storage_.get(), m->pipeline_.get(), nullptr);
  LOG(INFO) << "master " << m->uuid_ << ": ready; binlog end position "
            << m->binlog_->EndPosition() << ", semi-sync "
            << (options.semi_sync.enabled ? "enabled" : "disabled") << " ("
            << WaitPointName(options.semi_sync.wait_point) << ", wait for "
            << options.semi_sync.wait_for_slave_count << " slave(s), timeout "
            << absl::FormatDuration(options.semi_sync.timeout) << ")";
  return m;
}

absl::Status Master::Recover() {
  ASSIGN_OR_RETURN(ReplState state, storage_->GetReplState());
  const uint64_t end = binlog_->EndPosition();
  if (state.applied_position > end) {
    return absl::DataLossError(absl::StrCat(
        "the database has applied binlog position ", state.applied_position,
        " but the binlog in ", options_.data_dir, "/binlog ends at ", end,
        ": the binlog was lost or belongs to another database"));
  }
  uint64_t pos = state.applied_position;
  if (pos == end) return absl::OkStatus();
  LOG(INFO) << "master " << uuid_ << ": recovery re-applies binlog positions " << pos + 1 << ".."
            << end << " to the database";
  ASSIGN_OR_RETURN(std::unique_ptr<BinlogReader> reader, binlog_->NewReader(pos));
  std::vector<v1::BinlogEvent> events;
  while (pos < end) {
    events.clear();
    RETURN_IF_ERROR(reader->Read(end, 1000, 16 << 20, &events));
    if (events.empty()) {
      return absl::DataLossError(absl::StrCat("binlog ends early at position ", pos,
                                              " during recovery (expected ", end, ")"));
    }
    for (const auto& e : events) {
      if (e.op() == v1::ROW_OP_INSERT) max_binlog_id_ = std::max(max_binlog_id_, e.record().id());
    }
    const v1::BinlogEvent& last = events.back();
    ReplState next;
    next.applied_position = last.position();
    next.applied_gtid = last.gtid();
    next.applied_timestamp_us = last.timestamp_us();
    next.executed_gtid_set = ExecutedGtidSet(uuid_, last.position());
    RETURN_IF_ERROR(storage_->ApplyBatch(events, next));
    pos = last.position();
  }
  LOG(INFO) << "master " << uuid_ << ": recovery done at position " << pos;
  return absl::OkStatus();
}

v1::MasterStatus Master::Status() const {
  v1::MasterStatus s;
  s.set_role("master");
  s.set_server_uuid(uuid_);
  const uint64_t end = binlog_->EndPosition();
  s.set_binlog_end_position(end);
  s.set_executed_gtid_set(ExecutedGtidSet(uuid_, end));
  s.set_oldest_position(binlog_->OldestPosition());
  s.set_binlog_bytes(binlog_->TotalBytes());
  s.set_applied_position(pipeline_->CommittedPosition());
  const SemiSyncOptions& o = semi_sync_->options();
  v1::SemiSyncConfig* c = s.mutable_semi_sync_config();
  c->set_enabled(o.enabled);
  c->set_timeout_ms(absl::ToInt64Milliseconds(o.timeout));
  c->set_wait_for_slave_count(o.wait_for_slave_count);
  c->set_wait_no_slave(o.wait_no_slave);
  c->set_wait_point(WaitPointName(o.wait_point));
  SemiSyncCountersSnapshot k = semi_sync_->Counters();
  v1::SemiSyncCounters* p = s.mutable_semi_sync();
  p->set_clients(k.clients);
  p->set_status(k.status);
  p->set_yes_tx(k.yes_tx);
  p->set_no_tx(k.no_tx);
  p->set_no_times(k.no_times);
  p->set_wait_sessions(k.wait_sessions);
  p->set_tx_waits(k.tx_waits);
  p->set_tx_wait_time_us(k.tx_wait_time_us);
  p->set_tx_avg_wait_time_us(k.tx_avg_wait_time_us);
  p->set_net_waits(k.net_waits);
  p->set_net_wait_time_us(k.net_wait_time_us);
  p->set_net_avg_wait_time_us(k.net_avg_wait_time_us);
  p->set_wait_pos_backtraverse(k.wait_pos_backtraverse);
  for (auto& info : slaves_.Snapshot(end, absl::Now())) *s.add_slaves() = std::move(info);
  return s;
}

void Master::RegisterServices(grpc::ServerBuilder* builder, AsyncRpcLoop* loop,
                              WorkerPool* read_pool) {
  records_service_->Register(builder, loop, read_pool);
  replication_service_->Register(builder, loop);
}

const std::string& Master::storage_backend() const { return storage_->backend(); }

void Master::BeginShutdown() {
  LOG(INFO) << "master " << uuid_ << ": shutting down";
  semi_sync_->Shutdown();
  pipeline_->Shutdown();
  replication_service_->Shutdown();
}

void Master::FinishShutdown() {
  pipeline_->Shutdown();
  replication_service_->WaitForStreamsToEnd(absl::Seconds(5));
  absl::Status s = binlog_->Sync();
  if (!s.ok()) LOG(ERROR) << "master " << uuid_ << ": final binlog sync failed: " << s;
  LOG(INFO) << "master " << uuid_ << ": shut down at binlog position " << binlog_->EndPosition();
}

Master::~Master() {
  if (pipeline_) pipeline_->Shutdown();
}

}  // namespace semisync
