// LogReader (common/segmented_log.h): sequential reads of a SegmentedLog's records, one open
// segment at a time, bounded by a position limit (the durable end); crosses to the next segment
// at each segment's end and reports purged positions as OUT_OF_RANGE.
#include <fcntl.h>

#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/log_format.h"
#include "common/posix_file.h"
#include "common/segmented_log.h"
#include "common/segmented_log_internal.h"
#include "common/status_macros.h"

namespace semisync {
namespace {

namespace lf = log_format;
using log_internal::At;
using log_internal::CheckFileHeader;
using log_internal::Corrupt;
using log_internal::ReadRecordAt;
using log_internal::RecordView;

}  // namespace

class LogReader::Impl {
 public:
  Impl(const SegmentedLog::Impl* log, uint64_t after) : log_(log), pos_(after) {}

  // Records read before an error are returned with OK; the error, which depends only on the
  // reader's position and the log, is reported again by the next call.
  absl::Status Read(uint64_t limit, size_t max_records, size_t max_bytes,
                    std::vector<LogRecord>* out) {
    const size_t before = out->size();
    absl::Status s = ReadSome(limit, max_records, max_bytes, out);
    return out->size() > before ? absl::OkStatus() : s;
  }
  uint64_t position() const { return pos_; }

 private:
  absl::Status ReadSome(uint64_t limit, size_t max_records, size_t max_bytes,
                        std::vector<LogRecord>* out);
  // Opens the segment holding pos_ + 1. Returns false if there is none yet (caught up).
  absl::StatusOr<bool> OpenSegment();
  // At the end of the open segment's data (`clean`: no partial record). Returns true if the
  // reader moved on to the next segment, false if caught up.
  absl::StatusOr<bool> AtEnd(bool clean);
  absl::Status Purged() const {
    return absl::OutOfRangeError(absl::StrCat(
        "position ", pos_ + 1, " was purged from log ", log_->options().dir,
        "; oldest available position is ", log_->Oldest()));
  }
  void Close() {
    file_.reset();
    fd_.Reset();
  }

  const SegmentedLog::Impl* const log_;
  uint64_t pos_;  // last position returned
  UniqueFd fd_;
  std::unique_ptr<FileReader> file_;
  SegmentInfo seg_;             // the open segment
  uint64_t offset_ = 0;         // of the next record in it
  uint64_t next_in_file_ = 0;   // position of the record at offset_
};

absl::StatusOr<bool> LogReader::Impl::OpenSegment() {
  bool purged = false;
  if (!log_->Locate(pos_ + 1, &seg_, &purged)) {
    if (purged) return Purged();
    return false;
  }
  absl::StatusOr<UniqueFd> fd = OpenFile(seg_.path, O_RDONLY);
  if (absl::IsNotFound(fd.status())) return Purged();
  if (!fd.ok()) return fd.status();
  fd_ = std::move(*fd);
  file_ = std::make_unique<FileReader>(fd_.get(), seg_.path);
  file_->set_limit(log_->SegmentEnd(seg_.first_position));
  const char* h;
  ASSIGN_OR_RETURN(size_t got, file_->Fill(0, lf::kFileHeaderSize, &h));
  if (got < lf::kFileHeaderSize) return Corrupt(seg_.path, got, "torn file header");
  RETURN_IF_ERROR(CheckFileHeader(seg_.path, h, seg_.first_position));
  offset_ = lf::kFileHeaderSize;
  next_in_file_ = seg_.first_position;
  return true;
}

absl::StatusOr<bool> LogReader::Impl::AtEnd(bool clean) {
  SegmentInfo next;
  // In the last segment this is the writer's frontier (the caller's limit is past what is
  // written); stop here and re-read from offset_ next time.
  if (!log_->NextAfter(seg_.first_position, &next)) return false;
  if (!clean) return Corrupt(seg_.path, offset_, "incomplete record");
  if (next.first_position != next_in_file_) {
    if (next_in_file_ < log_->Oldest()) return Purged();
    return Corrupt(seg_.path, offset_,
                   absl::StrCat("segment ends before position ", next_in_file_,
                                " but the next segment starts at ", next.first_position));
  }
  Close();
  return true;
}

absl::Status LogReader::Impl::ReadSome(uint64_t limit, size_t max_records, size_t max_bytes,
                                       std::vector<LogRecord>* out) {
  size_t records = 0;
  size_t bytes = 0;
  // Where the open segment's records end now (the active one has zeros after them).
  if (file_ != nullptr) file_->set_limit(log_->SegmentEnd(seg_.first_position));
  while (records < max_records && bytes < max_bytes && pos_ < limit) {
    if (file_ == nullptr) {
      ASSIGN_OR_RETURN(bool opened, OpenSegment());
      if (!opened) break;
    }
    // Records up to pos_ are skipped by their headers (positioning after `after`).
    RecordView r;
    ASSIGN_OR_RETURN(At at, ReadRecordAt(file_.get(), offset_, /*header_only=*/true, &r));
    if (at == At::kRecord && r.position > pos_) {
      ASSIGN_OR_RETURN(at, ReadRecordAt(file_.get(), offset_, /*header_only=*/false, &r));
    }
    if (at == At::kEnd || at == At::kPartialHeader || at == At::kPartialRecord) {
      ASSIGN_OR_RETURN(bool moved_on, AtEnd(at == At::kEnd));
      if (!moved_on) break;
      continue;
    }
    if (at == At::kTooLong) {
      return Corrupt(seg_.path, offset_, absl::StrCat("record length ", r.length, " too large"));
    }
    if (at == At::kBadCrc) return Corrupt(seg_.path, offset_, "checksum mismatch");
    if (r.position != next_in_file_) {
      return Corrupt(seg_.path, offset_,
                     absl::StrCat("expected position ", next_in_file_, ", found ", r.position));
    }
    offset_ += lf::kRecordHeaderSize + r.length;
    ++next_in_file_;
    if (r.position <= pos_) continue;
    out->push_back(LogRecord{r.position, std::string(r.payload, r.length)});
    pos_ = r.position;
    ++records;
    bytes += r.length;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<LogReader>> SegmentedLog::NewReader(uint64_t after) const {
  uint64_t oldest = impl_->Oldest();
  if (oldest != 0 && after + 1 < oldest) {
    return absl::OutOfRangeError(absl::StrCat("position ", after + 1, " was purged from log ",
                                              options_.dir, "; oldest available position is ",
                                              oldest));
  }
  return std::unique_ptr<LogReader>(
      new LogReader(std::make_unique<LogReader::Impl>(impl_.get(), after)));
}

LogReader::LogReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LogReader::~LogReader() = default;

absl::Status LogReader::Read(uint64_t limit, size_t max_records, size_t max_bytes,
                             std::vector<LogRecord>* out) {
  return impl_->Read(limit, max_records, max_bytes, out);
}

uint64_t LogReader::position() const { return impl_->position(); }

}  // namespace semisync
