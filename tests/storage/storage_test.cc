// Storage on both backends: every test runs on SQLite (a temp file) and on MariaDB (a fresh
// database on the fixture's test server). MariaDB tests fail, not skip, when the server is missing.
#include "server/storage/storage.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "gtest/gtest.h"
#include "tests/test_util/mariadb.h"

namespace semisync {

// Found by ADL from gtest's EXPECT_EQ (so not in the anonymous namespace).
bool operator==(const ReplState& a, const ReplState& b) {
  return a.applied_position == b.applied_position && a.applied_gtid == b.applied_gtid &&
         a.applied_timestamp_us == b.applied_timestamp_us &&
         a.executed_gtid_set == b.executed_gtid_set;
}
std::ostream& operator<<(std::ostream& os, const ReplState& s) {
  return os << "{position " << s.applied_position << ", gtid \"" << s.applied_gtid << "\", ts "
            << s.applied_timestamp_us << ", set \"" << s.executed_gtid_set << "\"}";
}

namespace {

#define ASSERT_OK(expr)              \
  do {                               \
    const absl::Status _st = (expr); \
    ASSERT_TRUE(_st.ok()) << _st;    \
  } while (0)
#define ST_CONCAT_INNER(a, b) a##b
#define ST_CONCAT(a, b) ST_CONCAT_INNER(a, b)
#define ASSERT_OK_AND_ASSIGN_IMPL(var, lhs, expr) \
  auto var = (expr);                              \
  ASSERT_TRUE(var.ok()) << var.status();          \
  lhs = std::move(var).value()
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  ASSERT_OK_AND_ASSIGN_IMPL(ST_CONCAT(_statusor_, __LINE__), lhs, expr)

constexpr char kUuid[] = "3e11fa47-71ca-11e1-9e33-c80aa9429562";

v1::BinlogEvent Event(uint64_t position, v1::RowOp op, int64_t id, const std::string& content) {
  v1::BinlogEvent e;
  e.set_position(position);
  e.set_gtid(absl::StrCat(kUuid, ":", position));
  e.set_timestamp_us(1'700'000'000'000'000 + position);
  e.set_op(op);
  e.mutable_record()->set_id(id);
  if (op != v1::ROW_OP_DELETE) {
    e.mutable_record()->set_content(content);
    e.mutable_record()->set_created_at_us(1'600'000'000'000'000 + id);
    e.mutable_record()->set_updated_at_us(1'700'000'000'000'000 + position);
  }
  return e;
}
v1::BinlogEvent Insert(uint64_t pos, int64_t id, const std::string& c) {
  return Event(pos, v1::ROW_OP_INSERT, id, c);
}
v1::BinlogEvent Update(uint64_t pos, int64_t id, const std::string& c) {
  return Event(pos, v1::ROW_OP_UPDATE, id, c);
}
v1::BinlogEvent Delete(uint64_t pos, int64_t id) { return Event(pos, v1::ROW_OP_DELETE, id, ""); }

// The replication state after applying `position`.
ReplState StateAt(uint64_t position) {
  ReplState s;
  s.applied_position = position;
  s.applied_gtid = absl::StrCat(kUuid, ":", position);
  s.applied_timestamp_us = 1'700'000'000'000'000 + position;
  s.executed_gtid_set = position == 0 ? "" : absl::StrCat(kUuid, ":1-", position);
  return s;
}

// A port on 127.0.0.1 that nothing listens on (bound, then released).
int UnusedPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  CHECK_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  CHECK_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  close(fd);
  return ntohs(addr.sin_port);
}

class StorageTest : public ::testing::TestWithParam<std::string> {
 protected:
  bool IsSqlite() const { return GetParam() == "sqlite"; }

  void SetUp() override {
    if (IsSqlite()) {
      dir_ = test_util::MakeTempDir("storage_test");
      connection_ = absl::StrCat("sqlite3://db=", dir_, "/records.db");
    } else {
      db_ = test_util::UniqueTestName("storage_test");
      ASSERT_OK_AND_ASSIGN(connection_, test_util::MariaDbConnectionForTest(db_));
      ASSERT_OK(test_util::DropMariaDbDatabaseForTest(db_));
    }
  }

  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
    if (!db_.empty() && !connection_.empty()) {
      absl::Status s = test_util::DropMariaDbDatabaseForTest(db_);
      if (!s.ok()) LOG(WARNING) << s;
    }
  }

  absl::StatusOr<std::unique_ptr<Storage>> Open() {
    StorageOptions options;
    options.connection = connection_;
    options.read_sessions = 2;
    return Storage::Open(options);
  }

  // The whole table, in id order.
  static std::vector<std::string> Snapshot(Storage& storage) {
    absl::StatusOr<std::vector<v1::Record>> records = storage.ListRecords(0, 10000);
    EXPECT_TRUE(records.ok()) << records.status();
    std::vector<std::string> out;
    if (records.ok()) {
      for (const v1::Record& r : *records) out.push_back(r.ShortDebugString());
    }
    return out;
  }

  std::string dir_;
  std::string db_;
  std::string connection_;
};

TEST_P(StorageTest, OpenCreatesSchemaWithZeroReplState) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Storage> storage, Open());
  EXPECT_EQ(storage->backend(), IsSqlite() ? "sqlite3" : "mysql");
  ASSERT_OK_AND_ASSIGN(ReplState state, storage->GetReplState());
  EXPECT_EQ(state, ReplState{});
  ASSERT_OK_AND_ASSIGN(int64_t count, storage->CountRecords());
  EXPECT_EQ(count, 0);
}

TEST_P(StorageTest, ApplyInsertUpdateDelete) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Storage> storage, Open());
  std::vector<v1::BinlogEvent> batch1 = {Insert(1, 1, "one"), Insert(2, 2, "two")};
  ASSERT_OK(storage->ApplyBatch(batch1, StateAt(2)));
  ASSERT_OK_AND_ASSIGN(v1::Record r1, storage->GetRecord(1));
  EXPECT_EQ(r1.ShortDebugString(), batch1[0].record().ShortDebugString());

  std::vector<v1::BinlogEvent> batch2 = {Update(3, 1, "one, again"), Delete(4, 2)};
  ASSERT_OK(storage->ApplyBatch(batch2, StateAt(4)));
  ASSERT_OK_AND_ASSIGN(r1, storage->GetRecord(1));
  EXPECT_EQ(r1.id(), 1);
  EXPECT_EQ(r1.content(), "one, again");
  EXPECT_EQ(r1.created_at_us(), batch2[0].record().created_at_us());
  EXPECT_EQ(r1.updated_at_us(), batch2[0].record().updated_at_us());
  EXPECT_TRUE(absl::IsNotFound(storage->GetRecord(2).status()));
  ASSERT_OK_AND_ASSIGN(int64_t count, storage->CountRecords());
  EXPECT_EQ(count, 1);
  ASSERT_OK_AND_ASSIGN(ReplState state, storage->GetReplState());
  EXPECT_EQ(state, StateAt(4));
}

