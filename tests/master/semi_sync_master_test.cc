#include "server/master/semi_sync_master.h"

#include <functional>
#include <memory>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "gtest/gtest.h"

namespace semisync {
namespace {

using WaitResult = SemiSyncMaster::WaitResult;

constexpr absl::Duration kTimeout = absl::Seconds(10);

// Polls `pred` in real time until it holds or a generous deadline passes. Only used to learn that
// a waiter thread has gone to sleep inside WaitForAck; time in the tests is the FakeClock's.
bool WaitUntil(const std::function<bool()>& pred) {
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (!pred()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

// Runs WaitForAck(pos, num_tx) on its own thread.
class Waiter {
 public:
  Waiter(SemiSyncMaster* master, uint64_t pos, int num_tx = 1)
      : thread_([this, master, pos, num_tx] {
          WaitResult r = master->WaitForAck(pos, num_tx);
          absl::MutexLock l(&mu_);
          result_ = r;
          done_ = true;
        }) {}
  ~Waiter() {
    if (thread_.joinable()) thread_.join();
  }
  WaitResult Join() {
    thread_.join();
    absl::MutexLock l(&mu_);
    return result_;
  }
  bool done() {
    absl::MutexLock l(&mu_);
    return done_;
  }

 private:
  absl::Mutex mu_;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  WaitResult result_ ABSL_GUARDED_BY(mu_) = WaitResult::kShutdown;
  std::thread thread_;  // last: starts after the fields it writes exist
};

class SemiSyncMasterTest : public ::testing::Test {
 protected:
  void Start(SemiSyncOptions options) {
    options.timeout = kTimeout;
    master_ = std::make_unique<SemiSyncMaster>(options, &clock_);
  }
  void Start() { Start(SemiSyncOptions()); }

  // Returns once `n` transactions are asleep in WaitForAck.
  void AwaitSessions(uint32_t n) {
    ASSERT_TRUE(WaitUntil([&] { return master_->Counters().wait_sessions == n; }))
        << "expected " << n << " waiting sessions, have " << master_->Counters().wait_sessions;
  }

  // Puts the master OFF by letting a wait on `pos` time out.
  void TimeOut(uint64_t pos) {
    master_->OnBinlogFlushed(pos);
    Waiter w(master_.get(), pos);
    AwaitSessions(1);
    clock_.Advance(kTimeout + absl::Milliseconds(1));
    ASSERT_EQ(w.Join(), WaitResult::kAsync);
    ASSERT_FALSE(master_->IsOn());
  }

  FakeClock clock_;
  std::unique_ptr<SemiSyncMaster> master_;
};

TEST_F(SemiSyncMasterTest, WaitReturnsAckedWhenSlaveAcks) {
  Start();
  master_->SlaveConnected("s1", true);
  master_->OnBinlogFlushed(100);
  Waiter w(master_.get(), 100, 3);
  AwaitSessions(1);
  master_->OnAck("s1", 100);
  EXPECT_EQ(w.Join(), WaitResult::kAcked);
  SemiSyncCountersSnapshot c = master_->Counters();
  EXPECT_EQ(c.yes_tx, 3u);
  EXPECT_EQ(c.no_tx, 0u);
  EXPECT_EQ(c.tx_waits, 1u);
  EXPECT_EQ(c.wait_sessions, 0u);
  EXPECT_EQ(c.clients, 1u);
  EXPECT_TRUE(c.status);
}

TEST_F(SemiSyncMasterTest, AlreadyAckedPositionDoesNotWait) {
  Start();
  master_->SlaveConnected("s1", true);
  master_->OnBinlogFlushed(100);
  master_->OnAck("s1", 150);
  EXPECT_EQ(master_->WaitForAck(100, 1), WaitResult::kAcked);
  SemiSyncCountersSnapshot c = master_->Counters();
  EXPECT_EQ(c.yes_tx, 1u);
  EXPECT_EQ(c.tx_waits, 0u);  // MySQL counts only transactions that actually slept
}

TEST_F(SemiSyncMasterTest, TimeoutSwitchesOffAndCountsNoTx) {
  Start();
  master_->SlaveConnected("s1", true);
  master_->OnBinlogFlushed(100);
  Waiter w(master_.get(), 100, 2);
  AwaitSessions(1);
  clock_.Advance(kTimeout - absl::Milliseconds(1));
  clock_.Advance(absl::Milliseconds(1));
  EXPECT_EQ(w.Join(), WaitResult::kAsync);
  EXPECT_FALSE(master_->IsOn());
  SemiSyncCountersSnapshot c = master_->Counters();
  EXPECT_FALSE(c.status);
  EXPECT_EQ(c.no_times, 1u);
  EXPECT_EQ(c.no_tx, 2u);
  EXPECT_EQ(c.yes_tx, 0u);
  EXPECT_EQ(c.tx_waits, 0u);
  EXPECT_EQ(c.wait_sessions, 0u);
}

TEST_F(SemiSyncMasterTest, TimeoutReleasesOtherWaitersAsync) {
  Start();
  master_->SlaveConnected("s1", true);
  master_->OnBinlogFlushed(100);
  Waiter first(master_.get(), 100);
  AwaitSessions(1);
  clock_.Advance(absl::Seconds(5));
  master_->OnBinlogFlushed(200);
  Waiter second(master_.get(), 200);
  AwaitSessions(2);
  clock_.Advance(absl::Seconds(5));  // only the first wait's deadline has passed
  EXPECT_EQ(first.Join(), WaitResult::kAsync);
  EXPECT_EQ(second.Join(), WaitResult::kAsync);  // released because semi-sync is OFF
  SemiSyncCountersSnapshot c = master_->Counters();
  EXPECT_EQ(c.no_times, 1u);
  EXPECT_EQ(c.no_tx, 2u);
}

TEST_F(SemiSyncMasterTest, WhileOffWritesDoNotWait) {
  Start();
  master_->SlaveConnected("s1", true);
  TimeOut(100);
  master_->OnBinlogFlushed(200);
  // Runs on the test thread: a wait would hang here (there is nobody to advance the clock).
  EXPECT_EQ(master_->WaitForAck(200, 4), WaitResult::kAsync);
  SemiSyncCountersSnapshot c = master_->Counters();
  EXPECT_EQ(c.no_tx, 5u);
  EXPECT_EQ(c.no_times, 1u);
  EXPECT_EQ(c.tx_waits, 0u);
}

TEST_F(SemiSyncMasterTest, AckReachingBinlogEndSwitchesBackOn) {
  Start();
  master_->SlaveConnected("s1", true);
  TimeOut(100);
  master_->OnBinlogFlushed(200);
  master_->OnAck("s1", 200);
  EXPECT_TRUE(master_->IsOn());
  EXPECT_EQ(master_->Counters().no_times, 1u);
  // ON again: the next group waits for its ack.
  master_->OnBinlogFlushed(300);
  Waiter w(master_.get(), 300);
  AwaitSessions(1);
  master_->OnAck("s1", 300);
  EXPECT_EQ(w.Join(), WaitResult::kAcked);
}

TEST_F(SemiSyncMasterTest, AckBelowBinlogEndStaysOff) {
  Start();
  master_->SlaveConnected("s1", true);
  TimeOut(100);
  master_->OnBinlogFlushed(200);
  master_->OnAck("s1", 100);
  master_->OnAck("s1", 199);
  EXPECT_FALSE(master_->IsOn());
  EXPECT_EQ(master_->QuorumPosition(), 199u);
  EXPECT_EQ(master_->WaitForAck(150, 1), WaitResult::kAsync);
}

TEST_F(SemiSyncMasterTest, NeedsAcksFromNDistinctSlaves) {
  SemiSyncOptions options;
  options.wait_for_slave_count = 2;
  Start(options);
  master_->SlaveConnected("s1", true);
  master_->SlaveConnected("s2", true);
  master_->OnBinlogFlushed(100);
  Waiter w(master_.get(), 100);
  AwaitSessions(1);
  master_->OnAck("s1", 100);
  master_->OnAck("s1", 100);
  master_->OnAck("s1", 150);
  EXPECT_EQ(master_->QuorumPosition(), 0u);
  // One slave acking repeatedly is not a quorum of two: the wait times out.
  clock_.Advance(kTimeout);
  EXPECT_EQ(w.Join(), WaitResult::kAsync);
  EXPECT_FALSE(master_->IsOn());

  master_->OnAck("s2", 120);
  EXPECT_EQ(master_->QuorumPosition(), 120u);  // the 2nd highest of {150, 120}
  EXPECT_TRUE(master_->IsOn());
  EXPECT_EQ(master_->WaitForAck(120, 1), WaitResult::kAcked);

  master_->OnBinlogFlushed(200);
  Waiter w2(master_.get(), 200);
  AwaitSessions(1);
  master_->OnAck("s2", 200);
  master_->OnAck("s1", 200);
  EXPECT_EQ(w2.Join(), WaitResult::kAcked);
}

TEST_F(SemiSyncMasterTest, NonSemiSyncSlaveAcksDoNotCount) {
  Start();
  master_->SlaveConnected("async", false);
  master_->OnBinlogFlushed(100);
  Waiter w(master_.get(), 100);
  AwaitSessions(1);
  master_->OnAck("async", 100);
  EXPECT_EQ(master_->QuorumPosition(), 0u);
  EXPECT_EQ(master_->Counters().clients, 0u);
  clock_.Advance(kTimeout);
  EXPECT_EQ(w.Join(), WaitResult::kAsync);
  EXPECT_FALSE(master_->IsOn());
  // Reconnecting as semi-sync makes its (kept) ack count and switches semi-sync back ON.
  master_->SlaveDisconnected("async");
  master_->SlaveConnected("async", true);
  EXPECT_EQ(master_->QuorumPosition(), 100u);
  EXPECT_TRUE(master_->IsOn());
}

TEST_F(SemiSyncMasterTest, AckFromUnknownSlaveIsIgnored) {
  Start();
  master_->OnAck("stranger", 100);
  master_->SlaveConnected("stranger", true);
  EXPECT_EQ(master_->QuorumPosition(), 0u);
}

TEST_F(SemiSyncMasterTest, WaitNoSlaveOffSwitchesOffWhenSlavesDisconnect) {
  SemiSyncOptions options;
  options.wait_no_slave = false;
  Start(options);
  EXPECT_FALSE(master_->IsOn());  // no slave yet
  EXPECT_EQ(master_->WaitForAck(0, 1), WaitResult::kAsync);
  master_->SlaveConnected("s1", true);
  EXPECT_TRUE(master_->IsOn());
  master_->OnBinlogFlushed(100);
  Waiter w(master_.get(), 100);
  AwaitSessions(1);
  master_->SlaveDisconnected("s1");
  EXPECT_EQ(w.Join(), WaitResult::kAsync);  // released without any clock movement
  EXPECT_FALSE(master_->IsOn());
  SemiSyncCountersSnapshot c = master_->Counters();
  EXPECT_EQ(c.no_times, 1u);
  EXPECT_EQ(c.no_tx, 2u);
  EXPECT_EQ(c.clients, 0u);
  // Back ON only when connected and caught up.
  master_->SlaveConnected("s1", true);
  EXPECT_FALSE(master_->IsOn());
  master_->OnAck("s1", 100);
  EXPECT_TRUE(master_->IsOn());
}

TEST_F(SemiSyncMasterTest, WaitNoSlaveOffNeedsNConnectedSlaves) {
  SemiSyncOptions options;
  options.wait_no_slave = false;
  options.wait_for_slave_count = 2;
  Start(options);
  master_->SlaveConnected("s1", true);
  master_->SlaveConnected("async", false);
  EXPECT_FALSE(master_->IsOn());
  master_->SlaveConnected("s2", true);
  EXPECT_TRUE(master_->IsOn());
}

TEST_F(SemiSyncMasterTest, WaitNoSlaveOnKeepsWaitingWithoutSlaves) {
  Start();  // wait_no_slave defaults to true
  EXPECT_TRUE(master_->IsOn());
  master_->SlaveConnected("s1", true);
  master_->SlaveDisconnected("s1");
  EXPECT_TRUE(master_->IsOn());
  EXPECT_EQ(master_->Counters().clients, 0u);
  master_->OnBinlogFlushed(100);
  Waiter w(master_.get(), 100);
  AwaitSessions(1);
  clock_.Advance(kTimeout - absl::Milliseconds(1));
  // Still waiting; the slave comes back and acks before the deadline.
  master_->SlaveConnected("s1", true);
  master_->OnAck("s1", 100);
  EXPECT_EQ(w.Join(), WaitResult::kAcked);
  EXPECT_TRUE(master_->IsOn());
  EXPECT_EQ(master_->Counters().no_times, 0u);
}

TEST_F(SemiSyncMasterTest, AckedPositionIsKeptAcrossReconnects) {
  Start();
  master_->SlaveConnected("s1", true);
  master_->OnAck("s1", 100);
  master_->SlaveDisconnected("s1");
  EXPECT_EQ(master_->QuorumPosition(), 100u);
  master_->SlaveConnected("s1", true);
  master_->OnAck("s1", 50);
  EXPECT_EQ(master_->QuorumPosition(), 100u);
}

TEST_F(SemiSyncMasterTest, DisabledNeverWaits) {
  SemiSyncOptions options;
  options.enabled = false;
  Start(options);
  EXPECT_FALSE(master_->IsOn());
  master_->SlaveConnected("s1", true);
  master_->OnBinlogFlushed(100);
  master_->OnAck("s1", 100);
  EXPECT_FALSE(master_->IsOn());
  master_->OnBinlogFlushed(200);
  EXPECT_EQ(master_->WaitForAck(200, 5), WaitResult::kAsync);
  SemiSyncCountersSnapshot c = master_->Counters();
  EXPECT_EQ(c.yes_tx, 0u);
  EXPECT_EQ(c.no_tx, 0u);  // MySQL counts nothing while disabled
  EXPECT_EQ(c.no_times, 0u);
  EXPECT_FALSE(c.status);
}

TEST_F(SemiSyncMasterTest, ShutdownReleasesWaiters) {
  Start();
  master_->SlaveConnected("s1", true);
  master_->OnBinlogFlushed(200);
  Waiter a(master_.get(), 100);
  Waiter b(master_.get(), 200);
  AwaitSessions(2);
  master_->Shutdown();
  EXPECT_EQ(a.Join(), WaitResult::kShutdown);
  EXPECT_EQ(b.Join(), WaitResult::kShutdown);
  EXPECT_EQ(master_->WaitForAck(300, 1), WaitResult::kShutdown);
  master_->Shutdown();  // idempotent
  SemiSyncCountersSnapshot c = master_->Counters();
  EXPECT_EQ(c.wait_sessions, 0u);
  EXPECT_EQ(c.no_times, 0u);
}

TEST_F(SemiSyncMasterTest, CountersAverages) {
  Start();
  master_->SlaveConnected("s1", true);

  master_->OnBinlogFlushed(100);
  Waiter w1(master_.get(), 100);
  AwaitSessions(1);
  clock_.Advance(absl::Milliseconds(2));
  master_->OnAck("s1", 100);
  ASSERT_EQ(w1.Join(), WaitResult::kAcked);

  master_->OnBinlogFlushed(200);
  Waiter w2(master_.get(), 200);
  AwaitSessions(1);
  clock_.Advance(absl::Milliseconds(4));
  master_->OnAck("s1", 200);
  ASSERT_EQ(w2.Join(), WaitResult::kAcked);

  SemiSyncCountersSnapshot c = master_->Counters();
  EXPECT_EQ(c.tx_waits, 2u);
  EXPECT_EQ(c.tx_wait_time_us, 6000u);
  EXPECT_EQ(c.tx_avg_wait_time_us, 3000u);
  EXPECT_EQ(c.net_waits, 2u);
  EXPECT_EQ(c.net_wait_time_us, 6000u);
  EXPECT_EQ(c.net_avg_wait_time_us, 3000u);
  EXPECT_EQ(c.yes_tx, 2u);
}

TEST_F(SemiSyncMasterTest, NetWaitMeasuresNewestFlushCoveredByAck) {
  Start();
  master_->SlaveConnected("s1", true);
  master_->OnBinlogFlushed(100);
  clock_.Advance(absl::Milliseconds(1));
  master_->OnBinlogFlushed(200);
  clock_.Advance(absl::Milliseconds(3));
  master_->OnAck("s1", 250);  // covers 100 and 200; measured from 200's flush
  master_->OnAck("s1", 260);  // covers no new flush
  SemiSyncCountersSnapshot c = master_->Counters();
  EXPECT_EQ(c.net_waits, 1u);
  EXPECT_EQ(c.net_wait_time_us, 3000u);
}

TEST_F(SemiSyncMasterTest, WaitPosBacktraverseCounted) {
  Start();
  master_->SlaveConnected("s1", true);
  master_->OnBinlogFlushed(200);
  Waiter high(master_.get(), 200);
  AwaitSessions(1);
  Waiter low(master_.get(), 100);
  AwaitSessions(2);
  EXPECT_EQ(master_->Counters().wait_pos_backtraverse, 1u);
  master_->OnAck("s1", 200);
  EXPECT_EQ(high.Join(), WaitResult::kAcked);
  EXPECT_EQ(low.Join(), WaitResult::kAcked);
  EXPECT_EQ(master_->Counters().yes_tx, 2u);
}

// The ack listener answers writes on the acking thread: by then the ack has counted the waiting
// group as acknowledged, so a status read after the answer includes it.
TEST_F(SemiSyncMasterTest, AckListenerSeesTheReleasedGroupCounted) {
  Start();
  master_->SlaveConnected("s1", true);
  master_->OnBinlogFlushed(100);
  uint64_t yes_seen = 0;
  uint64_t waits_seen = 0;
  master_->SetAckListener([&](uint64_t) {
    SemiSyncCountersSnapshot c = master_->Counters();
    yes_seen = c.yes_tx;
    waits_seen = c.tx_waits;
  });
  Waiter w(master_.get(), 100);
  AwaitSessions(1);
  master_->OnAck("s1", 100);
  EXPECT_EQ(yes_seen, 1u);
  EXPECT_EQ(waits_seen, 1u);
  EXPECT_EQ(w.Join(), WaitResult::kAcked);
  EXPECT_EQ(master_->Counters().yes_tx, 1u);  // counted once, not again on waking
  EXPECT_EQ(master_->Counters().tx_waits, 1u);
  master_->SetAckListener(nullptr);
}

TEST_F(SemiSyncMasterTest, StaleAckIgnored) {
  Start();
  master_->SlaveConnected("s1", true);
  master_->OnBinlogFlushed(100);
  master_->OnBinlogFlushed(200);
  master_->OnAck("s1", 200);
  master_->OnAck("s1", 100);
  master_->OnAck("s1", 200);
  EXPECT_EQ(master_->QuorumPosition(), 200u);
  EXPECT_EQ(master_->Counters().net_waits, 1u);
  master_->OnBinlogFlushed(300);
  Waiter w(master_.get(), 300);
  AwaitSessions(1);
  master_->OnAck("s1", 150);  // lower than before: must not move the slave backwards or wake
  EXPECT_EQ(master_->QuorumPosition(), 200u);
  master_->OnAck("s1", 300);
  EXPECT_EQ(w.Join(), WaitResult::kAcked);
}

TEST(WaitPointNameTest, MySqlNames) {
  EXPECT_STREQ(WaitPointName(WaitPoint::kAfterSync), "AFTER_SYNC");
  EXPECT_STREQ(WaitPointName(WaitPoint::kAfterCommit), "AFTER_COMMIT");
}

}  // namespace
}  // namespace semisync
