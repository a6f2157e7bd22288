// Slave against an in-process fake master (a ReplicationService on 127.0.0.1, port 0) and a real
// Storage on SQLite in a temp dir. Every wait polls Status() (or the fake) with a deadline.
#include "server/slave/slave.h"

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/segmented_log.h"
#include "gtest/gtest.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "semisync/v1/replication.grpc.pb.h"
#include "server/storage/storage.h"
#include "tests/test_util/mariadb.h"

namespace semisync {
namespace {

#define ASSERT_OK(expr)              \
  do {                               \
    const absl::Status _st = (expr); \
    ASSERT_TRUE(_st.ok()) << _st;    \
  } while (0)

constexpr char kUuid[] = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
constexpr char kOtherUuid[] = "9b2c7e10-0000-4000-8000-000000000001";

v1::BinlogEvent MakeEvent(uint64_t position, v1::RowOp op = v1::ROW_OP_INSERT) {
  v1::BinlogEvent e;
  e.set_position(position);
  e.set_gtid(absl::StrCat(kUuid, ":", position));
  e.set_timestamp_us(absl::ToUnixMicros(absl::Now()));
  e.set_op(op);
  e.mutable_record()->set_id(static_cast<int64_t>(position));
  e.mutable_record()->set_content(absl::StrCat("row ", position));
  e.mutable_record()->set_created_at_us(e.timestamp_us());
  e.mutable_record()->set_updated_at_us(e.timestamp_us());
  return e;
}

// A master that streams its in-memory binlog (positions 1..N) after the requested position, plus
// whatever raw messages the test injects, and records registrations, subscriptions and acks.
class FakeMaster final : public v1::ReplicationService::Service {
 public:
  void Add(v1::BinlogEvent e) {
    absl::MutexLock lock(&mu_);
    AddLocked(std::move(e));
  }
  void AddLocked(v1::BinlogEvent e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    e.set_position(binlog_.size() + 1);
    e.set_gtid(absl::StrCat(kUuid, ":", e.position()));
    if (e.record().id() == 0) {
      e.mutable_record()->set_id(static_cast<int64_t>(e.position()));
      e.mutable_record()->set_content(absl::StrCat("row ", e.position()));
    }
    binlog_.push_back(std::move(e));
  }
  void AddEvents(int n, v1::RowOp op = v1::ROW_OP_INSERT) {
    for (int i = 0; i < n; ++i) Add(MakeEvent(0, op));
  }
  // n <= 3 inserts that reach the stream together, in one message (a group commit's worth).
  void AddGroup(int n) {
    absl::MutexLock lock(&mu_);
    for (int i = 0; i < n; ++i) AddLocked(MakeEvent(0, v1::ROW_OP_INSERT));
  }
  // Sent as-is on the open stream, ahead of binlog events.
  void Inject(v1::SubscribeBinlogResponse msg) {
    absl::MutexLock lock(&mu_);
    inject_.push_back(std::move(msg));
  }
  // Open streams end with `status`.
  void EndStreams(grpc::Status status) {
    absl::MutexLock lock(&mu_);
    end_status_ = status;
    ++end_generation_;
  }
  void SetSubscribeError(grpc::Status status) {
    absl::MutexLock lock(&mu_);
    subscribe_error_ = status;
  }
  // RegisterSlave (and so every connection attempt) fails with `status`: the master is gone.
  void SetRegisterError(grpc::Status status) {
    absl::MutexLock lock(&mu_);
    register_error_ = status;
  }
  // The next subscription only is refused with `status`.
  void RefuseNextSubscribe(grpc::Status status) {
    absl::MutexLock lock(&mu_);
    refuse_next_ = status;
  }
  void SetUuid(const std::string& uuid) {
    absl::MutexLock lock(&mu_);
    uuid_ = uuid;
  }
  void Shutdown() {
    absl::MutexLock lock(&mu_);
    shutdown_ = true;
  }
  std::vector<uint64_t> subscribes() const {
    absl::MutexLock lock(&mu_);
    return subscribes_;
  }
  int registrations() const {
    absl::MutexLock lock(&mu_);
    return registrations_;
  }
  v1::AckRequest last_ack() const {
    absl::MutexLock lock(&mu_);
    return last_ack_;
  }

  grpc::Status RegisterSlave(grpc::ServerContext*, const v1::RegisterSlaveRequest* req,
                             v1::RegisterSlaveResponse* resp) override {
    absl::MutexLock lock(&mu_);
    if (!register_error_.ok()) return register_error_;
    ++registrations_;
    last_register_ = *req;
    resp->set_master_uuid(uuid_);
    resp->set_binlog_end_position(binlog_.size());
    resp->set_oldest_position(1);
    return grpc::Status::OK;
  }

