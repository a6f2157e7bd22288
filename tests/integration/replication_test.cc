// Multi-process replication tests: real semisync_master / semisync_slave processes on 127.0.0.1,
// started, killed (-9), paused (SIGSTOP) and restarted by the Cluster fixture, on SQLite and on
// MariaDB. They check issue 2's integration scenarios:
//   1 CrudReachesTwoSlaves                    4 MasterKill9Recovers
//   2 TimeoutSwitchesOffAndRecovers(+StopSync) 5 LosslessUnderMasterCrash
//   3 SlaveKill9CatchesUpWithoutGapsOrDuplicates 6 WaitForTwoSlaves
// plus restarts (MasterRestartKeepsUuidAndPositions, SigtermShutsDownCleanly,
// SigtermReleasesWaitingWrites), slave control (SlaveStatusReportsStopStart), the wait point
// (AfterSyncHidesWritesUntilAcked, AfterCommitShowsWritesBeforeAck), asynchronous slaves,
// wait_no_slave=false, binlog purge and heartbeats.
//
// Synchronisation is by conditions with deadlines (Eventually) or by the RPCs' own completion;
// nothing sleeps for a fixed time.
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/gtid.h"
#include "common/segmented_log.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "tests/integration/cluster.h"
#include "tests/test_util/subscribe_once.h"

namespace semisync {
namespace integration {

// The backends this binary runs (backends.cc): CMake links these cases into one binary per backend
// so that only the MariaDB one depends on the CTest fixture "mariadb".
std::vector<Backend> BackendsUnderTest();

namespace {

using ::testing::HasSubstr;

// Short semi-sync timeouts keep the suite fast; the scenarios that measure a timeout use these.
constexpr int kTimeoutMs = 1000;
// Scenarios where a timeout would only slow things down (or, for the lossless test, make the
// writes asynchronous and the test vacuous) use a long one.
constexpr int kLongTimeoutMs = 10000;
// A write that times out takes at least this fraction of the timeout.
constexpr double kTimeoutSlack = 0.9;
// A write while semi-sync is OFF (asynchronous) must be well below the timeout.
constexpr absl::Duration kAsyncWriteMax = absl::Milliseconds(kTimeoutMs / 2);
constexpr absl::Duration kWait = absl::Seconds(30);

std::string TimeoutFlag(int ms) { return absl::StrCat("--semi_sync_timeout_ms=", ms); }

// OK once the master has `clients` semi-sync slaves connected and semi-sync is ON.
absl::Status SemiSyncOnWithClients(const Node& master, uint32_t clients) {
  absl::StatusOr<v1::MasterStatus> s = GetMasterStatus(master, absl::Seconds(5));
  if (!s.ok()) return s.status();
  if (s->semi_sync().clients() >= clients && s->semi_sync().status()) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat("semi-sync clients ", s->semi_sync().clients(),
                                             " (want ", clients, "), status ",
                                             s->semi_sync().status() ? "ON" : "OFF"));
}

absl::Status SemiSyncOn(const Node& master) {
  absl::StatusOr<v1::MasterStatus> s = GetMasterStatus(master, absl::Seconds(5));
  if (!s.ok()) return s.status();
  if (s->semi_sync().status()) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat("semi-sync OFF; binlog end ", s->binlog_end_position(),
                                             ", counters {", s->semi_sync().ShortDebugString(),
                                             "}"));
}

// The N of a "uuid:N" GTID, 0 when malformed.
uint64_t GtidSeqno(const std::string& gtid) {
  absl::StatusOr<Gtid> parsed = Gtid::Parse(gtid);
  return parsed.ok() ? parsed->seqno : 0;
}

// A thread joined on destruction too, so that a failed ASSERT between start and join returns
// cleanly instead of terminating.
class JoiningThread {
 public:
  explicit JoiningThread(std::function<void()> body) : thread_(std::move(body)) {}
  ~JoiningThread() { join(); }
  void join() {
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::thread thread_;
};

// One write a client saw succeed.
struct Write {
  enum Op { kCreate, kUpdate, kDelete } op = kCreate;
  int64_t id = 0;
  std::string content;
  v1::WriteResult result;
};

// Background writers on the master's RecordsService: `threads` threads, each doing up to
// `max_per_thread` writes (creates only, or a create/update/delete mix on its own rows), until
// Stop() or their first error. Successful writes and the first error of each thread are kept.
// The stub is taken at construction: the main thread may kill or restart the master meanwhile.
class Load {
 public:
  enum class Mix { kCreatesOnly, kCreateUpdateDelete };

  Load(const Node& master, int threads, std::string prefix, Mix mix, int max_per_thread)
      : stub_(master.records()), prefix_(std::move(prefix)), mix_(mix), max_(max_per_thread) {
    running_ = threads;  // before the threads start: running_threads() == 0 means all ended
    for (int t = 0; t < threads; ++t) threads_.emplace_back([this, t] { Run(t); });
  }
  ~Load() { Stop(); }

  void Stop() {
    stop_ = true;
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  int64_t ok() const { return ok_.load(); }
  int running_threads() const { return running_.load(); }
  // Only after Stop().
  const std::vector<Write>& writes() const { return writes_; }
  const std::vector<absl::Status>& errors() const { return errors_; }
  std::string FirstError() const { return errors_.empty() ? "none" : errors_.front().ToString(); }

 private:
  void Run(int t) {
    std::vector<int64_t> live;  // this thread's rows that exist
    for (int i = 0; i < max_ && !stop_; ++i) {
      Write w;
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
      grpc::Status st;
      if (mix_ == Mix::kCreateUpdateDelete && i % 5 == 4 && !live.empty()) {
        w.op = Write::kDelete;
        w.id = live.front();
        v1::DeleteRecordRequest req;
        req.set_id(w.id);
        v1::DeleteRecordResponse resp;
        st = stub_->DeleteRecord(&ctx, req, &resp);
        if (st.ok()) {
          live.erase(live.begin());
          w.result = resp.write();
        }
      } else if (mix_ == Mix::kCreateUpdateDelete && i % 5 == 2 && !live.empty()) {
        w.op = Write::kUpdate;
        w.id = live[i % live.size()];
        w.content = absl::StrCat(prefix_, "-t", t, "-update", i);
        v1::UpdateRecordRequest req;
        req.set_id(w.id);
        req.set_content(w.content);
        v1::RecordWriteResponse resp;
        st = stub_->UpdateRecord(&ctx, req, &resp);
        if (st.ok()) w.result = resp.write();
      } else {
        w.op = Write::kCreate;
        w.content = absl::StrCat(prefix_, "-t", t, "-", i);
        v1::CreateRecordRequest req;
        req.set_content(w.content);
        v1::RecordWriteResponse resp;
        st = stub_->CreateRecord(&ctx, req, &resp);
        if (st.ok()) {
          w.id = resp.record().id();
          w.result = resp.write();
          live.push_back(w.id);
        }
      }
      absl::MutexLock lock(&mu_);
      if (!st.ok()) {
        errors_.push_back(FromGrpc(st));
        break;
      }
      writes_.push_back(std::move(w));
      ++ok_;
    }
    --running_;
  }

  const std::shared_ptr<v1::RecordsService::Stub> stub_;
  const std::string prefix_;
  const Mix mix_;
  const int max_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> ok_{0};
  std::atomic<int> running_{0};
  std::vector<std::thread> threads_;
  absl::Mutex mu_;
  std::vector<Write> writes_;         // guarded by mu_ while threads run
  std::vector<absl::Status> errors_;  // guarded by mu_ while threads run
};

class ReplicationTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    ClusterOptions options;
    options.backend = GetParam();
    // Quick reconnects after a master restart (the default backoff grows to 10 s).
    options.slave_default_flags.push_back("--reconnect_backoff_max_ms=1000");
    cluster_ = std::make_unique<Cluster>(options);
  }
  void TearDown() override {
    cluster_->Shutdown();
    cluster_.reset();
  }

