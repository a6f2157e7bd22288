// Storage through SOCI. See storage.h for the contract.
//
// Layout: one writer session (ApplyBatch, guarded by write_mu_) with its statements prepared once
// and bound to member variables, so applying an event only assigns values and re-executes; and a
// pool of read sessions, each borrowed by one read at a time and keeping GetRecord's statement
// prepared (run to its end after each use, so an idle session holds no SQLite snapshot). The
// writer session is dropped after any SOCI error and a read session after a lost connection; both
// are re-opened by the next call. How a batch becomes SQL on the writer session (schema, prepared
// multi-row statements, one transaction per batch) is batch_writer.h; SOCI helpers soci_util.h.
#include "server/storage/storage.h"

#include <fcntl.h>

#include <algorithm>
#include <exception>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/posix_file.h"
#include "common/status_macros.h"
#include "server/storage/batch_writer.h"
#include "server/storage/connection_string.h"
#include "server/storage/soci_util.h"
#include "server/storage/sqlite_checkpointer.h"
#include "glog/logging.h"

namespace semisync {
namespace {

using storage_internal::Backend;
using storage_internal::ConnectionConfig;
using storage_internal::ErrorStatus;
using storage_internal::kMaxChunk;
using storage_internal::kSetStateSql;
using storage_internal::ParseConnection;
using storage_internal::PrepareStatement;
using storage_internal::RunSql;
using storage_internal::Schema;
using storage_internal::SchemaFor;
using storage_internal::SqliteCheckpointer;
using storage_internal::Writer;
using storage_internal::WriteOnce;

constexpr int kSqliteBusyTimeoutMs = 5000;
constexpr int kMaxListLimit = 10000;

template <typename T>
const absl::Status& StatusOf(const absl::StatusOr<T>& s) {
  return s.status();
}

constexpr char kGetRecordSql[] =
    "SELECT content, created_at_us, updated_at_us FROM records WHERE id = :id";

// A pooled read session and the statement of the hottest read, GetRecord, kept prepared on it
// (on SQLite compiling the SELECT cost more than running it). Members are destroyed in reverse
// order: the statement before the session.
struct ReadSession {
  std::unique_ptr<soci::session> sql;
  // GetRecord: prepared on first use; its variables are bound to the members below.
  std::unique_ptr<soci::statement> get_record;
  long long id = 0;
  std::string content;
  long long created_at_us = 0;
  long long updated_at_us = 0;
};

absl::Status StagedError(absl::string_view call) {
  return absl::FailedPreconditionError(
      absl::StrCat("storage: ", call, " while a staged batch is neither committed nor aborted"));
}

}  // namespace

// Storage's state and helpers; the public methods are Storage's own, below.
class Storage::Impl {
 public:
  Impl(ConnectionConfig cfg, const StorageOptions& options)
      : cfg_(std::move(cfg)), options_(options), schema_(SchemaFor(cfg_.backend)) {}

  absl::Status Init();

  // A connected and configured session.
  absl::StatusOr<std::unique_ptr<soci::session>> Connect(const std::string& connect);
  absl::Status CreateDatabase();
  // Storage::SyncToDisk for MySQL/MariaDB (see storage.h).
  absl::Status SyncInnoDbLog(absl::Duration timeout);
  absl::Status OpenWriterLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  // ApplyBatch (commit) and StageBatch (!commit) on the writer session.
  absl::Status WriteBatchLocked(absl::Span<const v1::BinlogEvent> events, const ReplState& state,
                                StateUpdate update, bool commit)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);

  // Runs f(session&) on a borrowed read session. A session whose call failed with Unavailable is
  // dropped, and the call is retried once on a fresh session when the failed one had been idle in
  // the pool (its connection may have timed out); reads are idempotent.
  template <typename F>
  auto WithReader(absl::string_view context, F&& f) -> decltype(f(std::declval<soci::session&>()));
  // The same with the whole ReadSession (its prepared statements). A failed call also drops
  // them: after an error a statement's state is not to be trusted.
  template <typename F>
  auto WithReadSession(absl::string_view context, F&& f)
      -> decltype(f(std::declval<ReadSession&>()));
  absl::StatusOr<std::unique_ptr<ReadSession>> Borrow(bool* reused);
  void GiveBack(std::unique_ptr<ReadSession> session);