  grpc::Status SubscribeBinlog(grpc::ServerContext* ctx, const v1::SubscribeBinlogRequest* req,
                               grpc::ServerWriter<v1::SubscribeBinlogResponse>* writer) override {
    uint64_t cursor = req->after_position();
    int generation = 0;
    {
      absl::MutexLock lock(&mu_);
      subscribes_.push_back(cursor);
      if (!subscribe_error_.ok()) return subscribe_error_;
      if (!refuse_next_.ok()) {
        grpc::Status refusal = refuse_next_;
        refuse_next_ = grpc::Status::OK;
        return refusal;
      }
      generation = end_generation_;
    }
    auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return shutdown_ || end_generation_ != generation || !inject_.empty() ||
             binlog_.size() > cursor;
    };
    {
      // Like the master: a heartbeat first, with the durable end.
      v1::SubscribeBinlogResponse hello;
      {
        absl::MutexLock lock(&mu_);
        hello.mutable_heartbeat()->set_binlog_end_position(binlog_.size());
      }
      if (!writer->Write(hello)) return grpc::Status(grpc::StatusCode::CANCELLED, "gone");
    }
    while (true) {
      v1::SubscribeBinlogResponse msg;
      {
        absl::MutexLock lock(&mu_);
        mu_.AwaitWithTimeout(absl::Condition(&ready), absl::Milliseconds(20));
        if (shutdown_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "shutting down");
        if (end_generation_ != generation) return end_status_;
        if (!inject_.empty()) {
          msg = std::move(inject_.front());
          inject_.pop_front();
        } else if (binlog_.size() > cursor) {
          // Small batches, to exercise several messages per stream.
          for (int i = 0; i < 3 && binlog_.size() > cursor; ++i) {
            *msg.add_events() = binlog_[cursor++];
          }
        } else {
          if (ctx->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "gone");
          continue;
        }
      }
      if (!writer->Write(msg)) return grpc::Status(grpc::StatusCode::CANCELLED, "gone");
    }
  }

  // While held, Ack calls wait in the handler (unanswered) until released.
  void HoldAcks(bool hold) {
    absl::MutexLock lock(&mu_);
    hold_acks_ = hold;
  }
  // The highest received_position answered (Acks may be answered out of order).
  uint64_t max_acked() const {
    absl::MutexLock lock(&mu_);
    return max_acked_;
  }
  // received_position of every Ack now waiting in the handler.
  std::vector<uint64_t> held_acks() const {
    absl::MutexLock lock(&mu_);
    return held_;
  }

  grpc::Status Ack(grpc::ServerContext*, const v1::AckRequest* req,
                   v1::AckResponse* resp) override {
    absl::MutexLock lock(&mu_);
    if (hold_acks_) {
      held_.push_back(req->received_position());
      auto released = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !hold_acks_ || shutdown_;
      };
      mu_.Await(absl::Condition(&released));
      held_.erase(std::find(held_.begin(), held_.end(), req->received_position()));
    }
    last_ack_ = *req;
    max_acked_ = std::max(max_acked_, req->received_position());
    resp->set_binlog_end_position(binlog_.size());
    return grpc::Status::OK;
  }

  v1::RegisterSlaveRequest last_register() const {
    absl::MutexLock lock(&mu_);
    return last_register_;
  }

 private:
  mutable absl::Mutex mu_;
  std::string uuid_ ABSL_GUARDED_BY(mu_) = kUuid;
  std::vector<v1::BinlogEvent> binlog_ ABSL_GUARDED_BY(mu_);  // binlog_[i].position == i + 1
  std::deque<v1::SubscribeBinlogResponse> inject_ ABSL_GUARDED_BY(mu_);
  grpc::Status subscribe_error_ ABSL_GUARDED_BY(mu_);
  grpc::Status refuse_next_ ABSL_GUARDED_BY(mu_);
  grpc::Status register_error_ ABSL_GUARDED_BY(mu_);
  grpc::Status end_status_ ABSL_GUARDED_BY(mu_);
  int end_generation_ ABSL_GUARDED_BY(mu_) = 0;
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  int registrations_ ABSL_GUARDED_BY(mu_) = 0;
  v1::RegisterSlaveRequest last_register_ ABSL_GUARDED_BY(mu_);
  std::vector<uint64_t> subscribes_ ABSL_GUARDED_BY(mu_);
  v1::AckRequest last_ack_ ABSL_GUARDED_BY(mu_);
  uint64_t max_acked_ ABSL_GUARDED_BY(mu_) = 0;
  bool hold_acks_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<uint64_t> held_ ABSL_GUARDED_BY(mu_);
};

class SlaveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test_util::MakeTempDir("slave_test");
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&master_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_NE(port_, 0);
    OpenStorage();
  }

  void TearDown() override {
    slave_.reset();
    master_.Shutdown();
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  }

  void OpenStorage() {
    StorageOptions so;
    so.connection = absl::StrCat("sqlite3://db=", dir_, "/slave.db");
    so.read_sessions = 2;
    so.sync_commits = true;
    absl::StatusOr<std::unique_ptr<Storage>> storage = Storage::Open(so);
    ASSERT_TRUE(storage.ok()) << storage.status();
    storage_ = *std::move(storage);
  }

  SlaveOptions Options() const {
    SlaveOptions o;
    o.slave_id = "slave1";
    o.master_address = absl::StrCat("127.0.0.1:", port_);
    o.advertise_address = "127.0.0.1:1";
    o.data_dir = dir_ + "/data";
    o.reconnect_backoff_min = absl::Milliseconds(10);
    o.reconnect_backoff_max = absl::Milliseconds(100);
    o.heartbeat_timeout = absl::Seconds(30);  // the fake master sends no heartbeats by itself
    o.ack_interval = absl::Milliseconds(50);
    return o;
  }

  // Creates and starts the slave.
  void StartSlave(const SlaveOptions& options) {
    absl::StatusOr<std::unique_ptr<Slave>> slave = Slave::Create(options, storage_.get());
    ASSERT_TRUE(slave.ok()) << slave.status();
    slave_ = *std::move(slave);
    ASSERT_OK(slave_->StartSync());
  }

  // Polls `pred` every 5 ms until it holds or `timeout` passes.
  ::testing::AssertionResult WaitFor(const std::function<bool()>& pred, const std::string& what,
                                     absl::Duration timeout = absl::Seconds(10)) {
    const absl::Time deadline = absl::Now() + timeout;
    while (!pred()) {
      if (absl::Now() > deadline) {
        return ::testing::AssertionFailure()
               << "timed out waiting for " << what << "; slave status: "
               << (slave_ ? slave_->Status().ShortDebugString() : "(no slave)");
      }
      absl::SleepFor(absl::Milliseconds(5));
    }
    return ::testing::AssertionSuccess();
  }
  ::testing::AssertionResult WaitForStatus(
      const std::function<bool(const v1::SlaveStatus&)>& pred, const std::string& what) {
    return WaitFor([&] { return pred(slave_->Status()); }, what);
  }
  ::testing::AssertionResult WaitForApplied(uint64_t position) {
    return WaitForStatus(
        [&](const v1::SlaveStatus& s) { return s.executed_position() == position; },
        absl::StrCat("executed_position == ", position));
  }

  int64_t CountRecords() {
    absl::StatusOr<int64_t> n = storage_->CountRecords();
    EXPECT_TRUE(n.ok()) << n.status();
    return n.ok() ? *n : -1;
  }

  // Positions held by the relay log (the slave must be destroyed first).
  std::vector<uint64_t> RelayPositions() {
    LogOptions lo;
    lo.dir = dir_ + "/data/relay";
    lo.prefix = "relay";
    std::vector<uint64_t> positions;
    absl::StatusOr<std::unique_ptr<SegmentedLog>> log = SegmentedLog::Open(lo);
    EXPECT_TRUE(log.ok()) << log.status();
    if (!log.ok() || (*log)->LastPosition() == 0) return positions;
    uint64_t oldest = (*log)->OldestPosition();
    absl::StatusOr<std::unique_ptr<LogReader>> reader = (*log)->NewReader(oldest - 1);
    EXPECT_TRUE(reader.ok()) << reader.status();
    if (!reader.ok()) return positions;
    std::vector<LogRecord> records;
    do {
      records.clear();
      EXPECT_TRUE((*reader)->Read((*log)->DurablePosition(), 100, 1 << 20, &records).ok());
      for (const LogRecord& r : records) positions.push_back(r.position);
    } while (!records.empty());
    return positions;
  }

  // Writes `events` into the relay log directly (as a previous run would have).
  void WriteRelayLog(const std::vector<v1::BinlogEvent>& events) {
    LogOptions lo;
    lo.dir = dir_ + "/data/relay";
    lo.prefix = "relay";
    absl::StatusOr<std::unique_ptr<SegmentedLog>> log = SegmentedLog::Open(lo);
    ASSERT_TRUE(log.ok()) << log.status();
    std::vector<LogRecord> records;
    for (const v1::BinlogEvent& e : events) {
      records.push_back({e.position(), e.SerializeAsString()});
    }
    ASSERT_OK((*log)->Append(records));
    ASSERT_OK((*log)->Sync());
  }

  static std::vector<v1::BinlogEvent> Events(uint64_t first, uint64_t last) {
    std::vector<v1::BinlogEvent> events;
    for (uint64_t p = first; p <= last; ++p) {
      events.push_back(MakeEvent(p));
    }
    return events;
  }

  static ReplState StateAfter(const std::vector<v1::BinlogEvent>& events) {
    ReplState st;
    st.applied_position = events.back().position();
    st.applied_gtid = events.back().gtid();
    st.applied_timestamp_us = events.back().timestamp_us();
    st.executed_gtid_set = absl::StrCat(kUuid, ":1-", events.back().position());
    return st;
  }

  std::string dir_;
  FakeMaster master_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<Storage> storage_;
  std::unique_ptr<Slave> slave_;
};

std::vector<uint64_t> Range(uint64_t first, uint64_t last) {
  std::vector<uint64_t> v;
  for (uint64_t p = first; p <= last; ++p) v.push_back(p);
  return v;
}