TEST_P(StorageTest, ContentRoundTripsUnicodeQuotesAndEmpty) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Storage> storage, Open());
  const std::vector<std::string> contents = {
      "", "it's \"quoted\" \\ back\\slash; DROP TABLE records; --", "caf\xc3\xa9 \xf0\x9f\x98\x80",
      std::string(100000, 'x')};
  std::vector<v1::BinlogEvent> batch;
  for (size_t i = 0; i < contents.size(); ++i) batch.push_back(Insert(i + 1, i + 1, contents[i]));
  ASSERT_OK(storage->ApplyBatch(batch, StateAt(contents.size())));
  for (size_t i = 0; i < contents.size(); ++i) {
    ASSERT_OK_AND_ASSIGN(v1::Record r, storage->GetRecord(i + 1));
    EXPECT_EQ(r.content(), contents[i]) << "record " << i + 1;
  }
}

TEST_P(StorageTest, ApplyIsIdempotent) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Storage> storage, Open());
  std::vector<v1::BinlogEvent> batch = {Insert(1, 1, "a"), Insert(2, 2, "b"), Update(3, 1, "a2"),
                                        Delete(4, 2),      Insert(5, 3, "c"), Delete(6, 99)};
  ASSERT_OK(storage->ApplyBatch(batch, StateAt(6)));
  const std::vector<std::string> once = Snapshot(*storage);
  ASSERT_OK_AND_ASSIGN(ReplState state_once, storage->GetReplState());

  ASSERT_OK(storage->ApplyBatch(batch, StateAt(6)));
  EXPECT_EQ(Snapshot(*storage), once);
  ASSERT_OK_AND_ASSIGN(ReplState state_twice, storage->GetReplState());
  EXPECT_EQ(state_twice, state_once);
  EXPECT_EQ(once.size(), 2u);
}

// StateUpdate::kSkip commits the rows and leaves the recorded state where it was, staged or
// not; replaying from that state (rows the database has included) ends where a plain apply does.
TEST_P(StorageTest, SkippedStateUpdateKeepsTheRecordedStateAndReplayConverges) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Storage> storage, Open());
  const std::vector<v1::BinlogEvent> first = {Insert(1, 1, "a"), Insert(2, 2, "b")};
  const std::vector<v1::BinlogEvent> second = {Update(3, 1, "a2"), Delete(4, 2)};
  const std::vector<v1::BinlogEvent> third = {Insert(5, 3, "c")};
  ASSERT_OK(storage->ApplyBatch(first, StateAt(2)));
  ASSERT_OK(storage->ApplyBatch(second, StateAt(4), StateUpdate::kSkip));
  ASSERT_OK(storage->StageBatch(third, StateAt(5), StateUpdate::kSkip));
  ASSERT_OK(storage->CommitStaged(third, StateAt(5)));
  ASSERT_OK_AND_ASSIGN(ReplState state, storage->GetReplState());
  EXPECT_EQ(state, StateAt(2));
  const std::vector<std::string> rows = Snapshot(*storage);
  EXPECT_EQ(rows.size(), 2u);  // ids 1 (a2) and 3

  // Recovery re-applies everything after the recorded position 2.
  std::vector<v1::BinlogEvent> replay = second;
  replay.insert(replay.end(), third.begin(), third.end());
  ASSERT_OK(storage->ApplyBatch(replay, StateAt(5)));
  EXPECT_EQ(Snapshot(*storage), rows);
  ASSERT_OK_AND_ASSIGN(state, storage->GetReplState());
  EXPECT_EQ(state, StateAt(5));
  ASSERT_OK_AND_ASSIGN(v1::Record r, storage->GetRecord(1));
  EXPECT_EQ(r.content(), "a2");
  EXPECT_TRUE(absl::IsNotFound(storage->GetRecord(2).status()));
}

