// The write side of Storage: how a batch of binlog events becomes SQL on the writer session.
// Per backend: the schema and upsert syntax (Schema); the session with its statements prepared
// once and bound to member variables (Writer: applying a row assigns them and re-executes); one
// transaction per batch (WriteOnce), rows in order on SQLite (in-process calls) and coalesced into
// multi-row statements on MySQL (a statement is a round trip). Internal to server/storage.
#ifndef SEMISYNC_SERVER_STORAGE_BATCH_WRITER_H_
#define SEMISYNC_SERVER_STORAGE_BATCH_WRITER_H_

#include <array>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/types/span.h"
#include "semisync/v1/binlog.pb.h"
#include "server/storage/connection_string.h"
#include "server/storage/soci_util.h"
#include "server/storage/storage.h"

namespace semisync {
namespace storage_internal {

// Most rows per upsert/delete statement on MySQL, where a statement is a round trip: a batch of n
// rows (last event per id) costs ceil(n / kMaxChunk) statements, each prepared once per size on
// first use. SQLite (in-process calls) applies single rows in order.
constexpr size_t kMaxChunk = 64;

struct Schema {
  std::vector<std::string> create;  // CREATE TABLE IF NOT EXISTS ..., then the repl_state row
  std::string upsert_tail;          // after "INSERT INTO records (...) VALUES (...), ..."
};

// The tables (and the replication state row) and the upsert syntax of a backend.
Schema SchemaFor(Backend backend);

inline constexpr char kSetStateSql[] =
    "UPDATE semisync_repl_state SET applied_position = :position, applied_gtid = :gtid,"
    " applied_timestamp_us = :ts, executed_gtid_set = :gtid_set WHERE id = 1";

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

// One attempt at writing a batch on `w`: its rows and the new state, in a transaction begun here
// and left open (WriteOnce) or committed (commit = true). *soci_failed tells a SOCI error (the
// session may be unusable) from an invalid batch (rolled back; the session is fine).
absl::Status WriteOnce(Writer& w, Backend backend, absl::Span<const v1::BinlogEvent> events,
                       const ReplState& state, StateUpdate update, bool commit,
                       bool* soci_failed);

}  // namespace storage_internal
}  // namespace semisync

#endif  // SEMISYNC_SERVER_STORAGE_BATCH_WRITER_H_
