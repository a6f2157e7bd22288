// CommitPipeline (see commit_pipeline.h).
#include "server/master/commit_pipeline.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/thread_name.h"
#include "glog/logging.h"

namespace semisync {

// A group sent ahead of its fsync is a light load's: one or two writes, nothing queued behind.
constexpr size_t kMaxEventsSentAhead = 2;

struct CommitPipeline::Write {
  v1::RowOp op = v1::ROW_OP_UNSPECIFIED;
  int64_t id = 0;
  std::string content;
  Done done;
  // Results.
  absl::Status status;
  v1::BinlogEvent event;
  bool acked = false;
};

CommitPipeline::CommitPipeline(const CommitPipelineOptions& options, Binlog* binlog,
                               Storage* storage, SemiSyncMaster* semi_sync,
                               int64_t next_record_id)
    : options_(options),
      binlog_(binlog),
      storage_(storage),
      semi_sync_(semi_sync),
      next_record_id_(next_record_id),
      next_position_(binlog->EndPosition() + 1) {
  // Recovery has brought the database to the binlog's end.
  absl::MutexLock l(&committed_mu_);
  committed_.applied_position = binlog->EndPosition();
}

uint64_t CommitPipeline::CommittedPosition() const {
  absl::MutexLock l(&committed_mu_);
  return committed_.applied_position;
}

CommitPipeline::~CommitPipeline() { Shutdown(); }

void CommitPipeline::Start() {
  if (semi_sync_->options().wait_point == WaitPoint::kAfterSync) {
    semi_sync_->SetAckListener([this](uint64_t quorum) { OnQuorum(quorum); });
  }
  committer_ = StartNamedThread("binlog-commit", [this] { CommitterLoop(); });
  completer_ = StartNamedThread("commit-complete", [this] { CompleterLoop(); });
  if (options_.binlog_retention_bytes > 0 ||
      options_.binlog_retention_age > absl::ZeroDuration()) {
    purger_ = StartNamedThread("binlog-purge", [this] { PurgerLoop(); });
  }
}

void CommitPipeline::Shutdown() {
  {
    absl::MutexLock l(&mu_);
    if (stopping_ && !committer_.joinable()) return;
    stopping_ = true;
  }
  if (committer_.joinable()) committer_.join();
  if (completer_.joinable()) completer_.join();
  semi_sync_->SetAckListener(nullptr);  // nothing is staged any more
  if (purger_.joinable()) purger_.join();
  // Anything still queued was never written.
  std::deque<Write*> left;
  {
    absl::MutexLock l(&mu_);
    left.swap(queue_);
  }
  for (Write* w : left) {
    w->done(absl::UnavailableError("master is shutting down; the write was not performed"),
            w->event, false);
    delete w;
  }
}

void CommitPipeline::Submit(v1::RowOp op, int64_t id, std::string content, Done done) {
  const bool may_lead = options_.submitter_sends_idle_insert && op == v1::ROW_OP_INSERT &&
                        options_.send_before_fsync_when_idle && options_.on_flushed;
  absl::Status refused;
  Write* w = nullptr;
  {
    absl::MutexLock l(&mu_);
    if (!broken_.ok()) {
      refused = broken_;
    } else if (stopping_) {
      refused = absl::UnavailableError("master is shutting down; the write was not performed");
    } else {
      w = new Write;
      w->op = op;
      w->id = id;
      w->content = std::move(content);
      w->done = std::move(done);
      if (!may_lead || !IdleLocked()) {
        queue_.push_back(w);
        return;
      }
      leader_active_ = true;  // this thread holds the committer's role until the handover
    }
  }
  if (w == nullptr) {
    done(refused, v1::BinlogEvent(), false);
    return;
  }
  // Only with semi-sync on can the write be sent ahead, which is the point of leading it
  // (asked outside mu_, and only when idle: IsOn takes SemiSyncMaster's lock).
  if (!semi_sync_->IsOn()) {
    absl::MutexLock l(&mu_);
    leader_active_ = false;
    queue_.push_back(w);  // the committer, waiting while the role was taken, goes on
    return;
  }
  LeadIdleWrite(w);
}

bool CommitPipeline::Idle() const {
  absl::MutexLock l(&mu_);
  return IdleLocked();
}

bool CommitPipeline::IdleLocked() const {
  return queue_.empty() && !leader_active_ && !committer_busy_ && handover_ == nullptr &&
         completions_.empty() && !completer_busy_ && purge_floor_ == 0;
}

void CommitPipeline::LeadIdleWrite(Write* w) {
  auto handover = std::make_unique<Handover>();
  handover->group = PrepareGroup({w});
  // An append that would rotate the segment (fsyncs) or zero-fill preallocated space is left to
  // the committer: this thread serves the other RPCs.
  handover->written = binlog_->AppendIsWriteOnly(handover->group->events);
  if (handover->written) {
    handover->sent_ahead = WriteGroup(handover->group.get(), &handover->status);
  }
  absl::MutexLock l(&mu_);
  leader_active_ = false;
  handover_ = std::move(handover);
}

absl::StatusOr<std::optional<v1::Record>> CommitPipeline::CurrentRow(int64_t id) {
  {
    absl::MutexLock l(&overlay_mu_);
    auto it = overlay_.find(id);
    if (it != overlay_.end()) return it->second.first;
  }
  absl::StatusOr<v1::Record> row = storage_->GetRecord(id);
  if (absl::IsNotFound(row.status())) return std::optional<v1::Record>();
  if (!row.ok()) return row.status();
  return std::optional<v1::Record>(std::move(*row));
}

absl::Status CommitPipeline::Prepare(Write* w, uint64_t position, int64_t now_us) {
  v1::BinlogEvent& e = w->event;
  v1::Record* rec = e.mutable_record();
  if (w->op == v1::ROW_OP_INSERT) {
    rec->set_id(next_record_id_++);
    rec->set_content(w->content);
    rec->set_created_at_us(now_us);
    rec->set_updated_at_us(now_us);
  } else {
    ASSIGN_OR_RETURN(std::optional<v1::Record> current, CurrentRow(w->id));
    if (!current.has_value()) {
      return absl::NotFoundError(absl::StrCat("record ", w->id, " not found"));
    }
    *rec = std::move(*current);
    if (w->op == v1::ROW_OP_UPDATE) {
      rec->set_content(w->content);
      rec->set_updated_at_us(now_us);
    }
  }
  e.set_op(w->op);
  e.set_position(position);
  e.set_gtid(absl::StrCat(options_.server_uuid, ":", position));
  e.set_timestamp_us(now_us);
  absl::MutexLock l(&overlay_mu_);
  overlay_[rec->id()] = {w->op == v1::ROW_OP_DELETE ? std::nullopt : std::optional(*rec),
                         position};
  return absl::OkStatus();
}

std::unique_ptr<CommitPipeline::Group> CommitPipeline::PrepareGroup(
    const std::vector<Write*>& batch) {
  auto group = std::make_unique<Group>();
  const int64_t now_us = absl::ToUnixMicros(absl::Now());
  for (Write* w : batch) {
    w->status = Prepare(w, next_position_, now_us);
    if (w->status.ok()) {
      group->events.push_back(w->event);
      ++next_position_;
    }
    group->writes.push_back(w);
  }
  return group;
}

bool CommitPipeline::WriteGroup(Group* group, absl::Status* status) {
  *status = absl::OkStatus();
  if (group->events.empty()) return false;
  *status = binlog_->Append(group->events);
  // Not before the first durable event: durable_position 0 means "all durable" to a slave.
  if (!status->ok() || !options_.send_before_fsync_when_idle || !options_.on_flushed ||
      binlog_->EndPosition() == 0 || !semi_sync_->IsOn()) {
    return false;
  }
  {
    absl::MutexLock l(&mu_);
    if (!completions_.empty() || completer_busy_ || !queue_.empty() ||
        group->events.size() > kMaxEventsSentAhead) {
      return false;
    }
  }
  binlog_->NoteSentAhead(group->events);
  semi_sync_->OnBinlogFlushed(group->events.back().position());
  options_.on_flushed(group->events, /*durable=*/false);
  return true;
}

void CommitPipeline::SyncGroup(std::unique_ptr<Group> group, absl::Status s, bool sent_ahead) {
  if (s.ok() && !group->events.empty()) s = binlog_->Sync();
  if (!s.ok()) {
    LOG(ERROR) << "master " << options_.server_uuid
               << ": binlog write failed, refusing all further writes until restart: " << s;
    absl::Status broken = absl::UnavailableError(
        absl::StrCat("master binlog failed (", s.message(), "); restart the master"));
    {
      absl::MutexLock l(&mu_);
      broken_ = broken;
    }
    Finish(group.get(), broken, false);
    return;
  }
  if (sent_ahead) {
    if (options_.on_durable) options_.on_durable();
  } else if (!group->events.empty()) {
    semi_sync_->OnBinlogFlushed(group->events.back().position());
    if (options_.on_flushed) options_.on_flushed(group->events, /*durable=*/true);
  }
  absl::MutexLock l(&mu_);
  completions_.push_back(std::move(group));
}

void CommitPipeline::CommitterLoop() {
  std::vector<Write*> batch;
  while (true) {
    std::unique_ptr<Handover> handover;
    {
      absl::MutexLock l(&mu_);
      committer_busy_ = false;
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        if (handover_ != nullptr) return true;
        if (leader_active_) return false;  // a submitting thread holds the committer's role
        return !queue_.empty() || stopping_ || purge_floor_ > 0;
      };
      mu_.Await(absl::Condition(&ready));
      committer_busy_ = true;
      if (handover_ != nullptr) {
        handover = std::move(handover_);
      } else {
        if (stopping_) break;
        while (!queue_.empty() && batch.size() < options_.max_group_size) {
          batch.push_back(queue_.front());
          queue_.pop_front();
        }
      }
    }
    if (handover != nullptr) {
      if (!handover->written) {
        handover->sent_ahead = WriteGroup(handover->group.get(), &handover->status);
      }
      SyncGroup(std::move(handover->group), handover->status, handover->sent_ahead);
      continue;
    }
    RunRequestedPurge();
    if (batch.empty()) continue;
    std::unique_ptr<Group> group = PrepareGroup(batch);
    batch.clear();
    absl::Status s;
    const bool sent_ahead = WriteGroup(group.get(), &s);
    SyncGroup(std::move(group), s, sent_ahead);
  }
  absl::MutexLock l(&mu_);
  committer_done_ = true;
}