TEST_P(StorageTest, SyncToDiskAfterUnsyncedCommits) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Storage> storage, Open());
  ASSERT_OK(storage->SyncToDisk());  // nothing committed yet
  ASSERT_OK(storage->ApplyBatch({Insert(1, 1, "a"), Insert(2, 2, "b")}, StateAt(2)));
  ASSERT_OK(storage->SyncToDisk());
  ASSERT_OK_AND_ASSIGN(ReplState state, storage->GetReplState());
  EXPECT_EQ(state, StateAt(2));
}

TEST_P(StorageTest, BatchIsAtomic) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Storage> storage, Open());
  ASSERT_OK(storage->ApplyBatch({Insert(1, 1, "kept")}, StateAt(1)));
  const std::vector<std::string> before = Snapshot(*storage);

  for (v1::RowOp bad : {v1::ROW_OP_UNSPECIFIED, static_cast<v1::RowOp>(42)}) {
    v1::BinlogEvent invalid = Insert(4, 7, "never");
    invalid.set_op(bad);
    std::vector<v1::BinlogEvent> batch = {Update(2, 1, "changed"), Insert(3, 5, "five"), invalid,
                                          Insert(5, 6, "six")};
    absl::Status s = storage->ApplyBatch(batch, StateAt(5));
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
    EXPECT_NE(s.message().find("position 4"), std::string::npos) << s;
    EXPECT_EQ(Snapshot(*storage), before);
    ASSERT_OK_AND_ASSIGN(ReplState state, storage->GetReplState());
    EXPECT_EQ(state, StateAt(1));
  }
  // The writer is still usable after a failed batch.
  ASSERT_OK(storage->ApplyBatch({Insert(2, 2, "two")}, StateAt(2)));
  ASSERT_OK_AND_ASSIGN(int64_t count, storage->CountRecords());
  EXPECT_EQ(count, 2);
}

// A staged batch (the master's AFTER_SYNC wait) is invisible to every read until committed, and
// leaves nothing behind when aborted.
TEST_P(StorageTest, StagedBatchIsInvisibleUntilCommitted) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Storage> storage, Open());
  ASSERT_OK(storage->ApplyBatch({Insert(1, 1, "a")}, StateAt(1)));
  const std::vector<std::string> before = Snapshot(*storage);
  const std::vector<v1::BinlogEvent> batch = {Update(2, 1, "a v2"), Insert(3, 2, "b")};

  ASSERT_OK(storage->StageBatch(batch, StateAt(3)));
  EXPECT_EQ(Snapshot(*storage), before);
  EXPECT_TRUE(absl::IsNotFound(storage->GetRecord(2).status()));
  ASSERT_OK_AND_ASSIGN(ReplState state, storage->GetReplState());
  EXPECT_EQ(state, StateAt(1));
  // One staged batch at a time.
  EXPECT_TRUE(absl::IsFailedPrecondition(storage->StageBatch(batch, StateAt(3))));
  EXPECT_TRUE(absl::IsFailedPrecondition(storage->ApplyBatch(batch, StateAt(3))));

  ASSERT_OK(storage->CommitStaged(batch, StateAt(3)));
  ASSERT_OK_AND_ASSIGN(v1::Record b, storage->GetRecord(2));
  EXPECT_EQ(b.content(), "b");
  ASSERT_OK_AND_ASSIGN(v1::Record a, storage->GetRecord(1));
  EXPECT_EQ(a.content(), "a v2");
  ASSERT_OK_AND_ASSIGN(state, storage->GetReplState());
  EXPECT_EQ(state, StateAt(3));
  EXPECT_TRUE(absl::IsFailedPrecondition(storage->CommitStaged(batch, StateAt(3))));

  const std::vector<std::string> committed = Snapshot(*storage);
  ASSERT_OK(storage->StageBatch({Delete(4, 1), Insert(5, 3, "c")}, StateAt(5)));
  storage->AbortStaged();
  EXPECT_EQ(Snapshot(*storage), committed);
  ASSERT_OK_AND_ASSIGN(state, storage->GetReplState());
  EXPECT_EQ(state, StateAt(3));
  // The writer goes on after an abort.
  ASSERT_OK(storage->ApplyBatch({Insert(4, 4, "d")}, StateAt(4)));
  ASSERT_OK_AND_ASSIGN(int64_t count, storage->CountRecords());
  EXPECT_EQ(count, 3);
}

