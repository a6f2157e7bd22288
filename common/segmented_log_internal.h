// Internals of the segmented log shared by its two halves: segmented_log.cc (SegmentedLog:
// recovery, appends, syncs, truncation, purges) and log_reader.cc (LogReader). Not part of the
// public interface (common/segmented_log.h); include only from those two files.
//
// Owns: the record parser over a FileReader (ReadRecordAt), the file-header check, the
// DataLoss error format, and SegmentedLog::Impl's declaration (its segment list, read by
// readers under the log's lock through Locate / SegmentEnd / NextAfter / Oldest).
#ifndef SEMISYNC_COMMON_SEGMENTED_LOG_INTERNAL_H_
#define SEMISYNC_COMMON_SEGMENTED_LOG_INTERNAL_H_

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/posix_file.h"
#include "common/segmented_log.h"
#include "glog/logging.h"

namespace semisync {
namespace log_internal {

// DataLoss naming the file and offset.
absl::Status Corrupt(const std::string& path, uint64_t offset, absl::string_view what);

// What a segment holds at some offset.
enum class At { kRecord, kEnd, kPartialHeader, kTooLong, kPartialRecord, kBadCrc };

struct RecordView {
  uint32_t length = 0;
  uint64_t position = 0;
  const char* payload = nullptr;  // valid until the reader's next Fill
};

// Parses the record at `off`. With header_only, returns kRecord once the header is complete.
absl::StatusOr<At> ReadRecordAt(FileReader* file, uint64_t off, bool header_only, RecordView* r);

// Validates a segment's 16-byte file header against the first position from its name.
absl::Status CheckFileHeader(const std::string& path, const char* h, uint64_t first);

}  // namespace log_internal

class SegmentedLog::Impl {
 public:
  explicit Impl(LogOptions options) : options_(std::move(options)) {}
  // A clean close leaves the active segment without preallocated zeros.
  ~Impl() {
    if (active_fd_ != nullptr && allocated_ > active_bytes_ && Error().ok() &&
        ::ftruncate(active_fd_->get(), static_cast<off_t>(active_bytes_)) != 0) {
      LOG(WARNING) << "cannot cut preallocated space off " << active_path_ << ": "
                   << strerror(errno) << " (it is cut off when the log is next opened)";
    }
  }

  absl::Status Recover();
  absl::Status Append(const std::vector<LogRecord>& records);
  bool AppendIsWriteOnly(size_t records, size_t payload_bytes) const;
  absl::Status Sync();
  absl::Status TruncateAfter(uint64_t pos);
  absl::StatusOr<int> PurgeWhile(
      const std::function<bool(const SegmentInfo&, uint64_t total_bytes)>& deletable,
      bool dry_run);

  uint64_t last() const { return last_.load(std::memory_order_acquire); }
  uint64_t durable() const { return durable_.load(std::memory_order_acquire); }
  uint64_t total_bytes() const { return total_bytes_.load(std::memory_order_acquire); }
  const LogOptions& options() const { return options_; }

  uint64_t Oldest() const {
    absl::MutexLock l(&mu_);
    if (segments_.empty() || segments_.front().last_position == 0) return 0;
    return segments_.front().first_position;
  }
  std::vector<SegmentInfo> Segments() const {
    absl::MutexLock l(&mu_);
    return segments_;
  }
  // For readers. The segment that holds `pos` if it is on disk: the last one starting at or
  // before it. Returns false if the log is empty; sets *purged if `pos` is older than the log.
  bool Locate(uint64_t pos, SegmentInfo* seg, bool* purged) const {
    absl::MutexLock l(&mu_);
    *purged = false;
    if (segments_.empty()) return false;
    if (pos < segments_.front().first_position) {
      *purged = true;
      return false;
    }
    auto it = std::upper_bound(
        segments_.begin(), segments_.end(), pos,
        [](uint64_t p, const SegmentInfo& s) { return p < s.first_position; });
    *seg = *std::prev(it);
    return true;
  }
  // For readers: the bytes of records (and header) in the segment starting at `first`; bytes
  // after that are zeros or not yet written, whatever the file's size.
  uint64_t SegmentEnd(uint64_t first) const {
    absl::MutexLock l(&mu_);
    for (const SegmentInfo& s : segments_) {
      if (s.first_position == first) return s.bytes;
    }
    return UINT64_MAX;  // purged: the reader finds out when it opens the next segment
  }
  // For readers: the first segment starting after `first`, if any.
  bool NextAfter(uint64_t first, SegmentInfo* seg) const {
    absl::MutexLock l(&mu_);
    for (const SegmentInfo& s : segments_) {
      if (s.first_position > first) {
        *seg = s;
        return true;
      }
    }
    return false;
  }

 private:
  absl::StatusOr<std::vector<SegmentInfo>> ListSegments() const;
  absl::StatusOr<bool> RecoverLastSegment(SegmentInfo* seg);
  absl::Status CheckSealedSegment(const SegmentInfo& seg) const;
  absl::Status Rotate(uint64_t first);
  // Zero-fills the active segment from allocated_ to at least `end` (preallocate_bytes more).
  absl::Status Preallocate(uint64_t end);
  absl::Status Fail(const absl::Status& s);

  const LogOptions options_;

  mutable absl::Mutex mu_;
  std::vector<SegmentInfo> segments_ ABSL_GUARDED_BY(mu_);  // sorted by first_position

  std::atomic<uint64_t> last_{0};
  std::atomic<uint64_t> durable_{0};
  std::atomic<uint64_t> total_bytes_{0};

  // The active segment, as Sync() sees it (Sync may run on another thread than Append; the
  // shared fd stays open for a Sync in progress even if Append rotates meanwhile).
  std::shared_ptr<UniqueFd> sync_fd_ ABSL_GUARDED_BY(mu_);
  std::string sync_path_ ABSL_GUARDED_BY(mu_);
  absl::Status error_ ABSL_GUARDED_BY(mu_);  // sticky: the first failed write or fsync

  // Writer-only state (Append/Purge are called by one thread at a time).
  std::shared_ptr<UniqueFd> active_fd_;
  std::string active_path_;
  uint64_t active_bytes_ = 0;  // header and records
  uint64_t allocated_ = 0;     // the active segment's file size (records, then zeros)

  absl::Status Error() const {
    absl::MutexLock l(&mu_);
    return error_;
  }
};

}  // namespace semisync

#endif  // SEMISYNC_COMMON_SEGMENTED_LOG_INTERNAL_H_
