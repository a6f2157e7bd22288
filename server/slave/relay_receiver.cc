// Slave's receiver ("IO thread"): registers with the master, streams its binlog into the relay
// log and reconnects with exponential backoff; and the relay syncer, which makes what the
// receiver wrote durable (one fsync for every message that arrived meanwhile).
#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/posix_file.h"
#include "glog/logging.h"
#include "grpcpp/client_context.h"
#include "server/slave/slave.h"

namespace semisync {

void Slave::ReceiverLoop() {
  absl::Duration backoff = options_.reconnect_backoff_min;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stop_io_) break;
    }
    bool progress = false;
    absl::Status fatal;
    absl::Status s = ReceiveOnce(&progress, &fatal);
    bool stopping = false;
    {
      absl::MutexLock lock(&mu_);
      connected_ = false;
      streaming_ = false;
      registered_ = false;
      stopping = stop_io_;
      if (!fatal.ok()) {
        last_io_error_ = std::string(fatal.message());
        io_running_ = false;
      } else if (!stopping && !s.ok()) {
        last_io_error_ = std::string(s.message());
      }
    }
    if (!fatal.ok()) {
      LOG(ERROR) << Who() << "receiver stopped: " << fatal.message();
      return;
    }
    if (stopping) break;
    if (progress) backoff = options_.reconnect_backoff_min;
    LOG(WARNING) << Who() << s.message() << "; reconnecting in " << backoff;
    if (!SleepUnlessIoStopped(backoff)) break;
    backoff = std::min(backoff * 2, options_.reconnect_backoff_max);
  }
  VLOG(1) << Who() << "receiver exiting";
}

absl::Status Slave::ReceiveOnce(bool* progress, absl::Status* fatal) {
  const std::string& master = options_.master_address;
  // 1. Register.
  v1::RegisterSlaveRequest reg_req;
  auto reg_ctx = std::make_shared<grpc::ClientContext>();
  reg_ctx->set_deadline(absl::ToChronoTime(absl::Now() + options_.rpc_timeout));
  {
    absl::MutexLock lock(&mu_);
    if (stop_io_) return absl::CancelledError("stopping");
    call_ctx_ = reg_ctx;
    reg_req.set_address(advertise_address_);
  }
  reg_req.set_slave_id(options_.slave_id);
  reg_req.set_semi_sync(options_.semi_sync);
  v1::RegisterSlaveResponse reg_resp;
  grpc::Status gs = stub_->RegisterSlave(reg_ctx.get(), reg_req, &reg_resp);
  {
    absl::MutexLock lock(&mu_);
    call_ctx_.reset();
  }
  if (!gs.ok()) {
    return absl::UnavailableError(absl::StrCat("cannot register with master ", master, ": ",
                                               gs.error_message(), " (code ", gs.error_code(),
                                               ")"));
  }
  if (absl::Status s = CheckMasterUuid(reg_resp.master_uuid()); !s.ok()) return s;

  // 2. Subscribe after the last position held (relay log, or the database when the relay log
  //    was recreated empty).
  uint64_t last = 0;
  auto ctx = std::make_shared<grpc::ClientContext>();
  {
    absl::MutexLock lock(&mu_);
    if (stop_io_) return absl::CancelledError("stopping");
    last = std::max(relay_->LastPosition(), applied_.applied_position);
    master_end_ = reg_resp.binlog_end_position();
    registered_ = true;
    call_ctx_ = ctx;
    streaming_ = true;
    stream_timed_out_ = false;
    last_heard_ = absl::Now();
  }
  LOG(INFO) << Who() << "registered with master " << master << " (uuid " << reg_resp.master_uuid()
            << ", binlog end " << reg_resp.binlog_end_position() << "); streaming after position "
            << last;
  v1::SubscribeBinlogRequest sub_req;
  sub_req.set_slave_id(options_.slave_id);
  sub_req.set_after_position(last);
  std::unique_ptr<grpc::ClientReader<v1::SubscribeBinlogResponse>> reader =
      stub_->SubscribeBinlog(ctx.get(), sub_req);

  absl::Status result;
  v1::SubscribeBinlogResponse msg;
  while (reader->Read(&msg)) {
    *progress = true;
    if (msg.events_size() > 0) {
      if (absl::Status s = AppendToRelayLog(msg, last + 1); !s.ok()) {
        if (absl::IsDataLoss(s)) {
          result = s;  // the stream is wrong, not our log: reconnect
        } else {
          *fatal = s;
        }
        break;
      }
      last = msg.events(msg.events_size() - 1).position();
    }
    absl::MutexLock lock(&mu_);
    last_heard_ = absl::Now();
    if (msg.events_size() > 0) {
      appended_position_ = last;
      master_end_ = std::max(master_end_, last);
      for (const v1::BinlogEvent& e : msg.events()) {
        absl::StatusOr<Gtid> gtid = Gtid::Parse(e.gtid());
        if (gtid.ok()) retrieved_.Add(*gtid);
      }
      VLOG(2) << Who() << "received " << msg.events_size() << " events up to " << last;
    }
    if (msg.has_heartbeat()) {
      master_end_ = std::max(master_end_, msg.heartbeat().binlog_end_position());
      VLOG(3) << Who() << "heartbeat, master end " << msg.heartbeat().binlog_end_position();
    }
    if (!connected_) {
      connected_ = true;
      // Tell the (possibly restarted) master where we are, now that it has our stream (an ack
      // before that is ignored by its semi-sync tracking).
      force_ack_ = true;
      last_io_error_.clear();
      LOG(INFO) << Who() << "connected to master " << master;
    }
  }
  if (!result.ok() || !fatal->ok()) ctx->TryCancel();
  grpc::Status fs = reader->Finish();
  bool timed_out = false;
  {
    absl::MutexLock lock(&mu_);
    call_ctx_.reset();
    streaming_ = false;
    connected_ = false;
    registered_ = false;
    timed_out = stream_timed_out_;
  }
  if (!fatal->ok()) return *fatal;
  if (!result.ok()) return result;
  if (timed_out) {
    return absl::UnavailableError(
        absl::StrCat("no event or heartbeat from master ", master, " for ",
                     absl::FormatDuration(options_.heartbeat_timeout), "; link declared dead"));
  }
  if (fs.ok()) {
    return absl::UnavailableError(absl::StrCat("master ", master, " ended the binlog stream"));
  }
  if (fs.error_code() == grpc::StatusCode::OUT_OF_RANGE) {
    return absl::OutOfRangeError(absl::StrCat(
        "master ", master, " cannot stream after position ", last, ": ", fs.error_message(),
        " (purged from its binlog; the slave must be re-seeded by an operator)"));
  }
  return absl::UnavailableError(absl::StrCat("binlog stream from master ", master,
                                             " failed: ", fs.error_message(), " (code ",
                                             fs.error_code(), ")"));
}