  Cluster& cluster() { return *cluster_; }

  // The timeout scenario (2), with the slave taken away and given back by `stop` / `resume`.
  void TimeoutSwitchesOffAndRecovers(const std::function<absl::Status(Node&)>& stop,
                                     const std::function<absl::Status(Node&)>& resume);
  // AFTER_SYNC / AFTER_COMMIT visibility of a write waiting for its ack.
  void WaitPointVisibility(const std::string& wait_point, bool visible_while_waiting);

  std::unique_ptr<Cluster> cluster_;
};

// 1. CRUD on the master reaches two slaves; reads on the slaves return the same rows; writes on a
// slave are refused with FAILED_PRECONDITION naming the master.
TEST_P(ReplicationTest, CrudReachesTwoSlaves) {
  ASSERT_OK_AND_ASSIGN(Node * master, cluster().StartMaster({TimeoutFlag(kLongTimeoutMs)}));
  ASSERT_OK_AND_ASSIGN(Node * slave1, cluster().StartSlave("slave1"));
  ASSERT_OK_AND_ASSIGN(Node * slave2, cluster().StartSlave("slave2"));

  std::vector<int64_t> ids;
  uint64_t last_position = 0;
  for (int i = 0; i < 6; ++i) {
    ASSERT_OK_AND_ASSIGN(v1::RecordWriteResponse created,
                         CreateRecord(*master, absl::StrCat("record-", i)));
    EXPECT_EQ(created.record().content(), absl::StrCat("record-", i));
    EXPECT_GT(created.record().id(), 0);
    EXPECT_GT(created.write().position(), last_position);
    EXPECT_THAT(created.write().gtid(), HasSubstr(":"));
    last_position = created.write().position();
    ids.push_back(created.record().id());
  }
  for (int i : {1, 3}) {
    ASSERT_OK_AND_ASSIGN(v1::RecordWriteResponse updated,
                         UpdateRecord(*master, ids[i], absl::StrCat("updated-", i)));
    EXPECT_EQ(updated.record().id(), ids[i]);
    EXPECT_EQ(updated.record().content(), absl::StrCat("updated-", i));
    EXPECT_EQ(updated.write().position(), last_position + 1);
    last_position = updated.write().position();
  }
  ASSERT_OK_AND_ASSIGN(v1::DeleteRecordResponse deleted, DeleteRecord(*master, ids[2]));
  EXPECT_EQ(deleted.id(), ids[2]);
  EXPECT_EQ(deleted.write().position(), last_position + 1);

  ASSERT_OK_AND_ASSIGN(std::vector<v1::Record> master_rows, ListAllRecords(*master));
  std::vector<std::string> contents;
  for (const v1::Record& r : master_rows) contents.push_back(r.content());
  EXPECT_THAT(contents,
              ::testing::ElementsAre("record-0", "updated-1", "updated-3", "record-4", "record-5"));

  for (Node* slave : {slave1, slave2}) {
    SCOPED_TRACE(slave->name());
    ASSERT_TRUE(cluster().WaitForSlaveCaughtUp(*slave));
    ASSERT_OK_AND_ASSIGN(std::vector<v1::Record> rows, ListAllRecords(*slave));
    EXPECT_TRUE(SameRecords(master_rows, rows));
    // Paging gives the same rows.
    ASSERT_OK_AND_ASSIGN(std::vector<v1::Record> paged, ListAllRecords(*slave, /*page_size=*/2));
    EXPECT_TRUE(SameRecords(master_rows, paged));
    ASSERT_OK_AND_ASSIGN(v1::Record one, GetRecord(*slave, ids[1]));
    EXPECT_EQ(one.content(), "updated-1");
    EXPECT_EQ(GetRecord(*master, ids[2]).status().code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(GetRecord(*slave, ids[2]).status().code(), absl::StatusCode::kNotFound);

    absl::Status create = CreateRecord(*slave, "on a slave").status();
    EXPECT_EQ(create.code(), absl::StatusCode::kFailedPrecondition) << create;
    EXPECT_THAT(std::string(create.message()), HasSubstr(master->address()));
    absl::Status update = UpdateRecord(*slave, ids[0], "on a slave").status();
    EXPECT_EQ(update.code(), absl::StatusCode::kFailedPrecondition) << update;
    EXPECT_THAT(std::string(update.message()), HasSubstr(master->address()));
    absl::Status del = DeleteRecord(*slave, ids[0]).status();
    EXPECT_EQ(del.code(), absl::StatusCode::kFailedPrecondition) << del;
    EXPECT_THAT(std::string(del.message()), HasSubstr(master->address()));
  }
  // The refused writes changed nothing anywhere.
  ASSERT_OK_AND_ASSIGN(v1::MasterStatus status, GetMasterStatus(*master));
  EXPECT_EQ(status.binlog_end_position(), last_position + 1);
  for (Node* slave : {slave1, slave2}) EXPECT_TRUE(SameRows(*master, *slave));
}

// 2. With one slave up every write is acknowledged (yes_tx); with the slave gone a write takes
// about the timeout, counts as no_tx and switches semi-sync OFF; later writes are asynchronous and
// quick; once the slave is back semi-sync returns to ON by itself and writes are acknowledged.
void ReplicationTest::TimeoutSwitchesOffAndRecovers(
    const std::function<absl::Status(Node&)>& stop,
    const std::function<absl::Status(Node&)>& resume) {
  ASSERT_OK_AND_ASSIGN(Node * master, cluster().StartMaster({TimeoutFlag(kTimeoutMs)}));
  ASSERT_OK_AND_ASSIGN(Node * slave, cluster().StartSlave("slave1"));
  ASSERT_TRUE(Eventually([&] { return SemiSyncOnWithClients(*master, 1); }, kWait,
                         "slave1 connected as a semi-sync client, semi-sync ON"));

  ASSERT_OK_AND_ASSIGN(v1::MasterStatus before, GetMasterStatus(*master));
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK_AND_ASSIGN(v1::RecordWriteResponse w, CreateRecord(*master, "acked"));
    EXPECT_TRUE(w.write().semi_sync_acked()) << "write " << i;
  }
  ASSERT_OK_AND_ASSIGN(v1::MasterStatus acked, GetMasterStatus(*master));
  EXPECT_EQ(acked.semi_sync().yes_tx(), before.semi_sync().yes_tx() + 3);
  EXPECT_EQ(acked.semi_sync().no_tx(), before.semi_sync().no_tx());
  EXPECT_TRUE(acked.semi_sync().status());

  ASSERT_OK(stop(*slave));
  absl::Time start = absl::Now();
  ASSERT_OK_AND_ASSIGN(v1::RecordWriteResponse timed_out, CreateRecord(*master, "times out"));
  absl::Duration took = absl::Now() - start;
  EXPECT_GE(took, absl::Milliseconds(kTimeoutMs * kTimeoutSlack));
  EXPECT_LT(took, absl::Milliseconds(kTimeoutMs) + absl::Seconds(5));
  EXPECT_FALSE(timed_out.write().semi_sync_acked());
  ASSERT_OK_AND_ASSIGN(v1::MasterStatus off, GetMasterStatus(*master));
  EXPECT_FALSE(off.semi_sync().status());
  EXPECT_EQ(off.semi_sync().no_tx(), acked.semi_sync().no_tx() + 1);
  EXPECT_EQ(off.semi_sync().yes_tx(), acked.semi_sync().yes_tx());
  EXPECT_EQ(off.semi_sync().no_times(), acked.semi_sync().no_times() + 1);

  for (int i = 0; i < 3; ++i) {
    absl::Time s = absl::Now();
    ASSERT_OK_AND_ASSIGN(v1::RecordWriteResponse w, CreateRecord(*master, "async"));
    EXPECT_LT(absl::Now() - s, kAsyncWriteMax) << "asynchronous write " << i;
    EXPECT_FALSE(w.write().semi_sync_acked());
  }
  ASSERT_OK_AND_ASSIGN(v1::MasterStatus still_off, GetMasterStatus(*master));
  EXPECT_FALSE(still_off.semi_sync().status());
  EXPECT_EQ(still_off.semi_sync().yes_tx(), acked.semi_sync().yes_tx());

  ASSERT_OK(resume(*slave));
  ASSERT_TRUE(Eventually([&] { return SemiSyncOn(*master); }, kWait,
                         "semi-sync back ON after slave1 caught up, with no manual step"));
  ASSERT_OK_AND_ASSIGN(v1::MasterStatus on, GetMasterStatus(*master));
  ASSERT_OK_AND_ASSIGN(v1::RecordWriteResponse again, CreateRecord(*master, "acked again"));
  EXPECT_TRUE(again.write().semi_sync_acked());
  ASSERT_OK_AND_ASSIGN(v1::MasterStatus after, GetMasterStatus(*master));
  EXPECT_EQ(after.semi_sync().yes_tx(), on.semi_sync().yes_tx() + 1);
  EXPECT_TRUE(after.semi_sync().status());

  ASSERT_TRUE(cluster().WaitForSlaveCaughtUp(*slave));
  EXPECT_TRUE(SameRows(*master, *slave));
}

TEST_P(ReplicationTest, TimeoutSwitchesOffAndRecovers) {
  TimeoutSwitchesOffAndRecovers([&](Node& slave) { return cluster().Pause(slave); },
                                [&](Node& slave) { return cluster().Resume(slave); });
}

TEST_P(ReplicationTest, TimeoutSwitchesOffAndRecoversAfterStopSync) {
  TimeoutSwitchesOffAndRecovers(
      [](Node& slave) {
        absl::StatusOr<v1::SlaveStatus> s = StopSync(slave);
        return s.ok() ? absl::OkStatus() : s.status();
      },
      [](Node& slave) {
        absl::StatusOr<v1::SlaveStatus> s = StartSync(slave);
        return s.ok() ? absl::OkStatus() : s.status();
      });
}

// 3. A slave killed with SIGKILL (three times, under a continuous create/update/delete load) and
// restarted catches up with no gaps or duplicates: row for row equal to the master.
TEST_P(ReplicationTest, SlaveKill9CatchesUpWithoutGapsOrDuplicates) {
  ASSERT_OK_AND_ASSIGN(Node * master, cluster().StartMaster({TimeoutFlag(kTimeoutMs)}));
  ASSERT_OK_AND_ASSIGN(Node * slave, cluster().StartSlave("slave1"));
  ASSERT_TRUE(
      Eventually([&] { return SemiSyncOnWithClients(*master, 1); }, kWait, "slave1 connected"));

  Load load(*master, /*threads=*/1, "kill9", Load::Mix::kCreateUpdateDelete,
            /*max_per_thread=*/5000);
  auto progressed = [&](int64_t from, int64_t n) {
    return Eventually(
        [&]() -> absl::Status {
          if (load.ok() >= from + n) return absl::OkStatus();
          if (load.running_threads() == 0) return absl::AbortedError("the writer stopped");
          return absl::UnavailableError(absl::StrCat(load.ok() - from, " writes so far"));
        },
        absl::Seconds(60), absl::StrCat(n, " more writes on the master"));
  };
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    ASSERT_TRUE(progressed(load.ok(), 30));
    ASSERT_OK(cluster().Kill(*slave));
    ASSERT_TRUE(progressed(load.ok(), 30));  // the master goes on without the slave
    ASSERT_OK(cluster().Restart(*slave));
  }
  ASSERT_TRUE(progressed(load.ok(), 30));
  load.Stop();
  EXPECT_TRUE(load.errors().empty()) << "first writer error: " << load.FirstError();

