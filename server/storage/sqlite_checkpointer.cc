// SqliteCheckpointer: see sqlite_checkpointer.h.
#include "server/storage/sqlite_checkpointer.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/thread_name.h"
#include "glog/logging.h"

namespace semisync {
namespace storage_internal {

SqliteCheckpointer::SqliteCheckpointer(Connect connect, std::string display,
                                       absl::Duration interval)
    : connect_(std::move(connect)), display_(std::move(display)), interval_(interval) {
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
  // Columns: whether it was blocked (another checkpoint ran), frames in the WAL, frames of the
  // WAL now in the database file (both -1 when the database is not in WAL mode).
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
  VLOG(2) << "storage: checkpoint of " << display_ << ": " << backfilled << " of " << wal_frames
          << " WAL frames in the database file" << (busy != 0 ? " (another was running)" : "");
}

}  // namespace storage_internal
}  // namespace semisync