ReplState CommitPipeline::StateAfter(const Group& g) const {
  const v1::BinlogEvent& last = g.events.back();
  ReplState state;
  state.applied_position = last.position();
  state.applied_gtid = last.gtid();
  state.applied_timestamp_us = last.timestamp_us();
  state.executed_gtid_set = ExecutedGtidSet(options_.server_uuid, last.position());
  return state;
}

void CommitPipeline::Committed(const Group& g) {
  const uint64_t last = g.events.back().position();
  absl::MutexLock l(&overlay_mu_);
  for (const v1::BinlogEvent& e : g.events) {
    auto it = overlay_.find(e.record().id());
    if (it != overlay_.end() && it->second.second <= last) overlay_.erase(it);
  }
}

void CommitPipeline::Finish(Group* g, const absl::Status& status, bool acked) {
  for (Write* w : g->writes) {
    if (w->status.ok()) {
      w->status = status;
      w->acked = acked;
    }
    w->done(w->status, w->event, w->acked);
    delete w;
  }
  g->writes.clear();
}

absl::Status ShutdownBeforeAck(uint64_t last) {
  return absl::UnavailableError(absl::StrCat(
      "master shut down before slaves acknowledged the write; it is durable in the master "
      "binlog (up to position ",
      last, ") and is committed when the master restarts"));
}