  const ConnectionConfig cfg_;
  const StorageOptions options_;
  const Schema schema_;

  absl::Mutex write_mu_;
  std::unique_ptr<Writer> writer_ ABSL_GUARDED_BY(write_mu_);
  // A StageBatch is open on writer_ (which is then never null).
  bool staged_ ABSL_GUARDED_BY(write_mu_) = false;

  absl::Mutex pool_mu_;
  // Idle read sessions; null slots are re-opened when borrowed. Its size plus the borrowed
  // sessions is always the pool size.
  std::vector<std::unique_ptr<ReadSession>> idle_ ABSL_GUARDED_BY(pool_mu_);

  // SQLite with a checkpoint interval: the background checkpoints. Declared last, so it stops
  // first.
  std::unique_ptr<SqliteCheckpointer> checkpointer_;
};

absl::StatusOr<std::unique_ptr<soci::session>> Storage::Impl::Connect(const std::string& connect) {
  std::unique_ptr<soci::session> sql;
  try {
    sql = std::make_unique<soci::session>(connect);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("cannot connect to ", cfg_.display, ": ", e.what()));
  }
  if (cfg_.backend == Backend::kSqlite) {
    absl::Status s = RunSql(absl::StrCat("configuring ", cfg_.display), [&] {
      int timeout = 0;
      *sql << "PRAGMA busy_timeout = " << kSqliteBusyTimeoutMs, soci::into(timeout);
      std::string mode;
      *sql << "PRAGMA journal_mode = WAL", soci::into(mode);
      if (mode != "wal") {
        return absl::FailedPreconditionError(
            absl::StrCat("sqlite journal_mode is \"", mode, "\", not \"wal\""));
      }
      *sql << (options_.sync_commits ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
      if (options_.sqlite_checkpoint_interval > absl::ZeroDuration()) {
        // Only a session that commits writes checkpoints by itself: the writer.
        int frames = 0;
        *sql << "PRAGMA wal_autocheckpoint = " << options_.sqlite_writer_checkpoint_frames,
            soci::into(frames);
      }
      return absl::OkStatus();
    });
    RETURN_IF_ERROR(s);
  }
  return sql;
}

absl::Status Storage::Impl::CreateDatabase() {
  ASSIGN_OR_RETURN(std::unique_ptr<soci::session> sql, Connect(cfg_.bootstrap));
  // The name was validated as [A-Za-z0-9_]+, so quoting it with backticks is safe.
  const std::string ddl =
      absl::StrCat("CREATE DATABASE IF NOT EXISTS `", cfg_.database, "` CHARACTER SET utf8mb4");
  return RunSql(ddl, [&] {
    *sql << ddl;
    return absl::OkStatus();
  });
}

absl::Status Storage::Impl::OpenWriterLocked() {
  ASSIGN_OR_RETURN(std::unique_ptr<soci::session> sql, Connect(cfg_.connect));
  auto w = std::make_unique<Writer>();
  w->sql = std::move(sql);
  w->upsert_tail = schema_.upsert_tail;
  w->upserts.resize(kMaxChunk);
  w->deletes.resize(kMaxChunk);
  RETURN_IF_ERROR(RunSql(absl::StrCat("preparing the writer session on ", cfg_.display), [&] {
    if (cfg_.backend == Backend::kMysql) {
      *w->sql << "SET autocommit = 0";
      w->implicit_begin = true;
    }
    w->set_state = w->Prepare(kSetStateSql, [&](soci::statement& st) {
      st.exchange(soci::use(w->position, "position"));
      st.exchange(soci::use(w->gtid, "gtid"));
      st.exchange(soci::use(w->timestamp_us, "ts"));
      st.exchange(soci::use(w->gtid_set, "gtid_set"));
    });
    return absl::OkStatus();
  }));
  writer_ = std::move(w);
  return absl::OkStatus();
}

