// SlaveRegistry (see slave_registry.h).
#include "server/master/slave_registry.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace semisync {

void SlaveRegistry::Register(const std::string& slave_id, const std::string& address,
                             bool semi_sync) {
  absl::MutexLock l(&mu_);
  Entry& e = slaves_[slave_id];
  e.address = address;
  e.semi_sync = semi_sync;
}

absl::Status SlaveRegistry::CheckRegistered(const std::string& slave_id) const {
  absl::MutexLock l(&mu_);
  if (slaves_.count(slave_id) == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("slave '", slave_id, "' is not registered: call RegisterSlave first"));
  }
  return absl::OkStatus();
}

bool SlaveRegistry::IsSemiSync(const std::string& slave_id) const {
  absl::MutexLock l(&mu_);
  auto it = slaves_.find(slave_id);
  return it != slaves_.end() && it->second.semi_sync;
}

void SlaveRegistry::StreamOpened(const std::string& slave_id) {
  absl::MutexLock l(&mu_);
  slaves_[slave_id].streams++;
}

void SlaveRegistry::StreamClosed(const std::string& slave_id) {
  absl::MutexLock l(&mu_);
  auto it = slaves_.find(slave_id);
  if (it == slaves_.end()) return;
  Entry& e = it->second;
  e.streams = std::max(0, e.streams - 1);
  // Semi-sync slaves stay listed while away (their acks matter and operators want to see them
  // disconnected); asynchronous readers such as `semisyncctl binlog tail` leave with their stream.
  if (e.streams == 0 && !e.semi_sync) slaves_.erase(it);
}

void SlaveRegistry::OnAck(const std::string& slave_id, uint64_t acked, uint64_t applied,
                          int64_t applied_timestamp_us, absl::Time now) {
  absl::MutexLock l(&mu_);
  Entry& e = slaves_[slave_id];
  e.acked = std::max(e.acked, acked);
  if (applied >= e.applied) {
    e.applied = applied;
    e.applied_timestamp_us = applied_timestamp_us;
  }
  e.last_ack = now;
}

std::vector<v1::SlaveInfo> SlaveRegistry::Snapshot(uint64_t binlog_end, absl::Time now) const {
  absl::MutexLock l(&mu_);
  std::vector<v1::SlaveInfo> out;
  out.reserve(slaves_.size());
  for (const auto& [id, e] : slaves_) {
    v1::SlaveInfo& info = out.emplace_back();
    info.set_slave_id(id);
    info.set_address(e.address);
    info.set_connected(e.streams > 0);
    info.set_semi_sync(e.semi_sync);
    info.set_acked_position(e.acked);
    info.set_applied_position(e.applied);
    info.set_lag_events(binlog_end > e.applied ? binlog_end - e.applied : 0);
    double lag_s = 0;
    if (binlog_end > e.applied && e.applied_timestamp_us > 0) {
      lag_s = std::max(0.0, absl::ToDoubleSeconds(
                                now - absl::FromUnixMicros(e.applied_timestamp_us)));
    }
    info.set_lag_seconds(lag_s);
    info.set_last_ack_time_us(e.last_ack == absl::InfinitePast() ? 0
                                                                 : absl::ToUnixMicros(e.last_ack));
  }
  return out;
}

}  // namespace semisync
