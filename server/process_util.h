// Process plumbing shared by the master and slave binaries: termination signals, the port file
// that tests and scripts read to find a node's bound ports, and absl::Status -> grpc::Status.
#ifndef SEMISYNC_SERVER_PROCESS_UTIL_H_
#define SEMISYNC_SERVER_PROCESS_UTIL_H_

#include <map>
#include <string>

#include "absl/status/status.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/support/status.h"

namespace semisync {

// Blocks SIGINT and SIGTERM in the calling thread and every thread it later creates. Call first
// in main(), before any thread starts.
void BlockTerminationSignals();
// Waits for SIGINT or SIGTERM (blocked by BlockTerminationSignals) and returns its number.
int WaitForTerminationSignal();

// Writes "key=value" lines atomically (temp file, fsync, rename): e.g. {"grpc_port": 50051}.
absl::Status WritePortFile(const std::string& path, const std::map<std::string, int>& ports);

// Maps absl codes to the same gRPC codes (they share numbering) and keeps the message.
grpc::Status ToGrpcStatus(const absl::Status& status);

// Process-wide settings every binary applies first: absl mutex deadlock detection off (Debian's
// Abseil enables it, and its cycle graph bookkeeping costs several percent of the write path),
// then BlockTerminationSignals(). Call first in main(), before any thread starts.
void InitProcess();

// Turns on server reflection for servers built after this call, and turns off gRPC's default
// health service (each server registers its own HealthService, server/health_service.h), with
// health.proto linked in so that reflection can describe Health too.
void EnableReflection();

// Server-wide gRPC settings both nodes use: channelz bookkeeping off (nothing reads it, and it
// costs a few percent of every call). Before BuildAndStart.
void ConfigureGrpcServer(grpc::ServerBuilder* builder);

// Workers of their own for the record reads (a WorkerPool), given the --read_threads flag and
// the storage backend ("sqlite3" or "mysql"): `flag` when it is >= 0; for -1 (auto),
// kRemoteReadThreads on MySQL storage, where a read holds its thread for a round trip to the
// database server (on the one rpc thread reads queued behind each other and held up writes and
// acks), and 0 on SQLite, whose reads are in-process and take microseconds, so they stay on the
// rpc threads (0 means that). Four: 90 % reads at 16 clients on MariaDB storage did best with
// 4 threads serving them (2: -14 %, 8: -7 %, 16: -13 %) on this 2-core machine.
// `flag` must have passed CheckReadThreadsFlag.
inline constexpr int kRemoteReadThreads = 4;
int ReadThreadsFor(int flag, const std::string& storage_backend);
// InvalidArgument when --read_threads is outside -1..64.
absl::Status CheckReadThreadsFlag(int flag);
// The help text of both binaries' --read_threads flag.
inline constexpr char kReadThreadsFlagHelp[] =
    "Threads of their own serving the record reads (GetRecord, ListRecords). -1 (auto): 4 on "
    "MySQL storage, where a read holds its thread for a round trip to the database server, 0 on "
    "SQLite; 0: reads run on the --rpc_threads. On SQLite, 2 raises the read rate of read-heavy "
    "loads at 16+ clients by a fifth to a half and costs a read 20-50 us at 1-4 clients "
    "(docs/PERFORMANCE.md)";

// Creates a directory and its parents (like mkdir -p).
absl::Status MakeDirs(const std::string& path);

}  // namespace semisync

#endif  // SEMISYNC_SERVER_PROCESS_UTIL_H_
