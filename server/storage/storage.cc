// Storage through SOCI. See storage.h for the contract.
//
// Layout: one writer session (ApplyBatch, guarded by write_mu_) with its statements prepared once
// and bound to member variables, so applying an event only assigns values and re-executes; and a
// pool of read sessions, each borrowed by one read at a time and keeping GetRecord's statement
// prepared (run to its end after each use, so an idle session holds no SQLite snapshot). The
// writer session is dropped after any SOCI error and a read session after a lost connection; both
// are re-opened by the next call.
#include "server/storage/storage.h"

// Debian's SOCI is configured with SOCI_HAVE_BOOST, which only makes bind-values.h include
// Boost.Fusion to bind fusion sequences (header-only; the library's ABI does not depend on it). We
// bind no fusion sequences and do not depend on Boost headers, so switch it off.
#include <soci/soci-config.h>
#undef SOCI_HAVE_BOOST
#undef SOCI_HAVE_BOOST_DATE_TIME
#include <soci/soci.h>

#include <fcntl.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <exception>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/posix_file.h"
#include "common/status_macros.h"
#include "server/storage/connection_string.h"
#include "glog/logging.h"

namespace semisync {
namespace {

using storage_internal::Backend;
using storage_internal::ConnectionConfig;
using storage_internal::ParseConnection;

constexpr int kSqliteBusyTimeoutMs = 5000;
constexpr int kMaxListLimit = 10000;

// A SOCI (or other) exception as a Status: Unavailable for lost or refused connections.
absl::Status ErrorStatus(const std::exception& e, absl::string_view context) {
  const auto* se = dynamic_cast<const soci::soci_error*>(&e);
  // SOCI appends the bound values to its messages: keep a huge row out of logs and RPC errors.
  constexpr size_t kMaxDetail = 2048;
  absl::string_view detail = e.what();
  std::string message = absl::StrCat(context, ": ", detail.substr(0, kMaxDetail));
  if (detail.size() > kMaxDetail) {
    absl::StrAppend(&message, "... (", detail.size() - kMaxDetail, " more bytes)");
  }
  if (se != nullptr && se->get_error_category() == soci::soci_error::connection_error) {
    return absl::UnavailableError(std::move(message));
  }
  return absl::InternalError(std::move(message));
}

// Runs `f` (returning Status or StatusOr<T>), turning exceptions into a Status.
template <typename F>
auto RunSql(absl::string_view context, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::exception& e) {
    return ErrorStatus(e, context);
  }
}

template <typename T>
const absl::Status& StatusOf(const absl::StatusOr<T>& s) {
  return s.status();
}

// Most rows per upsert/delete statement on MySQL, where a statement is a round trip: a batch of n
// rows (last event per id) costs ceil(n / kMaxChunk) statements, each prepared once per size on
// first use. SQLite (in-process calls) applies single rows in order.
constexpr size_t kMaxChunk = 64;

struct Schema {
  std::vector<std::string> create;  // CREATE TABLE IF NOT EXISTS ..., then the repl_state row
  std::string upsert_tail;          // after "INSERT INTO records (...) VALUES (...), ..."
};

Schema SchemaFor(Backend backend) {
  const bool sqlite = backend == Backend::kSqlite;
  // INTEGER PRIMARY KEY is SQLite's spelling of a 64-bit key that is the rowid (no separate index).
  const std::string key = sqlite ? "INTEGER PRIMARY KEY NOT NULL" : "BIGINT NOT NULL PRIMARY KEY";
  const std::string text = sqlite ? "TEXT" : "LONGTEXT";
  const std::string engine = sqlite ? "" : " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";
  Schema s;
  s.create = {
      absl::StrCat("CREATE TABLE IF NOT EXISTS records (id ", key, ", content ", text,
                   " NOT NULL, created_at_us BIGINT NOT NULL, updated_at_us BIGINT NOT NULL)",
                   engine),
      absl::StrCat("CREATE TABLE IF NOT EXISTS semisync_repl_state (id INT NOT NULL PRIMARY KEY,"
                   " applied_position BIGINT NOT NULL, applied_gtid VARCHAR(128) NOT NULL,"
                   " applied_timestamp_us BIGINT NOT NULL, executed_gtid_set ",
                   text, " NOT NULL)", engine),
      absl::StrCat(sqlite ? "INSERT OR IGNORE" : "INSERT IGNORE",
                   " INTO semisync_repl_state VALUES (1, 0, '', 0, '')"),
  };
  s.upsert_tail =
      sqlite ? " ON CONFLICT(id) DO UPDATE SET content = excluded.content,"
               " created_at_us = excluded.created_at_us, updated_at_us = excluded.updated_at_us"
             : " ON DUPLICATE KEY UPDATE content = VALUES(content),"
               " created_at_us = VALUES(created_at_us), updated_at_us = VALUES(updated_at_us)";
  return s;
}

constexpr char kSetStateSql[] =
    "UPDATE semisync_repl_state SET applied_position = :position, applied_gtid = :gtid,"
    " applied_timestamp_us = :ts, executed_gtid_set = :gtid_set WHERE id = 1";

// Prepares `text` on `sql` once, `bind` adding its use() and into() elements; executing the
// statement again re-reads the variables those are bound to.
template <typename Bind>
std::unique_ptr<soci::statement> PrepareStatement(soci::session& sql, const std::string& text,
                                                  Bind&& bind) {
  auto st = std::make_unique<soci::statement>(sql);
  bind(*st);
  st->alloc();
  st->prepare(text);
  st->define_and_bind();
  return st;
}

struct RowVars {
  long long id = 0;
  std::string content;
  long long created_at_us = 0;
  long long updated_at_us = 0;
};

// The writer's session, its prepared statements and the variables they are bound to: applying a
// row assigns the variables and re-executes. Members are destroyed in reverse order: statements
// before the session. Methods throw soci::soci_error.
struct Writer {
  std::unique_ptr<soci::session> sql;
  // MySQL: the session runs with autocommit off, so a transaction starts with its first
  // statement and costs no BEGIN round trip. SQLite: BEGIN (an in-process call).
  bool implicit_begin = false;
  std::string upsert_tail;  // Schema::upsert_tail
  std::array<RowVars, kMaxChunk> rows;
  std::array<long long, kMaxChunk> delete_ids{};
  long long position = 0;
  std::string gtid;
  long long timestamp_us = 0;
  std::string gtid_set;
  std::vector<std::unique_ptr<soci::statement>> upserts;  // [n - 1]: n rows, once used
  std::vector<std::unique_ptr<soci::statement>> deletes;  // [n - 1]: n ids, once used
  std::unique_ptr<soci::statement> set_state;

