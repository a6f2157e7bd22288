// The byte format of a SegmentedLog (the master's binlog and the slave's relay log), as constants
// and little-endian helpers. The prose description is docs/binlog_format.md; keep them in step.
//
//   segment file := file_header record*
//   file_header  := magic[8] ("SSBINLG" + version byte) | first_position: u64 LE     (16 bytes)
//   record       := masked_crc: u32 LE | length: u32 LE | position: u64 LE | payload[length]
//
// The CRC32C covers everything in the record after the crc field (length, position, payload) and
// is stored masked (crc32c::Mask).
#ifndef SEMISYNC_COMMON_LOG_FORMAT_H_
#define SEMISYNC_COMMON_LOG_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "common/crc32c.h"

namespace semisync {
namespace log_format {

// File header: 8-byte magic whose last byte is the format version, then the first position.
inline constexpr char kMagic[8] = {'S', 'S', 'B', 'I', 'N', 'L', 'G', '\x01'};
inline constexpr size_t kMagicSize = sizeof(kMagic);
inline constexpr size_t kFileHeaderSize = kMagicSize + 8;

// Record header: masked crc (4) + payload length (4) + position (8).
inline constexpr size_t kCrcOffset = 0;
inline constexpr size_t kLengthOffset = 4;
inline constexpr size_t kPositionOffset = 8;
inline constexpr size_t kRecordHeaderSize = 16;

// Largest payload accepted by Append and by readers; a larger length field is corruption.
inline constexpr uint32_t kMaxPayloadSize = 64u << 20;

// Segment files are "<prefix>.<first position, zero-padded to kFileNameDigits digits>".
inline constexpr int kFileNameDigits = 20;

inline void EncodeFixed32(char* dst, uint32_t v) {
  for (int i = 0; i < 4; ++i) dst[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
inline void EncodeFixed64(char* dst, uint64_t v) {
  for (int i = 0; i < 8; ++i) dst[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
inline uint32_t DecodeFixed32(const char* src) {
  const auto* p = reinterpret_cast<const unsigned char*>(src);
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
inline uint64_t DecodeFixed64(const char* src) {
  const auto* p = reinterpret_cast<const unsigned char*>(src);
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Appends one framed record to *dst.
inline void EncodeRecord(uint64_t position, absl::string_view payload, std::string* dst) {
  const size_t at = dst->size();
  dst->resize(at + kRecordHeaderSize);
  char* h = &(*dst)[at];
  EncodeFixed32(h + kLengthOffset, static_cast<uint32_t>(payload.size()));
  EncodeFixed64(h + kPositionOffset, position);
  uint32_t crc = crc32c::Value(h + kLengthOffset, kRecordHeaderSize - kLengthOffset);
  crc = crc32c::Extend(crc, payload.data(), payload.size());
  EncodeFixed32(h + kCrcOffset, crc32c::Mask(crc));
  dst->append(payload.data(), payload.size());
}

// True if the record at `rec` (header then `length` payload bytes, contiguous) has a valid CRC.
inline bool RecordCrcOk(const char* rec, uint32_t length) {
  const uint32_t expected = crc32c::Unmask(DecodeFixed32(rec + kCrcOffset));
  return crc32c::Value(rec + kLengthOffset, kRecordHeaderSize - kLengthOffset + length) == expected;
}

}  // namespace log_format
}  // namespace semisync

#endif  // SEMISYNC_COMMON_LOG_FORMAT_H_