// A batch of more rows than one multi-row statement holds (64 on MySQL), with every chunk size
// below it on the way, applies like the events in order.
TEST_P(StorageTest, BatchesOfEverySizeApply) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Storage> storage, Open());
  uint64_t position = 0;
  int64_t id = 0;
  for (int size : {1, 2, 3, 7, 63, 64, 65, 130}) {
    std::vector<v1::BinlogEvent> batch;
    for (int i = 0; i < size; ++i) {
      ++position;
      ++id;
      batch.push_back(Insert(position, id, absl::StrCat("row ", id)));
    }
    SCOPED_TRACE(absl::StrCat("batch of ", size));
    ASSERT_OK(storage->ApplyBatch(batch, StateAt(position)));
  }
  ASSERT_OK_AND_ASSIGN(int64_t count, storage->CountRecords());
  EXPECT_EQ(count, id);
  ASSERT_OK_AND_ASSIGN(v1::Record last, storage->GetRecord(id));
  EXPECT_EQ(last.content(), absl::StrCat("row ", id));
  // Deletes in chunks too.
  std::vector<v1::BinlogEvent> deletes;
  for (int64_t i = 1; i <= 70; ++i) deletes.push_back(Delete(++position, i));
  ASSERT_OK(storage->ApplyBatch(deletes, StateAt(position)));
  ASSERT_OK_AND_ASSIGN(count, storage->CountRecords());
  EXPECT_EQ(count, id - 70);
}

// On MySQL the batch is applied as multi-row statements of the last event per id; on either
// backend the result must be that of applying the events in order.
TEST_P(StorageTest, RepeatedIdsInOneBatchApplyInOrder) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Storage> storage, Open());
  ASSERT_OK(storage->ApplyBatch({Insert(1, 3, "three")}, StateAt(1)));
  std::vector<v1::BinlogEvent> batch = {
      Insert(2, 1, "first"), Delete(3, 1),           Insert(4, 1, "again"),     // 1: again
      Insert(5, 2, "two"),   Update(6, 2, "two v2"), Delete(7, 2),              // 2: gone
      Delete(8, 3),          Insert(9, 3, "back"),   Update(10, 3, "back v2"),  // 3: back v2
  };
  ASSERT_OK(storage->ApplyBatch(batch, StateAt(10)));
  ASSERT_OK_AND_ASSIGN(std::vector<v1::Record> all, storage->ListRecords(0, 100));
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].ShortDebugString(), batch[2].record().ShortDebugString());
  EXPECT_EQ(all[1].ShortDebugString(), batch[8].record().ShortDebugString());
}

// A failure inside the database (here a trigger refusing to delete record 666), after other rows
// of the batch were written, rolls the whole batch back; the writer recovers afterwards.
TEST_P(StorageTest, DatabaseErrorRollsBackTheBatch) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Storage> storage, Open());
  ASSERT_OK(storage->ApplyBatch({Insert(1, 1, "kept"), Insert(2, 666, "guarded")}, StateAt(2)));
  const std::vector<std::string> before = Snapshot(*storage);
  ASSERT_OK(test_util::ExecuteSqlForTest(
      connection_,
      IsSqlite() ? "CREATE TRIGGER guard BEFORE DELETE ON records FOR EACH ROW WHEN OLD.id = 666"
                   " BEGIN SELECT RAISE(ABORT, 'record 666 is guarded'); END"
                 : "CREATE TRIGGER guard BEFORE DELETE ON records FOR EACH ROW BEGIN"
                   " IF OLD.id = 666 THEN SIGNAL SQLSTATE '45000'"
                   " SET MESSAGE_TEXT = 'record 666 is guarded'; END IF; END"));

  std::vector<v1::BinlogEvent> batch = {Update(3, 1, "changed"), Insert(4, 5, "five"),
                                        Delete(5, 666)};
  absl::Status s = storage->ApplyBatch(batch, StateAt(5));
  EXPECT_TRUE(absl::IsInternal(s)) << s;
  EXPECT_NE(s.message().find("record 666 is guarded"), std::string::npos) << s;
  EXPECT_EQ(Snapshot(*storage), before);
  ASSERT_OK_AND_ASSIGN(ReplState state, storage->GetReplState());
  EXPECT_EQ(state, StateAt(2));

  ASSERT_OK(test_util::ExecuteSqlForTest(connection_, "DROP TRIGGER guard"));
  ASSERT_OK(storage->ApplyBatch(batch, StateAt(5)));
  ASSERT_OK_AND_ASSIGN(std::vector<v1::Record> all, storage->ListRecords(0, 100));
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].content(), "changed");
  EXPECT_EQ(all[1].id(), 5);
  ASSERT_OK_AND_ASSIGN(state, storage->GetReplState());
  EXPECT_EQ(state, StateAt(5));
}