absl::Status Storage::Impl::Init() {
  if (cfg_.backend == Backend::kSqlite &&
      options_.sqlite_checkpoint_interval > absl::ZeroDuration() &&
      options_.sqlite_writer_checkpoint_frames < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("sqlite_writer_checkpoint_frames must be at least 1, got ",
                     options_.sqlite_writer_checkpoint_frames));
  }
  if (cfg_.backend == Backend::kMysql) RETURN_IF_ERROR(CreateDatabase());
  absl::MutexLock lock(&write_mu_);
  {
    ASSIGN_OR_RETURN(std::unique_ptr<soci::session> sql, Connect(cfg_.connect));
    for (const std::string& ddl : schema_.create) {
      RETURN_IF_ERROR(RunSql(absl::StrCat("creating schema on ", cfg_.display, ": ", ddl), [&] {
        *sql << ddl;
        return absl::OkStatus();
      }));
    }
  }
  RETURN_IF_ERROR(OpenWriterLocked());
  const int n = std::max(1, options_.read_sessions);
  std::vector<std::unique_ptr<ReadSession>> readers;
  for (int i = 0; i < n; ++i) {
    auto session = std::make_unique<ReadSession>();
    ASSIGN_OR_RETURN(session->sql, Connect(cfg_.connect));
    readers.push_back(std::move(session));
  }
  {
    absl::MutexLock pool_lock(&pool_mu_);
    idle_ = std::move(readers);
  }
  if (cfg_.backend == Backend::kSqlite &&
      options_.sqlite_checkpoint_interval > absl::ZeroDuration()) {
    checkpointer_ = std::make_unique<SqliteCheckpointer>(
        [this] { return Connect(cfg_.connect); }, cfg_.sqlite_path, cfg_.display,
        options_.sqlite_checkpoint_interval);
  }
  LOG(INFO) << "storage: opened " << cfg_.display << " (" << n << " read sessions"
            << (cfg_.backend == Backend::kSqlite
                    ? (options_.sync_commits ? ", synchronous=FULL" : ", synchronous=NORMAL")
                    : "")
            << ")";
  return absl::OkStatus();
}

absl::Status Storage::Impl::WriteBatchLocked(absl::Span<const v1::BinlogEvent> events,
                                             const ReplState& state, StateUpdate update,
                                             bool commit) {
  // Batches are idempotent: one that failed on a lost connection is retried once on a new session
  // when the old one was opened before this call (a restarted server, an idle timeout).
  for (int attempt = 0;; ++attempt) {
    const bool reused = writer_ != nullptr;
    if (!reused) RETURN_IF_ERROR(OpenWriterLocked());
    bool soci_failed = false;
    absl::Status status =
        WriteOnce(*writer_, cfg_.backend, events, state, update, commit, &soci_failed);
    if (status.ok() || !soci_failed) return status;
    // After a SOCI error the session's transaction state is uncertain: start afresh.
    writer_.reset();
    LOG(WARNING) << "storage: " << status;
    if (!absl::IsUnavailable(status) || !reused || attempt > 0) return status;
    LOG(WARNING) << "storage: retrying the batch on a new session";
  }
}

absl::Status Storage::ApplyBatch(absl::Span<const v1::BinlogEvent> events, const ReplState& state,
                                 StateUpdate update) {
  absl::MutexLock lock(&impl_->write_mu_);
  if (impl_->staged_) return StagedError("ApplyBatch");
  return impl_->WriteBatchLocked(events, state, update, /*commit=*/true);
}

