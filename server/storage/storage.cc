// Storage through SOCI. See storage.h for the contract.
//
// Layout: one writer session (ApplyBatch, guarded by write_mu_) with its statements prepared once
// and bound to member variables, so applying an event only assigns values and re-executes; and a
// pool of read sessions, each borrowed by one read at a time. A session that failed with a SOCI
// error is dropped and re-opened lazily by the next call, so a restarted MySQL server or a lost
// connection costs one failed call, not the process.
#include "server/storage/storage.h"

// Debian's SOCI is configured with SOCI_HAVE_BOOST, which only makes bind-values.h include
// Boost.Fusion to bind fusion sequences (header-only; the library's ABI does not depend on it). We
// bind no fusion sequences and do not depend on Boost headers, so switch it off.
#include <soci/soci-config.h>
#undef SOCI_HAVE_BOOST
#undef SOCI_HAVE_BOOST_DATE_TIME
#include <soci/soci.h>

#include <algorithm>
#include <cctype>
#include <exception>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/status_macros.h"
#include "glog/logging.h"

namespace semisync {
namespace {

constexpr absl::string_view kSqlitePrefix = "sqlite3://";
constexpr absl::string_view kMysqlPrefix = "mysql://";
constexpr int kSqliteBusyTimeoutMs = 5000;
constexpr int kMysqlConnectTimeoutS = 10;
constexpr int kMaxListLimit = 10000;

enum class Backend { kSqlite, kMysql };

// One "key=value" of a SOCI connection string; `raw` is the token as written (value quoting kept).
struct ConnParam {
  std::string key;
  std::string value;
  std::string raw;
};

// What Open() needs to know about options.connection.
struct ConnectionConfig {
  Backend backend;
  std::string backend_name;  // "sqlite3" or "mysql"
  std::string connect;       // the SOCI connection string for every session
  std::string bootstrap;     // mysql: `connect` without db=, used to create the database
  std::string database;      // mysql: the db= name
  std::string display;       // `connect` with the password masked, for messages
};

// Splits "k1=v1 k2='v 2'" into parameters. Values may be quoted with ' or ".
absl::StatusOr<std::vector<ConnParam>> ParseParams(absl::string_view s) {
  std::vector<ConnParam> params;
  size_t i = 0;
  while (i < s.size()) {
    if (std::isspace(static_cast<unsigned char>(s[i]))) {
      ++i;
      continue;
    }
    const size_t start = i;
    const size_t eq = s.find('=', i);
    if (eq == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("connection string: expected key=value at \"", s.substr(start), "\""));
    }
    ConnParam p;
    p.key = std::string(s.substr(start, eq - start));
    i = eq + 1;
    if (i < s.size() && (s[i] == '\'' || s[i] == '"')) {
      const char quote = s[i];
      const size_t end = s.find(quote, i + 1);
      if (end == absl::string_view::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat("connection string: unterminated quote in value of ", p.key));
      }
      p.value = std::string(s.substr(i + 1, end - i - 1));
      i = end + 1;
    } else {
      const size_t value_start = i;
      while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i]))) ++i;
      p.value = std::string(s.substr(value_start, i - value_start));
    }
    p.raw = std::string(s.substr(start, i - start));
    if (p.key.empty() || p.key.find_first_of(" \t") != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("connection string: bad parameter \"", p.raw, "\""));
    }
    params.push_back(std::move(p));
  }
  return params;
}