  void Begin() {
    if (!implicit_begin) sql->begin();
  }
  void Commit() { sql->commit(); }
  void Rollback() { sql->rollback(); }

  // The statement upserting rows[0, n) / deleting delete_ids[0, n); 1 <= n <= kMaxChunk.
  soci::statement& Upsert(size_t n) {
    std::unique_ptr<soci::statement>& st = upserts[n - 1];
    if (st == nullptr) {
      std::vector<std::string> tuples;
      for (size_t j = 0; j < n; ++j) {
        tuples.push_back(absl::StrFormat("(:i%d, :c%d, :a%d, :u%d)", j, j, j, j));
      }
      st = Prepare(
          absl::StrCat("INSERT INTO records (id, content, created_at_us, updated_at_us) VALUES ",
                       absl::StrJoin(tuples, ", "), upsert_tail),
          [&](soci::statement& s) {
            for (size_t j = 0; j < n; ++j) {
              s.exchange(soci::use(rows[j].id, absl::StrCat("i", j)));
              s.exchange(soci::use(rows[j].content, absl::StrCat("c", j)));
              s.exchange(soci::use(rows[j].created_at_us, absl::StrCat("a", j)));
              s.exchange(soci::use(rows[j].updated_at_us, absl::StrCat("u", j)));
            }
          });
    }
    return *st;
  }
  soci::statement& Delete(size_t n) {
    std::unique_ptr<soci::statement>& st = deletes[n - 1];
    if (st == nullptr) {
      std::vector<std::string> ids;
      for (size_t j = 0; j < n; ++j) ids.push_back(absl::StrCat(":d", j));
      st = Prepare(absl::StrCat("DELETE FROM records WHERE id IN (", absl::StrJoin(ids, ", "), ")"),
                   [&](soci::statement& s) {
                     for (size_t j = 0; j < n; ++j) {
                       s.exchange(soci::use(delete_ids[j], absl::StrCat("d", j)));
                     }
                   });
    }
    return *st;
  }

  template <typename Bind>
  std::unique_ptr<soci::statement> Prepare(const std::string& text, Bind&& bind) {
    return PrepareStatement(*sql, text, std::forward<Bind>(bind));
  }
};

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

// Where ApplyBatch is, for error messages.
struct ApplyProgress {
  enum class Phase { kBegin, kRows, kState, kCommit, kRollback } phase = Phase::kBegin;
  size_t event = 0;  // kRows: the event applied, or the first of a multi-row statement
  size_t rows = 1;   // kRows: rows in the statement