TEST_F(SlaveTest, ReceivesPersistsAcksAndApplies) {
  master_.AddEvents(10);
  StartSlave(Options());
  ASSERT_TRUE(WaitFor([&] { return master_.last_ack().received_position() == 10; },
                      "ack of received position 10"));
  ASSERT_TRUE(WaitForApplied(10));
  ASSERT_TRUE(WaitFor([&] { return master_.last_ack().applied_position() == 10; },
                      "ack of applied position 10"));
  EXPECT_EQ(master_.last_ack().slave_id(), "slave1");
  EXPECT_GT(master_.last_ack().applied_timestamp_us(), 0);
  EXPECT_EQ(master_.last_register().address(), "127.0.0.1:1");
  EXPECT_TRUE(master_.last_register().semi_sync());

  EXPECT_EQ(CountRecords(), 10);
  absl::StatusOr<v1::Record> r = storage_->GetRecord(7);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->content(), "row 7");

  v1::SlaveStatus s = slave_->Status();
  EXPECT_EQ(s.role(), "slave");
  EXPECT_EQ(s.slave_id(), "slave1");
  EXPECT_EQ(s.master_uuid(), kUuid);
  EXPECT_TRUE(s.io_running());
  EXPECT_TRUE(s.sql_running());
  EXPECT_TRUE(s.connected());
  EXPECT_EQ(s.retrieved_position(), 10u);
  EXPECT_EQ(s.retrieved_gtid_set(), absl::StrCat(kUuid, ":1-10"));
  EXPECT_EQ(s.executed_gtid_set(), absl::StrCat(kUuid, ":1-10"));
  EXPECT_EQ(s.master_binlog_end_position(), 10u);
  EXPECT_EQ(s.lag_events(), 0u);
  EXPECT_EQ(s.seconds_behind_master(), 0);
  EXPECT_EQ(s.apply_errors(), 0u);
  EXPECT_GT(s.relay_log_bytes(), 0u);
  EXPECT_EQ(s.last_io_error(), "");
  EXPECT_EQ(s.last_sql_error(), "");

  absl::StatusOr<ReplState> st = storage_->GetReplState();
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->applied_position, 10u);
  EXPECT_EQ(st->applied_gtid, absl::StrCat(kUuid, ":10"));

  slave_.reset();
  EXPECT_EQ(RelayPositions(), Range(1, 10));
}

// A group made durable while the Ack of an earlier one is unanswered is acknowledged at once, in
// a second Ack in flight, not after the first one's answer.
TEST_F(SlaveTest, AcksNewGroupsWhileAnEarlierAckIsInFlight) {
  master_.HoldAcks(true);
  master_.AddEvents(3);
  SlaveOptions o = Options();
  o.ack_interval = absl::Hours(1);  // the acker stays out of it (no periodic acks)
  o.rpc_timeout = absl::Minutes(5);  // and no Ack gives up while held
  StartSlave(o);
  ASSERT_TRUE(WaitFor(
      [&] {
        std::vector<uint64_t> held = master_.held_acks();
        return std::count(held.begin(), held.end(), 3) > 0;
      },
      "an unanswered Ack of position 3"));
  master_.AddEvents(3);
  ASSERT_TRUE(WaitFor(
      [&] {
        std::vector<uint64_t> held = master_.held_acks();
        return std::count(held.begin(), held.end(), 3) > 0 &&
               std::count(held.begin(), held.end(), 6) > 0;
      },
      "an Ack of position 6 while the Ack of position 3 is unanswered"));
  master_.HoldAcks(false);
  ASSERT_TRUE(WaitFor([&] { return master_.max_acked() == 6; }, "the acks answered"));
  ASSERT_TRUE(WaitForApplied(6));
}

// Under load (events arriving in groups) the applier begins a batch at most once per
// apply_batch_delay: events that arrive meanwhile wait and go into the next batch, which begins
// early once apply_batch_events are waiting. Events that arrive one by one are applied at once.
TEST_F(SlaveTest, GroupedEventsWithinTheBatchDelayAreAppliedAsOneBatch) {
  SlaveOptions o = Options();
  o.apply_batch_delay = absl::Hours(1);
  o.apply_batch_events = 9;
  master_.AddEvents(1);
  StartSlave(o);
  ASSERT_TRUE(WaitForApplied(1));
  EXPECT_EQ(slave_->Status().apply_transactions(), 1u);
  // Two groups of three, each durable in one relay-log sync: they wait for the delay (an hour)
  // or for nine events.
  for (uint64_t end : {4, 7}) {
    master_.AddGroup(3);
    ASSERT_TRUE(
        WaitForStatus([&](const v1::SlaveStatus& s) { return s.retrieved_position() == end; },
                      absl::StrCat("retrieved_position == ", end)));
  }
  EXPECT_EQ(slave_->Status().executed_position(), 1u);
  master_.AddGroup(3);
  ASSERT_TRUE(WaitForApplied(10));
  v1::SlaveStatus s = slave_->Status();
  EXPECT_EQ(s.apply_transactions(), 2u);
  EXPECT_EQ(s.executed_gtid_set(), absl::StrCat(kUuid, ":1-10"));
  // A lone event is applied at once, delay or not.
  master_.AddEvents(1);
  ASSERT_TRUE(WaitForApplied(11));
  EXPECT_EQ(slave_->Status().apply_transactions(), 3u);
  EXPECT_EQ(CountRecords(), 11);
}

// StopSync ends the applier's wait for a batch, and the applier StartSync starts is idle: what
// waited is applied at once.
TEST_F(SlaveTest, StopSyncEndsTheBatchDelay) {
  SlaveOptions o = Options();
  o.apply_batch_delay = absl::Hours(1);
  master_.AddEvents(1);
  StartSlave(o);
  ASSERT_TRUE(WaitForApplied(1));
  master_.AddGroup(2);
  ASSERT_TRUE(WaitForStatus([](const v1::SlaveStatus& s) { return s.retrieved_position() == 3; },
                            "retrieved_position == 3"));
  EXPECT_EQ(slave_->Status().executed_position(), 1u);
  ASSERT_OK(slave_->StopSync());  // would wait out the hour if the applier's wait ignored it
  EXPECT_FALSE(slave_->Status().sql_running());
  EXPECT_EQ(slave_->Status().executed_position(), 1u);
  ASSERT_OK(slave_->StartSync());
  ASSERT_TRUE(WaitForApplied(3));
  EXPECT_EQ(CountRecords(), 3);
}