  ASSERT_TRUE(cluster().WaitForSlaveCaughtUp(*slave));
  ASSERT_OK_AND_ASSIGN(v1::MasterStatus m, GetMasterStatus(*master));
  ASSERT_OK_AND_ASSIGN(v1::SlaveStatus s, GetSlaveStatus(*slave));
  EXPECT_EQ(s.executed_position(), m.binlog_end_position());
  EXPECT_EQ(s.executed_gtid_set(), m.executed_gtid_set());
  EXPECT_EQ(s.apply_errors(), 0u) << s.last_sql_error();
  EXPECT_TRUE(SameRows(*master, *slave));
}

// 4. The master killed with SIGKILL under load and restarted on the same port recovers: its binlog
// holds every write a client saw succeed, its table has every such write, and both slaves resume by
// themselves and end up equal to it.
TEST_P(ReplicationTest, MasterKill9Recovers) {
  ASSERT_OK_AND_ASSIGN(Node * master, cluster().StartMaster({TimeoutFlag(kTimeoutMs)}));
  ASSERT_OK_AND_ASSIGN(Node * slave1, cluster().StartSlave("slave1"));
  ASSERT_OK_AND_ASSIGN(Node * slave2, cluster().StartSlave("slave2"));
  ASSERT_TRUE(Eventually([&] { return SemiSyncOnWithClients(*master, 2); }, kWait,
                         "both slaves connected"));

  Load load(*master, /*threads=*/2, "crash", Load::Mix::kCreatesOnly, /*max_per_thread=*/2000);
  ASSERT_TRUE(Eventually([&] { return load.ok() >= 100 || load.running_threads() == 0; },
                         absl::Seconds(60), "100 writes before the crash"));
  ASSERT_OK(cluster().Kill(*master));
  load.Stop();  // every writer ends at its first error
  ASSERT_GE(load.writes().size(), 100u) << "writers stopped early: " << load.FirstError();

  ASSERT_OK(cluster().Restart(*master));
  ASSERT_OK_AND_ASSIGN(v1::MasterStatus m, GetMasterStatus(*master));
  uint64_t last_ok_position = 0;
  for (const Write& w : load.writes()) {
    last_ok_position = std::max<uint64_t>(last_ok_position, w.result.position());
  }
  EXPECT_GE(m.binlog_end_position(), last_ok_position);
  EXPECT_EQ(m.applied_position(), m.binlog_end_position());

  ASSERT_OK_AND_ASSIGN(std::vector<v1::Record> rows, ListAllRecords(*master));
  std::map<int64_t, std::string> table;
  for (const v1::Record& r : rows) table[r.id()] = r.content();
  int missing = 0;
  for (const Write& w : load.writes()) {
    auto it = table.find(w.id);
    if (it == table.end() || it->second != w.content) {
      if (++missing <= 5) {
        ADD_FAILURE() << "write " << w.result.ShortDebugString() << " (id " << w.id << ", \""
                      << w.content << "\") lost by the master: "
                      << (it == table.end() ? "no row" : "content \"" + it->second + "\"");
      }
    }
  }
  EXPECT_EQ(missing, 0) << "of " << load.writes().size() << " successful writes";

  for (Node* slave : {slave1, slave2}) {
    SCOPED_TRACE(slave->name());
    ASSERT_TRUE(cluster().WaitForSlaveCaughtUp(*slave));
    EXPECT_TRUE(SameRows(*master, *slave));
  }
  // The restarted master takes writes again, acknowledged by the slaves that reconnected.
  ASSERT_TRUE(Eventually([&] { return SemiSyncOnWithClients(*master, 2); }, kWait,
                         "both slaves reconnected, semi-sync ON"));
  ASSERT_OK_AND_ASSIGN(v1::RecordWriteResponse after, CreateRecord(*master, "after restart"));
  EXPECT_EQ(after.write().position(), m.binlog_end_position() + 1);
  EXPECT_TRUE(after.write().semi_sync_acked());
  for (Node* slave : {slave1, slave2}) {
    SCOPED_TRACE(slave->name());
    ASSERT_TRUE(cluster().WaitForSlaveCaughtUp(*slave));
    EXPECT_TRUE(SameRows(*master, *slave));
  }
}

