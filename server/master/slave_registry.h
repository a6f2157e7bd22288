// SlaveRegistry: what the master knows about each slave for status and metrics: address, whether a
// binlog stream is open, acked and applied positions, last ack time and the applied event's commit
// time (for lag in seconds). Semi-sync decisions are not made here (see SemiSyncMaster).
//
// Thread-safety: all methods are thread-safe.
#ifndef SEMISYNC_SERVER_MASTER_SLAVE_REGISTRY_H_
#define SEMISYNC_SERVER_MASTER_SLAVE_REGISTRY_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "semisync/v1/replication.pb.h"

namespace semisync {

class SlaveRegistry {
 public:
  // Registers or re-registers (address and semi_sync flag are updated).
  void Register(const std::string& slave_id, const std::string& address, bool semi_sync);
  // FailedPrecondition when the slave never registered.
  absl::Status CheckRegistered(const std::string& slave_id) const;
  bool IsSemiSync(const std::string& slave_id) const;
  void StreamOpened(const std::string& slave_id);
  // An asynchronous (non-semi-sync) slave is forgotten when its last stream closes; it registers
  // again when it reconnects.
  void StreamClosed(const std::string& slave_id);
  void OnAck(const std::string& slave_id, uint64_t acked, uint64_t applied,
             int64_t applied_timestamp_us, absl::Time now);
  // One SlaveInfo per slave, lag computed against binlog_end and now.
  std::vector<v1::SlaveInfo> Snapshot(uint64_t binlog_end, absl::Time now) const;

 private:
  struct Entry {
    std::string address;
    bool semi_sync = false;
    int streams = 0;
    uint64_t acked = 0;
    uint64_t applied = 0;
    int64_t applied_timestamp_us = 0;
    absl::Time last_ack = absl::InfinitePast();
  };
  mutable absl::Mutex mu_;
  std::map<std::string, Entry> slaves_ ABSL_GUARDED_BY(mu_);
};

}  // namespace semisync

#endif  // SEMISYNC_SERVER_MASTER_SLAVE_REGISTRY_H_
