// Small RPC plumbing shared by semisyncctl's commands: channels, deadlines, argument parsing.
#ifndef SEMISYNC_CLIENT_CLI_RPC_H_
#define SEMISYNC_CLIENT_CLI_RPC_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "client/cli.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"

namespace semisync {
namespace cli {

// An insecure channel to host:port.
std::shared_ptr<grpc::Channel> Connect(const std::string& address);

// A context whose deadline is now + options.timeout.
std::unique_ptr<grpc::ClientContext> NewContext(const CliOptions& options);

// A positive record id, or nullopt (the caller reports a usage error).
std::optional<int64_t> ParseId(const std::string& text);

// Writes `text` to stdout and flushes.
void Print(const std::string& text);

}  // namespace cli
}  // namespace semisync

#endif  // SEMISYNC_CLIENT_CLI_RPC_H_
