// LoadGenerator: a closed-loop load against a master's RecordsService, shared by `semisyncctl load`
// and the benchmark driver `semisync_load` (bench/load_main.cc).
//
// N clients, each a gRPC channel with its own TCP connection, send CreateRecord (or, with
// read_pct, a mix of GetRecord by a random known id and CreateRecord) back to back, until
// `duration` has passed or, when `count` is set, until `count` operations were issued in all.
// Each client has exactly one operation in flight (closed loop: it issues the next when the
// previous one has completed). Every operation has its own deadline (rpc_timeout). Failed
// operations are counted, not retried. A latency runs from just before the call is started to the
// moment its completion is taken off the completion queue.
//
// The clients are not threads: one driver thread runs all of them on the gRPC async API (one
// completion queue; each completion records the outcome and starts that client's next call), so
// that the generator costs little CPU per operation and steals little from servers benchmarked on
// the same machine (on a 2-core VM, measured back to back: 60-80 us of CPU per operation against
// 130-150 us with a blocking thread per client, whose context switches are expensive there). The driver stops starting calls for a
// client once the load is over, exits when none is in flight, then shuts its queue down and
// drains it.
//
// Replication lag and catch-up (optional, lag_target set to a slave's gRPC address): about every
// lag_sample_interval one acknowledged CreateRecord is sampled (id, time the ack arrived); a side
// thread polls GetRecord(id) on the slave until the record is readable there, and the time from
// the ack to that answer is the sample's lag. Samples are polled oldest first, one RPC at a time,
// lag_poll_interval apart while the oldest is not yet readable, so a lag is over-estimated by at
// most one poll interval plus one GetRecord round trip. With measure_catchup, once the load has
// stopped, the master's binlog end position is read (ReplicationService.GetStatus on target) and
// the slave's executed position (SlaveService.GetStatus) is polled until it reaches it: the time
// from the end of the load to that moment is the catch-up time.
//
// Thread-safety: RunLoad blocks its caller and owns its threads (the driver and, with lag_target,
// the lag poller), all joined before it returns; the progress callback runs on the calling
// thread, never concurrently with itself. Processes that want the lowest client CPU should turn
// off abseil's mutex deadlock detection (on by default in Debian's abseil, and gRPC locks absl
// mutexes on every call), as semisync_load does.
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

  // Replication lag (see above). Empty: not measured.
  std::string lag_target;
  absl::Duration lag_sample_interval = absl::Milliseconds(10);
  absl::Duration lag_poll_interval = absl::Microseconds(500);
  // A sample not readable on the slave this long after its ack is dropped (counted as timed out).
  absl::Duration lag_timeout = absl::Seconds(60);
  // Also measure the slave's catch-up time after the load (needs lag_target).
  bool measure_catchup = false;
  absl::Duration catchup_timeout = absl::Seconds(120);
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
  // All successful operations, reads and writes together.
  double op_p50_ms = 0, op_p95_ms = 0, op_p99_ms = 0;
  // Replication lag (lag_target set): samples resolved, samples that timed out, percentiles.
  uint64_t lag_samples = 0;
  uint64_t lag_timeouts = 0;
  double lag_p50_ms = 0, lag_p95_ms = 0, lag_p99_ms = 0, lag_max_ms = 0;
  // Catch-up (measure_catchup): seconds from the end of the load until the slave's executed
  // position reached the master's binlog end then (-1: not measured or timed out), and those
  // positions.
  double catchup_s = -1;
  uint64_t master_end_position = 0;
  uint64_t slave_executed_position = 0;
  // The gRPC code name (e.g. "UNAVAILABLE") and message of the last failure, empty when none.
  std::string last_error_code;
  std::string last_error;
};

// Validates the options (InvalidArgument), checks that the target (and lag_target, when set)
// answers a ListRecords (the gRPC error otherwise, as an absl::Status with the same code), then
// runs the load.
absl::StatusOr<LoadSummary> RunLoad(const LoadOptions& options);

// What WaitForCatchup measured.
struct CatchupResult {
  double seconds = -1;  // -1: the timeout passed first
  uint64_t master_end_position = 0;
  uint64_t slave_executed_position = 0;   // when the wait ended
  uint64_t slave_start_position = 0;      // when the wait began
};

// Reads the binlog end position of the master at `master` and polls the slave at `slave` every
// `poll` until its executed position reaches it (or `timeout` passes). With start_sync, first
// sends StartSync to the slave (the clock starts before it). `since`, when not InfinitePast, is
// where the clock starts instead (e.g. the end of a load).
absl::StatusOr<CatchupResult> WaitForCatchup(const std::string& master, const std::string& slave,
                                             bool start_sync, absl::Duration timeout,
                                             absl::Duration poll = absl::Milliseconds(1),
                                             absl::Time since = absl::InfinitePast());

// The summary as one JSON object on one line (no trailing newline). Keys: clients, seconds, ops,
// writes, reads, ops_per_s, writes_per_s, write_p50_ms, write_p95_ms, write_p99_ms, read_p50_ms,
// read_p95_ms, read_p99_ms, op_p50_ms, op_p95_ms, op_p99_ms, lag_samples, lag_timeouts,
// lag_p50_ms, lag_p95_ms, lag_p99_ms, lag_max_ms, catchup_s, master_end_position,
// slave_executed_position, acked, errors, last_error_code, last_error.
std::string SummaryJson(const LoadSummary& summary);
// The summary as a few human-readable lines, each ending in a newline.
std::string SummaryText(const LoadSummary& summary);

// Nearest-rank percentile (p in [0, 100]) of `values`, which it reorders; 0 when empty.
double Percentile(std::vector<double>* values, double p);

}  // namespace client
}  // namespace semisync

#endif  // SEMISYNC_CLIENT_LOAD_GENERATOR_H_
