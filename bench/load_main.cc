// semisync_load: a closed-loop load generator for the master's RecordsService.
//
// N clients, each with its own gRPC connection and one operation in flight, all driven by one
// thread on the gRPC async API, send CreateRecord (or, with --read_pct, a mix of GetRecord by
// random known id and CreateRecord) back to back for --duration_s seconds (or until --count
// operations). Prints throughput, latency percentiles and how many writes were acknowledged by
// slaves, as a table or as JSON (--json). With --slave it also measures the replication lag
// (ack -> readable on the slave, sampled) and, with --catchup, the slave's catch-up time after
// the load. The load itself is client/load_generator.h, which `semisyncctl load` shares.
//
// --mode=catchup runs no load: it reads the master's binlog end position and waits until the
// slave's executed position reaches it (with --start_sync, after sending StartSync to the slave),
// then prints {"catchup_s":...,"events":...,"events_per_s":...} (bench/scale.sh).
#include <cstdio>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/load_generator.h"
#include "gflags/gflags.h"

DEFINE_string(target, "127.0.0.1:50051", "Master gRPC address");
DEFINE_string(mode, "load", "load: run a load; catchup: wait for --slave to catch up, no load");
DEFINE_int32(clients, 16, "Concurrent clients (one connection and one operation in flight each)");
DEFINE_double(duration_s, 10, "Seconds to run (ignored with --count)");
DEFINE_int64(count, 0, "Stop after this many operations in all (0: run for --duration_s)");
DEFINE_int32(content_bytes, 32, "Bytes of content per inserted record");
DEFINE_int32(read_pct, 0, "Percent of operations that are GetRecord by a random existing id");
DEFINE_string(slave, "", "A slave's gRPC address: measure replication lag (and catch-up) on it");
DEFINE_double(lag_sample_ms, 10, "Sample one acknowledged write about every this many ms");
DEFINE_double(lag_poll_ms, 0.5, "Poll the slave for a pending sample every this many ms");
DEFINE_bool(catchup, false, "After the load, measure the slave's catch-up time (needs --slave)");
DEFINE_double(catchup_timeout_s, 120, "Give up waiting for the slave after this many seconds");
DEFINE_bool(start_sync, false, "--mode=catchup: send StartSync to the slave first");
DEFINE_bool(json, false, "Print one JSON object instead of a table");

namespace {

int RunCatchup() {
  if (FLAGS_slave.empty()) {
    fprintf(stderr, "--mode=catchup needs --slave\n");
    return 2;
  }
  absl::StatusOr<semisync::client::CatchupResult> r = semisync::client::WaitForCatchup(
      FLAGS_target, FLAGS_slave, FLAGS_start_sync, absl::Seconds(FLAGS_catchup_timeout_s));
  if (!r.ok()) {
    fprintf(stderr, "catch-up: %s\n", r.status().ToString().c_str());
    return 1;
  }
  const uint64_t events = r->slave_executed_position - r->slave_start_position;
  printf("{\"catchup_s\":%.4f,\"events\":%llu,\"events_per_s\":%.1f,\"master_end_position\":%llu,"
         "\"slave_start_position\":%llu,\"slave_executed_position\":%llu}\n",
         r->seconds, static_cast<unsigned long long>(events),
         r->seconds > 0 ? static_cast<double>(events) / r->seconds : 0.0,
         static_cast<unsigned long long>(r->master_end_position),
         static_cast<unsigned long long>(r->slave_start_position),
         static_cast<unsigned long long>(r->slave_executed_position));
  return r->seconds < 0 ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  gflags::SetUsageMessage("closed-loop CreateRecord/GetRecord load against a semisync master");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  // Debian's abseil checks every absl::Mutex lock for deadlock cycles, and gRPC locks several per
  // call: roughly a fifth of the generator's CPU per operation. The servers turn it off too.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  if (FLAGS_mode == "catchup") return RunCatchup();
  if (FLAGS_mode != "load") {
    fprintf(stderr, "bad flags: --mode must be load or catchup\n");
    return 2;
  }
  if (FLAGS_clients < 1 || FLAGS_duration_s <= 0 || FLAGS_read_pct < 0 || FLAGS_read_pct > 100 ||
      FLAGS_count < 0 || FLAGS_lag_sample_ms <= 0 || FLAGS_lag_poll_ms <= 0 ||
      (FLAGS_catchup && FLAGS_slave.empty())) {
    fprintf(stderr,
            "bad flags: need --clients >= 1, --duration_s > 0, 0 <= --read_pct <= 100, "
            "--count >= 0, positive --lag_sample_ms/--lag_poll_ms, --slave with --catchup\n");
    return 2;
  }
  semisync::client::LoadOptions options;
  options.target = FLAGS_target;
  options.clients = FLAGS_clients;
  options.duration = absl::Seconds(FLAGS_duration_s);
  options.count = FLAGS_count;
  options.content_bytes = FLAGS_content_bytes;
  options.read_pct = FLAGS_read_pct;
  options.lag_target = FLAGS_slave;
  options.lag_sample_interval = absl::Milliseconds(FLAGS_lag_sample_ms);
  options.lag_poll_interval = absl::Milliseconds(FLAGS_lag_poll_ms);
  options.measure_catchup = FLAGS_catchup;
  options.catchup_timeout = absl::Seconds(FLAGS_catchup_timeout_s);
  absl::StatusOr<semisync::client::LoadSummary> summary = semisync::client::RunLoad(options);
  if (!summary.ok()) {
    fprintf(stderr, "cannot run against %s: %s\n", FLAGS_target.c_str(),
            summary.status().ToString().c_str());
    return 1;
  }
  if (FLAGS_json) {
    printf("%s\n", semisync::client::SummaryJson(*summary).c_str());
  } else {
    printf("%s", semisync::client::SummaryText(*summary).c_str());
  }
  return summary->errors > 0 ? 1 : 0;
}