// 5. Lossless (AFTER_SYNC): four concurrent writers, the master SIGKILLed in the middle of the
// load; every write a client saw acknowledged is on the slave with the same content. Three rounds,
// the master restarted between them.
TEST_P(ReplicationTest, LosslessUnderMasterCrash) {
  ASSERT_OK_AND_ASSIGN(Node * master, cluster().StartMaster({"--semi_sync_wait_point=AFTER_SYNC",
                                                             TimeoutFlag(kLongTimeoutMs)}));
  // The last writes may have been sent ahead of the master's fsync and acknowledged before the
  // slave heard that they are durable: with the master gone, it applies them after this long.
  ASSERT_OK_AND_ASSIGN(Node * slave,
                       cluster().StartSlave("slave1", {"--apply_unconfirmed_after_ms=1000"}));

  constexpr int kRounds = 3;
  constexpr int kWritesBeforeCrash = 200;
  size_t total_acked = 0;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    ASSERT_TRUE(Eventually([&] { return SemiSyncOnWithClients(*master, 1); }, kWait,
                           "slave1 connected, semi-sync ON"));
    Load load(*master, /*threads=*/4, absl::StrCat("lossless", round), Load::Mix::kCreatesOnly,
              /*max_per_thread=*/1000);
    ASSERT_TRUE(
        Eventually([&] { return load.ok() >= kWritesBeforeCrash || load.running_threads() == 0; },
                   absl::Seconds(60), "writes before the crash"));
    ASSERT_OK(cluster().Kill(*master));
    load.Stop();
    ASSERT_GE(load.writes().size(), static_cast<size_t>(kWritesBeforeCrash))
        << "writers stopped early: " << load.FirstError();

    // With a healthy slave and a 10 s timeout every successful write was acknowledged: otherwise
    // the check below would prove nothing.
    std::vector<const Write*> acked;
    for (const Write& w : load.writes()) {
      EXPECT_TRUE(w.result.semi_sync_acked()) << w.result.ShortDebugString();
      if (w.result.semi_sync_acked()) acked.push_back(&w);
    }
    total_acked += acked.size();

    // The slave applies everything it received (the master is down: nothing more arrives).
    ASSERT_TRUE(Eventually(
        [&]() -> absl::Status {
          absl::StatusOr<v1::SlaveStatus> s = GetSlaveStatus(*slave, absl::Seconds(5));
          if (!s.ok()) return s.status();
          if (s->executed_position() == s->retrieved_position()) return absl::OkStatus();
          return absl::UnavailableError(absl::StrCat("retrieved ", s->retrieved_position(),
                                                     ", executed ", s->executed_position()));
        },
        kWait, "slave1 applied all it received"));
    ASSERT_OK_AND_ASSIGN(v1::SlaveStatus s, GetSlaveStatus(*slave));
    absl::StatusOr<GtidSet> executed = GtidSet::Parse(s.executed_gtid_set());
    ASSERT_TRUE(executed.ok()) << executed.status() << ": \"" << s.executed_gtid_set() << "\"";
    ASSERT_OK_AND_ASSIGN(std::vector<v1::Record> rows, ListAllRecords(*slave));
    std::map<int64_t, std::string> table;
    for (const v1::Record& r : rows) table[r.id()] = r.content();
    int lost = 0;
    for (const Write* w : acked) {
      auto it = table.find(w->id);
      absl::StatusOr<Gtid> gtid = Gtid::Parse(w->result.gtid());
      bool ok = it != table.end() && it->second == w->content &&
                s.executed_position() >= w->result.position() && gtid.ok() &&
                executed->Contains(*gtid);
      if (!ok && ++lost <= 5) {
        ADD_FAILURE() << "acknowledged write lost on the slave: " << w->result.ShortDebugString()
                      << " id " << w->id << " \"" << w->content << "\"; slave has "
                      << (it == table.end() ? "no row" : "\"" + it->second + "\"")
                      << ", executed position " << s.executed_position() << ", executed set "
                      << s.executed_gtid_set();
      }
    }
    EXPECT_EQ(lost, 0) << "of " << acked.size() << " acknowledged writes";

    // Restart: the master has them too, and the slave converges on it.
    ASSERT_OK(cluster().Restart(*master));
    ASSERT_OK_AND_ASSIGN(v1::MasterStatus m, GetMasterStatus(*master));
    EXPECT_EQ(m.server_uuid(), s.master_uuid());
    ASSERT_OK_AND_ASSIGN(std::vector<v1::Record> master_rows, ListAllRecords(*master));
    std::map<int64_t, std::string> master_table;
    for (const v1::Record& r : master_rows) master_table[r.id()] = r.content();
    int master_lost = 0;
    for (const Write* w : acked) {
      auto it = master_table.find(w->id);
      if ((it == master_table.end() || it->second != w->content) && ++master_lost <= 5) {
        ADD_FAILURE() << "acknowledged write missing on the restarted master: "
                      << w->result.ShortDebugString() << " id " << w->id;
      }
    }
    EXPECT_EQ(master_lost, 0);
    ASSERT_TRUE(cluster().WaitForSlaveCaughtUp(*slave));
    EXPECT_TRUE(SameRows(*master, *slave));
  }
  EXPECT_GE(total_acked, static_cast<size_t>(kRounds * kWritesBeforeCrash));
}

// 6. wait_for_slave_count=2 with two slaves: a write completes (acknowledged) only after both have
// acknowledged it; with one of them paused a write takes the timeout and is not acknowledged.
TEST_P(ReplicationTest, WaitForTwoSlaves) {
  constexpr int kTimeout = 1500;
  ASSERT_OK_AND_ASSIGN(Node * master, cluster().StartMaster({"--semi_sync_wait_for_slave_count=2",
                                                             TimeoutFlag(kTimeout)}));
  ASSERT_OK_AND_ASSIGN(Node * slave1, cluster().StartSlave("slave1"));
  ASSERT_OK_AND_ASSIGN(Node * slave2, cluster().StartSlave("slave2"));
  ASSERT_TRUE(Eventually([&] { return SemiSyncOnWithClients(*master, 2); }, kWait,
                         "both slaves connected, semi-sync ON"));

  // Both slaves are listed with acked_position >= every acknowledged write's position.
  auto expect_both_acked = [&](uint64_t position) {
    ASSERT_OK_AND_ASSIGN(v1::MasterStatus m, GetMasterStatus(*master));
    EXPECT_EQ(m.semi_sync_config().wait_for_slave_count(), 2u);
    std::map<std::string, v1::SlaveInfo> by_id;
    for (const v1::SlaveInfo& info : m.slaves()) by_id[info.slave_id()] = info;
    for (const char* id : {"slave1", "slave2"}) {
      ASSERT_EQ(by_id.count(id), 1u) << id << " not in " << m.ShortDebugString();
      EXPECT_TRUE(by_id[id].semi_sync()) << id;
      EXPECT_GE(by_id[id].acked_position(), position) << id << ": " << m.ShortDebugString();
    }
  };
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK_AND_ASSIGN(v1::RecordWriteResponse w, CreateRecord(*master, "both"));
    EXPECT_TRUE(w.write().semi_sync_acked());
    ASSERT_NO_FATAL_FAILURE(expect_both_acked(w.write().position()));
  }

  // One slave is not enough.
  ASSERT_OK(cluster().Pause(*slave2));
  absl::Time start = absl::Now();
  ASSERT_OK_AND_ASSIGN(v1::RecordWriteResponse one, CreateRecord(*master, "only slave1"));
  absl::Duration took = absl::Now() - start;
  EXPECT_GE(took, absl::Milliseconds(kTimeout * kTimeoutSlack));
  EXPECT_FALSE(one.write().semi_sync_acked());
  ASSERT_OK_AND_ASSIGN(v1::MasterStatus off, GetMasterStatus(*master));
  EXPECT_FALSE(off.semi_sync().status());
  // slave1 did acknowledge it (it runs), which was not enough.
  ASSERT_TRUE(Eventually(
      [&]() -> absl::Status {
        absl::StatusOr<v1::MasterStatus> m = GetMasterStatus(*master, absl::Seconds(5));
        if (!m.ok()) return m.status();
        for (const v1::SlaveInfo& info : m->slaves()) {
          if (info.slave_id() == "slave1" && info.acked_position() >= one.write().position()) {
            return absl::OkStatus();
          }
        }
        return absl::UnavailableError(m->ShortDebugString());
      },
      kWait, "slave1 acknowledged the write that timed out"));

  ASSERT_OK(cluster().Resume(*slave2));
  ASSERT_TRUE(Eventually([&] { return SemiSyncOn(*master); }, kWait,
                         "semi-sync back ON once slave2 caught up"));
  ASSERT_OK_AND_ASSIGN(v1::RecordWriteResponse again, CreateRecord(*master, "both again"));
  EXPECT_TRUE(again.write().semi_sync_acked());
  ASSERT_NO_FATAL_FAILURE(expect_both_acked(again.write().position()));
  for (Node* slave : {slave1, slave2}) {
    ASSERT_TRUE(cluster().WaitForSlaveCaughtUp(*slave));
    EXPECT_TRUE(SameRows(*master, *slave));
  }
}