absl::Status Storage::StageBatch(absl::Span<const v1::BinlogEvent> events, const ReplState& state,
                                 StateUpdate update) {
  absl::MutexLock lock(&impl_->write_mu_);
  if (impl_->staged_) return StagedError("StageBatch");
  RETURN_IF_ERROR(impl_->WriteBatchLocked(events, state, update, /*commit=*/false));
  impl_->staged_ = true;
  return absl::OkStatus();
}

absl::Status Storage::CommitStaged(absl::Span<const v1::BinlogEvent> events,
                                   const ReplState& state) {
  Impl& impl = *impl_;
  absl::MutexLock lock(&impl.write_mu_);
  if (!impl.staged_) {
    return absl::FailedPreconditionError("storage: CommitStaged without a staged batch");
  }
  impl.staged_ = false;
  absl::Status s = RunSql("applying a staged batch: COMMIT", [&] {
    impl.writer_->Commit();
    return absl::OkStatus();
  });
  if (s.ok()) return s;
  // The session is in doubt: whether or not the commit happened, applying the batch again on a
  // new session (it is idempotent) leaves the database as if it had. Recording `state` with it
  // is right whether or not the staged batch was to.
  impl.writer_.reset();
  LOG(WARNING) << "storage: " << s << "; applying the batch again on a new session";
  return impl.WriteBatchLocked(events, state, StateUpdate::kWrite, /*commit=*/true);
}

void Storage::AbortStaged() {
  Impl& impl = *impl_;
  absl::MutexLock lock(&impl.write_mu_);
  if (!impl.staged_) return;
  impl.staged_ = false;
  absl::Status s = RunSql("rolling back a staged batch", [&] {
    impl.writer_->Rollback();
    return absl::OkStatus();
  });
  if (!s.ok()) {
    LOG(WARNING) << "storage: " << s << "; dropping the writer session";
    impl.writer_.reset();
  }
}

absl::StatusOr<std::unique_ptr<ReadSession>> Storage::Impl::Borrow(bool* reused) {
  std::unique_ptr<ReadSession> session;
  {
    absl::MutexLock lock(&pool_mu_);
    pool_mu_.Await(absl::Condition(
        +[](std::vector<std::unique_ptr<ReadSession>>* idle) { return !idle->empty(); }, &idle_));
    session = std::move(idle_.back());
    idle_.pop_back();
  }
  *reused = session != nullptr;
  if (session != nullptr) return session;
  absl::StatusOr<std::unique_ptr<soci::session>> fresh = Connect(cfg_.connect);
  if (!fresh.ok()) {
    GiveBack(nullptr);
    return fresh.status();
  }
  session = std::make_unique<ReadSession>();
  session->sql = std::move(*fresh);
  return session;
}

void Storage::Impl::GiveBack(std::unique_ptr<ReadSession> session) {
  absl::MutexLock lock(&pool_mu_);
  idle_.push_back(std::move(session));
}

template <typename F>
auto Storage::Impl::WithReader(absl::string_view context, F&& f)
    -> decltype(f(std::declval<soci::session&>())) {
  return WithReadSession(context, [&f](ReadSession& session) { return f(*session.sql); });
}

template <typename F>
auto Storage::Impl::WithReadSession(absl::string_view context, F&& f)
    -> decltype(f(std::declval<ReadSession&>())) {
  for (int attempt = 0;; ++attempt) {
    bool reused = false;
    ASSIGN_OR_RETURN(std::unique_ptr<ReadSession> session, Borrow(&reused));
    auto result = RunSql(context, [&] { return f(*session); });
    const absl::Status& status = StatusOf(result);
    if (!status.ok()) session->get_record.reset();
    if (status.ok() || !absl::IsUnavailable(status)) {
      GiveBack(std::move(session));
      return result;
    }
    session.reset();
    GiveBack(nullptr);
    if (!reused || attempt > 0) return result;
    LOG(WARNING) << "storage: read session failed, retrying on a new one: " << status;
  }
}

