// UTF-8 validation (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF).
// Pure functions; thread-safe.
#ifndef SEMISYNC_SERVER_GATEWAY_UTF8_H_
#define SEMISYNC_SERVER_GATEWAY_UTF8_H_

#include <cstddef>

#include "absl/strings/string_view.h"

namespace semisync {
namespace gateway {

// Length (1-4) of the valid UTF-8 sequence that starts s, or 0 when s is empty or starts with an
// invalid one.
size_t Utf8SequenceLength(absl::string_view s);

// Offset of the first byte that is not part of a valid UTF-8 sequence, or s.size() when all of s
// is valid.
size_t FirstInvalidUtf8(absl::string_view s);

inline bool IsValidUtf8(absl::string_view s) { return FirstInvalidUtf8(s) == s.size(); }

}  // namespace gateway
}  // namespace semisync

#endif  // SEMISYNC_SERVER_GATEWAY_UTF8_H_
