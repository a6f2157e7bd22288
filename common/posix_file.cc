// POSIX file helpers (see posix_file.h).
#include "common/posix_file.h"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace semisync {

absl::Status PosixError(absl::string_view op, const std::string& path, int err) {
  std::string msg = absl::StrCat(op, " ", path, ": ", std::strerror(err));
  switch (err) {
    case ENOENT: return absl::NotFoundError(msg);
    case EACCES: case EPERM: case EROFS: return absl::PermissionDeniedError(msg);
    case ENOSPC: case EDQUOT: return absl::ResourceExhaustedError(msg);
    default: return absl::InternalError(msg);
  }
}

absl::StatusOr<UniqueFd> OpenFile(const std::string& path, int flags) {
  int fd;
  do {
    fd = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return PosixError("open", path, errno);
  return UniqueFd(fd);
}

absl::Status SyncDir(const std::string& dir) {
  ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(dir, O_RDONLY | O_DIRECTORY));
  if (::fsync(fd.get()) != 0) return PosixError("fsync directory", dir, errno);
  return absl::OkStatus();
}

absl::Status DataSync(int fd, const std::string& path) {
  if (::fdatasync(fd) != 0) return PosixError("fdatasync", path, errno);
  return absl::OkStatus();
}

absl::Status WriteAll(int fd, const std::string& path, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return PosixError("write", path, errno);
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return absl::OkStatus();
}

absl::StatusOr<size_t> FileReader::Fill(uint64_t off, size_t n, const char** data) {
  if (off >= limit_) return 0;
  n = static_cast<size_t>(std::min<uint64_t>(n, limit_ - off));
  if (off >= buf_off_ && off + n <= buf_off_ + buf_len_) {
    *data = buf_.data() + (off - buf_off_);
    return n;
  }
  // Up to the limit (at the tail of the active segment, only what is there), at most a chunk.
  const size_t want =
      static_cast<size_t>(std::max<uint64_t>(n, std::min<uint64_t>(kChunk, limit_ - off)));
  if (buf_.size() < want) buf_.resize(want);
  size_t got = 0;
  while (got < want) {
    ssize_t r = ::pread(fd_, &buf_[got], want - got, static_cast<off_t>(off + got));
    if (r < 0) {
      if (errno == EINTR) continue;
      buf_len_ = 0;
      return PosixError("read", path_, errno);
    }
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  buf_off_ = off;
  buf_len_ = static_cast<size_t>(std::min<uint64_t>(got, limit_ - off));
  *data = buf_.data();
  return std::min(n, buf_len_);
}

absl::StatusOr<bool> FileReader::ZeroFrom(uint64_t from, uint64_t size) {
  while (from < size) {
    const char* p;
    ASSIGN_OR_RETURN(size_t got, Fill(from, std::min<uint64_t>(kChunk, size - from), &p));
    if (got == 0) break;
    if (std::any_of(p, p + got, [](char c) { return c != 0; })) return false;
    from += got;
  }
  return true;
}

absl::Status WriteFileDurably(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(tmp, O_WRONLY | O_CREAT | O_TRUNC));
    RETURN_IF_ERROR(WriteAll(fd.get(), tmp, text.data(), text.size()));
    if (::fsync(fd.get()) != 0) return PosixError("fsync", tmp, errno);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) return PosixError("rename", tmp, errno);
  const size_t slash = path.rfind('/');
  return SyncDir(slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash)));
}

}  // namespace semisync
