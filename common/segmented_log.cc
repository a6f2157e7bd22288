#include "common/segmented_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/crc32c.h"
#include "common/log_format.h"
#include "common/posix_file.h"
#include "common/segmented_log_internal.h"
#include "common/status_macros.h"
#include "glog/logging.h"

namespace semisync {

namespace lf = log_format;

namespace log_internal {

absl::Status Corrupt(const std::string& path, uint64_t offset, absl::string_view what) {
  return absl::DataLossError(absl::StrCat(path, " at offset ", offset, ": ", what));
}

absl::StatusOr<At> ReadRecordAt(FileReader* file, uint64_t off, bool header_only, RecordView* r) {
  const char* p;
  ASSIGN_OR_RETURN(size_t got, file->Fill(off, lf::kRecordHeaderSize, &p));
  if (got < lf::kRecordHeaderSize) return got == 0 ? At::kEnd : At::kPartialHeader;
  r->length = lf::DecodeFixed32(p + lf::kLengthOffset);
  r->position = lf::DecodeFixed64(p + lf::kPositionOffset);
  if (r->length > lf::kMaxPayloadSize) return At::kTooLong;
  if (header_only) return At::kRecord;
  const size_t size = lf::kRecordHeaderSize + r->length;
  ASSIGN_OR_RETURN(got, file->Fill(off, size, &p));
  if (got < size) return At::kPartialRecord;
  if (!lf::RecordCrcOk(p, r->length)) return At::kBadCrc;
  r->payload = p + lf::kRecordHeaderSize;
  return At::kRecord;
}

absl::Status CheckFileHeader(const std::string& path, const char* h, uint64_t first) {
  if (std::memcmp(h, lf::kMagic, lf::kMagicSize) != 0) {
    return Corrupt(path, 0, "bad magic or unsupported format version");
  }
  uint64_t header_first = lf::DecodeFixed64(h + lf::kMagicSize);
  if (header_first != first) {
    return Corrupt(path, lf::kMagicSize,
                   absl::StrCat("header says first position ", header_first, ", name says ", first));
  }
  return absl::OkStatus();
}

}  // namespace log_internal

namespace {

namespace fs = std::filesystem;
using log_internal::At;
using log_internal::CheckFileHeader;
using log_internal::Corrupt;
using log_internal::ReadRecordAt;
using log_internal::RecordView;

std::string SegmentPath(const LogOptions& o, uint64_t first) {
  return (fs::path(o.dir) / absl::StrFormat("%s.%0*d", o.prefix, lf::kFileNameDigits, first))
      .string();
}

bool ParseSegmentName(const std::string& prefix, absl::string_view name, uint64_t* first) {
  if (!absl::ConsumePrefix(&name, prefix) || !absl::ConsumePrefix(&name, ".")) return false;
  if (name.size() != static_cast<size_t>(lf::kFileNameDigits)) return false;
  for (char c : name) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return absl::SimpleAtoi(name, first);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// SegmentedLog::Impl

absl::StatusOr<std::vector<SegmentInfo>> SegmentedLog::Impl::ListSegments() const {
  std::vector<SegmentInfo> segs;
  std::error_code ec;
  for (fs::directory_iterator it(options_.dir, ec), end; !ec && it != end; it.increment(ec)) {
    uint64_t first = 0;
    if (!ParseSegmentName(options_.prefix, it->path().filename().string(), &first)) continue;
    std::string path = it->path().string();
    if (first == 0) return Corrupt(path, 0, "segment named for position 0");
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return PosixError("stat", path, errno);
    segs.push_back(SegmentInfo{std::move(path), first, /*last_position=*/0,
                               static_cast<uint64_t>(st.st_size),
                               absl::TimeFromTimespec(st.st_mtim)});
  }
  if (ec) return absl::InternalError(absl::StrCat("list ", options_.dir, ": ", ec.message()));
  std::sort(segs.begin(), segs.end(), [](const SegmentInfo& a, const SegmentInfo& b) {
    return a.first_position < b.first_position;
  });
  return segs;
}

// Scans the last segment record by record. Truncates a torn tail; returns false if the segment
// holds no record (its file header is torn, or it is empty), for the caller to remove it.
absl::StatusOr<bool> SegmentedLog::Impl::RecoverLastSegment(SegmentInfo* seg) {
  const std::string& path = seg->path;
  ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(path, O_RDWR));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return PosixError("stat", path, errno);
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  FileReader file(fd.get(), path);
  const char* h;
  ASSIGN_OR_RETURN(size_t got, file.Fill(0, lf::kFileHeaderSize, &h));
  if (got < lf::kFileHeaderSize) {
    LOG(WARNING) << "log segment " << path << " has a torn file header (" << size << " bytes)";
    return false;
  }
  ASSIGN_OR_RETURN(bool all_zero, file.ZeroFrom(0, size));
  if (all_zero) {
    LOG(WARNING) << "log segment " << path << " is zero-filled (" << size << " bytes)";
    return false;
  }
  ASSIGN_OR_RETURN(got, file.Fill(0, lf::kFileHeaderSize, &h));
  RETURN_IF_ERROR(CheckFileHeader(path, h, seg->first_position));

  uint64_t off = lf::kFileHeaderSize;
  uint64_t expected = seg->first_position;
  std::string torn;  // why the tail from `off` is dropped
  while (off < size) {
    RecordView r;
    ASSIGN_OR_RETURN(At at, ReadRecordAt(&file, off, /*header_only=*/false, &r));
    const uint64_t end = off + lf::kRecordHeaderSize + r.length;
    if (at == At::kEnd || at == At::kPartialHeader || at == At::kPartialRecord) {
      torn = at == At::kPartialRecord ? "incomplete record" : "incomplete record header";
      break;
    }
    if (at == At::kTooLong) {
      return Corrupt(path, off, absl::StrCat("record length ", r.length, " exceeds the maximum"));
    }
    if (at == At::kBadCrc) {
      // A torn write leaves the final record damaged, possibly followed by zeros (the file size
      // reached the disk before the data). Anything else after it means real corruption.
      ASSIGN_OR_RETURN(bool zeros_after, file.ZeroFrom(end, size));
      if (!zeros_after) {
        return Corrupt(path, off, "checksum mismatch in a record followed by more data");
      }
      torn = end == size ? "checksum mismatch in the final record"
                         : "checksum mismatch followed by zero-filled bytes";
      break;
    }
    if (r.position != expected) {
      return Corrupt(path, off,
                     absl::StrCat("expected position ", expected, ", found ", r.position));
    }
    off = end;
    ++expected;
  }
  seg->modified = absl::TimeFromTimespec(st.st_mtim);
  if (off < size) {
    ASSIGN_OR_RETURN(bool only_zeros, file.ZeroFrom(off, size));
    if (only_zeros) {
      LOG(INFO) << "log segment " << path << ": cutting off " << size - off
                << " zero bytes (preallocated, or written size ahead of data) at offset " << off;
    } else {
      LOG(WARNING) << "log segment " << path << ": truncating torn tail at offset " << off
                   << " (" << size - off << " bytes dropped): " << torn;
    }
    if (::ftruncate(fd.get(), static_cast<off_t>(off)) != 0) {
      return PosixError("ftruncate", path, errno);
    }
    if (::fsync(fd.get()) != 0) return PosixError("fsync", path, errno);
    seg->modified = absl::Now();
  }
  seg->bytes = off;
  seg->last_position = expected > seg->first_position ? expected - 1 : 0;
  return expected > seg->first_position;
}

// Cheap check of a segment that is not the last one: its header and first record header. Its
// records are checked (CRC, consecutive positions, ending just before the next segment) by readers.
absl::Status SegmentedLog::Impl::CheckSealedSegment(const SegmentInfo& seg) const {
  ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(seg.path, O_RDONLY));
  FileReader file(fd.get(), seg.path);
  const char* h;
  const size_t n = lf::kFileHeaderSize + lf::kRecordHeaderSize;
  ASSIGN_OR_RETURN(size_t got, file.Fill(0, n, &h));
  if (got < n) return Corrupt(seg.path, got, "segment followed by another one holds no record");
  RETURN_IF_ERROR(CheckFileHeader(seg.path, h, seg.first_position));
  uint64_t pos = lf::DecodeFixed64(h + lf::kFileHeaderSize + lf::kPositionOffset);
  if (pos != seg.first_position) {
    return Corrupt(seg.path, lf::kFileHeaderSize,
                   absl::StrCat("expected position ", seg.first_position, ", found ", pos));
  }
  return absl::OkStatus();
}

absl::Status SegmentedLog::Impl::Recover() {
  if (options_.dir.empty()) return absl::InvalidArgumentError("log dir is empty");
  if (options_.prefix.empty() || absl::StrContains(options_.prefix, '/')) {
    return absl::InvalidArgumentError(absl::StrCat("bad log prefix '", options_.prefix, "'"));
  }
  std::error_code ec;
  bool created = fs::create_directories(options_.dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("mkdir ", options_.dir, ": ", ec.message()));
  if (created) {
    fs::path parent = fs::path(options_.dir).lexically_normal().parent_path();
    if (parent.filename().empty()) parent = parent.parent_path();  // "a/b/" -> "a"
    RETURN_IF_ERROR(SyncDir(parent.empty() ? "." : parent.string()));
  }
  ASSIGN_OR_RETURN(std::vector<SegmentInfo> segs, ListSegments());
  while (!segs.empty()) {
    ASSIGN_OR_RETURN(bool has_records, RecoverLastSegment(&segs.back()));
    if (has_records) break;
    LOG(WARNING) << "removing log segment " << segs.back().path << ": no complete record";
    if (::unlink(segs.back().path.c_str()) != 0) {
      return PosixError("unlink", segs.back().path, errno);
    }
    RETURN_IF_ERROR(SyncDir(options_.dir));
    segs.pop_back();
  }
  uint64_t total = 0;
  for (size_t i = 0; i < segs.size(); ++i) {
    if (i + 1 < segs.size()) {
      RETURN_IF_ERROR(CheckSealedSegment(segs[i]));
      segs[i].last_position = segs[i + 1].first_position - 1;
    }
    total += segs[i].bytes;
  }
  if (!segs.empty()) {
    const SegmentInfo& active = segs.back();
    ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(active.path, O_WRONLY));
    active_fd_ = std::make_shared<UniqueFd>(std::move(fd));
    if (::lseek(active_fd_->get(), 0, SEEK_END) < 0) return PosixError("seek", active.path, errno);
    // What the scan found may only be in the page cache (the process died, not the machine).
    RETURN_IF_ERROR(DataSync(active_fd_->get(), active.path));
    active_path_ = active.path;
    {
      absl::MutexLock l(&mu_);
      sync_fd_ = active_fd_;
      sync_path_ = active_path_;
    }
    active_bytes_ = active.bytes;
    allocated_ = active.bytes;  // the scan cut off any zeros
    last_.store(active.last_position, std::memory_order_release);
    durable_.store(active.last_position, std::memory_order_release);
    LOG(INFO) << "opened log " << options_.dir << "/" << options_.prefix << ": positions "
              << segs.front().first_position << ".." << active.last_position << " in "
              << segs.size() << " segment(s), " << total << " bytes";
  }
  total_bytes_.store(total, std::memory_order_release);
  absl::MutexLock l(&mu_);
  segments_ = std::move(segs);
  return absl::OkStatus();
}

