// The semi-sync state machine on the master (see semi_sync_master.h).
//
// Everything lives under mu_. A waiter sleeps in Clock::AwaitWithDeadline on the predicate
// "quorum >= pos || OFF || shutdown"; absl re-evaluates it whenever mu_ is released, so acks,
// disconnects and Shutdown() wake exactly the waiters they satisfy, with no condition variable.
#include "server/master/semi_sync_master.h"

#include <algorithm>
#include <functional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace semisync {
namespace {

// Upper bound on remembered flush times: a semi-sync slave that stops acking while connected must
// not make the deque grow without limit.
constexpr size_t kMaxFlushTimes = 100000;

uint64_t ToMicros(absl::Duration d) {
  const int64_t us = absl::ToInt64Microseconds(d);
  return us > 0 ? static_cast<uint64_t>(us) : 0;
}

}  // namespace

const char* WaitPointName(WaitPoint p) {
  switch (p) {
    case WaitPoint::kAfterSync:
      return "AFTER_SYNC";
    case WaitPoint::kAfterCommit:
      return "AFTER_COMMIT";
  }
  return "UNKNOWN";
}

SemiSyncMaster::SemiSyncMaster(const SemiSyncOptions& options, Clock* clock)
    : options_(options), clock_(clock) {
  CHECK(clock_ != nullptr);
  CHECK_GE(options_.wait_for_slave_count, 1) << "wait_for_slave_count must be at least 1";
  {
    absl::MutexLock l(&mu_);
    // With wait_no_slave=false semi-sync starts OFF: no slave is connected yet. It switches ON
    // when enough semi-sync slaves have connected and caught up (MaybeSwitchOnLocked).
    on_ = options_.enabled && options_.wait_no_slave;
  }
  clock_->RegisterMutex(&mu_);
  LOG(INFO) << "semi-sync master: " << (options_.enabled ? "enabled" : "disabled")
            << ", status " << (options_.enabled && options_.wait_no_slave ? "ON" : "OFF")
            << ", timeout " << options_.timeout << ", wait_for_slave_count "
            << options_.wait_for_slave_count << ", wait_no_slave "
            << (options_.wait_no_slave ? "ON" : "OFF") << ", wait_point "
            << WaitPointName(options_.wait_point);
}

SemiSyncMaster::~SemiSyncMaster() { clock_->UnregisterMutex(&mu_); }

void SemiSyncMaster::SlaveConnected(const std::string& slave_id, bool semi_sync) {
  absl::MutexLock l(&mu_);
  SlaveState& slave = slaves_[slave_id];
  slave.semi_sync = semi_sync;
  ++slave.connections;
  LOG(INFO) << "semi-sync master: slave " << slave_id << " connected ("
            << (semi_sync ? "semi-sync" : "async") << ", acked " << slave.acked << "), "
            << ConnectedSemiSyncSlavesLocked() << " semi-sync slave(s) connected";
  MaybeSwitchOnLocked();
}

void SemiSyncMaster::SlaveDisconnected(const std::string& slave_id) {
  absl::MutexLock l(&mu_);
  auto it = slaves_.find(slave_id);
  if (it == slaves_.end() || it->second.connections == 0) {
    LOG(WARNING) << "semi-sync master: disconnect of slave " << slave_id
                 << " that is not connected; ignored";
    return;
  }
  --it->second.connections;
  const int connected = ConnectedSemiSyncSlavesLocked();
  LOG(INFO) << "semi-sync master: slave " << slave_id << " disconnected, " << connected
            << " semi-sync slave(s) connected";
  if (!options_.wait_no_slave && on_ && connected < options_.wait_for_slave_count) {
    SwitchOffLocked(absl::StrCat("only ", connected, " semi-sync slave(s) connected, ",
                                 options_.wait_for_slave_count,
                                 " required (wait_no_slave=OFF)")
                        .c_str());
  }
  if (connected == 0) flush_times_.clear();  // nobody left to measure net waits against
}

