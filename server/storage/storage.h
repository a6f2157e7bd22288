// Storage: the records table and the replication bookkeeping, through SOCI. The only code in the
// project that touches SOCI; every soci::soci_error ends here and becomes an absl::Status.
//
// Backends: "sqlite3://db=/path/file.db" (embedded, the default) and
// "mysql://host=H port=P db=D user=U password=W" (MySQL/MariaDB; db= is required, D must be
// [A-Za-z0-9_]+; charset=utf8mb4 and connect_timeout=10 are added unless given). Both get the same
// schema (SQLite spells the key INTEGER PRIMARY KEY, its 64-bit rowid; MySQL tables are InnoDB,
// utf8mb4, with LONGTEXT for the TEXT columns):
//   records(id BIGINT PRIMARY KEY, content TEXT, created_at_us BIGINT, updated_at_us BIGINT)
//   semisync_repl_state(id INT PRIMARY KEY (always 1), applied_position BIGINT,
//                       applied_gtid VARCHAR(128), applied_timestamp_us BIGINT,
//                       executed_gtid_set TEXT)
// Open() creates them when missing (and, for MySQL, the database named by db=), and the state row
// (all zero / empty). SQLite sessions use journal_mode=WAL and busy_timeout=5000 ms; the WAL is
// checkpointed by a background thread (StorageOptions::sqlite_checkpoint_interval).
//
// Applying events is idempotent: inserts and updates are upserts of the full row image, deletes
// delete by id; each ApplyBatch commits the rows together with the new applied position in one
// database transaction, so a crash leaves either all or none of a batch. On MySQL a batch is
// applied as multi-row statements of the last event per id (same result, ceil(batch/64) round
// trips), the writer session runs with autocommit off (no BEGIN round trip), so a batch of up to
// 64 rows costs three round trips: rows, state, COMMIT.
//
// Errors: InvalidArgument for a bad connection string or an event with an unknown op (the batch is
// rolled back); Unavailable when the database cannot be reached or the connection was lost;
// Internal for other database errors (the message names the SQL or event). A session that lost its
// connection is replaced; ApplyBatch and the reads, being idempotent, retry once on a new session
// when a session that had been idle turns out to be dead (server restart, idle timeout).
//
// Threads: ApplyBatch / StageBatch / CommitStaged / AbortStaged calls are serialized on one
// private writer session (the master stages a batch on its completer thread and may commit it on
// the thread that delivered the slaves' ack); the read methods are thread-safe and each borrows one of `read_sessions`
// pooled sessions, waiting when all are busy. Destroy the Storage after all calls returned.
#ifndef SEMISYNC_SERVER_STORAGE_STORAGE_H_
#define SEMISYNC_SERVER_STORAGE_STORAGE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "semisync/v1/binlog.pb.h"
#include "semisync/v1/records.pb.h"

namespace semisync {

struct StorageOptions {
  // SOCI connection string, see above.
  std::string connection;
  // Read sessions in the pool (at least 1).
  int read_sessions = 4;
  // SQLite only: synchronous=FULL when true (every commit fsynced), NORMAL (WAL) when false.
  // Master and slaves set false: their binlog / relay log is the source of truth, recovery
  // re-applies its tail, and they call SyncToDisk() before purging it.
  bool sync_commits = true;
  // SQLite only: a thread of the Storage runs a PASSIVE WAL checkpoint this often on a session of
  // its own (storage_internal::SqliteCheckpointer), so that the checkpoints' fsyncs (megabytes of
  // WAL, then the database file) do not stall the thread that commits; the writer then checkpoints
  // by itself only once the WAL holds sqlite_writer_checkpoint_frames frames (SQLite's
  // wal_autocheckpoint, 1000 by default). Zero: SQLite's own automatic checkpoints only.
  absl::Duration sqlite_checkpoint_interval = absl::Milliseconds(100);
  int sqlite_writer_checkpoint_frames = 4000;
};

// Where the database stands in the replication stream.
struct ReplState {
  uint64_t applied_position = 0;
  std::string applied_gtid;
  int64_t applied_timestamp_us = 0;
  std::string executed_gtid_set;
};

// Whether a batch also records the replication state it reaches. kSkip leaves the recorded state
// where it was: a node that replays its log from the recorded position on start then re-applies
// events the database already has, which is harmless (events are full row images and deletes by
// id, so a batch has the same effect applied twice); the master skips most updates (see
// CommitPipelineOptions::state_every_groups).
enum class StateUpdate { kWrite, kSkip };

class Storage {
 public:
  static absl::StatusOr<std::unique_ptr<Storage>> Open(const StorageOptions& options);
  ~Storage();

  // "sqlite3" or "mysql".
  const std::string& backend() const;

  // Applies `events` (in order) and sets the replication state to `state` (kWrite), in one
  // transaction. All or nothing: on error nothing of the batch is committed.
  absl::Status ApplyBatch(absl::Span<const v1::BinlogEvent> events, const ReplState& state,
                          StateUpdate update = StateUpdate::kWrite);

  // ApplyBatch in two steps, so that the work of a batch can be done before it may become
  // visible (the master's AFTER_SYNC wait): StageBatch writes the rows and the state in a
  // transaction it leaves open (other sessions do not see them); CommitStaged commits it, and
  // AbortStaged rolls it back. At most one batch is staged at a time: ApplyBatch and StageBatch
  // fail with FailedPrecondition meanwhile. A StageBatch that fails leaves nothing staged.
  // CommitStaged takes the staged events and state again: when the commit fails on its session,
  // the batch is applied once more on a new one (batches are idempotent), with the state
  // recorded, so that an error means the database could not take it.
  absl::Status StageBatch(absl::Span<const v1::BinlogEvent> events, const ReplState& state,
                          StateUpdate update = StateUpdate::kWrite);
  absl::Status CommitStaged(absl::Span<const v1::BinlogEvent> events, const ReplState& state);
  void AbortStaged();

  // Makes every batch committed so far durable even when commits are not fsynced
  // (sync_commits=false): SQLite's WAL and database files are fdatasynced. MySQL/MariaDB: with
  // innodb_flush_log_at_trx_commit=1 (or 3) commits are already durable; with 0 or 2 (the
  // recommended setting under semisync: the binlog is the truth, so a redo-log fsync per commit
  // is a needless second fsync) it waits until InnoDB's flushed LSN (Innodb_lsn_flushed, MariaDB)
  // reaches the LSN current when it was called — InnoDB flushes its log about once a second —
  // for at most `timeout`; DeadlineExceeded after that, FailedPrecondition on a server that does
  // not report its LSNs. Callers use it before discarding the log that could re-apply those
  // batches.
  absl::Status SyncToDisk(absl::Duration timeout = absl::Seconds(30));

  absl::StatusOr<ReplState> GetReplState();
  // NotFound ("record N not found") when there is no record with that id.
  absl::StatusOr<v1::Record> GetRecord(int64_t id);
  // Records with id > after_id in id order, at most `limit` (clamped to [1, 10000]).
  absl::StatusOr<std::vector<v1::Record>> ListRecords(int64_t after_id, int limit);
  // Highest id in the table, 0 when empty.
  absl::StatusOr<int64_t> MaxRecordId();
  absl::StatusOr<int64_t> CountRecords();

 private:
  class Impl;
  explicit Storage(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace semisync

#endif  // SEMISYNC_SERVER_STORAGE_STORAGE_H_
