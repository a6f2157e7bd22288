// Tests of CommitPipeline's AFTER_SYNC hand-off: a staged group is committed and answered once the
// ack that makes its quorum arrives, never before, and exactly once, whichever of the acking
// thread (the ack listener) and the completer (woken by the same ack) claims it; which one does
// is a race, so the tests do not assert it.
#include "server/master/commit_pipeline.h"

#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>
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
  // With record_flushes, on_flushed and on_durable are set (so an idle pipeline sends groups
  // ahead of their fsync) and record every call in flushes().
  explicit PipelineFixture(const std::string& name, int wait_for_slave_count = 1,
                           int state_every_groups = CommitPipelineOptions().state_every_groups,
                           bool record_flushes = false, bool submitter_sends_idle_insert = true,
                           uint64_t binlog_segment_bytes = 0) {
    const std::string dir = MakeTempDir(name);
    LogOptions log;
    if (binlog_segment_bytes > 0) log.segment_bytes = binlog_segment_bytes;
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
    po.submitter_sends_idle_insert = submitter_sends_idle_insert;
    if (record_flushes) {
      po.on_flushed = [this](const std::vector<v1::BinlogEvent>& events, bool durable) {
        absl::MutexLock l(&flushes_mu_);
        for (const v1::BinlogEvent& e : events) {
          flushes_.push_back({e.position(), durable, std::this_thread::get_id()});
        }
      };
      po.on_durable = [this] {
        absl::MutexLock l(&flushes_mu_);
        durable_calls_.push_back(std::this_thread::get_id());
      };
    }
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

  // One on_flushed event: its position, whether it was durable yet, and the calling thread.
  struct Flush {
    uint64_t position;
    bool durable;
    std::thread::id thread;
  };
  std::vector<Flush> flushes() {
    absl::MutexLock l(&flushes_mu_);
    return flushes_;
  }
  std::vector<std::thread::id> durable_calls() {
    absl::MutexLock l(&flushes_mu_);
    return durable_calls_;
  }

  // Waits (with a deadline) until the pipeline has nothing in flight.
  bool WaitUntilIdle() {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (absl::Now() < deadline) {
      if (pipeline_->Idle()) return true;
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
  absl::Mutex flushes_mu_;
  std::vector<Flush> flushes_ ABSL_GUARDED_BY(flushes_mu_);
  std::vector<std::thread::id> durable_calls_ ABSL_GUARDED_BY(flushes_mu_);
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

// An insert reaching an idle pipeline is written and sent ahead of its fsync by the submitting
// thread (inside Submit); the committer syncs it and reports it durable. Without
// submitter_sends_idle_insert the committer does both.
TEST(CommitPipelineTest, AnIdleInsertIsSentAheadByTheSubmittingThread) {
  for (bool submitter_sends : {true, false}) {
    SCOPED_TRACE(absl::StrCat("submitter_sends_idle_insert=", submitter_sends));
    PipelineFixture f(absl::StrCat("pipeline_lead_", submitter_sends), 1,
                      CommitPipelineOptions().state_every_groups, /*record_flushes=*/true,
                      submitter_sends);
    // The first event is never sent ahead (nothing is durable yet).
    PipelineFixture::Outcome first;
    f.Insert("first", &first);
    ASSERT_TRUE(f.WaitUntilWaiting());
    f.semi_sync()->OnAck("s1", 1);
    PipelineFixture::ExpectAnsweredOnceAcked(&first);
    ASSERT_TRUE(f.WaitUntilIdle());
    // The first group may have been answered by the acking thread (this one) while the completer
    // has not yet left its wait: below, a wait must be the second group's.
    ASSERT_TRUE(f.WaitUntilWaiting(0));
    ASSERT_EQ(f.flushes().size(), 1u);
    EXPECT_TRUE(f.flushes()[0].durable);
    EXPECT_NE(f.flushes()[0].thread, std::this_thread::get_id());

    PipelineFixture::Outcome second;
    f.Insert("second", &second);
    if (submitter_sends) {
      // Already written and handed to the streams when Submit returns, from this thread.
      std::vector<PipelineFixture::Flush> flushes = f.flushes();
      ASSERT_EQ(flushes.size(), 2u);
      EXPECT_EQ(flushes[1].position, 2u);
      EXPECT_FALSE(flushes[1].durable);
      EXPECT_EQ(flushes[1].thread, std::this_thread::get_id());
    }
    ASSERT_TRUE(f.WaitUntilWaiting());
    std::vector<PipelineFixture::Flush> flushes = f.flushes();
    ASSERT_EQ(flushes.size(), 2u);
    EXPECT_FALSE(flushes[1].durable);  // idle: sent ahead either way
    EXPECT_EQ(flushes[1].thread == std::this_thread::get_id(), submitter_sends);
    ASSERT_EQ(f.durable_calls().size(), 1u);  // the committer, after the fsync
    EXPECT_NE(f.durable_calls()[0], std::this_thread::get_id());
    {
      absl::MutexLock l(&second.mu);
      EXPECT_EQ(second.calls, 0) << "answered before the ack";
    }
    f.semi_sync()->OnAck("s1", 2);
    PipelineFixture::ExpectAnsweredOnceAcked(&second);
    absl::StatusOr<v1::Record> row = f.storage()->GetRecord(2);
    ASSERT_TRUE(row.ok()) << row.status();
    EXPECT_EQ(row->content(), "second");
  }
}

// Writers racing for the committer's role: in each round every writer submits one insert at
// once into an idle pipeline, so one of them leads (writes and sends it ahead itself) while the
// others queue behind it for the committer. Every write gets exactly one position, every
// position is handed to the streams exactly once and in order, and every write is answered
// once. With tiny binlog segments, appends that would rotate are left to the committer.
TEST(CommitPipelineTest, ConcurrentInsertsAreEachWrittenOnceWhoeverWritesThem) {
  for (uint64_t segment_bytes : {uint64_t{0}, uint64_t{600}}) {
    SCOPED_TRACE(absl::StrCat("binlog segment_bytes=", segment_bytes));
    PipelineFixture f(absl::StrCat("pipeline_lead_race_", segment_bytes), 1,
                      CommitPipelineOptions().state_every_groups, /*record_flushes=*/true,
                      /*submitter_sends_idle_insert=*/true, segment_bytes);
    constexpr int kThreads = 4;
    constexpr int kRounds = 30;
    constexpr int kWrites = kThreads * kRounds;
    std::vector<std::unique_ptr<PipelineFixture::Outcome>> outs;
    for (int i = 0; i < kWrites; ++i) outs.push_back(std::make_unique<PipelineFixture::Outcome>());
    absl::Mutex mu;
    int round ABSL_GUARDED_BY(mu) = 0;      // writers may submit their write of this round
    int submitted ABSL_GUARDED_BY(mu) = 0;  // writes submitted so far
    int answered ABSL_GUARDED_BY(mu) = 0;   // writes answered so far
    std::set<std::thread::id> writer_ids ABSL_GUARDED_BY(mu);
    std::atomic<bool> done{false};
    // Acks whatever has been handed to the streams, as a slave would, but only once every write
    // of the round has been submitted: until then the round's first write waits for its ack, so
    // the pipeline is not idle when a writer the scheduler released late submits.
    std::thread acker([&] {
      uint64_t acked = 0;
      const absl::Time deadline = absl::Now() + absl::Seconds(60);
      while (!done && absl::Now() < deadline) {
        bool all_submitted = false;
        {
          absl::MutexLock l(&mu);
          all_submitted = submitted == round * kThreads;
        }
        uint64_t last = 0;
        for (const PipelineFixture::Flush& fl : f.flushes()) last = std::max(last, fl.position);
        if (all_submitted && last > acked) {
          f.semi_sync()->OnAck("s1", last);
          acked = last;
        }
        absl::SleepFor(absl::Microseconds(200));
      }
    });
    std::vector<std::thread> writers;
    for (int t = 0; t < kThreads; ++t) {
      writers.emplace_back([&, t] {
        {
          absl::MutexLock l(&mu);
          writer_ids.insert(std::this_thread::get_id());
        }
        for (int r = 1; r <= kRounds; ++r) {
          {
            absl::MutexLock l(&mu);
            auto go = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return round >= r; };
            mu.Await(absl::Condition(&go));
          }
          PipelineFixture::Outcome* out = outs[(r - 1) * kThreads + t].get();
          f.Insert(absl::StrCat("t", t, " r", r), out);
          {
            absl::MutexLock l(&mu);
            ++submitted;
          }
          PipelineFixture::ExpectAnsweredOnceAcked(out);
          absl::MutexLock l(&mu);
          ++answered;
        }
      });
    }
    for (int r = 1; r <= kRounds; ++r) {
      ASSERT_TRUE(f.WaitUntilIdle());
      absl::MutexLock l(&mu);
      round = r;
      auto round_done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
        return answered == r * kThreads;
      };
      ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&round_done), absl::Seconds(60)))
          << "round " << r;
    }
    for (std::thread& w : writers) w.join();
    done = true;
    acker.join();

    std::vector<PipelineFixture::Flush> flushes = f.flushes();
    ASSERT_EQ(flushes.size(), static_cast<size_t>(kWrites));
    int led = 0;  // written and sent ahead by a writer thread
    {
      absl::MutexLock l(&mu);
      for (size_t i = 0; i < flushes.size(); ++i) {
        EXPECT_EQ(flushes[i].position, i + 1) << "flush #" << i;
        if (writer_ids.count(flushes[i].thread) > 0) {
          EXPECT_FALSE(flushes[i].durable);
          ++led;
        }
      }
    }
    // At most one write per round leads (the acker holds the round's acks until all its writes
    // are submitted, so none finds the pipeline idle again), and not in the first (nothing is
    // durable yet, so nothing is sent ahead). A lead write is sent ahead only if no other writer
    // queued before its binlog write (else the pipeline is no longer idle), which happens in most
    // rounds.
    EXPECT_LE(led, kRounds - 1);
    EXPECT_GT(led, 0);
    std::set<std::string> contents;
    for (int64_t id = 1; id <= kWrites; ++id) {
      absl::StatusOr<v1::Record> row = f.storage()->GetRecord(id);
      ASSERT_TRUE(row.ok()) << "row " << id << ": " << row.status();
      contents.insert(row->content());
    }
    EXPECT_EQ(contents.size(), static_cast<size_t>(kWrites));
  }
}

}  // namespace
}  // namespace semisync