void CommitPipeline::CompleterLoop() {
  const bool after_sync = semi_sync_->options().wait_point == WaitPoint::kAfterSync;
  while (true) {
    // Every group flushed so far completes together: acks are cumulative, so one wait covers
    // them all, and their rows share one database transaction (group commit at the database,
    // whose commit may cost far more than a binlog fsync, e.g. MySQL with a durable redo log).
    auto g = std::make_unique<Group>();
    {
      absl::MutexLock l(&mu_);
      completer_busy_ = false;
      auto cond = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !completions_.empty() || committer_done_;
      };
      mu_.Await(absl::Condition(&cond));
      if (completions_.empty()) break;  // the committer is gone and everything is drained
      completer_busy_ = true;
      while (!completions_.empty() &&
             (g->writes.empty() || g->events.size() + completions_.front()->events.size() <=
                                       options_.max_completion_events)) {
        Group& next = *completions_.front();
        g->writes.insert(g->writes.end(), next.writes.begin(), next.writes.end());
        std::move(next.events.begin(), next.events.end(), std::back_inserter(g->events));
        completions_.pop_front();
      }
    }
    if (g->events.empty()) {  // every write of the group was rejected
      Finish(g.get(), absl::OkStatus(), false);
      continue;
    }
    const uint64_t last = g->events.back().position();
    const int n = static_cast<int>(g->events.size());
    const ReplState state = StateAfter(*g);
    if (++groups_without_state_ >= options_.state_every_groups) {
      groups_without_state_ = 0;
      g->state_update = StateUpdate::kWrite;
    } else {
      g->state_update = StateUpdate::kSkip;
    }
    if (!after_sync) {
      absl::Status db = storage_->ApplyBatch(g->events, state, g->state_update);
      bool acked = false;
      if (db.ok()) acked = semi_sync_->WaitForAck(last, n) == SemiSyncMaster::WaitResult::kAcked;
      Complete(g.get(), db, acked);
      continue;
    }
    // The rows go into the database while the slaves acknowledge them, in a transaction that
    // commits (becomes visible) only after their ack.
    if (absl::Status db = storage_->StageBatch(g->events, state, g->state_update); !db.ok()) {
      Complete(g.get(), db, false);
      continue;
    }
    {
      absl::MutexLock l(&staged_mu_);
      staged_ = g.get();
      staged_state_ = state;
      staged_claimed_ = false;
      staged_done_ = false;
    }
    const SemiSyncMaster::WaitResult r = semi_sync_->WaitForAck(last, n);
    bool mine = false;
    {
      absl::MutexLock l(&staged_mu_);
      mine = !staged_claimed_;
      staged_claimed_ = true;
      // Claimed by an acking thread: the database session is free again once it is done.
      if (!mine) staged_mu_.Await(absl::Condition(&staged_done_));
      staged_ = nullptr;
    }
    if (!mine) continue;  // committed and answered by the thread that delivered the ack
    if (r == SemiSyncMaster::WaitResult::kShutdown) {
      storage_->AbortStaged();
      Finish(g.get(), ShutdownBeforeAck(last), false);
      continue;
    }
    Complete(g.get(), storage_->CommitStaged(g->events, state),
             r == SemiSyncMaster::WaitResult::kAcked);
  }
  RecordCommittedState();
}

