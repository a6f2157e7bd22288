// Slave's receiver ("IO thread"): registers with the master, streams its binlog into the relay
// log, makes it durable and acknowledges it, and reconnects with exponential backoff.
//
// The stream runs on gRPC's completion-queue API on this one thread, so a message costs no
// hand-off between threads (each costs 15-30 µs on a small VM): read a message and append it;
// while more messages have already arrived, append them too; then one fsync covers them all
// (group commit), the durable position is published to the applier, and an Ack for it is sent
// on the same queue without waiting for the answer. Up to kMaxAcksInFlight Acks may be in flight,
// so a group made durable while an earlier Ack is still travelling is acknowledged at once rather
// than one Ack round trip later; when the limit is reached, the next Ack to return makes room for
// one carrying the newest durable position.
#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/posix_file.h"
#include "glog/logging.h"
#include "common/status_macros.h"
#include "grpc/support/time.h"
#include "grpcpp/client_context.h"
#include "grpcpp/completion_queue.h"
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
      ConfirmIfMasterLostLocked();
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
  bool last_unconfirmed = false;
  auto ctx = std::make_shared<grpc::ClientContext>();
  {
    absl::MutexLock lock(&mu_);
    if (stop_io_) return absl::CancelledError("stopping");
    last = std::max(relay_->LastPosition(), applied_.applied_position);
    last_unconfirmed = last > confirmed_position_;
    // Our master answers: it is not gone (apply_unconfirmed_after), even if it then refuses.
    last_message_ = absl::Now();
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
  sub_req.set_accepts_events_ahead_of_fsync(true);
  sub_req.set_after_event_unconfirmed(last_unconfirmed);
  if (absl::Status s = IdentifyLastEvent(last, &sub_req); !s.ok()) {
    absl::MutexLock lock(&mu_);
    call_ctx_.reset();
    streaming_ = false;
    registered_ = false;
    *fatal = s;
    return s;
  }
  absl::Status result;
  grpc::Status fs = Stream(ctx.get(), sub_req, &last, progress, fatal, &result);
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
  if (fs.error_code() == grpc::StatusCode::ABORTED) {
    RETURN_IF_ERROR(DropUnconfirmedEvents(fs));
    *progress = true;  // subscribe again at once, after the events kept
    return absl::UnavailableError(absl::StrCat(
        "master ", master, " does not have the relay log's last events durably (",
        fs.error_message(), "); dropped them, subscribing again"));
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

void Slave::ConfirmIfMasterLostLocked() {
  if (confirmed_position_ >= received_position_) return;
  if (absl::Now() - last_message_ < options_.apply_unconfirmed_after) return;
  LOG(WARNING) << Who() << "nothing from master " << options_.master_address << " for "
               << absl::Now() - last_message_ << ": applying relay log positions "
               << confirmed_position_ + 1 << ".." << received_position_
               << " although the master never reported them durable (they may be acknowledged "
               << "writes); a master that comes back without them will be reported as diverged";
  confirmed_position_ = received_position_;
}

absl::Status Slave::ReadRelayEvent(uint64_t position, v1::BinlogEvent* event) const {
  absl::StatusOr<std::unique_ptr<LogReader>> reader = relay_->NewReader(position - 1);
  std::vector<LogRecord> records;
  absl::Status s = reader.status();
  if (s.ok()) s = (*reader)->Read(position, 1, 1 << 20, &records);
  if (s.ok() && (records.size() != 1 || records[0].position != position ||
                 !event->ParseFromString(records[0].payload))) {
    s = absl::DataLossError(absl::StrCat("no valid event at position ", position));
  }
  if (!s.ok()) {
    return absl::InternalError(
        absl::StrCat("cannot read relay log position ", position, ": ", s.message()));
  }
  return absl::OkStatus();
}

absl::Status Slave::IdentifyLastEvent(uint64_t position, v1::SubscribeBinlogRequest* req) {
  if (position == 0) return absl::OkStatus();
  if (relay_->LastPosition() >= position) {
    v1::BinlogEvent e;
    RETURN_IF_ERROR(ReadRelayEvent(position, &e));
    req->set_after_gtid(e.gtid());
    req->set_after_timestamp_us(e.timestamp_us());
    return absl::OkStatus();
  }
  absl::MutexLock lock(&mu_);
  // (A state without the event's timestamp cannot be checked: subscribe without identity.)
  if (applied_.applied_position == position && applied_.applied_timestamp_us != 0) {
    req->set_after_gtid(applied_.applied_gtid);
    req->set_after_timestamp_us(applied_.applied_timestamp_us);
  }
  return absl::OkStatus();
}

absl::Status Slave::DropUnconfirmedEvents(const grpc::Status& refusal) {
  const std::string& master = options_.master_address;
  uint64_t keep = 0;
  GtidSet executed;
  uint64_t applied = 0;
  {
    absl::MutexLock lock(&mu_);
    keep = std::max(confirmed_position_, applied_.applied_position);
    applied = applied_.applied_position;
    absl::StatusOr<GtidSet> parsed = GtidSet::Parse(applied_.executed_gtid_set);
    if (parsed.ok()) executed = *std::move(parsed);
  }
  const uint64_t last = relay_->LastPosition();
  if (last <= keep) {
    return absl::FailedPreconditionError(absl::StrCat(
        "master ", master, " refuses to stream after position ", std::max(last, keep), ": ",
        refusal.error_message(), " (the slave's data diverges from the master's: it must be "
        "re-seeded by an operator)"));
  }
  {
    absl::MutexLock lock(&relay_write_mu_);
    if (absl::Status s = relay_->TruncateAfter(keep); !s.ok()) {
      return absl::InternalError(absl::StrCat("cannot drop the relay log after position ", keep,
                                              ": ", s.message()));
    }
  }
  absl::StatusOr<GtidSet> retrieved = RetrievedGtids(executed, applied);
  if (!retrieved.ok()) {  // the applier moved on and its relay segment was purged: retry
    absl::MutexLock lock(&mu_);
    applied = applied_.applied_position;
    executed = GtidSet::Parse(applied_.executed_gtid_set).value_or(executed);
  }
  if (!retrieved.ok()) retrieved = RetrievedGtids(executed, applied);
  if (!retrieved.ok()) {
    LOG(WARNING) << Who() << "retrieved GTID set not recomputed after the drop: "
                 << retrieved.status();
  }
  LOG(WARNING) << Who() << "dropped relay log positions " << keep + 1 << ".." << last
               << ": master " << master << " never reported them durable and does not have "
               << "them now (" << refusal.error_message() << ")";
  absl::MutexLock lock(&mu_);
  received_position_ = std::max(relay_->LastPosition(), applied_.applied_position);
  acked_received_ = std::min(acked_received_, received_position_);
  ++relay_truncations_;
  if (retrieved.ok()) retrieved_ = *std::move(retrieved);
  return absl::OkStatus();
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
void Slave::DurableLocked(uint64_t durable) {
  if (durable > received_position_ + 1) grouped_since_batch_ = true;
  received_position_ = std::max(received_position_, durable);
}

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
    bool serialized = false;
    if (msg.durable_position() != 0 && e.position() > msg.durable_position()) {
      // Ahead of the master's fsync: a restarted slave must know this event is unconfirmed.
      v1::BinlogEvent marked = e;
      marked.set_relay_master_durable_position(msg.durable_position());
      serialized = marked.SerializeToString(&r.payload);
    } else {
      serialized = e.SerializeToString(&r.payload);
    }
    if (!serialized) {
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

namespace {

// What a completion on the stream's queue is for.
// An Ack's completion carries its AckCall (a pointer, never one of these small values).
enum class StreamTag : intptr_t { kStart = 1, kRead, kFinish, kAck };
void* ToTag(StreamTag t) { return reinterpret_cast<void*>(static_cast<intptr_t>(t)); }
StreamTag FromTag(void* tag) {
  const intptr_t v = reinterpret_cast<intptr_t>(tag);
  return v < static_cast<intptr_t>(StreamTag::kAck) ? static_cast<StreamTag>(v) : StreamTag::kAck;
}

constexpr size_t kMaxAcksInFlight = 4;

}  // namespace

// One Ack call in flight on the stream's queue.
struct Slave::AckCall {
  grpc::ClientContext ctx;
  v1::AckRequest req;
  uint64_t truncations = 0;  // relay_truncations_ when built
  v1::AckResponse resp;
  grpc::Status status;
  std::unique_ptr<grpc::ClientAsyncResponseReader<v1::AckResponse>> rpc;
};

grpc::Status Slave::Stream(grpc::ClientContext* ctx, const v1::SubscribeBinlogRequest& req,
                           uint64_t* last, bool* progress, absl::Status* fatal,
                           absl::Status* result) {
  grpc::CompletionQueue cq;
  std::unique_ptr<grpc::ClientAsyncReader<v1::SubscribeBinlogResponse>> reader =
      stub_->PrepareAsyncSubscribeBinlog(ctx, req, &cq);
  reader->StartCall(ToTag(StreamTag::kStart));
  v1::SubscribeBinlogResponse msg;
  bool read_pending = true;  // the StartCall, then always one Read, until the stream ends
  bool stopping = false;     // an error of ours: no more reads
  bool unsynced = false;     // appended to the relay log, not yet fsynced
  size_t unsynced_bytes = 0;
  // After a message the master sent ahead of its own fsync (which it does only when idle), the
  // next Read is posted after the fsync and its Ack rather than before: posting a Read makes
  // gRPC send flow-control window updates at once, which would go out ahead of the fsync, on the
  // write's path. Under load (messages sent after the master's fsync) the Read is posted at once,
  // so that messages already arrived share the fsync.
  bool read_deferred = false;  // a Read to post after the next fsync
  // A group commit covers at most this much, so that a long catch-up (messages always waiting)
  // still syncs and acks as it goes.
  constexpr size_t kMaxUnsyncedBytes = 8 << 20;
  std::vector<std::unique_ptr<AckCall>> acks;  // in flight
  uint64_t ack_sent = 0;  // the highest durable position an Ack of this stream carried
  auto cancel_acks = [&] {
    for (const auto& a : acks) a->ctx.TryCancel();
  };

  // Sends an Ack of the durable position if it moved since the last one sent and there is room
  // in flight (otherwise the next returning Ack makes room and comes back here).
  auto send_ack = [&] {
    if (acks.size() >= kMaxAcksInFlight || stopping) return;
    auto call = std::make_unique<AckCall>();
    {
      absl::MutexLock lock(&mu_);
      if (stop_io_ || !registered_ ||
          received_position_ <= std::max(acked_received_, ack_sent)) {
        return;
      }
      call->req = AckRequestLocked();
      call->truncations = relay_truncations_;
    }
    ack_sent = call->req.received_position();
    call->ctx.set_deadline(absl::ToChronoTime(absl::Now() + options_.rpc_timeout));
    call->rpc = stub_->PrepareAsyncAck(&call->ctx, call->req, &cq);
    call->rpc->StartCall();
    call->rpc->Finish(&call->resp, &call->status, call.get());
    acks.push_back(std::move(call));
  };
  // One fsync for everything appended so far, then publish and acknowledge it.
  auto sync = [&] {
    unsynced = false;
    unsynced_bytes = 0;
    if (absl::Status s = relay_->Sync(); !s.ok()) {
      *fatal = absl::InternalError(absl::StrCat("relay log fsync failed: ", s.message()));
      stopping = true;
      ctx->TryCancel();
      if (read_deferred) {  // no Read is pending: nothing more will come from the stream
        read_deferred = false;
        read_pending = false;
        cancel_acks();
      }
      return;
    }
    {
      absl::MutexLock lock(&mu_);
      DurableLocked(relay_->DurablePosition());
    }
    send_ack();
    if (read_deferred) {
      read_deferred = false;
      reader->Read(&msg, ToTag(StreamTag::kRead));
    }
  };

  while (read_pending || !acks.empty()) {
    void* tag = nullptr;
    bool ok = false;
    // With the next Read deferred nothing more can arrive before the fsync: no polling first
    // (it would read and handle the heartbeat or an Ack's answer ahead of the fsync).
    if (unsynced && (read_deferred || unsynced_bytes >= kMaxUnsyncedBytes)) {
      sync();
      continue;
    }
    if (unsynced) {
      // Take whatever has already arrived before paying for an fsync.
      grpc::CompletionQueue::NextStatus st =
          cq.AsyncNext(&tag, &ok, gpr_time_0(GPR_CLOCK_MONOTONIC));
      if (st == grpc::CompletionQueue::TIMEOUT) {
        sync();
        continue;
      }
      if (st == grpc::CompletionQueue::SHUTDOWN) break;
    } else if (!cq.Next(&tag, &ok)) {
      break;
    }
    switch (FromTag(tag)) {
      case StreamTag::kStart:
      case StreamTag::kRead: {
        if (!ok) {  // the stream ended (or failed to start); Finish tells why
          read_pending = false;
          cancel_acks();
          break;
        }
        if (FromTag(tag) == StreamTag::kRead) {
          *progress = true;
          if (absl::Status s = OnStreamMessage(msg, last); !s.ok()) {
            if (absl::IsDataLoss(s)) {
              *result = s;  // the stream is wrong, not our log: reconnect
            } else {
              *fatal = s;
            }
            stopping = true;
            ctx->TryCancel();
          } else if (msg.events_size() > 0) {
            unsynced = true;
            unsynced_bytes += msg.ByteSizeLong();
            read_deferred = msg.durable_position() != 0 &&
                            msg.events(msg.events_size() - 1).position() > msg.durable_position();
          }
        }
        if (stopping) {
          read_pending = false;
          cancel_acks();
        } else if (!read_deferred) {
          reader->Read(&msg, ToTag(StreamTag::kRead));
        }
        break;
      }
      case StreamTag::kAck: {
        auto it = std::find_if(acks.begin(), acks.end(),
                               [tag](const auto& a) { return a.get() == tag; });
        CHECK(it != acks.end()) << "completion of an unknown Ack";
        std::unique_ptr<AckCall> done = std::move(*it);
        acks.erase(it);
        absl::MutexLock lock(&mu_);
        if (done->status.ok()) {
          AckedLocked(done->req, done->resp, done->truncations);
        } else {
          force_ack_ = true;  // the acker retries
          VLOG(1) << Who() << "ack failed: " << done->status.error_message();
        }
        break;
      }
      case StreamTag::kFinish:
        break;
    }
    if (!unsynced && read_pending) send_ack();
  }
  // What was appended but not yet fsynced is made durable (it is in the relay log either way).
  if (unsynced && fatal->ok()) {
    stopping = true;  // no Ack: the stream is gone
    if (absl::Status s = relay_->Sync(); s.ok()) {
      absl::MutexLock lock(&mu_);
      DurableLocked(relay_->DurablePosition());
    } else {
      *fatal = absl::InternalError(absl::StrCat("relay log fsync failed: ", s.message()));
    }
  }
  grpc::Status status;
  reader->Finish(&status, ToTag(StreamTag::kFinish));
  cq.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (cq.Next(&tag, &ok)) {
  }
  return status;
}

// Checks and appends one stream message; updates the receiver's state. DataLoss: the stream is
// not consecutive; any other error: the relay log failed.
absl::Status Slave::OnStreamMessage(const v1::SubscribeBinlogResponse& msg, uint64_t* last) {
  if (msg.events_size() > 0) {
    RETURN_IF_ERROR(AppendToRelayLog(msg, *last + 1));
    *last = msg.events(msg.events_size() - 1).position();
  }
  absl::MutexLock lock(&mu_);
  last_heard_ = absl::Now();
  last_message_ = last_heard_;
  // What the master reports durable in its binlog (a master that sends only durable events
  // leaves durable_position 0), as far as this stream has brought events.
  uint64_t durable = msg.durable_position();
  if (msg.events_size() > 0 && durable == 0) durable = *last;
  if (msg.has_heartbeat()) durable = std::max(durable, msg.heartbeat().binlog_end_position());
  confirmed_position_ = std::max(confirmed_position_, std::min(durable, *last));
  if (msg.events_size() > 0) {
    master_end_ = std::max(master_end_, *last);
    for (const v1::BinlogEvent& e : msg.events()) {
      absl::StatusOr<Gtid> gtid = Gtid::Parse(e.gtid());
      if (gtid.ok()) retrieved_.Add(*gtid);
    }
    VLOG(2) << Who() << "received " << msg.events_size() << " events up to " << *last;
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
    LOG(INFO) << Who() << "connected to master " << options_.master_address;
  }
  return absl::OkStatus();
}

}  // namespace semisync