absl::Status SegmentedLog::Impl::Fail(const absl::Status& s) {
  LOG(ERROR) << "log " << options_.dir << " is unusable from now on: " << s;
  absl::MutexLock l(&mu_);
  if (error_.ok()) error_ = s;
  return s;
}

absl::Status SegmentedLog::Impl::Rotate(uint64_t first) {
  if (active_fd_ != nullptr) {
    // Seal the full segment first, so that only the last segment can ever have a torn tail, and
    // without its preallocated zeros, so that readers of sealed segments stop at the file's end.
    if (allocated_ > active_bytes_ &&
        ::ftruncate(active_fd_->get(), static_cast<off_t>(active_bytes_)) != 0) {
      return Fail(PosixError("ftruncate", active_path_, errno));
    }
    absl::Status s = DataSync(active_fd_->get(), active_path_);
    if (!s.ok()) return Fail(s);
    active_fd_.reset();
  }
  std::string path = SegmentPath(options_, first);
  absl::StatusOr<UniqueFd> fd = OpenFile(path, O_WRONLY | O_CREAT | O_EXCL);
  if (!fd.ok()) return Fail(fd.status());
  char header[lf::kFileHeaderSize];
  std::memcpy(header, lf::kMagic, lf::kMagicSize);
  lf::EncodeFixed64(header + lf::kMagicSize, first);
  absl::Status s = WriteAll(fd->get(), path, header, sizeof(header));
  if (s.ok()) s = DataSync(fd->get(), path);
  if (s.ok()) s = SyncDir(options_.dir);
  if (!s.ok()) return Fail(s);
  active_fd_ = std::make_shared<UniqueFd>(std::move(*fd));
  active_path_ = path;
  active_bytes_ = lf::kFileHeaderSize;
  allocated_ = lf::kFileHeaderSize;
  total_bytes_.fetch_add(lf::kFileHeaderSize, std::memory_order_acq_rel);
  VLOG(1) << "created log segment " << path;
  absl::MutexLock l(&mu_);
  sync_fd_ = active_fd_;
  sync_path_ = active_path_;
  segments_.push_back(SegmentInfo{std::move(path), first, 0, active_bytes_, absl::Now()});
  return absl::OkStatus();
}