// A clean restart keeps the server uuid, the binlog end and the executed GTID set; the next write
// continues both sequences, and the slave follows the restarted master.
TEST_P(ReplicationTest, MasterRestartKeepsUuidAndPositions) {
  ASSERT_OK_AND_ASSIGN(Node * master, cluster().StartMaster({TimeoutFlag(kLongTimeoutMs)}));
  ASSERT_OK_AND_ASSIGN(Node * slave, cluster().StartSlave("slave1"));
  ASSERT_TRUE(
      Eventually([&] { return SemiSyncOnWithClients(*master, 1); }, kWait, "slave1 connected"));
  v1::WriteResult last;
  for (int i = 0; i < 5; ++i) {
    ASSERT_OK_AND_ASSIGN(v1::RecordWriteResponse w, CreateRecord(*master, absl::StrCat("w", i)));
    last = w.write();
  }
  ASSERT_OK_AND_ASSIGN(v1::MasterStatus before, GetMasterStatus(*master));
  ASSERT_FALSE(before.server_uuid().empty());
  EXPECT_TRUE(IsValidUuid(before.server_uuid())) << before.server_uuid();
  EXPECT_EQ(last.gtid().rfind(before.server_uuid() + ":", 0), 0u) << last.gtid();
  EXPECT_EQ(before.binlog_end_position(), last.position());
  ASSERT_TRUE(cluster().WaitForSlaveCaughtUp(*slave));

  ASSERT_OK_AND_ASSIGN(int exit_status, cluster().Terminate(*master));
  EXPECT_TRUE(WIFEXITED(exit_status) && WEXITSTATUS(exit_status) == 0)
      << "master exit status " << exit_status << "\n"
      << master->LogTail();
  ASSERT_OK(cluster().Restart(*master));

  ASSERT_OK_AND_ASSIGN(v1::MasterStatus after, GetMasterStatus(*master));
  EXPECT_EQ(after.server_uuid(), before.server_uuid());
  EXPECT_EQ(after.binlog_end_position(), before.binlog_end_position());
  EXPECT_EQ(after.executed_gtid_set(), before.executed_gtid_set());
  EXPECT_EQ(after.applied_position(), before.binlog_end_position());

  ASSERT_TRUE(Eventually([&] { return SemiSyncOnWithClients(*master, 1); }, kWait,
                         "slave1 reconnected to the restarted master"));
  ASSERT_OK_AND_ASSIGN(v1::RecordWriteResponse next, CreateRecord(*master, "after restart"));
  EXPECT_EQ(next.write().position(), last.position() + 1);
  EXPECT_EQ(next.write().gtid().rfind(before.server_uuid() + ":", 0), 0u) << next.write().gtid();
  EXPECT_EQ(GtidSeqno(next.write().gtid()), GtidSeqno(last.gtid()) + 1)
      << last.gtid() << " then " << next.write().gtid();
  EXPECT_TRUE(next.write().semi_sync_acked());

  ASSERT_TRUE(cluster().WaitForSlaveCaughtUp(*slave));
  ASSERT_OK_AND_ASSIGN(v1::SlaveStatus s, GetSlaveStatus(*slave));
  EXPECT_EQ(s.master_uuid(), before.server_uuid());
  ASSERT_OK_AND_ASSIGN(v1::MasterStatus end, GetMasterStatus(*master));
  EXPECT_EQ(s.executed_gtid_set(), end.executed_gtid_set());
  EXPECT_TRUE(SameRows(*master, *slave));
}

// A master that crashed before the fsync of a group it had already sent (send_before_fsync_when_idle)
// lost it, and the slave holds it: here the slave's relay log gets such an event while both are
// down. The slave must not apply it, must drop it when the master refuses its position, and then
// follow the master's own history at that position.
TEST_P(ReplicationTest, SlaveDropsAnEventTheMasterLost) {
  ASSERT_OK_AND_ASSIGN(Node * master, cluster().StartMaster({TimeoutFlag(kLongTimeoutMs)}));
  ASSERT_OK_AND_ASSIGN(Node * slave, cluster().StartSlave("slave1"));
  ASSERT_TRUE(
      Eventually([&] { return SemiSyncOnWithClients(*master, 1); }, kWait, "slave1 connected"));
  for (int i = 0; i < 3; ++i) ASSERT_OK(CreateRecord(*master, absl::StrCat("w", i)).status());
  ASSERT_TRUE(cluster().WaitForSlaveCaughtUp(*slave));
  ASSERT_OK_AND_ASSIGN(v1::MasterStatus before, GetMasterStatus(*master));
  const uint64_t end = before.binlog_end_position();

  ASSERT_OK(cluster().Terminate(*slave).status());
  {
    LogOptions lo;
    lo.dir = slave->data_dir() + "/relay";
    lo.prefix = "relay";
    absl::StatusOr<std::unique_ptr<SegmentedLog>> relay = SegmentedLog::Open(lo);
    ASSERT_OK(relay.status());
    ASSERT_EQ((*relay)->LastPosition(), end);
    v1::BinlogEvent lost;
    lost.set_position(end + 1);
    lost.set_gtid(absl::StrCat(before.server_uuid(), ":", end + 1));
    lost.set_timestamp_us(absl::ToUnixMicros(absl::Now()));
    lost.set_op(v1::ROW_OP_INSERT);
    lost.mutable_record()->set_id(1000);
    lost.mutable_record()->set_content("lost in the master's crash");
    lost.set_relay_master_durable_position(end);  // as the slave marks an event sent ahead
    ASSERT_OK((*relay)->Append({LogRecord{end + 1, lost.SerializeAsString()}}));
    ASSERT_OK((*relay)->Sync());
  }
  ASSERT_OK(cluster().Restart(*slave));
  ASSERT_TRUE(Eventually(
      [&]() -> absl::Status {
        absl::StatusOr<v1::SlaveStatus> s = GetSlaveStatus(*slave);
        if (!s.ok()) return s.status();
        if (!s->connected() || s->retrieved_position() != end) {
          return absl::UnavailableError(s->ShortDebugString());
        }
        return absl::OkStatus();
      },
      kWait, "slave1 dropped the lost event and reconnected"));
  EXPECT_EQ(GetRecord(*slave, 1000).status().code(), absl::StatusCode::kNotFound);

  // The master's own event at that position reaches the slave.
  ASSERT_OK_AND_ASSIGN(v1::RecordWriteResponse next, CreateRecord(*master, "after the crash"));
  EXPECT_EQ(next.write().position(), end + 1);
  EXPECT_TRUE(next.write().semi_sync_acked());
  ASSERT_TRUE(cluster().WaitForSlaveCaughtUp(*slave));
  EXPECT_TRUE(SameRows(*master, *slave));
  ASSERT_OK_AND_ASSIGN(v1::SlaveStatus s, GetSlaveStatus(*slave));
  ASSERT_OK_AND_ASSIGN(v1::MasterStatus after, GetMasterStatus(*master));
  EXPECT_EQ(s.executed_gtid_set(), after.executed_gtid_set());
  EXPECT_EQ(s.apply_errors(), 0u);
  EXPECT_THAT(slave->LogTail(200), ::testing::HasSubstr("dropped relay log positions"));
}

