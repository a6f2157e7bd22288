// CommitPipeline: the master's write path (implements RecordWriter).
//
//   gRPC thread ──Submit──▶ queue ──▶ committer thread ──▶ completion queue ──▶ completer thread
//   (returns at once)               (batch, validate,         (AFTER_SYNC: write the rows into
//                                    assign ids/GTIDs,          an open database transaction,
//                                    binlog append + fsync)     wait for acks, then commit it;
//                                                               AFTER_COMMIT: commit, then wait;
//                                                               then run every write's Done,
//                                                               which finishes its RPC)
//
// AFTER_SYNC hand-off: the thread that delivers the ack completing a small staged group (the Ack
// RPC's loop thread, through SemiSyncMaster's ack listener) commits the group and answers its
// writes itself, so the answer does not wait for the completer to be woken (tens to hundreds of
// µs on a small VM); see max_writes_answered_on_ack. Exactly one of the two claims a staged
// group; the completer, woken as well, waits until that completion is done before it stages the
// next group on the same database session.
//
// Idle insert: an insert submitted while nothing is queued, written or unfinished is validated,
// appended and handed to on_flushed (ahead of its fsync) by the submitting thread itself, which
// then hands the group to the committer for the fsync (submitter_sends_idle_insert). The
// committer's role (validation, ids, positions, appends) is held by one thread at a time.
//
// Group commit: the committer takes every queued write at once, so concurrent writes share one
// binlog append and one fsync; the completer takes every group flushed meanwhile, so they share
// one ack wait and one database transaction. The two stages overlap: while the completer waits
// for slaves or commits, the committer writes and fsyncs the next groups.
//
// Row state for validation (does id exist? what is its created_at?) is the database plus an
// overlay of rows changed by groups already in the binlog but not yet committed to the database.
//
// Errors: a failed binlog write or fsync is fatal to the write path (LevelDB's rule): that group
// and every later write fail with UNAVAILABLE until restart, when recovery re-applies the binlog.
// A failed database commit likewise stops the write path (the binlog, not the database, is the
// truth; restart re-applies it).
//
// Retention: a purger thread (only when a retention is set) checks every purge_check_interval
// whether a binlog segment is due, makes the database durable (which may take up to a second on
// MariaDB) and leaves the file deletion to the committer, between groups, so writes never wait
// for the database sync.
//
// Threads: owns the committer and completer threads, and the purger. Submit is thread-safe and
// never waits for an fsync, an ack or another thread (an idle insert's binlog write(2) and
// non-blocking stream writes happen inside it); each write's Done runs once, on the committer,
// the completer or an acking thread (or inline in Submit when the pipeline refuses the write). Binlog, Storage and SemiSyncMaster outlive the
// pipeline.
#ifndef SEMISYNC_SERVER_MASTER_COMMIT_PIPELINE_H_
#define SEMISYNC_SERVER_MASTER_COMMIT_PIPELINE_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/master/binlog.h"
#include "server/master/semi_sync_master.h"
#include "server/records_service.h"
#include "server/storage/storage.h"

