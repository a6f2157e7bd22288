// Binlog (see binlog.h).
#include "server/master/binlog.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace semisync {

std::string ExecutedGtidSet(const std::string& uuid, uint64_t end) {
  if (end == 0) return "";
  if (end == 1) return absl::StrCat(uuid, ":1");
  return absl::StrCat(uuid, ":1-", end);
}

absl::Status BinlogReader::Read(uint64_t limit, size_t max_events, size_t max_bytes,
                                std::vector<v1::BinlogEvent>* out) {
  records_.clear();
  RETURN_IF_ERROR(reader_->Read(limit, max_events, max_bytes, &records_));
  for (const LogRecord& r : records_) {
    v1::BinlogEvent& e = out->emplace_back();
    if (!e.ParseFromString(r.payload) || e.position() != r.position) {
      return absl::DataLossError(
          absl::StrCat("binlog record at position ", r.position, " is not a valid event"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Binlog>> Binlog::Open(const LogOptions& options) {
  ASSIGN_OR_RETURN(std::unique_ptr<SegmentedLog> log, SegmentedLog::Open(options));
  return std::unique_ptr<Binlog>(new Binlog(std::move(log)));
}

Binlog::Binlog(std::unique_ptr<SegmentedLog> log) : log_(std::move(log)) {
  end_ = log_->DurablePosition();
}

absl::Status Binlog::Append(const std::vector<v1::BinlogEvent>& events) {
  scratch_.resize(events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    scratch_[i].position = events[i].position();
    events[i].SerializeToString(&scratch_[i].payload);
  }
  return log_->Append(scratch_);
}

bool Binlog::AppendIsWriteOnly(const std::vector<v1::BinlogEvent>& events) const {
  size_t bytes = 0;
  for (const v1::BinlogEvent& e : events) bytes += e.ByteSizeLong();
  return log_->AppendIsWriteOnly(events.size(), bytes);
}

void Binlog::NoteSentAhead(const std::vector<v1::BinlogEvent>& events) {
  absl::MutexLock l(&mu_);
  for (const v1::BinlogEvent& e : events) unsynced_.emplace_back(e.position(), e.timestamp_us());
}

bool Binlog::IsUnsyncedEvent(uint64_t position, int64_t timestamp_us) const {
  absl::MutexLock l(&mu_);
  for (const auto& [pos, ts] : unsynced_) {
    if (pos == position) return pos > end_ && ts == timestamp_us;
  }
  return false;
}

absl::Status Binlog::Sync() {
  RETURN_IF_ERROR(log_->Sync());
  uint64_t end = log_->DurablePosition();
  absl::MutexLock l(&mu_);
  end_ = std::max(end_, end);
  if (!unsynced_.empty()) {
    const uint64_t durable = end_;
    unsynced_.erase(std::remove_if(unsynced_.begin(), unsynced_.end(),
                                   [durable](const auto& e) { return e.first <= durable; }),
                    unsynced_.end());
  }
  return absl::OkStatus();
}

absl::Status Binlog::AppendDurably(const std::vector<v1::BinlogEvent>& events) {
  RETURN_IF_ERROR(Append(events));
  return Sync();
}

uint64_t Binlog::EndPosition() const {
  absl::MutexLock l(&mu_);
  return end_;
}

absl::StatusOr<std::unique_ptr<BinlogReader>> Binlog::NewReader(uint64_t after) const {
  ASSIGN_OR_RETURN(std::unique_ptr<LogReader> reader, log_->NewReader(after));
  return std::make_unique<BinlogReader>(std::move(reader));
}

absl::StatusOr<std::vector<v1::BinlogEvent>> Binlog::ReadEvents(uint64_t after,
                                                               size_t limit) const {
  std::vector<v1::BinlogEvent> events;
  uint64_t end = EndPosition();
  if (after >= end) return events;
  ASSIGN_OR_RETURN(std::unique_ptr<BinlogReader> reader, NewReader(after));
  while (events.size() < limit && reader->position() < end) {
    size_t before = events.size();
    RETURN_IF_ERROR(reader->Read(end, limit - events.size(), 64 << 20, &events));
    if (events.size() == before) break;
  }
  return events;
}

absl::StatusOr<int> Binlog::PurgeByRetention(uint64_t max_bytes, absl::Duration max_age,
                                             uint64_t must_keep_from, bool dry_run) {
  return log_->PurgeByRetention(max_bytes, max_age, must_keep_from, dry_run);
}

}  // namespace semisync