// StopSync stops both threads (io_running/sql_running false, nothing new arrives); StartSync
// starts them again and the slave catches up.
TEST_P(ReplicationTest, SlaveStatusReportsStopStart) {
  ASSERT_OK_AND_ASSIGN(Node * master, cluster().StartMaster({"--semi_sync_enabled=false"}));
  ASSERT_OK_AND_ASSIGN(Node * slave, cluster().StartSlave("slave1"));
  for (int i = 0; i < 3; ++i) ASSERT_OK(CreateRecord(*master, absl::StrCat("before-", i)));
  ASSERT_TRUE(cluster().WaitForSlaveCaughtUp(*slave));
  ASSERT_OK_AND_ASSIGN(v1::SlaveStatus running, GetSlaveStatus(*slave));
  EXPECT_TRUE(running.io_running());
  EXPECT_TRUE(running.sql_running());
  EXPECT_EQ(running.slave_id(), "slave1");
  EXPECT_EQ(running.master_address(), master->address());

  ASSERT_OK_AND_ASSIGN(v1::SlaveStatus stopped, StopSync(*slave));
  EXPECT_FALSE(stopped.io_running());
  EXPECT_FALSE(stopped.sql_running());
  ASSERT_OK_AND_ASSIGN(v1::SlaveStatus stopped2, GetSlaveStatus(*slave));
  EXPECT_FALSE(stopped2.io_running());
  EXPECT_FALSE(stopped2.sql_running());

  std::vector<int64_t> new_ids;
  for (int i = 0; i < 5; ++i) {
    ASSERT_OK_AND_ASSIGN(v1::RecordWriteResponse w,
                         CreateRecord(*master, absl::StrCat("while-stopped-", i)));
    new_ids.push_back(w.record().id());
  }
  ASSERT_OK_AND_ASSIGN(v1::SlaveStatus idle, GetSlaveStatus(*slave));
  EXPECT_FALSE(idle.io_running());
  EXPECT_FALSE(idle.sql_running());
  EXPECT_EQ(idle.retrieved_position(), stopped2.retrieved_position());
  EXPECT_EQ(idle.executed_position(), stopped2.executed_position());
  for (int64_t id : new_ids) {
    EXPECT_EQ(GetRecord(*slave, id).status().code(), absl::StatusCode::kNotFound) << id;
  }

  ASSERT_OK_AND_ASSIGN(v1::SlaveStatus started, StartSync(*slave));
  EXPECT_TRUE(started.io_running());
  EXPECT_TRUE(started.sql_running());
  ASSERT_TRUE(cluster().WaitForSlaveCaughtUp(*slave));
  ASSERT_OK_AND_ASSIGN(v1::SlaveStatus caught_up, GetSlaveStatus(*slave));
  EXPECT_TRUE(caught_up.io_running());
  EXPECT_TRUE(caught_up.sql_running());
  EXPECT_TRUE(SameRows(*master, *slave));
}

// SIGTERM shuts both binaries down cleanly (exit code 0), and they come back with their data.
TEST_P(ReplicationTest, SigtermShutsDownCleanly) {
  ASSERT_OK_AND_ASSIGN(Node * master, cluster().StartMaster({TimeoutFlag(kLongTimeoutMs)}));
  ASSERT_OK_AND_ASSIGN(Node * slave, cluster().StartSlave("slave1"));
  ASSERT_TRUE(
      Eventually([&] { return SemiSyncOnWithClients(*master, 1); }, kWait, "slave1 connected"));
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK_AND_ASSIGN(v1::RecordWriteResponse w, CreateRecord(*master, absl::StrCat("w", i)));
    EXPECT_TRUE(w.write().semi_sync_acked());
  }
  for (Node* node : {slave, master}) {
    ASSERT_OK_AND_ASSIGN(int exit_status, cluster().Terminate(*node));
    EXPECT_TRUE(WIFEXITED(exit_status) && WEXITSTATUS(exit_status) == 0)
        << node->name() << " exit status " << exit_status << "\n"
        << node->LogTail();
  }
  ASSERT_OK(cluster().Restart(*master));
  ASSERT_OK(cluster().Restart(*slave));
  ASSERT_TRUE(cluster().WaitForSlaveCaughtUp(*slave));
  ASSERT_OK_AND_ASSIGN(std::vector<v1::Record> rows, ListAllRecords(*master));
  EXPECT_EQ(rows.size(), 3u);
  EXPECT_TRUE(SameRows(*master, *slave));
}

// AFTER_SYNC: a write waiting for its ack is not yet committed on the master, so no reader sees
// it; AFTER_COMMIT: it is committed (and visible) before the ack. Either way the client's answer
// waits for the ack.
void ReplicationTest::WaitPointVisibility(const std::string& wait_point,
                                          bool visible_while_waiting) {
  ASSERT_OK_AND_ASSIGN(Node * master,
                       cluster().StartMaster({absl::StrCat("--semi_sync_wait_point=", wait_point),
                                              TimeoutFlag(kLongTimeoutMs)}));
  ASSERT_OK_AND_ASSIGN(Node * slave, cluster().StartSlave("slave1"));
  ASSERT_TRUE(Eventually([&] { return SemiSyncOnWithClients(*master, 1); }, kWait,
                         "slave1 connected, semi-sync ON"));
  ASSERT_OK_AND_ASSIGN(v1::MasterStatus status, GetMasterStatus(*master));
  EXPECT_EQ(status.semi_sync_config().wait_point(), wait_point);
  ASSERT_OK_AND_ASSIGN(v1::RecordWriteResponse first, CreateRecord(*master, "first"));
  EXPECT_TRUE(first.write().semi_sync_acked());

  // With the slave paused the next write can only be acknowledged after Resume below.
  ASSERT_OK(cluster().Pause(*slave));
  absl::StatusOr<v1::RecordWriteResponse> pending;
  JoiningThread writer([&] { pending = CreateRecord(*master, "pending"); });
  auto has_pending_row = [&]() -> absl::StatusOr<bool> {
    absl::StatusOr<std::vector<v1::Record>> rows = ListAllRecords(*master);
    if (!rows.ok()) return rows.status();
    for (const v1::Record& r : *rows) {
      if (r.content() == "pending") return true;
    }
    return false;
  };
  EXPECT_TRUE(Eventually(
      [&]() -> absl::Status {
        absl::StatusOr<v1::MasterStatus> m = GetMasterStatus(*master, absl::Seconds(5));
        if (!m.ok()) return m.status();
        if (m->semi_sync().wait_sessions() >= 1) return absl::OkStatus();
        return absl::UnavailableError(m->semi_sync().ShortDebugString());
      },
      kWait, "the write waits for its ack (wait_sessions >= 1)"));
  if (visible_while_waiting) {
    EXPECT_TRUE(Eventually(
        [&]() -> absl::Status {
          absl::StatusOr<bool> seen = has_pending_row();
          if (!seen.ok()) return seen.status();
          return *seen ? absl::OkStatus() : absl::UnavailableError("not visible");
        },
        kWait, "AFTER_COMMIT: the waiting write is visible on the master"));
  } else {
    absl::StatusOr<bool> seen = has_pending_row();
    ASSERT_TRUE(seen.ok()) << seen.status();
    EXPECT_FALSE(*seen) << "AFTER_SYNC: a write not yet acknowledged is visible on the master";
  }
  EXPECT_OK(cluster().Resume(*slave));
  writer.join();
  ASSERT_OK(pending);
  // Acknowledged: so it was still waiting (the slave was paused) when the reads above ran.
  EXPECT_TRUE(pending->write().semi_sync_acked());
  absl::StatusOr<bool> seen = has_pending_row();
  ASSERT_TRUE(seen.ok()) << seen.status();
  EXPECT_TRUE(*seen);
  ASSERT_TRUE(cluster().WaitForSlaveCaughtUp(*slave));
  EXPECT_TRUE(SameRows(*master, *slave));
}