TEST_P(StorageTest, ReplStatePersistsAcrossReopen) {
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Storage> storage, Open());
    ASSERT_OK(storage->ApplyBatch({Insert(1, 1, "a"), Insert(2, 2, "b")}, StateAt(2)));
  }
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Storage> storage, Open());
  ASSERT_OK_AND_ASSIGN(ReplState state, storage->GetReplState());
  EXPECT_EQ(state, StateAt(2));
  ASSERT_OK_AND_ASSIGN(int64_t count, storage->CountRecords());
  EXPECT_EQ(count, 2);
  // An empty batch still moves the state.
  ASSERT_OK(storage->ApplyBatch({}, StateAt(3)));
  ASSERT_OK_AND_ASSIGN(state, storage->GetReplState());
  EXPECT_EQ(state, StateAt(3));
}

TEST_P(StorageTest, ListRecordsPaging) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Storage> storage, Open());
  std::vector<v1::BinlogEvent> batch;
  std::vector<int64_t> ids;
  for (int64_t id = 1; id <= 49; id += 2) {  // 25 records, odd ids
    batch.push_back(Insert(batch.size() + 1, id, absl::StrCat("r", id)));
    ids.push_back(id);
  }
  ASSERT_OK(storage->ApplyBatch(batch, StateAt(batch.size())));

  std::vector<int64_t> seen;
  int64_t after = 0;
  for (int pages = 0; pages < 10; ++pages) {
    ASSERT_OK_AND_ASSIGN(std::vector<v1::Record> page, storage->ListRecords(after, 10));
    EXPECT_LE(page.size(), 10u);
    if (page.empty()) break;
    for (const v1::Record& r : page) {
      EXPECT_EQ(r.content(), absl::StrCat("r", r.id()));
      seen.push_back(r.id());
    }
    after = page.back().id();
  }
  EXPECT_EQ(seen, ids);

  ASSERT_OK_AND_ASSIGN(std::vector<v1::Record> page, storage->ListRecords(20, 3));
  ASSERT_EQ(page.size(), 3u);
  EXPECT_EQ(page[0].id(), 21);
  EXPECT_EQ(page[2].id(), 25);
  // limit is clamped to [1, 10000].
  ASSERT_OK_AND_ASSIGN(page, storage->ListRecords(0, 0));
  EXPECT_EQ(page.size(), 1u);
  ASSERT_OK_AND_ASSIGN(page, storage->ListRecords(0, -5));
  EXPECT_EQ(page.size(), 1u);
  ASSERT_OK_AND_ASSIGN(page, storage->ListRecords(0, 1'000'000));
  EXPECT_EQ(page.size(), 25u);
  ASSERT_OK_AND_ASSIGN(page, storage->ListRecords(49, 10));
  EXPECT_TRUE(page.empty());
}

TEST_P(StorageTest, GetMissingIsNotFound) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Storage> storage, Open());
  absl::StatusOr<v1::Record> r = storage->GetRecord(42);
  EXPECT_TRUE(absl::IsNotFound(r.status())) << r.status();
  EXPECT_EQ(r.status().message(), "record 42 not found");
}

// GetRecord keeps its statement prepared on the read session: every execution sees the rows as
// they are now, and a missing row in between changes nothing.
TEST_P(StorageTest, RepeatedGetsSeeEveryChange) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Storage> storage, Open());
  ASSERT_OK(storage->ApplyBatch({Insert(1, 1, "v1")}, StateAt(1)));
  for (uint64_t pos = 2; pos <= 6; ++pos) {
    ASSERT_OK_AND_ASSIGN(v1::Record before, storage->GetRecord(1));
    EXPECT_EQ(before.content(), absl::StrCat("v", pos - 1));
    EXPECT_TRUE(absl::IsNotFound(storage->GetRecord(100 + pos).status()));
    ASSERT_OK(storage->ApplyBatch({Update(pos, 1, absl::StrCat("v", pos))}, StateAt(pos)));
    ASSERT_OK_AND_ASSIGN(v1::Record after, storage->GetRecord(1));
    EXPECT_EQ(after.content(), absl::StrCat("v", pos));
    EXPECT_EQ(after.updated_at_us(), 1'700'000'000'000'000 + static_cast<int64_t>(pos));
  }
  ASSERT_OK(storage->ApplyBatch({Delete(7, 1)}, StateAt(7)));
  EXPECT_TRUE(absl::IsNotFound(storage->GetRecord(1).status()));
}

// On SQLite a read session that served a GetRecord holds no read transaction once it is idle
// again: a TRUNCATE checkpoint, which needs every reader gone, completes (busy = 0).
TEST(StorageSqliteTest, AnIdleReadSessionHoldsNoSnapshot) {
  const std::string dir = test_util::MakeTempDir("storage_snapshot");
  const std::string connection = absl::StrCat("sqlite3://db=", dir, "/records.db");
  StorageOptions options;
  options.connection = connection;
  options.read_sessions = 1;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Storage> storage, Storage::Open(options));
  ASSERT_OK(storage->ApplyBatch({Insert(1, 1, "one")}, StateAt(1)));
  ASSERT_OK_AND_ASSIGN(v1::Record r, storage->GetRecord(1));
  EXPECT_EQ(r.content(), "one");
  ASSERT_OK(storage->ApplyBatch({Insert(2, 2, "two")}, StateAt(2)));
  absl::StatusOr<std::string> busy =
      test_util::QueryStringForTest(connection, "PRAGMA wal_checkpoint(TRUNCATE)");
  ASSERT_TRUE(busy.ok()) << busy.status();
  EXPECT_EQ(*busy, "0") << "a reader still holds a snapshot";
  ASSERT_OK_AND_ASSIGN(r, storage->GetRecord(2));
  EXPECT_EQ(r.content(), "two");
  storage.reset();
  std::filesystem::remove_all(dir);
}