bool IsValidDatabaseName(absl::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

absl::StatusOr<ConnectionConfig> ParseConnection(absl::string_view connection) {
  ConnectionConfig cfg;
  if (absl::StartsWith(connection, kSqlitePrefix)) {
    if (connection.size() == kSqlitePrefix.size()) {
      return absl::InvalidArgumentError(
          "sqlite3 connection string names no database file: use sqlite3://db=/path/file.db");
    }
    cfg.backend = Backend::kSqlite;
    cfg.backend_name = "sqlite3";
    cfg.connect = std::string(connection);
    cfg.display = cfg.connect;
    return cfg;
  }
  if (!absl::StartsWith(connection, kMysqlPrefix)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unsupported connection string \"", connection,
        "\": expected \"sqlite3://db=/path/file.db\" or "
        "\"mysql://host=H port=P db=D user=U password=W\""));
  }
  cfg.backend = Backend::kMysql;
  cfg.backend_name = "mysql";
  ASSIGN_OR_RETURN(std::vector<ConnParam> params,
                   ParseParams(connection.substr(kMysqlPrefix.size())));
  std::vector<std::string> all, without_db, display;
  bool has_charset = false, has_timeout = false;
  for (const ConnParam& p : params) {
    all.push_back(p.raw);
    display.push_back(p.key == "password" || p.key == "pass" ? p.key + "=***" : p.raw);
    if (p.key == "db" || p.key == "dbname" || p.key == "service") {
      if (!IsValidDatabaseName(p.value)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "mysql database name \"", p.value, "\" is invalid: use 1-64 of [A-Za-z0-9_]"));
      }
      cfg.database = p.value;
      continue;
    }
    has_charset |= p.key == "charset";
    has_timeout |= p.key == "connect_timeout";
    without_db.push_back(p.raw);
  }
  if (cfg.database.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("mysql connection string \"", absl::StrJoin(display, " "),
                     "\" names no database: add db=NAME"));
  }
  std::vector<std::string> extra;
  if (!has_charset) extra.push_back("charset=utf8mb4");
  if (!has_timeout) extra.push_back(absl::StrCat("connect_timeout=", kMysqlConnectTimeoutS));
  for (auto* v : {&all, &without_db, &display}) v->insert(v->end(), extra.begin(), extra.end());
  cfg.connect = absl::StrCat(kMysqlPrefix, absl::StrJoin(all, " "));
  cfg.bootstrap = absl::StrCat(kMysqlPrefix, absl::StrJoin(without_db, " "));
  cfg.display = absl::StrCat(kMysqlPrefix, absl::StrJoin(display, " "));
  return cfg;
}

// A SOCI (or other) exception as a Status: Unavailable for lost or refused connections.
absl::Status ErrorStatus(const std::exception& e, absl::string_view context) {
  const auto* se = dynamic_cast<const soci::soci_error*>(&e);
  std::string message = absl::StrCat(context, ": ", e.what());
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

struct Schema {
  std::vector<std::string> create;
  std::string insert_state_row;
  std::string upsert;
};

Schema SchemaFor(Backend backend) {
  Schema s;
  if (backend == Backend::kSqlite) {
    // INTEGER PRIMARY KEY is SQLite's spelling of a 64-bit key that is the table's rowid (no
    // separate index): the same BIGINT semantics as on MySQL.
    s.create = {
        "CREATE TABLE IF NOT EXISTS records ("
        " id INTEGER PRIMARY KEY NOT NULL,"
        " content TEXT NOT NULL,"
        " created_at_us BIGINT NOT NULL,"
        " updated_at_us BIGINT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS semisync_repl_state ("
        " id INT PRIMARY KEY NOT NULL,"
        " applied_position BIGINT NOT NULL,"
        " applied_gtid VARCHAR(128) NOT NULL,"
        " applied_timestamp_us BIGINT NOT NULL,"
        " executed_gtid_set TEXT NOT NULL)",
    };
    s.insert_state_row =
        "INSERT OR IGNORE INTO semisync_repl_state VALUES (1, 0, '', 0, '')";
    s.upsert =
        "INSERT INTO records (id, content, created_at_us, updated_at_us)"
        " VALUES (:id, :content, :created, :updated)"
        " ON CONFLICT(id) DO UPDATE SET content = excluded.content,"
        " created_at_us = excluded.created_at_us, updated_at_us = excluded.updated_at_us";
  } else {
    s.create = {
        "CREATE TABLE IF NOT EXISTS records ("
        " id BIGINT NOT NULL PRIMARY KEY,"
        " content LONGTEXT NOT NULL,"
        " created_at_us BIGINT NOT NULL,"
        " updated_at_us BIGINT NOT NULL"
        ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
        "CREATE TABLE IF NOT EXISTS semisync_repl_state ("
        " id INT NOT NULL PRIMARY KEY,"
        " applied_position BIGINT NOT NULL,"
        " applied_gtid VARCHAR(128) NOT NULL,"
        " applied_timestamp_us BIGINT NOT NULL,"
        " executed_gtid_set LONGTEXT NOT NULL"
        ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    };
    s.insert_state_row = "INSERT IGNORE INTO semisync_repl_state VALUES (1, 0, '', 0, '')";
    s.upsert =
        "INSERT INTO records (id, content, created_at_us, updated_at_us)"
        " VALUES (:id, :content, :created, :updated)"
        " ON DUPLICATE KEY UPDATE content = VALUES(content),"
        " created_at_us = VALUES(created_at_us), updated_at_us = VALUES(updated_at_us)";
  }
  return s;
}

constexpr char kDeleteSql[] = "DELETE FROM records WHERE id = :id";
constexpr char kSetStateSql[] =
    "UPDATE semisync_repl_state SET applied_position = :position, applied_gtid = :gtid,"
    " applied_timestamp_us = :ts, executed_gtid_set = :gtid_set WHERE id = 1";

// The writer's session, its prepared statements and the variables they are bound to. Members are
// destroyed in reverse order: statements before the session.
struct Writer {
  std::unique_ptr<soci::session> sql;
  long long id = 0;
  std::string content;
  long long created_at_us = 0;
  long long updated_at_us = 0;
  long long position = 0;
  std::string gtid;
  long long timestamp_us = 0;
  std::string gtid_set;
  std::unique_ptr<soci::statement> upsert;
  std::unique_ptr<soci::statement> erase;
  std::unique_ptr<soci::statement> set_state;
};

}  // namespace

