// In-process tests of the master's write path: GTIDs and positions, crash recovery from the
// binlog, AFTER_SYNC ordering (nothing is committed or answered before an ack) and the timeout
// fallback to asynchronous replication.
#include "server/master/master.h"
#include "server/master/binlog.h"
#include "server/process_util.h"

#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "semisync/v1/records.grpc.pb.h"
#include "semisync/v1/replication.grpc.pb.h"
#include "tests/test_util/mariadb.h"
#include "tests/test_util/subscribe_once.h"

namespace semisync {
namespace {

using test_util::MakeTempDir;

MasterOptions Options(const std::string& dir) {
  MasterOptions o;
  o.data_dir = dir;
  o.semi_sync.enabled = false;
  o.heartbeat_period = absl::Milliseconds(100);
  return o;
}

// A master served on 127.0.0.1:<free port> in this process.
class ServedMaster {
 public:
  explicit ServedMaster(const MasterOptions& options) {
    auto m = Master::Open(options);
    EXPECT_TRUE(m.ok()) << m.status();
    master_ = std::move(*m);
    grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    loop_ = std::make_unique<AsyncRpcLoop>(&b, 1, "rpc");
    master_->RegisterServices(&b, loop_.get());
    server_ = b.BuildAndStart();
    loop_->Start();
    auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_),
                                       grpc::InsecureChannelCredentials());
    records = v1::RecordsService::NewStub(channel);
    repl = v1::ReplicationService::NewStub(channel);
  }
  ~ServedMaster() {
    master_->BeginShutdown();
    server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
    master_->FinishShutdown();
    loop_->Shutdown();
  }
  Master* master() { return master_.get(); }
  int port() const { return port_; }

  std::unique_ptr<v1::RecordsService::Stub> records;
  std::unique_ptr<v1::ReplicationService::Stub> repl;

