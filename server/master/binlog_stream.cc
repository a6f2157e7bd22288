// BinlogStreamer (see binlog_stream.h).
#include "server/master/binlog_stream.h"

#include <algorithm>
#include <deque>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "glog/logging.h"
#include "grpcpp/alarm.h"
#include "server/process_util.h"

namespace semisync {

bool IsValidSlaveId(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == '-';
  });
}

// One SubscribeBinlog call. Its tags run on the loop thread of its queue; OnFlushed and End run
// on other threads; all state is under mu_. It deletes itself once finished and no tag is
// outstanding.
class BinlogStreamer::Call {
 public:
  Call(BinlogStreamer* streamer, grpc::ServerCompletionQueue* cq)
      : streamer_(streamer), cq_(cq), writer_(&ctx_) {
    ctx_.AsyncNotifyWhenDone(&done_tag_);
    streamer_->request_(&ctx_, &req_, &writer_, cq_, &matched_tag_);
  }

  void OnFlushed(const std::vector<v1::BinlogEvent>& events, bool durable) {
    absl::MutexLock lock(&mu_);
    if (!streaming_ || ending_) return;
    // A slave that does not understand durable_position gets the group from the files once it
    // is durable (OnDurable's pump finds the stream behind the durable end).
    if (!durable && !req_.accepts_events_ahead_of_fsync()) return;
    if (!tail_overflow_) {
      uint64_t last = tail_.empty() ? sent_ : tail_.back().position();
      for (const v1::BinlogEvent& e : events) {
        if (e.position() <= last) continue;  // already read from the files
        if (e.position() != last + 1 || tail_.size() >= kMaxTailEvents) {
          // Not contiguous (cannot happen) or too far behind: serve from the files.
          tail_overflow_ = true;
          tail_.clear();
          break;
        }
        tail_.push_back(e);
        last = e.position();
      }
    }
    PumpLocked(/*on_loop=*/false);
  }

  // Committer thread: the binlog is durable up to `end`. Events sent ahead of the fsync become
  // applicable on the slave once it hears so: a heartbeat carries the news when nothing else
  // is on its way.
  void OnDurable() {
    absl::MutexLock lock(&mu_);
    if (!streaming_ || ending_) return;
    PumpLocked(/*on_loop=*/false);
    MaybeConfirmLocked();
  }

  void End(const grpc::Status& status) {
    absl::MutexLock lock(&mu_);
    EndLocked(status);
  }

 private:
  class Tag final : public AsyncTag {
   public:
    Tag(Call* call, void (Call::*fn)(bool)) : call_(call), fn_(fn) {}
    void Proceed(bool ok) override { (call_->*fn_)(ok); }

   private:
    Call* const call_;
    void (Call::*const fn_)(bool);
  };

  void OnMatched(bool ok) {
    if (!ok) {  // the server shut down before a slave called
      delete this;
      return;
    }
    BinlogStreamer* s = streamer_;
    s->loop_->PostNext([s](grpc::ServerCompletionQueue* cq) { new Call(s, cq); }, cq_);
    {
      absl::MutexLock lock(&mu_);
      ++pending_;  // the done tag, now that the call has started
    }
    // Listed before it reads the binlog end: a group flushed from now on either reaches
    // OnFlushed after streaming_ is set, or is already below the end the first read uses.
    // Shutdown reaches it from now on, too.
    s->Add(this);
    absl::StatusOr<std::unique_ptr<BinlogReader>> reader = Start();
    bool gone = false;
    {
      absl::MutexLock lock(&mu_);
      if (!reader.ok()) {
        EndLocked(ToGrpcStatus(reader.status()));
      } else if (!ending_) {
        reader_ = std::move(*reader);
        sent_ = req_.after_position();
        last_sent_ = absl::Now();
        streaming_ = true;
        PumpLocked(/*on_loop=*/true);
        // The first message goes out at once (a heartbeat when there is nothing to send): it
        // tells the slave the stream is open and where the durable binlog ends.
        if (!write_in_flight_ && !ending_) StartHeartbeatLocked();
        ArmLocked(last_sent_ + streamer_->options_.heartbeat_period);
      }
      gone = ReleasableLocked();
    }
    if (gone) Release();
  }