class Storage::Impl {
 public:
  Impl(ConnectionConfig cfg, const StorageOptions& options)
      : cfg_(std::move(cfg)), options_(options), schema_(SchemaFor(cfg_.backend)) {}

  absl::Status Init();

  const std::string& backend() const { return cfg_.backend_name; }
  absl::Status ApplyBatch(absl::Span<const v1::BinlogEvent> events, const ReplState& state);
  absl::StatusOr<ReplState> GetReplState();
  absl::StatusOr<v1::Record> GetRecord(int64_t id);
  absl::StatusOr<std::vector<v1::Record>> ListRecords(int64_t after_id, int limit);
  absl::StatusOr<int64_t> MaxRecordId();
  absl::StatusOr<int64_t> CountRecords();

 private:
  // A connected and configured session.
  absl::StatusOr<std::unique_ptr<soci::session>> Connect(const std::string& connect);
  absl::Status CreateDatabase();
  absl::Status OpenWriterLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);

  // Runs f(session&) on a borrowed read session. A session whose call failed with Unavailable is
  // dropped, and the call is retried once on a fresh session when the failed one had been idle in
  // the pool (its connection may have timed out); reads are idempotent.
  template <typename F>
  auto WithReader(absl::string_view context, F&& f) -> decltype(f(std::declval<soci::session&>()));
  absl::StatusOr<std::unique_ptr<soci::session>> Borrow(bool* reused);
  void GiveBack(std::unique_ptr<soci::session> session);

  const ConnectionConfig cfg_;
  const StorageOptions options_;
  const Schema schema_;

  absl::Mutex write_mu_;
  std::unique_ptr<Writer> writer_ ABSL_GUARDED_BY(write_mu_);

  absl::Mutex pool_mu_;
  // Idle read sessions; null slots are re-opened when borrowed. Its size plus the borrowed
  // sessions is always the pool size.
  std::vector<std::unique_ptr<soci::session>> idle_ ABSL_GUARDED_BY(pool_mu_);
};