namespace semisync {

struct CommitPipelineOptions {
  std::string server_uuid;
  // Most writes one binlog group may hold.
  size_t max_group_size = 4096;
  // Most events the completer commits to the database in one transaction (it merges every
  // group flushed while it was busy).
  size_t max_completion_events = 16384;
  // AFTER_SYNC: a staged group of at most this many writes is committed and answered on the
  // thread that delivers its ack (a loop thread, which meanwhile receives nothing); a larger one
  // by the completer, so the loop keeps receiving while its many answers go out.
  size_t max_writes_answered_on_ack = 4;
  // The database records the replication state (its applied position) with one committed group
  // in this many, and once more when the pipeline shuts down; the other groups commit their rows
  // alone. Recovery re-applies the binlog after the recorded position, rows the database already
  // has included, which is harmless (Storage's StateUpdate). On MariaDB each skipped update saves
  // a statement round trip per group and about a fifth of the server's CPU per write.
  int state_every_groups = 16;
  // Binlog retention (checked by the committer between groups).
  uint64_t binlog_retention_bytes = 0;
  absl::Duration binlog_retention_age = absl::ZeroDuration();
  absl::Duration purge_check_interval = absl::Seconds(10);
  // Called by the thread holding the committer's role with every group once it is durable in
  // the binlog (the binlog streams send it to caught-up slaves from memory). May be empty.
  // `durable` is false when the group is handed over ahead of its fsync (below).
  std::function<void(const std::vector<v1::BinlogEvent>& events, bool durable)> on_flushed;
  // Semi-sync, idle pipeline (no earlier group still waiting for its acks or its commit): the
  // group is handed to on_flushed right after its binlog write, before the fsync, so that the
  // master's fsync and the slave's (plus the trip there) overlap, and on_durable follows the
  // fsync. A slave applies such events only once told they are durable, and drops them if the
  // master lost them (SubscribeBinlogResponse.durable_position): nothing is acknowledged to a
  // client before both fsyncs either way. Only when idle: under load, sending after the fsync
  // lets groups grow while the slave syncs, and master and slave share one disk's flushes.
  bool send_before_fsync_when_idle = true;
  std::function<void()> on_durable;
  // With send_before_fsync_when_idle: an insert submitted to an idle pipeline is validated,
  // written to the binlog and handed to on_flushed by the submitting thread itself, which then
  // hands the fsync over to the committer. This saves waking the committer (tens of µs on a
  // small VM) before the write leaves for the slaves. Updates and deletes (which may read the
  // database to validate) always go through the committer.
  bool submitter_sends_idle_insert = true;
};

class CommitPipeline final : public RecordWriter {
 public:
  // `next_record_id` is the first id an insert will get.
  CommitPipeline(const CommitPipelineOptions& options, Binlog* binlog, Storage* storage,
                 SemiSyncMaster* semi_sync, int64_t next_record_id);
  ~CommitPipeline() override;

  void Start();
  // Fails queued and not-yet-acknowledged writes with UNAVAILABLE, then joins the threads.
  // Call SemiSyncMaster::Shutdown() first so no group keeps waiting for acks.
  void Shutdown();

  void Submit(v1::RowOp op, int64_t id, std::string content, Done done) override;

  // The binlog position up to which the database has committed the rows (the state it records
  // may be behind: see state_every_groups).
  uint64_t CommittedPosition() const;

  // No write queued, being written or synced, or waiting for its acks or commit.
  bool Idle() const;

 private:
  struct Write;
  struct Group {
    std::vector<Write*> writes;  // owned; in order, including rejected ones (no event)
    std::vector<v1::BinlogEvent> events;
    // Whether its database transaction records the replication state (completer's choice).
    StateUpdate state_update = StateUpdate::kWrite;
  };

  // A group written (and perhaps sent ahead) by a submitting thread, for the committer to sync.
  struct Handover {
    std::unique_ptr<Group> group;
    bool written = false;  // appended by the submitting thread (else the committer appends it)
    absl::Status status;   // of the binlog write
    bool sent_ahead = false;
  };

