// SqliteCheckpointer: runs an SQLite database's WAL checkpoints on a thread of its own, off the
// thread that commits. Internal to server/storage (Storage starts one for an SQLite database).
//
// Why: SQLite checkpoints from the committing connection once its WAL passes wal_autocheckpoint
// frames (1000 by default), and with synchronous=NORMAL that checkpoint fsyncs the WAL (every
// frame written since the last checkpoint: megabytes, never synced at commit) and then the
// database file. Measured on the master at 16 clients: 7-12 ms, about once per 400 commits, on
// the thread that commits and answers an acknowledged group, so every write in flight waited.
//
// Here a thread runs a PASSIVE checkpoint every `interval` on a session of its own, so the large
// fsyncs happen beside the writes. A PASSIVE checkpoint never waits for readers or the writer
// (busy_timeout does not apply to it; a run that finds another checkpoint running just returns).
// It fsyncs the WAL before copying frames, as an automatic one does (the session has the writer's
// synchronous setting, which must never be OFF). SQLite fsyncs the database file, and lets the WAL
// start over from its beginning, only after a run that copied every frame, which under
// continuous writes (a commit every millisecond or less) almost never happens here; so after a
// run that copied frames this thread fdatasyncs the database file itself, and the writer keeps
// an automatic checkpoint at a higher mark (StorageOptions::sqlite_writer_checkpoint_frames,
// 4000) that restarts the WAL with only the frames since the last run to copy and sync. The WAL
// file therefore grows to about that many frames (16 MB with 4 KB pages) and keeps its size.
// None of this changes what Storage::SyncToDisk relies on: a frame leaves the WAL only after a
// checkpoint that copied it has synced the database file.
//
// Errors: a failed run is logged (at most one line in 100) and the session is re-opened for the
// next; the writer's own checkpoint still bounds the WAL meanwhile.
//
// Threads: owns one thread, "checkpointer" (started by the constructor, stopped and joined by the
// destructor).
#ifndef SEMISYNC_SERVER_STORAGE_SQLITE_CHECKPOINTER_H_
#define SEMISYNC_SERVER_STORAGE_SQLITE_CHECKPOINTER_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/storage/soci_util.h"

namespace semisync {
namespace storage_internal {

class SqliteCheckpointer {
 public:
  // Opens a configured session on the database (journal_mode=WAL, the writer's synchronous=).
  using Connect = std::function<absl::StatusOr<std::unique_ptr<soci::session>>()>;

  // `db_path` is the database file, `display` names it in log messages. `interval` > 0.
  SqliteCheckpointer(Connect connect, std::string db_path, std::string display,
                     absl::Duration interval);
  ~SqliteCheckpointer();

  SqliteCheckpointer(const SqliteCheckpointer&) = delete;
  SqliteCheckpointer& operator=(const SqliteCheckpointer&) = delete;

 private:
  void Loop();
  // One PASSIVE checkpoint on session_ (opened when missing, dropped after a failure), then an
  // fdatasync of the database file when it copied frames.
  void RunOnce();

  const Connect connect_;
  const std::string db_path_;
  const std::string display_;
  const absl::Duration interval_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

  // The thread's only.
  std::unique_ptr<soci::session> session_;
  long long last_backfilled_ = 0;  // frames in the database file after the previous run
  std::thread thread_;
};

}  // namespace storage_internal
}  // namespace semisync

#endif  // SEMISYNC_SERVER_STORAGE_SQLITE_CHECKPOINTER_H_
