// RETURN_IF_ERROR / ASSIGN_OR_RETURN for absl::Status and absl::StatusOr, and the conversion from
// absl::Status to grpc::Status used at the RPC edge.
#ifndef SEMISYNC_COMMON_STATUS_MACROS_H_
#define SEMISYNC_COMMON_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define SEMISYNC_CONCAT_INNER(a, b) a##b
#define SEMISYNC_CONCAT(a, b) SEMISYNC_CONCAT_INNER(a, b)

#define RETURN_IF_ERROR(expr)                    \
  do {                                           \
    ::absl::Status _status = (expr);             \
    if (!_status.ok()) return _status;           \
  } while (0)

#define ASSIGN_OR_RETURN_IMPL(var, lhs, expr) \
  auto var = (expr);                          \
  if (!var.ok()) return var.status();         \
  lhs = std::move(var).value()

#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(SEMISYNC_CONCAT(_statusor_, __LINE__), lhs, expr)

#endif  // SEMISYNC_COMMON_STATUS_MACROS_H_
