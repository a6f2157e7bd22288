// Slave: construction, recovery, thread control, status and the acker/watchdog thread.
// The receiver lives in relay_receiver.cc, the applier in applier.cc.
#include "server/slave/slave.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/thread_name.h"
#include "glog/logging.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "server/process_util.h"

namespace semisync {
namespace {

// Tries to read a small text file; empty when it does not exist.
absl::StatusOr<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return std::string();
    return absl::InternalError(absl::StrCat("open ", path, ": ", strerror(errno)));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

absl::Status RemoveDir(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) return absl::InternalError(absl::StrCat("remove ", path, ": ", ec.message()));
  return absl::OkStatus();
}

}  // namespace

Slave::Slave(const SlaveOptions& options, Storage* storage)
    : options_(options), storage_(storage) {}

absl::StatusOr<std::unique_ptr<Slave>> Slave::Create(const SlaveOptions& options,
                                                     Storage* storage) {
  if (storage == nullptr) return absl::InvalidArgumentError("slave: storage is null");
  if (options.data_dir.empty()) return absl::InvalidArgumentError("slave: data_dir is empty");
  if (options.reconnect_backoff_min <= absl::ZeroDuration() ||
      options.reconnect_backoff_max < options.reconnect_backoff_min) {
    return absl::InvalidArgumentError("slave: need 0 < reconnect_backoff_min <= max");
  }
  if (options.heartbeat_timeout <= absl::ZeroDuration() ||
      options.ack_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("slave: heartbeat_timeout and ack_interval must be > 0");
  }
  std::unique_ptr<Slave> slave(new Slave(options, storage));
  RETURN_IF_ERROR(slave->Init());
  return slave;
}

absl::Status Slave::Init() {
  RETURN_IF_ERROR(MakeDirs(options_.data_dir));
  ASSIGN_OR_RETURN(std::string uuid, ReadSmallFile(options_.data_dir + "/master_uuid"));
  ASSIGN_OR_RETURN(ReplState state, storage_->GetReplState());
  ASSIGN_OR_RETURN(GtidSet executed, GtidSet::Parse(state.executed_gtid_set));

  LogOptions log_options;
  log_options.dir = options_.data_dir + "/relay";
  log_options.prefix = "relay";
  log_options.segment_bytes = options_.relay_log_segment_bytes;
  ASSIGN_OR_RETURN(relay_, SegmentedLog::Open(log_options));
  const uint64_t applied = state.applied_position;
  const uint64_t last = relay_->LastPosition();
  const uint64_t oldest = relay_->OldestPosition();
  // A relay log that ends before the applied position (lost, or from an older copy of the data
  // dir) or starts after it cannot be continued without a gap: start a fresh one at applied + 1.
  if (last < applied || (last != 0 && oldest > applied + 1)) {
    LOG(WARNING) << Who() << "relay log [" << oldest << ", " << last
                 << "] does not continue the applied position " << applied
                 << "; recreating " << log_options.dir;
    relay_.reset();
    RETURN_IF_ERROR(RemoveDir(log_options.dir));
    ASSIGN_OR_RETURN(relay_, SegmentedLog::Open(log_options));
  }

  ASSIGN_OR_RETURN(GtidSet retrieved, RetrievedGtids(executed, applied));
  // The relay log is confirmed (durable on the master) up to its end, unless its last event
  // arrived ahead of the master's fsync: then only up to the durable end the master had then.
  uint64_t confirmed = std::max(relay_->LastPosition(), applied);
  if (relay_->LastPosition() > applied) {
    v1::BinlogEvent last_event;
    RETURN_IF_ERROR(ReadRelayEvent(relay_->LastPosition(), &last_event));
    if (last_event.relay_master_durable_position() != 0) {
      confirmed = std::max(applied, last_event.relay_master_durable_position());
    }
  }

  grpc::ChannelArguments args;
  // The channel's own reconnect backoff must not outlast ours (its default max is 120 s).
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
              static_cast<int>(absl::ToInt64Milliseconds(options_.reconnect_backoff_min)));
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS,
              static_cast<int>(absl::ToInt64Milliseconds(options_.reconnect_backoff_min)));
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
              static_cast<int>(absl::ToInt64Milliseconds(options_.reconnect_backoff_max)));
  // A stream message holds up to the master's batch limit (4 MiB) plus one event (a record of up
  // to 1 MiB): more than gRPC's default 4 MiB receive limit.
  args.SetMaxReceiveMessageSize(64 << 20);
  channel_ = grpc::CreateCustomChannel(options_.master_address,
                                       grpc::InsecureChannelCredentials(), args);
  stub_ = v1::ReplicationService::NewStub(channel_);

  absl::MutexLock lock(&mu_);
  advertise_address_ = options_.advertise_address;
  master_uuid_ = uuid;
  applied_ = state;
  received_position_ = std::max(relay_->LastPosition(), applied);
  // The relay log may end with events the master sent ahead of its fsync and then lost: they
  // are applied once the master (at the next subscription) reports them durable.
  confirmed_position_ = confirmed;
  last_message_ = absl::Now();  // apply_unconfirmed_after counts from the start
  retrieved_ = std::move(retrieved);
  LOG(INFO) << Who() << "opened: applied position " << applied << ", relay log ["
            << relay_->OldestPosition() << ", " << relay_->LastPosition() << "], master "
            << options_.master_address
            << (master_uuid_.empty() ? "" : absl::StrCat(" (uuid ", master_uuid_, ")"));
  return absl::OkStatus();
}

