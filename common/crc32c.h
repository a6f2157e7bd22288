// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum framing every log record.
//
// Extend() uses the SSE4.2 crc32 instruction when the CPU has it (checked once at run time) and a
// portable slicing-by-8 table otherwise; both give identical results.
//
// Mask()/Unmask(): a CRC stored next to the data it covers is masked (LevelDB's scheme) so that
// computing the CRC of a string that itself contains CRCs does not degenerate.
//
// Thread-safety: all functions are pure and thread-safe.
#ifndef SEMISYNC_COMMON_CRC32C_H_
#define SEMISYNC_COMMON_CRC32C_H_

#include <cstddef>
#include <cstdint>

namespace semisync {
namespace crc32c {

// Returns the CRC32C of concat(A, data[0, n)) where `crc` is the CRC32C of A.
uint32_t Extend(uint32_t crc, const char* data, size_t n);

// Returns the CRC32C of data[0, n).
inline uint32_t Value(const char* data, size_t n) { return Extend(0, data, n); }

inline constexpr uint32_t kMaskDelta = 0xa282ead8u;

// Returns a masked representation of `crc`, for storing.
inline uint32_t Mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + kMaskDelta; }

// Returns the CRC whose masked representation is `masked_crc`.
inline uint32_t Unmask(uint32_t masked_crc) {
  uint32_t rot = masked_crc - kMaskDelta;
  return (rot >> 17) | (rot << 15);
}

namespace internal {
// The two implementations behind Extend(), exposed for tests and benchmarks.
uint32_t ExtendPortable(uint32_t crc, const char* data, size_t n);
// True if ExtendHardware() may be called on this CPU.
bool HardwareAvailable();
// Requires HardwareAvailable().
uint32_t ExtendHardware(uint32_t crc, const char* data, size_t n);
}  // namespace internal

}  // namespace crc32c
}  // namespace semisync

#endif  // SEMISYNC_COMMON_CRC32C_H_
