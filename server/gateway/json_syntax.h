// A strict RFC 8259 syntax check, run before protobuf's JSON parser, which is lenient (it accepts
// trailing commas) and reports positions vaguely. Errors name the byte offset and what was
// expected: `malformed JSON at offset 15: expected a value`. Duplicate keys within one object are
// rejected too (compared as written), since protobuf would silently keep the last one.
//
// Pure function; thread-safe.
#ifndef SEMISYNC_SERVER_GATEWAY_JSON_SYNTAX_H_
#define SEMISYNC_SERVER_GATEWAY_JSON_SYNTAX_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace semisync {
namespace gateway {

// OK when `json` is exactly one JSON value (surrounded by optional whitespace), nested at most
// max_depth arrays/objects deep; InvalidArgument otherwise. Does not check UTF-8 (see utf8.h).
absl::Status CheckJsonSyntax(absl::string_view json, int max_depth = 64);

}  // namespace gateway
}  // namespace semisync

#endif  // SEMISYNC_SERVER_GATEWAY_JSON_SYNTAX_H_