absl::Status Slave::CheckMasterUuid(const std::string& uuid) {
  const std::string& master = options_.master_address;
  if (uuid.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("master ", master, " did not report its uuid"));
  }
  std::string stored;
  {
    absl::MutexLock lock(&mu_);
    stored = master_uuid_;
  }
  if (stored == uuid) return absl::OkStatus();
  if (!stored.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "master ", master, " has uuid ", uuid, " but this slave replicates master ", stored,
        " (", options_.data_dir, "/master_uuid); refusing to mix two masters' positions: "
        "reset the slave's data to switch masters"));
  }
  if (absl::Status s = WriteFileDurably(options_.data_dir + "/master_uuid", uuid + "\n");
      !s.ok()) {
    return absl::InternalError(absl::StrCat("cannot record the master's uuid: ", s.message()));
  }
  LOG(INFO) << Who() << "replicating master uuid " << uuid;
  absl::MutexLock lock(&mu_);
  master_uuid_ = uuid;
  return absl::OkStatus();
}

// Checks that `msg` continues the relay log at `expected_first` and appends it (the relay syncer
// makes it durable).
// DataLoss: the stream is not consecutive. Any other error: the relay log failed (fatal).
absl::Status Slave::AppendToRelayLog(const v1::SubscribeBinlogResponse& msg,
                                     uint64_t expected_first) {
  std::vector<LogRecord> records;
  records.reserve(msg.events_size());
  uint64_t expected = expected_first;
  for (const v1::BinlogEvent& e : msg.events()) {
    if (e.position() != expected) {
      return absl::DataLossError(absl::StrCat("gap in the binlog stream from master ",
                                              options_.master_address, ": expected position ",
                                              expected, ", got ", e.position()));
    }
    LogRecord r;
    r.position = e.position();
    if (!e.SerializeToString(&r.payload)) {
      return absl::DataLossError(absl::StrCat("cannot serialize event ", e.position()));
    }
    records.push_back(std::move(r));
    ++expected;
  }
  absl::MutexLock lock(&relay_write_mu_);
  absl::Status s = relay_->Append(records);
  if (!s.ok()) {
    return absl::InternalError(absl::StrCat("relay log write failed: ", s.message()));
  }
  return absl::OkStatus();
}

void Slave::RelaySyncerLoop() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto pending = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stop_io_ || appended_position_ > received_position_;
      };
      mu_.Await(absl::Condition(&pending));
      // On stop, still make durable what was appended, then exit.
      if (appended_position_ <= received_position_) break;
    }
    absl::Status s = relay_->Sync();
    absl::MutexLock lock(&mu_);
    if (!s.ok()) {
      last_io_error_ = absl::StrCat("relay log fsync failed: ", s.message());
      LOG(ERROR) << Who() << "receiver stopped: " << last_io_error_;
      io_running_ = false;
      stop_io_ = true;
      if (call_ctx_) call_ctx_->TryCancel();
      break;
    }
    received_position_ = std::max(received_position_, relay_->DurablePosition());
  }
  VLOG(1) << Who() << "relay syncer exiting";
}

}  // namespace semisync