// A message whose events go past its durable_position: the master sent them ahead of its fsync.
v1::SubscribeBinlogResponse SentAhead(const std::vector<v1::BinlogEvent>& events,
                                      uint64_t durable) {
  v1::SubscribeBinlogResponse msg;
  for (const v1::BinlogEvent& e : events) *msg.add_events() = e;
  msg.set_durable_position(durable);
  return msg;
}

TEST_F(SlaveTest, EventsSentAheadOfTheMastersFsyncAreAppliedOnlyOnceDurable) {
  master_.Inject(SentAhead(Events(1, 3), 1));
  StartSlave(Options());
  // Persisted and acknowledged (the master's wait needs it) ...
  ASSERT_TRUE(WaitFor([&] { return master_.max_acked() == 3; }, "ack of position 3"));
  ASSERT_TRUE(WaitForApplied(1));
  // ... but applied only up to what the master has durably.
  EXPECT_EQ(slave_->Status().executed_position(), 1u);
  EXPECT_EQ(slave_->Status().retrieved_position(), 3u);
  v1::SubscribeBinlogResponse durable;
  durable.mutable_heartbeat()->set_binlog_end_position(3);
  master_.Inject(durable);
  ASSERT_TRUE(WaitForApplied(3));
  EXPECT_EQ(CountRecords(), 3);
}

// An idle master sends every write ahead of its fsync; the slave posts its next Read only after
// each message's fsync and Ack (relay_receiver.cc), so a message it did not read would stall it.
TEST_F(SlaveTest, OneWriteAfterAnotherSentAheadAreEachAckedAndApplied) {
  StartSlave(Options());
  for (uint64_t pos = 1; pos <= 5; ++pos) {
    master_.Inject(SentAhead(Events(pos, pos), pos - 1));
    ASSERT_TRUE(WaitFor([&] { return master_.max_acked() == pos; }, "ack of the write"));
    v1::SubscribeBinlogResponse durable;
    durable.mutable_heartbeat()->set_binlog_end_position(pos);
    master_.Inject(durable);
    ASSERT_TRUE(WaitForApplied(pos));
  }
  EXPECT_EQ(CountRecords(), 5);
  EXPECT_EQ(slave_->Status().retrieved_position(), 5u);
}

TEST_F(SlaveTest, EventsNeverReportedDurableAreAppliedWhenTheMasterStaysAway) {
  master_.Inject(SentAhead(Events(1, 3), 1));
  SlaveOptions o = Options();
  o.apply_unconfirmed_after = absl::Milliseconds(300);
  StartSlave(o);
  ASSERT_TRUE(WaitFor([&] { return master_.max_acked() == 3; }, "ack of position 3"));
  ASSERT_TRUE(WaitForApplied(1));
  // The master goes away before saying 2 and 3 are durable (they may be acknowledged writes).
  master_.SetRegisterError(grpc::Status(grpc::StatusCode::UNAVAILABLE, "master is down"));
  master_.EndStreams(grpc::Status(grpc::StatusCode::UNAVAILABLE, "master crashed"));
  ASSERT_TRUE(WaitForApplied(3));
  EXPECT_EQ(CountRecords(), 3);
}

TEST_F(SlaveTest, ARestartedSlaveKnowsWhichRelayEventsTheMasterHadNotConfirmed) {
  // A previous run received 1..2 as durable and 3..4 ahead of the master's fsync (the relay log
  // marks them), applied nothing, and stopped; the master then lost 3..4.
  std::vector<v1::BinlogEvent> held = Events(1, 4);
  for (int i = 2; i < 4; ++i) {
    held[i].mutable_record()->set_content("lost");
    held[i].set_relay_master_durable_position(2);
  }
  WriteRelayLog(held);
  master_.SetRegisterError(grpc::Status(grpc::StatusCode::UNAVAILABLE, "master is down"));
  SlaveOptions o = Options();
  o.apply_unconfirmed_after = absl::Hours(1);
  StartSlave(o);
  // 1..2 need no word from the master; 3..4 do.
  ASSERT_TRUE(WaitForApplied(2));
  EXPECT_EQ(slave_->Status().retrieved_position(), 4u);

  // The master is back without 3..4 (it has other events there): it refuses the slave's 4, and
  // the slave drops 3..4 only (not 1..2, which the master had confirmed), then follows it.
  master_.Add(held[0]);
  master_.Add(held[1]);
  master_.AddEvents(2);
  master_.RefuseNextSubscribe(
      grpc::Status(grpc::StatusCode::ABORTED, "the slave holds events the master lost"));
  master_.SetRegisterError(grpc::Status::OK);
  ASSERT_TRUE(WaitForApplied(4));
  const std::vector<uint64_t> subscribes = master_.subscribes();
  ASSERT_GE(subscribes.size(), 2u);
  EXPECT_EQ(subscribes[0], 4u);  // refused
  EXPECT_EQ(subscribes[1], 2u);
  for (int64_t id = 3; id <= 4; ++id) {
    absl::StatusOr<v1::Record> r = storage_->GetRecord(id);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->content(), absl::StrCat("row ", id));
  }
}

