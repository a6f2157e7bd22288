// The gateway's one gRPC <-> HTTP status table (grpc-gateway's runtime.HTTPStatusFromCode) and the
// JSON error body, google.rpc.Status as proto3 JSON: {"code":3,"message":"...","details":[]}.
//
// Pure functions; thread-safe.
#ifndef SEMISYNC_SERVER_GATEWAY_STATUS_MAPPING_H_
#define SEMISYNC_SERVER_GATEWAY_STATUS_MAPPING_H_

#include <string>

#include "absl/strings/string_view.h"
#include "grpcpp/support/status.h"

namespace semisync {
namespace gateway {

// OK 200, CANCELLED 499, UNKNOWN 500, INVALID_ARGUMENT 400, DEADLINE_EXCEEDED 504, NOT_FOUND 404,
// ALREADY_EXISTS 409, PERMISSION_DENIED 403, UNAUTHENTICATED 401, RESOURCE_EXHAUSTED 429,
// FAILED_PRECONDITION 400, ABORTED 409, OUT_OF_RANGE 400, UNIMPLEMENTED 501, INTERNAL 500,
// UNAVAILABLE 503, DATA_LOSS 500; any other code 500.
int HttpStatusFromGrpcCode(grpc::StatusCode code);

// The gRPC code reported in the body of errors the gateway itself produces before any RPC:
// 400 and 415 INVALID_ARGUMENT, 404 NOT_FOUND, 405 UNIMPLEMENTED, 413 RESOURCE_EXHAUSTED,
// 503 UNAVAILABLE, 504 DEADLINE_EXCEEDED, other 4xx INVALID_ARGUMENT, other 5xx INTERNAL.
grpc::StatusCode GrpcCodeForGatewayError(int http_status);

// {"code":<code>,"message":"<escaped message>","details":[]}
std::string ErrorBodyJson(grpc::StatusCode code, absl::string_view message);

// A JSON string literal (with the quotes) for arbitrary bytes: escapes '"', '\\' and control
// characters; bytes that are not valid UTF-8 become U+FFFD so the output is always valid JSON.
std::string JsonQuote(absl::string_view s);

}  // namespace gateway
}  // namespace semisync

#endif  // SEMISYNC_SERVER_GATEWAY_STATUS_MAPPING_H_