TEST_P(ReplicationTest, AfterSyncHidesWritesUntilAcked) {
  WaitPointVisibility("AFTER_SYNC", /*visible_while_waiting=*/false);
}

TEST_P(ReplicationTest, AfterCommitShowsWritesBeforeAck) {
  WaitPointVisibility("AFTER_COMMIT", /*visible_while_waiting=*/true);
}

// A slave started with --semi_sync=false replicates but does not count as an acknowledger.
TEST_P(ReplicationTest, AsyncSlaveDoesNotAcknowledge) {
  ASSERT_OK_AND_ASSIGN(Node * master, cluster().StartMaster({TimeoutFlag(kTimeoutMs)}));
  ASSERT_OK_AND_ASSIGN(Node * slave, cluster().StartSlave("slave1", {"--semi_sync=false"}));
  ASSERT_TRUE(Eventually(
      [&]() -> absl::Status {
        absl::StatusOr<v1::MasterStatus> m = GetMasterStatus(*master, absl::Seconds(5));
        if (!m.ok()) return m.status();
        for (const v1::SlaveInfo& info : m->slaves()) {
          if (info.slave_id() == "slave1" && info.connected()) {
            if (info.semi_sync()) return absl::InternalError("slave1 listed as semi-sync");
            return absl::OkStatus();
          }
        }
        return absl::UnavailableError(m->ShortDebugString());
      },
      kWait, "slave1 connected as an asynchronous slave"));
  ASSERT_OK_AND_ASSIGN(v1::MasterStatus before, GetMasterStatus(*master));
  EXPECT_EQ(before.semi_sync().clients(), 0u);

  absl::Time start = absl::Now();
  ASSERT_OK_AND_ASSIGN(v1::RecordWriteResponse w, CreateRecord(*master, "nobody acks"));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(kTimeoutMs * kTimeoutSlack));
  EXPECT_FALSE(w.write().semi_sync_acked());
  ASSERT_OK_AND_ASSIGN(v1::MasterStatus after, GetMasterStatus(*master));
  EXPECT_EQ(after.semi_sync().no_tx(), before.semi_sync().no_tx() + 1);
  EXPECT_EQ(after.semi_sync().yes_tx(), before.semi_sync().yes_tx());
  EXPECT_FALSE(after.semi_sync().status());

  ASSERT_TRUE(cluster().WaitForSlaveCaughtUp(*slave));
  EXPECT_TRUE(SameRows(*master, *slave));
}

// wait_no_slave=false: semi-sync switches OFF as soon as the only semi-sync slave is gone (writes
// do not wait for the timeout), and back ON once it is back and caught up.
TEST_P(ReplicationTest, WaitNoSlaveOffSwitchesOffWhenSlaveLeaves) {
  ASSERT_OK_AND_ASSIGN(Node * master, cluster().StartMaster({"--semi_sync_wait_no_slave=false",
                                                             TimeoutFlag(kLongTimeoutMs)}));
  ASSERT_OK_AND_ASSIGN(Node * slave, cluster().StartSlave("slave1"));
  ASSERT_TRUE(Eventually([&] { return SemiSyncOnWithClients(*master, 1); }, kWait,
                         "slave1 connected, semi-sync ON"));
  ASSERT_OK_AND_ASSIGN(v1::RecordWriteResponse acked, CreateRecord(*master, "acked"));
  EXPECT_TRUE(acked.write().semi_sync_acked());

  ASSERT_OK(cluster().Kill(*slave));
  ASSERT_TRUE(Eventually(
      [&]() -> absl::Status {
        absl::StatusOr<v1::MasterStatus> m = GetMasterStatus(*master, absl::Seconds(5));
        if (!m.ok()) return m.status();
        if (!m->semi_sync().status() && m->semi_sync().clients() == 0) return absl::OkStatus();
        return absl::UnavailableError(m->semi_sync().ShortDebugString());
      },
      kWait, "semi-sync OFF once no semi-sync slave is connected"));
  absl::Time start = absl::Now();
  ASSERT_OK_AND_ASSIGN(v1::RecordWriteResponse async, CreateRecord(*master, "async"));
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(kLongTimeoutMs / 5))
      << "the write waited although no slave was connected";
  EXPECT_FALSE(async.write().semi_sync_acked());

  ASSERT_OK(cluster().Restart(*slave));
  ASSERT_TRUE(Eventually([&] { return SemiSyncOnWithClients(*master, 1); }, kWait,
                         "semi-sync back ON with slave1 back and caught up"));
  ASSERT_OK_AND_ASSIGN(v1::RecordWriteResponse again, CreateRecord(*master, "acked again"));
  EXPECT_TRUE(again.write().semi_sync_acked());
  ASSERT_TRUE(cluster().WaitForSlaveCaughtUp(*slave));
  EXPECT_TRUE(SameRows(*master, *slave));
}

// A slave that needs binlog the master has purged gets a clear error naming the oldest position
// still available (in last_io_error), and applies nothing.
// A master with 4 KiB binlog segments and retention, and 40 KB written: returns it once it has
// purged up to an oldest position above `above`, in *oldest.
absl::StatusOr<Node*> StartPurgingMaster(Cluster& cluster, uint64_t above, uint64_t* oldest) {
  absl::StatusOr<Node*> master = cluster.StartMaster(
      {"--semi_sync_enabled=false", "--binlog_segment_bytes=4096",
       "--binlog_retention_bytes=4096", "--binlog_purge_check_interval_ms=100"});
  if (!master.ok()) return master.status();
  const std::string content(1000, 'x');
  for (int i = 0; i < 40; ++i) {
    absl::Status s = CreateRecord(**master, content).status();
    if (!s.ok()) return s;
  }
  ::testing::AssertionResult purged = Eventually(
      [&]() -> absl::Status {
        absl::StatusOr<v1::MasterStatus> m = GetMasterStatus(**master, absl::Seconds(5));
        if (!m.ok()) return m.status();
        *oldest = m->oldest_position();
        if (*oldest > above) return absl::OkStatus();
        return absl::UnavailableError(
            absl::StrCat("oldest position ", *oldest, ", binlog bytes ", m->binlog_bytes()));
      },
      kWait, "the master purges old binlog segments");
  if (!purged) return absl::DeadlineExceededError(purged.message());
  return master;
}

TEST_P(ReplicationTest, PurgedBinlogIsReportedToLateSlave) {
  uint64_t oldest = 0;
  ASSERT_OK_AND_ASSIGN(Node * master, StartPurgingMaster(cluster(), 1, &oldest));

  ASSERT_OK_AND_ASSIGN(Node * slave, cluster().StartSlave("late"));
  ASSERT_TRUE(Eventually(
      [&]() -> absl::Status {
        absl::StatusOr<v1::SlaveStatus> s = GetSlaveStatus(*slave, absl::Seconds(5));
        if (!s.ok()) return s.status();
        if (!s->last_io_error().empty()) return absl::OkStatus();
        return absl::UnavailableError(s->ShortDebugString());
      },
      kWait, "the late slave reports an I/O error"));
  ASSERT_OK_AND_ASSIGN(v1::SlaveStatus s, GetSlaveStatus(*slave));
  // Retention is checked every 100 ms: by now a check has run after the last write, so the
  // oldest position is stable.
  ASSERT_OK_AND_ASSIGN(v1::MasterStatus after, GetMasterStatus(*master));
  oldest = after.oldest_position();
  EXPECT_THAT(s.last_io_error(),
              ::testing::ContainsRegex(absl::StrCat("(^|[^0-9])", oldest, "([^0-9]|$)")))
      << "the error should name the oldest available position " << oldest;
  EXPECT_EQ(s.executed_position(), 0u);
  ASSERT_OK_AND_ASSIGN(std::vector<v1::Record> rows, ListAllRecords(*slave));
  EXPECT_TRUE(rows.empty());
}