TEST_F(SlaveTest, DropsEventsTheMasterLostAndFollowsItsNewHistory) {
  // Events 2 and 3 were sent ahead of the master's fsync; then the master crashed and lost them.
  std::vector<v1::BinlogEvent> sent = Events(1, 3);
  for (int i = 1; i < 3; ++i) sent[i].mutable_record()->set_content("lost");
  master_.Inject(SentAhead(sent, 1));
  StartSlave(Options());
  ASSERT_TRUE(WaitFor([&] { return master_.max_acked() == 3; }, "ack of position 3"));
  ASSERT_TRUE(WaitForApplied(1));

  // The restarted master has event 1 and new events at 2..4; it refuses the slave's position 3.
  master_.RefuseNextSubscribe(grpc::Status(grpc::StatusCode::ABORTED,
                                           "the slave holds events the master lost"));
  master_.Add(sent[0]);
  master_.AddEvents(3);
  master_.EndStreams(grpc::Status(grpc::StatusCode::UNAVAILABLE, "master restarted"));

  ASSERT_TRUE(WaitForApplied(4));
  const std::vector<uint64_t> subscribes = master_.subscribes();
  ASSERT_GE(subscribes.size(), 3u);
  EXPECT_EQ(subscribes[0], 0u);
  EXPECT_EQ(subscribes[1], 3u);  // refused
  EXPECT_EQ(subscribes[2], 1u);  // after the events kept
  for (int64_t id = 2; id <= 4; ++id) {
    absl::StatusOr<v1::Record> r = storage_->GetRecord(id);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->content(), absl::StrCat("row ", id));
  }
  EXPECT_EQ(slave_->Status().executed_gtid_set(), absl::StrCat(kUuid, ":1-4"));
  EXPECT_EQ(slave_->Status().apply_errors(), 0u);
  slave_.reset();
  EXPECT_EQ(RelayPositions(), Range(1, 4));
}

TEST_F(SlaveTest, ARefusalWithNothingUnconfirmedIsReportedAsDivergence) {
  master_.AddEvents(2);
  StartSlave(Options());
  ASSERT_TRUE(WaitForApplied(2));
  master_.SetSubscribeError(
      grpc::Status(grpc::StatusCode::ABORTED, "different event at position 2"));
  master_.EndStreams(grpc::Status(grpc::StatusCode::UNAVAILABLE, "master restarted"));
  ASSERT_TRUE(WaitForStatus(
      [](const v1::SlaveStatus& s) {
        return absl::StrContains(s.last_io_error(), "diverges") &&
               absl::StrContains(s.last_io_error(), "different event at position 2");
      },
      "a divergence error"));
  EXPECT_EQ(slave_->Status().executed_position(), 2u);
  slave_.reset();
  EXPECT_EQ(RelayPositions(), Range(1, 2));
}

TEST_F(SlaveTest, ResumesAfterRestartWithoutGapsOrDuplicates) {
  master_.AddEvents(5);
  StartSlave(Options());
  ASSERT_TRUE(WaitForApplied(5));
  slave_.reset();

  master_.AddEvents(5);
  StartSlave(Options());
  ASSERT_TRUE(WaitForApplied(10));
  std::vector<uint64_t> subs = master_.subscribes();
  ASSERT_EQ(subs.size(), 2u);
  EXPECT_EQ(subs[0], 0u);
  EXPECT_EQ(subs[1], 5u);
  EXPECT_EQ(slave_->Status().retrieved_gtid_set(), absl::StrCat(kUuid, ":1-10"));
  EXPECT_EQ(CountRecords(), 10);
  slave_.reset();
  EXPECT_EQ(RelayPositions(), Range(1, 10));
}

TEST_F(SlaveTest, AppliesIdempotentlyWhenRelayLogIsAheadOfDb) {
  // The relay log holds 1..10; the database has the rows of 1..6 but its position says 4: events 5
  // and 6 are applied a second time, harmlessly.
  std::vector<v1::BinlogEvent> events = Events(1, 10);
  for (const auto& e : events) master_.Add(e);
  WriteRelayLog(events);
  std::vector<v1::BinlogEvent> first6(events.begin(), events.begin() + 6);
  std::vector<v1::BinlogEvent> first4(events.begin(), events.begin() + 4);
  ASSERT_OK(storage_->ApplyBatch(first6, StateAfter(first4)));

  StartSlave(Options());
  ASSERT_TRUE(WaitForApplied(10));
  ASSERT_TRUE(WaitFor([&] { return !master_.subscribes().empty(); }, "a subscription"));
  EXPECT_EQ(master_.subscribes()[0], 10u);  // nothing fetched twice
  v1::SlaveStatus s = slave_->Status();
  EXPECT_EQ(s.apply_errors(), 0u);
  EXPECT_EQ(s.executed_gtid_set(), absl::StrCat(kUuid, ":1-10"));
  EXPECT_EQ(CountRecords(), 10);
}