Slave::~Slave() { Shutdown(); }

void Slave::SetAdvertiseAddress(const std::string& address) {
  absl::MutexLock lock(&mu_);
  advertise_address_ = address;
}

absl::Status Slave::StartSync() {
  absl::MutexLock control(&control_mu_);
  if (shut_down_) return absl::FailedPreconditionError("slave is shut down");
  bool start_io = false;
  bool start_sql = false;
  {
    absl::MutexLock lock(&mu_);
    start_io = !io_running_;
    start_sql = !sql_running_;
    // A receiver that stopped by itself (relay log failure) may leave the acker running.
    if (start_io) stop_io_ = true;
    if (start_sql) stop_sql_ = true;
  }
  if (start_io) {
    if (receiver_.joinable()) receiver_.join();
    if (acker_.joinable()) acker_.join();
  }
  if (start_sql) {
    if (applier_.joinable()) applier_.join();
    if (relay_purger_.joinable()) relay_purger_.join();
  }
  {
    absl::MutexLock lock(&mu_);
    if (start_io) {
      stop_io_ = false;
      io_running_ = true;
      last_message_ = absl::Now();  // apply_unconfirmed_after counts from here
      last_io_error_.clear();
    }
    if (start_sql) {
      stop_sql_ = false;
      sql_running_ = true;
      last_sql_error_.clear();
    }
  }
  if (start_io) {
    LOG(INFO) << Who() << "starting receiver (master " << options_.master_address << ")";
    receiver_ = StartNamedThread("relay-receive", [this] { ReceiverLoop(); });
    acker_ = StartNamedThread("acker", [this] { AckerLoop(); });
  }
  if (start_sql) {
    LOG(INFO) << Who() << "starting applier";
    applier_ = StartNamedThread("applier", [this] { ApplierLoop(); });
    relay_purger_ = StartNamedThread("relay-purge", [this] { RelayPurgerLoop(); });
  }
  return absl::OkStatus();
}

