// Tests of CommitPipeline's AFTER_SYNC hand-off: a staged group is committed and answered once the
// ack that makes its quorum arrives, never before, and exactly once, whichever of the acking
// thread (the ack listener) and the completer (woken by the same ack) claims it; which one does
// is a race, so the tests do not assert it.
#include "server/master/commit_pipeline.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/clock.h"
#include "gtest/gtest.h"
#include "tests/test_util/mariadb.h"

namespace semisync {
namespace {

using test_util::MakeTempDir;

// Binlog, SQLite storage, semi-sync (semi-sync slaves "s1" and "s2" connected) and a started
// pipeline.
class PipelineFixture {
 public:
  explicit PipelineFixture(const std::string& name, int wait_for_slave_count = 1,
                           int state_every_groups = CommitPipelineOptions().state_every_groups) {
    const std::string dir = MakeTempDir(name);
    LogOptions log;
    log.dir = dir + "/binlog";
    log.prefix = "binlog";
    auto binlog = Binlog::Open(log);
    EXPECT_TRUE(binlog.ok()) << binlog.status();
    binlog_ = std::move(*binlog);
    StorageOptions so;
    so.connection = "sqlite3://db=" + dir + "/master.db";
    so.sync_commits = false;
    auto storage = Storage::Open(so);
    EXPECT_TRUE(storage.ok()) << storage.status();
    storage_ = std::move(*storage);
    SemiSyncOptions ss;
    ss.timeout = absl::Minutes(5);
    ss.wait_for_slave_count = wait_for_slave_count;
    semi_sync_ = std::make_unique<SemiSyncMaster>(ss, RealClock());
    semi_sync_->SlaveConnected("s1", /*semi_sync=*/true);
    semi_sync_->SlaveConnected("s2", /*semi_sync=*/true);
    CommitPipelineOptions po;
    po.server_uuid = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
    po.state_every_groups = state_every_groups;
    pipeline_ = std::make_unique<CommitPipeline>(po, binlog_.get(), storage_.get(),
                                                 semi_sync_.get(), /*next_record_id=*/1);
    pipeline_->Start();
  }
  ~PipelineFixture() { Stop(); }
  // Shuts semi-sync and the pipeline down; the storage stays open.
  void Stop() {
    if (stopped_) return;
    stopped_ = true;
    semi_sync_->Shutdown();
    pipeline_->Shutdown();
  }

  // Submits an insert whose Done records its outcome.
  struct Outcome {
    absl::Mutex mu;
    int calls ABSL_GUARDED_BY(mu) = 0;
    absl::Status status ABSL_GUARDED_BY(mu);
    bool acked ABSL_GUARDED_BY(mu) = false;
  };
  void Insert(const std::string& content, Outcome* out) {
    pipeline_->Submit(v1::ROW_OP_INSERT, 0, content,
                      [out](const absl::Status& s, const v1::BinlogEvent&, bool acked) {
                        absl::MutexLock l(&out->mu);
                        ++out->calls;
                        out->status = s;
                        out->acked = acked;
                      });
  }
  // Waits (with a deadline) until `out` has been answered, then expects one OK, acked answer.
  static void ExpectAnsweredOnceAcked(Outcome* out) {
    absl::MutexLock l(&out->mu);
    auto answered = [out]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(out->mu) { return out->calls > 0; };
    ASSERT_TRUE(out->mu.AwaitWithTimeout(absl::Condition(&answered), absl::Seconds(30)))
        << "never answered";
    EXPECT_EQ(out->calls, 1);
    EXPECT_TRUE(out->status.ok()) << out->status;
    EXPECT_TRUE(out->acked);
  }
  // Waits (with a deadline) until the completer sleeps in WaitForAck (n = 1), or has left it
  // (n = 0).
  bool WaitUntilWaiting(uint64_t n = 1) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (absl::Now() < deadline) {
      if (semi_sync_->Counters().wait_sessions == n) return true;
      absl::SleepFor(absl::Milliseconds(1));
    }
    return false;
  }

  SemiSyncMaster* semi_sync() { return semi_sync_.get(); }
  Storage* storage() { return storage_.get(); }
  CommitPipeline* pipeline() { return pipeline_.get(); }

