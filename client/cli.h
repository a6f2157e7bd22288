// semisyncctl's commands, as a library: the binary (semisyncctl_main.cc) parses flags into
// CliOptions and calls one Run* function, which prints to stdout (results) and stderr (errors,
// progress) and returns the process exit code.
//
// Exit codes (a contract for scripts; also in --help and the README):
//   0  OK
//   1  usage error: unknown command or flag, bad argument (nothing was sent)
//   2  the server answered with an error not listed below (INVALID_ARGUMENT, FAILED_PRECONDITION,
//      INTERNAL, ...); also `load` when some of its operations failed
//   3  UNAVAILABLE: could not connect, or the server is shutting down
//   4  NOT_FOUND
//   5  DEADLINE_EXCEEDED: no answer within --timeout_ms
// Every gRPC error prints one line to stderr: "error: <GRPC_CODE>: <message>".
//
// Thread-safety: each Run* call is independent; they are meant to be called once per process.
#ifndef SEMISYNC_CLIENT_CLI_H_
#define SEMISYNC_CLIENT_CLI_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "grpcpp/support/status.h"

namespace semisync {
namespace cli {

enum ExitCode : int {
  kExitOk = 0,
  kExitUsage = 1,
  kExitServerError = 2,
  kExitUnavailable = 3,
  kExitNotFound = 4,
  kExitDeadline = 5,
};

// The exit code for a gRPC status (kExitOk for OK).
int ExitCodeFor(const grpc::Status& status);
// Prints "error: <CODE>: <message>" to stderr and returns ExitCodeFor(status).
int ReportError(const grpc::Status& status);
// Prints "semisyncctl: <message>" and a hint to run --help to stderr; returns kExitUsage.
int UsageError(const std::string& message);

struct CliOptions {
  std::string master = "127.0.0.1:50051";
  std::string slave = "127.0.0.1:50052";
  bool json = false;
  absl::Duration timeout = absl::Seconds(30);
  // records: which node reads and writes go to ("master" or "slave").
  std::string node = "master";
  // records list.
  int64_t after_id = 0;
  int32_t limit = 0;
  bool all = false;
  // binlog tail: -1 = from the current binlog end (only new events).
  int64_t after_position = -1;
  // binlog tail: stop after this many events; load: operations in all (0: no limit / use
  // duration).
  int64_t count = 0;
  // load.
  int clients = 4;
  double duration_s = 10;
  int content_bytes = 32;
  int read_pct = 0;
};

// `records create|get|list|update|delete ...` (args: everything after "records").
int RunRecords(const CliOptions& options, const std::vector<std::string>& args);
// `status master|slave`.
int RunStatus(const CliOptions& options, const std::vector<std::string>& args);
// `slaves`: the master's slave list with lag.
int RunSlaves(const CliOptions& options, const std::vector<std::string>& args);
// `sync start|stop` on options.slave.
int RunSync(const CliOptions& options, const std::vector<std::string>& args);
// `binlog tail`: registers the observer "semisyncctl-tail-<pid>" (semi_sync=false, never acks)
// and prints events as they arrive.
int RunBinlog(const CliOptions& options, const std::vector<std::string>& args);
// `load`: a bulk writer with a progress bar on stderr (when it is a terminal) and a summary.
int RunLoad(const CliOptions& options, const std::vector<std::string>& args);

// The observer id `binlog tail` registers with the master.
std::string TailObserverId();

}  // namespace cli
}  // namespace semisync

#endif  // SEMISYNC_CLIENT_CLI_H_