  // Validates the request, registers the slave's stream and returns a reader after its position
  // (or the status to end the call with). Loop thread, before streaming_.
  absl::StatusOr<std::unique_ptr<BinlogReader>> Start() {
    const BinlogStreamOptions& o = streamer_->options_;
    slave_id_ = req_.slave_id();
    if (!IsValidSlaveId(slave_id_)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "slave_id must be 1-64 characters of [A-Za-z0-9_.-], got '", slave_id_, "'"));
    }
    if (streamer_->shut_down()) return absl::UnavailableError("master is shutting down");
    if (absl::Status s = streamer_->slaves_->CheckRegistered(slave_id_); !s.ok()) return s;
    uint64_t end = streamer_->binlog_->EndPosition();
    const bool identity = !req_.after_gtid().empty() || req_.after_timestamp_us() != 0;
    // Events sent ahead of the fsync that is still running: the slave may keep them.
    const bool ahead = req_.after_position() > end && identity &&
                       streamer_->binlog_->IsUnsyncedEvent(req_.after_position(),
                                                           req_.after_timestamp_us());
    // (The fsync may have completed in between: the durable binlog is checked below.)
    if (!ahead) end = streamer_->binlog_->EndPosition();
    if (req_.after_position() > end && identity && !ahead) {
      return absl::AbortedError(absl::StrCat(
          "slave ", slave_id_, " holds events up to position ", req_.after_position(),
          " but the master's binlog is durable only up to ", end,
          ": events sent ahead of the master's fsync and not (or no longer) durable here; the "
          "slave drops them and subscribes again"));
    }
    if (identity && req_.after_position() > 0) RETURN_IF_ERROR(CheckSameEvent(end));
    if (req_.after_position() > end && !ahead) {
      return absl::OutOfRangeError(
          absl::StrCat("slave ", slave_id_, " asks for events after position ",
                       req_.after_position(), " but the master's binlog ends at ", end,
                       ": the slave has data this master never wrote (wrong master?)"));
    }
    absl::StatusOr<std::unique_ptr<BinlogReader>> reader =
        streamer_->binlog_->NewReader(req_.after_position());
    if (!reader.ok()) return reader.status();
    const bool semi = streamer_->slaves_->IsSemiSync(slave_id_);
    streamer_->slaves_->StreamOpened(slave_id_);
    streamer_->semi_sync_->SlaveConnected(slave_id_, semi);
    opened_ = true;
    LOG(INFO) << "master " << o.server_uuid << ": slave " << slave_id_
              << " streaming from position " << req_.after_position();
    return reader;
  }

  // The slave's event at after_position must be this binlog's event there (same gtid and
  // timestamp). An event already purged here is not checked (it was durable long ago), unless
  // the slave says it arrived ahead of the fsync and was never confirmed.
  absl::Status CheckSameEvent(uint64_t end) {
    const uint64_t p = req_.after_position();
    if (p > end) return absl::OkStatus();
    absl::StatusOr<std::vector<v1::BinlogEvent>> mine = streamer_->binlog_->ReadEvents(p - 1, 1);
    if (absl::IsOutOfRange(mine.status())) {
      if (!req_.after_event_unconfirmed()) return absl::OkStatus();
      return absl::AbortedError(absl::StrCat(
          "slave ", slave_id_, " holds an event at position ", p, " that this master never "
          "reported durable, and the master's binlog no longer holds that position (purged), so "
          "it cannot check it: the slave drops it"));
    }
    if (!mine.ok()) return mine.status();
    if (mine->empty() || (*mine)[0].position() != p) {
      return absl::InternalError(absl::StrCat("cannot read binlog position ", p));
    }
    const v1::BinlogEvent& e = (*mine)[0];
    if (e.gtid() == req_.after_gtid() && e.timestamp_us() == req_.after_timestamp_us()) {
      return absl::OkStatus();
    }
    return absl::AbortedError(absl::StrCat(
        "slave ", slave_id_, " holds event ", req_.after_gtid(), " (timestamp ",
        req_.after_timestamp_us(), ") at position ", p, " where this master's binlog has ",
        e.gtid(), " (timestamp ", e.timestamp_us(), "): the slave holds events the master "
        "sent ahead of its fsync and lost; it drops them and subscribes again"));
  }

  // Sets the message's durable position (the binlog's durable end now) and records it as told.
  void SetDurableLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const uint64_t d = streamer_->binlog_->EndPosition();
    msg_.set_durable_position(d);
    told_durable_ = std::max(told_durable_, d);
  }

  void StartHeartbeatLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    msg_.Clear();
    SetDurableLocked();
    msg_.mutable_heartbeat()->set_binlog_end_position(msg_.durable_position());
    msg_.mutable_heartbeat()->set_timestamp_us(absl::ToUnixMicros(absl::Now()));
    StartWriteLocked();
  }

  // Events were sent ahead of the fsync and the slave was not yet told they are durable, and
  // now they are: a heartbeat tells it (when no write is in flight; else after it).
  void MaybeConfirmLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (write_in_flight_ || ending_ || !streaming_ || told_durable_ >= sent_) return;
    if (streamer_->binlog_->EndPosition() <= told_durable_) return;
    StartHeartbeatLocked();
  }

  // Starts the next write if none is in flight: from the in-memory tail when caught up, else
  // (loop thread only) from the binlog files; off the loop, wakes the loop for that.
  void PumpLocked(bool on_loop) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (write_in_flight_ || ending_ || !streaming_) return;
    const BinlogStreamOptions& o = streamer_->options_;
    msg_.Clear();
    // Caught up but behind the durable end: a group sent ahead of its fsync reached this stream
    // while it was still reading the files (and so was not kept), and the files now have it.
    if (!tail_overflow_ && tail_.empty() && sent_ < streamer_->binlog_->EndPosition()) {
      tail_overflow_ = true;
    }
    if (!tail_overflow_) {
      if (tail_.empty()) return;
      size_t bytes = 0;
      while (!tail_.empty() && static_cast<size_t>(msg_.events_size()) < o.max_batch_events &&
             bytes < o.max_batch_bytes) {
        bytes += tail_.front().ByteSizeLong();
        *msg_.add_events() = std::move(tail_.front());
        tail_.pop_front();
      }
      sent_ = msg_.events(msg_.events_size() - 1).position();
      SetDurableLocked();
      StartWriteLocked();
      return;
    }
    if (!on_loop) {
      WakeLoopLocked();
      return;
    }
    const uint64_t end = streamer_->binlog_->EndPosition();
    if (sent_ >= end) {
      tail_overflow_ = false;  // caught up: the committer's groups come from memory again
      tail_.clear();
      return;
    }
    if (reader_->position() != sent_) {
      absl::StatusOr<std::unique_ptr<BinlogReader>> r = streamer_->binlog_->NewReader(sent_);
      if (!r.ok()) return ReadFailedLocked(r.status());
      reader_ = std::move(*r);
    }
    events_.clear();
    if (absl::Status s = reader_->Read(end, o.max_batch_events, o.max_batch_bytes, &events_);
        !s.ok()) {
      return ReadFailedLocked(s);
    }
    if (events_.empty()) return;
    for (v1::BinlogEvent& e : events_) *msg_.add_events() = std::move(e);
    sent_ = msg_.events(msg_.events_size() - 1).position();
    SetDurableLocked();
    if (sent_ >= end) {
      tail_overflow_ = false;
      tail_.clear();
    }
    StartWriteLocked();
  }

  void ReadFailedLocked(const absl::Status& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    LOG(ERROR) << "master " << streamer_->options_.server_uuid << ": binlog read for slave "
               << slave_id_ << " failed: " << s;
    EndLocked(ToGrpcStatus(s));
  }

  void StartWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    write_in_flight_ = true;
    ++pending_;
    last_sent_ = absl::Now();
    writer_.Write(msg_, &write_tag_);
  }

  void OnWriteDone(bool ok) {
    bool gone = false;
    {
      absl::MutexLock lock(&mu_);
      --pending_;
      write_in_flight_ = false;
      // Already ending (Shutdown, the slave went away) or ending now: Finish is due either way;
      // EndLocked alone does nothing when the stream was already ending.
      if (!ok) EndLocked(grpc::Status(grpc::StatusCode::CANCELLED, "stream closed by the slave"));
      if (ending_) {
        FinishLocked();
      } else {
        PumpLocked(/*on_loop=*/true);
        MaybeConfirmLocked();
      }
      gone = ReleasableLocked();
    }
    if (gone) Release();
  }

  // Heartbeat timer and loop wake-ups share one alarm.
  void ArmLocked(absl::Time deadline) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (alarm_armed_ || finish_started_) return;
    alarm_armed_ = true;
    ++pending_;
    alarm_.Set(cq_, absl::ToChronoTime(deadline), &alarm_tag_);
  }
  void WakeLoopLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (alarm_armed_) {
      alarm_.Cancel();  // fires at once
    } else {
      ArmLocked(absl::Now());
    }
  }

  void OnAlarm(bool) {
    bool gone = false;
    {
      absl::MutexLock lock(&mu_);
      --pending_;
      alarm_armed_ = false;
      if (streaming_ && !ending_) {
        PumpLocked(/*on_loop=*/true);
        const absl::Duration period = streamer_->options_.heartbeat_period;
        if (!write_in_flight_ && !ending_ && absl::Now() - last_sent_ >= period) {
          StartHeartbeatLocked();
        }
        // Next heartbeat check; never in the past (a write may be in flight for long).
        const absl::Time now = absl::Now();
        if (!ending_) ArmLocked(std::max(last_sent_ + period, now + period / 4));
      }
      gone = ReleasableLocked();
    }
    if (gone) Release();
  }

  void OnDone(bool) {
    bool gone = false;
    {
      absl::MutexLock lock(&mu_);
      --pending_;
      done_ = true;
      if (!finish_started_) EndLocked(grpc::Status(grpc::StatusCode::CANCELLED, "slave went away"));
      if (alarm_armed_) alarm_.Cancel();
      gone = ReleasableLocked();
    }
    if (gone) Release();
  }

  void OnFinished(bool) {
    bool gone = false;
    {
      absl::MutexLock lock(&mu_);
      --pending_;
      finished_ = true;
      gone = ReleasableLocked();
    }
    if (gone) Release();
  }

  // Ends the stream with `status` (first caller wins): at once, or after the write in flight.
  void EndLocked(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (ending_) return;
    ending_ = true;
    end_status_ = status;
    tail_.clear();
    if (alarm_armed_) alarm_.Cancel();
    if (!write_in_flight_) FinishLocked();
  }
  void FinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finish_started_) return;
    finish_started_ = true;
    ++pending_;
    writer_.Finish(end_status_, &finished_tag_);
  }

  bool ReleasableLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return finished_ && pending_ == 0;
  }
  // Unregisters and deletes the call (no tag outstanding, nobody else holds it).
  void Release() {
    streamer_->Remove(this);  // after this, OnFlushed/End cannot reach the call
    if (opened_) {
      streamer_->semi_sync_->SlaveDisconnected(slave_id_);
      streamer_->slaves_->StreamClosed(slave_id_);
      LOG(INFO) << "master " << streamer_->options_.server_uuid << ": slave " << slave_id_
                << " stream ended at position " << sent_ << ": " << end_status_.error_message();
    }
    delete this;
  }

  BinlogStreamer* const streamer_;
  grpc::ServerCompletionQueue* const cq_;
  grpc::ServerContext ctx_;
  v1::SubscribeBinlogRequest req_;
  grpc::ServerAsyncWriter<v1::SubscribeBinlogResponse> writer_;
  grpc::Alarm alarm_;
  Tag matched_tag_{this, &Call::OnMatched};
  Tag write_tag_{this, &Call::OnWriteDone};
  Tag alarm_tag_{this, &Call::OnAlarm};
  Tag done_tag_{this, &Call::OnDone};
  Tag finished_tag_{this, &Call::OnFinished};

  // Loop thread only, set before streaming_.
  std::string slave_id_;
  bool opened_ = false;  // registered as a stream with the registry and semi-sync

  absl::Mutex mu_;
  int pending_ ABSL_GUARDED_BY(mu_) = 0;  // tags outstanding once matched
  bool streaming_ ABSL_GUARDED_BY(mu_) = false;
  bool ending_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status end_status_ ABSL_GUARDED_BY(mu_);
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool alarm_armed_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_started_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t sent_ ABSL_GUARDED_BY(mu_) = 0;  // last position handed to gRPC
  // The highest durable position told to the slave (durable_position, heartbeats): events sent
  // after it were sent ahead of the master's fsync.
  uint64_t told_durable_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_sent_ ABSL_GUARDED_BY(mu_);
  // Caught up: groups flushed while a write is in flight, consecutive after sent_. Behind
  // (tail_overflow_): empty; the loop reads the files with reader_.
  std::deque<v1::BinlogEvent> tail_ ABSL_GUARDED_BY(mu_);
  bool tail_overflow_ ABSL_GUARDED_BY(mu_) = true;
  std::unique_ptr<BinlogReader> reader_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::BinlogEvent> events_ ABSL_GUARDED_BY(mu_);  // reused read buffer
  v1::SubscribeBinlogResponse msg_ ABSL_GUARDED_BY(mu_);       // the write in flight
};