void CommitPipeline::RecordCommittedState() {
  {
    absl::MutexLock l(&mu_);
    if (!broken_.ok()) return;  // recovery re-applies from the recorded state
  }
  absl::MutexLock l(&committed_mu_);
  if (committed_recorded_) return;
  if (absl::Status s = storage_->ApplyBatch({}, committed_); !s.ok()) {
    LOG(WARNING) << "master " << options_.server_uuid << ": cannot record applied position "
                 << committed_.applied_position << " at shutdown (restart re-applies the binlog "
                 << "after the last one recorded): " << s;
    return;
  }
  committed_recorded_ = true;
}

void CommitPipeline::OnQuorum(uint64_t quorum) {
  Group* g = nullptr;
  ReplState state;
  {
    absl::MutexLock l(&staged_mu_);
    if (staged_ == nullptr || staged_claimed_ || quorum < staged_->events.back().position() ||
        staged_->writes.size() > options_.max_writes_answered_on_ack) {
      return;
    }
    staged_claimed_ = true;
    g = staged_;
    state = staged_state_;
  }
  const absl::Status db = storage_->CommitStaged(g->events, state);
  if (db.ok()) {
    // The completer holds nothing any more (it will only find the group done), and the next
    // write (its client may send it as soon as it is answered, below) finds the pipeline idle.
    // Cleared before staged_done_: until then the completer cannot take another group.
    absl::MutexLock l(&mu_);
    completer_busy_ = false;
  }
  Complete(g, db, /*acked=*/true);
  absl::MutexLock l(&staged_mu_);
  staged_done_ = true;
}