TEST_F(SlaveTest, RecreatesRelayLogThatEndsBeforeTheDb) {
  std::vector<v1::BinlogEvent> events = Events(1, 8);
  for (const auto& e : events) master_.Add(e);
  WriteRelayLog(std::vector<v1::BinlogEvent>(events.begin(), events.begin() + 3));
  std::vector<v1::BinlogEvent> first5(events.begin(), events.begin() + 5);
  ASSERT_OK(storage_->ApplyBatch(first5, StateAfter(first5)));

  StartSlave(Options());
  ASSERT_TRUE(WaitForApplied(8));
  EXPECT_EQ(master_.subscribes()[0], 5u);
  EXPECT_EQ(CountRecords(), 8);
  slave_.reset();
  EXPECT_EQ(RelayPositions(), Range(6, 8));
}

TEST_F(SlaveTest, PurgesAppliedRelayLogSegments) {
  SlaveOptions o = Options();
  o.relay_log_segment_bytes = 512;
  master_.AddEvents(60);
  StartSlave(o);
  ASSERT_TRUE(WaitForApplied(60));
  const uint64_t full = slave_->Status().relay_log_bytes();
  // Purging runs at most once a second, also when the applier is idle.
  ASSERT_TRUE(WaitForStatus(
      [](const v1::SlaveStatus& s) { return s.relay_log_bytes() <= 1024; },
      "relay log purged down to the active segment"));
  EXPECT_LT(slave_->Status().relay_log_bytes(), full);
  slave_.reset();
  std::vector<uint64_t> left = RelayPositions();
  ASSERT_FALSE(left.empty());
  EXPECT_GT(left.front(), 1u);
  EXPECT_EQ(left.back(), 60u);
  // Restarting from the purged relay log continues where it stopped.
  master_.AddEvents(2);
  StartSlave(o);
  ASSERT_TRUE(WaitForApplied(62));
  EXPECT_EQ(master_.subscribes().back(), 60u);
  EXPECT_EQ(CountRecords(), 62);
}

TEST_F(SlaveTest, StopAndStartSync) {
  master_.AddEvents(3);
  StartSlave(Options());
  ASSERT_TRUE(WaitForApplied(3));
  ASSERT_TRUE(WaitForStatus([](const v1::SlaveStatus& s) { return s.connected(); }, "connected"));

  ASSERT_OK(slave_->StopSync());
  ASSERT_OK(slave_->StopSync());  // idempotent
  v1::SlaveStatus s = slave_->Status();
  EXPECT_FALSE(s.io_running());
  EXPECT_FALSE(s.sql_running());
  EXPECT_FALSE(s.connected());
  EXPECT_EQ(s.seconds_behind_master(), -1);
  EXPECT_EQ(s.executed_position(), 3u);

  master_.AddEvents(3);
  ASSERT_OK(slave_->StartSync());
  ASSERT_OK(slave_->StartSync());  // idempotent
  ASSERT_TRUE(WaitForApplied(6));
  s = slave_->Status();
  EXPECT_TRUE(s.io_running());
  EXPECT_TRUE(s.sql_running());
  EXPECT_EQ(master_.subscribes().back(), 3u);
  EXPECT_EQ(CountRecords(), 6);
}

TEST_F(SlaveTest, ApplyErrorIsRecordedAndSkipped) {
  master_.AddEvents(2);
  master_.AddEvents(1, v1::ROW_OP_UNSPECIFIED);
  master_.AddEvents(2);
  StartSlave(Options());
  ASSERT_TRUE(WaitForApplied(5));
  v1::SlaveStatus s = slave_->Status();
  EXPECT_EQ(s.apply_errors(), 1u);
  EXPECT_TRUE(absl::StrContains(s.last_sql_error(), absl::StrCat("position 3 (gtid ", kUuid, ":3)")))
      << s.last_sql_error();
  EXPECT_TRUE(s.sql_running());
  EXPECT_EQ(CountRecords(), 4);
  EXPECT_FALSE(storage_->GetRecord(3).ok());
  EXPECT_TRUE(storage_->GetRecord(5).ok());
}

TEST_F(SlaveTest, StopOnApplyErrorStopsApplier) {
  master_.AddEvents(2);
  master_.AddEvents(1, v1::ROW_OP_UNSPECIFIED);
  master_.AddEvents(2);
  SlaveOptions o = Options();
  o.stop_on_apply_error = true;
  StartSlave(o);
  ASSERT_TRUE(WaitForStatus([](const v1::SlaveStatus& s) { return !s.sql_running(); },
                            "applier stopped"));
  v1::SlaveStatus s = slave_->Status();
  EXPECT_EQ(s.executed_position(), 2u);
  EXPECT_EQ(s.apply_errors(), 1u);
  EXPECT_TRUE(absl::StrContains(s.last_sql_error(), "position 3")) << s.last_sql_error();
  EXPECT_TRUE(s.io_running());
  EXPECT_EQ(s.seconds_behind_master(), -1);
  ASSERT_TRUE(WaitForStatus([](const v1::SlaveStatus& s) { return s.retrieved_position() == 5; },
                            "retrieved 5"));
  EXPECT_EQ(CountRecords(), 2);

  // START SLAVE retries the failing event, which fails again.
  ASSERT_OK(slave_->StartSync());
  ASSERT_TRUE(WaitForStatus(
      [](const v1::SlaveStatus& s) { return s.apply_errors() == 2 && !s.sql_running(); },
      "second failure"));
  EXPECT_EQ(slave_->Status().executed_position(), 2u);
}