 private:
  std::unique_ptr<Master> master_;
  std::unique_ptr<AsyncRpcLoop> loop_;  // destroyed after server_
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

TEST(MasterTest, WritesCarryGtidsAndConsecutivePositions) {
  std::string dir = MakeTempDir("master_gtid");
  ServedMaster m(Options(dir));
  const std::string uuid = m.master()->server_uuid();

  grpc::ClientContext c1;
  v1::CreateRecordRequest create;
  create.set_content("hello");
  v1::RecordWriteResponse created;
  ASSERT_TRUE(m.records->CreateRecord(&c1, create, &created).ok());
  EXPECT_EQ(created.record().id(), 1);
  EXPECT_EQ(created.write().position(), 1u);
  EXPECT_EQ(created.write().gtid(), uuid + ":1");
  EXPECT_FALSE(created.write().semi_sync_acked());

  grpc::ClientContext c2;
  v1::UpdateRecordRequest update;
  update.set_id(1);
  update.set_content("world");
  v1::RecordWriteResponse updated;
  ASSERT_TRUE(m.records->UpdateRecord(&c2, update, &updated).ok());
  EXPECT_EQ(updated.write().position(), 2u);
  EXPECT_EQ(updated.record().content(), "world");
  EXPECT_EQ(updated.record().created_at_us(), created.record().created_at_us());

  grpc::ClientContext c3;
  v1::UpdateRecordRequest missing;
  missing.set_id(99);
  v1::RecordWriteResponse ignored;
  grpc::Status s = m.records->UpdateRecord(&c3, missing, &ignored);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();

  grpc::ClientContext c4;
  v1::DeleteRecordRequest del;
  del.set_id(1);
  v1::DeleteRecordResponse deleted;
  ASSERT_TRUE(m.records->DeleteRecord(&c4, del, &deleted).ok());
  EXPECT_EQ(deleted.write().position(), 3u);

  v1::MasterStatus status = m.master()->Status();
  EXPECT_EQ(status.binlog_end_position(), 3u);
  EXPECT_EQ(status.executed_gtid_set(), uuid + ":1-3");
  EXPECT_EQ(ExecutedGtidSet(uuid, 1), uuid + ":1");
  EXPECT_EQ(ExecutedGtidSet(uuid, 0), "");
  EXPECT_EQ(status.applied_position(), 3u);
}

// Appends inserts of ids 1..n (content(i)) to the binlog in <dir>/binlog, as a master that
// crashed after its binlog fsync and before its database commit leaves them.
template <class Content>
bool WriteBinlogInserts(const std::string& dir, const std::string& uuid, int n, Content content) {
  LogOptions lo;
  lo.dir = dir + "/binlog";
  lo.prefix = "binlog";
  auto binlog = Binlog::Open(lo);
  if (!binlog.ok()) {
    ADD_FAILURE() << binlog.status();
    return false;
  }
  std::vector<v1::BinlogEvent> events;
  for (int i = 1; i <= n; ++i) {
    v1::BinlogEvent& e = events.emplace_back();
    e.set_position(i);
    e.set_gtid(absl::StrCat(uuid, ":", i));
    e.set_op(v1::ROW_OP_INSERT);
    e.mutable_record()->set_id(i);
    e.mutable_record()->set_content(content(i));
  }
  absl::Status s = (*binlog)->AppendDurably(events);
  if (!s.ok()) ADD_FAILURE() << s;
  return s.ok();
}

TEST(MasterTest, RecoveryReappliesBinlogTailToDatabase) {
  std::string dir = MakeTempDir("master_recovery");
  ASSERT_TRUE(MakeDirs(dir).ok());
  auto uuid = LoadOrCreateServerUuid(dir);
  ASSERT_TRUE(uuid.ok());
  // A crash after the binlog fsync and before the database commit leaves exactly this.
  ASSERT_TRUE(WriteBinlogInserts(dir, *uuid, 3, [](int i) { return absl::StrCat("row ", i); }));
  ServedMaster m(Options(dir));
  EXPECT_EQ(m.master()->server_uuid(), *uuid);
  EXPECT_EQ(m.master()->Status().applied_position(), 3u);
  grpc::ClientContext c;
  v1::GetRecordRequest get;
  get.set_id(3);
  v1::Record rec;
  ASSERT_TRUE(m.records->GetRecord(&c, get, &rec).ok());
  EXPECT_EQ(rec.content(), "row 3");

  grpc::ClientContext c2;
  v1::CreateRecordRequest create;
  create.set_content("after recovery");
  v1::RecordWriteResponse created;
  ASSERT_TRUE(m.records->CreateRecord(&c2, create, &created).ok());
  EXPECT_EQ(created.record().id(), 4);
  EXPECT_EQ(created.write().position(), 4u);
}

// The master records its applied position with only some groups (state_every_groups), so a crash
// can leave the database ahead of the position it recorded. Restart re-applies rows the database
// already has, inserts, updates and deletes alike, and the table ends as the binlog says.
TEST(MasterTest, RecoveryFromALaggingRecordedStateConverges) {
  std::string dir = MakeTempDir("master_lagging_state");
  ASSERT_TRUE(MakeDirs(dir).ok());
  auto uuid = LoadOrCreateServerUuid(dir);
  ASSERT_TRUE(uuid.ok());
  std::vector<v1::BinlogEvent> events;
  auto add = [&](v1::RowOp op, int64_t id, const std::string& content) {
    v1::BinlogEvent& e = events.emplace_back();
    e.set_position(events.size());
    e.set_gtid(absl::StrCat(*uuid, ":", e.position()));
    e.set_op(op);
    e.mutable_record()->set_id(id);
    e.mutable_record()->set_content(content);
  };
  add(v1::ROW_OP_INSERT, 1, "a");
  add(v1::ROW_OP_INSERT, 2, "b");
  add(v1::ROW_OP_UPDATE, 1, "a2");
  add(v1::ROW_OP_DELETE, 2, "");
  {
    LogOptions lo;
    lo.dir = dir + "/binlog";
    lo.prefix = "binlog";
    auto binlog = Binlog::Open(lo);
    ASSERT_TRUE(binlog.ok()) << binlog.status();
    ASSERT_TRUE((*binlog)->AppendDurably(events).ok());
    // Every row is in the database; the recorded state says position 1.
    StorageOptions so;
    so.connection = absl::StrCat("sqlite3://db=", dir, "/master.db");
    auto storage = Storage::Open(so);
    ASSERT_TRUE(storage.ok()) << storage.status();
    ReplState recorded;
    recorded.applied_position = 1;
    recorded.applied_gtid = events[0].gtid();
    recorded.executed_gtid_set = ExecutedGtidSet(*uuid, 1);
    ASSERT_TRUE((*storage)->ApplyBatch(events, recorded).ok());
  }
  ServedMaster m(Options(dir));
  EXPECT_EQ(m.master()->Status().applied_position(), 4u);
  grpc::ClientContext c1;
  v1::GetRecordRequest get;
  get.set_id(1);
  v1::Record rec;
  ASSERT_TRUE(m.records->GetRecord(&c1, get, &rec).ok());
  EXPECT_EQ(rec.content(), "a2");
  grpc::ClientContext c2;
  get.set_id(2);
  EXPECT_EQ(m.records->GetRecord(&c2, get, &rec).error_code(), grpc::StatusCode::NOT_FOUND);
  grpc::ClientContext c3;
  v1::ListRecordsRequest list;
  v1::ListRecordsResponse listed;
  ASSERT_TRUE(m.records->ListRecords(&c3, list, &listed).ok());
  EXPECT_EQ(listed.records_size(), 1);
  // Id 2 was used (and deleted): the next insert does not reuse it.
  grpc::ClientContext c4;
  v1::CreateRecordRequest create;
  create.set_content("after recovery");
  v1::RecordWriteResponse created;
  ASSERT_TRUE(m.records->CreateRecord(&c4, create, &created).ok());
  EXPECT_EQ(created.record().id(), 3);
  EXPECT_EQ(created.write().position(), 5u);
}

TEST(MasterTest, AfterSyncCommitsAndAnswersOnlyAfterTheAck) {
  std::string dir = MakeTempDir("master_after_sync");
  MasterOptions o = Options(dir);
  o.semi_sync.enabled = true;
  o.semi_sync.timeout = absl::Seconds(60);
  ServedMaster m(o);

  grpc::ClientContext rc;
  v1::RegisterSlaveRequest reg;
  reg.set_slave_id("s1");
  reg.set_semi_sync(true);
  v1::RegisterSlaveResponse reg_resp;
  ASSERT_TRUE(m.repl->RegisterSlave(&rc, reg, &reg_resp).ok());

  grpc::ClientContext sc;
  v1::SubscribeBinlogRequest sub;
  sub.set_slave_id("s1");
  auto stream = m.repl->SubscribeBinlog(&sc, sub);

  absl::Notification written;
  v1::RecordWriteResponse created;
  grpc::Status create_status;
  std::thread writer([&] {
    grpc::ClientContext c;
    v1::CreateRecordRequest create;
    create.set_content("needs an ack");
    create_status = m.records->CreateRecord(&c, create, &created);
    written.Notify();
  });

  // The slave receives the event (the binlog is durable) ...
  v1::SubscribeBinlogResponse msg;
  do {
    ASSERT_TRUE(stream->Read(&msg));
  } while (msg.events_size() == 0);
  EXPECT_EQ(msg.events(0).position(), 1u);
  // ... but until it acks, the client has no answer and readers see nothing.
  EXPECT_FALSE(written.WaitForNotificationWithTimeout(absl::Milliseconds(200)));
  grpc::ClientContext gc;
  v1::GetRecordRequest get;
  get.set_id(1);
  v1::Record rec;
  EXPECT_EQ(m.records->GetRecord(&gc, get, &rec).error_code(), grpc::StatusCode::NOT_FOUND);

  grpc::ClientContext ac;
  v1::AckRequest ack;
  ack.set_slave_id("s1");
  ack.set_received_position(1);
  v1::AckResponse ack_resp;
  ASSERT_TRUE(m.repl->Ack(&ac, ack, &ack_resp).ok());
  writer.join();
  ASSERT_TRUE(create_status.ok()) << create_status.error_message();
  EXPECT_TRUE(created.write().semi_sync_acked());
  grpc::ClientContext gc2;
  EXPECT_TRUE(m.records->GetRecord(&gc2, get, &rec).ok());
  v1::MasterStatus status = m.master()->Status();
  EXPECT_EQ(status.semi_sync().yes_tx(), 1u);
  EXPECT_TRUE(status.semi_sync().status());
  ASSERT_EQ(status.slaves_size(), 1);
  EXPECT_EQ(status.slaves(0).acked_position(), 1u);
  sc.TryCancel();
}

// Registers `id` as a semi-sync slave and opens its stream after `after`.
std::unique_ptr<grpc::ClientReader<v1::SubscribeBinlogResponse>> Subscribe(
    ServedMaster* m, grpc::ClientContext* ctx, const std::string& id, uint64_t after,
    bool accepts_events_ahead = true) {
  grpc::ClientContext rc;
  v1::RegisterSlaveRequest reg;
  reg.set_slave_id(id);
  reg.set_semi_sync(true);
  v1::RegisterSlaveResponse reg_resp;
  EXPECT_TRUE(m->repl->RegisterSlave(&rc, reg, &reg_resp).ok());
  v1::SubscribeBinlogRequest sub;
  sub.set_slave_id(id);
  sub.set_after_position(after);
  sub.set_accepts_events_ahead_of_fsync(accepts_events_ahead);
  return m->repl->SubscribeBinlog(ctx, sub);
}

bool Ack(ServedMaster* m, const std::string& id, uint64_t position) {
  grpc::ClientContext ac;
  v1::AckRequest ack;
  ack.set_slave_id(id);
  ack.set_received_position(position);
  v1::AckResponse resp;
  grpc::Status s = m->repl->Ack(&ac, ack, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return s.ok();
}

// The next stream message carrying events (heartbeats before it are skipped).
bool ReadEvents(grpc::ClientReader<v1::SubscribeBinlogResponse>* stream,
                v1::SubscribeBinlogResponse* msg) {
  do {
    if (!stream->Read(msg)) return false;
  } while (msg->events_size() == 0);
  return true;
}

TEST(MasterTest, AnIdleMasterSendsAWriteAheadOfItsFsyncThenSaysItIsDurable) {
  // {master sends ahead, the slave accepts events ahead of the fsync, the rpc thread sends}
  struct Case {
    bool enabled, accepts, rpc_thread_sends;
  };
  for (const Case& c : {Case{true, true, true}, Case{true, true, false}, Case{false, true, true},
                        Case{true, false, true}}) {
    const bool enabled = c.enabled;
    const bool accepts = c.accepts;
    const bool ahead = enabled && accepts;
    SCOPED_TRACE(absl::StrCat("send_before_fsync_when_idle=", enabled, " slave accepts=", accepts,
                              " rpc_thread_sends_idle_insert=", c.rpc_thread_sends));
    std::string dir = MakeTempDir("master_send_ahead");
    MasterOptions o = Options(dir);
    o.semi_sync.enabled = true;
    o.semi_sync.timeout = absl::Seconds(60);
    o.send_before_fsync_when_idle = enabled;
    o.rpc_thread_sends_idle_insert = c.rpc_thread_sends;
    ServedMaster m(o);
    grpc::ClientContext sc;
    auto stream = Subscribe(&m, &sc, "s1", 0, accepts);
    v1::SubscribeBinlogResponse msg;
    ASSERT_TRUE(stream->Read(&msg));  // at once: a heartbeat with the durable end
    EXPECT_TRUE(msg.has_heartbeat());
    EXPECT_EQ(msg.durable_position(), 0u);

    for (uint64_t pos = 1; pos <= 2; ++pos) {
      std::thread writer([&] {
        grpc::ClientContext c;
        v1::CreateRecordRequest create;
        create.set_content("w");
        v1::RecordWriteResponse created;
        grpc::Status st = m.records->CreateRecord(&c, create, &created);
        EXPECT_TRUE(st.ok()) << st.error_message();
        EXPECT_TRUE(created.write().semi_sync_acked());
      });
      ASSERT_TRUE(ReadEvents(stream.get(), &msg));
      ASSERT_EQ(msg.events(0).position(), pos);
      // The first write is never sent ahead (durable_position 0 means "all durable"); the
      // second is, when enabled: it arrives saying the binlog is durable up to the first only,
      // and a heartbeat follows the fsync.
      if (ahead && pos == 2) {
        EXPECT_EQ(msg.durable_position(), 1u);
        ASSERT_TRUE(stream->Read(&msg));
        ASSERT_TRUE(msg.has_heartbeat());
        EXPECT_EQ(msg.durable_position(), 2u);
        EXPECT_EQ(msg.heartbeat().binlog_end_position(), 2u);
      } else {
        EXPECT_EQ(msg.durable_position(), pos);
      }
      ASSERT_TRUE(Ack(&m, "s1", pos));
      writer.join();
    }
    EXPECT_EQ(m.master()->Status().semi_sync().yes_tx(), 2u);
    sc.TryCancel();
  }
}

TEST(MasterTest, SubscribeChecksTheSlavesLastEventAgainstTheBinlog) {
  std::string dir = MakeTempDir("master_subscribe_identity");
  ServedMaster m(Options(dir));
  for (int i = 0; i < 2; ++i) {
    grpc::ClientContext c;
    v1::CreateRecordRequest create;
    create.set_content("w");
    v1::RecordWriteResponse created;
    ASSERT_TRUE(m.records->CreateRecord(&c, create, &created).ok());
  }
  grpc::ClientContext gc;
  v1::GetBinlogRequest get;
  get.set_after_position(1);
  v1::GetBinlogResponse binlog;
  ASSERT_TRUE(m.repl->GetBinlog(&gc, get, &binlog).ok());
  ASSERT_EQ(binlog.events_size(), 1);
  const v1::BinlogEvent& second = binlog.events(0);

  int slaves = 0;  // a new slave id each time: the previous stream may still be closing
  auto subscribe = [&](uint64_t after, const std::string& gtid, int64_t ts) {
    v1::SubscribeBinlogRequest sub;
    sub.set_slave_id(absl::StrCat("s", ++slaves));
    sub.set_after_position(after);
    sub.set_after_gtid(gtid);
    sub.set_after_timestamp_us(ts);
    return test_util::SubscribeOnce(m.repl.get(), sub);
  };
  // The same event: accepted.
  EXPECT_TRUE(subscribe(2, second.gtid(), second.timestamp_us()).ok());
  // Another event at that position (the master lost the slave's and wrote a new one).
  grpc::Status s = subscribe(2, second.gtid(), second.timestamp_us() + 1);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED) << s.error_message();
  EXPECT_NE(s.error_message().find("lost"), std::string::npos) << s.error_message();
  // Past the durable end: with the slave's event, refused for it to drop; without, out of range.
  s = subscribe(5, absl::StrCat(m.master()->Status().server_uuid(), ":5"), 12345);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED) << s.error_message();
  s = subscribe(5, "", 0);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::OUT_OF_RANGE) << s.error_message();
}