// On SQLite the WAL is checkpointed by the Storage's background thread: with the writer's own
// automatic checkpoint set out of reach, the rows still reach the database file. The batches
// write a few hundred WAL frames, fewer than SQLite's default mark (1000), so the test also fails
// if the writer's mark were not applied and the writer did not checkpoint at all.
TEST(StorageSqliteTest, TheWalIsCheckpointedInTheBackground) {
  const std::string dir = test_util::MakeTempDir("storage_checkpoint");
  const std::string db = absl::StrCat(dir, "/records.db");
  StorageOptions options;
  options.connection = absl::StrCat("sqlite3://db=", db);
  options.sync_commits = false;
  options.sqlite_checkpoint_interval = absl::Milliseconds(5);
  options.sqlite_writer_checkpoint_frames = 1'000'000;  // the writer never checkpoints
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Storage> storage, Storage::Open(options));
  const uintmax_t empty = std::filesystem::file_size(db);
  const std::string content(400, 'x');
  uint64_t pos = 0;
  for (int batch = 0; batch < 40; ++batch) {
    std::vector<v1::BinlogEvent> events;
    for (int i = 0; i < 10; ++i) {
      ++pos;
      events.push_back(Insert(pos, static_cast<int64_t>(pos), content));
    }
    ASSERT_OK(storage->ApplyBatch(events, StateAt(pos)));
  }
  // 400 rows of 400 bytes: about 160 KB that only a checkpoint puts into the database file.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::filesystem::file_size(db) < empty + 140'000 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_GE(std::filesystem::file_size(db), empty + 140'000)
      << "the rows did not reach the database file: no background checkpoint ran";
  ASSERT_OK_AND_ASSIGN(v1::Record r, storage->GetRecord(400));
  EXPECT_EQ(r.content(), content);
  storage.reset();
  std::filesystem::remove_all(dir);
}

TEST(StorageSqliteTest, ACheckpointMarkBelowOneIsRefused) {
  const std::string dir = test_util::MakeTempDir("storage_checkpoint_bad");
  StorageOptions options;
  options.connection = absl::StrCat("sqlite3://db=", dir, "/records.db");
  options.sqlite_writer_checkpoint_frames = 0;
  absl::StatusOr<std::unique_ptr<Storage>> storage = Storage::Open(options);
  EXPECT_TRUE(absl::IsInvalidArgument(storage.status())) << storage.status();
  std::filesystem::remove_all(dir);
}

TEST_P(StorageTest, MaxRecordIdAndCount) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Storage> storage, Open());
  ASSERT_OK_AND_ASSIGN(int64_t max_id, storage->MaxRecordId());
  ASSERT_OK_AND_ASSIGN(int64_t count, storage->CountRecords());
  EXPECT_EQ(max_id, 0);
  EXPECT_EQ(count, 0);
  ASSERT_OK(
      storage->ApplyBatch({Insert(1, 3, "a"), Insert(2, 10, "b"), Insert(3, 7, "c")}, StateAt(3)));
  ASSERT_OK_AND_ASSIGN(max_id, storage->MaxRecordId());
  ASSERT_OK_AND_ASSIGN(count, storage->CountRecords());
  EXPECT_EQ(max_id, 10);
  EXPECT_EQ(count, 3);
  ASSERT_OK(storage->ApplyBatch({Delete(4, 10)}, StateAt(4)));
  ASSERT_OK_AND_ASSIGN(max_id, storage->MaxRecordId());
  ASSERT_OK_AND_ASSIGN(count, storage->CountRecords());
  EXPECT_EQ(max_id, 7);
  EXPECT_EQ(count, 2);
}

TEST_P(StorageTest, BadConnectionStringIsInvalidArgument) {
  std::vector<std::string> bad = {"", "postgresql://dbname=x", "sqlite:/tmp/x.db", "db=/tmp/x.db"};
  if (IsSqlite()) {
    bad.push_back("sqlite3://");
  } else {
    bad.push_back("mysql://host=127.0.0.1 user=semisync password=semisync");  // no db=
    bad.push_back("mysql://host=127.0.0.1 db=bad-name user=semisync");
    bad.push_back("mysql://host=127.0.0.1 db=x;DROP user=semisync");
    bad.push_back("mysql://host=127.0.0.1 db='unterminated");
    bad.push_back("mysql://host=127.0.0.1 novalue db=x");
  }
  for (const std::string& connection : bad) {
    StorageOptions options;
    options.connection = connection;
    absl::StatusOr<std::unique_ptr<Storage>> storage = Storage::Open(options);
    EXPECT_TRUE(absl::IsInvalidArgument(storage.status()))
        << "\"" << connection << "\": " << storage.status();
  }
}

