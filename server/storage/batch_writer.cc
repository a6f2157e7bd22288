#include "server/storage/batch_writer.h"

#include <algorithm>
#include <exception>
#include <unordered_map>

#include "glog/logging.h"

namespace semisync {
namespace storage_internal {

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

namespace {

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

}  // namespace

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

}  // namespace storage_internal
}  // namespace semisync