BinlogStreamer::BinlogStreamer(const BinlogStreamOptions& options, Binlog* binlog,
                               SemiSyncMaster* semi_sync, SlaveRegistry* slaves)
    : options_(options), binlog_(binlog), semi_sync_(semi_sync), slaves_(slaves) {}

BinlogStreamer::~BinlogStreamer() {
  absl::MutexLock lock(&mu_);
  LOG_IF(ERROR, !calls_.empty()) << "binlog streamer destroyed with " << calls_.size()
                                 << " open stream(s); the RPC loop must be drained first";
}

void BinlogStreamer::Register(AsyncRpcLoop* loop, SubscribeBinlogRequestFn request) {
  loop_ = loop;
  request_ = std::move(request);
  loop->AddMethod([this](grpc::ServerCompletionQueue* cq) { new Call(this, cq); });
}

void BinlogStreamer::OnFlushed(const std::vector<v1::BinlogEvent>& events, bool durable) {
  if (events.empty()) return;
  absl::MutexLock lock(&mu_);
  for (Call* c : calls_) c->OnFlushed(events, durable);
}

void BinlogStreamer::OnDurable() {
  absl::MutexLock lock(&mu_);
  for (Call* c : calls_) c->OnDurable();
}

void BinlogStreamer::Shutdown() {
  absl::MutexLock lock(&mu_);
  shut_down_ = true;
  for (Call* c : calls_) {
    c->End(grpc::Status(grpc::StatusCode::UNAVAILABLE, "master is shutting down"));
  }
}

bool BinlogStreamer::WaitUntilEnded(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ended = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return calls_.empty(); };
  if (mu_.AwaitWithTimeout(absl::Condition(&ended), timeout)) return true;
  LOG(ERROR) << "binlog streamer: " << calls_.size() << " stream(s) still open "
             << absl::FormatDuration(timeout) << " after the server shut down";
  return false;
}

void BinlogStreamer::Add(Call* call) {
  absl::MutexLock lock(&mu_);
  calls_.insert(call);
}

void BinlogStreamer::Remove(Call* call) {
  absl::MutexLock lock(&mu_);
  calls_.erase(call);
}

bool BinlogStreamer::shut_down() const {
  absl::MutexLock lock(&mu_);
  return shut_down_;
}

}  // namespace semisync
