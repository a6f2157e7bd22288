// RecordsServiceImpl against a real in-process gRPC server: with a read pool, reads are served by
// its workers (rows come back, on SQLite and MariaDB), and a read waiting on the database holds
// up neither writes nor the loop thread (MariaDB, a table lock held by the test).
#include "server/records_service.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "semisync/v1/records.grpc.pb.h"
#include "server/async_rpc.h"
#include "server/storage/storage.h"
#include "server/worker_pool.h"
#include "tests/test_util/mariadb.h"

namespace semisync {
namespace {

// Answers every write at once with position 1, touching no database.
class ImmediateWriter final : public RecordWriter {
 public:
  void Submit(v1::RowOp op, int64_t id, std::string content, Done done) override {
    v1::BinlogEvent e;
    e.set_op(op);
    e.set_position(1);
    e.set_gtid("u:1");
    e.mutable_record()->set_id(id == 0 ? 1000 : id);
    e.mutable_record()->set_content(std::move(content));
    done(absl::OkStatus(), e, false);
  }
};

// The service over `storage`, served on 127.0.0.1 by one loop thread, its reads on a pool of two
// workers (or on the loop when `read_threads` is 0).
class Served {
 public:
  Served(Storage* storage, int read_threads)
      : service_(storage, &writer_, [] { return std::string("master:1"); }) {
    grpc::ServerBuilder b;
    int port = 0;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    loop_ = std::make_unique<AsyncRpcLoop>(&b, 1, "rpc");
    if (read_threads > 0) pool_ = std::make_unique<WorkerPool>(read_threads, "read");
    service_.Register(&b, loop_.get(), pool_.get());
    server_ = b.BuildAndStart();
    loop_->Start();
    stub = v1::RecordsService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  }
  ~Served() {
    server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
    if (pool_) pool_->Shutdown();
    loop_->Shutdown();
  }

  std::unique_ptr<v1::RecordsService::Stub> stub;

 private:
  ImmediateWriter writer_;
  RecordsServiceImpl service_;
  std::unique_ptr<AsyncRpcLoop> loop_;  // destroyed after server_
  std::unique_ptr<WorkerPool> pool_;
  std::unique_ptr<grpc::Server> server_;
};

std::unique_ptr<Storage> OpenStorage(const std::string& connection) {
  StorageOptions o;
  o.connection = connection;
  o.read_sessions = 4;
  absl::StatusOr<std::unique_ptr<Storage>> s = Storage::Open(o);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? std::move(*s) : nullptr;
}

absl::Status InsertRow(Storage* storage, int64_t id, const std::string& content) {
  v1::BinlogEvent e;
  e.set_op(v1::ROW_OP_INSERT);
  e.set_position(static_cast<uint64_t>(id));
  e.set_gtid(absl::StrCat("u:", id));
  e.mutable_record()->set_id(id);
  e.mutable_record()->set_content(content);
  ReplState state;
  state.applied_position = static_cast<uint64_t>(id);
  state.applied_gtid = e.gtid();
  state.executed_gtid_set = absl::StrCat("u:1-", id);
  return storage->ApplyBatch({e}, state);
}

std::unique_ptr<grpc::ClientContext> Deadline(absl::Duration d) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + d));
  return ctx;
}

void ExpectReadsServed(Storage* storage, int read_threads) {
  ASSERT_TRUE(InsertRow(storage, 1, "one").ok());
  ASSERT_TRUE(InsertRow(storage, 2, "two").ok());
  Served served(storage, read_threads);

  v1::GetRecordRequest get;
  get.set_id(2);
  v1::Record rec;
  grpc::Status s = served.stub->GetRecord(Deadline(absl::Seconds(10)).get(), get, &rec);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(rec.content(), "two");

  get.set_id(3);
  s = served.stub->GetRecord(Deadline(absl::Seconds(10)).get(), get, &rec);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
  get.set_id(-1);
  s = served.stub->GetRecord(Deadline(absl::Seconds(10)).get(), get, &rec);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();

  v1::ListRecordsRequest list;
  v1::ListRecordsResponse page;
  s = served.stub->ListRecords(Deadline(absl::Seconds(10)).get(), list, &page);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(page.records_size(), 2);
  EXPECT_EQ(page.records(0).content(), "one");
  EXPECT_EQ(page.records(1).id(), 2);
}