absl::Status Slave::StopSync() {
  absl::MutexLock control(&control_mu_);
  std::shared_ptr<grpc::ClientContext> call_ctx;
  std::shared_ptr<grpc::ClientContext> ack_ctx;
  bool was_running = false;
  {
    absl::MutexLock lock(&mu_);
    was_running = io_running_ || sql_running_ || receiver_.joinable() || applier_.joinable();
    stop_io_ = true;
    stop_sql_ = true;
    call_ctx = call_ctx_;
    ack_ctx = ack_ctx_;
  }
  // A context installed after this point sees stop_io_ and is never used.
  if (call_ctx) call_ctx->TryCancel();
  if (ack_ctx) ack_ctx->TryCancel();
  if (receiver_.joinable()) receiver_.join();
  if (acker_.joinable()) acker_.join();
  if (applier_.joinable()) applier_.join();
  if (relay_purger_.joinable()) relay_purger_.join();
  {
    absl::MutexLock lock(&mu_);
    io_running_ = false;
    sql_running_ = false;
    connected_ = false;
    streaming_ = false;
    registered_ = false;
  }
  if (was_running) LOG(INFO) << Who() << "replication stopped";
  return absl::OkStatus();
}

void Slave::Shutdown() {
  {
    absl::MutexLock control(&control_mu_);
    if (shut_down_) return;
  }
  StopSync().IgnoreError();
  absl::MutexLock control(&control_mu_);
  shut_down_ = true;
  if (relay_) {
    absl::MutexLock relay_lock(&relay_write_mu_);
    absl::Status s = relay_->Sync();
    if (!s.ok()) LOG(ERROR) << Who() << "relay log sync at shutdown: " << s;
  }
  LOG(INFO) << Who() << "shut down";
}

absl::StatusOr<GtidSet> Slave::RetrievedGtids(const GtidSet& executed, uint64_t applied) const {
  // Retrieved = executed + what the relay log holds beyond it.
  GtidSet retrieved = executed;
  if (relay_->LastPosition() <= applied) return retrieved;
  ASSIGN_OR_RETURN(std::unique_ptr<LogReader> reader, relay_->NewReader(applied));
  std::vector<LogRecord> records;
  do {
    records.clear();
    RETURN_IF_ERROR(reader->Read(relay_->DurablePosition(), 1000, 4u << 20, &records));
    for (const LogRecord& r : records) {
      v1::BinlogEvent event;
      if (!event.ParseFromString(r.payload)) {
        return absl::DataLossError(
            absl::StrCat("relay log record at position ", r.position, " is not an event"));
      }
      absl::StatusOr<Gtid> gtid = Gtid::Parse(event.gtid());
      if (gtid.ok()) retrieved.Add(*gtid);
    }
  } while (!records.empty());
  return retrieved;
}

v1::SlaveStatus Slave::Status() const {
  v1::SlaveStatus st;
  const uint64_t relay_bytes = relay_ ? relay_->TotalBytes() : 0;
  const absl::Time now = absl::Now();
  absl::MutexLock lock(&mu_);
  st.set_role("slave");
  st.set_slave_id(options_.slave_id);
  st.set_master_address(options_.master_address);
  st.set_master_uuid(master_uuid_);
  st.set_io_running(io_running_);
  st.set_sql_running(sql_running_);
  st.set_connected(connected_);
  st.set_retrieved_position(received_position_);
  st.set_retrieved_gtid_set(retrieved_.ToString());
  st.set_executed_position(applied_.applied_position);
  st.set_executed_gtid_set(applied_.executed_gtid_set);
  st.set_master_binlog_end_position(master_end_);
  const uint64_t applied = applied_.applied_position;
  int64_t behind = -1;
  if (connected_ && sql_running_) {
    if (applied >= master_end_) {
      behind = 0;
    } else if (applied_.applied_timestamp_us > 0) {
      behind = std::max<int64_t>(
          0, absl::ToInt64Seconds(now - absl::FromUnixMicros(applied_.applied_timestamp_us)));
    }
  }
  st.set_seconds_behind_master(behind);
  st.set_lag_events(master_end_ > applied ? master_end_ - applied : 0);
  st.set_last_io_error(last_io_error_);
  st.set_last_sql_error(last_sql_error_);
  st.set_apply_errors(apply_errors_);
  st.set_apply_transactions(apply_transactions_);
  st.set_relay_log_bytes(relay_bytes);
  return st;
}

bool Slave::SleepUnlessIoStopped(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&stop_io_), d);
  return !stop_io_;
}