// A slave whose last event arrived ahead of the master's fsync and was never confirmed, at a
// position the master has since purged: the master cannot check it, so it refuses (the slave
// must drop it); a confirmed event there is not checked.
TEST_P(ReplicationTest, AnUnconfirmedEventAtAPurgedPositionIsRefused) {
  uint64_t oldest = 0;
  ASSERT_OK_AND_ASSIGN(Node * master, StartPurgingMaster(cluster(), 2, &oldest));
  // Retention runs every 100 ms: the oldest position must have settled (stay put for 500 ms).
  ASSERT_TRUE(Eventually(
      [&]() -> absl::Status {
        ::testing::AssertionResult stays = Consistently(
            [&]() -> absl::Status {
              absl::StatusOr<v1::MasterStatus> m = GetMasterStatus(*master, absl::Seconds(5));
              if (!m.ok()) return m.status();
              if (m->oldest_position() == oldest) return absl::OkStatus();
              oldest = m->oldest_position();
              return absl::UnavailableError("the oldest position moved");
            },
            absl::Milliseconds(500), "the oldest position stays");
        return stays ? absl::OkStatus() : absl::UnavailableError(stays.message());
      },
      kWait, "the oldest position settles"));
  ASSERT_OK_AND_ASSIGN(v1::MasterStatus status, GetMasterStatus(*master));
  auto subscribe = [&](const std::string& id, bool unconfirmed) {
    v1::SubscribeBinlogRequest sub;
    sub.set_slave_id(id);
    sub.set_after_position(oldest - 1);  // purged; the next position is still there
    sub.set_after_gtid(absl::StrCat(status.server_uuid(), ":", oldest - 1));
    sub.set_after_timestamp_us(1);
    sub.set_accepts_events_ahead_of_fsync(true);
    sub.set_after_event_unconfirmed(unconfirmed);
    return test_util::SubscribeOnce(master->replication().get(), sub);
  };
  grpc::Status refused = subscribe("unconfirmed", true);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::ABORTED) << refused.error_message();
  EXPECT_THAT(refused.error_message(), ::testing::HasSubstr("purged"));
  grpc::Status accepted = subscribe("confirmed", false);
  EXPECT_TRUE(accepted.ok()) << accepted.error_message();
}

// SIGTERM while a write waits for an ack (the slave is paused, the timeout long): the master
// releases the waiter with a definite answer and exits cleanly, well before the semi-sync timeout;
// a write it reported as done survives the restart.
TEST_P(ReplicationTest, SigtermReleasesWaitingWrites) {
  ASSERT_OK_AND_ASSIGN(Node * master, cluster().StartMaster({TimeoutFlag(kLongTimeoutMs)}));
  ASSERT_OK_AND_ASSIGN(Node * slave, cluster().StartSlave("slave1"));
  ASSERT_TRUE(Eventually([&] { return SemiSyncOnWithClients(*master, 1); }, kWait,
                         "slave1 connected, semi-sync ON"));
  ASSERT_OK(cluster().Pause(*slave));
  absl::StatusOr<v1::RecordWriteResponse> pending;
  JoiningThread writer([&] { pending = CreateRecord(*master, "pending"); });
  ASSERT_TRUE(Eventually(
      [&]() -> absl::Status {
        absl::StatusOr<v1::MasterStatus> m = GetMasterStatus(*master, absl::Seconds(5));
        if (!m.ok()) return m.status();
        if (m->semi_sync().wait_sessions() >= 1) return absl::OkStatus();
        return absl::UnavailableError(m->semi_sync().ShortDebugString());
      },
      kWait, "the write waits for its ack"));
  absl::Time start = absl::Now();
  absl::StatusOr<int> exit_status = cluster().Terminate(*master);
  absl::Duration took = absl::Now() - start;
  writer.join();
  ASSERT_OK(exit_status);
  EXPECT_TRUE(WIFEXITED(*exit_status) && WEXITSTATUS(*exit_status) == 0)
      << "exit status " << *exit_status << "\n"
      << master->LogTail();
  EXPECT_LT(took, absl::Milliseconds(kLongTimeoutMs / 2))
      << "shutdown waited for the semi-sync timeout";
  if (pending.ok()) {
    EXPECT_FALSE(pending->write().semi_sync_acked());
  } else {
    EXPECT_THAT(pending.status().code(),
                ::testing::AnyOf(absl::StatusCode::kUnavailable, absl::StatusCode::kAborted,
                                 absl::StatusCode::kCancelled))
        << pending.status();
  }

  ASSERT_OK(cluster().Resume(*slave));
  ASSERT_OK(cluster().Restart(*master));
  if (pending.ok()) {
    ASSERT_OK_AND_ASSIGN(v1::Record r, GetRecord(*master, pending->record().id()));
    EXPECT_EQ(r.content(), "pending");
  }
  ASSERT_TRUE(cluster().WaitForSlaveCaughtUp(*slave));
  EXPECT_TRUE(SameRows(*master, *slave));
}

// Heartbeats: an idle master keeps the slave's link alive past its heartbeat timeout; a paused
// master is detected (connected false, an I/O error) and the slave reconnects once it resumes.
TEST_P(ReplicationTest, SlaveTellsIdleMasterFromDeadLink) {
  ASSERT_OK_AND_ASSIGN(Node * master, cluster().StartMaster({TimeoutFlag(kTimeoutMs)}));
  ASSERT_OK_AND_ASSIGN(Node * slave, cluster().StartSlave("slave1"));
  ASSERT_OK(CreateRecord(*master, "one"));
  ASSERT_TRUE(cluster().WaitForSlaveCaughtUp(*slave));
  // --heartbeat_timeout_ms=2000 (cluster default) and --heartbeat_period_ms=200.
  EXPECT_TRUE(Consistently(
      [&]() -> absl::Status {
        absl::StatusOr<v1::SlaveStatus> s = GetSlaveStatus(*slave, absl::Seconds(5));
        if (!s.ok()) return s.status();
        if (s->connected() && s->io_running()) return absl::OkStatus();
        return absl::FailedPreconditionError(s->ShortDebugString());
      },
      absl::Seconds(3), "slave1 stays connected to an idle master"));

  ASSERT_OK(cluster().Pause(*master));
  EXPECT_TRUE(Eventually(
      [&]() -> absl::Status {
        absl::StatusOr<v1::SlaveStatus> s = GetSlaveStatus(*slave, absl::Seconds(5));
        if (!s.ok()) return s.status();
        if (!s->connected()) return absl::OkStatus();
        return absl::UnavailableError(s->ShortDebugString());
      },
      absl::Seconds(15), "slave1 declares the paused master's link dead"));
  ASSERT_OK(cluster().Resume(*master));
  ASSERT_TRUE(
      Eventually([&] { return SemiSyncOnWithClients(*master, 1); }, kWait, "slave1 reconnected"));
  ASSERT_OK(CreateRecord(*master, "two"));
  ASSERT_TRUE(cluster().WaitForSlaveCaughtUp(*slave));
  ASSERT_OK_AND_ASSIGN(v1::SlaveStatus s, GetSlaveStatus(*slave));
  EXPECT_TRUE(s.connected());
  EXPECT_TRUE(SameRows(*master, *slave));
}

INSTANTIATE_TEST_SUITE_P(Backends, ReplicationTest, ::testing::ValuesIn(BackendsUnderTest()),
                         [](const ::testing::TestParamInfo<Backend>& info) {
                           return BackendName(info.param);
                         });

}  // namespace
}  // namespace integration
}  // namespace semisync