absl::Status SegmentedLog::Impl::Preallocate(uint64_t end) {
  static const std::string* const kZeros = new std::string(256 << 10, '\0');
  // No further than where the segment rotates (a big batch may still go past it).
  const uint64_t target =
      std::max(end, std::min(allocated_ + options_.preallocate_bytes, options_.segment_bytes));
  while (allocated_ < target) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kZeros->size(), target - allocated_));
    ssize_t w = ::pwrite(active_fd_->get(), kZeros->data(), n, static_cast<off_t>(allocated_));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return Fail(PosixError("preallocate", active_path_, w < 0 ? errno : EIO));
    allocated_ += static_cast<uint64_t>(w);
  }
  return absl::OkStatus();
}

bool SegmentedLog::Impl::AppendIsWriteOnly(size_t records, size_t payload_bytes) const {
  if (active_fd_ == nullptr || active_bytes_ >= options_.segment_bytes) return false;  // rotates
  const uint64_t end = active_bytes_ + records * lf::kRecordHeaderSize + payload_bytes;
  return options_.preallocate_bytes == 0 || end <= allocated_;
}

absl::Status SegmentedLog::Impl::Append(const std::vector<LogRecord>& records) {
  RETURN_IF_ERROR(Error());
  if (records.empty()) return absl::OkStatus();
  const uint64_t last = last_.load(std::memory_order_relaxed);
  const uint64_t first = last == 0 ? records.front().position : last + 1;
  if (first == 0) return absl::InvalidArgumentError("log positions start at 1");
  size_t bytes = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    if (records[i].position != first + i) {
      return absl::InvalidArgumentError(absl::StrCat("record ", i, " has position ",
                                                     records[i].position, ", expected ", first + i));
    }
    if (records[i].payload.size() > lf::kMaxPayloadSize) {
      return absl::InvalidArgumentError(absl::StrCat("record at position ", records[i].position,
                                                     " is larger than ", lf::kMaxPayloadSize));
    }
    bytes += lf::kRecordHeaderSize + records[i].payload.size();
  }
  if (active_fd_ == nullptr || active_bytes_ >= options_.segment_bytes) {
    RETURN_IF_ERROR(Rotate(first));
  }
  std::string buf;
  buf.reserve(bytes);
  for (const LogRecord& r : records) lf::EncodeRecord(r.position, r.payload, &buf);
  if (options_.preallocate_bytes > 0 && active_bytes_ + buf.size() > allocated_) {
    RETURN_IF_ERROR(Preallocate(active_bytes_ + buf.size()));
  }
  // The file offset is at active_bytes_ (zeros are written with pwrite, which leaves it).
  absl::Status s = WriteAll(active_fd_->get(), active_path_, buf.data(), buf.size());
  if (!s.ok()) return Fail(s);
  active_bytes_ += buf.size();
  total_bytes_.fetch_add(buf.size(), std::memory_order_acq_rel);
  // The segment's size first, then the position: whoever sees the position (a Sync, then
  // readers bounded by the durable position) must find the bytes within the segment's end.
  absl::MutexLock l(&mu_);
  SegmentInfo& active = segments_.back();
  active.last_position = records.back().position;
  active.bytes = active_bytes_;
  active.modified = absl::Now();
  last_.store(records.back().position, std::memory_order_release);
  return absl::OkStatus();
}