absl::StatusOr<std::unique_ptr<soci::session>> Storage::Impl::Connect(const std::string& connect) {
  std::unique_ptr<soci::session> sql;
  try {
    sql = std::make_unique<soci::session>(connect);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot connect to ", cfg_.display, ": ", e.what()));
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
  const std::string ddl = absl::StrCat("CREATE DATABASE IF NOT EXISTS `", cfg_.database,
                                       "` CHARACTER SET utf8mb4");
  return RunSql(ddl, [&] {
    *sql << ddl;
    return absl::OkStatus();
  });
}

absl::Status Storage::Impl::OpenWriterLocked() {
  ASSIGN_OR_RETURN(std::unique_ptr<soci::session> sql, Connect(cfg_.connect));
  auto w = std::make_unique<Writer>();
  w->sql = std::move(sql);
  soci::session& s = *w->sql;
  RETURN_IF_ERROR(RunSql(absl::StrCat("preparing statements on ", cfg_.display), [&] {
    w->upsert = std::make_unique<soci::statement>(
        (s.prepare << schema_.upsert, soci::use(w->id, "id"), soci::use(w->content, "content"),
         soci::use(w->created_at_us, "created"), soci::use(w->updated_at_us, "updated")));
    w->erase = std::make_unique<soci::statement>((s.prepare << kDeleteSql, soci::use(w->id, "id")));
    w->set_state = std::make_unique<soci::statement>(
        (s.prepare << kSetStateSql, soci::use(w->position, "position"), soci::use(w->gtid, "gtid"),
         soci::use(w->timestamp_us, "ts"), soci::use(w->gtid_set, "gtid_set")));
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
    std::vector<std::string> statements = schema_.create;
    statements.push_back(schema_.insert_state_row);
    for (const std::string& ddl : statements) {
      RETURN_IF_ERROR(RunSql(absl::StrCat("creating schema on ", cfg_.display, ": ", ddl), [&] {
        *sql << ddl;
        return absl::OkStatus();
      }));
    }
  }
  RETURN_IF_ERROR(OpenWriterLocked());
  const int n = std::max(1, options_.read_sessions);
  std::vector<std::unique_ptr<soci::session>> readers;
  for (int i = 0; i < n; ++i) {
    ASSIGN_OR_RETURN(std::unique_ptr<soci::session> sql, Connect(cfg_.connect));
    readers.push_back(std::move(sql));
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

absl::Status Storage::Impl::ApplyBatch(absl::Span<const v1::BinlogEvent> events,
                                       const ReplState& state) {
  absl::MutexLock lock(&write_mu_);
  if (writer_ == nullptr) RETURN_IF_ERROR(OpenWriterLocked());
  Writer& w = *writer_;
  enum class Phase { kBegin, kEvents, kState, kCommit, kRollback };
  Phase phase = Phase::kBegin;
  size_t i = 0;
  auto context = [&]() -> std::string {
    const std::string batch = absl::StrCat("applying batch of ", events.size(), " events");
    switch (phase) {
      case Phase::kBegin:
        return absl::StrCat(batch, ": BEGIN");
      case Phase::kEvents: {
        const v1::BinlogEvent& e = events[i];
        return absl::StrCat(batch, ": event ", i, " (position ", e.position(), ", gtid ", e.gtid(),
                            ", ", v1::RowOp_Name(e.op()), " id ", e.record().id(), ")");
      }
      case Phase::kState:
        return absl::StrCat(batch, ": ", kSetStateSql, " (applied_position ",
                            state.applied_position, ")");
      case Phase::kCommit:
        return absl::StrCat(batch, ": COMMIT");
      case Phase::kRollback:
        return absl::StrCat(batch, ": ROLLBACK");
    }
    return batch;
  };
  absl::Status status;
  try {
    soci::transaction tx(*w.sql);
    phase = Phase::kEvents;
    for (; i < events.size(); ++i) {
      const v1::BinlogEvent& e = events[i];
      w.id = e.record().id();
      switch (e.op()) {
        case v1::ROW_OP_INSERT:
        case v1::ROW_OP_UPDATE:
          w.content = e.record().content();
          w.created_at_us = e.record().created_at_us();
          w.updated_at_us = e.record().updated_at_us();
          w.upsert->execute(true);
          break;
        case v1::ROW_OP_DELETE:
          w.erase->execute(true);
          break;
        default: {
          const std::string message =
              absl::StrCat(context(), ": unsupported row op ", static_cast<int>(e.op()));
          phase = Phase::kRollback;
          tx.rollback();
          return absl::InvalidArgumentError(message);
        }
      }
    }
    phase = Phase::kState;
    w.position = static_cast<long long>(state.applied_position);
    w.gtid = state.applied_gtid;
    w.timestamp_us = state.applied_timestamp_us;
    w.gtid_set = state.executed_gtid_set;
    w.set_state->execute(true);
    phase = Phase::kCommit;
    tx.commit();
    VLOG(2) << "storage: applied " << events.size() << " events, position "
            << state.applied_position;
    return absl::OkStatus();
  } catch (const std::exception& e) {
    status = ErrorStatus(e, context());
  }
  // After a SOCI error the session's transaction state is uncertain: start afresh next time.
  writer_.reset();
  LOG(WARNING) << "storage: " << status;
  return status;
}

absl::StatusOr<std::unique_ptr<soci::session>> Storage::Impl::Borrow(bool* reused) {
  std::unique_ptr<soci::session> sql;
  {
    absl::MutexLock lock(&pool_mu_);
    pool_mu_.Await(absl::Condition(
        +[](std::vector<std::unique_ptr<soci::session>>* idle) { return !idle->empty(); },
        &idle_));
    sql = std::move(idle_.back());
    idle_.pop_back();
  }
  *reused = sql != nullptr;
  if (sql != nullptr) return sql;
  absl::StatusOr<std::unique_ptr<soci::session>> fresh = Connect(cfg_.connect);
  if (!fresh.ok()) GiveBack(nullptr);
  return fresh;
}

void Storage::Impl::GiveBack(std::unique_ptr<soci::session> session) {
  absl::MutexLock lock(&pool_mu_);
  idle_.push_back(std::move(session));
}

template <typename F>
auto Storage::Impl::WithReader(absl::string_view context, F&& f)
    -> decltype(f(std::declval<soci::session&>())) {
  for (int attempt = 0;; ++attempt) {
    bool reused = false;
    ASSIGN_OR_RETURN(std::unique_ptr<soci::session> sql, Borrow(&reused));
    auto result = RunSql(context, [&] { return f(*sql); });
    const absl::Status& status = StatusOf(result);
    if (status.ok() || !absl::IsUnavailable(status)) {
      GiveBack(std::move(sql));
      return result;
    }
    sql.reset();
    GiveBack(nullptr);
    if (!reused || attempt > 0) return result;
    LOG(WARNING) << "storage: read session failed, retrying on a new one: " << status;
  }
}

absl::StatusOr<ReplState> Storage::Impl::GetReplState() {
  static constexpr char kSql[] =
      "SELECT applied_position, applied_gtid, applied_timestamp_us, executed_gtid_set"
      " FROM semisync_repl_state WHERE id = 1";
  return WithReader(kSql, [&](soci::session& sql) -> absl::StatusOr<ReplState> {
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

absl::StatusOr<v1::Record> Storage::Impl::GetRecord(int64_t id) {
  static constexpr char kSql[] =
      "SELECT content, created_at_us, updated_at_us FROM records WHERE id = :id";
  return WithReader(kSql, [&](soci::session& sql) -> absl::StatusOr<v1::Record> {
    long long key = id;
    std::string content;
    long long created_at_us = 0;
    long long updated_at_us = 0;
    sql << kSql, soci::into(content), soci::into(created_at_us), soci::into(updated_at_us),
        soci::use(key);
    if (!sql.got_data()) return absl::NotFoundError(absl::StrCat("record ", id, " not found"));
    v1::Record record;
    record.set_id(id);
    record.set_content(std::move(content));
    record.set_created_at_us(created_at_us);
    record.set_updated_at_us(updated_at_us);
    return record;
  });
}

absl::StatusOr<std::vector<v1::Record>> Storage::Impl::ListRecords(int64_t after_id, int limit) {
  static constexpr char kSql[] =
      "SELECT id, content, created_at_us, updated_at_us FROM records WHERE id > :after"
      " ORDER BY id LIMIT :limit";
  const long long n = std::clamp(limit, 1, kMaxListLimit);
  return WithReader(kSql, [&](soci::session& sql) -> absl::StatusOr<std::vector<v1::Record>> {
    long long after = after_id;
    // The vectors' size is the fetch size. At least 2: SOCI 4.0.3's sqlite3 backend fetches no
    // rows into vectors of size 1. LIMIT keeps the result at n rows.
    const size_t fetch = std::max<long long>(n, 2);
    std::vector<long long> ids(fetch), created(fetch), updated(fetch);
    std::vector<std::string> contents(fetch);
    sql << kSql, soci::into(ids), soci::into(contents), soci::into(created), soci::into(updated),
        soci::use(after, "after"), soci::use(n, "limit");
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

absl::StatusOr<int64_t> Storage::Impl::MaxRecordId() {
  static constexpr char kSql[] = "SELECT COALESCE(MAX(id), 0) FROM records";
  return WithReader(kSql, [&](soci::session& sql) -> absl::StatusOr<int64_t> {
    long long max_id = 0;
    sql << kSql, soci::into(max_id);
    return static_cast<int64_t>(max_id);
  });
}

absl::StatusOr<int64_t> Storage::Impl::CountRecords() {
  static constexpr char kSql[] = "SELECT COUNT(*) FROM records";
  return WithReader(kSql, [&](soci::session& sql) -> absl::StatusOr<int64_t> {
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

const std::string& Storage::backend() const { return impl_->backend(); }

absl::Status Storage::ApplyBatch(absl::Span<const v1::BinlogEvent> events,
                                 const ReplState& state) {
  return impl_->ApplyBatch(events, state);
}

absl::StatusOr<ReplState> Storage::GetReplState() { return impl_->GetReplState(); }

absl::StatusOr<v1::Record> Storage::GetRecord(int64_t id) { return impl_->GetRecord(id); }

absl::StatusOr<std::vector<v1::Record>> Storage::ListRecords(int64_t after_id, int limit) {
  return impl_->ListRecords(after_id, limit);
}

absl::StatusOr<int64_t> Storage::MaxRecordId() { return impl_->MaxRecordId(); }

absl::StatusOr<int64_t> Storage::CountRecords() { return impl_->CountRecords(); }

}  // namespace semisync
