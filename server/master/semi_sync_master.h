// SemiSyncMaster: MySQL's semi-synchronous replication state machine on the master
// (plugin/semisync/semisync_source.cc semantics, rpl_semi_sync_master_* variables and counters).
//
// - A transaction group whose last binlog position is `pos` waits in WaitForAck(pos) until
//   wait_for_slave_count distinct semi-sync slaves have acknowledged a position >= pos
//   (acknowledged = received and fsynced to their relay log), or until `timeout` after the wait
//   began. On timeout semi-sync switches OFF (warning logged, no_times counted) and the group
//   completes asynchronously. While OFF, transactions do not wait (counted as no_tx).
// - While OFF, acks are still tracked; semi-sync switches back ON by itself as soon as the quorum
//   position (the N-th highest acked position) reaches the binlog end reported by OnBinlogFlushed.
// - wait_no_slave=false: semi-sync switches OFF as soon as fewer than wait_for_slave_count
//   semi-sync slaves are connected (waiters are released), and back ON when enough are connected
//   and caught up.
// - Shutdown() releases every waiter with kShutdown; later waits return kShutdown immediately.
//
// Thread-safety: all methods are thread-safe. The internal mutex is never held while calling out
// (the ack listener runs after it is released).
#ifndef SEMISYNC_SERVER_MASTER_SEMI_SYNC_MASTER_H_
#define SEMISYNC_SERVER_MASTER_SEMI_SYNC_MASTER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace semisync {

enum class WaitPoint { kAfterSync, kAfterCommit };
const char* WaitPointName(WaitPoint p);

struct SemiSyncOptions {
  bool enabled = true;
  absl::Duration timeout = absl::Seconds(10);
  int wait_for_slave_count = 1;
  bool wait_no_slave = true;
  WaitPoint wait_point = WaitPoint::kAfterSync;
};

// A consistent snapshot of the Rpl_semi_sync_master_* counters.
struct SemiSyncCountersSnapshot {
  uint32_t clients = 0;  // connected semi-sync slaves
  bool status = false;   // ON
  uint64_t yes_tx = 0;
  uint64_t no_tx = 0;
  uint64_t no_times = 0;
  uint32_t wait_sessions = 0;
  uint64_t tx_waits = 0;
  uint64_t tx_wait_time_us = 0;
  uint64_t tx_avg_wait_time_us = 0;
  uint64_t net_waits = 0;
  uint64_t net_wait_time_us = 0;
  uint64_t net_avg_wait_time_us = 0;
  uint64_t wait_pos_backtraverse = 0;
};

class SemiSyncMaster {
 public:
  enum class WaitResult { kAcked, kAsync, kShutdown };

  // `clock` must outlive this object.
  SemiSyncMaster(const SemiSyncOptions& options, Clock* clock);
  ~SemiSyncMaster();

  const SemiSyncOptions& options() const { return options_; }

  // A slave's binlog stream opened / closed. A slave may connect several times (reconnects);
  // its acked position is kept across disconnects.
  void SlaveConnected(const std::string& slave_id, bool semi_sync);
  void SlaveDisconnected(const std::string& slave_id);
  // A slave reports the highest position it has fsynced to its relay log. Positions lower than a
  // previous ack from the same slave are ignored, and so are acks from a slave that never
  // connected. Only slaves whose latest connection declared semi_sync count towards the quorum;
  // their acked position keeps counting while they are disconnected.
  // net_waits / net_wait_time: each ack of a semi-sync slave that covers a flushed position for the
  // first time adds the time since the flush of the newest position it covers.
  // Then, when the quorum position moved, calls the ack listener (on the acking thread).
  void OnAck(const std::string& slave_id, uint64_t received_position);
  // `listener(quorum)` runs on the thread that called OnAck, after the quorum position moved to
  // `quorum`, with the internal mutex released: the commit pipeline completes the writes the ack
  // covers right there, sparing a thread wake-up. Empty clears it; a clear waits for a listener
  // call in progress, so whatever it captures may be destroyed once this returns.
  void SetAckListener(std::function<void(uint64_t quorum)> listener);
  // The binlog is durable through `pos` (called before waiting on it).
  void OnBinlogFlushed(uint64_t pos);

  // Waits for `pos` as described above. `num_tx` is the number of transactions in the group
  // (yes_tx / no_tx count transactions). Returns kAsync when semi-sync is disabled or OFF, or on
  // timeout. As in MySQL: nothing is counted while disabled; a group already acknowledged returns
  // kAcked at once and counts in yes_tx but not in tx_waits; a group that sleeps is counted in
  // wait_sessions while asleep and in tx_waits / tx_wait_time when acked (by the OnAck that
  // releases it, before the ack listener runs); a wait on a position below the highest position
  // waited on before counts in wait_pos_backtraverse.
  WaitResult WaitForAck(uint64_t pos, int num_tx);

  void Shutdown();

  bool IsOn() const;
  // Highest position acknowledged by wait_for_slave_count distinct semi-sync slaves (0 if none).
  uint64_t QuorumPosition() const;
  SemiSyncCountersSnapshot Counters() const;

 private:
  struct SlaveState {
    bool semi_sync = false;
    int connections = 0;
    uint64_t acked = 0;
  };
  // A WaitForAck asleep on `pos`. It is counted as acknowledged (yes_tx, tx_waits) by the OnAck
  // whose quorum covers it, before the ack listener runs, so that a write answered by the
  // listener is already in the counters; or on waking, when something else released it.
  struct Waiter {
    uint64_t pos = 0;
    uint64_t txs = 0;
    absl::Time start;
    bool counted = false;
  };
  void CountAckedLocked(Waiter* w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  void OnAckLocked(const std::string& slave_id, uint64_t received_position)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint64_t QuorumPositionLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int ConnectedSemiSyncSlavesLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SwitchOffLocked(const char* reason) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Switches ON when the conditions to be ON hold again.
  void MaybeSwitchOnLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const SemiSyncOptions options_;
  Clock* const clock_;

  mutable absl::Mutex mu_;
  bool on_ ABSL_GUARDED_BY(mu_);
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t binlog_end_ ABSL_GUARDED_BY(mu_) = 0;
  // Highest position a transaction has waited on, for wait_pos_backtraverse.
  uint64_t max_wait_pos_ ABSL_GUARDED_BY(mu_) = 0;
  // The WaitForAck calls asleep now (on their stacks).
  std::vector<Waiter*> waiters_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, SlaveState> slaves_ ABSL_GUARDED_BY(mu_);
  // Flush times of recent binlog positions not yet acked, for net_wait_time.
  std::deque<std::pair<uint64_t, absl::Time>> flush_times_ ABSL_GUARDED_BY(mu_);
  SemiSyncCountersSnapshot counters_ ABSL_GUARDED_BY(mu_);

  // Held (shared) while the listener runs, exclusively while it is replaced.
  absl::Mutex listener_mu_;
  std::function<void(uint64_t)> listener_ ABSL_GUARDED_BY(listener_mu_);
};

}  // namespace semisync

#endif  // SEMISYNC_SERVER_MASTER_SEMI_SYNC_MASTER_H_