// For SQLite, the equivalent: a database file in a directory that does not exist.
TEST_P(StorageTest, UnreachableMysqlIsUnavailable) {
  StorageOptions options;
  options.connection = IsSqlite() ? absl::StrCat("sqlite3://db=", dir_, "/no/such/dir/records.db")
                                  : absl::StrCat("mysql://host=127.0.0.1 port=", UnusedPort(),
                                                 " db=unreachable user=semisync password=secret");
  absl::StatusOr<std::unique_ptr<Storage>> storage = Storage::Open(options);
  EXPECT_TRUE(absl::IsUnavailable(storage.status())) << storage.status();
  LOG(INFO) << storage.status();
  EXPECT_EQ(storage.status().message().find("secret"), std::string::npos)
      << "password leaked: " << storage.status();
}

TEST_P(StorageTest, ReadsRunConcurrentlyWithApply) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Storage> storage, Open());
  std::atomic<bool> done{false};
  std::atomic<int> read_errors{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {  // more readers than the 2 pooled sessions
    readers.emplace_back([&] {
      while (!done.load()) {
        if (!storage->ListRecords(0, 50).ok() || !storage->GetReplState().ok() ||
            !storage->CountRecords().ok()) {
          read_errors.fetch_add(1);
        }
      }
    });
  }
  uint64_t pos = 0;
  for (int b = 0; b < 20; ++b) {
    std::vector<v1::BinlogEvent> batch;
    for (int i = 0; i < 50; ++i) {
      ++pos;
      batch.push_back(Insert(pos, static_cast<int64_t>(pos), "x"));
    }
    ASSERT_OK(storage->ApplyBatch(batch, StateAt(pos)));
  }
  done.store(true);
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(read_errors.load(), 0);
  ASSERT_OK_AND_ASSIGN(int64_t count, storage->CountRecords());
  EXPECT_EQ(count, 1000);
}

TEST_P(StorageTest, LargeBatchThroughput) {
  constexpr int kEvents = 20000;
  constexpr int kBatch = 500;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Storage> storage, Open());
  std::vector<std::vector<v1::BinlogEvent>> batches;
  for (int pos = 1; pos <= kEvents; pos += kBatch) {
    std::vector<v1::BinlogEvent> batch;
    for (int p = pos; p < pos + kBatch; ++p) {
      // Mostly inserts, some updates of earlier rows and some deletes, like a real stream.
      if (p % 10 == 0) {
        batch.push_back(Update(p, p / 2, absl::StrCat("updated at ", p)));
      } else if (p % 25 == 0) {
        batch.push_back(Delete(p, p - 3));
      } else {
        batch.push_back(Insert(p, p, absl::StrCat("content of record ", p)));
      }
    }
    batches.push_back(std::move(batch));
  }
  const auto start = std::chrono::steady_clock::now();
  uint64_t pos = 0;
  for (const auto& batch : batches) {
    pos += batch.size();
    ASSERT_OK(storage->ApplyBatch(batch, StateAt(pos)));
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  LOG(INFO) << GetParam() << ": applied " << kEvents << " events in batches of " << kBatch << " in "
            << seconds << " s: " << static_cast<int64_t>(kEvents / seconds) << " events/s";

  ASSERT_OK_AND_ASSIGN(ReplState state, storage->GetReplState());
  EXPECT_EQ(state, StateAt(kEvents));
  ASSERT_OK_AND_ASSIGN(int64_t max_id, storage->MaxRecordId());
  EXPECT_EQ(max_id, kEvents - 1);
  // Expected table: replay the same ops on a map.
  std::map<int64_t, std::string> expected;
  for (const auto& batch : batches) {
    for (const v1::BinlogEvent& e : batch) {
      if (e.op() == v1::ROW_OP_DELETE) {
        expected.erase(e.record().id());
      } else {
        expected[e.record().id()] = e.record().content();
      }
    }
  }
  ASSERT_OK_AND_ASSIGN(int64_t count, storage->CountRecords());
  EXPECT_EQ(count, static_cast<int64_t>(expected.size()));
  ASSERT_OK_AND_ASSIGN(std::vector<v1::Record> all, storage->ListRecords(0, 10000));
  ASSERT_EQ(all.size(), std::min<size_t>(expected.size(), 10000));
  auto it = expected.begin();
  for (const v1::Record& r : all) {
    ASSERT_EQ(r.id(), it->first);
    ASSERT_EQ(r.content(), it->second) << "record " << r.id();
    ++it;
  }
}

