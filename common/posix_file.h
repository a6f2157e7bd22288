// Thin POSIX file helpers for the durable log: an owning fd, open/write/fsync with errno turned
// into absl::Status (naming the operation and path), and a buffered pread reader.
//
// Thread-compatible: each object is used by one thread at a time.
#ifndef SEMISYNC_COMMON_POSIX_FILE_H_
#define SEMISYNC_COMMON_POSIX_FILE_H_

#include <unistd.h>

#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace semisync {

// errno -> Status: ENOENT NotFound, EACCES/EPERM/EROFS PermissionDenied, ENOSPC/EDQUOT
// ResourceExhausted, anything else Internal. The message is "<op> <path>: <strerror>".
absl::Status PosixError(absl::string_view op, const std::string& path, int err);

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    Reset(std::exchange(o.fd_, -1));
    return *this;
  }
  ~UniqueFd() { Reset(); }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void Reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// open(2) with O_CLOEXEC and mode 0644, retried on EINTR.
absl::StatusOr<UniqueFd> OpenFile(const std::string& path, int flags);
// fsync(2) of a directory (after creating or removing a file in it).
absl::Status SyncDir(const std::string& dir);
absl::Status DataSync(int fd, const std::string& path);
// write(2) until all n bytes are written.
absl::Status WriteAll(int fd, const std::string& path, const char* p, size_t n);

// Replaces `path` with `text` atomically and durably: writes `path`.tmp, fsyncs it, renames it
// over `path`, and fsyncs the directory. A crash leaves either the old or the new content.
absl::Status WriteFileDurably(const std::string& path, const std::string& text);

// Buffered pread(2) over a file that may still be growing (the active segment). Bytes once
// written never change, so buffered bytes stay valid; a request past the buffer re-reads. With a
// limit, bytes at or after it are treated as not there yet (the active segment's preallocated
// zeros): they are never returned nor kept, so raising the limit re-reads them.
class FileReader {
 public:
  FileReader(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}

  // Makes [off, off + n) available at *data. Returns the number of bytes available, < n only at
  // the end of the file.
  absl::StatusOr<size_t> Fill(uint64_t off, size_t n, const char** data);
  // True if every byte in [from, size) is zero.
  absl::StatusOr<bool> ZeroFrom(uint64_t from, uint64_t size);
  // Where the file's data ends for Fill (default: the end of the file).
  void set_limit(uint64_t end) { limit_ = end; }
  uint64_t limit() const { return limit_; }

 private:
  static constexpr size_t kChunk = 256 << 10;
  int fd_;
  std::string path_;
  std::string buf_;
  uint64_t buf_off_ = 0;
  size_t buf_len_ = 0;  // bytes of buf_ that were below the limit when read
  uint64_t limit_ = UINT64_MAX;
};

}  // namespace semisync

#endif  // SEMISYNC_COMMON_POSIX_FILE_H_