absl::Status Storage::Impl::SyncInnoDbLog(absl::Duration timeout) {
  static constexpr char kContext[] = "checking that InnoDB's redo log is on disk";
  ASSIGN_OR_RETURN(long long flush_mode,
                   WithReader(kContext, [](soci::session& sql) -> absl::StatusOr<long long> {
                     long long mode = -1;
                     sql << "SELECT CAST(@@GLOBAL.innodb_flush_log_at_trx_commit AS SIGNED)",
                         soci::into(mode);
                     return mode;
                   }));
  if (flush_mode == 1 || flush_mode == 3) return absl::OkStatus();  // every commit is fsynced
  auto lsn = [this, flush_mode](const char* name) -> absl::StatusOr<uint64_t> {
    return WithReader(kContext, [name, flush_mode](soci::session& sql) -> absl::StatusOr<uint64_t> {
      std::string variable;
      std::string value;
      sql << absl::StrCat("SHOW GLOBAL STATUS LIKE '", name, "'"), soci::into(variable),
          soci::into(value);
      uint64_t v = 0;
      if (!sql.got_data() || !absl::SimpleAtoi(value, &v)) {
        return absl::FailedPreconditionError(absl::StrCat(
            "innodb_flush_log_at_trx_commit=", flush_mode,
            " leaves commits off disk for a while, and this "
            "server does not report ", name, " to tell when they are on disk; use MariaDB or set "
            "innodb_flush_log_at_trx_commit=1"));
      }
      return v;
    });
  };
  ASSIGN_OR_RETURN(uint64_t target, lsn("Innodb_lsn_current"));
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    ASSIGN_OR_RETURN(uint64_t flushed, lsn("Innodb_lsn_flushed"));
    if (flushed >= target) return absl::OkStatus();
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "InnoDB's redo log was flushed up to LSN ", flushed, ", not yet to ", target, " after ",
          absl::FormatDuration(timeout), " (innodb_flush_log_at_trx_commit=", flush_mode, ")"));
    }
    // InnoDB flushes its log about once a second with innodb_flush_log_at_trx_commit=0 or 2.
    absl::SleepFor(absl::Milliseconds(20));
  }
}

absl::Status Storage::SyncToDisk(absl::Duration timeout) {
  if (impl_->cfg_.backend != Backend::kSqlite) return impl_->SyncInnoDbLog(timeout);
  const std::string& db = impl_->cfg_.sqlite_path;
  // Committed WAL frames are in the -wal file (written at commit) until a checkpoint that copied
  // them has synced the database file (synchronous=NORMAL syncs it then); copied frames not yet
  // synced there are still in the WAL. Syncing both covers every committed batch.
  for (const std::string& path : {db + "-wal", db}) {
    absl::StatusOr<UniqueFd> fd = OpenFile(path, O_RDONLY);
    if (absl::IsNotFound(fd.status())) continue;
    if (!fd.ok()) return fd.status();
    RETURN_IF_ERROR(DataSync(fd->get(), path));
  }
  return absl::OkStatus();
}

absl::StatusOr<ReplState> Storage::GetReplState() {
  static constexpr char kSql[] =
      "SELECT applied_position, applied_gtid, applied_timestamp_us, executed_gtid_set"
      " FROM semisync_repl_state WHERE id = 1";
  return impl_->WithReader(kSql, [&](soci::session& sql) -> absl::StatusOr<ReplState> {
    long long position = 0;
    long long timestamp_us = 0;
    ReplState state;
    sql << kSql, soci::into(position), soci::into(state.applied_gtid), soci::into(timestamp_us),
        soci::into(state.executed_gtid_set);
    if (!sql.got_data()) {
      return absl::DataLossError("semisync_repl_state has no row with id 1");
    }
    state.applied_position = static_cast<uint64_t>(position);
    state.applied_timestamp_us = timestamp_us;
    return state;
  });
}