void SemiSyncMaster::OnAck(const std::string& slave_id, uint64_t received_position) {
  uint64_t quorum = 0;
  {
    absl::MutexLock l(&mu_);
    const uint64_t before = QuorumPositionLocked();
    OnAckLocked(slave_id, received_position);
    quorum = QuorumPositionLocked();
    if (quorum <= before) return;
    for (Waiter* w : waiters_) {
      if (w->pos <= quorum) CountAckedLocked(w);
    }
  }
  absl::ReaderMutexLock l(&listener_mu_);
  if (listener_) listener_(quorum);
}

void SemiSyncMaster::SetAckListener(std::function<void(uint64_t quorum)> listener) {
  absl::MutexLock l(&listener_mu_);
  listener_ = std::move(listener);
}

void SemiSyncMaster::OnAckLocked(const std::string& slave_id, uint64_t received_position) {
  auto it = slaves_.find(slave_id);
  if (it == slaves_.end()) {
    LOG_EVERY_N(WARNING, 100) << "semi-sync master: ack " << received_position
                              << " from unknown slave " << slave_id << "; ignored";
    return;
  }
  SlaveState& slave = it->second;
  if (received_position <= slave.acked) {
    VLOG(2) << "semi-sync master: stale ack " << received_position << " from slave " << slave_id
            << " (already acked " << slave.acked << ")";
    return;
  }
  const uint64_t previous = slave.acked;
  slave.acked = received_position;
  VLOG(2) << "semi-sync master: slave " << slave_id << " acked " << received_position;
  if (!slave.semi_sync) return;

  // net_wait: time from the flush of the newest group this ack covers for the first time.
  auto after = std::upper_bound(
      flush_times_.begin(), flush_times_.end(), received_position,
      [](uint64_t pos, const std::pair<uint64_t, absl::Time>& f) { return pos < f.first; });
  if (after != flush_times_.begin() && std::prev(after)->first > previous) {
    ++counters_.net_waits;
    counters_.net_wait_time_us += ToMicros(clock_->Now() - std::prev(after)->second);
  }
  // Forget flushes every connected semi-sync slave has acked.
  uint64_t min_acked = received_position;
  for (const auto& [id, s] : slaves_) {
    if (s.semi_sync && s.connections > 0) min_acked = std::min(min_acked, s.acked);
  }
  while (!flush_times_.empty() && flush_times_.front().first <= min_acked) {
    flush_times_.pop_front();
  }
  MaybeSwitchOnLocked();
}

void SemiSyncMaster::OnBinlogFlushed(uint64_t pos) {
  absl::MutexLock l(&mu_);
  if (pos <= binlog_end_) return;
  binlog_end_ = pos;
  if (ConnectedSemiSyncSlavesLocked() > 0) {
    flush_times_.emplace_back(pos, clock_->Now());
    if (flush_times_.size() > kMaxFlushTimes) flush_times_.pop_front();
  }
  MaybeSwitchOnLocked();
}

SemiSyncMaster::WaitResult SemiSyncMaster::WaitForAck(uint64_t pos, int num_tx) {
  DCHECK_GE(num_tx, 0);
  const uint64_t txs = static_cast<uint64_t>(std::max(num_tx, 0));
  absl::MutexLock l(&mu_);
  if (!options_.enabled) return WaitResult::kAsync;  // MySQL counts nothing when disabled
  if (!on_) {
    counters_.no_tx += txs;
    return WaitResult::kAsync;
  }
  if (QuorumPositionLocked() >= pos) {  // already acknowledged: no wait, as in MySQL
    counters_.yes_tx += txs;
    return WaitResult::kAcked;
  }
  if (shutdown_) return WaitResult::kShutdown;

  if (pos < max_wait_pos_) {
    ++counters_.wait_pos_backtraverse;
  } else {
    max_wait_pos_ = pos;
  }
  Waiter me{pos, txs, clock_->Now(), false};
  const absl::Time deadline = me.start + options_.timeout;
  ++counters_.wait_sessions;
  waiters_.push_back(&me);
  auto released = [this, pos]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return shutdown_ || !on_ || QuorumPositionLocked() >= pos;
  };
  clock_->AwaitWithDeadline(&mu_, absl::Condition(&released), deadline);
  --counters_.wait_sessions;
  waiters_.erase(std::find(waiters_.begin(), waiters_.end(), &me));

  if (me.counted || QuorumPositionLocked() >= pos) {
    CountAckedLocked(&me);
    return WaitResult::kAcked;
  }
  if (shutdown_) return WaitResult::kShutdown;
  if (on_) {
    // Timed out while ON: this waiter turns semi-sync OFF, which releases every other waiter.
    LOG(WARNING) << "semi-sync master: timeout after " << options_.timeout
                 << " waiting for an ack of binlog position " << pos << " (quorum position "
                 << QuorumPositionLocked() << ", binlog end " << binlog_end_ << ")";
    SwitchOffLocked(absl::StrCat("ack timeout at position ", pos).c_str());
  }
  counters_.no_tx += txs;
  return WaitResult::kAsync;
}