TEST(MasterTest, BinlogKnowsTheEventsSentAheadAndNotYetDurable) {
  LogOptions lo;
  lo.dir = MakeTempDir("master_binlog_unsynced");
  lo.prefix = "binlog";
  absl::StatusOr<std::unique_ptr<Binlog>> binlog = Binlog::Open(lo);
  ASSERT_TRUE(binlog.ok()) << binlog.status();
  std::vector<v1::BinlogEvent> events(2);
  for (int i = 0; i < 2; ++i) {
    events[i].set_position(i + 1);
    events[i].set_gtid(absl::StrCat("u:", i + 1));
    events[i].set_timestamp_us(1000 + i);
  }
  ASSERT_TRUE((*binlog)->Append(events).ok());
  EXPECT_FALSE((*binlog)->IsUnsyncedEvent(2, 1001));  // written, not sent ahead
  (*binlog)->NoteSentAhead(events);
  EXPECT_EQ((*binlog)->WrittenPosition(), 2u);
  EXPECT_EQ((*binlog)->EndPosition(), 0u);
  EXPECT_TRUE((*binlog)->IsUnsyncedEvent(2, 1001));
  EXPECT_FALSE((*binlog)->IsUnsyncedEvent(2, 1002));  // another event there
  EXPECT_FALSE((*binlog)->IsUnsyncedEvent(3, 1002));  // never written
  ASSERT_TRUE((*binlog)->Sync().ok());
  EXPECT_EQ((*binlog)->EndPosition(), 2u);
  EXPECT_FALSE((*binlog)->IsUnsyncedEvent(2, 1001));  // durable now: checked on disk
}

