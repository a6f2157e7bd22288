// RPC plumbing and error reporting for semisyncctl (see cli_rpc.h and cli.h).
#include "client/cli_rpc.h"

#include <cstdio>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace semisync {
namespace cli {

int ExitCodeFor(const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::StatusCode::OK: return kExitOk;
    case grpc::StatusCode::UNAVAILABLE: return kExitUnavailable;
    case grpc::StatusCode::NOT_FOUND: return kExitNotFound;
    case grpc::StatusCode::DEADLINE_EXCEEDED: return kExitDeadline;
    default: return kExitServerError;
  }
}

int ReportError(const grpc::Status& status) {
  const std::string code =
      absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code()));
  fflush(stdout);
  fprintf(stderr, "error: %s: %s\n", code.c_str(), status.error_message().c_str());
  return ExitCodeFor(status);
}

int UsageError(const std::string& message) {
  fflush(stdout);
  fprintf(stderr, "semisyncctl: %s\nRun 'semisyncctl --help' for usage.\n", message.c_str());
  return kExitUsage;
}

std::shared_ptr<grpc::Channel> Connect(const std::string& address) {
  return grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
}

std::unique_ptr<grpc::ClientContext> NewContext(const CliOptions& options) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + options.timeout));
  return ctx;
}

std::optional<int64_t> ParseId(const std::string& text) {
  int64_t id = 0;
  if (!absl::SimpleAtoi(text, &id) || id <= 0) return std::nullopt;
  return id;
}

void Print(const std::string& text) {
  fwrite(text.data(), 1, text.size(), stdout);
  fflush(stdout);
}

}  // namespace cli
}  // namespace semisync