 private:
  std::unique_ptr<Binlog> binlog_;
  std::unique_ptr<Storage> storage_;
  std::unique_ptr<SemiSyncMaster> semi_sync_;
  std::unique_ptr<CommitPipeline> pipeline_;
  bool stopped_ = false;
};

TEST(CommitPipelineTest, TheAckCommitsAndAnswersTheStagedGroup) {
  PipelineFixture f("pipeline_ack_thread");
  PipelineFixture::Outcome out;
  f.Insert("answered by the ack", &out);
  ASSERT_TRUE(f.WaitUntilWaiting());
  {
    absl::MutexLock l(&out.mu);
    EXPECT_EQ(out.calls, 0) << "answered before the ack";
  }
  EXPECT_TRUE(absl::IsNotFound(f.storage()->GetRecord(1).status())) << "visible before the ack";

  f.semi_sync()->OnAck("s1", 1);
  PipelineFixture::ExpectAnsweredOnceAcked(&out);
  absl::StatusOr<v1::Record> row = f.storage()->GetRecord(1);
  ASSERT_TRUE(row.ok()) << row.status();
  EXPECT_EQ(row->content(), "answered by the ack");
  EXPECT_EQ(f.semi_sync()->Counters().yes_tx, 1u);
}

TEST(CommitPipelineTest, OnlyTheAckThatCompletesTheQuorumAnswers) {
  PipelineFixture f("pipeline_quorum", /*wait_for_slave_count=*/2);
  PipelineFixture::Outcome out;
  f.Insert("needs two slaves", &out);
  ASSERT_TRUE(f.WaitUntilWaiting());
  f.semi_sync()->OnAck("s1", 1);  // one of two: the quorum position does not move
  {
    absl::MutexLock l(&out.mu);
    EXPECT_EQ(out.calls, 0) << "answered with one ack of two";
  }
  EXPECT_TRUE(absl::IsNotFound(f.storage()->GetRecord(1).status()));
  EXPECT_EQ(f.semi_sync()->Counters().wait_sessions, 1u);
  f.semi_sync()->OnAck("s2", 1);
  PipelineFixture::ExpectAnsweredOnceAcked(&out);
  absl::StatusOr<v1::Record> row = f.storage()->GetRecord(1);
  ASSERT_TRUE(row.ok()) << row.status();
  EXPECT_EQ(row->content(), "needs two slaves");
}

// The database records its applied position with one committed group in state_every_groups and
// once more at shutdown; CommittedPosition follows every committed group.
TEST(CommitPipelineTest, StateIsRecordedEveryNthGroupAndAtShutdown) {
  PipelineFixture f("pipeline_state", /*wait_for_slave_count=*/1, /*state_every_groups=*/3);
  for (uint64_t i = 1; i <= 4; ++i) {
    ASSERT_TRUE(f.WaitUntilWaiting(0));  // the previous group's wait is over
    PipelineFixture::Outcome out;
    f.Insert(absl::StrCat("row ", i), &out);  // answered before the next: a group each
    ASSERT_TRUE(f.WaitUntilWaiting());
    f.semi_sync()->OnAck("s1", i);
    PipelineFixture::ExpectAnsweredOnceAcked(&out);
    EXPECT_EQ(f.pipeline()->CommittedPosition(), i);
    absl::StatusOr<ReplState> state = f.storage()->GetReplState();
    ASSERT_TRUE(state.ok()) << state.status();
    EXPECT_EQ(state->applied_position, i < 3 ? 0u : 3u) << "after group " << i;
    ASSERT_TRUE(f.storage()->GetRecord(static_cast<int64_t>(i)).ok()) << "row " << i;
  }
  f.Stop();
  absl::StatusOr<ReplState> state = f.storage()->GetReplState();
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->applied_position, 4u);
  EXPECT_EQ(state->applied_gtid, "3e11fa47-71ca-11e1-9e33-c80aa9429562:4");
}

TEST(CommitPipelineTest, ShutdownBeforeTheAckAnswersUnavailableAndCommitsNothing) {
  auto f = std::make_unique<PipelineFixture>("pipeline_shutdown");
  PipelineFixture::Outcome out;
  f->Insert("never acked", &out);
  ASSERT_TRUE(f->WaitUntilWaiting());
  EXPECT_TRUE(absl::IsNotFound(f->storage()->GetRecord(1).status()));
  f->semi_sync()->Shutdown();
  // A late ack after the shutdown began may race the completer; exactly one completes the write.
  f->semi_sync()->OnAck("s1", 1);
  f.reset();
  absl::MutexLock l(&out.mu);
  EXPECT_EQ(out.calls, 1);
  if (!out.status.ok()) {
    EXPECT_TRUE(absl::IsUnavailable(out.status)) << out.status;
    EXPECT_FALSE(out.acked);
  } else {
    EXPECT_TRUE(out.acked);
  }
}

}  // namespace
}  // namespace semisync