absl::Status SegmentedLog::Impl::Sync() {
  std::shared_ptr<UniqueFd> fd;
  std::string path;
  uint64_t target;
  {
    // The fd and the position are read together: Append stores last_ only after writing to the
    // fd it has, and swaps the fd (under mu_) only after sealing the previous segment.
    absl::MutexLock l(&mu_);
    RETURN_IF_ERROR(error_);
    target = last_.load(std::memory_order_acquire);
    if (durable_.load(std::memory_order_acquire) >= target) return absl::OkStatus();
    fd = sync_fd_;
    path = sync_path_;
  }
  absl::Status s = DataSync(fd->get(), path);
  if (!s.ok()) return Fail(s);
  uint64_t cur = durable_.load(std::memory_order_acquire);
  while (cur < target && !durable_.compare_exchange_weak(cur, target, std::memory_order_acq_rel)) {
  }
  return absl::OkStatus();
}

absl::Status SegmentedLog::Impl::TruncateAfter(uint64_t pos) {
  RETURN_IF_ERROR(Error());
  if (pos >= last()) return absl::OkStatus();
  std::vector<SegmentInfo> segs = Segments();
  if (segs.empty()) return absl::OkStatus();
  if (pos + 1 < segs.front().first_position) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot truncate log ", options_.dir, " after position ", pos,
                     ": its oldest record is ", segs.front().first_position, " (purged)"));
  }
  // Whole segments after pos, newest first (a crash in between leaves a shorter, valid log).
  bool deleted = false;
  while (!segs.empty() && segs.back().first_position > pos) {
    const SegmentInfo& seg = segs.back();
    if (seg.path == active_path_) {
      active_fd_.reset();
      active_path_.clear();
      absl::MutexLock l(&mu_);
      sync_fd_.reset();
      sync_path_.clear();
    }
    if (::unlink(seg.path.c_str()) != 0) return Fail(PosixError("unlink", seg.path, errno));
    LOG(WARNING) << "log " << options_.dir << ": deleted segment " << seg.path
                 << " (truncating after position " << pos << ")";
    total_bytes_.fetch_sub(seg.bytes, std::memory_order_acq_rel);
    deleted = true;
    {
      absl::MutexLock l(&mu_);
      segments_.pop_back();
    }
    segs.pop_back();
  }
  if (deleted) {
    if (absl::Status s = SyncDir(options_.dir); !s.ok()) return Fail(s);
  }
  if (segs.empty()) {  // pos is just before the oldest record: the log is now empty
    active_bytes_ = 0;
    allocated_ = 0;
    last_.store(0, std::memory_order_release);
    durable_.store(0, std::memory_order_release);
    return absl::OkStatus();
  }
  // The segment holding pos: find where record pos ends.
  const SegmentInfo seg = segs.back();
  uint64_t cut = lf::kFileHeaderSize;
  {
    absl::StatusOr<UniqueFd> rfd = OpenFile(seg.path, O_RDONLY);
    if (!rfd.ok()) return Fail(rfd.status());
    FileReader file(rfd->get(), seg.path);
    file.set_limit(seg.bytes);
    uint64_t expected = seg.first_position;
    while (expected <= pos) {
      RecordView r;
      absl::StatusOr<At> at = ReadRecordAt(&file, cut, /*header_only=*/true, &r);
      if (!at.ok()) return Fail(at.status());
      if (*at != At::kRecord || r.position != expected) {
        return Fail(Corrupt(seg.path, cut,
                            absl::StrCat("looking for the end of position ", pos, " found no "
                                         "record ", expected)));
      }
      cut += lf::kRecordHeaderSize + r.length;
      ++expected;
    }
  }
  if (seg.path != active_path_) {  // a sealed segment becomes the active one again
    absl::StatusOr<UniqueFd> fd = OpenFile(seg.path, O_WRONLY);
    if (!fd.ok()) return Fail(fd.status());
    active_fd_ = std::make_shared<UniqueFd>(std::move(*fd));
    active_path_ = seg.path;
    allocated_ = seg.bytes;
  }
  if (::ftruncate(active_fd_->get(), static_cast<off_t>(cut)) != 0 ||
      ::lseek(active_fd_->get(), static_cast<off_t>(cut), SEEK_SET) < 0) {
    return Fail(PosixError("truncate", active_path_, errno));
  }
  if (absl::Status s = DataSync(active_fd_->get(), active_path_); !s.ok()) return Fail(s);
  LOG(WARNING) << "log " << options_.dir << ": truncated after position " << pos << " ("
               << last() - pos << " record(s) dropped)";
  total_bytes_.fetch_sub(seg.bytes - cut, std::memory_order_acq_rel);
  active_bytes_ = cut;
  allocated_ = cut;
  absl::MutexLock l(&mu_);
  sync_fd_ = active_fd_;
  sync_path_ = active_path_;
  SegmentInfo& active = segments_.back();
  active.last_position = pos;
  active.bytes = cut;
  active.modified = absl::Now();
  last_.store(pos, std::memory_order_release);
  durable_.store(pos, std::memory_order_release);
  return absl::OkStatus();
}

