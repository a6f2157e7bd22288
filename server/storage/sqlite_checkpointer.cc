// SqliteCheckpointer: see sqlite_checkpointer.h.
#include "server/storage/sqlite_checkpointer.h"

#include <fcntl.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/posix_file.h"
#include "common/thread_name.h"
#include "glog/logging.h"

namespace semisync {
namespace storage_internal {

SqliteCheckpointer::SqliteCheckpointer(Connect connect, std::string db_path, std::string display,
                                       absl::Duration interval)
    : connect_(std::move(connect)),
      db_path_(std::move(db_path)),
      display_(std::move(display)),
      interval_(interval) {
  thread_ = StartNamedThread("checkpointer", [this] { Loop(); });
}

SqliteCheckpointer::~SqliteCheckpointer() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void SqliteCheckpointer::Loop() {
  while (true) {
    {
      absl::MutexLock l(&mu_);
      auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
      if (mu_.AwaitWithTimeout(absl::Condition(&stop), interval_)) break;
    }
    RunOnce();
  }
  session_.reset();
}

void SqliteCheckpointer::RunOnce() {
  if (session_ == nullptr) {
    absl::StatusOr<std::unique_ptr<soci::session>> s = connect_();
    if (!s.ok()) {
      LOG_EVERY_N(WARNING, 100) << "storage: background checkpoint of " << display_
                                << " cannot open a session: " << s.status();
      return;
    }
    session_ = std::move(*s);
  }
  // Columns: whether another checkpoint was running (then both counts are -1), the frames the WAL
  // held when this run began, and how many of them are now in the database file (-1 and -1 when
  // the database is not in WAL mode).
  int busy = 0;
  long long wal_frames = 0;
  long long backfilled = 0;
  absl::Status s = RunSql(absl::StrCat("checkpointing ", display_), [&] {
    *session_ << "PRAGMA wal_checkpoint(PASSIVE)", soci::into(busy), soci::into(wal_frames),
        soci::into(backfilled);
    return absl::OkStatus();
  });
  if (!s.ok()) {
    LOG_EVERY_N(WARNING, 100) << "storage: background checkpoint failed (the writer's own "
                              << "checkpoint still bounds the WAL): " << s;
    session_.reset();
    return;
  }
  VLOG(2) << "storage: checkpoint of " << display_ << ": "
          << (busy != 0 ? "another was running"
                        : absl::StrCat(backfilled, " of the ", wal_frames,
                                       " WAL frames there at the start are in the database file"));
  // A count below the previous one: the WAL started over meanwhile (after a complete checkpoint,
  // which synced the file), so only what this run copied is unsynced.
  const bool copied = backfilled > 0 && backfilled != last_backfilled_;
  if (backfilled >= 0) last_backfilled_ = backfilled;
  if (!copied) return;
  // SQLite syncs the database file only after a run that copied the whole WAL; sync what this
  // one copied now, so that the writer's checkpoint (or SyncToDisk) has little left to sync.
  absl::StatusOr<UniqueFd> fd = OpenFile(db_path_, O_RDONLY);
  absl::Status synced = fd.ok() ? DataSync(fd->get(), db_path_) : fd.status();
  if (!synced.ok()) {
    LOG_EVERY_N(WARNING, 100) << "storage: syncing " << display_ << " after a checkpoint "
                              << "failed (the next complete checkpoint syncs it): " << synced;
  }
}

}  // namespace storage_internal
}  // namespace semisync