  void CommitterLoop();
  void CompleterLoop();
  // Nothing queued, written, waiting for its fsync, acks or commit, and the committer's role is
  // free: a submitting thread may lead the write.
  bool IdleLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // On a submitting thread that took the committer's role: PrepareGroup and WriteGroup for w,
  // then the handover to the committer.
  void LeadIdleWrite(Write* w);
  // Committer role: validates the writes into a group (events for the valid ones).
  std::unique_ptr<Group> PrepareGroup(const std::vector<Write*>& batch);
  // Committer role: appends the group to the binlog and, when the pipeline is idle, hands it to
  // on_flushed ahead of its fsync (returns true then). *status: the append's.
  bool WriteGroup(Group* group, absl::Status* status);
  // Committer thread: fsyncs a written group, reports it flushed or durable, and queues it for
  // the completer; a failed write or fsync breaks the write path.
  void SyncGroup(std::unique_ptr<Group> group, absl::Status status, bool sent_ahead);
  // Validates one write against the row state and fills its event. Committer role.
  absl::Status Prepare(Write* w, uint64_t position, int64_t now_us);
  absl::StatusOr<std::optional<v1::Record>> CurrentRow(int64_t id);
  // The database's replication state once `g` is committed.
  ReplState StateAfter(const Group& g) const;
  // `g` is committed to the database: its rows leave the overlay.
  void Committed(const Group& g);
  // Completer thread, once the loop is over: records the state of the last committed group if
  // its transaction did not (and the write path is not broken).
  void RecordCommittedState();
  // Completes every write of the group (Done, then delete).
  void Finish(Group* g, const absl::Status& status, bool acked);
  // Finishes the writes of a group whose database commit returned `db`: on success its rows
  // leave the overlay; on failure the write path is broken (see Errors above). On the completer,
  // or on an acking thread (OnQuorum).
  void Complete(Group* g, const absl::Status& db, bool acked);
  // SemiSyncMaster's ack listener: completes the staged group when `quorum` covers it.
  void OnQuorum(uint64_t quorum);
  // Purger thread (only with a retention): every purge_check_interval, when a binlog segment is
  // due, makes the database durable and asks the committer to purge below its applied position.
  void PurgerLoop();
  // Committer thread, between groups: deletes the segments the purger cleared.
  void RunRequestedPurge();

  const CommitPipelineOptions options_;
  Binlog* const binlog_;
  Storage* const storage_;
  SemiSyncMaster* const semi_sync_;

  mutable absl::Mutex mu_;
  std::deque<Write*> queue_ ABSL_GUARDED_BY(mu_);
  std::deque<std::unique_ptr<Group>> completions_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool committer_done_ ABSL_GUARDED_BY(mu_) = false;
  // The completer holds groups taken from completions_ (waiting for acks or committing).
  bool completer_busy_ ABSL_GUARDED_BY(mu_) = false;
  // Who holds the committer's role (validating, writing and syncing groups): the committer
  // thread while committer_busy_, a submitting thread while leader_active_ (LeadIdleWrite),
  // never both; the leader's group waits in handover_ for the committer to sync it.
  bool committer_busy_ ABSL_GUARDED_BY(mu_) = false;
  bool leader_active_ ABSL_GUARDED_BY(mu_) = false;
  std::unique_ptr<Handover> handover_ ABSL_GUARDED_BY(mu_);
  // Sticky failure of the write path.
  absl::Status broken_ ABSL_GUARDED_BY(mu_);
  // Set by the purger: binlog segments below this position may be purged (0: no request).
  uint64_t purge_floor_ ABSL_GUARDED_BY(mu_) = 0;

  // Rows changed by groups in the binlog but not yet in the database: id -> (row or deleted,
  // position of the latest change).
  absl::Mutex overlay_mu_;
  std::map<int64_t, std::pair<std::optional<v1::Record>, uint64_t>> overlay_
      ABSL_GUARDED_BY(overlay_mu_);

  // The AFTER_SYNC group staged in the database and waiting for its ack, if any: whoever claims
  // it (the completer, or OnQuorum on an acking thread) commits and finishes it.
  absl::Mutex staged_mu_;
  Group* staged_ ABSL_GUARDED_BY(staged_mu_) = nullptr;
  ReplState staged_state_ ABSL_GUARDED_BY(staged_mu_);
  bool staged_claimed_ ABSL_GUARDED_BY(staged_mu_) = false;
  bool staged_done_ ABSL_GUARDED_BY(staged_mu_) = false;

  // What the database has committed: the state after the last committed group, and whether its
  // transaction recorded it.
  mutable absl::Mutex committed_mu_;
  ReplState committed_ ABSL_GUARDED_BY(committed_mu_);
  bool committed_recorded_ ABSL_GUARDED_BY(committed_mu_) = true;

  // Committer role only (see committer_busy_).
  int64_t next_record_id_;
  uint64_t next_position_;
  // Completer thread only: groups committed since the last one that recorded the state.
  int groups_without_state_ = 0;


  std::thread committer_;
  std::thread completer_;
  std::thread purger_;
};

}  // namespace semisync

#endif  // SEMISYNC_SERVER_MASTER_COMMIT_PIPELINE_H_