absl::StatusOr<int> SegmentedLog::Impl::PurgeWhile(
    const std::function<bool(const SegmentInfo&, uint64_t total_bytes)>& deletable,
    bool dry_run) {
  std::vector<std::string> doomed;
  {
    absl::MutexLock l(&mu_);
    uint64_t total = total_bytes();
    size_t n = 0;
    if (dry_run) {
      while (n + 1 < segments_.size() && deletable(segments_[n], total)) {
        total -= segments_[n].bytes;
        ++n;
      }
      return static_cast<int>(n);
    }
    // Never the last (active) segment; always a prefix, so what remains stays consecutive.
    while (n + 1 < segments_.size() && deletable(segments_[n], total)) {
      total -= segments_[n].bytes;
      total_bytes_.fetch_sub(segments_[n].bytes, std::memory_order_acq_rel);
      doomed.push_back(segments_[n].path);
      ++n;
    }
    segments_.erase(segments_.begin(), segments_.begin() + static_cast<ptrdiff_t>(n));
  }
  absl::Status status;
  for (const std::string& path : doomed) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT && status.ok()) {
      status = PosixError("unlink", path, errno);
    }
  }
  if (doomed.empty()) return 0;
  absl::Status s = SyncDir(options_.dir);
  if (status.ok()) status = s;
  RETURN_IF_ERROR(status);
  LOG(INFO) << "purged " << doomed.size() << " segment(s) of log " << options_.dir
            << "; oldest position is now " << Oldest();
  return static_cast<int>(doomed.size());
}