TEST(MasterTest, TimeoutCompletesAsyncAndSwitchesOff) {
  std::string dir = MakeTempDir("master_timeout");
  MasterOptions o = Options(dir);
  o.semi_sync.enabled = true;
  o.semi_sync.timeout = absl::Milliseconds(300);
  ServedMaster m(o);
  absl::Time start = absl::Now();
  grpc::ClientContext c;
  v1::CreateRecordRequest create;
  create.set_content("nobody acks");
  v1::RecordWriteResponse created;
  ASSERT_TRUE(m.records->CreateRecord(&c, create, &created).ok());
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(290));
  EXPECT_FALSE(created.write().semi_sync_acked());
  v1::MasterStatus status = m.master()->Status();
  EXPECT_FALSE(status.semi_sync().status());
  EXPECT_EQ(status.semi_sync().no_tx(), 1u);
  EXPECT_EQ(status.semi_sync().no_times(), 1u);
}

TEST(MasterTest, BadRequestsGetClearErrors) {
  std::string dir = MakeTempDir("master_bad");
  ServedMaster m(Options(dir));
  grpc::ClientContext c1;
  v1::GetRecordRequest get;
  get.set_id(-5);
  v1::Record rec;
  grpc::Status s = m.records->GetRecord(&c1, get, &rec);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("-5"), std::string::npos) << s.error_message();

  grpc::ClientContext c2;
  v1::AckRequest ack;
  ack.set_slave_id("never-registered");
  v1::AckResponse ack_resp;
  EXPECT_EQ(m.repl->Ack(&c2, ack, &ack_resp).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);

  grpc::ClientContext c3;
  v1::RegisterSlaveRequest reg;
  reg.set_slave_id("bad id with spaces");
  v1::RegisterSlaveResponse reg_resp;
  EXPECT_EQ(m.repl->RegisterSlave(&c3, reg, &reg_resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  grpc::ClientContext c4;
  v1::SubscribeBinlogRequest sub;
  sub.set_slave_id("never-registered");
  auto stream = m.repl->SubscribeBinlog(&c4, sub);
  v1::SubscribeBinlogResponse msg;
  EXPECT_FALSE(stream->Read(&msg));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::FAILED_PRECONDITION);
}