// The acker: acks the received position as soon as it advances, the applied position every
// ack_interval when it changed, and cancels a stream on which nothing arrived for
// heartbeat_timeout.
v1::AckRequest Slave::AckRequestLocked() const {
  v1::AckRequest req;
  req.set_slave_id(options_.slave_id);
  req.set_received_position(received_position_);
  req.set_applied_position(applied_.applied_position);
  req.set_applied_timestamp_us(applied_.applied_timestamp_us);
  return req;
}

void Slave::AckedLocked(const v1::AckRequest& req, const v1::AckResponse& resp,
                        uint64_t truncations) {
  // An Ack sent before the relay log was cut back acknowledged positions held no longer.
  if (truncations == relay_truncations_) {
    acked_received_ = std::max(acked_received_, req.received_position());
  }
  acked_applied_ = req.applied_position();
  master_end_ = std::max(master_end_, resp.binlog_end_position());
}

void Slave::AckerLoop() {
  const absl::Duration tick =
      std::max(absl::Milliseconds(10),
               std::min(options_.ack_interval, options_.heartbeat_timeout / 4));
  absl::Time last_ack_sent = absl::InfinitePast();
  absl::Time last_failure_log = absl::InfinitePast();
  bool backing_off = false;  // the last Ack failed: wait a tick before retrying
  // The receiver acknowledges what it receives; this thread steps in when told to (force_ack_:
  // a failed Ack, a new connection) and on every tick (applied position, anything missed).
  auto wake = [this, &backing_off]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stop_io_ || (!backing_off && connected_ && force_ack_);
  };
  while (true) {
    v1::AckRequest req;
    uint64_t truncations = 0;
    std::shared_ptr<grpc::ClientContext> cancel_stream;
    std::shared_ptr<grpc::ClientContext> ctx;
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&wake), tick);
      if (stop_io_) break;
      backing_off = false;
      const absl::Time now = absl::Now();
      // Watchdog.
      if (streaming_ && !stream_timed_out_ && call_ctx_ &&
          now - last_heard_ > options_.heartbeat_timeout) {
        stream_timed_out_ = true;
        cancel_stream = call_ctx_;
      }
      const bool received_moved = received_position_ > acked_received_ || force_ack_;
      const bool applied_moved = applied_.applied_position != acked_applied_ &&
                                 now - last_ack_sent >= options_.ack_interval;
      // Only once the master has accepted the stream (its first message): an Ack sent before
      // could acknowledge relay events the slave is about to drop on a refusal.
      if (connected_ && (received_moved || applied_moved)) {
        req = AckRequestLocked();
        truncations = relay_truncations_;
        force_ack_ = false;
        ctx = std::make_shared<grpc::ClientContext>();
        ack_ctx_ = ctx;
      }
    }
    if (cancel_stream) {
      LOG(WARNING) << Who() << "nothing from master " << options_.master_address << " for "
                   << options_.heartbeat_timeout << "; dropping the connection";
      cancel_stream->TryCancel();
    }
    if (!ctx) continue;
    ctx->set_deadline(absl::ToChronoTime(absl::Now() + options_.rpc_timeout));
    v1::AckResponse resp;
    grpc::Status s = stub_->Ack(ctx.get(), req, &resp);
    last_ack_sent = absl::Now();
    absl::MutexLock lock(&mu_);
    ack_ctx_.reset();
    if (s.ok()) {
      VLOG(1) << Who() << "acked received " << req.received_position() << " applied "
              << req.applied_position();
      AckedLocked(req, resp, truncations);
    } else {
      backing_off = true;
      if (!stop_io_ && last_ack_sent - last_failure_log >= absl::Seconds(5)) {
        last_failure_log = last_ack_sent;
        LOG(WARNING) << Who() << "ack to master " << options_.master_address << " failed: "
                     << s.error_message() << " (code " << s.error_code() << "); will retry";
      }
      // Make sure the failed positions are sent again.
      force_ack_ = true;
    }
  }
  absl::MutexLock lock(&mu_);
  ack_ctx_.reset();
}

}  // namespace semisync