  std::string Describe(absl::Span<const v1::BinlogEvent> events, const ReplState& state) const {
    const std::string batch = absl::StrCat("applying batch of ", events.size(), " events: ");
    switch (phase) {
      case Phase::kBegin:
        return absl::StrCat(batch, "BEGIN");
      case Phase::kRows: {
        const v1::BinlogEvent& e = events[event];
        return absl::StrCat(batch, "event ", event, " (position ", e.position(), ", gtid ",
                            e.gtid(), ", ", v1::RowOp_Name(e.op()), " id ", e.record().id(), ")",
                            rows > 1 ? absl::StrCat(" in a statement of ", rows, " rows") : "");
      }
      case Phase::kState:
        return absl::StrCat(batch, kSetStateSql, " (applied_position ", state.applied_position,
                            ")");
      case Phase::kCommit:
        return absl::StrCat(batch, "COMMIT");
      case Phase::kRollback:
        return absl::StrCat(batch, "ROLLBACK");
    }
    return batch;
  }
};

bool IsUpsert(v1::RowOp op) { return op == v1::ROW_OP_INSERT || op == v1::ROW_OP_UPDATE; }

void SetRow(const v1::Record& r, RowVars& v) {
  v.id = r.id();
  v.content = r.content();
  v.created_at_us = r.created_at_us();
  v.updated_at_us = r.updated_at_us();
}

absl::Status UnsupportedOp(absl::Span<const v1::BinlogEvent> events, const ReplState& state,
                           size_t i) {
  ApplyProgress at{ApplyProgress::Phase::kRows, i, 1};
  return absl::InvalidArgumentError(absl::StrCat(
      at.Describe(events, state), ": unsupported row op ", static_cast<int>(events[i].op())));
}

// Applies the events one by one, in order (SQLite: statements are in-process calls).
absl::Status ApplyInOrder(Writer& w, absl::Span<const v1::BinlogEvent> events,
                          const ReplState& state, ApplyProgress& at) {
  for (size_t i = 0; i < events.size(); ++i) {
    const v1::BinlogEvent& e = events[i];
    at.event = i;
    if (IsUpsert(e.op())) {
      SetRow(e.record(), w.rows[0]);
      w.Upsert(1).execute(true);
    } else if (e.op() == v1::ROW_OP_DELETE) {
      w.delete_ids[0] = e.record().id();
      w.Delete(1).execute(true);
    } else {
      return UnsupportedOp(events, state, i);
    }
  }
  return absl::OkStatus();
}

// Applies the last event of each id, in multi-row statements (MySQL: a statement is a round trip).
// Every event is a full row image or a delete by id, so a batch has the effect of its last event
// per id, and those (on distinct ids) can be applied in any order.
absl::Status ApplyCoalesced(Writer& w, absl::Span<const v1::BinlogEvent> events,
                            const ReplState& state, ApplyProgress& at) {
  std::unordered_map<int64_t, size_t> last;
  last.reserve(events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    const v1::RowOp op = events[i].op();
    if (!IsUpsert(op) && op != v1::ROW_OP_DELETE) return UnsupportedOp(events, state, i);
    last[events[i].record().id()] = i;
  }
  std::vector<size_t> upserts, deletes;
  for (size_t i = 0; i < events.size(); ++i) {
    if (last[events[i].record().id()] != i) continue;
    (IsUpsert(events[i].op()) ? upserts : deletes).push_back(i);
  }
  // Runs the rows `idx` through statement(n) in chunks of n <= kMaxChunk, bind(j, record)
  // setting row j's values.
  auto run = [&](const std::vector<size_t>& idx, auto&& statement, auto&& bind) {
    for (size_t done = 0; done < idx.size();) {
      const size_t n = std::min(kMaxChunk, idx.size() - done);
      for (size_t j = 0; j < n; ++j) bind(j, events[idx[done + j]].record());
      at.event = idx[done];
      at.rows = n;
      statement(n).execute(true);
      done += n;
    }
  };
  run(
      upserts, [&](size_t n) -> soci::statement& { return w.Upsert(n); },
      [&](size_t j, const v1::Record& r) { SetRow(r, w.rows[j]); });
  run(
      deletes, [&](size_t n) -> soci::statement& { return w.Delete(n); },
      [&](size_t j, const v1::Record& r) { w.delete_ids[j] = r.id(); });
  return absl::OkStatus();
}

// One attempt at writing a batch on `w`: its rows and the new state, in a transaction begun here
// and left open (WriteOnce) or committed (commit = true). *soci_failed tells a SOCI error (the
// session may be unusable) from an invalid batch (rolled back; the session is fine).
absl::Status WriteOnce(Writer& w, Backend backend, absl::Span<const v1::BinlogEvent> events,
                       const ReplState& state, StateUpdate update, bool commit,
                       bool* soci_failed) {
  ApplyProgress at;
  try {
    w.Begin();
    at.phase = ApplyProgress::Phase::kRows;
    absl::Status status = backend == Backend::kSqlite ? ApplyInOrder(w, events, state, at)
                                                      : ApplyCoalesced(w, events, state, at);
    if (!status.ok()) {
      at.phase = ApplyProgress::Phase::kRollback;
      w.Rollback();
      return status;
    }
    if (update == StateUpdate::kWrite) {
      at.phase = ApplyProgress::Phase::kState;
      w.position = static_cast<long long>(state.applied_position);
      w.gtid = state.applied_gtid;
      w.timestamp_us = state.applied_timestamp_us;
      w.gtid_set = state.executed_gtid_set;
      w.set_state->execute(true);
    }
    if (commit) {
      at.phase = ApplyProgress::Phase::kCommit;
      w.Commit();
      VLOG(2) << "storage: applied " << events.size() << " events, position "
              << state.applied_position;
    }
    return absl::OkStatus();
  } catch (const std::exception& e) {
    *soci_failed = true;
    return ErrorStatus(e, at.Describe(events, state));
  }
}

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
  // Committed WAL frames are in the -wal file (written at commit); frames already checkpointed
  // were synced into the database file by the checkpoint (synchronous=NORMAL syncs it then).
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