// ---------------------------------------------------------------------------------------------
// SegmentedLog

SegmentedLog::SegmentedLog(const LogOptions& options)
    : options_(options), impl_(std::make_unique<Impl>(options)) {}

SegmentedLog::~SegmentedLog() = default;

absl::StatusOr<std::unique_ptr<SegmentedLog>> SegmentedLog::Open(const LogOptions& options) {
  std::unique_ptr<SegmentedLog> log(new SegmentedLog(options));
  RETURN_IF_ERROR(log->impl_->Recover());
  return log;
}

absl::Status SegmentedLog::Append(const std::vector<LogRecord>& records) {
  return impl_->Append(records);
}
bool SegmentedLog::AppendIsWriteOnly(size_t records, size_t payload_bytes) const {
  return impl_->AppendIsWriteOnly(records, payload_bytes);
}
absl::Status SegmentedLog::Sync() { return impl_->Sync(); }
absl::Status SegmentedLog::TruncateAfter(uint64_t pos) { return impl_->TruncateAfter(pos); }
uint64_t SegmentedLog::LastPosition() const { return impl_->last(); }
uint64_t SegmentedLog::DurablePosition() const { return impl_->durable(); }
uint64_t SegmentedLog::OldestPosition() const { return impl_->Oldest(); }
uint64_t SegmentedLog::TotalBytes() const { return impl_->total_bytes(); }
std::vector<SegmentInfo> SegmentedLog::Segments() const { return impl_->Segments(); }

absl::StatusOr<int> SegmentedLog::PurgeBefore(uint64_t keep_from, bool dry_run) {
  return impl_->PurgeWhile(
      [keep_from](const SegmentInfo& s, uint64_t) { return s.last_position < keep_from; },
      dry_run);
}

absl::StatusOr<int> SegmentedLog::PurgeByRetention(uint64_t max_bytes, absl::Duration max_age,
                                                   uint64_t must_keep_from, bool dry_run) {
  const absl::Time now = absl::Now();
  return impl_->PurgeWhile(
      [&](const SegmentInfo& s, uint64_t total) {
        if (s.last_position >= must_keep_from) return false;
        return (max_bytes > 0 && total > max_bytes) ||
               (max_age > absl::ZeroDuration() && now - s.modified > max_age);
      },
      dry_run);
}

}  // namespace semisync