void CommitPipeline::Complete(Group* g, const absl::Status& db, bool acked) {
  absl::Status status;
  if (!db.ok()) {
    LOG(ERROR) << "master " << options_.server_uuid << ": database commit of positions "
               << g->events.front().position() << ".." << g->events.back().position()
               << " failed, refusing further writes until restart: " << db;
    status = absl::UnavailableError(absl::StrCat(
        "master database commit failed (", db.message(),
        "); the write is in the binlog and is re-applied when the master restarts"));
    acked = false;
    absl::MutexLock l(&mu_);
    broken_ = status;
  } else {
    Committed(*g);
    absl::MutexLock l(&committed_mu_);
    committed_ = StateAfter(*g);
    committed_recorded_ = g->state_update == StateUpdate::kWrite;
  }
  Finish(g, status, acked);
}

void CommitPipeline::PurgerLoop() {
  while (true) {
    {
      absl::MutexLock l(&mu_);
      auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
      if (mu_.AwaitWithTimeout(absl::Condition(&stop), options_.purge_check_interval)) return;
    }
    absl::StatusOr<ReplState> state = storage_->GetReplState();
    if (!state.ok()) {
      LOG(WARNING) << "master " << options_.server_uuid << ": binlog purge skipped: "
                   << state.status();
      continue;
    }
    // Never purge what recovery would need to re-apply to the database, and make what the
    // database holds durable first (its commits are not fsynced). That sync may take a while (a
    // MariaDB redo-log flush is up to a second away): it runs here, only when a segment is due,
    // and the committer then just deletes the files.
    const uint64_t floor = state->applied_position + 1;
    absl::StatusOr<int> due = binlog_->PurgeByRetention(
        options_.binlog_retention_bytes, options_.binlog_retention_age, floor, /*dry_run=*/true);
    if (!due.ok() || *due == 0) continue;
    if (absl::Status s = storage_->SyncToDisk(); !s.ok()) {
      LOG(WARNING) << "master " << options_.server_uuid << ": binlog purge skipped: " << s;
      continue;
    }
    absl::MutexLock l(&mu_);
    purge_floor_ = std::max(purge_floor_, floor);
  }
}

void CommitPipeline::RunRequestedPurge() {
  uint64_t floor = 0;
  {
    absl::MutexLock l(&mu_);
    std::swap(floor, purge_floor_);
  }
  if (floor == 0) return;
  absl::StatusOr<int> purged = binlog_->PurgeByRetention(
      options_.binlog_retention_bytes, options_.binlog_retention_age, floor);
  if (!purged.ok()) {
    LOG(WARNING) << "master " << options_.server_uuid << ": binlog purge failed: "
                 << purged.status();
  } else if (*purged > 0) {
    LOG(INFO) << "master " << options_.server_uuid << ": purged " << *purged
              << " binlog segment(s); oldest position now " << binlog_->OldestPosition();
  }
}

}  // namespace semisync