absl::StatusOr<v1::Record> Storage::GetRecord(int64_t id) {
  return impl_->WithReadSession(kGetRecordSql, [&](ReadSession& s) -> absl::StatusOr<v1::Record> {
    if (s.get_record == nullptr) {
      s.get_record = PrepareStatement(*s.sql, kGetRecordSql, [&s](soci::statement& st) {
        st.exchange(soci::into(s.content));
        st.exchange(soci::into(s.created_at_us));
        st.exchange(soci::into(s.updated_at_us));
        st.exchange(soci::use(s.id, "id"));
      });
    }
    s.id = id;
    if (!s.get_record->execute(/*withDataExchange=*/true)) {
      return absl::NotFoundError(absl::StrCat("record ", id, " not found"));
    }
    // Run the statement to its end (id is the key: there is no second row). On SQLite a
    // statement that has not finished keeps its read transaction, and so its WAL snapshot, open
    // until it runs again, which would hold checkpoints back while the session is idle.
    s.get_record->fetch();
    v1::Record record;
    record.set_id(id);
    record.set_content(std::move(s.content));
    record.set_created_at_us(s.created_at_us);
    record.set_updated_at_us(s.updated_at_us);
    return record;
  });
}

absl::StatusOr<std::vector<v1::Record>> Storage::ListRecords(int64_t after_id, int limit) {
  static constexpr char kSql[] =
      "SELECT id, content, created_at_us, updated_at_us FROM records WHERE id > :after"
      " ORDER BY id LIMIT :limit";
  const long long n = std::clamp(limit, 1, kMaxListLimit);
  return impl_->WithReader(
      kSql, [&](soci::session& sql) -> absl::StatusOr<std::vector<v1::Record>> {
        long long after = after_id;
        // The vectors' size is the fetch size. At least 2: SOCI 4.0.3's sqlite3 backend fetches no
        // rows into vectors of size 1. LIMIT keeps the result at n rows.
        const size_t fetch = std::max<long long>(n, 2);
        std::vector<long long> ids(fetch), created(fetch), updated(fetch);
        std::vector<std::string> contents(fetch);
        sql << kSql, soci::into(ids), soci::into(contents), soci::into(created),
            soci::into(updated), soci::use(after, "after"), soci::use(n, "limit");
        if (!sql.got_data()) return std::vector<v1::Record>();
        std::vector<v1::Record> records(ids.size());
        for (size_t i = 0; i < ids.size(); ++i) {
          records[i].set_id(ids[i]);
          records[i].set_content(std::move(contents[i]));
          records[i].set_created_at_us(created[i]);
          records[i].set_updated_at_us(updated[i]);
        }
        return records;
      });
}

absl::StatusOr<int64_t> Storage::MaxRecordId() {
  static constexpr char kSql[] = "SELECT COALESCE(MAX(id), 0) FROM records";
  return impl_->WithReader(kSql, [&](soci::session& sql) -> absl::StatusOr<int64_t> {
    long long max_id = 0;
    sql << kSql, soci::into(max_id);
    return static_cast<int64_t>(max_id);
  });
}

absl::StatusOr<int64_t> Storage::CountRecords() {
  static constexpr char kSql[] = "SELECT COUNT(*) FROM records";
  return impl_->WithReader(kSql, [&](soci::session& sql) -> absl::StatusOr<int64_t> {
    long long count = 0;
    sql << kSql, soci::into(count);
    return static_cast<int64_t>(count);
  });
}

// ---------------------------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<Storage>> Storage::Open(const StorageOptions& options) {
  ASSIGN_OR_RETURN(ConnectionConfig cfg, ParseConnection(options.connection));
  auto impl = std::make_unique<Impl>(std::move(cfg), options);
  RETURN_IF_ERROR(impl->Init());
  return std::unique_ptr<Storage>(new Storage(std::move(impl)));
}

Storage::Storage(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Storage::~Storage() = default;

const std::string& Storage::backend() const { return impl_->cfg_.backend_name; }

}  // namespace semisync
