// LoadGenerator: a closed-loop load against a master's RecordsService, shared by `semisyncctl load`
// and the benchmark driver `semisync_load` (bench/load_main.cc).
//
// N client threads, each on its own gRPC connection, send CreateRecord (or, with read_pct, a mix
// of GetRecord by a random known id and CreateRecord) back to back, until `duration` has passed
// or, when `count` is set, until `count` operations were issued in all. Every operation has its
// own deadline (rpc_timeout). Failed operations are counted, not retried.
//
// Thread-safety: RunLoad blocks its caller and owns its worker threads; the progress callback runs
// on the calling thread, never concurrently with itself.
#ifndef SEMISYNC_CLIENT_LOAD_GENERATOR_H_
#define SEMISYNC_CLIENT_LOAD_GENERATOR_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace semisync {
namespace client {

struct LoadProgress {
  int64_t done = 0;    // operations completed (ok or failed)
  int64_t errors = 0;  // of which failed
  absl::Duration elapsed;
};

struct LoadOptions {
  std::string target = "127.0.0.1:50051";
  int clients = 16;
  // Stop after this long. Ignored when count > 0.
  absl::Duration duration = absl::Seconds(10);
  // Stop after this many operations in all (0: run for `duration`).
  int64_t count = 0;
  int content_bytes = 32;
  // Percent of operations that read a random existing record instead of writing (0..100).
  int read_pct = 0;
  absl::Duration rpc_timeout = absl::Seconds(30);
  // Called on the calling thread about every progress_interval while the load runs, and once at
  // the end. May be empty.
  std::function<void(const LoadProgress&)> on_progress;
  absl::Duration progress_interval = absl::Milliseconds(100);
};

struct LoadSummary {
  int clients = 0;
  double seconds = 0;
  uint64_t writes = 0;  // successful writes
  uint64_t reads = 0;   // successful reads
  uint64_t acked = 0;   // successful writes with semi_sync_acked
  uint64_t errors = 0;  // failed operations
  double ops_per_s = 0;
  double writes_per_s = 0;
  double write_p50_ms = 0, write_p95_ms = 0, write_p99_ms = 0;
  double read_p50_ms = 0, read_p95_ms = 0, read_p99_ms = 0;
  // The gRPC code name (e.g. "UNAVAILABLE") and message of the last failure, empty when none.
  std::string last_error_code;
  std::string last_error;
};

// Validates the options (InvalidArgument), checks that the target answers a ListRecords (the
// gRPC error otherwise, as an absl::Status with the same code), then runs the load.
absl::StatusOr<LoadSummary> RunLoad(const LoadOptions& options);

// The summary as one JSON object on one line (no trailing newline). Keys: clients, seconds, ops,
// writes, reads, ops_per_s, writes_per_s, write_p50_ms, write_p95_ms, write_p99_ms, read_p50_ms,
// read_p95_ms, read_p99_ms, acked, errors, last_error_code, last_error.
std::string SummaryJson(const LoadSummary& summary);
// The summary as a few human-readable lines, each ending in a newline.
std::string SummaryText(const LoadSummary& summary);

// Nearest-rank percentile (p in [0, 100]) of `values`, which it reorders; 0 when empty.
double Percentile(std::vector<double>* values, double p);

}  // namespace client
}  // namespace semisync

#endif  // SEMISYNC_CLIENT_LOAD_GENERATOR_H_