void SemiSyncMaster::CountAckedLocked(Waiter* w) {
  if (w->counted) return;
  w->counted = true;
  counters_.yes_tx += w->txs;
  ++counters_.tx_waits;
  counters_.tx_wait_time_us += ToMicros(clock_->Now() - w->start);
}

void SemiSyncMaster::Shutdown() {
  absl::MutexLock l(&mu_);
  if (shutdown_) return;
  shutdown_ = true;
  LOG(INFO) << "semi-sync master: shutting down, releasing " << counters_.wait_sessions
            << " waiter(s)";
}

bool SemiSyncMaster::IsOn() const {
  absl::MutexLock l(&mu_);
  return on_;
}

uint64_t SemiSyncMaster::QuorumPosition() const {
  absl::MutexLock l(&mu_);
  return QuorumPositionLocked();
}

SemiSyncCountersSnapshot SemiSyncMaster::Counters() const {
  absl::MutexLock l(&mu_);
  SemiSyncCountersSnapshot c = counters_;
  c.clients = static_cast<uint32_t>(ConnectedSemiSyncSlavesLocked());
  c.status = on_;
  c.tx_avg_wait_time_us = c.tx_waits == 0 ? 0 : c.tx_wait_time_us / c.tx_waits;
  c.net_avg_wait_time_us = c.net_waits == 0 ? 0 : c.net_wait_time_us / c.net_waits;
  return c;
}

uint64_t SemiSyncMaster::QuorumPositionLocked() const {
  const size_t n = static_cast<size_t>(options_.wait_for_slave_count);
  // Few slaves: a small vector and a partial sort beat maintaining an order statistic.
  std::vector<uint64_t> acked;
  acked.reserve(slaves_.size());
  for (const auto& [id, s] : slaves_) {
    if (s.semi_sync) acked.push_back(s.acked);
  }
  if (acked.size() < n) return 0;
  std::nth_element(acked.begin(), acked.begin() + (n - 1), acked.end(), std::greater<uint64_t>());
  return acked[n - 1];
}

int SemiSyncMaster::ConnectedSemiSyncSlavesLocked() const {
  int n = 0;
  for (const auto& [id, s] : slaves_) {
    if (s.semi_sync && s.connections > 0) ++n;
  }
  return n;
}

void SemiSyncMaster::SwitchOffLocked(const char* reason) {
  if (!on_) return;
  on_ = false;
  ++counters_.no_times;
  LOG(WARNING) << "semi-sync master: switched OFF (" << reason << "); transactions commit "
               << "asynchronously until the slaves catch up to binlog position " << binlog_end_;
}

void SemiSyncMaster::MaybeSwitchOnLocked() {
  if (!options_.enabled || on_ || shutdown_) return;
  if (!options_.wait_no_slave && ConnectedSemiSyncSlavesLocked() < options_.wait_for_slave_count) {
    return;
  }
  const uint64_t quorum = QuorumPositionLocked();
  if (quorum < binlog_end_) return;
  on_ = true;
  LOG(INFO) << "semi-sync master: switched ON (quorum position " << quorum
            << " reached binlog end " << binlog_end_ << ")";
}

}  // namespace semisync