// Waits until `pred` holds or `timeout` passes; returns whether it held.
template <class Pred>
bool Eventually(Pred pred, absl::Duration timeout = absl::Seconds(10)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!pred()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

bool SlaveConnected(Master* m, const std::string& id) {
  const v1::MasterStatus status = m->Status();
  for (const auto& s : status.slaves()) {
    if (s.slave_id() == id && s.connected()) return true;
  }
  return false;
}

// Regression: a stream ended (master shutdown) while its write was stuck behind flow control, then
// the slave went away so the write failed. The failed write found the stream already ending and
// never called Finish, so the call was never released: the slave stayed "connected" forever (and
// the server's shutdown waited on the call).
TEST(MasterTest, StreamEndedDuringAStuckWriteIsReleasedWhenTheSlaveGoesAway) {
  std::string dir = MakeTempDir("master_stuck_write");
  ASSERT_TRUE(MakeDirs(dir).ok());
  auto uuid = LoadOrCreateServerUuid(dir);
  ASSERT_TRUE(uuid.ok());
  // About 4 MiB of backlog: one stream message, far more than the slave's flow-control window.
  ASSERT_TRUE(
      WriteBinlogInserts(dir, *uuid, 16, [](int) { return std::string(256 << 10, 'x'); }));
  ServedMaster m(Options(dir));

  grpc::ClientContext rc;
  v1::RegisterSlaveRequest reg;
  reg.set_slave_id("s1");
  reg.set_semi_sync(true);  // stays listed (not connected) once its stream closes
  v1::RegisterSlaveResponse reg_resp;
  ASSERT_TRUE(m.repl->RegisterSlave(&rc, reg, &reg_resp).ok());

  // A slave that never reads, with a small window and no window growth: the master's write of
  // the backlog stays in flight.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 64 << 10);
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetMaxReceiveMessageSize(-1);
  auto channel = grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", m.port()),
                                           grpc::InsecureChannelCredentials(), args);
  auto repl = v1::ReplicationService::NewStub(channel);
  grpc::ClientContext sc;
  v1::SubscribeBinlogRequest sub;
  sub.set_slave_id("s1");
  auto stream = repl->SubscribeBinlog(&sc, sub);
  // Once the stream is open, the master has started writing the backlog (same loop step).
  ASSERT_TRUE(Eventually([&] { return SlaveConnected(m.master(), "s1"); }));

  m.master()->BeginShutdown();  // ends the stream after the write in flight
  sc.TryCancel();               // the write fails
  EXPECT_TRUE(Eventually([&] { return !SlaveConnected(m.master(), "s1"); }))
      << "the stream was never released";
}

}  // namespace
}  // namespace semisync