TEST_F(SlaveTest, GapInStreamIsAnIoError) {
  master_.AddEvents(3);
  StartSlave(Options());
  ASSERT_TRUE(WaitForApplied(3));
  v1::SubscribeBinlogResponse bad;
  *bad.add_events() = MakeEvent(5);
  master_.Inject(bad);
  ASSERT_TRUE(WaitForStatus(
      [](const v1::SlaveStatus& s) { return absl::StrContains(s.last_io_error(), "gap"); },
      "a gap error"));
  EXPECT_TRUE(absl::StrContains(slave_->Status().last_io_error(), "expected position 4, got 5"));
  ASSERT_TRUE(WaitFor([&] { return master_.subscribes().size() == 2; }, "resubscription"));
  EXPECT_EQ(master_.subscribes()[1], 3u);
  master_.AddEvents(2);
  ASSERT_TRUE(WaitForApplied(5));
  EXPECT_EQ(CountRecords(), 5);
  slave_.reset();
  EXPECT_EQ(RelayPositions(), Range(1, 5));
}

TEST_F(SlaveTest, HeartbeatsUpdateMasterEnd) {
  master_.AddEvents(2);
  StartSlave(Options());
  ASSERT_TRUE(WaitForApplied(2));
  v1::SubscribeBinlogResponse hb;
  hb.mutable_heartbeat()->set_binlog_end_position(42);
  hb.mutable_heartbeat()->set_timestamp_us(absl::ToUnixMicros(absl::Now()));
  master_.Inject(hb);
  ASSERT_TRUE(WaitForStatus(
      [](const v1::SlaveStatus& s) { return s.master_binlog_end_position() == 42; },
      "master end 42"));
  v1::SlaveStatus s = slave_->Status();
  EXPECT_TRUE(s.connected());
  EXPECT_EQ(s.lag_events(), 40u);
  EXPECT_GE(s.seconds_behind_master(), 0);
  EXPECT_LE(s.seconds_behind_master(), 60);
}

TEST_F(SlaveTest, DeadLinkIsDroppedAndReconnected) {
  master_.AddEvents(1);
  SlaveOptions o = Options();
  o.heartbeat_timeout = absl::Milliseconds(200);
  StartSlave(o);
  ASSERT_TRUE(WaitForApplied(1));
  // The fake master stays silent: the watchdog cancels the stream and the slave resubscribes.
  ASSERT_TRUE(WaitFor([&] { return master_.subscribes().size() >= 2; }, "resubscription"));
  EXPECT_EQ(master_.subscribes()[1], 1u);
  ASSERT_TRUE(WaitForStatus(
      [](const v1::SlaveStatus& s) { return absl::StrContains(s.last_io_error(), "dead"); },
      "a dead-link error"));
}

TEST_F(SlaveTest, ReconnectsAfterMasterStreamEnds) {
  master_.AddEvents(3);
  StartSlave(Options());
  ASSERT_TRUE(WaitForApplied(3));
  master_.EndStreams(grpc::Status::OK);
  ASSERT_TRUE(WaitFor([&] { return master_.subscribes().size() == 2; }, "resubscription"));
  EXPECT_EQ(master_.subscribes()[1], 3u);
  EXPECT_EQ(master_.registrations(), 2);
  master_.AddEvents(2);
  ASSERT_TRUE(WaitForApplied(5));
  ASSERT_TRUE(WaitFor([&] { return master_.last_ack().received_position() == 5; }, "ack 5"));
  EXPECT_EQ(slave_->Status().last_io_error(), "");
}

TEST_F(SlaveTest, PurgedPositionIsReportedAndRetried) {
  master_.SetSubscribeError(grpc::Status(grpc::StatusCode::OUT_OF_RANGE, "position 1 purged"));
  master_.AddEvents(2);
  StartSlave(Options());
  ASSERT_TRUE(WaitForStatus(
      [](const v1::SlaveStatus& s) { return absl::StrContains(s.last_io_error(), "purged"); },
      "a purged-position error"));
  ASSERT_TRUE(WaitFor([&] { return master_.subscribes().size() >= 3; }, "retries"));
  EXPECT_TRUE(slave_->Status().io_running());
  master_.SetSubscribeError(grpc::Status::OK);
  ASSERT_TRUE(WaitForApplied(2));
}

TEST_F(SlaveTest, RefusesAMasterWithAnotherUuid) {
  master_.AddEvents(2);
  StartSlave(Options());
  ASSERT_TRUE(WaitForApplied(2));
  slave_.reset();

  master_.SetUuid(kOtherUuid);
  StartSlave(Options());
  ASSERT_TRUE(WaitForStatus(
      [](const v1::SlaveStatus& s) { return absl::StrContains(s.last_io_error(), kOtherUuid); },
      "a master uuid error"));
  ASSERT_TRUE(WaitFor([&] { return master_.registrations() >= 3; }, "retries"));
  EXPECT_EQ(master_.subscribes().size(), 1u);  // never streamed from the other master
  EXPECT_EQ(slave_->Status().master_uuid(), kUuid);

  master_.SetUuid(kUuid);  // the right master is back
  master_.AddEvents(1);
  ASSERT_TRUE(WaitForApplied(3));
}

}  // namespace
}  // namespace semisync
