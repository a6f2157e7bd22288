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
// fsyncs happen beside the writes. A PASSIVE checkpoint never waits for readers or the writer; it
// syncs as an automatic one does (the session has the writer's synchronous setting), so what
// Storage::SyncToDisk relies on holds. The WAL starts over from its beginning only at a write
// that follows a checkpoint which copied every frame; under continuous writes a background
// checkpoint seldom ends at the WAL's end, so the writer keeps an automatic checkpoint at a
// higher mark (StorageOptions::sqlite_writer_checkpoint_frames), which then has only the frames
// since the last background run to copy and sync.
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

  // `display` names the database in log messages. `interval` > 0.
  SqliteCheckpointer(Connect connect, std::string display, absl::Duration interval);
  ~SqliteCheckpointer();

  SqliteCheckpointer(const SqliteCheckpointer&) = delete;
  SqliteCheckpointer& operator=(const SqliteCheckpointer&) = delete;

 private:
  void Loop();
  // One PASSIVE checkpoint on session_ (opened when missing, dropped after a failure).
  void RunOnce();

  const Connect connect_;
  const std::string display_;
  const absl::Duration interval_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

  std::unique_ptr<soci::session> session_;  // the thread's only
  std::thread thread_;
};

}  // namespace storage_internal
}  // namespace semisync

#endif  // SEMISYNC_SERVER_STORAGE_SQLITE_CHECKPOINTER_H_