TEST(RecordsServiceTest, ReadsOnAPoolAreServedOnSqlite) {
  const std::string dir = test_util::MakeTempDir("records_service_pool");
  std::unique_ptr<Storage> storage = OpenStorage(absl::StrCat("sqlite3://db=", dir, "/r.db"));
  ASSERT_NE(storage, nullptr);
  ExpectReadsServed(storage.get(), 2);
}

TEST(RecordsServiceTest, ReadsOnTheLoopAreServedOnSqlite) {
  const std::string dir = test_util::MakeTempDir("records_service_loop");
  std::unique_ptr<Storage> storage = OpenStorage(absl::StrCat("sqlite3://db=", dir, "/r.db"));
  ASSERT_NE(storage, nullptr);
  ExpectReadsServed(storage.get(), 0);
}

class MariaDbRecordsServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = test_util::UniqueTestName("records_service");
    absl::StatusOr<std::string> c = test_util::MariaDbConnectionForTest(db_);
    ASSERT_TRUE(c.ok()) << c.status();
    connection_ = *c;
    storage_ = OpenStorage(connection_);
    ASSERT_NE(storage_, nullptr);
  }
  void TearDown() override {
    storage_.reset();
    EXPECT_TRUE(test_util::DropMariaDbDatabaseForTest(db_).ok());
  }

  std::string db_;
  std::string connection_;
  std::unique_ptr<Storage> storage_;
};

TEST_F(MariaDbRecordsServiceTest, ReadsOnAPoolAreServed) { ExpectReadsServed(storage_.get(), 2); }

TEST_F(MariaDbRecordsServiceTest, AReadWaitingOnTheDatabaseDoesNotHoldUpWrites) {
  ASSERT_TRUE(InsertRow(storage_.get(), 1, "one").ok());
  Served served(storage_.get(), 2);

  // Another session write-locks the table: a read of it now waits for the lock.
  absl::StatusOr<std::unique_ptr<test_util::SqlSessionForTest>> locker =
      test_util::SqlSessionForTest::Open(connection_);
  ASSERT_TRUE(locker.ok()) << locker.status();
  ASSERT_TRUE((*locker)->Execute("LOCK TABLES records WRITE").ok());

  std::atomic<bool> read_done{false};
  grpc::Status read_status;
  v1::Record read_rec;
  std::thread reader([&] {
    v1::GetRecordRequest get;
    get.set_id(1);
    read_status = served.stub->GetRecord(Deadline(absl::Seconds(60)).get(), get, &read_rec);
    read_done = true;
  });
  // Until the server shows the read waiting for the lock.
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  bool waiting = false;
  while (!waiting && absl::Now() < deadline) {
    absl::StatusOr<std::string> n = test_util::QueryStringForTest(
        connection_,
        "SELECT CAST(COUNT(*) AS CHAR) FROM information_schema.processlist WHERE state = "
        "'Waiting for table metadata lock' AND info LIKE 'SELECT%records%'");
    waiting = n.ok() && *n != "0";
    if (!waiting) absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_TRUE(waiting) << "the read never reached the database";
  EXPECT_FALSE(read_done.load());

  // The loop thread is free: a write is answered while the read still waits.
  v1::CreateRecordRequest create;
  create.set_content("written meanwhile");
  v1::RecordWriteResponse created;
  grpc::Status w = served.stub->CreateRecord(Deadline(absl::Seconds(10)).get(), create, &created);
  EXPECT_TRUE(w.ok()) << w.error_message();
  EXPECT_EQ(created.record().content(), "written meanwhile");
  EXPECT_FALSE(read_done.load());

  ASSERT_TRUE((*locker)->Execute("UNLOCK TABLES").ok());
  reader.join();
  ASSERT_TRUE(read_status.ok()) << read_status.error_message();
  EXPECT_EQ(read_rec.content(), "one");
}

}  // namespace
}  // namespace semisync