// MySQL only: every connection of the storage is killed by the server (as by a restart or an idle
// timeout); the next write and reads succeed on new sessions (each retried once, as idempotent).
TEST(StorageMysqlTest, RecoversAfterServerKillsItsConnections) {
  const std::string db = test_util::UniqueTestName("storage_kill");
  ASSERT_OK_AND_ASSIGN(const std::string connection, test_util::MariaDbConnectionForTest(db));
  ASSERT_OK(test_util::DropMariaDbDatabaseForTest(db));
  StorageOptions options;
  options.connection = connection;
  options.read_sessions = 2;
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Storage> storage, Storage::Open(options));
    ASSERT_OK(storage->ApplyBatch({Insert(1, 1, "a")}, StateAt(1)));
    ASSERT_OK(storage->CountRecords().status());

    // An anonymous block (MariaDB) killing every other connection using this database.
    ASSERT_OK(test_util::ExecuteSqlForTest(
        connection, absl::StrCat("BEGIN NOT ATOMIC FOR c IN (SELECT id FROM"
                                 " information_schema.PROCESSLIST WHERE db = '",
                                 db,
                                 "' AND id <> CONNECTION_ID()) DO KILL CONNECTION c.id;"
                                 " END FOR; END")));

    for (int i = 0; i < 3; ++i) {  // more reads than pooled sessions: each is dead once
      ASSERT_OK_AND_ASSIGN(ReplState state, storage->GetReplState());
      EXPECT_EQ(state, StateAt(1));
    }
    ASSERT_OK(storage->ApplyBatch({Insert(2, 2, "b")}, StateAt(2)));
    ASSERT_OK_AND_ASSIGN(int64_t count, storage->CountRecords());
    EXPECT_EQ(count, 2);
  }
  ASSERT_OK(test_util::DropMariaDbDatabaseForTest(db));
}

// MySQL only: the writer's connection is killed while a batch is staged; CommitStaged applies
// the batch again on a new session, so it is committed all the same.
TEST(StorageMysqlTest, CommitStagedSurvivesALostConnection) {
  const std::string db = test_util::UniqueTestName("storage_staged_kill");
  ASSERT_OK_AND_ASSIGN(const std::string connection, test_util::MariaDbConnectionForTest(db));
  ASSERT_OK(test_util::DropMariaDbDatabaseForTest(db));
  StorageOptions options;
  options.connection = connection;
  options.read_sessions = 1;
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Storage> storage, Storage::Open(options));
    const std::vector<v1::BinlogEvent> batch = {Insert(1, 1, "a"), Insert(2, 2, "b")};
    ASSERT_OK(storage->StageBatch(batch, StateAt(2)));
    ASSERT_OK(test_util::ExecuteSqlForTest(
        connection, absl::StrCat("BEGIN NOT ATOMIC FOR c IN (SELECT id FROM"
                                 " information_schema.PROCESSLIST WHERE db = '",
                                 db,
                                 "' AND id <> CONNECTION_ID()) DO KILL CONNECTION c.id;"
                                 " END FOR; END")));
    ASSERT_OK(storage->CommitStaged(batch, StateAt(2)));
    ASSERT_OK_AND_ASSIGN(int64_t count, storage->CountRecords());
    EXPECT_EQ(count, 2);
    ASSERT_OK_AND_ASSIGN(ReplState state, storage->GetReplState());
    EXPECT_EQ(state, StateAt(2));
  }
  ASSERT_OK(test_util::DropMariaDbDatabaseForTest(db));
}

INSTANTIATE_TEST_SUITE_P(Backends, StorageTest, ::testing::Values("sqlite", "mariadb"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

// MariaDB only: the test server runs with innodb_flush_log_at_trx_commit=2, as recommended under
// semisync (scripts/test_mariadb.sh), so a commit is written but not yet fsynced; SyncToDisk must
// not return before InnoDB's flushed LSN has passed it.
using StorageInnoDbTest = StorageTest;

TEST_P(StorageInnoDbTest, SyncToDiskWaitsForTheRedoLogFlush) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Storage> storage, Open());
  ASSERT_OK_AND_ASSIGN(std::string mode,
                       test_util::QueryStringForTest(
                           connection_, "SELECT CAST(@@GLOBAL.innodb_flush_log_at_trx_commit AS "
                                        "CHAR)"));
  ASSERT_EQ(mode, "2") << "scripts/test_mariadb.sh starts the server with the setting semisync "
                          "recommends; this test checks what SyncToDisk does then";
  auto lsn = [this](const char* name) -> uint64_t {
    absl::StatusOr<std::string> v = test_util::QueryStringForTest(
        connection_, absl::StrCat("SELECT CAST(VARIABLE_VALUE AS CHAR) FROM "
                                  "information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = "
                                  "CONVERT('", name, "' USING utf8mb3)"));
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? std::stoull(*v) : 0;
  };
  for (int round = 1; round <= 3; ++round) {
    ASSERT_OK(storage->ApplyBatch({Insert(round, round, "x")}, StateAt(round)));
    const uint64_t committed = lsn("INNODB_LSN_CURRENT");
    ASSERT_GT(committed, 0u);
    ASSERT_OK(storage->SyncToDisk());
    EXPECT_GE(lsn("INNODB_LSN_FLUSHED"), committed) << "round " << round;
  }
}

INSTANTIATE_TEST_SUITE_P(MariaDbOnly, StorageInnoDbTest, ::testing::Values("mariadb"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace semisync
